"""The one HTTP funnel: every request sheets-sync sends goes through :meth:`Funnel.request`.

Its users: the Google backend (gspread's ``HTTPClient.request``, see ``sheets/google_auth.py``)
and the HTTP CRM adapters (amoCRM/Kommo, Bitrix24, HubSpot, through ``crm/http.py``). A request

1. waits for the client-side pacer: a sliding window (at most ``requests`` in any ``per``
   seconds, each send a headroom of 50 ms + 5 % of the window later than the window strictly
   needs, so that pacing "at" a vendor's limit stays under it despite clock and transit jitter)
   or, for a vendor whose limit is a leaky bucket, a bucket of ``requests`` draining at the same
   average rate, kept 250 ms of drain below its top;
2. is sent with the caller's ``requests.Session`` (keep-alive, a timeout on every call);
3. has its outcome mapped, here, into the project's exception tree (:mod:`sheets_sync.errors`):

   * a 2xx (or a status in the caller's ``expect``) whose body the caller's ``accept`` finds
     usable: returned;
   * **transient** (:class:`~sheets_sync.errors.RetryableError`, marked
     :class:`~sheets_sync.errors.Transient`): 408, 429 and 5xx answers, a refused, dropped or
     timed-out connection, a 2xx whose body ``accept`` refuses (an HTML page, a cut-off body);
   * **uncertain** (:class:`~sheets_sync.errors.UncertainWriteError`): the same failures of a
     request marked ``idempotent=False`` (an append, a create) once it may have been carried
     out: a connection dropped or timed out after sending, a 408/500/502/504, a 2xx with an
     unusable body. It is **never repeated**: the caller looks first (the sync reads the sheet
     again; ``crm setup`` run again finds the field it may have made). Only the answers that
     say the server did nothing (429, 503) and connections never made are repeated;
   * **terminal**: anything else, mapped by the caller's ``refuse(where, response)`` (a
     refused token to ``ConfigError``, a vendor refusal to ``CrmError`` or ``SheetError``);
4. transient failures are repeated (``tenacity``): exponential backoff with full jitter, or the
   server's ``Retry-After`` (seconds or an HTTP date; capped at ``backoff_max``), bounded in
   attempts and in total seconds (it never starts a wait that would end past the budget); then
   :class:`~sheets_sync.errors.RemoteError` names the last failure.

Time: the pacers and the retries read :data:`CLOCK` and wait with :data:`SLEEP`; an HTTP-date
``Retry-After`` is measured against :data:`WALL`. Tests replace all three with a manual clock
(``monkeypatch.setattr(sheets_sync.http, "CLOCK", ...)``), so no outcome depends on the
machine's speed.

Answers are quoted as one line (:func:`line`, :func:`body_problem`): the status, the vendor's
message, or the first 100 characters of an HTML or text page, tags stripped. A JSON body that
cannot be used is described (truncated, N bytes), never quoted: it may hold client data.

Secrets (tokens, webhook codes) are registered with :func:`register_secret`; every message,
exception and log record of this funnel and of ``urllib3`` has them replaced by ``***``
(URLs included). A low-level exception is chained only as a masked copy
(:class:`TransportError`).
"""

from __future__ import annotations

import email.utils
import html
import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_random_exponential
from urllib3.exceptions import NewConnectionError

from .errors import ConfigError, RemoteError, RetryableError, Transient, UncertainWriteError

log = logging.getLogger(__name__)

#: answers worth repeating (when the request is idempotent)
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: answers that say the request was not carried out: repeated even when not idempotent
REFUSED_STATUSES = frozenset({429, 503})
#: the time source and the wait of every pacer and retry (tests swap in a manual clock)
CLOCK: Callable[[], float] = time.monotonic
SLEEP: Callable[[float], None] = time.sleep
#: the wall clock an HTTP-date ``Retry-After`` is measured against
WALL: Callable[[], float] = time.time
_UNSAFE = "it may or may not have been carried out, and it is not safe to send twice."

