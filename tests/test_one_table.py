"""Every command that shows clients builds the same categorized table (sheets_sync.outcome).

The same CRM (a file CRM: a CSV export) goes through `sync`, `export`, `report capacity` and
`categorize INPUT --config` (the export itself categorized); each must give every client the
same category and reason. The export holds a repeated id (a copy with a huge profit, which would
take most of the Pareto share if it counted) and a blank id: those rows are set aside before
categorizing, everywhere. A column the rules require and the CRM lacks is the same error (exit
2, naming the column) in every command.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from sheets_sync.demo import default_rules_text

HEADER = "id,name,revenue,costs,orders_12m,first_order,last_order,overdue_days\n"
ROWS = [
    "1,Alpha,1000000,400000,6,01.01.2020,01.11.2026,0",
    "2,Beta,800000,500000,5,01.01.2021,01.10.2026,0",
    "3,Gamma,300000,250000,2,01.01.2025,01.09.2026,0",
    "4,Delta,100000,90000,1,01.06.2026,01.06.2026,0",
    "5,Epsilon,50000,60000,1,01.06.2026,01.06.2026,0",
    "6,Zeta,400000,150000,4,01.01.2024,01.11.2026,0",
]
COPY = "3,Gamma (copy),90000000,1000000,9,01.01.2020,01.11.2026,0"  # a repeated id
BLANK = ",Nobody,500000,100000,3,01.01.2022,01.11.2026,0"  # no id


def make(folder: Path, rows: list[str], header: str = HEADER) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "crm.csv").write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    (folder / "rules.py").write_text(default_rules_text(), encoding="utf-8")
    config = folder / "sheets-sync.toml"
    config.write_text('rules = "rules.py"\nstate = "state.sqlite"\n\n[crm]\nkind = "file"\n'
                      'path = "crm.csv"\ncategory_field = "category"\n\n[sheet]\n'
                      'workbook = "clients.xlsx"\n', encoding="utf-8")
    return config


def _table(path: Path, sheet: str) -> list[dict[str, str]]:
    book = openpyxl.load_workbook(path, data_only=True)
    rows = [["" if v is None else str(v) for v in r] for r in book[sheet].iter_rows(values_only=True)]
    book.close()
    head = next(i for i, r in enumerate(rows) if "id" in r and "category" in r)
    return [dict(zip(rows[head], r, strict=False)) for r in rows[head + 1:] if any(r)]


def by_id(rows: list[dict[str, str]]) -> dict[str, tuple[str, str]]:
    return {r["id"]: (r["category"], r["reason"]) for r in rows if r["id"]}


def via_sync(cli: Callable[..., str], config: Path) -> dict[str, tuple[str, str]]:
    cli("sync", "--config", str(config), code=None)
    return by_id(_table(config.parent / "clients.xlsx", "Clients"))


def via_export(cli: Callable[..., str], config: Path) -> dict[str, tuple[str, str]]:
    out = config.parent / "export.xlsx"
    cli("export", "--config", str(config), "--out", str(out))
    return by_id(_table(out, "Clients"))


def via_categorize(cli: Callable[..., str], config: Path, source: str = "crm.csv") -> list[dict[str, str]]:
    out = config.parent / "categorized.csv"
    cli("categorize", str(config.parent / source), "--out", str(out), "--config", str(config))
    with out.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def via_report(config: Path) -> dict[str, str]:
    from sheets_sync.reports import capacity_config

    plan = capacity_config(config, 100)
    return {str(r.id): str(r.category) for r in plan.keep.itertuples()}


def test_every_command_gets_the_same_table(cli: Callable[..., str], tmp_path: Path) -> None:
    clean = make(tmp_path / "clean", ROWS)
    expected = by_id(via_categorize(cli, clean))  # the same clients with no bad ids at all
    assert expected["1"][0] == "A" and expected["5"][0] == "E"  # the data means something
    config = make(tmp_path / "messy", ROWS[:3] + [COPY] + ROWS[3:] + [BLANK])

    report = via_report(config)  # before the sync: the sheet is not there yet
    assert report == {cid: cat for cid, (cat, _) in expected.items()}
    assert via_export(cli, config) == expected
    assert via_sync(cli, config) == expected
    assert via_export(cli, config) == expected  # and once the sheet exists
    assert via_report(config) == report
    rows = via_categorize(cli, config)
    assert len(rows) == len(ROWS) + 2  # every input row is in the output
    assert by_id([r for r in rows if r["name"] not in ("Gamma (copy)", "Nobody")]) == expected
    copy, blank = (next(r for r in rows if r["name"] == n) for n in ("Gamma (copy)", "Nobody"))
    assert copy["category"] == "unqualified" and "id '3': also in row 4" in copy["problems"]
    assert blank["category"] == "unqualified" and "id: blank" in blank["problems"]


def test_sync_lists_the_rows_it_set_aside(cli: Callable[..., str], tmp_path: Path) -> None:
    import json

    config = make(tmp_path, ROWS[:3] + [COPY] + ROWS[3:] + [BLANK])
    summary = json.loads(cli("sync", "--config", str(config), "--json", code=None))
    assert summary["clients"] == len(ROWS)
    skipped = [p for p in summary["sheet_problems"] if "blank or duplicate id" in p]
    assert len(skipped) == 2 and "'3' (Gamma (copy))" in skipped[0] and "'' (Nobody)" in skipped[1]


@pytest.mark.parametrize("command", ["sync", "export", "report", "categorize"])
def test_a_missing_required_column_is_one_error_everywhere(cli: Callable[..., str], tmp_path: Path,
                                                           command: str) -> None:
    header = HEADER.replace("orders_12m,", "")
    rows = [",".join(r.split(",")[:4] + r.split(",")[5:]) for r in ROWS]
    config = make(tmp_path, rows, header)
    args = {"sync": ["sync"], "export": ["export", "--out", str(tmp_path / "e.xlsx")],
            "report": ["report", "capacity", "--slots", "3"],
            "categorize": ["categorize", str(tmp_path / "crm.csv"), "--out", str(tmp_path / "o.csv")]}
    out = cli(*args[command], "--config", str(config), code=2)
    assert "orders_12m" in out and "Traceback" not in out
    assert not (tmp_path / "clients.xlsx").exists() and not (tmp_path / "e.xlsx").exists()
