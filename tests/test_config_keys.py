"""One unknown-key check for the whole config, the CRM adapters' own [crm] keys included."""

from __future__ import annotations

from pathlib import Path

import pytest

from sheets_sync.config import load_config
from sheets_sync.crm import open_crm
from sheets_sync.errors import ConfigError

BASE = '[crm]\nkind = "sqlite"\npath = "crm.sqlite"\ntable = "companies"\n\n[sheet]\nworkbook = "c.xlsx"\n'


@pytest.mark.parametrize("extra,where,key,hint", [
    ("rulez = \"r.py\"\n", "", "rulez", "rules"),
    ("[sheet]\nclients_tabb = \"C\"\n", "[sheet] ", "clients_tabb", "clients_tab"),
    ("[parsing]\ndecimals = \",\"\n", "[parsing] ", "decimals", "decimal"),
    ("[log]\nlevels = \"info\"\n", "[log] ", "levels", "level"),
    ("[sync]\nmax_gones = 3\n", "[sync] ", "max_gones", "max_gone"),
    ("[crm]\ncategory_feld = \"x\"\n", "[crm] ", "category_feld", "category_field"),
])
def test_every_table_says_the_same(tmp_path: Path, extra: str, where: str, key: str, hint: str) -> None:
    text = extra + BASE if not extra.startswith("[") else BASE
    if extra.startswith("["):  # into the table of that name (appended, or merged into [crm]/[sheet])
        table, line = extra.split("\n", 1)
        text = text.replace(table + "\n", table + "\n" + line) if table in text else text + "\n" + extra
    config = tmp_path / "sheets-sync.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        open_crm(load_config(config).crm)
    message = str(err.value)
    assert f"{where}unknown key {key!r}" in message
    assert f"(did you mean {hint!r}?)" in message and "Known keys: " in message
    if where == "[crm] ":
        assert "for kind = 'sqlite'" in message
    else:
        assert message.startswith("sheets-sync.toml: ")
