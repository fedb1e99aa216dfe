"""The one server, fault API and clock (``sheets_sync_emulators.core``), the same for every service.

Each fault kind is set the same two ways (Python and ``POST /_emulator/faults``) on the Google
emulator and on each CRM emulator, and each answers in that service's own shape.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from sheets_sync_emulators.core import EmulatorServer, ManualClock, Service
from sheets_sync_emulators.crm import AmoCrmApp, Bitrix24App, HubSpotApp
from sheets_sync_emulators.google_sheets import GoogleSheets


@dataclass
class Target:
    """A service on its own server, and one authorized read of it."""

    name: str
    server: EmulatorServer
    path: str
    headers: dict[str, str]
    action: str  # the service's name of that read, which faults match on

    @property
    def service(self) -> Service:
        return self.server.service

    def get(self, timeout: float = 5) -> requests.Response:
        return requests.get(self.server.base_url + self.path, headers=self.headers, timeout=timeout)

    def control(self, method: str, name: str, payload: Any = None) -> Any:
        response = requests.request(method, f"{self.server.base_url}/_emulator/{name}", json=payload, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()


def _google() -> Target:
    service = GoogleSheets(accept_any_token=True)
    sheet = service.state.create_spreadsheet("Core")
    return Target("google_sheets", EmulatorServer(service).start(), f"/v4/spreadsheets/{sheet.id}/values/A1",
                  {"Authorization": "Bearer anything"}, "values.get")


def _amocrm() -> Target:
    app = AmoCrmApp()
    app.limiter.configure(enabled=False)
    return Target("amocrm", EmulatorServer(app).start(), "/api/v4/account",
                  {"Authorization": f"Bearer {app.state.token}"}, "GET /api/v4/account")


def _bitrix24() -> Target:
    app = Bitrix24App()
    app.bucket.configure(enabled=False)
    return Target("bitrix24", EmulatorServer(app).start(),
                  f"/rest/{app.state.user_id}/{app.state.code}/crm.company.list.json", {}, "crm.company.list")


def _hubspot() -> Target:
    app = HubSpotApp()
    app.limiter.configure(enabled=False)
    return Target("hubspot", EmulatorServer(app).start(), "/crm/v3/objects/companies",
                  {"Authorization": f"Bearer {app.state.token}"}, "GET /crm/v3/objects/companies")


MAKERS: dict[str, Callable[[], Target]] = {"google_sheets": _google, "amocrm": _amocrm,
                                           "bitrix24": _bitrix24, "hubspot": _hubspot}


@pytest.fixture(scope="module", params=sorted(MAKERS))
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    made = MAKERS[request.param]()
    yield made
    made.server.stop()


@pytest.fixture(autouse=True)
def clean(target: Target) -> Iterator[None]:
    target.service.faults.reset()
    target.service.log.clear()
    yield
    target.service.faults.clear()


def set_fault(target: Target, how: str, kind: str, **options: Any) -> None:
    """The same fault, from Python or over the HTTP control endpoint."""
    if how == "python":
        target.service.faults.add(kind, **options)
    else:
        assert target.control("POST", "faults", {"kind": kind, **options})["faults"][-1]["kind"] == kind


HOW = pytest.mark.parametrize("how", ["python", "http"])


@HOW
def test_429_with_retry_after_in_seconds_and_without(target: Target, how: str) -> None:
    set_fault(target, how, "429", action=target.action, retry_after=7)
    set_fault(target, how, "429", action=target.action)
    first, second, third = target.get(), target.get(), target.get()
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.headers["Retry-After"] == "7" and "Retry-After" not in second.headers
    body = first.json()
    if target.name == "google_sheets":  # each service answers its own 429 body
        assert body["error"]["status"] == "RESOURCE_EXHAUSTED"
        assert body["error"]["details"][0]["reason"] == "RATE_LIMIT_EXCEEDED"
    elif target.name == "hubspot":
        assert body["errorType"] == "RATE_LIMIT"
    elif target.name == "bitrix24":
        assert body["error"] == "OPERATION_TIME_LIMIT"
    else:
        assert body["status"] == 429 and body["title"] == "Too Many Requests"


@HOW
def test_429_with_retry_after_as_an_http_date(target: Target, how: str) -> None:
    set_fault(target, how, "429", retry_after=120, retry_after_form="date")
    response = target.get()
    assert response.status_code == 429
    when = email.utils.parsedate_to_datetime(response.headers["Retry-After"])
    assert when.tzinfo is not None and response.headers["Retry-After"].endswith(" GMT")
    assert 0 < (when - datetime.now(UTC)).total_seconds() <= 121  # 2 minutes from now, whole seconds


@HOW
def test_5xx_with_an_html_body(target: Target, how: str) -> None:
    set_fault(target, how, "500", status=502)
    response = target.get()
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "502" in response.text and "<html" in response.text.lower()
    assert target.get().status_code == 200


@HOW
def test_any_status_in_the_services_json_shape(target: Target, how: str) -> None:
    set_fault(target, how, "status", status=503, attempt=2, times=2)
    statuses = [target.get().status_code for _ in range(4)]
    assert statuses == [200, 503, 503, 200]
    assert [e.fault for e in target.service.log] == [None, "status", "status", None]
    fault = target.service.faults.items[0]
    assert (fault.seen, fault.fired) == (4, 2)


@HOW
def test_an_exact_answer(target: Target, how: str) -> None:
    set_fault(target, how, "answer", status=200, body="<html>login</html>", content_type="text/html")
    response = target.get()
    assert (response.status_code, response.text) == (200, "<html>login</html>")


@HOW
def test_drop_before_and_after_applying(target: Target, how: str) -> None:
    set_fault(target, how, "drop")
    set_fault(target, how, "drop_after")
    for _ in range(2):
        with pytest.raises(requests.exceptions.ConnectionError):
            target.get()
    assert target.get().status_code == 200
    entries = target.service.log.entries
    assert [(e.fault, e.status) for e in entries] == [("drop", 0), ("drop_after", 200), (None, 200)]


@HOW
def test_slow_answers_late_and_a_client_timeout_fires(target: Target, how: str) -> None:
    set_fault(target, how, "slow", delay=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        target.get(timeout=0.05)  # real time: 20 times shorter than the delay
    assert target.get().status_code == 200


def test_faults_queue_in_the_order_they_were_added(target: Target) -> None:
    faults = target.service.faults
    faults.fail(429, times=2)
    faults.fail(502)
    assert [target.get().status_code for _ in range(4)] == [429, 429, 502, 200]


def test_a_fault_for_another_action_or_path_does_not_fire(target: Target) -> None:
    target.service.faults.rate_limit(action="no.such.action")
    target.service.faults.rate_limit(path="/no/such/path")
    assert target.get().status_code == 200


def test_on_request_runs_a_callback_when_the_nth_request_arrives(target: Target) -> None:
    seen: list[Service] = []
    target.service.faults.on_request(2, seen.append)
    target.get()
    assert seen == []
    target.get()
    assert seen == [target.service]


def test_the_control_api_lists_clears_and_logs(target: Target) -> None:
    assert target.control("GET", "health")["services"] == [target.name]
    set_fault(target, "http", "429")
    target.get()
    log = target.control("GET", "log")["requests"]
    assert [(e["action"], e["status"], e["fault"]) for e in log] == [(target.action, 429, "429")]
    assert target.control("DELETE", "faults")["faults"] == []
    assert target.control("DELETE", "log")["requests"] == []
    bad = requests.post(target.server.base_url + "/_emulator/faults", json={"kind": "teapot"}, timeout=5)
    assert bad.status_code == 400 and "teapot" in bad.json()["error"]["message"]


# --------------------------------------------------------------------------- one server, one clock
@pytest.fixture
def hub() -> Iterator[tuple[EmulatorServer, GoogleSheets, HubSpotApp, ManualClock]]:
    clock = ManualClock()
    google, hubspot = GoogleSheets(accept_any_token=True), HubSpotApp(limit=2, window=10.0)
    with EmulatorServer(google, hubspot, clock=clock) as server:
        yield server, google, hubspot, clock


def test_one_server_hosts_several_services_on_one_manual_clock(
        hub: tuple[EmulatorServer, GoogleSheets, HubSpotApp, ManualClock]) -> None:
    server, google, hubspot, clock = hub
    assert google.clock is clock and hubspot.clock is clock
    sheet = google.state.create_spreadsheet("Both")
    google.state.read_quota_per_minute = 1
    base = server.base_url
    read = f"{base}/v4/spreadsheets/{sheet.id}/values/A1"
    companies = f"{base}/crm/v3/objects/companies"
    auth = {"Authorization": f"Bearer {hubspot.state.token}"}
    assert requests.get(read, headers=auth, timeout=5).status_code == 200
    assert [requests.get(companies, headers=auth, timeout=5).status_code for _ in range(3)] == [200, 200, 429]
    assert requests.get(read, headers=auth, timeout=5).status_code == 429  # Google's read quota
    clock.advance(60)  # one move of the one clock frees both limits
    assert requests.get(read, headers=auth, timeout=5).status_code == 200
    assert requests.get(companies, headers=auth, timeout=5).status_code == 200
    assert [e.at for e in hubspot.log] == [1000.0, 1000.0, 1000.0, 1060.0]
    assert [e.action for e in google.log] == ["values.get"] * 3


def test_the_clock_over_http(hub: tuple[EmulatorServer, GoogleSheets, HubSpotApp, ManualClock]) -> None:
    server, google, hubspot, _ = hub
    url = server.base_url + "/_emulator/clock"
    assert requests.post(url, json={"manual": True, "start": 50}, timeout=5).json() == {"now": 50.0, "manual": True}
    assert requests.post(url, json={"advance": 2.5}, timeout=5).json()["now"] == 52.5
    assert google.clock() == hubspot.clock() == 52.5
    assert requests.post(url, json={"manual": False}, timeout=5).json()["manual"] is False
    refused = requests.post(url, json={"advance": 1}, timeout=5)
    assert refused.status_code == 400 and "real time" in refused.json()["error"]["message"]


def test_reset_over_http_resets_every_service(
        hub: tuple[EmulatorServer, GoogleSheets, HubSpotApp, ManualClock]) -> None:
    server, google, hubspot, _ = hub
    google.state.create_spreadsheet("Gone")
    hubspot.state.add_company(name="Gone too")
    hubspot.faults.fail(500)
    response = requests.post(server.base_url + "/_emulator/reset", timeout=5)
    assert response.status_code == 200 and json.loads(response.text) == {"ok": True}
    assert google.state.spreadsheets == {} and hubspot.state.companies == {} and hubspot.faults.items == []


def test_a_slow_fault_delays_the_fault_after_it_too(target: Target) -> None:
    target.service.faults.slow(1.0)
    target.service.faults.fail(503)
    with pytest.raises(requests.exceptions.ReadTimeout):
        target.get(timeout=0.05)
    assert [e.fault for e in target.service.log] == ["status"]
    assert target.get().status_code == 200
