"""Fixtures for the Google Sheets emulator tests: one server per session, state reset per test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sheets_sync_emulators.core import monotonic
from sheets_sync_emulators.google_sheets import EmulatorServer, emulator_session
from sheets_sync_emulators.google_sheets.auth import new_key_pair

SCOPES = ["https://www.googleapis.com/auth/spreadsheets", "https://www.googleapis.com/auth/drive"]
SA_EMAIL = "sync-bot@sheets-sync-tests.iam.gserviceaccount.com"
CASSETTES = Path(__file__).resolve().parent.parent / "fixtures" / "google-sheets-cassettes"


@pytest.fixture(scope="session")
def sheets_server() -> Iterator[EmulatorServer]:
    server = EmulatorServer().start()
    yield server
    server.stop()


@pytest.fixture
def emulator(sheets_server: EmulatorServer) -> Iterator[EmulatorServer]:
    """The shared server with empty state on real time (strict auth unless a test relaxes it)."""
    sheets_server.clock = monotonic  # reset() keeps the clock a test may have set
    sheets_server.state.reset()
    sheets_server.state.accept_any_token = False
    sheets_server.state.service_accounts.clear()
    yield sheets_server
    sheets_server.state.reset()


@pytest.fixture(scope="session")
def rsa_keys() -> tuple[str, str]:
    """(private PEM, public PEM), generated once per test session."""
    return new_key_pair()


@pytest.fixture(scope="session")
def other_rsa_keys() -> tuple[str, str]:
    return new_key_pair()


def service_account_info(email: str, private_pem: str, token_uri: str) -> dict[str, Any]:
    return {
        "type": "service_account",
        "project_id": "sheets-sync-tests",
        "private_key_id": "test-key-1",
        "private_key": private_pem,
        "client_email": email,
        "client_id": "1234567890",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    }


@pytest.fixture
def sa_info(emulator: EmulatorServer, rsa_keys: tuple[str, str]) -> dict[str, Any]:
    """A service-account JSON whose key the emulator trusts and whose token_uri is the emulator."""
    private_pem, public_pem = rsa_keys
    emulator.state.register_service_account(SA_EMAIL, public_pem)
    return service_account_info(SA_EMAIL, private_pem, emulator.token_uri)


@pytest.fixture
def sa_file(tmp_path: Path, sa_info: dict[str, Any]) -> Path:
    path = tmp_path / "service_account.json"
    path.write_text(json.dumps(sa_info), encoding="utf-8")
    return path


@pytest.fixture
def creds(sa_info: dict[str, Any]) -> Any:
    from google.oauth2.service_account import Credentials

    return Credentials.from_service_account_info(sa_info, scopes=SCOPES)


@pytest.fixture
def gc(emulator: EmulatorServer, creds: Any) -> Any:
    """A real gspread client whose traffic goes to the emulator through the real OAuth flow."""
    import gspread

    return gspread.Client(auth=creds, session=emulator_session(emulator.base_url, creds))
