"""The SQL adapter alone: chunked reads, batched writes of changes only, safety of names and
values. Each test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from sheets_sync.crm.base import CrmSettings
from sheets_sync.crm.sql import SqlCrm
from sheets_sync.errors import ConfigError

from .clients import FIELDS, clean_rows, companies, load, write_config
from .conftest import PASSWORD_ENV, Db

FIELD_NAMES = tuple(line.split(" = ")[1].strip('"') for line in FIELDS.splitlines()[1:])


def adapter(db: Db, tmp_path: Path, **options: object) -> SqlCrm:
    id_field = str(options.pop("id_field", "id"))
    opts: dict[str, object] = {"url": db.url.render_as_string(hide_password=False),
                               "table": "companies", **options}
    if db.password:
        opts["password_env"] = PASSWORD_ENV
    return SqlCrm(CrmSettings("sql", opts, tmp_path, id_field,
                              str(opts.get("category_field", "category")), FIELD_NAMES))


def statements(engine: sa.Engine) -> list[tuple[str, bool]]:
    """Every statement the engine runs, with whether it was an executemany."""
    seen: list[tuple[str, bool]] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        seen.append((" ".join(statement.split())[:60], executemany))

    return seen


def test_fetch_in_chunks_equals_fetch_at_once(db: Db, tmp_path: Path) -> None:
    load(db.engine, clean_rows(120))
    small, large = adapter(db, tmp_path, chunk_size=7), adapter(db, tmp_path)
    try:
        a, b = small.fetch(), large.fetch()
    finally:
        small.close(), large.close()
    assert a.shape == (120, 13) and a.equals(b)
    assert a["id"].tolist() == [str(i) for i in range(1, 121)]
    assert a["revenue_rub"].dtype == "float64"  # numbers stay numbers, not Python objects


def test_writes_only_changes_in_batches_never_row_by_row(db: Db, tmp_path: Path) -> None:
    load(db.engine, clean_rows(30))
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE companies SET category = 'D'"))
    crm = adapter(db, tmp_path, batch_size=4)
    seen = statements(crm.engine)
    changes = {str(i): "A" for i in range(1, 11)} | {"11": "D", "999": "B", "x1": "C"}
    try:
        result = crm.write_categories(changes)
    finally:
        crm.close()
    assert sorted(result.written, key=int) == [str(i) for i in range(1, 12)]
    assert set(result.rejected) == {"999", "x1"}
    assert "no such client" in result.rejected["999"] and "not a valid id" in result.rejected["x1"]
    updates = [s for s, _ in seen if s.startswith("UPDATE")]
    inserts = [many for s, many in seen if s.startswith("INSERT INTO sheets_sync_pending")]
    assert len(updates) == 3  # 13 changes, 12 valid ids, batches of 4: one UPDATE each
    assert all(inserts) or db.kind == "postgresql"  # executemany (psycopg: insertmanyvalues)
    with db.engine.connect() as conn:
        got = dict(conn.execute(sa.text("SELECT id, category FROM companies")).all())
        changed = conn.execute(sa.text("SELECT count(*) FROM companies WHERE category = 'A'")).scalar()
    assert changed == 10 and got[11] == "D" and got[12] == "D"


def test_hostile_names_in_the_config_are_errors(db: Db, tmp_path: Path,
                                                cli: Callable[..., str]) -> None:
    load(db.engine, clean_rows(15))
    for key, value in [("table", "companies; DROP TABLE companies"),
                       ("table", 'companies" --'), ("category_field", "category = 'A' --"),
                       ("categories_table", "x/*"), ("schema", "public;")]:
        with pytest.raises(ConfigError, match="is not a plain table or column name"):
            adapter(db, tmp_path, **{key: value})
    with pytest.raises(ConfigError, match=r"\[fields\] id"):
        adapter(db, tmp_path, id_field='id") OR 1=1 --')
    hostile = FIELDS.replace('revenue = "revenue_rub"', 'revenue = "x\'); DELETE FROM companies; --"')
    config = write_config(tmp_path / "cfg", db.crm_toml(), hostile)
    out = cli("sync", "--config", str(config), code=2)
    assert "is not a plain table or column name" in out
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM companies")).scalar() == 15


def test_hostile_values_are_bound_not_run(db: Db, tmp_path: Path) -> None:
    load(db.engine, clean_rows(15), companies(category=True))
    crm = adapter(db, tmp_path)
    try:
        result = crm.write_categories({"1": "A'); DROP TABLE companies; --", "2 OR 1=1": "B"})
    finally:
        crm.close()
    assert result.written == ["1"] and list(result.rejected) == ["2 OR 1=1"]
    with db.engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT id, category FROM companies")).all())
    assert len(rows) == 15 and rows[1] == "A'); DROP TABLE companies; --" and rows[2] is None


def test_names_that_need_quoting_work(db: Db, tmp_path: Path) -> None:
    table = sa.Table("Клиенты 2026", sa.MetaData(),
                     sa.Column("Код", sa.Integer, primary_key=True, autoincrement=False),
                     sa.Column("Выручка, руб", sa.Float), sa.Column("Категория", sa.Text))
    with db.engine.begin() as conn:
        table.create(conn)
        conn.execute(table.insert(), [{"Код": 1, "Выручка, руб": 10.5}, {"Код": 2, "Выручка, руб": None}])
    crm = adapter(db, tmp_path, table="Клиенты 2026", id_field="Код",
                  category_field="Категория")
    try:
        frame = crm.fetch()
        result = crm.write_categories({"1": "A", "2": "B"})
    finally:
        crm.close()
    assert frame["Код"].tolist() == ["1", "2"] and result.written == ["1", "2"]
    with db.engine.connect() as conn:
        assert dict(conn.execute(sa.select(table.c["Код"], table.c["Категория"])).all()) == \
            {1: "A", 2: "B"}


def test_a_view_can_be_read_and_categories_go_to_their_own_table(db: Db, tmp_path: Path) -> None:
    load(db.engine, clean_rows(20), companies(category=False))
    with db.engine.begin() as conn:
        conn.execute(sa.text("CREATE VIEW active AS SELECT * FROM companies WHERE id <= 15"))
    crm = adapter(db, tmp_path, table="active", categories="table")
    try:
        with pytest.raises(ConfigError, match="Run `sheets-sync crm setup`"):
            crm.fetch()
        assert "created table 'client_categories'" in crm.ensure_category_field(["A"])[0]
        assert crm.write_categories({"3": "A", "4": "B", "18": "C"}).rejected == \
            {"18": "no such client in the CRM table any more"}
        frame = crm.fetch()
    finally:
        crm.close()
    assert len(frame) == 15
    assert dict(zip(frame["id"], frame["category"], strict=True))["3"] == "A"
    assert frame["category"].isna().sum() == 13
