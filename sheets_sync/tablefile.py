"""The one reader of CSV and XLSX files of clients: a CRM's export (``[crm] kind = "file"``) and
the one-off input of ``sheets-sync categorize``.

CSV: the encoding is UTF-8 (with or without a byte-order mark) when the bytes decode as such,
else what charset-normalizer finds most likely (cp1251 for a Russian Excel's export), unless one
is given; the separator is detected among ``; , tab |`` unless given. Every value is the text as
written (``1 234,50`` stays a string: parsing is the client table's job). Blank lines are
skipped; the header is the first line that is not blank; a line with more values than the
header is refused, naming its line (a separator inside a value without quotes). :class:`CsvFormat`
records how the file was written, so a file written back can be written the same way.

XLSX: the first sheet (or the one named); the header is the first row ``is_header`` accepts
(default: the first row with a value), so titles above it are kept out; values as the cells
hold them (numbers, dates, text).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError
from .i18n import _

CSV_SUFFIXES = (".csv", ".txt", ".tsv")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
BOM = b"\xef\xbb\xbf"
SEPARATORS = ";,\t|"


@dataclass(frozen=True)
class CsvFormat:
    """How a CSV file is written, so a file written back is written the same way."""

    encoding: str
    bom: bool
    delimiter: str
    quoting: int
    lineterminator: str


@dataclass
class TableFile:
    """A file's header and data rows (blank rows left out), each with its line or sheet row."""

    header: list[str]
    rows: list[list[Any]]
    row_numbers: list[int] = field(default_factory=list)
    header_row: int = 1
    format: CsvFormat | None = None  # CSV only


def detect_encoding(data: bytes) -> tuple[str, bool]:
    """(encoding, has a UTF-8 byte-order mark): UTF-8 when it decodes as such, else what
    charset-normalizer finds most likely; ``InputError`` when it finds nothing."""
    if data.startswith(BOM):
        return "utf-8", True
    try:
        data.decode("utf-8")
        return "utf-8", False
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise InputError("cannot tell the text encoding")
    return best.encoding, False


def detect_format(text: str, delimiter: str | None = None) -> tuple[str, int, str]:
    """(delimiter, quoting, line terminator) of CSV ``text``."""
    sample = text[:65536]
    line_end = "\r\n" if "\r\n" in sample else "\r" if "\r" in sample and "\n" not in sample \
        else "\n"
    lines = [line for line in sample.split(line_end) if line.strip()]
    first = lines[0] if lines else ""
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=SEPARATORS).delimiter
        except csv.Error:
            delimiter = max(SEPARATORS, key=first.count) if any(c in first for c in SEPARATORS) \
                else ","
    fields = first.split(delimiter) if first else []
    quoting = csv.QUOTE_ALL if fields and all(
        f.startswith('"') and f.endswith('"') and len(f) > 1 for f in fields) \
        else csv.QUOTE_MINIMAL
    return delimiter, quoting, line_end


def separator_name(delimiter: str) -> str:
    return {"\t": "tab", ";": "';'", ",": "','", "|": "'|'"}.get(delimiter, repr(delimiter))


def read_table(path: Path, *, encoding: str | None = None, delimiter: str | None = None,
               sheet: str | None = None, is_header: Callable[[Sequence[Any]], bool] | None = None,
               no_header: str = "", settings: str = "") -> TableFile:
    """Read ``path`` (.csv/.txt/.tsv or .xlsx/.xlsm; see the module docstring). Every problem is
    an :class:`~sheets_sync.errors.InputError` naming the file, and the line where there is one;
    ``settings`` is the config table whose ``encoding``/``sheet`` keys fix one (``[crm]``),
    ``no_header`` what to say when no row of an XLSX sheet passes ``is_header``."""
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return _read_xlsx(path, sheet, is_header, no_header, settings)
    if suffix not in CSV_SUFFIXES:
        raise InputError(f"{path}: use a .csv or .xlsx file (got {suffix or 'no extension'}).")
    try:
        data = path.read_bytes()
    except OSError as exc:
        from .paths import path_error

        raise path_error(path, exc, "the input file") from exc
    return read_csv_bytes(data, path, encoding=encoding, delimiter=delimiter, settings=settings)


def read_csv_bytes(data: bytes, path: Path, *, encoding: str | None = None,
                   delimiter: str | None = None, settings: str = "") -> TableFile:
    """The CSV ``data`` of the file ``path`` (named in messages)."""
    fix = (f"set {settings} encoding to the file's encoding (e.g. \"cp1251\"), or save it as UTF-8"
           if settings else "save it as UTF-8")
    if encoding:
        bom = data.startswith(BOM)
        if bom and encoding.replace("_", "-").lower() in ("utf-8", "utf8"):
            encoding = "utf-8"
    else:
        try:
            encoding, bom = detect_encoding(data)
        except InputError as exc:
            raise InputError(f"{path}: {exc}; {fix}.") from None
    body = data[len(BOM):] if bom else data
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        line = body[:exc.start].count(b"\n") + 1
        raise InputError(f"{path}: line {line}: byte 0x{body[exc.start]:02x} cannot be read as "
                         f"{encoding}; {fix}.") from None
    if not text.strip():
        raise InputError(f"{path}: the file is empty; export the clients again, with a header "
                         "row (id, name, revenue, costs, ...) and one row per client.")
    delimiter, quoting, line_end = detect_format(text, delimiter)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    out = TableFile([], [], format=CsvFormat(encoding, bom, delimiter, quoting, line_end))
    header: list[str] | None = None
    try:
        for row in reader:
            if not any(v.strip() for v in row):
                continue
            if header is None:
                header, out.header_row = row, reader.line_num
                continue
            if len(row) > len(header):
                raise InputError(
                    f"{path}: line {reader.line_num}: {len(row)} values, but the header has "
                    f"{len(header)} columns (a {separator_name(delimiter)} inside a value without "
                    "quotes?)")
            out.rows.append(row + [""] * (len(header) - len(row)))
            out.row_numbers.append(reader.line_num)
    except csv.Error as exc:
        raise InputError(f"{path}: line {reader.line_num}: {exc}") from None
    out.header = [h.strip() for h in header or []]
    return out


def _read_xlsx(path: Path, sheet: str | None, is_header: Callable[[Sequence[Any]], bool] | None,
               no_header: str, settings: str) -> TableFile:
    import openpyxl

    if not path.is_file():
        raise InputError(_("Input file {path} does not exist.").format(path=path))
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise InputError(f"{path}: cannot read as .xlsx: {exc}") from exc
    out = TableFile([], [])
    header: list[str] | None = None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InputError(f"{path}: no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})"
                             + (f"; fix {settings} sheet" if settings else ""))
        ws = book[sheet] if sheet else book.worksheets[0]
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            filled = any(v is not None and str(v).strip() for v in values)
            if header is None:
                if filled and (is_header is None or is_header(values)):
                    header = ["" if v is None else str(v).strip() for v in values]
                    while header and not header[-1]:
                        header.pop()
                    out.header_row = number
                continue
            if filled:
                row = list(values[:len(header)]) + [None] * (len(header) - len(values))
                if any(v is not None and str(v).strip() for v in row):
                    out.rows.append(row)
                    out.row_numbers.append(number)
    finally:
        book.close()
    if header is None:
        raise InputError(f"{path}: " + (no_header or f"the {'sheet ' + repr(sheet) if sheet else 'first sheet'} "
                                        "is empty; put the clients on it, with a header row."))
    out.header = header
    return out
