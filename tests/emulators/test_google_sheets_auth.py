"""OAuth: google-auth's real service-account flow, Bearer checks, sharing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import google.auth.exceptions
import gspread
import pytest
import requests
from google.oauth2.service_account import Credentials

from sheets_sync_emulators.google_sheets import EmulatorServer, emulator_http_client, emulator_session

from .conftest import SA_EMAIL, SCOPES, service_account_info


def test_service_account_flow_issues_a_token_the_api_accepts(emulator: EmulatorServer, creds: Any, gc: Any) -> None:
    sh = gc.create("Auth")
    assert creds.token and creds.token.startswith("ya29.emu-")
    assert emulator.state.token_requests == 1
    assert emulator.state.get_spreadsheet(sh.id).owner == SA_EMAIL


def test_gspread_service_account_factory_with_redirecting_http_client(emulator: EmulatorServer,
                                                                      sa_file: Path) -> None:
    gc = gspread.service_account(filename=str(sa_file), http_client=emulator_http_client(emulator.base_url))
    sh = gc.create("Factory")
    sh.sheet1.update([["ok"]], "A1")
    assert gc.open_by_key(sh.id).sheet1.acell("A1").value == "ok"


def test_wrong_private_key_is_rejected_like_google(emulator: EmulatorServer, sa_info: dict[str, Any],
                                                   other_rsa_keys: tuple[str, str]) -> None:
    bad = dict(sa_info, private_key=other_rsa_keys[0])
    creds = Credentials.from_service_account_info(bad, scopes=SCOPES)
    gc = gspread.Client(auth=creds, session=emulator_session(emulator.base_url, creds))
    with pytest.raises(google.auth.exceptions.RefreshError) as err:
        gc.create("never")
    assert "invalid_grant" in str(err.value) and "Invalid JWT Signature." in str(err.value)
    resp = requests.post(emulator.token_uri, data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                                   "assertion": "a.b.c"}, timeout=5)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_unknown_account_is_rejected(emulator: EmulatorServer, rsa_keys: tuple[str, str]) -> None:
    info = service_account_info("stranger@x.iam.gserviceaccount.com", rsa_keys[0], emulator.token_uri)
    creds = Credentials.from_service_account_info(info, scopes=SCOPES)
    with pytest.raises(google.auth.exceptions.RefreshError):
        creds.refresh(google.auth.transport.requests.Request(emulator_session(emulator.base_url)))


def test_missing_or_invalid_bearer_gets_googles_401(emulator: EmulatorServer) -> None:
    ss = emulator.state.create_spreadsheet("Locked")
    url = f"{emulator.base_url}/v4/spreadsheets/{ss.id}"
    missing = requests.get(url, timeout=5)
    assert missing.status_code == 401
    assert missing.json()["error"]["status"] == "UNAUTHENTICATED"
    assert "missing required authentication credential" in missing.json()["error"]["message"]
    invalid = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert invalid.status_code == 401 and "invalid authentication credentials" in invalid.json()["error"]["message"]
    emulator.state.accept_any_token = True
    assert requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5).status_code == 200


def test_expired_tokens_are_refreshed_by_google_auth(emulator: EmulatorServer, gc: Any) -> None:
    sh = gc.create("Refresh")
    emulator.state.expire_tokens()
    sh.sheet1.update([["still works"]], "A1")  # 401 -> AuthorizedSession refreshes and retries
    assert emulator.state.token_requests == 2


def test_not_shared_spreadsheet_is_403_until_shared(emulator: EmulatorServer, gc: Any) -> None:
    ss = emulator.state.create_spreadsheet("Owner's", owner="owner@example.com")
    with pytest.raises(PermissionError) as err:  # gspread turns the 403 into PermissionError
        gc.open_by_key(ss.id)
    cause = err.value.__cause__
    assert isinstance(cause, gspread.exceptions.APIError)
    assert cause.code == 403 and cause.error["message"] == "The caller does not have permission"
    ss.permissions.append({"id": "1", "type": "user", "role": "writer", "emailAddress": SA_EMAIL})
    assert gc.open_by_key(ss.id).title == "Owner's"


def test_share_creates_a_drive_permission(emulator: EmulatorServer, gc: Any) -> None:
    sh = gc.create("Shared")
    sh.share("owner@example.com", perm_type="user", role="writer", notify=False)
    perms = sh.list_permissions()
    assert {"type": "user", "role": "writer", "emailAddress": "owner@example.com"}.items() <= perms[-1].items()


def test_missing_spreadsheet_is_404_and_redirect_refuses_non_loopback(gc: Any) -> None:
    with pytest.raises(gspread.exceptions.SpreadsheetNotFound):
        gc.open_by_key("does-not-exist")
    with pytest.raises(ValueError):
        emulator_session("http://example.com:8080")


def test_service_account_json_on_disk_round_trip(sa_file: Path) -> None:
    info = json.loads(sa_file.read_text(encoding="utf-8"))
    assert info["client_email"] == SA_EMAIL and info["token_uri"].endswith("/token")


def test_standalone_mode_accepts_unregistered_service_accounts(emulator: EmulatorServer,
                                                               other_rsa_keys: tuple[str, str]) -> None:
    emulator.state.accept_any_token = True
    info = service_account_info("anyone@demo.iam.gserviceaccount.com", other_rsa_keys[0],
                                "https://oauth2.googleapis.com/token")  # Google's URL: redirected too
    creds = Credentials.from_service_account_info(info, scopes=SCOPES)
    gc = gspread.Client(auth=creds, session=emulator_session(emulator.base_url, creds))
    assert gc.create("Try it").title == "Try it"
    assert emulator.state.token_requests == 1
