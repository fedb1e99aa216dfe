"""Environment errors (permissions, read-only files, a folder where a file should be) as one
:class:`~sheets_sync.errors.ConfigError` that names the path and the fix (exit 2).

Use :func:`path_error` where an ``OSError`` (or SQLite's "unable to open", "readonly
database") meets a path of ours: the state file, its lock, the log file, an output file.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from .errors import ConfigError


def path_error(path: str | Path, exc: BaseException, what: str) -> ConfigError:
    """One message for ``exc`` raised while using ``path`` (``what`` it is, e.g. "the state
    file"): what is wrong there and how to fix it."""
    path = Path(path)
    text = str(exc).lower()
    code = getattr(exc, "errno", None)
    if isinstance(exc, IsADirectoryError) or code == errno.EISDIR or path.is_dir():
        fix = f"{path} is a folder; {what} must be a file. Move the folder away or point the " \
              "config at a file path."
    elif isinstance(exc, NotADirectoryError | FileExistsError) or code in (errno.ENOTDIR,
                                                                          errno.EEXIST):
        fix = f"a part of {path} is a file where a folder is needed; fix the path in the config."
    elif isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM) \
            or "readonly" in text or "read-only" in text or code == errno.EROFS:
        where = path if path.exists() else _existing_parent(path)
        fix = f"no permission to write {where}. Give the user running sheets-sync " \
              f"({_user()}) write access to it (chmod u+w, or chown), or point the config " \
              "at a writable place."
    elif isinstance(exc, FileNotFoundError) or code == errno.ENOENT or "unable to open" in text:
        folder = _existing_parent(path)
        fix = f"cannot create {path}: check that {folder} exists and is writable by " \
              f"{_user()}, or point the config at another place."
    elif code == errno.ENOSPC:
        fix = f"the disk holding {path} is full; free some space."
    else:
        fix = f"{exc}. Check the path and its permissions."
    return ConfigError(f"Cannot use {what} {path}: {fix}")


def _existing_parent(path: Path) -> Path:
    for parent in [path, *path.parents]:
        if parent.exists():
            return parent
    return path


def _user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no user name in the environment
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "this user"


ENV_ERRORS = (OSError, sqlite3.OperationalError)