# ---------------------------------------------------------------------------- secrets

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()


def register_secret(secret: str) -> None:
    """Mask ``secret`` (and its URL-encoded form) in every message from now on."""
    if len(secret) < 4:
        return
    with _SECRETS_LOCK:
        _SECRETS.update({secret, quote(secret, safe="")})
    _install_log_filter()


def forget_secret(secret: str) -> None:
    """Stop masking ``secret`` as a whole (e.g. a webhook URL once its code is registered)."""
    with _SECRETS_LOCK:
        _SECRETS.discard(secret)
        _SECRETS.discard(quote(secret, safe=""))


def mask(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


class _MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is logging's problem, not ours
            return True
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


_FILTER = _MaskingFilter()
_FILTERED_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", __name__, "sheets_sync.crm")


def _install_log_filter() -> None:
    for name in _FILTERED_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


class TransportError(Exception):
    """A masked stand-in for a ``requests`` exception (which may quote a secret URL)."""


# ---------------------------------------------------------------------------- policies


@dataclass(frozen=True)
class RatePolicy:
    """At most ``requests`` per ``per`` seconds."""

    requests: int
    per: float  # seconds

    def __str__(self) -> str:
        return f"{self.requests}/{self.per:g}s"


_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*\.?\d+)?\s*(ms|s|sec|m|min)?\s*")


def parse_rate(value: Any, default: RatePolicy, where: str = "[crm] rate_limit"
               ) -> RatePolicy | None:
    """``"7/1s"``, ``"100/10s"``, ``"50/25s"``, ``"600/1m"``, ``"off"``; None means no pacing."""
    if value is None:
        return default
    if isinstance(value, str) and value.strip().lower() in ("off", "none", "0"):
        return None
    match = _RATE.fullmatch(str(value))
    if match is None or int(match.group(1)) < 1:
        raise ConfigError(f"{where} = {value!r}: write requests per window, e.g. "
                          f"rate_limit = \"{default}\", or \"off\".")
    amount = float(match.group(2) or 1)
    scale = {"ms": 0.001, "m": 60.0, "min": 60.0}.get(match.group(3) or "s", 1.0)
    if amount * scale <= 0:
        raise ConfigError(f"{where} = {value!r}: the window must be longer than 0 s.")
    return RatePolicy(int(match.group(1)), amount * scale)


@dataclass(frozen=True)
class RetryPolicy:
    """Tries per request (None: as many as the budget allows), the first backoff (doubling,
    full jitter), the longest single wait and the most seconds spent on one request."""

    attempts: int | None = 6
    backoff: float = 0.5
    backoff_max: float = 30.0
    budget: float = 120.0


Sleep = Callable[[float], None]


class _WindowPacer:
    """At most ``limit`` sends in any ``window`` seconds, each one ``headroom`` later than the
    window strictly needs (a vendor that counts at its own clock never sees ``limit + 1``)."""

    def __init__(self, limit: int, window: float, headroom: float) -> None:
        self.limit, self.window, self.headroom = limit, window, headroom
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self, clock: Callable[[], float], sleep: Sleep) -> None:
        with self._lock:
            now = clock()
            if len(self._sent) >= self.limit:
                wait = self._sent[0] + self.window + self.headroom - now
                if wait > 0:
                    sleep(wait)
                    now = max(clock(), self._sent[0] + self.window + self.headroom)
                self._sent.popleft()
            self._sent.append(now)


