"""A CRM kept in a SQL database (SQLite, PostgreSQL, MySQL...), through SQLAlchemy Core.

Config keys under ``[crm]``::

    kind = "sql"                        # or "sqlite"
    path = "crm.sqlite"                 # SQLite file, relative to the config; or:
    url = "postgresql+psycopg://sync@db.local/crm"
    password_env = "CRM_DB_PASSWORD"    # or password_file = "secret.txt"; never in the url
    schema = "sales"                    # optional
    table = "companies"                 # a table or a view
    category_field = "category"         # the column written, or its name in `categories`
    categories = "column"               # or "table": a separate client_categories table
    categories_table = "client_categories"
    allow_alter = true                  # may `sheets-sync crm setup` add the column?
    chunk_size = 50000                  # rows per fetch from the server-side cursor
    batch_size = 50000                  # categories per write transaction

Reads stream through a server-side cursor in chunks: each chunk becomes one small array per
column, and the column arrays are joined once at the end, so the rows are never held twice.
Writes send only the categories that differ: per batch, one transaction loads
``{id: category}`` into a temporary table with executemany and applies it with one
``UPDATE ... FROM`` (or a delete and ``INSERT ... SELECT`` into ``client_categories``).

Table and column names come from the config; they are checked to be plain names and then
quoted by SQLAlchemy. Values are always bound parameters. The password comes from an
environment variable or a file and is masked in every message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from ..checkpoints import checkpoint
from ..errors import ConfigError, CrmError
from ..parsing import id_text
from .base import CheckItem, CrmSettings, WriteResult, check_keys

BATCH = 50_000
CHUNK = 50_000
CATEGORIES_TABLE = "client_categories"
TEMP_TABLE = "sheets_sync_pending"
KNOWN_KEYS = {"path", "url", "password_env", "password_file", "schema", "table",
              "category_field", "categories", "categories_table", "allow_alter", "batch_size",
              "chunk_size"}

#: Characters no table or column name of ours may hold: quotes, statement separators,
#: comment openers, control characters. Anything else (Cyrillic, spaces...) is quoted.
_HOSTILE = re.compile(r"[\x00-\x1f\x7f\"'`;\\\[\]]|--|/\*|\*/")
_NUMBERS = (int, float, Decimal)


def plain_name(value: object, what: str) -> str:
    """``value`` if it is a plain table or column name; a :class:`ConfigError` otherwise."""
    if not isinstance(value, str) or not value.strip() or value != value.strip() \
            or len(value) > 63 or _HOSTILE.search(value):
        raise ConfigError(
            f"{what} = {value!r} is not a plain table or column name. Use the name as the "
            "database spells it: letters, digits, spaces, '_' or '-', at most 63 characters, "
            "no quotes, ';' or comments.")
    return value


class SqlCrm:
    """The ``sql``/``sqlite`` CRM adapter (see the module docstring for its config)."""

    batch = BATCH

    def __init__(self, settings: CrmSettings) -> None:
        self.settings = settings
        opts = settings.options
        check_keys(opts, KNOWN_KEYS, settings.kind)
        self._password: str | None = None
        self.url = self._url(opts, settings.base_dir)
        self.table_name = plain_name(str(opts.get("table", "companies")), "[crm] table")
        self.schema = plain_name(opts["schema"], "[crm] schema") if "schema" in opts else None
        self.id_field = plain_name(settings.id_field, "[fields] id")
        self.category_field = plain_name(settings.category_field, "[crm] category_field")
        for name in settings.fields:
            plain_name(name, "a [fields] value")
        mode = opts.get("categories", "column")
        if mode not in ("column", "table"):
            raise ConfigError(f"[crm] categories must be \"column\" (a column of {self.table_name!r})"
                              f" or \"table\" (a separate {CATEGORIES_TABLE} table), not {mode!r}")
        self.mode = str(mode)
        self.categories_name = plain_name(str(opts.get("categories_table", CATEGORIES_TABLE)),
                                          "[crm] categories_table")
        self.allow_alter = _flag(opts.get("allow_alter", True), "allow_alter")
        self.batch = _positive(opts.get("batch_size", type(self).batch), "batch_size")
        self.chunk = _positive(opts.get("chunk_size", CHUNK), "chunk_size")
        try:
            self.engine = sa.create_engine(self.url)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
            raise ConfigError(f"[crm] url: {self.mask(str(exc))}") from None
        except ImportError as exc:
            raise ConfigError(f"[crm] url {self.url.drivername}: the database driver is not "
                              f"installed ({exc.name}). For PostgreSQL: pip install "
                              "'psycopg[binary]'.") from None
        self._table: sa.Table | None = None
        self._categories: sa.Table | None = None

    # ------------------------------------------------------------------ connection
    def _url(self, opts: Mapping[str, Any], base: Path) -> URL:
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
        except sa.exc.ArgumentError:
            raise ConfigError("[crm] url is not a database URL; write it like "
                              "postgresql+psycopg://user@host:5432/dbname") from None
        if url.password:
            raise ConfigError("[crm] url contains a password: remove it from the url and put "
                              "it in an environment variable named by password_env (or a file "
                              "named by password_file)")
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")  # psycopg 3, not psycopg2
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
        self._password = password or None
        return url.set(password=password) if password else url

    def mask(self, text: str) -> str:
        """``text`` with the password replaced by ``***`` (for every message we print)."""
        if self._password:
            text = text.replace(self._password, "***")
        return text

    @property
    def where(self) -> str:
        name = f"{self.schema}.{self.table_name}" if self.schema else self.table_name
        return f"{self.url.render_as_string(hide_password=True)} table {name!r}"

    def _fail(self, doing: str, exc: BaseException) -> CrmError:
        return CrmError(f"CRM database {self.where}: {doing}{_short(exc, self.mask)}")

    def table(self) -> sa.Table:
        """The client table (or view), reflected once."""
        if self._table is None:
            self._table = self._reflect(self.table_name, required=True)
        return self._table

    def _reflect(self, name: str, *, required: bool) -> sa.Table | None:
        try:
            return sa.Table(name, sa.MetaData(), autoload_with=self.engine, schema=self.schema)
        except sa.exc.NoSuchTableError:
            if not required:
                return None
            raise ConfigError(f"CRM database {self.where}: no such table or view. Fix [crm] "
                           "table in the config.") from None
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail("", exc) from exc

    def _column(self, name: str) -> sa.Column:
        table = self.table()
        if name not in table.c:
            known = ", ".join(table.c.keys())
            raise ConfigError(f"CRM table {self.table_name!r} has no column {name!r} (columns: "
                           f"{known}). Fix [fields] or [crm] category_field in the config, or "
                           "run `sheets-sync crm setup` for the category column.")
        return table.c[name]

    def categories_table(self, *, required: bool = True) -> sa.Table | None:
        """The separate ``client_categories`` table (``categories = "table"``)."""
        if self._categories is None:
            self._categories = self._reflect(self.categories_name, required=False)
            if self._categories is None and required:
                raise ConfigError(f"CRM database {self.where}: no table {self.categories_name!r} "
                               "for the categories. Run `sheets-sync crm setup` to create it.")
        return self._categories

    # ------------------------------------------------------------------ read
    def source(self) -> sa.Select:
        """SELECT of every client with its current category, ordered by id."""
        table = self.table()
        id_col = self._column(self.id_field)
        if self.mode == "column":
            return sa.select(table).order_by(id_col)
        if self.category_field in table.c:
            raise ConfigError(f"[crm] categories = \"table\", but {self.table_name!r} has a "
                              f"column {self.category_field!r} too: name the category "
                              "differently with category_field")
        cats = self.categories_table()
        assert cats is not None
        return (sa.select(table, cats.c.category.label(self.category_field))
                .select_from(table.outerjoin(cats, cats.c.id == id_col)).order_by(id_col))

    def fetch(self) -> pd.DataFrame:
        stmt = self.source()
        parts: dict[str, list[np.ndarray]] = {}
        try:
            with self.engine.connect() as conn:
                result = conn.execution_options(stream_results=True,
                                                yield_per=self.chunk).execute(stmt)
                names = list(result.keys())
                parts = {n: [] for n in names}
                for rows in result.partitions(self.chunk):
                    columns = list(zip(*rows, strict=True))
                    del rows
                    for name, values in zip(names, columns, strict=True):
                        parts[name].append(_array(values, numeric=name != self.id_field))
                    del columns
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail("reading clients failed: ", exc) from exc
        data: dict[str, Any] = {}
        for name in list(parts):
            chunks = parts.pop(name)
            data[name] = np.concatenate(chunks) if chunks else np.array([], dtype=object)
            del chunks
        frame = pd.DataFrame(data, copy=False)
        frame[self.id_field] = [id_text(v) for v in frame[self.id_field].tolist()]
        return frame

    # ------------------------------------------------------------------ write
    def _key(self, text: str) -> Any:
        """A client id as the key column's type wants it (``ValueError`` if it cannot be)."""
        kind = self._column(self.id_field).type
        if isinstance(kind, sa.Integer):
            return int(text)
        if isinstance(kind, sa.Numeric | sa.Float):
            return Decimal(text)
        return text

    def write_categories(self, changes: Mapping[str, str],
                         reasons: Mapping[str, str] | None = None) -> WriteResult:
        """Write ``{id: code}``; only rows whose category differs are touched."""
        result = WriteResult()
        if not changes:
            return result
        items = list(changes.items())
        for start in range(0, len(items), self.batch):
            rows, bad = [], {}
            for client_id, code in items[start:start + self.batch]:
                try:
                    key = self._key(client_id)
                except (ValueError, ArithmeticError):
                    bad[client_id] = f"{client_id!r} is not a valid id for this table"
                    continue
                rows.append({"id": key, "category": code,
                             "reason": (reasons or {}).get(client_id)})
            present = self._apply(rows) if rows else set()
            for row in rows:
                cid = id_text(row["id"])
                if cid in present:
                    result.written.append(cid)
                else:
                    result.rejected[cid] = "no such client in the CRM table any more"
            result.rejected.update(bad)
            checkpoint("crm-batch")
        return result

    def _temp(self) -> sa.Table:
        key_type = self._column(self.id_field).type
        if isinstance(key_type, sa.types.NullType):
            key_type = sa.Text()
        return sa.Table(TEMP_TABLE, sa.MetaData(), sa.Column("id", key_type, primary_key=True),
                        sa.Column("category", sa.String(32)), sa.Column("reason", sa.Text),
                        prefixes=["TEMPORARY"])

    def _load(self, conn: sa.Connection, tmp: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Rows into the temporary table: COPY on PostgreSQL (psycopg), else executemany."""
        if self.engine.dialect.driver == "psycopg":
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY {TEMP_TABLE} (id, category, reason) FROM STDIN") as copy:
                copy.write("".join(f"{_copy_text(r['id'])}\t{_copy_text(r['category'])}\t"
                                   f"{_copy_text(r['reason'])}\n" for r in rows))
            conn.execute(sa.text(f"ANALYZE {TEMP_TABLE}"))
        else:
            conn.execute(tmp.insert(), rows)

    def _apply(self, rows: list[dict[str, Any]]) -> set[str]:
        """One transaction: load ``rows`` into a temporary table, apply them in one statement,
        return the ids that exist in the client table."""
        table = self.table()
        id_col = self._column(self.id_field)
        tmp = self._temp()
        try:
            with self.engine.begin() as conn:
                tmp.drop(conn, checkfirst=True)
                tmp.create(conn)
                self._load(conn, tmp, rows)
                exists = sa.exists().where(id_col == tmp.c.id)
                present = {id_text(v) for v in conn.execute(
                    sa.select(tmp.c.id).where(exists)).scalars()}
                if self.mode == "column":
                    cat_col = self._column(self.category_field)
                    conn.execute(sa.update(table).values({cat_col.name: tmp.c.category})
                                 .where(id_col == tmp.c.id)
                                 .where(cat_col.is_distinct_from(tmp.c.category)))
                else:
                    cats = self.categories_table()
                    assert cats is not None
                    conn.execute(sa.delete(cats).where(cats.c.id.in_(sa.select(tmp.c.id))))
                    now = datetime.now().replace(microsecond=0)
                    conn.execute(sa.insert(cats).from_select(
                        ["id", "category", "reason", "changed_at"],
                        sa.select(tmp.c.id, tmp.c.category, tmp.c.reason,
                                  sa.literal(now, sa.DateTime)).where(exists)))
                tmp.drop(conn)
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail("writing categories failed: ", exc) from exc
        return present

    # ------------------------------------------------------------------ setup
    def ensure_category_field(self, codes: Sequence[str]) -> list[str]:
        table = self.table()
        name = self.category_field
        if self.mode == "table":
            if self.categories_table(required=False) is not None:
                return [f"table {self.categories_name!r} exists"]
            key_type = self._column(self.id_field).type
            if isinstance(key_type, sa.types.NullType):
                key_type = sa.Text()
            cats = sa.Table(self.categories_name, sa.MetaData(),
                            sa.Column("id", key_type, primary_key=True),
                            sa.Column("category", sa.String(32), nullable=False),
                            sa.Column("reason", sa.Text), sa.Column("changed_at", sa.DateTime),
                            schema=self.schema)
            try:
                with self.engine.begin() as conn:
                    cats.create(conn)
            except sa.exc.SQLAlchemyError as exc:
                raise self._fail(f"cannot create table {self.categories_name!r}: ", exc) from exc
            self._categories = None
            return [f"created table {self.categories_name!r} (id, category, reason, changed_at); "
                    f"{self.table_name!r} is not altered"]
        if name in table.c:
            return [f"column {name!r} exists in {self.table_name!r}"]
        if not self.allow_alter:
            raise CrmError(f"CRM table {self.table_name!r} has no column {name!r}, and "
                           "allow_alter = false forbids adding it. Add it yourself, or set "
                           "categories = \"table\" to keep categories in a separate table.")
        prep = self.engine.dialect.identifier_preparer
        target = prep.format_table(table)
        ddl = (f"ALTER TABLE {target} ADD COLUMN {prep.quote(name)} "
               f"{sa.String(32).compile(dialect=self.engine.dialect)}")
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.text(ddl))
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail(f"cannot add column {name!r}: ", exc) from exc
        self._table = None
        return [f"added column {name!r} to {self.table_name!r}"]

    def check(self, codes: Sequence[str]) -> list[CheckItem]:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.select(1))
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail("cannot connect: ", exc) from exc
        items = [CheckItem(True, f"connected to {self.where}")]
        table = self.table()
        for name in self.settings.fields:
            ok = name in table.c
            items.append(CheckItem(ok, f"field {name!r} " + ("exists" if ok else "is missing")))
        if self.mode == "table":
            ok = self.categories_table(required=False) is not None
            items.append(CheckItem(ok, f"category table {self.categories_name!r} " + (
                "exists" if ok else "is missing: run `sheets-sync crm setup`")))
        else:
            ok = self.category_field in table.c
            items.append(CheckItem(ok, f"category column {self.category_field!r} " + (
                "exists" if ok else "is missing: run `sheets-sync crm setup`")))
        return items

    def close(self) -> None:
        self.engine.dispose()


def _array(values: tuple, numeric: bool) -> np.ndarray:
    """One chunk of one column: float64 when every value is a number or NULL, else objects."""
    if numeric and all(v is None or (type(v) in _NUMBERS) for v in values) \
            and any(v is not None for v in values):
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _copy_text(value: object) -> str:
    """A value in COPY's text format (``\\N`` for NULL, special characters escaped)."""
    if value is None:
        return "\\N"
    text = str(value)
    if any(c in text for c in "\\\t\n\r"):
        text = (text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                .replace("\r", "\\r"))
    return text


def _flag(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"[crm] {key} must be true or false, not {value!r}")
    return value


def _positive(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"[crm] {key} must be a whole number above 0, not {value!r}")
    return value


def _short(exc: BaseException, mask: Any = None) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    text = text.splitlines()[0][:300] if text else type(exc).__name__
    return mask(text) if mask else text


# ---------------------------------------------------------------------- in-database categorize

class InDatabaseResult:
    """What ``categorize --in-database`` did: counts per category and rows written."""

    def __init__(self, where: str, counts: dict[str, int], written: int, target: str) -> None:
        self.where, self.counts, self.written, self.target = where, counts, written, target

    @property
    def clients(self) -> int:
        return sum(self.counts.values())

    def to_text(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return (f"Categorized {self.clients} clients in the database ({counts}); "
                f"{self.written} categories changed in {self.target}.")


def categorize_in_database(crm: SqlCrm, rules: Any, fields: Mapping[str, str],
                           as_of: Any, *, counts: bool = True,
                           years: tuple[int, int] | None = None) -> InDatabaseResult:
    """Categorize every client inside the database with one statement, writing only the
    categories that differ (unqualified clients keep what they have)."""
    from ..categorize import UNQUALIFIED
    from ..rules.sql import Unsupported, compile_rules
    from ..table import resolve_mapping

    src = crm.source().order_by(None).subquery("src")
    mapping = resolve_mapping(src.c.keys(), fields, extra=rules.columns)
    try:
        result = compile_rules(rules, src, mapping, crm.id_field, as_of, crm.engine.dialect.name,
                               *([years] if years else [])).subquery("result")
    except Unsupported as exc:
        raise CrmError(f"CRM database {crm.where}: {exc}; run `categorize` on an export "
                       "file, or `sheets-sync sync`, instead.") from None
    codes = list(rules.codes)
    id_col = crm._column(crm.id_field)
    if crm.mode == "column":
        cat_col = crm._column(crm.category_field)
        stmt: Any = (sa.update(crm.table()).values({cat_col.name: result.c.category})
                     .where(id_col == result.c.id).where(result.c.category.in_(codes))
                     .where(cat_col.is_distinct_from(result.c.category)))
        target = f"column {crm.category_field!r} of {crm.table_name!r}"
    else:
        cats = crm.categories_table()
        assert cats is not None
        if crm.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        now = datetime.now().replace(microsecond=0)
        ins = insert(cats).from_select(
            ["id", "category", "reason", "changed_at"],
            sa.select(result.c.id, result.c.category, result.c.reason,
                      sa.literal(now, sa.DateTime)).where(result.c.category.in_(codes)))
        stmt = ins.on_conflict_do_update(
            index_elements=[cats.c.id],
            set_={"category": ins.excluded.category, "reason": ins.excluded.reason,
                  "changed_at": ins.excluded.changed_at},
            where=cats.c.category.is_distinct_from(ins.excluded.category))
        target = f"table {crm.categories_name!r}"
    counted = sa.select(result.c.category, sa.func.count()).group_by(result.c.category)
    try:
        with crm.engine.begin() as conn:
            written = conn.execute(stmt).rowcount
            found = dict(tuple(r) for r in conn.execute(counted).all()) if counts else {}
    except sa.exc.SQLAlchemyError as exc:
        raise crm._fail("categorizing in the database failed: ", exc) from exc
    order = codes + [UNQUALIFIED]
    counts = {c: int(found[c]) for c in order if found.get(c)}
    return InDatabaseResult(crm.where, counts, max(int(written), 0), target)


def categorize_config_in_database(config_path: Path | None, rules_path: Path | None = None,
                                  today: Any = None) -> InDatabaseResult:
    """``sheets-sync categorize --in-database``: the config's SQL CRM, its rules, today."""
    from datetime import date

    from ..config import load_config
    from ..session import load_checked_rules
    from . import open_crm

    config = load_config(config_path)
    rules = load_checked_rules(config, rules_path)
    crm = open_crm(config.crm)
    try:
        if not isinstance(crm, SqlCrm):
            raise ConfigError(f"--in-database needs a SQL CRM ([crm] kind = \"sql\" or "
                              f"\"sqlite\"), not kind = {config.crm.kind!r}")
        if today is None:
            fixed = os.environ.get("SHEETS_SYNC_NOW")
            today = datetime.fromisoformat(fixed).date() if fixed else date.today()
        return categorize_in_database(crm, rules, config.fields, today, years=config.parsing.years)
    finally:
        crm.close()
