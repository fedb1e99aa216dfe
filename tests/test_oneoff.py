"""`sheets-sync categorize` on one-off exports: encodings, separators, Russian headers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

RU_CSV = (
    "Код;Компания;Выручка;Затраты;Заказы;Первый заказ;Последний заказ;Просрочка;Регион\n"
    "1;ООО «Ромашка»;1 234 567,89 руб.;400 000;6;01.02.2020;01.11.2026;0;Москва\n"
    "2;ИП Петров;н/д;10 000;1;01.10.2026;01.10.2026;0;Тверь\n"
    "3;АО «Вектор»;500 000;600 000;2;01.01.2025;01.06.2026;120;Казань\n"
)


@pytest.mark.parametrize(("encoding", "bom"), [("utf-8", False), ("utf-8", True), ("cp1251", False)])
def test_russian_csv_any_encoding(cli: Callable[..., str], tmp_path: Path, encoding: str, bom: bool) -> None:
    src = tmp_path / "export.csv"
    data = RU_CSV.encode(encoding)
    src.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    out = tmp_path / "out.csv"
    text = cli("categorize", str(src), "--out", str(out), "--today", "2026-11-23")
    assert "Categorized 3 clients" in text
    result = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig", sep=";")  # as the input
    assert list(result.columns) == ["Код", "Компания", "Выручка", "Затраты", "Заказы", "Первый заказ",
                                    "Последний заказ", "Просрочка", "Регион", "category", "reason", "stage",
                                    "problems"]
    assert result["Регион"].tolist() == ["Москва", "Тверь", "Казань"]  # extra columns ride along
    assert result["category"].tolist() == ["A", "unqualified", "EE"]
    assert result["problems"][1] == "revenue: empty (required)"
    assert result["reason"][0].startswith("A: ROI 208.64% ≥ 50%")


def test_xlsx_with_mapping_from_config(cli: Callable[..., str], tmp_path: Path) -> None:
    src = tmp_path / "export.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Client No", "Title", "Sales USD", "Spend USD", "Orders", "Overdue"])
    ws.append([10, "Acme", 300000, 100000, 3, 0])
    ws.append([11, "Globex", "1,000.50", "n/a", 1, 0])
    wb.save(src)
    config = tmp_path / "sheets-sync.toml"
    config.write_text('[crm]\nkind = "sqlite"\npath = "x.sqlite"\n[fields]\nid = "Client No"\nname = "Title"\n'
                      'revenue = "Sales USD"\ncosts = "Spend USD"\norders_12m = "Orders"\noverdue_days = "Overdue"\n'
                      '[parsing]\ndecimal = "."\n')
    (tmp_path / "rules.py").write_text((Path(__file__).parent.parent / "rules.py").read_text())
    out = tmp_path / "out.xlsx"
    cli("categorize", str(src), "--out", str(out), "--config", str(config))
    rows = list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))
    assert rows[0][-4:] == ("category", "reason", "stage", "problems")
    assert rows[1][-4] == "A"
    assert rows[2][-4] == "unqualified" and rows[2][-1] == "costs: empty (required)"


def test_unreadable_input_is_a_clear_error(cli: Callable[..., str], tmp_path: Path) -> None:
    bad = tmp_path / "x.xlsx"
    bad.write_text("not a zip")
    out = cli("categorize", str(bad), "--out", str(tmp_path / "o.csv"), code=2)
    assert "cannot read as .xlsx" in out
    out = cli("categorize", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o.csv"), code=2)
    assert "does not exist" in out
    good = tmp_path / "in.csv"
    good.write_text("id,revenue,costs,orders_12m\n1,10,5,1\n")
    out = cli("categorize", str(good), "--out", str(tmp_path / "o.json"), code=2)
    assert "must end in .csv or .xlsx" in out


def test_a_required_column_missing_is_one_clear_error(cli: Callable[..., str], tmp_path: Path) -> None:
    src = tmp_path / "export.csv"
    src.write_text("id;Название;Выручка;Расходы по клиенту;Заказы\n1;Acme;100;50;2\n", encoding="utf-8")
    out = cli("categorize", str(src), "--out", str(tmp_path / "o.csv"), code=2)
    assert "no column for 'costs'" in out and "map it in sheets-sync.toml [fields]" in out
    assert "Расходы по клиенту" in out  # the columns found are listed
