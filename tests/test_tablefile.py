"""One reader for CSV/XLSX client files (sheets_sync.tablefile): a file CRM's export and the
input of `sheets-sync categorize` are read alike, with the same messages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from sheets_sync.crm.base import CrmSettings
from sheets_sync.crm.files import FileCrm
from sheets_sync.errors import InputError
from sheets_sync.oneoff import read_table_file

HEADER = ["Код", "Компания", "Выручка", "Затраты", "Заказов за 12 мес"]
ROWS = [["1", "ООО «Ромашка»", "1 234 567,89", "234 567,10", "5"],
        ["2", "ИП Вектор; филиал", "98 000,50", "(1 200)", "1"],
        ["3", "Альфа", "", "n/a", "2"]]


def _csv(rows: list[list[str]], delimiter: str, line_end: str = "\r\n") -> str:
    def cell(v: str) -> str:
        return f'"{v}"' if delimiter in v or "," in v and delimiter == "," else v
    return "".join(delimiter.join(cell(v) for v in row) + line_end for row in rows)


@pytest.mark.parametrize("encoding,bom,delimiter,lead", [
    ("cp1251", b"", ";", ""), ("utf-8", b"\xef\xbb\xbf", "\t", ""), ("utf-8", b"", ",", ""),
    ("cp1251", b"", ";", "\r\n"),  # a blank line before the header
])
def test_crm_export_and_categorize_input_are_read_alike(tmp_path: Path, encoding: str, bom: bytes,
                                                        delimiter: str, lead: str) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(bom + (lead + _csv([HEADER, *ROWS], delimiter)).encode(encoding))
    crm = FileCrm(CrmSettings("file", {"path": "export.csv"}, tmp_path, "Код", "Категория"))
    from_crm = crm.fetch().drop(columns=["Категория"])
    one_off, lines = read_table_file(path)
    assert from_crm.to_numpy().tolist() == one_off.to_numpy().tolist()
    assert list(from_crm.columns) == list(one_off.columns)
    assert list(one_off.columns) == HEADER and one_off.iloc[1].tolist() == ROWS[1]
    assert lines == [n + (2 if lead else 1) for n in (1, 2, 3)]
    assert crm.format is not None and crm.format.delimiter == delimiter and crm.format.bom == bool(bom)


def test_categorize_reads_a_russian_export(cli: Callable[..., str], tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(_csv([HEADER, *ROWS], ";").encode("cp1251"))
    out = tmp_path / "out.csv"
    cli("categorize", str(path), "--out", str(out))
    text = out.read_text(encoding="utf-8-sig")
    assert "ООО «Ромашка»" in text and "1 234 567,89" in text
    assert "costs 'n/a'" not in text.split("\n")[1]  # client 1 is read
    assert "revenue: empty (required)" in text  # client 3: said, with the column


@pytest.mark.parametrize("content,message", [
    (b"id;name\n1;a\n2;b;c;d\n",
     "line 3: 4 values, but the header has 2 columns (a ';' inside a value without quotes?)"),
    (b'id,name\n1,"abc"x\n', "line 2: ',' expected after '\"'"),
    (b"\n \n", "the file is empty"),
])
def test_the_same_message_from_either_path(cli: Callable[..., str], tmp_path: Path, content: bytes,
                                           message: str) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    crm = FileCrm(CrmSettings("file", {"path": "export.csv"}, tmp_path, "id", "category"))
    with pytest.raises(InputError) as err:
        crm.fetch()
    assert message in str(err.value)
    out = cli("categorize", str(path), "--out", str(tmp_path / "o.csv"), code=2)
    assert message in out and str(path) in out


def test_xlsx_titles_above_the_header(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["Выгрузка из CRM"])
    ws.append(HEADER)
    for row in ROWS:
        ws.append(row)
    ws.append([])
    ws.append(["4", "Бета", 1000.5, 10, 1])
    book.save(tmp_path / "export.xlsx")
    crm = FileCrm(CrmSettings("file", {"path": "export.xlsx"}, tmp_path, "Код", "Категория"))
    frame = crm.fetch()
    assert list(frame["Код"]) == ["1", "2", "3", "4"] and crm.header_row == 2
    assert crm.row_numbers == [3, 4, 5, 7] and frame["Выручка"].tolist()[-1] == 1000.5
