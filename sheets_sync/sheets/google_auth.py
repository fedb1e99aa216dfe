"""Credentials and the HTTP transport of the Google backend.

Credentials follow gspread's conventions: a service-account key or an OAuth user token
("authorized_user" JSON), from ``[sheet] credentials = "path"``, from the environment variable
named by ``[sheet] credentials_env`` (default ``GOOGLE_APPLICATION_CREDENTIALS``), or from
gspread's default places (``~/.config/gspread/service_account.json``, then
``~/.config/gspread/authorized_user.json``). Every problem is one message naming the file and
the fix; a secret is never printed.

:class:`PacedHTTPClient` is gspread's ``HTTPClient`` with the one ``request()`` funnel replaced:
client-side pacing under Google's per-user quota (60 requests a minute by default), and bounded
retries of 429, 408, 5xx and dropped connections with exponential backoff and full jitter,
honouring ``Retry-After``, giving up after ``retry_budget`` seconds with
:class:`~sheets_sync.errors.RemoteError`. A request that is not safe to repeat (``values:append``:
a second copy appends the rows twice) is retried only when Google refused it before doing
anything (429, 503, a connection that was never made); a timeout, a dropped answer or another
5xx may come after the rows landed, so it raises
:class:`~sheets_sync.errors.UncertainWriteError` and the sync re-reads the sheet to see.
(gspread 6.2's ``BackOffHTTPClient`` retries forever
and does not retry a 500 with a non-JSON body.)
"""

from __future__ import annotations

import json
import os
import random
import stat
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient
from pyrate_limiter import Duration, InMemoryBucket, Limiter, Rate
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_before_delay

from ..errors import ConfigError, RemoteError, SheetError, UncertainWriteError

SCOPES = ["https://www.googleapis.com/auth/spreadsheets", "https://www.googleapis.com/auth/drive.file"]
DEFAULT_ENV = "GOOGLE_APPLICATION_CREDENTIALS"
GSPREAD_DIR = Path("~/.config/gspread").expanduser()
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
REFUSED_STATUSES = {429, 503}  # answers that say the request was not carried out
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@dataclass(frozen=True)
class Loaded:
    credentials: Any
    path: Path
    email: str  # the service account's e-mail, or "" for a user token


def credentials_path(options: Mapping[str, Any], base_dir: Path) -> Path:
    if "credentials" in options:
        p = Path(str(options["credentials"])).expanduser()
        return p if p.is_absolute() else base_dir / p
    env = str(options.get("credentials_env", DEFAULT_ENV))
    if os.environ.get(env):
        return Path(os.environ[env]).expanduser()
    for name in ("service_account.json", "authorized_user.json"):
        if (GSPREAD_DIR / name).is_file():
            return GSPREAD_DIR / name
    raise ConfigError(
        f"No Google credentials: set [sheet] credentials = \"service-account.json\" in the config, "
        f"or the environment variable {env}, or put a key at {GSPREAD_DIR / 'service_account.json'}.")


def load_credentials(options: Mapping[str, Any], base_dir: Path) -> Loaded:
    path = credentials_path(options, base_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"Google credentials file {path} does not exist. Download a service-account "
                          "key (Google Cloud console → IAM → Service accounts → Keys) and point "
                          "[sheet] credentials at it.") from None
    except OSError as exc:
        raise ConfigError(f"Google credentials file {path} cannot be read: {exc.strerror}.") from None
    _warn_if_readable_by_others(path)
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"Google credentials file {path} is not valid JSON (line {exc.lineno}): "
                          "download the key again.") from None
    if not isinstance(info, dict):
        raise ConfigError(f"Google credentials file {path} is not a key file (a JSON object is expected).")
    kind = info.get("type")
    if kind == "service_account":
        missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
        if missing:
            raise ConfigError(f"Google credentials file {path} lacks {', '.join(missing)}: it is not a "
                              "complete service-account key; download the key again.")
        from google.oauth2.service_account import Credentials

        try:
            creds = Credentials.from_service_account_info(info, scopes=SCOPES)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"Google credentials file {path}: the private key cannot be read "
                              f"({type(exc).__name__}); download the key again.") from None
        return Loaded(creds, path, str(info["client_email"]))
    if kind == "authorized_user":
        missing = [k for k in ("client_id", "client_secret", "refresh_token") if not info.get(k)]
        if missing:
            raise ConfigError(f"Google credentials file {path} lacks {', '.join(missing)}: run the "
                              "OAuth flow again (gspread.oauth()).")
        from google.oauth2.credentials import Credentials as UserCredentials

        return Loaded(UserCredentials.from_authorized_user_info(info, scopes=SCOPES), path, "")
    raise ConfigError(f"Google credentials file {path} has type {kind!r}; a service-account key "
                      "(\"service_account\") or an OAuth user token (\"authorized_user\") is needed.")


