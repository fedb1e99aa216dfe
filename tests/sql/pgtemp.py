"""A throw-away PostgreSQL server for a test session, from binaries found on this machine.

Binaries: ``pg_ctl`` on PATH, Debian's ``/usr/lib/postgresql/<version>/bin``, or the ones the
``pgserver`` wheel ships (``pip install pgserver``). The server listens on a Unix socket in
its own temporary folder only (no TCP port to collide with), trusts local connections, and
is stopped with ``pg_ctl stop -m immediate`` at the end. As root it runs as the ``postgres``
(or ``pgserver``) user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path


class NoServer(RuntimeError):
    """No way to start PostgreSQL here; ``str()`` is the one-line reason."""


def find_bin_dir() -> Path:
    found = shutil.which("pg_ctl")
    candidates = [Path(os.path.realpath(found)).parent] if found else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

        candidates.append(Path(pgserver.__file__).parent / "pginstall" / "bin")
    except ImportError:
        pass
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise NoServer("no PostgreSQL server binaries (install Debian's postgresql, or "
                   "pip install pgserver, or set SHEETS_SYNC_TEST_PG_URL)")


@dataclass
class TempServer:
    folder: Path
    bin_dir: Path
    user: str | None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@/postgres?host={self.folder}"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode:
            log = self.folder / "log"
            tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            raise NoServer(f"{args[0]} failed: {(done.stderr or done.stdout).strip()[-400:]} "
                           f"{tail}".strip())

    def start(self) -> None:
        data = self.folder / "data"
        self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--locale=C")
        self._run("pg_ctl", "-D", str(data), "-l", str(self.folder / "log"), "-w", "-t", "60",
                  "-o", f"-k {self.folder} -c listen_addresses='' -F", "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def start_server() -> TempServer:
    bin_dir = find_bin_dir()
    user = None
    if os.geteuid() == 0:
        for name in ("postgres", "pgserver"):
            try:
                pwd.getpwnam(name)
                user = name
                break
            except KeyError:
                continue
        else:
            raise NoServer("running as root and no 'postgres' user to run PostgreSQL as")
    folder = Path(tempfile.mkdtemp(prefix="ss-pg-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    server = TempServer(folder, bin_dir, user)
    try:
        server.start()
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return server
