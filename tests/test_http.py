"""The one HTTP funnel (sheets_sync.http) against a real server on 127.0.0.1, in virtual time.

The server is a few lines of ``http.server`` in a thread, scripted per test: each request takes
the next step of the script (an answer, a connection dropped after the request was carried
out, an answer held back past the client's timeout). The funnel's clock and sleep are a manual
clock, so waits are asserted exactly and nothing sleeps for real.
"""

from __future__ import annotations

import email.utils
import json
import logging
import socket
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from sheets_sync import http
from sheets_sync.errors import ConfigError, RemoteError, RetryableError, Transient, UncertainWriteError
from sheets_sync.http import Funnel, RatePolicy, RetryPolicy, body_problem, mask, parse_rate, register_secret

# ---------------------------------------------------------------------------- a scripted server


@dataclass
class Step:
    status: int = 200
    body: bytes = b'{"ok": true}'
    headers: dict[str, str] = field(default_factory=dict)
    kind: str = "answer"  # "answer", "drop_after" (carry it out, then close), "hold" (no answer)


class Script:
    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.seen: list[str] = []  # "METHOD path" of every request that arrived
        self.applied = 0  # requests carried out (a 2xx answered, or dropped after)
        self.release = threading.Event()
        self.lock = threading.Lock()

    def next(self, line: str) -> Step:
        with self.lock:
            self.seen.append(line)
            return self.steps.pop(0) if self.steps else Step()


class _Handler(BaseHTTPRequestHandler):
    script: Script

    def log_message(self, *args: Any) -> None:  # keep the test output quiet
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        step = self.script.next(f"{self.command} {self.path}")
        if step.kind == "hold":
            self.script.release.wait(30)
            self.close_connection = True
            return
        if step.kind == "drop_after" or 200 <= step.status < 300:
            self.script.applied += 1
        if step.kind == "drop_after":
            self.close_connection = True  # no answer: the client cannot tell it was done
            return
        self.send_response(step.status)
        for key, value in {"Content-Type": "application/json", **step.headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(step.body)))
        self.end_headers()
        self.wfile.write(step.body)

    do_GET = do_POST = do_PATCH = _serve


@dataclass
class Server:
    url: str
    script: Script


@pytest.fixture
def server() -> Iterator[Server]:
    script = Script()
    handler = type("Handler", (_Handler,), {"script": script})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", script)
    finally:
        script.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


