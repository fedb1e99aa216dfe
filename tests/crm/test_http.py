"""What the HTTP CRM adapters share (crm/http.py): options, tokens, paging guards, and the funnel's
masking seen end to end through an adapter (the funnel itself: tests/test_http.py)."""

from __future__ import annotations

import logging
import socket
import traceback
from pathlib import Path

import pytest
import requests

from sheets_sync.crm import open_crm
from sheets_sync.crm.http import Pages
from sheets_sync.errors import ConfigError, RemoteError
from sheets_sync_emulators.crm import Bitrix24App

from .conftest import settings

FIELDS = {"id": "ID", "name": "TITLE"}


def test_pages_refuse_a_repeated_cursor_and_endless_paging() -> None:
    pages = Pages("HubSpot", "GET /crm/v3/objects/companies", limit=3)
    pages.next("100")
    with pytest.raises(RemoteError, match="same next-page cursor twice"):
        pages.next("100")
    endless = Pages("HubSpot", "GET /crm/v3/objects/companies", limit=3)
    for n in range(3):
        endless.next(n)
    with pytest.raises(RemoteError, match="more than 3 pages"):
        endless.next(3)


def test_token_from_a_file_relative_to_the_config(tmp_path: Path, b24: Bitrix24App) -> None:
    (tmp_path / "hook.txt").write_text(b24.state.code + "\n", encoding="utf-8")
    b24.state.add_company("Acme")
    crm = open_crm(settings("bitrix24", FIELDS, "UF_CRM_CAT", base_dir=tmp_path,
                            url=f"{b24.base_url}/rest/1/",  # type: ignore[attr-defined]
                            token_file="hook.txt"))
    assert crm.fetch()["TITLE"].tolist() == ["Acme"]


@pytest.mark.parametrize(("options", "message"), [
    ({}, "set the environment variable BITRIX24_WEBHOOK"),
    ({"token_env": "MY_HOOK"}, "set the environment variable MY_HOOK"),
    ({"token_file": "nope.txt"}, "token_file .*nope.txt"),
    ({"token_env": "A", "token_file": "b"}, "either token_env or token_file"),
])
def test_missing_token_says_what_to_fix(options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_crm(settings("bitrix24", FIELDS, "UF_CRM_CAT", url="https://x.bitrix24.ru/rest/1/",
                          **options))


@pytest.mark.parametrize(("options", "message"), [
    ({"colour": "red"}, "unknown key 'colour'"),
    ({"batch_size": 51}, "at most 50"),
    ({"timeout": "slow"}, "timeout"),
    ({"url": "example.amocrm.ru"}, "not an http"),
])
def test_bad_options(options: dict[str, object], message: str,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMOCRM_TOKEN", "t0ken-value")
    opts = {"url": "https://example.amocrm.ru", **options}
    with pytest.raises(ConfigError, match=message):
        open_crm(settings("amocrm", {"id": "id"}, "SS_CATEGORY", **opts))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_webhook_code_never_in_errors_tracebacks_or_logs(
        b24: Bitrix24App, caplog: pytest.LogCaptureFixture) -> None:
    code = b24.state.code
    caplog.set_level(logging.DEBUG)
    b24.state.add_company("Acme")
    crm = open_crm(settings("bitrix24", FIELDS, "UF_CRM_CAT",
                            url=f"{b24.base_url}/rest/1/"))  # type: ignore[attr-defined]
    crm.fetch()
    b24.faults.fail(503, times=10)
    with pytest.raises(RemoteError) as failed:
        crm.fetch()
    down = open_crm(settings("bitrix24", FIELDS, "UF_CRM_CAT",
                             url=f"http://127.0.0.1:{_closed_port()}/rest/1/"))
    with pytest.raises(RemoteError) as refused:
        down.fetch()
    for info in (failed, refused):
        text = "".join(traceback.format_exception(info.value))
        assert code not in text
        assert "/rest/1/***/" in text
    assert "QUERY_LIMIT_EXCEEDED" in str(failed.value)
    assert "ConnectionError" in str(refused.value)
    assert "/rest/1/***/" in caplog.text  # urllib3's own debug lines are masked too
    assert code not in caplog.text


def test_amocrm_token_never_in_logs(amo: object, caplog: pytest.LogCaptureFixture) -> None:
    from sheets_sync_emulators.crm import AmoCrmApp

    assert isinstance(amo, AmoCrmApp)
    caplog.set_level(logging.DEBUG)
    crm = open_crm(settings("amocrm", {"id": "id"}, "SS_CATEGORY",
                            url=amo.base_url))  # type: ignore[attr-defined]
    amo.faults.fail(500, times=1)
    crm.fetch()
    assert amo.state.token not in caplog.text
    assert "retrying" in caplog.text


def test_standalone_emulator_prints_its_address() -> None:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "sheets_sync_emulators.crm", "bitrix24",
                             "--companies", "2"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        lines = [proc.stdout.readline() for _ in range(4)]
        hook = lines[3].split(": ", 1)[1].strip()
        answer = requests.post(f"{hook}crm.company.list.json", json={}, timeout=5).json()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
    assert lines[0].startswith("bitrix24 emulator at http://127.0.0.1:")
    assert lines[0].split(" at ", 1)[1].strip() in hook
    assert answer["total"] == 2
