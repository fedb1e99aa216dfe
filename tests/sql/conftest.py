"""Databases for the SQL tests: SQLite files, and a real PostgreSQL server.

PostgreSQL comes from, in order:

1. ``SHEETS_SYNC_TEST_PG_URL`` (an admin URL, e.g. the server ``.ci/run`` starts on
   127.0.0.1), read when this file is imported, before the root conftest clears the
   ``SHEETS_SYNC_*`` variables of each test;
2. a throw-away server started once per session (``pgtemp.py``) from the PostgreSQL binaries
   on this machine: Debian's ``postgresql`` package, or those of ``pip install pgserver``;
3. else the PostgreSQL tests skip with a one-line reason (and fail in CI, see tests/conftest.py).

Each test module gets a fresh database; each test starts with an empty ``public`` schema.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

PG_ENV = "SHEETS_SYNC_TEST_PG_URL"
_ADMIN_URL = os.environ.get(PG_ENV)
PASSWORD_ENV = "CRM_TEST_DB_PASSWORD"


def _psycopg_or_skip() -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("PostgreSQL tests need the driver: pip install 'psycopg[binary]'")


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[URL]:
    """An admin URL of a running PostgreSQL server (password included, test use only)."""
    _psycopg_or_skip()
    if _ADMIN_URL:
        url = make_url(_ADMIN_URL)
        yield url.set(drivername="postgresql+psycopg")
        return
    from .pgtemp import NoServer, start_server

    try:
        server = start_server()
    except NoServer as exc:
        pytest.skip(f"no PostgreSQL server: {exc}")
    try:
        yield make_url(server.url)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def pg_database(pg_admin: URL, request: pytest.FixtureRequest) -> Iterator[URL]:
    """A fresh database for this test module (dropped afterwards)."""
    module = re.sub(r"[^a-z0-9_]", "_", request.module.__name__.rsplit(".", 1)[-1].lower())
    name = f"{module[:40]}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield pg_admin.set(database=name)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@dataclass
class Db:
    """One test database: its URL without the password, and the password apart."""

    kind: str  # "sqlite" | "postgresql"
    url: URL
    password: str | None = None
    _engine: sa.Engine | None = field(default=None, repr=False)

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = sa.create_engine(self.url.set(password=self.password))
        return self._engine

    def crm_toml(self, table: str = "companies", **extra: object) -> str:
        """The ``[crm]`` table of a config pointing at this database."""
        lines = ["[crm]", 'kind = "sql"',
                 f'url = "{self.url.render_as_string(hide_password=False)}"',
                 f'table = "{table}"']
        if self.password:
            lines.append(f'password_env = "{PASSWORD_ENV}"')
        for key, value in extra.items():
            lines.append(f"{key} = {_toml(value)}")
        return "\n".join(lines) + "\n"

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _reset_pg(url: URL, password: str | None) -> None:
    engine = sa.create_engine(url.set(password=password), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def make_db(kind: str, request: pytest.FixtureRequest, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Db:
    if kind == "sqlite":
        return Db("sqlite", URL.create("sqlite", database=str(tmp_path / "crm.sqlite")))
    url: URL = request.getfixturevalue("pg_database")
    password = url.password
    _reset_pg(url, password)
    if password:
        monkeypatch.setenv(PASSWORD_ENV, str(password))
    return Db("postgresql", url._replace(password=None), str(password) if password else None)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path,
       monkeypatch: pytest.MonkeyPatch) -> Iterator[Db]:
    """The same test on SQLite and on PostgreSQL."""
    database = make_db(request.param, request, tmp_path, monkeypatch)
    yield database
    database.dispose()


@pytest.fixture
def db_factory(request: pytest.FixtureRequest, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Db]:
    return lambda kind: make_db(kind, request, tmp_path, monkeypatch)
