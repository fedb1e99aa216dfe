"""``python -m sheets_sync_emulators.google_sheets`` prints its base URL and serves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gspread
import pytest

from sheets_sync_emulators.google_sheets import EmulatorServer, emulator_session

ROOT = Path(__file__).resolve().parents[2]


def test_standalone_command_prints_base_url_and_accepts_any_token() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "sheets_sync_emulators.google_sheets", "--spreadsheet", "Demo"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        _, spreadsheet_id, title = proc.stdout.readline().split(maxsplit=2)
        session = emulator_session(base_url)
        session.headers["Authorization"] = "Bearer anything"
        gc = gspread.Client(auth=None, session=session)
        sh = gc.open_by_key(spreadsheet_id)
        assert sh.title == title.strip() == "Demo"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_server_refuses_non_loopback_and_restarts_cleanly() -> None:
    with pytest.raises(ValueError):
        EmulatorServer(host="0.0.0.0")
    server = EmulatorServer(accept_any_token=True).start()
    url = server.base_url
    server.stop()
    with pytest.raises(RuntimeError):
        _ = server.base_url
    assert url.startswith("http://127.0.0.1:")
