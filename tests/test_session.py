"""The set-up commands share (sheets_sync.session): opened in one place, closed whatever happens."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sheets_sync.errors import RulesError
from sheets_sync.session import open_session, sync_lock


def test_a_workbook_sync_never_imports_gspread(tmp_path: Path) -> None:
    code = ("import sys\n"
            "from sheets_sync.cli import main\n"
            f"main(['demo', {str(tmp_path / 'demo')!r}, '--clients', '20'], standalone_mode=False)\n"
            f"main(['sync', '--config', {str(tmp_path / 'demo' / 'sheets-sync.toml')!r}], standalone_mode=False)\n")
    code = f"try:\n    exec({code!r})\nexcept SystemExit:\n    pass\n" + \
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('gspread', 'google')))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={"SHEETS_SYNC_NOW": "2026-11-23T10:00:00", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_everything_opened_is_closed_and_the_failure_logged(cli: Callable[..., str], tmp_path: Path) -> None:
    cli("demo", str(tmp_path / "demo"), "--clients", "10")
    config = tmp_path / "demo" / "sheets-sync.toml"
    config.write_text(config.read_text(encoding="utf-8") + '\n[log]\nfile = "sync.log"\n', encoding="utf-8")
    seen = {}
    with pytest.raises(RulesError):
        with open_session(config, lock=True, log="sync") as ctx:
            seen["ctx"] = ctx
            raise RulesError("boom")
    ctx = seen["ctx"]
    with pytest.raises(Exception, match="closed"):
        ctx.state.db.execute("select 1")
    lock = sync_lock(ctx.config)
    lock.acquire()  # released: another sync can take it at once
    lock.release()
    log = (tmp_path / "demo" / "sync.log").read_text(encoding="utf-8")
    assert "sync started (config" in log and "ERROR sheets_sync: sync failed, exit 2: boom" in log
