"""The one HTTP funnel of the HTTP CRM adapters (amoCRM/Kommo, Bitrix24, HubSpot).

Every request goes through :meth:`HttpClient.request`, which

1. waits for the client-side pacer (a sliding window: at most ``rate_limit`` requests in any
   window plus a headroom of 50 ms and 5 % of the window, so that pacing "at" a vendor's limit
   stays under it despite clock and transit jitter; or, for a vendor whose limit is a leaky
   bucket, a bucket of ``rate_limit`` requests draining at the same average rate, kept 250 ms
   of drain below its top), so the vendor's limiter never has to answer 429 under normal use.
   The pacer and the retries (waits and ``retry_budget``) read the time from :data:`CLOCK` and
   wait with :data:`SLEEP` (tests replace both with a manual clock, so no outcome depends on
   the machine's speed);
2. sends it with one ``requests.Session`` (keep-alive, a timeout on every call);
3. retries transient failures with ``tenacity``: 429 and 5xx answers and dropped or refused
   connections, with exponential backoff and full jitter, honouring ``Retry-After``, bounded
   both in attempts and in total seconds (on :data:`CLOCK`: it never starts a wait that
   would end past the budget);
4. checks the body when the caller says what a valid one is (``accept``): a 2xx whose body is
   not JSON (an HTML page, an empty or truncated body) or is the vendor's error shape is retried
   like a 5xx, then fails with :class:`~sheets_sync.errors.RemoteError` (a read is complete or
   it fails);
5. maps what is left to the project's exceptions: a refused token to
   :class:`~sheets_sync.errors.ConfigError`, other vendor refusals to
   :class:`~sheets_sync.errors.CrmError`, and failures that outlived the retries to
   :class:`~sheets_sync.errors.RemoteError`.

A vendor's answer is quoted in a message only as one line (:meth:`HttpClient.detail`,
:func:`body_problem`): the status, the vendor's error code and message, or the first 100
characters of an HTML or text page with its tags stripped. A JSON body that cannot be used is
described (truncated, N bytes), never quoted: it may hold client data.

Secrets (tokens, webhook codes) are registered with :func:`register_secret`; every message,
exception and log record this module or ``urllib3`` produces has them replaced by ``***``.
The original low-level exception is chained only as a masked copy (:class:`TransportError`).

Config keys shared by the three adapters (``[crm]`` table)::

    url = "https://example.amocrm.ru"   # the account / portal / API base
    token_env = "AMOCRM_TOKEN"          # the token's environment variable, or:
    token_file = "secrets/amocrm.token" # a file holding it (relative to the config)
    rate_limit = "7/1s"                 # requests per window; "off" disables pacing
    timeout = 30                        # seconds per request
    max_attempts = 6                    # tries per request, the first included
    backoff = 0.5                       # first backoff, seconds (doubles, full jitter)
    backoff_max = 30                    # longest single wait, seconds
    retry_budget = 120                  # longest total time spent on one request, seconds
"""

from __future__ import annotations

import email.utils
import html
import logging
import os
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from ..errors import ConfigError, CrmError, RemoteError
from .base import check_keys

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: the time source and the wait of every pacer and retry (tests swap in a manual clock)
CLOCK: Callable[[], float] = time.monotonic
SLEEP: Callable[[float], None] = time.sleep
#: at most this many pages in one listing: past it, the vendor's paging is looping
MAX_PAGES = 10_000
COMMON_KEYS = frozenset({"url", "token_env", "token_file", "rate_limit", "timeout",
                         "max_attempts", "backoff", "backoff_max", "retry_budget",
                         "category_field", "category_label", "batch_size"})

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
_FILTERED_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", __name__,
                     "sheets_sync.crm")


def _install_log_filter() -> None:
    for name in _FILTERED_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


class TransportError(Exception):
    """A masked stand-in for a ``requests`` exception (which may quote a secret URL)."""


# ---------------------------------------------------------------------------- options


@dataclass(frozen=True)
class RatePolicy:
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
    attempts: int = 6
    backoff: float = 0.5
    backoff_max: float = 30.0
    budget: float = 120.0