class _LeakyPacer:
    """Client-side twin of a leaky bucket (Bitrix24: 50 requests, draining 2 per second).

    A sliding window of ``capacity`` per ``capacity / drain`` seconds is safe for such a bucket
    but sends in lumps of ``capacity`` every window, up to one window (25 s) later than the bucket
    allows: 201 requests took 100 s where Bitrix24's bucket allows 75.5 s. This pacer keeps the
    level the server keeps and sends as soon as one more request fits (plus ``margin`` seconds,
    for clock and transit).
    """

    def __init__(self, capacity: int, drain: float, margin: float) -> None:
        self.capacity, self.drain, self.margin = capacity, drain, margin
        self._level: float = 0.0
        self._at: float | None = None
        self._lock = threading.Lock()

    def acquire(self, clock: Callable[[], float], sleep: Sleep) -> None:
        with self._lock:
            now = clock()
            at = now if self._at is None else self._at
            level = max(0.0, self._level - (now - at) * self.drain)
            if level + 1 > self.capacity:
                wait = (level + 1 - self.capacity) / self.drain + self.margin
                sleep(wait)
                later = max(clock(), now + wait)
                level = max(0.0, level - (later - now) * self.drain)
                now = later
            self._level, self._at = level + 1, now


def _pacer(rate: RatePolicy | None, shape: str, margin: float) -> _WindowPacer | _LeakyPacer | None:
    if rate is None:
        return None
    if shape == "bucket":
        # a bucket's headroom costs its time once (the level stays that far below the top), so
        # it can be generous: 250 ms of transit jitter
        return _LeakyPacer(rate.requests, rate.requests / rate.per, margin + 0.2)
    return _WindowPacer(rate.requests, rate.per, margin + 0.05 * rate.per)


class _Budget(stop_base):
    """Stop before a wait that would end past ``budget`` seconds from ``started``, by ``clock``
    (tenacity's own ``stop_before_delay`` reads the wall clock, which a test cannot drive)."""

    def __init__(self, clock: Callable[[], float], started: float, budget: float) -> None:
        self.clock, self.started, self.budget = clock, started, budget

    def __call__(self, retry_state: RetryCallState) -> bool:
        upcoming = getattr(retry_state, "upcoming_sleep", 0.0) or 0.0
        return self.clock() - self.started + upcoming >= self.budget


class _Wait:
    """Retry-After when the server gives one (capped), else exponential backoff, full jitter."""

    def __init__(self, retry: RetryPolicy) -> None:
        self.retry = retry
        self.exponential = wait_random_exponential(multiplier=retry.backoff,
                                                   max=retry.backoff_max)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hint = getattr(exc, "retry_after", None)
        if hint is not None:
            return min(max(hint, 0.0), self.retry.backoff_max)
        return float(self.exponential(state))


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait by a ``Retry-After`` header: delay-seconds (``"2"``) or an HTTP date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``, measured against ``now``, a unix time); None when
    absent or unreadable, 0 for a date in the past."""
    if not value or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" or no zone: HTTP dates are GMT
        return None
    return max(0.0, when.timestamp() - now)


# ---------------------------------------------------------------------------- answers

_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->|<[^>]*>", re.S | re.I)


def line(text: str, limit: int = 100) -> str:
    """``text`` on one line, HTML tags stripped, at most ``limit`` characters (then "…")."""
    text = " ".join(html.unescape(_TAGS.sub(" ", text[:20_000])).split())
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def json_body(response: requests.Response) -> Any:
    """The parsed body, or None when it is empty or not JSON."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def body_problem(response: requests.Response) -> str | None:
    """What makes a body unusable as JSON (empty, HTML, truncated), or None when it parses.

    A body that looks like JSON is never quoted (a cut-off page holds client data); an HTML or
    text page (a proxy's error page) is quoted as its first 100 characters, tags stripped.
    """
    content = response.content or b""
    if not content.strip():
        return f"HTTP {response.status_code} with an empty body"
    try:
        response.json()
        return None
    except ValueError:
        pass
    kind = (response.headers.get("Content-Type") or "no content type").split(";")[0]
    if content.lstrip()[:1] in (b"{", b"["):
        return (f"HTTP {response.status_code} with truncated or invalid JSON "
                f"({len(content)} bytes, {kind})")
    return f"HTTP {response.status_code} with a body that is not JSON ({kind}): " \
           f"{line(response.text or '')!r}"


