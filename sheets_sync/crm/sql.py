"""A CRM kept in a SQL database (SQLite, PostgreSQL, MySQL...), through SQLAlchemy Core.

Config keys under ``[crm]``::

    kind = "sqlite"            # or "sql"
    path = "crm.sqlite"        # SQLite file, relative to the config; or:
    url = "postgresql+psycopg://user@host/db"
    password_env = "CRM_DB_PASSWORD"   # the password, never in the config text
    table = "companies"
    category_field = "category"

Table and column names come from the config and are quoted by SQLAlchemy; values are bound
parameters. Writes happen in one transaction per batch with ``executemany``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from ..errors import ConfigError, CrmError
from .base import CheckItem, CrmSettings, WriteResult

BATCH = 1000


class SqlCrm:
    def __init__(self, settings: CrmSettings) -> None:
        self.settings = settings
        opts = settings.options
        known = {"path", "url", "password_env", "password_file", "table", "category_field",
                 "batch_size"}
        unknown = sorted(set(opts) - known)
        if unknown:
            raise ConfigError(f"[crm] unknown key {unknown[0]!r} for kind = "
                              f"{settings.kind!r}. Known: {', '.join(sorted(known))}.")
        self.url = self._url(opts, settings.base_dir)
        self.table_name = str(opts.get("table", "companies"))
        self.batch = int(opts.get("batch_size", BATCH))
        self.engine = sa.create_engine(self.url)
        self._table: sa.Table | None = None
        self._ids: dict[str, Any] = {}

    @staticmethod
    def _url(opts: Mapping[str, Any], base: Path) -> URL:
        if "url" in opts and "path" in opts:
            raise ConfigError("[crm] set either url or path, not both")
        if "path" in opts:
            p = Path(str(opts["path"])).expanduser()
            p = p if p.is_absolute() else base / p
            return URL.create("sqlite", database=str(p))
        if "url" not in opts:
            raise ConfigError("[crm] set path = \"crm.sqlite\" or url = \"postgresql+psycopg://"
                              "user@host/db\"")
        try:
            url = make_url(str(opts["url"]))
        except sa.exc.ArgumentError as exc:
            raise ConfigError(f"[crm] url is not a database URL: {exc}") from None
        if url.password:
            raise ConfigError("[crm] url contains a password: move it to an environment "
                              "variable and name it in password_env")
        password = None
        if "password_env" in opts:
            password = os.environ.get(str(opts["password_env"]))
            if password is None:
                raise ConfigError(f"[crm] password_env: the environment variable "
                                  f"{opts['password_env']} is not set")
        elif "password_file" in opts:
            pf = Path(str(opts["password_file"])).expanduser()
            pf = pf if pf.is_absolute() else base / pf
            try:
                password = pf.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"[crm] password_file {pf}: {exc.strerror}") from None
        return url.set(password=password) if password else url

    @property
    def where(self) -> str:
        return f"{self.url.render_as_string(hide_password=True)} table {self.table_name!r}"

    def table(self) -> sa.Table:
        if self._table is None:
            try:
                self._table = sa.Table(self.table_name, sa.MetaData(), autoload_with=self.engine)
            except sa.exc.NoSuchTableError:
                raise CrmError(f"CRM database {self.where}: no such table") from None
            except sa.exc.SQLAlchemyError as exc:
                raise CrmError(f"CRM database {self.where}: {_short(exc)}") from exc
        return self._table

    def _column(self, name: str) -> sa.Column:
        table = self.table()
        if name not in table.c:
            known = ", ".join(table.c.keys())
            raise CrmError(f"CRM table {self.table_name!r} has no column {name!r} (columns: "
                           f"{known}). Fix [fields] or [crm] category_field in the config, or "
                           "run `sheets-sync crm setup` for the category column.")
        return table.c[name]

    def fetch(self) -> pd.DataFrame:
        table = self.table()
        id_col = self._column(self.settings.id_field)
        try:
            with self.engine.connect() as conn:
                result = conn.execution_options(stream_results=True).execute(
                    sa.select(table).order_by(id_col))
                frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        except sa.exc.SQLAlchemyError as exc:
            raise CrmError(f"CRM database {self.where}: {_short(exc)}") from exc
        originals = frame[self.settings.id_field].tolist()
        ids = [_id_text(v) for v in originals]
        self._ids = dict(zip(ids, originals, strict=True))
        frame[self.settings.id_field] = ids
        return frame

    def write_categories(self, changes: Mapping[str, str]) -> WriteResult:
        result = WriteResult()
        if not changes:
            return result
        id_col = self._column(self.settings.id_field)
        cat_col = self._column(self.settings.category_field)
        stmt = sa.update(self.table()).where(id_col == sa.bindparam("_id")).values(
            {cat_col.name: sa.bindparam("_category")})
        items = list(changes.items())
        for start in range(0, len(items), self.batch):
            chunk = items[start:start + self.batch]
            params = [{"_id": self._ids.get(i, i), "_category": c} for i, c in chunk]
            try:
                with self.engine.begin() as conn:
                    present = {_id_text(v) for v in conn.execute(
                        sa.select(id_col).where(id_col.in_([p["_id"] for p in params]))).scalars()}
                    params = [p for p in params if _id_text(p["_id"]) in present]
                    if params:
                        conn.execute(stmt, params)
            except sa.exc.SQLAlchemyError as exc:
                raise CrmError(f"CRM database {self.where}: writing categories failed: "
                               f"{_short(exc)}") from exc
            for client_id, _ in chunk:
                if client_id in present:
                    result.written.append(client_id)
                else:
                    result.rejected[client_id] = "no such client in the CRM table any more"
        return result

    def ensure_category_field(self, codes: Sequence[str]) -> list[str]:
        table = self.table()
        name = self.settings.category_field
        if name in table.c:
            return [f"column {name!r} exists in {self.table_name!r}"]
        try:
            with self.engine.begin() as conn:
                column = sa.Column(name, sa.String(32))
                conn.execute(sa.text(
                    f"ALTER TABLE {_quote(self.engine, self.table_name)} ADD COLUMN "
                    f"{_quote(self.engine, name)} {column.type.compile(self.engine.dialect)}"))
        except sa.exc.SQLAlchemyError as exc:
            raise CrmError(f"CRM database {self.where}: cannot add column {name!r}: "
                           f"{_short(exc)}") from exc
        self._table = None
        return [f"added column {name!r} to {self.table_name!r}"]

    def check(self, codes: Sequence[str]) -> list[CheckItem]:
        items = [CheckItem(True, f"connected to {self.where}")]
        table = self.table()
        for name in self.settings.fields:
            ok = name in table.c
            items.append(CheckItem(ok, f"field {name!r} " + ("exists" if ok else "is missing")))
        ok = self.settings.category_field in table.c
        items.append(CheckItem(ok, f"category column {self.settings.category_field!r} " + (
            "exists" if ok else "is missing: run `sheets-sync crm setup`")))
        return items

    def close(self) -> None:
        self.engine.dispose()


def _quote(engine: sa.Engine, name: str) -> str:
    return engine.dialect.identifier_preparer.quote(name)


def _id_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0][:300]