@dataclass(frozen=True)
class HttpOptions:
    """The funnel's settings, read from the ``[crm]`` table."""

    base_url: str
    secret: str
    secret_source: str  # "the environment variable AMOCRM_TOKEN" / "the file ..."
    rate: RatePolicy | None
    retry: RetryPolicy
    timeout: float

    @classmethod
    def from_settings(cls, options: Mapping[str, Any], base_dir: Path, *, kind: str,
                      vendor: str, extra_keys: Iterable[str] = (),
                      default_url: str | None = None, default_rate: RatePolicy,
                      token_env_default: str) -> HttpOptions:
        check_keys(options, COMMON_KEYS | set(extra_keys), kind)
        url = str(options.get("url") or default_url or "").strip()
        if not url:
            raise ConfigError(f"[crm] url: set the {vendor} address, e.g. "
                              f"url = \"{_URL_EXAMPLES.get(kind, 'https://...')}\"")
        if not re.match(r"https?://[^/\s]+", url):
            raise ConfigError(f"[crm] url = {url!r} is not an http(s) address; e.g. "
                              f"url = \"{_URL_EXAMPLES.get(kind, 'https://...')}\"")
        secret, source = read_secret(options, base_dir, vendor, token_env_default)
        retry = RetryPolicy(
            attempts=_number(options, "max_attempts", 6, int, minimum=1),
            backoff=_number(options, "backoff", 0.5, float),
            backoff_max=_number(options, "backoff_max", 30.0, float),
            budget=_number(options, "retry_budget", 120.0, float),
        )
        return cls(url.rstrip("/"), secret, source,
                   parse_rate(options.get("rate_limit"), default_rate), retry,
                   _number(options, "timeout", 30.0, float, minimum=0.001))


_URL_EXAMPLES = {"amocrm": "https://example.amocrm.ru", "kommo": "https://example.kommo.com",
                 "bitrix24": "https://example.bitrix24.ru/rest/1/",
                 "hubspot": "https://api.hubapi.com"}


def _number(options: Mapping[str, Any], key: str, default: float, kind: type,
            minimum: float = 0) -> Any:
    value = options.get(key, default)
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or number < minimum:
        raise ConfigError(f"[crm] {key} = {value!r}: give a number ≥ {minimum:g}, "
                          f"e.g. {key} = {default!r}")
    return number


def read_secret(options: Mapping[str, Any], base_dir: Path, vendor: str,
                env_default: str) -> tuple[str, str]:
    """The token from ``token_env`` (default ``env_default``) or ``token_file``."""
    if "token_env" in options and "token_file" in options:
        raise ConfigError("[crm] set either token_env or token_file, not both")
    if "token_file" in options:
        path = Path(str(options["token_file"])).expanduser()
        path = path if path.is_absolute() else base_dir / path
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"[crm] token_file {path}: {exc.strerror}. Put the {vendor} "
                              "token in that file, or use token_env.") from None
        source = f"the file {path}"
    else:
        name = str(options.get("token_env", env_default))
        secret = os.environ.get(name, "").strip()
        source = f"the environment variable {name}"
        if not secret:
            raise ConfigError(f"[crm] the {vendor} token is missing: set the environment "
                              f"variable {name} (or name another one in token_env, or use "
                              "token_file).")
    if not secret:
        raise ConfigError(f"[crm] {source} is empty: put the {vendor} token in it.")
    register_secret(secret)
    return secret, source


def batch_size(options: Mapping[str, Any], maximum: int) -> int:
    size = _number(options, "batch_size", maximum, int, minimum=1)
    if size > maximum:
        raise ConfigError(f"[crm] batch_size = {size}: this CRM takes at most {maximum} "
                          "records per request.")
    return int(size)


# ---------------------------------------------------------------------------- the funnel


class _Retry(Exception):
    """An attempt that may succeed if repeated (internal to the funnel)."""

    def __init__(self, summary: str, retry_after: float | None = None) -> None:
        super().__init__(summary)
        self.summary, self.retry_after = summary, retry_after


Describe = Callable[[requests.Response], str]
#: ``accept(response)``: None when the body is what the caller expects, else what is wrong
Accept = Callable[[requests.Response], str | None]
#: ``classify(where, response)``: a vendor-specific exception for a refusal, or None
Classify = Callable[[str, requests.Response], Exception | None]