class Clock:
    """Virtual time: ``sleep`` moves it and records the wait."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def funnel(clock: Clock, **kwargs: Any) -> Funnel:
    options: dict[str, Any] = {"retry": RetryPolicy(attempts=5, backoff=0.5, backoff_max=30,
                                                    budget=120), "timeout": 5.0}
    options.update(kwargs)
    return Funnel("Test API", clock=clock.now, sleep=clock.sleep, **options)


# ---------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(("text", "expected"), [
    ("7/1s", RatePolicy(7, 1.0)), ("100/10s", RatePolicy(100, 10.0)),
    ("50 / 25 s", RatePolicy(50, 25.0)), ("600/1m", RatePolicy(600, 60.0)),
    ("10/100ms", RatePolicy(10, 0.1)), ("5/", RatePolicy(5, 1.0)), ("off", None)])
def test_parse_rate(text: str, expected: RatePolicy | None) -> None:
    assert parse_rate(text, RatePolicy(1, 1.0)) == expected


@pytest.mark.parametrize("text", ["fast", "0/1s", "7 per second", "7/0s"])
def test_parse_rate_refuses_with_an_example(text: str) -> None:
    with pytest.raises(ConfigError, match=r"rate_limit"):
        parse_rate(text, RatePolicy(7, 1.0))


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    now = 1_700_000_000.0
    assert http.retry_after("2", now) == 2.0
    assert http.retry_after(" 0.25 ", now) == 0.25
    assert http.retry_after(email.utils.formatdate(now + 7, usegmt=True), now) == 7.0
    assert http.retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now) == 0.0  # in the past
    for unreadable in ("soon", "", None, "-3x"):
        assert http.retry_after(unreadable, now) is None


def _answer(status: int, body: bytes, content_type: str = "application/json") -> requests.Response:
    response = requests.Response()
    response.status_code, response._content = status, body
    response.headers["Content-Type"] = content_type
    response.encoding = "utf-8"
    return response


def test_an_html_error_page_is_one_short_line_without_tags() -> None:
    page = (b"<html><head><title>502 Bad Gateway</title><style>h1{color:red}</style></head>\n"
            b"<body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n"
            + b"<p>padding</p>\n" * 50 + b"</body></html>")
    text = body_problem(_answer(200, page, "text/html"))
    assert text is not None and "\n" not in text and "<" not in text and "color" not in text
    assert text.startswith("HTTP 200 with a body that is not JSON (text/html): '502 Bad Gateway")
    assert len(text) < 170


def test_a_cut_off_json_page_is_never_quoted() -> None:
    text = body_problem(_answer(200, b'{"result": [{"ID": "1", "TITLE": "Secret Client LLC", "RE'))
    assert text == "HTTP 200 with truncated or invalid JSON (57 bytes, application/json)"
    assert body_problem(_answer(200, b"")) == "HTTP 200 with an empty body"
    assert body_problem(_answer(200, b'{"ok": 1}')) is None


def test_mask_replaces_plain_and_url_encoded_secrets() -> None:
    register_secret("s3cr/et+code")
    assert mask("a s3cr/et+code b s3cr%2Fet%2Bcode") == "a *** b ***"


def test_transient_is_what_the_funnel_repeats() -> None:
    assert isinstance(RetryableError("x"), Transient)
    assert not isinstance(RemoteError("x"), Transient)
    assert not isinstance(UncertainWriteError("x"), Transient)


# ---------------------------------------------------------------------------- Retry-After


def test_a_429_waits_the_seconds_of_its_retry_after(server: Server, clock: Clock) -> None:
    server.script.steps = [Step(429, b"{}", {"Retry-After": "3"})]
    answer = funnel(clock).request("GET", f"{server.url}/items")
    assert answer.json() == {"ok": True}
    assert clock.slept == [3.0]
    assert server.script.seen == ["GET /items", "GET /items"]


def test_a_503_waits_until_the_date_of_its_retry_after(server: Server, clock: Clock,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    wall = 1_700_000_000.0
    monkeypatch.setattr(http, "WALL", lambda: wall)
    server.script.steps = [Step(503, b"{}", {"Retry-After": email.utils.formatdate(
        wall + 12, usegmt=True)})]
    funnel(clock).request("GET", f"{server.url}/items")
    assert clock.slept == [12.0]


def test_a_retry_after_longer_than_backoff_max_is_capped(server: Server, clock: Clock) -> None:
    server.script.steps = [Step(429, b"{}", {"Retry-After": "3600"})]
    funnel(clock, retry=RetryPolicy(attempts=3, backoff_max=20, budget=100)).request(
        "GET", f"{server.url}/items")
    assert clock.slept == [20.0]


# ---------------------------------------------------------------------------- the budget


def test_the_budget_ends_the_retries_in_virtual_time(server: Server, clock: Clock) -> None:
    server.script.steps = [Step(500, b'{"error": {"message": "backend error"}}')] * 1000
    pipe = funnel(clock, retry=RetryPolicy(attempts=None, backoff=1, backoff_max=1, budget=10))
    with pytest.raises(RemoteError, match=r"Test API GET .*/items: still failing after \d+ "
                                          r"attempts in (9\.\d|10\.0) s: HTTP 500 backend error\. "
                                          r"Test "
                                          r"API may be down") as failed:
        pipe.request("GET", f"{server.url}/items")
    assert not isinstance(failed.value, Transient)
    assert sum(clock.slept) < 10  # no wait that would end past the budget was started
    assert len(server.script.seen) == len(clock.slept) + 1 >= 10  # jittered waits of <= 1 s
    assert clock.t - 1000.0 == pytest.approx(sum(clock.slept))  # only the waits moved time


def test_the_attempts_end_the_retries(server: Server, clock: Clock) -> None:
    server.script.steps = [Step(502, b"<html><h1>Bad Gateway</h1></html>",
                                {"Content-Type": "text/html"})] * 10
    with pytest.raises(RemoteError, match=r"still failing after 3 attempts .*HTTP 502 with a "
                                          r"body that is not JSON \(text/html\): 'Bad Gateway'"):
        funnel(clock, retry=RetryPolicy(attempts=3)).request("GET", f"{server.url}/items")
    assert len(server.script.seen) == 3


def test_a_terminal_answer_is_not_repeated_and_is_mapped_by_the_caller(
        server: Server, clock: Clock) -> None:
    server.script.steps = [Step(401, b'{"message": "token expired"}')]
    pipe = funnel(clock, refuse=lambda where, r: ConfigError(f"{where}: {r.status_code}"))
    with pytest.raises(ConfigError, match=r"Test API GET .*/items: 401"):
        pipe.request("GET", f"{server.url}/items?page=2")
    assert server.script.seen == ["GET /items?page=2"] and clock.slept == []
    server.script.steps = [Step(404, b'{"message": "no such thing"}')]
    with pytest.raises(RemoteError, match="HTTP 404: no such thing"):  # the default mapping
        funnel(clock).request("GET", f"{server.url}/items")


# ---------------------------------------------------------------------------- idempotency


def test_an_idempotent_request_is_repeated_after_a_dropped_connection(
        server: Server, clock: Clock) -> None:
    server.script.steps = [Step(kind="drop_after")]
    answer = funnel(clock).request("PATCH", f"{server.url}/items", json={"a": 1})
    assert answer.status_code == 200
    assert server.script.seen == ["PATCH /items", "PATCH /items"]
    assert server.script.applied == 2  # harmless: the same value written twice


def test_a_non_idempotent_request_is_never_repeated_after_a_dropped_connection(
        server: Server, clock: Clock) -> None:
    server.script.steps = [Step(kind="drop_after")]
    pipe = funnel(clock, uncertain="Look first.")
    with pytest.raises(UncertainWriteError, match=r"Test API POST .*/items:append: the "
                                                  r"connection failed after sending \("
                                                  r"ConnectionError.*\); it may or may not have "
                                                  r"been carried out.*Look first\."):
        pipe.request("POST", f"{server.url}/items:append", idempotent=False, json={"rows": [1]})
    assert server.script.seen == ["POST /items:append"]
    assert server.script.applied == 1  # once, and only once
    assert clock.slept == []


def test_a_non_idempotent_request_is_not_repeated_after_a_timeout(server: Server,
                                                                  clock: Clock) -> None:
    server.script.steps = [Step(kind="hold")]  # carried out or not: the client cannot know
    with pytest.raises(UncertainWriteError, match="ReadTimeout"):
        funnel(clock, timeout=0.2).request("POST", f"{server.url}/items", idempotent=False)
    server.script.release.set()
    assert server.script.seen == ["POST /items"]


@pytest.mark.parametrize("status", [500, 502, 504, 408])
def test_a_non_idempotent_request_answered_with_an_error_that_may_follow_the_write_is_not_repeated(
        server: Server, clock: Clock, status: int) -> None:
    server.script.steps = [Step(status, b"{}")]
    with pytest.raises(UncertainWriteError, match=f"HTTP {status}"):
        funnel(clock).request("POST", f"{server.url}/items", idempotent=False)
    assert len(server.script.seen) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_a_non_idempotent_request_the_server_refused_is_repeated(server: Server, clock: Clock,
                                                                 status: int) -> None:
    server.script.steps = [Step(status, b"{}", {"Retry-After": "1"})]
    answer = funnel(clock).request("POST", f"{server.url}/items", idempotent=False)
    assert answer.status_code == 200
    assert server.script.applied == 1 and len(server.script.seen) == 2


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_connection_never_made_is_repeated_even_for_a_non_idempotent_request(clock: Clock) -> None:
    pipe = funnel(clock, retry=RetryPolicy(attempts=3, backoff=0.1))
    with pytest.raises(RemoteError, match="still failing after 3 attempts.*ConnectionError") as info:
        pipe.request("POST", f"http://127.0.0.1:{_closed_port()}/items", idempotent=False)
    assert not isinstance(info.value, UncertainWriteError)
    assert pipe.stats["requests"] == 3


def test_an_unusable_answer_is_repeated_for_a_read_and_uncertain_for_a_write(
        server: Server, clock: Clock) -> None:
    def accept(response: requests.Response) -> str | None:
        return body_problem(response)

    server.script.steps = [Step(200, b'{"cut off')]
    assert funnel(clock).request("GET", f"{server.url}/items", accept=accept).json() == {"ok": True}
    assert len(server.script.seen) == 2
    server.script.steps = [Step(200, b"<html>oops</html>", {"Content-Type": "text/html"})]
    with pytest.raises(UncertainWriteError, match="not JSON"):
        funnel(clock).request("POST", f"{server.url}/items", idempotent=False, accept=accept)
    assert len(server.script.seen) == 3


# ---------------------------------------------------------------------------- pacing


def test_pacing_keeps_a_window_and_waits_on_the_clock(server: Server, clock: Clock) -> None:
    pipe = funnel(clock, rate=RatePolicy(2, 1.0))
    for _ in range(5):
        pipe.request("GET", f"{server.url}/items")
    # requests 3 and 5 wait for the window, plus its headroom of 50 ms + 5 % of the window
    assert clock.slept == pytest.approx([1.1, 1.1])
    assert len(server.script.seen) == 5


# ---------------------------------------------------------------------------- masking


def test_a_secret_is_masked_in_messages_chains_and_logs(server: Server, clock: Clock,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    secret = "hook-0f1e2d3c4b5a"
    register_secret(secret)
    caplog.set_level(logging.DEBUG)
    server.script.steps = [Step(500, json.dumps({"message": f"bad code {secret}"}).encode())] * 3
    with pytest.raises(RemoteError) as answered:
        funnel(clock, retry=RetryPolicy(attempts=3)).request("GET", f"{server.url}/{secret}/x")
    with pytest.raises(RemoteError) as refused:
        funnel(clock, retry=RetryPolicy(attempts=2)).request(
            "GET", f"http://127.0.0.1:{_closed_port()}/{secret}/x")
    server.script.steps = [Step(kind="drop_after")]
    with pytest.raises(UncertainWriteError) as uncertain:
        funnel(clock).request("POST", f"{server.url}/{secret}/x", idempotent=False)
    for info in (answered, refused, uncertain):
        text = "".join(traceback.format_exception(info.value))
        assert secret not in text
        assert "/***/x" in text
    assert "bad code ***" in str(answered.value)
    assert "retrying" in caplog.text and "/***/x" in caplog.text  # ours and urllib3's lines
    assert secret not in caplog.text


# ---------------------------------------------------------------------------- the Google client


def test_the_google_client_paces_on_the_clock_and_never_repeats_an_append(
        server: Server, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    from sheets_sync.sheets.google_auth import PacedHTTPClient, to_endpoint

    monkeypatch.setattr(http, "CLOCK", clock.now)
    monkeypatch.setattr(http, "SLEEP", clock.sleep)
    session = to_endpoint(requests.Session(), server.url)  # gspread's URLs, our loopback server
    client = PacedHTTPClient(None, session, per_minute=2,
                             refuse=lambda where, r: ConfigError(f"{where}: {r.status_code}"))
    server.script.steps = [Step(200, b"<html>proxy login</html>", {"Content-Type": "text/html"})]
    for _ in range(2):
        assert client.values_get("KEY", "A1") == {"ok": True}  # the page is retried, not parsed
    # a backoff, then the third request waits out the minute from the first, plus the headroom
    assert len(clock.slept) == 2 and sum(clock.slept) == pytest.approx(63.05)
    assert len(server.script.seen) == 3
    server.script.steps = [Step(429, b"{}", {"Retry-After": "2"}), Step(kind="drop_after")]
    with pytest.raises(UncertainWriteError, match=r"Google Sheets API POST "
                                                  r"https://sheets.googleapis.com/.*:append: the "
                                                  r"connection failed after sending.*The sheet is "
                                                  r"read again"):
        client.values_append("KEY", "A1", {"valueInputOption": "RAW"}, {"values": [[1]]})
    assert server.script.seen[-2:] == ["POST /v4/spreadsheets/KEY/values/A1:append?"
                                       "valueInputOption=RAW"] * 2  # refused once, then sent once
    assert server.script.applied == 4  # the page, two reads and the append
    server.script.steps = [Step(403, b'{"error": {"message": "no access"}}')]
    with pytest.raises(ConfigError, match=":batchGet: 403"):  # mapped by the backend's refuse
        client.values_batch_get("KEY", ["A1"])