#: ``accept(response)``: None when a 2xx body is what the caller expects, else what is wrong
Accept = Callable[[requests.Response], str | None]
#: ``describe(response)``: the server's error in a few words
Describe = Callable[[requests.Response], str]
#: ``refuse(where, response)``: the exception for an answer that is neither usable nor worth
#: repeating (the caller's meaning: a refused token, a missing sheet, a vendor's refusal)
Refuse = Callable[[str, requests.Response], Exception]


def expect_json(shape: Callable[[Any], str | None]) -> Accept:
    """An ``accept`` check: the body parses as JSON and ``shape(body)`` finds nothing wrong."""

    def accept(response: requests.Response) -> str | None:
        if response.status_code == 204:
            return None
        problem = body_problem(response)
        if problem is not None:
            return problem
        wrong = shape(response.json())
        return None if wrong is None else \
            f"HTTP {response.status_code} with an answer of the wrong shape: {wrong}"

    return accept


def text_summary(response: requests.Response) -> str:
    """A non-JSON or unexpected answer in one line: never the body of a JSON page."""
    return body_problem(response) or f"HTTP {response.status_code} " \
        f"({len(response.content or b'')} bytes of JSON in an unexpected shape)"


def describe_answer(response: requests.Response) -> str:
    """The usual error shapes (``{"error": {"message"}}``, ``{"message"}``) or a summary."""
    body = json_body(response)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(body.get("message"), str):
            return body["message"]
    return text_summary(response)


# ---------------------------------------------------------------------------- the funnel


