"""A CRM that can only export and import files: CSV (any common dialect and encoding) or XLSX.

Config keys under ``[crm]``::

    kind = "file"
    path = "export.csv"            # the CRM's export, relative to the config; .csv/.txt/.tsv/.xlsx
    output = "export.import.csv"   # optional; default: <name>.import<suffix> beside the export
    encoding = "cp1251"            # optional; detected (charset-normalizer) when not given
    delimiter = ";"                # optional; detected (csv.Sniffer) when not given
    sheet = "Clients"              # XLSX: the sheet to read (default: the first); its header
                                   # is the first row naming the id column (titles above it are kept)
    category_field = "Категория"   # the column to fill; added as the last column if missing

:meth:`FileCrm.fetch` reads the export as written (every CSV value a string). Writing
categories produces the import file: the same format, encoding (and byte-order mark), separator,
quoting, line ends and column layout as the export, with the category column filled, written
to a temporary file and renamed into place. The export itself is never modified. For XLSX the
export workbook is loaded whole and saved under the output name, so formatting survives.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ConfigError, InputError
from ..parsing import id_text
from ..tablefile import BOM, CSV_SUFFIXES, XLSX_SUFFIXES, CsvFormat, read_table
from ..tablefile import separator_name as _name
from .base import CheckItem, CrmSettings, WriteResult, check_keys

KNOWN_KEYS = {"path", "output", "encoding", "delimiter", "sheet", "category_field"}


class FileCrm:
    """The ``file`` CRM adapter (see the module docstring for its config)."""

    def __init__(self, settings: CrmSettings) -> None:
        self.settings = settings
        opts = settings.options
        check_keys(opts, KNOWN_KEYS, "file")
        if "path" not in opts:
            raise ConfigError("[crm] kind = \"file\": set path = \"export.csv\" (the CRM's "
                              "export, CSV or XLSX)")
        self.path = _resolve(opts["path"], settings.base_dir)
        self.suffix = self.path.suffix.lower()
        if self.suffix not in CSV_SUFFIXES + XLSX_SUFFIXES:
            raise ConfigError(f"[crm] path {self.path.name}: use a .csv or .xlsx export "
                              f"(got {self.suffix or 'no extension'})")
        default = self.path.with_name(f"{self.path.stem}.import{self.path.suffix}")
        self.output = _resolve(opts["output"], settings.base_dir) if "output" in opts else default
        if self.output.resolve() == self.path.resolve():
            raise ConfigError("[crm] output must differ from path: the export is never "
                              "modified in place")
        if self.output.suffix.lower() != self.suffix:
            raise ConfigError(f"[crm] output must have the export's format ({self.suffix})")
        self.encoding = str(opts["encoding"]) if "encoding" in opts else None
        if self.encoding:
            import codecs

            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ConfigError(f"[crm] encoding {self.encoding!r} is not known; use e.g. "
                                  "\"utf-8\", \"utf-8-sig\" or \"cp1251\"") from None
        delimiter = opts.get("delimiter")
        if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
            raise ConfigError("[crm] delimiter must be one character, e.g. \";\" or \"\\t\"")
        self.delimiter = delimiter
        self.sheet = str(opts["sheet"]) if "sheet" in opts else None
        self.category_field = settings.category_field
        self.format: CsvFormat | None = None
        self.header: list[str] = []
        self.rows: list[list[Any]] = []
        self.row_numbers: list[int] = []  # XLSX: the sheet row of each data row
        self.header_row = 1
        self._loaded = False

    @property
    def where(self) -> str:
        return f"export {self.path} (import file {self.output})"

    # ------------------------------------------------------------------ read
    def _load(self) -> None:
        if not self.path.is_file():
            raise InputError(f"{self.path}: the CRM export does not exist. Export the clients "
                             "from the CRM, or fix [crm] path in the config.")
        id_field = self.settings.id_field
        found = read_table(
            self.path, encoding=self.encoding, delimiter=self.delimiter, sheet=self.sheet,
            is_header=lambda values: id_field in [str(v).strip() for v in values if v is not None],
            no_header=f"no row names the id column {id_field!r}; export the clients with a header "
                      "row, or map the id in [fields] id = \"...\"",
            settings="[crm]")
        self.header, self.rows, self.row_numbers = found.header, found.rows, found.row_numbers
        self.header_row, self.format = found.header_row, found.format
        seen: set[str] = set()
        for name in self.header:
            if name in seen:
                raise InputError(f"{self.path}: the column {name!r} appears twice in the header;"
                                 " rename one of them")
            seen.add(name)
        self._loaded = True

    def fetch(self) -> pd.DataFrame:
        self.rows, self.row_numbers = [], []
        self._load()
        frame = pd.DataFrame(self.rows, columns=self.header, dtype=object)
        id_field = self.settings.id_field
        if id_field not in frame.columns:
            raise InputError(f"{self.path}: no id column {id_field!r} (columns: "
                             f"{', '.join(self.header)}). Map the id in [fields] id = \"...\".")
        frame[id_field] = [id_text(v) for v in frame[id_field].tolist()]
        if self.category_field not in frame.columns:
            frame[self.category_field] = None
        return frame

    # ------------------------------------------------------------------ write
    def write_categories(self, changes: Mapping[str, str]) -> WriteResult:
        """Write the import file: every row of the export, ``changes`` applied."""
        result = WriteResult()
        if not self._loaded:
            self.fetch()
        ids = [id_text(row[self.header.index(self.settings.id_field)]) for row in self.rows]
        position = {cid: i for i, cid in enumerate(ids)}
        for cid in changes:
            if cid in position:
                result.written.append(cid)
            else:
                result.rejected[cid] = f"no such client in the export {self.path.name}"
        if self.suffix in XLSX_SUFFIXES:
            self._write_xlsx(changes, position)
        else:
            self._write_csv(changes, ids)
        return result

    def _write_csv(self, changes: Mapping[str, str], ids: list[str]) -> None:
        assert self.format is not None
        fmt = self.format
        header = list(self.header)
        added = self.category_field not in header
        if added:
            header.append(self.category_field)
        column = header.index(self.category_field)
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, delimiter=fmt.delimiter, quoting=fmt.quoting,
                            lineterminator=fmt.lineterminator)
        writer.writerow(header)
        for cid, row in zip(ids, self.rows, strict=True):
            line = list(row) + ([""] if added else [])
            if cid in changes:
                line[column] = changes[cid]
            writer.writerow(line)
        try:
            data = buffer.getvalue().encode(fmt.encoding)
        except UnicodeEncodeError as exc:
            raise InputError(f"{self.output}: {exc.object[exc.start:exc.end]!r} cannot be "
                             f"written in {fmt.encoding}, the export's encoding") from None
        self._replace((BOM if fmt.bom else b"") + data)

    def _write_xlsx(self, changes: Mapping[str, str], position: Mapping[str, int]) -> None:
        import openpyxl

        try:
            book = openpyxl.load_workbook(self.path)
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise InputError(f"{self.path}: cannot read as .xlsx: {exc}") from exc
        ws = book[self.sheet] if self.sheet else book.worksheets[0]
        if self.category_field in self.header:
            column = self.header.index(self.category_field) + 1
        else:
            column = len(self.header) + 1
            ws.cell(row=self.header_row, column=column).value = self.category_field
        for cid, code in changes.items():
            if cid in position:
                ws.cell(row=self.row_numbers[position[cid]], column=column).value = code
        buffer = io.BytesIO()
        book.save(buffer)
        self._replace(buffer.getvalue())

    def _replace(self, data: bytes) -> None:
        tmp = self.output.with_name(self.output.name + ".tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, self.output)
        except OSError as exc:
            raise InputError(f"{self.output}: cannot write the import file: {exc.strerror}. "
                             "Fix [crm] output in the config.") from exc

    # ------------------------------------------------------------------ setup
    def ensure_category_field(self, codes: Sequence[str]) -> list[str]:
        self.fetch()
        if self.category_field in self.header:
            return [f"column {self.category_field!r} exists in {self.path.name}; categories go "
                    f"to the import file {self.output}"]
        return [f"{self.path.name} has no column {self.category_field!r}: the import file "
                f"{self.output} gets it as its last column"]

    def check(self, codes: Sequence[str]) -> list[CheckItem]:
        frame = self.fetch()
        items = [CheckItem(True, f"read {len(frame)} clients from {self.path}" + (
            f" ({self.format.encoding}{' with BOM' if self.format.bom else ''}, separator "
            f"{_name(self.format.delimiter)})" if self.format else ""))]
        for name in self.settings.fields:
            ok = name in self.header
            items.append(CheckItem(ok, f"field {name!r} " + ("exists" if ok else "is missing")))
        writable = os.access(self.output.parent, os.W_OK)
        items.append(CheckItem(writable, f"import file {self.output} " + (
            "can be written" if writable else "cannot be written: fix [crm] output")))
        return items

    def close(self) -> None:
        self.rows = []


def _resolve(value: object, base: Path) -> Path:
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() else base / p