class HttpClient:
    """Paced, retried, masked HTTP for one vendor account.

    ``describe(response)`` turns a vendor error body into one line (the vendor's code and
    message); ``retryable(response)`` may widen or narrow which answers are retried;
    ``classify(where, response)`` may map a refusal to an exception of the vendor's own meaning
    (amoCRM's 403 IP block is a limit, not a token problem). ``clock`` and ``sleep`` default to
    :data:`CLOCK` and :data:`SLEEP` as they are when the client is made.
    """

    def __init__(self, vendor: str, options: HttpOptions, *, headers: Mapping[str, str],
                 describe: Describe, retryable: Callable[[requests.Response], bool] | None = None,
                 classify: Classify | None = None,
                 sleep: Callable[[float], None] | None = None,
                 clock: Callable[[], float] | None = None, margin: float = 0.05,
                 shape: str = "window") -> None:
        self.vendor, self.options = vendor, options
        self.describe = describe
        self.retryable = retryable or (lambda r: r.status_code in RETRY_STATUSES)
        self.classify = classify
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json",
                                     "User-Agent": "sheets-sync", **headers})
        self._sleep = sleep or SLEEP
        self._clock = clock or CLOCK
        self.stats: Counter[str] = Counter()
        self._window: _WindowPacer | None = None
        self._leaky: _LeakyPacer | None = None
        if options.rate is not None and shape == "bucket":
            # a bucket's headroom costs its time once (the level stays that far below the
            # top), so it can be generous: 250 ms of transit jitter
            self._leaky = _LeakyPacer(options.rate.requests,
                                      options.rate.requests / options.rate.per, margin + 0.2)
        elif options.rate is not None:
            self._window = _WindowPacer(options.rate.requests, options.rate.per,
                                        margin + 0.05 * options.rate.per)

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else \
            f"{self.options.base_url}/{path.lstrip('/')}"

    def _pace(self) -> None:
        pacer = self._leaky or self._window
        if pacer is None:
            return
        pacer.acquire(self._clock, lambda seconds: self._sleep(seconds))
        self.stats["paced"] += 1

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, expect: Iterable[int] = (), idempotent: bool = True,
                accept: Accept | None = None) -> requests.Response:
        """Send, pacing and retrying; return a 2xx answer or one whose status is in ``expect``.

        ``idempotent=False`` (creating a field) retries only answers that mean the request
        was not carried out (429, 503) and connections that were never made. ``accept`` checks
        a 2xx body: an answer it finds wrong is retried (when idempotent) and, if it stays
        wrong, raises :class:`RemoteError` naming what is wrong.
        """
        url = self.url(path)
        where = f"{self.vendor} {method} {mask(_strip_query(url))}"
        expected = set(expect)
        retry = self.options.retry
        started = self._clock()

        def attempt() -> requests.Response:
            self._pace()
            self.stats["requests"] += 1
            try:
                response = self.session.request(method, url, params=params, json=json,
                                                timeout=self.options.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                self.stats["transport_errors"] += 1
                never_sent = isinstance(exc, requests.ConnectTimeout) or \
                    "refused" in str(exc).lower()
                summary = f"{type(exc).__name__}: {mask(_short(exc))}"
                if idempotent or never_sent:
                    raise _Retry(summary) from None
                raise RemoteError(f"{where}: the connection failed ({summary}); it may or "
                                  "may not have been carried out. Run the command again."
                                  ) from TransportError(summary)
            except requests.RequestException as exc:
                raise CrmError(f"{where}: {type(exc).__name__}: {mask(_short(exc))}"
                               ) from TransportError(mask(str(exc)))
            self.stats[f"status_{response.status_code}"] += 1
            log.debug("%s -> %s (%d bytes)", where, response.status_code,
                      len(response.content))
            if 200 <= response.status_code < 300 and accept is not None:
                try:
                    problem = accept(response)
                except (AttributeError, KeyError, TypeError, ValueError) as exc:
                    problem = f"HTTP {response.status_code} with an answer of an unexpected " \
                              f"shape ({type(exc).__name__})"
                if problem is not None:
                    self.stats["malformed"] += 1
                    if idempotent:
                        raise _Retry(problem)
                    raise RemoteError(f"{where}: {problem}. It may or may not have been carried "
                                      "out; nothing else was written. Run the command again.")
            if response.status_code in expected or 200 <= response.status_code < 300:
                return response
            retryable = self.retryable(response)
            if retryable and (idempotent or response.status_code in (429, 503)):
                raise _Retry(f"HTTP {response.status_code} {self.detail(response)}",
                             _retry_after(response))
            if self.classify is not None:
                special = self.classify(where, response)
                if special is not None:
                    raise special
            raise self._error(where, response)

        def before_sleep(state: RetryCallState) -> None:
            self.stats["retries"] += 1
            exc = state.outcome.exception() if state.outcome else None
            log.warning("%s: %s; retrying in %.2f s (attempt %d of %d)", where,
                        getattr(exc, "summary", exc),
                        state.next_action.sleep if state.next_action else 0.0,
                        state.attempt_number + 1, retry.attempts)

        retrying = Retrying(
            stop=stop_after_attempt(retry.attempts) | _Budget(self._clock, started, retry.budget),
            wait=_Wait(retry), retry=retry_if_exception_type(_Retry), sleep=self._sleep,
            before_sleep=before_sleep, reraise=True)
        try:
            return retrying(attempt)
        except _Retry as exc:
            spent = self._clock() - started
            raise RemoteError(
                f"{where}: still failing after {self.stats_attempts(retrying)} attempts in "
                f"{spent:.1f} s: {exc.summary}. {self.vendor} may be down or limiting us; "
                "the sync stopped here; run again later (raise [crm] retry_budget to wait "
                "longer).") from None

    @staticmethod
    def stats_attempts(retrying: Retrying) -> int:
        return int(retrying.statistics.get("attempt_number", 0))

    def detail(self, response: requests.Response) -> str:
        """The vendor's error in one line (code and message, at most 160 characters)."""
        return mask(line(self.describe(response), 160))

    def _error(self, where: str, response: requests.Response) -> Exception:
        detail = self.detail(response)
        status = response.status_code
        if status == 401:
            return ConfigError(f"{where}: {self.vendor} refused the token (HTTP 401: {detail}). "
                               f"Check the token in {self.options.secret_source}.")
        if status == 403:
            return ConfigError(f"{where}: {self.vendor} denied access (HTTP 403: {detail}). "
                               f"Check the token's rights/scopes in "
                               f"{self.options.secret_source}.")
        if status == 404:
            return CrmError(f"{where}: not found (HTTP 404: {detail}). Check [crm] url = "
                            f"{mask(self.options.base_url)!r}.")
        return CrmError(f"{where}: HTTP {status}: {detail}")

    def close(self) -> None:
        self.session.close()


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
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry.backoff_max)
        return float(self.exponential(state))


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())  # a date is wall-clock by definition