class Funnel:
    """Paced, retried, masked HTTP for one remote service (one account, one spreadsheet user).

    ``name`` starts every message ("HubSpot", "Google Sheets API"); ``describe`` turns an
    error answer into a few words; ``refuse`` maps a terminal answer to the caller's exception
    (default: :class:`~sheets_sync.errors.RemoteError` naming the status); ``give_up`` ends the
    message when the retries are spent, ``uncertain`` the one of an uncertain write. ``clock``
    and ``sleep`` default to :data:`CLOCK` and :data:`SLEEP` as they are when the funnel is made.
    """

    def __init__(self, name: str, *, session: requests.Session | None = None,
                 rate: RatePolicy | None = None, retry: RetryPolicy | None = None,
                 timeout: float | None = 30.0, shape: str = "window", margin: float = 0.05,
                 describe: Describe = describe_answer, refuse: Refuse | None = None,
                 give_up: str = "run again later.",
                 uncertain: str = "Look before sending it again.",
                 clock: Callable[[], float] | None = None, sleep: Sleep | None = None) -> None:
        self.name = name
        self.session = session if session is not None else requests.Session()
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.describe, self.refuse = describe, refuse or self._refuse
        self.give_up, self.uncertain = give_up, uncertain
        self._clock = clock or CLOCK
        self._sleep = sleep or SLEEP
        self._pacer = _pacer(rate, shape, margin)
        self.stats: Counter[str] = Counter()

    def detail(self, response: requests.Response) -> str:
        """The server's error in one line (at most 160 characters), secrets masked."""
        return mask(line(self.describe(response), 160))

    def request(self, method: str, url: str, *, idempotent: bool = True,
                expect: Iterable[int] = (), accept: Accept | None = None,
                timeout: float | None = None, **send: Any) -> requests.Response:
        """Send (``send``: ``params``, ``json``, ``data``, ``headers``... for ``requests``),
        pacing and repeating what is transient; return a 2xx answer or one whose status is in
        ``expect``. ``idempotent=False``: the request must not be carried out twice (see the
        module docstring). ``timeout`` overrides the funnel's for this request.
        """
        where = f"{self.name} {method.upper()} {mask(url.split('?', 1)[0])}"
        expected = set(expect)
        seconds = self.timeout if timeout is None else timeout

        def attempt() -> requests.Response:
            if self._pacer is not None:
                self._pacer.acquire(self._clock, lambda wait: self._sleep(wait))
                self.stats["paced"] += 1
            self.stats["requests"] += 1
            try:
                response = self.session.request(method, url, timeout=seconds, **send)
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                self.stats["transport_errors"] += 1
                summary = f"{type(exc).__name__}: {mask(_short(exc))}"
                if idempotent or _never_sent(exc):
                    raise RetryableError(summary) from None
                raise UncertainWriteError(
                    f"{where}: the connection failed after sending ({summary}); {_UNSAFE} "
                    f"{self.uncertain}") from TransportError(summary)
            except requests.RequestException as exc:
                raise RemoteError(f"{where}: {type(exc).__name__}: {mask(_short(exc))}"
                                  ) from TransportError(mask(str(exc)))
            return self._outcome(where, response, idempotent, expected, accept)

        def before_sleep(state: RetryCallState) -> None:
            self.stats["retries"] += 1
            exc = state.outcome.exception() if state.outcome else None
            log.warning("%s: %s; retrying in %.2f s (attempt %d%s)", where, exc,
                        state.next_action.sleep if state.next_action else 0.0,
                        state.attempt_number + 1,
                        f" of {self.retry.attempts}" if self.retry.attempts else "")

        started = self._clock()
        stop: stop_base = _Budget(self._clock, started, self.retry.budget)
        if self.retry.attempts is not None:
            stop = stop_after_attempt(self.retry.attempts) | stop
        retrying = Retrying(stop=stop, wait=_Wait(self.retry), sleep=self._sleep,
                            retry=retry_if_exception(lambda exc: isinstance(exc, Transient)),
                            before_sleep=before_sleep, reraise=True)
        try:
            return retrying(attempt)
        except RetryableError as exc:
            attempts = int(retrying.statistics.get("attempt_number", 0))
            raise RemoteError(
                f"{where}: still failing after {attempts} attempts in "
                f"{self._clock() - started:.1f} s: {exc}. {self.name} may be down or limiting "
                f"us; {self.give_up}") from None

    def _outcome(self, where: str, response: requests.Response, idempotent: bool,
                 expected: set[int], accept: Accept | None) -> requests.Response:
        """The answer if usable; else the transient, uncertain or terminal error it means."""
        status = response.status_code
        self.stats[f"status_{status}"] += 1
        log.debug("%s -> %s (%d bytes)", where, status, len(response.content))
        if 200 <= status < 300 and accept is not None:
            try:
                problem = accept(response)
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                problem = f"HTTP {status} with an answer of an unexpected shape " \
                          f"({type(exc).__name__})"
            if problem is not None:
                self.stats["malformed"] += 1
                if idempotent:
                    raise RetryableError(problem)
                raise UncertainWriteError(f"{where}: {problem}; {_UNSAFE} {self.uncertain}")
        if status in expected or 200 <= status < 300:
            return response
        if status in RETRY_STATUSES:
            detail = self.detail(response)
            summary = detail if detail.startswith(f"HTTP {status}") else f"HTTP {status} {detail}"
            if idempotent or status in REFUSED_STATUSES:
                raise RetryableError(summary, retry_after=retry_after(
                    response.headers.get("Retry-After"), WALL()))
            raise UncertainWriteError(f"{where}: {summary}; {_UNSAFE} {self.uncertain}")
        raise self.refuse(where, response)

    def _refuse(self, where: str, response: requests.Response) -> Exception:
        return RemoteError(f"{where}: HTTP {response.status_code}: {self.detail(response)}")

    def close(self) -> None:
        self.session.close()


def _never_sent(exc: requests.RequestException) -> bool:
    """A connection that was never made (refused, no such host, timed out while connecting):
    the server saw nothing, so even a request that must not run twice can be sent again."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]