def _warn_if_readable_by_others(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if os.name == "posix" and mode & (stat.S_IRGRP | stat.S_IROTH):
        print(f"Warning: {path} is readable by other users; run: chmod 600 {path}", file=sys.stderr)


def check_endpoint(url: str) -> str:
    """A loopback base URL for an emulator; anything else is refused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or (parts.hostname or "") not in LOOPBACK:
        raise ConfigError(f"[sheet] endpoint = {url!r}: only a loopback address (http://127.0.0.1:PORT) is "
                          "allowed: it is meant for the local emulator.")
    return url.rstrip("/")


GOOGLE_HOSTS = ("https://sheets.googleapis.com", "https://www.googleapis.com",
                "https://oauth2.googleapis.com", "https://accounts.google.com")


class _ToEndpoint(HTTPAdapter):
    """Sends a request for one of Google's hosts to the loopback ``[sheet] endpoint`` instead
    (path and query kept), so gspread and google-auth run unchanged against an emulator."""

    def __init__(self, endpoint: str) -> None:
        super().__init__()
        target = urlsplit(check_endpoint(endpoint))
        self._scheme, self._netloc = target.scheme, target.netloc

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        request.url = urlunsplit((self._scheme, self._netloc, parts.path, parts.query, parts.fragment))
        request.headers.pop("Host", None)
        return super().send(request, *args, **kwargs)


def to_endpoint(session: requests.Session, endpoint: str) -> requests.Session:
    """Point ``session``'s Google traffic at ``endpoint`` (a loopback emulator)."""
    adapter = _ToEndpoint(endpoint)
    for host in GOOGLE_HOSTS:
        session.mount(host, adapter)
    return session


class _Retry(Exception):
    def __init__(self, summary: str, retry_after: float | None = None) -> None:
        super().__init__(summary)
        self.summary, self.retry_after = summary, retry_after


class PacedHTTPClient(HTTPClient):
    """gspread's HTTP client with pacing and bounded retries (see the module docstring)."""

    def __init__(self, auth: Any, session: requests.Session | None = None, *, per_minute: int = 60,
                 budget: float = 120.0, base_delay: float = 1.0, max_delay: float = 32.0) -> None:
        super().__init__(auth, session)
        self.budget, self.base_delay, self.max_delay = budget, base_delay, max_delay
        self.requests = 0
        self.retries = 0
        self._limiter = Limiter(InMemoryBucket([Rate(per_minute, Duration.MINUTE)]))

    def request(self, method: str, endpoint: str, params: Any = None, data: bytes | None = None,
                json: Mapping[str, Any] | None = None, files: Any = None,
                headers: Any = None) -> requests.Response:
        where = f"Google Sheets API {method.upper()} {urlsplit(endpoint).path}"
        idempotent = not urlsplit(endpoint).path.endswith(":append")

        def attempt() -> requests.Response:
            self._limiter.try_acquire("google")
            self.requests += 1
            try:
                response = self.session.request(method=method, url=endpoint, json=json, params=params,
                                                data=data, files=files, headers=headers, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if not idempotent and not isinstance(exc, requests.ConnectTimeout):
                    raise UncertainWriteError(f"{where}: {type(exc).__name__} after sending; the rows may "
                                              "have been appended, so the sheet is read again") from None
                raise _Retry(f"{type(exc).__name__}") from None
            if response.ok:
                return response
            if response.status_code in RETRY_STATUSES:
                if not idempotent and response.status_code not in REFUSED_STATUSES:
                    raise UncertainWriteError(f"{where}: HTTP {response.status_code}; the rows may have "
                                              "been appended, so the sheet is read again")
                raise _Retry(f"HTTP {response.status_code} {_message(response)}", _retry_after(response))
            raise _api_error(response)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            hint = getattr(exc, "retry_after", None)
            if hint is not None:
                return min(float(hint), self.max_delay)
            return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (state.attempt_number - 1)))

        def count(_: RetryCallState) -> None:
            self.retries += 1

        started = time.monotonic()
        retrying = Retrying(stop=stop_before_delay(self.budget), wait=wait, reraise=True,
                            retry=retry_if_exception_type(_Retry), before_sleep=count)
        try:
            return retrying(attempt)
        except _Retry as exc:
            raise RemoteError(f"{where}: still failing after {time.monotonic() - started:.1f} s "
                              f"({self.retries} retries): {exc.summary}. Google may be down or limiting us; "
                              "run the sync again later: it finishes what this one began.") from None


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _message(response: requests.Response) -> str:
    try:
        return str(response.json()["error"]["message"])[:300]
    except (ValueError, KeyError, TypeError):
        return (response.text or "").strip().splitlines()[0][:120] if response.text else ""


def _api_error(response: requests.Response) -> Exception:
    try:
        response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return SheetError(f"Google Sheets API answered HTTP {response.status_code}: {_message(response)}")
    return APIError(response)
