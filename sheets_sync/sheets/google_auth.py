"""Credentials and the HTTP transport of the Google backend.

Credentials follow gspread's conventions: a service-account key or an OAuth user token
("authorized_user" JSON), from ``[sheet] credentials = "path"``, from the environment variable
named by ``[sheet] credentials_env`` (default ``GOOGLE_APPLICATION_CREDENTIALS``), or from
gspread's default places (``~/.config/gspread/service_account.json``, then
``~/.config/gspread/authorized_user.json``). Every problem is one message naming the file and
the fix; a secret is never printed.

:class:`PacedHTTPClient` is gspread's ``HTTPClient`` whose one ``request()`` goes through the
project's HTTP funnel (:mod:`sheets_sync.http`): pacing under Google's per-user quota (60
requests a minute by default), bounded retries of 429, 408, 5xx and dropped connections with
backoff and jitter, honouring ``Retry-After`` (seconds or a date), giving up after
``retry_budget`` seconds. ``values:append`` and ``spreadsheets:batchUpdate`` are not idempotent
(a second copy appends the rows twice, adds a tab or a colour rule twice): they are repeated
only when Google refused them before doing anything (429, 503, a connection never made); a
timeout, a dropped answer or another 5xx may come after they landed, so the funnel raises
:class:`~sheets_sync.errors.UncertainWriteError` and the sync reads the sheet again to see.
(gspread 6.2's ``BackOffHTTPClient`` retries forever and does not retry a 500 with a non-JSON
body.) An answer that is an error the funnel does not repeat is
mapped by the backend's ``refuse`` (``GoogleSheet._refuse``) into the project's exceptions.

:func:`to_endpoint` points gspread and google-auth at a loopback emulator instead of Google.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from gspread.http_client import HTTPClient
from requests.adapters import HTTPAdapter

from ..errors import ConfigError
from ..http import Funnel, RatePolicy, Refuse, RetryPolicy, expect_json

SCOPES = ["https://www.googleapis.com/auth/spreadsheets", "https://www.googleapis.com/auth/drive.file"]
DEFAULT_ENV = "GOOGLE_APPLICATION_CREDENTIALS"
GSPREAD_DIR = Path("~/.config/gspread").expanduser()
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


class PacedHTTPClient(HTTPClient):
    """gspread's HTTP client over the funnel (see the module docstring); ``refuse(where,
    response)`` maps an error answer that is not worth repeating to the caller's exception."""

    def __init__(self, auth: Any, session: requests.Session | None = None, *, refuse: Refuse,
                 per_minute: int = 60, budget: float = 120.0, base_delay: float = 1.0,
                 max_delay: float = 32.0) -> None:
        super().__init__(auth, session)
        self.funnel = Funnel(
            "Google Sheets API", session=self.session,
            rate=RatePolicy(per_minute, 60.0) if per_minute > 0 else None,
            retry=RetryPolicy(attempts=None, backoff=base_delay, backoff_max=max_delay,
                              budget=budget),
            refuse=refuse, timeout=None,
            give_up="run the sync again later: it finishes what this one began (raise [sheet] "
                    "retry_budget to wait longer).",
            uncertain="The sheet is read again to see what landed.")

    def request(self, method: str, endpoint: str, params: Any = None, data: bytes | None = None,
                json: Mapping[str, Any] | None = None, files: Any = None,
                headers: Any = None) -> requests.Response:
        return self.funnel.request(method.upper(), endpoint, idempotent=_idempotent(endpoint),
                                   accept=_JSON, timeout=self.timeout, params=params, data=data,
                                   json=json, files=files, headers=headers)


def _idempotent(endpoint: str) -> bool:
    """Whether a request may be sent again after it may have been applied. ``values:append``
    appends the rows twice; ``spreadsheets:batchUpdate`` adds a tab or a colour rule twice and
    deletes rules by index (a second copy deletes rules that are no longer ours). Both are
    uncertain instead, and the sync reads the sheet again to see what landed. Writing values to
    fixed ranges (``values:batchUpdate``) and every read are safe to repeat."""
    path = urlsplit(endpoint).path
    return not (path.endswith(":append") or (path.endswith(":batchUpdate") and "/values:" not in path))


#: every answer of the Sheets API is JSON: an HTML page with status 200 (a proxy's) or a body
#: cut off is retried like a 5xx (an append's is uncertain), never handed to gspread to crash on
_JSON = expect_json(lambda body: None)
