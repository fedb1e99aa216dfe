"""Point real clients (requests, google-auth, gspread) at the emulator without patching them.

gspread builds ``https://sheets.googleapis.com/...`` and ``https://www.googleapis.com/...``
URLs at import time. :class:`RedirectAdapter` is a ``requests`` transport adapter mounted
for those hosts that rewrites each prepared request's scheme, host and port to the
emulator's base URL just before sending, so everything above the transport (gspread,
google-auth's ``AuthorizedSession``, token refresh) runs unchanged.

    session = emulator_session(server.base_url, credentials)      # an AuthorizedSession
    gc = gspread.Client(auth=credentials, session=session)

    # or, for gspread's own factories (service_account(), oauth(), ...):
    gc = gspread.service_account(filename, http_client=emulator_http_client(server.base_url))
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

GOOGLE_PREFIXES = (
    "https://sheets.googleapis.com",
    "https://www.googleapis.com",
    "https://oauth2.googleapis.com",
    "https://accounts.google.com",
)
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def check_loopback(base_url: str) -> str:
    """Return ``base_url`` without a trailing slash; refuse anything but http(s)://loopback."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or (parts.hostname or "") not in LOOPBACK_HOSTS:
        raise ValueError(f"refusing to redirect Google API traffic to a non-loopback address: {base_url!r}")
    return base_url.rstrip("/")


class RedirectAdapter(HTTPAdapter):
    """Sends requests for Google's API hosts to ``base_url`` instead (path and query kept)."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        target = urlsplit(check_loopback(base_url))
        self._scheme, self._netloc = target.scheme, target.netloc

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        request.url = urlunsplit((self._scheme, self._netloc, parts.path, parts.query, parts.fragment))
        request.headers.pop("Host", None)
        return super().send(request, *args, **kwargs)


def mount_redirect(session: requests.Session, base_url: str) -> requests.Session:
    """Mount :class:`RedirectAdapter` on ``session`` for every Google API host; returns it."""
    adapter = RedirectAdapter(base_url)
    for prefix in GOOGLE_PREFIXES:
        session.mount(prefix, adapter)
    return session


def emulator_session(base_url: str, credentials: Any = None) -> requests.Session:
    """A session whose Google traffic goes to the emulator.

    With ``credentials`` (any google-auth credentials) this is an ``AuthorizedSession``
    whose token refreshes are redirected too; without, a plain ``requests.Session``
    (use it with the emulator's accept-any-token mode).
    """
    if credentials is None:
        return mount_redirect(requests.Session(), base_url)
    from google.auth.transport.requests import AuthorizedSession, Request

    refresh_session = mount_redirect(requests.Session(), base_url)
    session = AuthorizedSession(credentials, auth_request=Request(refresh_session))
    return mount_redirect(session, base_url)


def emulator_http_client(base_url: str) -> type:
    """A ``gspread.http_client.HTTPClient`` subclass that talks to the emulator.

    Pass it as ``http_client=`` to ``gspread.Client`` or to gspread's auth helpers.
    """
    from gspread.http_client import HTTPClient

    check_loopback(base_url)

    class EmulatorHTTPClient(HTTPClient):
        def __init__(self, auth: Any, session: requests.Session | None = None) -> None:
            if session is None and auth is not None:
                session = emulator_session(base_url, auth)
                self.auth = auth
            super().__init__(auth, session)
            mount_redirect(self.session, base_url)

        def login(self) -> None:
            from google.auth.transport.requests import Request

            self.auth.refresh(Request(mount_redirect(requests.Session(), base_url)))
            self.session.headers.update({"Authorization": f"Bearer {self.auth.token}"})

    return EmulatorHTTPClient
