"""``[crm] kind = "file"``: a CRM export in, an import file out, through `sheets-sync sync`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from sheets_sync.crm.base import CrmSettings
from sheets_sync.crm.files import FileCrm
from sheets_sync.errors import InputError

from .clients import clean_rows, write_config

HEADER = ["Код", "Компания", "Выручка", "Затраты", "Заказов за 12 мес", "Первый заказ",
          "Последний заказ", "Просрочка дней", "Комментарий"]
FIELDS = """\
[fields]
id = "Код"
name = "Компания"
revenue = "Выручка"
costs = "Затраты"
orders_12m = "Заказов за 12 мес"
first_order = "Первый заказ"
last_order = "Последний заказ"
overdue_days = "Просрочка дней"
"""


def money(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}".replace(",", "\u00a0").replace(".", ",")


def export_rows(n: int = 40) -> list[list[str]]:
    rows = []
    for r in clean_rows(n):
        rows.append([str(r["id"]), r["company"], money(r["revenue_rub"]), money(r["costs_rub"]),
                     "" if r["orders_12m"] is None else str(r["orders_12m"]),
                     r["first_order"].strftime("%d.%m.%Y") if r["first_order"] else "",
                     r["last_order"].strftime("%d.%m.%Y") if r["last_order"] else "",
                     "" if r["overdue_days"] is None else str(r["overdue_days"]),
                     'звонить; "срочно"' if r["id"] % 7 == 0 else ""])
    return rows


def write_csv(path: Path, rows: list[list[str]], encoding: str, delimiter: str,
              line_end: str, header: list[str] = HEADER) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(header)
    writer.writerows(rows)
    data = buffer.getvalue().encode(encoding)
    path.write_bytes(data)
    return data


def file_config(folder: Path, export: str, **extra: str) -> Path:
    crm = f'[crm]\nkind = "file"\npath = "{export}"\ncategory_field = "Категория"\n'
    crm += "".join(f'{k} = "{v}"\n' for k, v in extra.items())
    return write_config(folder, crm, FIELDS)


@pytest.mark.parametrize("encoding,delimiter,line_end", [
    ("utf-8", ",", "\n"), ("utf-8-sig", ";", "\r\n"), ("cp1251", ";", "\r\n"),
    ("utf-8", "\t", "\n"), ("cp1251", ",", "\n")])
def test_csv_export_to_import_file(cli: Callable[..., str], tmp_path: Path, encoding: str,
                                   delimiter: str, line_end: str) -> None:
    folder = tmp_path / "crm"
    folder.mkdir()
    rows = export_rows()
    original = write_csv(folder / "export.csv", rows, encoding, delimiter, line_end)
    config = str(file_config(folder, "export.csv"))
    check = cli("check", "--config", config)
    assert f"read 40 clients from {folder / 'export.csv'}" in check
    summary = json.loads(cli("sync", "--config", config, "--json", code=None))
    assert summary["crm"]["written"] == 40 - len(summary["unqualified"]) > 25
    assert (folder / "export.csv").read_bytes() == original  # never modified
    data = (folder / "export.import.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    text = data.decode(encoding)
    assert (line_end == "\r\n") == ("\r\n" in text)
    out = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    assert out[0] == HEADER + ["Категория"]
    assert [r[:-1] for r in out[1:]] == rows  # every value as the export wrote it
    categories = {r[0]: r[-1] for r in out[1:]}
    unqualified = {u["id"] for u in summary["unqualified"]}
    assert all(bool(categories[i]) == (i not in unqualified) for i in categories)


def test_category_column_of_the_export_is_filled_in_place(cli: Callable[..., str],
                                                          tmp_path: Path) -> None:
    rows = [r[:-1] + ["D" if r[0] == "1" else ""] for r in export_rows(20)]
    header = HEADER[:-1] + ["Категория"]
    write_csv(tmp_path / "export.csv", rows, "utf-8", ";", "\n", header)
    config = str(file_config(tmp_path, "export.csv", output="to-crm.csv"))
    cli("sync", "--config", config, code=None)
    out = list(csv.reader((tmp_path / "to-crm.csv").read_text("utf-8").splitlines(),
                          delimiter=";"))
    assert out[0] == header and len(out) == 21


def test_xlsx_export_keeps_its_workbook(cli: Callable[..., str], tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Клиенты"
    ws.append(["Выгрузка из CRM"])  # a title line above the header
    ws.append(HEADER)
    for row in export_rows(30):
        ws.append([int(row[0]), *row[1:]])
    ws["A2"].font = openpyxl.styles.Font(bold=True)
    book.create_sheet("Notes")["A1"] = "keep"
    book.save(tmp_path / "export.xlsx")
    before = (tmp_path / "export.xlsx").read_bytes()
    wrong = write_config(tmp_path / "w", '[crm]\nkind = "file"\npath = "../export.xlsx"\n'
                         'sheet = "Nope"\n', FIELDS)
    assert "no sheet 'Nope' (sheets: Клиенты, Notes)" in cli("sync", "--config", str(wrong),
                                                             code=2)
    config = str(file_config(tmp_path, "export.xlsx"))
    summary = json.loads(cli("sync", "--config", config, "--json", code=None))
    assert (tmp_path / "export.xlsx").read_bytes() == before
    result = openpyxl.load_workbook(tmp_path / "export.import.xlsx")
    assert result.sheetnames == ["Клиенты", "Notes"] and result["Notes"]["A1"].value == "keep"
    sheet = result["Клиенты"]
    assert sheet["A1"].value == "Выгрузка из CRM" and sheet["A2"].font.bold
    assert sheet.cell(row=2, column=10).value == "Категория"
    filled = [sheet.cell(row=r, column=10).value for r in range(3, 33)]
    assert sum(1 for v in filled if v) == summary["crm"]["written"] > 15


@pytest.mark.parametrize("content,extra,message", [
    (b"id;name\n1;a\n2;b;c;d\n", {}, "line 3: 4 values, but the header has 2 columns (a ';' "
                                     "inside a value without quotes?)"),
    (b'id,name\n1,"abc"x\n', {}, "line 2: ',' expected after '\"'"),
    ("id;name\n1;Ромашка\n2;Вектор\n".encode("cp1251"), {"encoding": "utf-8"},
     "line 2: byte 0xd0 cannot be read as utf-8; set [crm] encoding"),
    (b"\n", {}, "the file is empty"),
])
def test_unreadable_export_names_the_line_and_the_reason(tmp_path: Path, content: bytes,
                                                         extra: dict, message: str) -> None:
    (tmp_path / "export.csv").write_bytes(content)
    crm = FileCrm(CrmSettings("file", {"path": "export.csv", **extra}, tmp_path, "id",
                              "category"))
    with pytest.raises(InputError) as err:
        crm.fetch()
    assert message in str(err.value) and str(tmp_path / "export.csv") in str(err.value)


def test_encoding_override_and_detection_agree(tmp_path: Path) -> None:
    rows = export_rows(25)
    write_csv(tmp_path / "export.csv", rows, "cp1251", ";", "\r\n")
    frames = []
    for extra in ({}, {"encoding": "cp1251", "delimiter": ";"}):
        crm = FileCrm(CrmSettings("file", {"path": "export.csv", **extra}, tmp_path, "Код",
                                  "Категория"))
        frames.append(crm.fetch())
        assert crm.format is not None and crm.format.delimiter == ";"
    assert frames[0].equals(frames[1]) and list(frames[0].columns)[:2] == ["Код", "Компания"]


def test_output_may_not_be_the_export(tmp_path: Path) -> None:
    from sheets_sync.errors import ConfigError

    with pytest.raises(ConfigError, match="never modified in place"):
        FileCrm(CrmSettings("file", {"path": "a.csv", "output": "a.csv"}, tmp_path, "id",
                            "category"))
