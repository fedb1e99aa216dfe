"""End to end through the CLI, the same tests on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from .clients import clean_rows, companies, load, write_config
from .conftest import PASSWORD_ENV, Db


def categories(db: Db, table: str = "companies") -> dict[int, str | None]:
    with db.engine.connect() as conn:
        return dict(conn.execute(sa.text(f"SELECT id, category FROM {table}")).all())


def test_sync_writes_categories_and_in_database_agrees(cli: Callable[..., str], db: Db,
                                                       tmp_path: Path) -> None:
    load(db.engine, clean_rows(150))
    config = str(write_config(tmp_path / "cfg", db.crm_toml(batch_size=40, chunk_size=33)))
    summary = json.loads(cli("sync", "--config", config, "--json", code=None))
    written = {cid: cat for cid, cat in categories(db).items() if cat}
    qualified = 150 - len(summary["unqualified"])
    assert summary["crm"]["written"] == len(written) == qualified > 100
    assert {k: v for k, v in summary["categories"].items() if k != "unqualified"} == {
        code: list(written.values()).count(code) for code in set(written.values())}

    # the rules compiled to SQL give every client the category pandas gave
    out = cli("categorize", "--in-database", "--config", config)
    assert out.startswith("Categorized 150 clients in the database (")
    assert "; 0 categories changed in column 'category' of 'companies'." in out

    # one client blacklisted: exactly one category changes in the database
    target = next(cid for cid, cat in written.items() if cat != "EEE")
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE companies SET blacklisted = :t WHERE id = :i"),
                     {"t": True, "i": target})
    out = cli("categorize", "--in-database", "--config", config)
    assert "; 1 categories changed" in out
    assert categories(db)[target] == "EEE"
    again = cli("categorize", "--in-database", "--config", config)
    assert "; 0 categories changed" in again

    # the next sync sees the change (history, sheet) and has nothing to write to the CRM
    summary = json.loads(cli("sync", "--config", config, "--json", code=None))
    assert summary["crm"]["written"] == 0
    assert [(c["id"], c["to"]) for c in summary["changes"]] == [(str(target), "EEE")]


def test_separate_categories_table_leaves_the_client_table_alone(cli: Callable[..., str],
                                                                 db: Db, tmp_path: Path) -> None:
    load(db.engine, clean_rows(60), companies(category=False))
    config = str(write_config(tmp_path / "cfg", db.crm_toml(categories="table")))
    out = cli("check", "--config", config, code=2)
    assert "FIX   CRM: category table 'client_categories' is missing: run `sheets-sync crm setup`" in out
    out = cli("crm", "setup", "--config", config)
    assert "created table 'client_categories' (id, category, reason, changed_at); " \
           "'companies' is not altered" in out
    assert "exists" in cli("crm", "setup", "--config", config)
    summary = json.loads(cli("sync", "--config", config, "--json", code=None))
    assert summary["crm"]["written"] == 60 - len(summary["unqualified"]) > 40
    with db.engine.connect() as conn:
        names = [c["name"] for c in sa.inspect(conn).get_columns("companies")]
        rows = conn.execute(sa.text("SELECT id, category, changed_at FROM client_categories")
                            ).all()
    assert "category" not in names
    assert len(rows) == summary["crm"]["written"] and all(r.changed_at for r in rows)
    out = cli("categorize", "--in-database", "--config", config)
    assert "; 0 categories changed in table 'client_categories'." in out
    assert cli("sync", "--config", config, code=None).startswith("No changes: 60 clients")


def test_setup_adds_the_column_only_when_allowed(cli: Callable[..., str], db: Db,
                                                 tmp_path: Path) -> None:
    load(db.engine, clean_rows(20), companies(category=False))
    config = write_config(tmp_path / "cfg", db.crm_toml(allow_alter=False))
    out = cli("crm", "setup", "--config", str(config), code=4)
    assert "allow_alter = false forbids adding it" in out and 'categories = "table"' in out
    config = write_config(tmp_path / "cfg2", db.crm_toml())
    assert "added column 'category' to 'companies'" in cli("crm", "setup", "--config", str(config))
    summary = json.loads(cli("sync", "--config", str(config), "--json", code=None))
    assert summary["crm"]["written"] == sum(1 for c in categories(db).values() if c)


def test_password_never_appears(cli: Callable[..., str], db: Db, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    if db.kind == "sqlite":
        # SQLite has no password: check a refused PostgreSQL connection instead
        url = "postgresql+psycopg://sync@127.0.0.1:1/crm"  # nothing listens there
        secret = "Zq9-unguessable-pw"
        monkeypatch.setenv(PASSWORD_ENV, secret)
        toml = f'[crm]\nkind = "sql"\nurl = "{url}"\npassword_env = "{PASSWORD_ENV}"\n'
        config = str(write_config(tmp_path / "refused", toml))
        out = cli("check", "--config", config, code=4) + cli("sync", "--config", config, code=4)
        assert secret not in out and "127.0.0.1" in out
        return
    load(db.engine, clean_rows(20))
    secret = db.password or "Zq9-unused-with-trust-auth"
    monkeypatch.setenv(PASSWORD_ENV, secret)
    toml = db.crm_toml()
    if "password_env" not in toml:
        toml += f'password_env = "{PASSWORD_ENV}"\n'
    config = str(write_config(tmp_path / "cfg", toml))
    out = cli("check", "--config", config) + cli("sync", "--config", config, code=None) \
        + cli("categorize", "--in-database", "--config", config)
    out += cli("sync", "--config", config, "--json", code=None)
    assert secret not in out
    leaked = db.url.set(password=secret).render_as_string(hide_password=False)
    bad = write_config(tmp_path / "bad", f'[crm]\nkind = "sql"\nurl = "{leaked}"\n')
    out = cli("sync", "--config", str(bad), code=2)
    assert "url contains a password" in out and secret not in out


def test_in_database_checks_the_fields_as_every_command(cli: Callable[..., str], db: Db,
                                                         tmp_path: Path) -> None:
    """A [fields] key the rules do not declare is refused by `categorize --in-database` with the
    message `sync`, `export` and the reports give (sheets_sync.session.load_checked_rules)."""
    from .clients import FIELDS

    load(db.engine, clean_rows(5))
    config = str(write_config(tmp_path / "cfg", db.crm_toml(), FIELDS + 'partners = "company"\n'))
    for args in (["categorize", "--in-database"], ["sync"], ["report", "capacity", "--slots", "1"]):
        out = cli(*args, "--config", config, code=2)
        assert "[fields]: unknown column 'partners'" in out and "declare it in the rules' COLUMNS" in out
    assert set(categories(db).values()) == {None}


def test_in_database_reads_dates_in_the_configured_years(cli: Callable[..., str], db: Db,
                                                          tmp_path: Path) -> None:
    """[parsing] min_year holds for the rules compiled to SQL as for pandas: a first order in
    1995 under min_year = 2000 is a typo, its client unqualified in both (and left alone)."""
    import datetime as dt

    from .clients import FIELDS

    rows = clean_rows(20)
    rows[0]["first_order"] = dt.date(1995, 3, 1)
    load(db.engine, rows)
    config = str(write_config(tmp_path / "cfg", db.crm_toml(), "[parsing]\nmin_year = 2000\n\n" + FIELDS))
    summary = json.loads(cli("sync", "--config", config, "--json", code=None))
    first = next(u for u in summary["unqualified"] if u["id"] == str(rows[0]["id"]))
    assert "first_order" in first["problems"] and "1995" in first["problems"], first
    out = cli("categorize", "--in-database", "--config", config)
    assert "; 0 categories changed" in out, out
    assert categories(db)[rows[0]["id"]] is None
