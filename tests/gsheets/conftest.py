"""A Google Sheets emulator on 127.0.0.1 and a demo folder whose config points at it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sheets_sync_emulators.google_sheets import EmulatorServer
from sheets_sync_emulators.google_sheets.auth import new_key_pair

SA_EMAIL = "sheets-sync@demo-project.iam.gserviceaccount.com"


@pytest.fixture(scope="session")
def google_server() -> Iterator[EmulatorServer]:
    server = EmulatorServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def key_pair() -> tuple[str, str]:
    return new_key_pair()


@dataclass
class GoogleDemo:
    folder: Path
    config: Path
    key: str
    server: EmulatorServer

    def values(self, tab: str = "Clients") -> list[list]:
        return self.server.state.read_values(self.key, f"'{tab}'")

    def table(self) -> tuple[dict[str, int], dict[str, list]]:
        """Header positions and rows by id; fails on an id in two rows (a dict would hide it)."""
        rows = self.values()
        col = {h: i for i, h in enumerate(rows[0])}
        ids = [str(r[col["id"]]) for r in rows[1:] if len(r) > col["id"] and r[col["id"]] != ""]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        assert not twice, f"clients in more than one row: {twice}"
        return col, {str(r[col["id"]]): r + [""] * (len(rows[0]) - len(r)) for r in rows[1:]}

    def actions(self) -> list[str]:
        return [e.action for e in self.server.state.request_log if e.action != "oauth.token"]


@pytest.fixture
def google_demo(tmp_path: Path, google_server: EmulatorServer, key_pair: tuple[str, str],
                cli: Callable[..., str]) -> Iterator[GoogleDemo]:
    state = google_server.state
    state.reset()
    state.accept_any_token = False
    private, public = key_pair
    state.register_service_account(SA_EMAIL, public)
    sheet = state.create_spreadsheet("Clients of the demo", owner=SA_EMAIL)
    folder = tmp_path / "demo"
    cli("demo", str(folder), "--clients", "60", code=0)
    creds = folder / "service-account.json"
    creds.write_text(json.dumps({
        "type": "service_account", "project_id": "demo-project", "private_key_id": "k1",
        "private_key": private, "client_email": SA_EMAIL, "client_id": "1",
        "token_uri": google_server.token_uri}))
    creds.chmod(0o600)
    config = folder / "google.toml"
    text = (folder / "sheets-sync.toml").read_text()
    workbook_line = next(line for line in text.splitlines() if line.startswith("workbook = "))
    text = text.replace(workbook_line,
                        f'google = "https://docs.google.com/spreadsheets/d/{sheet.id}/edit"\n'
                        f'credentials = "service-account.json"\nendpoint = "{google_server.base_url}"\n'
                        'retry_budget = 3\nretry_base_delay = 0.05')
    text = text.replace('state = "sheets-sync.state.sqlite"', 'state = "google.state.sqlite"')
    config.write_text(text)
    with __import__("sqlite3").connect(folder / "crm.sqlite") as db:
        db.execute("UPDATE companies SET category = NULL")
    state.clear_log()
    yield GoogleDemo(folder, config, sheet.id, google_server)
    state.reset()
