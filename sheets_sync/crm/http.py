"""What the HTTP CRM adapters (amoCRM/Kommo, Bitrix24, HubSpot) share beyond the funnel.

The requests themselves go through the one HTTP funnel, :mod:`sheets_sync.http` (pacing,
retries under a budget, ``Retry-After``, idempotency, masking, errors mapped). This module adds
what only a CRM has:

* :class:`HttpOptions`: the ``[crm]`` keys the three adapters share, read and checked, and the
  token (from ``token_env`` or ``token_file``, registered for masking);
* :class:`HttpClient`: the funnel for one CRM account: paths on its base URL, its headers, and
  its refusals in the project's terms (a refused token to
  :class:`~sheets_sync.errors.ConfigError` naming where the token comes from, a vendor's other
  refusals to :class:`~sheets_sync.errors.CrmError`, a vendor's own meaning through
  ``classify``);
* :func:`write_in_batches`: the one ``write_categories`` skeleton (reject what cannot be sent,
  send the rest in the vendor's batch size);
* :class:`Pages`: the guard of a paged listing.

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

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import requests

from ..errors import ConfigError, CrmError, RemoteError
from ..http import (  # noqa: F401 - re-exported: the adapters' (and their users') one import
    RETRY_STATUSES,
    Accept,
    Describe,
    Funnel,
    RatePolicy,
    RetryPolicy,
    expect_json,
    forget_secret,
    json_body,
    mask,
    parse_rate,
    register_secret,
    text_summary,
)
from .base import WriteResult, check_keys

#: at most this many pages in one listing: past it, the vendor's paging is looping
MAX_PAGES = 10_000
COMMON_KEYS = frozenset({"url", "token_env", "token_file", "rate_limit", "timeout",
                         "max_attempts", "backoff", "backoff_max", "retry_budget",
                         "category_field", "category_label", "batch_size"})

# ---------------------------------------------------------------------------- options


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


# ---------------------------------------------------------------------------- the client

#: ``classify(where, response)``: a vendor-specific exception for a refusal, or None
Classify = Callable[[str, requests.Response], Exception | None]


class HttpClient(Funnel):
    """The funnel for one CRM account (see the module docstring).

    ``describe(response)`` turns a vendor error body into one line (the vendor's code and
    message); ``classify(where, response)`` may map a refusal to an exception of the vendor's
    own meaning (amoCRM's 403 IP block is a limit, not a token problem); ``shape`` is
    ``"window"`` or ``"bucket"`` (the vendor's limiter, see :mod:`sheets_sync.http`).
    """

    def __init__(self, vendor: str, options: HttpOptions, *, headers: Mapping[str, str],
                 describe: Describe, classify: Classify | None = None,
                 shape: str = "window", margin: float = 0.05) -> None:
        session = requests.Session()
        session.headers.update({"Accept": "application/json", "User-Agent": "sheets-sync",
                                **headers})
        super().__init__(
            vendor, session=session, rate=options.rate, retry=options.retry,
            timeout=options.timeout, shape=shape, margin=margin, describe=describe,
            give_up="the sync stopped here; run again later (raise [crm] retry_budget to wait "
                    "longer).",
            uncertain="Run the command again: it looks at what is there before it writes.")
        self.vendor, self.options, self.classify = vendor, options, classify

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else \
            f"{self.options.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *,  # type: ignore[override]
                params: Mapping[str, Any] | None = None, json: Any = None,
                expect: Iterable[int] = (), idempotent: bool = True,
                accept: Accept | None = None) -> requests.Response:
        """One request to ``path`` on the account's base URL (or a whole URL on it).

        ``idempotent=False`` (creating a field): repeated only when the vendor did nothing (429,
        503, a connection never made); else :class:`~sheets_sync.errors.UncertainWriteError`.
        ``accept`` checks a 2xx body: an answer it finds wrong is repeated (when idempotent)
        and, if it stays wrong, fails with :class:`~sheets_sync.errors.RemoteError`.
        """
        return super().request(method, self.url(path), params=params, json=json,
                               expect=expect, idempotent=idempotent, accept=accept)

    def _refuse(self, where: str, response: requests.Response) -> Exception:
        if self.classify is not None:
            special = self.classify(where, response)
            if special is not None:
                return special
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


# ---------------------------------------------------------------------------- writing

Options = TypeVar("Options", bound=Mapping[str, Any])


def write_in_batches(changes: Mapping[str, str], options: Callable[[], Options],
                     send: Callable[[list[tuple[str, str]], Options, WriteResult], None], *,
                     size: int, record: str, option: str) -> WriteResult:
    """The ``write_categories`` of every HTTP adapter: ``{client id: code}`` in batches.

    ``options()`` gives the category field's options (``{code: the vendor's option id}``; asked
    only when there is something to write, so a missing field fails only then); an id that is
    not a number (``record``: "an amoCRM company id") or a code that is not an option of the
    field (``option``: "an option of field 'SS_CATEGORY'") is rejected and never sent; the
    rest goes to ``send(chunk, options, result)`` ``size`` at a time, which records each id as
    written or rejected.
    """
    result = WriteResult()
    if not changes:
        return result
    known = options()
    pending: list[tuple[str, str]] = []
    for client_id, code in changes.items():
        if not str(client_id).isdigit():
            result.rejected[client_id] = f"{client_id!r} is not {record}"
        elif code not in known:
            result.rejected[client_id] = f"category {code!r} is not {option}; run " \
                                         "`sheets-sync crm setup`"
        else:
            pending.append((client_id, code))
    for start in range(0, len(pending), size):
        send(pending[start:start + size], known, result)
    return result


# ---------------------------------------------------------------------------- paging


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
