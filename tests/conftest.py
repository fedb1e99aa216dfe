"""Shared fixtures: a fixed clock, no production credentials in the environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sheets_sync.cli import main

DANGEROUS = ("GOOGLE_APPLICATION_CREDENTIALS", "GSPREAD_CREDENTIALS", "AMOCRM_TOKEN",
             "BITRIX24_WEBHOOK", "HUBSPOT_TOKEN")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name in DANGEROUS or name.startswith("SHEETS_SYNC_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SHEETS_SYNC_NOW", "2026-11-23T10:00:00")
    # the language follows the system locale: tests speak English unless they set one
    for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


@pytest.fixture(autouse=True)
def _language() -> Iterator[None]:
    """A command or a context sets the language for the thread; each test starts without."""
    from sheets_sync.i18n import use_language

    with use_language(""):
        yield


def invoke(*args: str, code: int | None = 0) -> str:
    """Run the CLI in-process; check the exit code (``None``: any); return its output."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    if code is not None:
        assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def cli() -> Callable[..., str]:
    return invoke


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """In CI (SHEETS_SYNC_STRICT_SKIPS=1) a skipped test fails: CI installs everything."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("SHEETS_SYNC_STRICT_SKIPS") == "1" and call.when in ("setup", "call"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may be skipped: {report.longrepr}"


SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">
<value>0</value></prop></item>
</oor:items>
"""


@pytest.fixture(scope="session")
def recalculate(tmp_path_factory: pytest.TempPathFactory) -> Callable[[list[Path]], list[Path]]:
    """Recalculate workbooks in LibreOffice (one process for all); return the results' paths."""
    profile = tmp_path_factory.mktemp("lo-profile")
    (profile / "user").mkdir()
    (profile / "user" / "registrymodifications.xcu").write_text(PROFILE, encoding="utf-8")

    def run(paths: list[Path]) -> list[Path]:
        out = paths[0].parent / "recalculated"
        out.mkdir(exist_ok=True)
        assert SOFFICE is not None
        subprocess.run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}",
                        "--convert-to", "xlsx", "--outdir", str(out), *map(str, paths)],
                       check=True, capture_output=True, timeout=600)
        results = [out / p.name for p in paths]
        missing = [p.name for p in results if not p.exists()]
        assert not missing, f"LibreOffice did not convert {missing}"
        return results

    return run


class SyncProcesses:
    """Real ``sheets-sync sync`` processes, optionally held at a checkpoint (see
    sheets_sync/checkpoints.py) so that a test can kill them there."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def start(self, config: Path | str, hold_at: str | None = None) -> subprocess.Popen:
        env = dict(os.environ)
        if hold_at:
            env.update(SHEETS_SYNC_HOLD_AT=hold_at, SHEETS_SYNC_HOLD_FILE=str(self.marker))
        return subprocess.Popen([sys.executable, "-m", "sheets_sync", "sync", "--config", str(config)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_for_checkpoint(self, proc: subprocess.Popen, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while not self.marker.exists():
            if proc.poll() is not None:
                raise AssertionError(f"the sync ended before the checkpoint: {proc.communicate()}")
            if time.monotonic() > deadline:
                proc.kill()
                proc.communicate()
                raise AssertionError("the checkpoint was not reached in time")
            time.sleep(0.02)


@pytest.fixture
def sync_processes(tmp_path: Path) -> SyncProcesses:
    return SyncProcesses(tmp_path / "checkpoint-reached")
