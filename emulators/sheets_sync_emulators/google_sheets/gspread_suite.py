"""gspread's own test suite, run live against the emulator; prints ``passed/total``.

    python -m sheets_sync_emulators.google_sheets.gspread_suite [--gspread-src DIR] [-- PYTEST ARGS]

gspread's tests replay recorded cassettes by default (pytest-recording); here recording is
switched off (``--disable-recording``), so every request the tests make goes to an emulator
started in this process (any Bearer token accepted; gspread's tests use a dummy token), through
the same transport adapter the project's tests use (:func:`.client.mount_redirect`, mounted on
each gspread ``HTTPClient``'s session by the pytest plugin in this module). The installed
gspread is tested, with the tests of the same version.

Where the tests come from: ``--gspread-src DIR``, a checkout of gspread's repository (its
``tests/`` is copied to a temporary directory); without it, gspread's source distribution of
the installed version is downloaded with ``pip download --no-binary :all:`` and used if it has
a ``tests/`` directory (gspread 6.x's sdists have none: pass ``--gspread-src`` then).

Needs gspread's test requirements: ``pip install 'sheets-sync-emulators[gspread-suite]'``
(pytest, pytest-recording). Exit status: 0 when every test passed, 1 otherwise, 2 when the
suite cannot be run. Not part of the project's CI (it needs gspread's sources).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ENV_URL = "SHEETS_SYNC_GSPREAD_SUITE_URL"
ENV_REPORT = "SHEETS_SYNC_GSPREAD_SUITE_REPORT"
PLUGIN = "sheets_sync_emulators.google_sheets.gspread_suite"
_COUNTS: dict[str, Any] = {"passed": 0, "failed": 0, "skipped": 0, "failures": []}


# --------------------------------------------------------------------------- the pytest plugin
def pytest_configure(config: Any) -> None:
    """Send every gspread ``HTTPClient``'s Google traffic to the emulator at ``$ENV_URL``."""
    base_url = os.environ.get(ENV_URL)
    if not base_url:
        return
    from gspread.http_client import HTTPClient

    from .client import mount_redirect

    original = HTTPClient.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        mount_redirect(self.session, base_url)

    HTTPClient.__init__ = init  # type: ignore[method-assign]


def pytest_runtest_logreport(report: Any) -> None:
    counts = _COUNTS
    if report.when == "call" and report.passed:
        counts["passed"] += 1
    elif report.failed:
        counts["failed"] += 1
        counts["failures"].append(report.nodeid)
    elif report.skipped and report.when in ("setup", "call"):
        counts["skipped"] += 1


def pytest_unconfigure(config: Any) -> None:
    path = os.environ.get(ENV_REPORT)
    if path:
        Path(path).write_text(json.dumps(_COUNTS), encoding="utf-8")


# --------------------------------------------------------------------------- the runner
#: a ``vcr`` mark under ``@pytest.fixture``: pytest 8 ignored it with a warning, pytest 9 refuses
#: to collect the module; it means nothing with recording off, so the copy drops it
_MARKED_FIXTURE = re.compile(r"^(\s*@pytest\.fixture\b.*\n)\s*@pytest\.mark\.vcr\(\)[ \t]*\n", re.MULTILINE)


#: a spreadsheet id the tests expect to exist and be shared with nobody (``private_id = "..."``)
_PRIVATE_ID = re.compile(r"""private\w*\s*=\s*["']([\w-]{25,})["']""")


def _copy_tests(tests: Path, target: Path) -> int:
    """Copy gspread's ``tests`` to ``target``; the number of fixture marks dropped."""
    shutil.copytree(tests, target)
    dropped = 0
    for module in target.glob("*.py"):
        text, n = _MARKED_FIXTURE.subn(r"\1", module.read_text(encoding="utf-8"))
        if n:
            module.write_text(text, encoding="utf-8")
            dropped += n
    return dropped


def _sdist_tests(version: str, workdir: Path) -> Path | None:
    """``tests/`` of gspread's sdist for ``version``, or None when the sdist has none."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                    f"gspread=={version}", "-d", str(workdir)], check=True)
    archive = next(workdir.glob("gspread-*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(workdir, filter="data")
    found = [p for p in workdir.glob("gspread-*/tests") if p.is_dir()]
    return found[0] if found else None


def run(tests: Path, pytest_args: list[str], workdir: Path) -> dict[str, Any]:
    """Run gspread's ``tests`` against a fresh emulator; the counts."""
    from .server import EmulatorServer

    target = workdir / "tests"
    dropped = _copy_tests(tests, target)
    report = workdir / "report.json"
    with EmulatorServer(accept_any_token=True) as server:
        # what the recording account could see: a spreadsheet shared with nobody (403)
        for module in target.glob("*.py"):
            for private_id in _PRIVATE_ID.findall(module.read_text(encoding="utf-8")):
                server.state.add_private_spreadsheet(private_id)
        env = {**os.environ, ENV_URL: server.base_url, ENV_REPORT: str(report)}
        env.pop("GS_CREDS_FILENAME", None)
        env.pop("GS_RECORD_MODE", None)
        command = [sys.executable, "-m", "pytest", str(target), "-p", PLUGIN, "--disable-recording",
                   "-p", "no:cacheprovider", "-q", *pytest_args]
        code = subprocess.run(command, cwd=workdir, env=env).returncode
    if not report.exists():
        raise RuntimeError(f"pytest ended (exit {code}) without running the suite")
    counts: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    counts["exit"], counts["marks_dropped"] = code, dropped
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sheets_sync_emulators.google_sheets.gspread_suite",
                                     description="Run gspread's own test suite live against the emulator.")
    parser.add_argument("--gspread-src", metavar="DIR", type=Path,
                        help="a checkout of gspread's repository (its tests/ is used); default: the sdist "
                             "of the installed version, when it has tests")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args(argv)
    try:
        version = importlib.metadata.version("gspread")
        importlib.metadata.version("pytest-recording")
    except importlib.metadata.PackageNotFoundError as exc:
        print(f"{exc.name} is not installed: pip install 'sheets-sync-emulators[gspread-suite]'", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="gspread-suite-") as tmp:
        workdir = Path(tmp)
        if args.gspread_src is not None:
            tests = args.gspread_src / "tests"
            if not (tests / "conftest.py").is_file():
                print(f"{args.gspread_src} has no tests/conftest.py: not a gspread checkout", file=sys.stderr)
                return 2
        else:
            found = _sdist_tests(version, workdir / "sdist")
            if found is None:
                print(f"gspread {version}'s source distribution has no tests: pass --gspread-src with a "
                      f"checkout of gspread's repository at tag v{version}", file=sys.stderr)
                return 2
            tests = found
        counts = run(tests, args.pytest_args, workdir / "run")
    total = counts["passed"] + counts["failed"]
    for nodeid in counts["failures"]:
        print(f"failed: {nodeid}")
    print(f"gspread {version}'s test suite against the emulator: {counts['passed']}/{total} passed"
          + (f", {counts['skipped']} skipped" if counts["skipped"] else ""))
    return 0 if counts["failed"] == 0 and total > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