def _strip_query(url: str) -> str:
    return url.split("?", 1)[0]


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]


def json_body(response: requests.Response) -> Any:
    """The parsed body, or None when it is empty or not JSON."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


# ---------------------------------------------------------------------------- answers

_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->|<[^>]*>", re.S | re.I)


def line(text: str, limit: int = 100) -> str:
    """``text`` on one line, HTML tags stripped, at most ``limit`` characters (then "…")."""
    text = " ".join(html.unescape(_TAGS.sub(" ", text[:20_000])).split())
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


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


class Pages:
    """Guards one paged listing: a cursor seen twice or more than ``limit`` pages is an error
    (a vendor whose paging loops would otherwise be read forever)."""

    def __init__(self, vendor: str, what: str, limit: int | None = None) -> None:
        self.vendor, self.what, self.limit = vendor, what, limit or MAX_PAGES
        self.seen: set[str] = set()

    def next(self, cursor: Any) -> None:
        key = repr(cursor)
        if key in self.seen:
            raise RemoteError(f"{self.vendor} {self.what}: the vendor sent the same next-page "
                              f"cursor twice (after {len(self.seen)} pages); its paging is "
                              "looping. Nothing was written; run again later.")
        self.seen.add(key)
        if len(self.seen) > self.limit:
            raise RemoteError(f"{self.vendor} {self.what}: more than {self.limit} pages; the "
                              "vendor's paging does not end. Nothing was written.")
