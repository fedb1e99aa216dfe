"""Environment errors name the path and the fix (exit 2), never a traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sheets_sync.errors import ConfigError, ExitCode
from sheets_sync.paths import path_error
from sheets_sync.state import StateStore


def test_state_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "crm.sqlite").write_text("x")
    with pytest.raises(ConfigError) as err:
        StateStore(tmp_path / "crm.sqlite" / "state.sqlite")
    assert "crm.sqlite" in str(err.value) and "is a file where a folder is needed" in str(err.value)
    assert err.value.exit_code is ExitCode.CONFIG


def test_state_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    with pytest.raises(ConfigError, match="is a folder; the state file must be a file"):
        StateStore(tmp_path / "state")


def test_read_only_state_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A state file the sync cannot write fails when it is opened, naming it (root may write a
    chmod-ed file, so the file is opened read-only the way SQLite opens one without rights)."""
    path = tmp_path / "s.sqlite"
    StateStore(path).close()
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda p, **kw: connect(
        f"file:{p}?mode=ro", uri=True, **kw))
    with pytest.raises(ConfigError) as err:
        StateStore(path)
    assert str(path) in str(err.value) and "no permission to write" in str(err.value)


def test_permission_message_names_the_path_and_the_fix(tmp_path: Path) -> None:
    err = path_error(tmp_path / "x.lock", PermissionError(13, "Permission denied"), "the lock file")
    assert str(tmp_path) in str(err) and "write access" in str(err)
