"""``sheets-sync categorize``: categorize a one-off CSV or XLSX export."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from .categorize import UNQUALIFIED, categorize
from .errors import InputError
from .rules import RuleSet, load_rules
from .table import ParseOptions, build_table, require_columns

OUTPUT_COLUMNS = ["category", "reason", "stage", "problems"]


@dataclass
class FileResult:
    output: Path
    rows: int
    counts: dict[str, int]

    def to_text(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return f"Categorized {self.rows} clients ({counts}) into {self.output}"


def read_table_file(path: Path) -> pd.DataFrame:
    """A CSV (any common encoding and separator) or XLSX file, every value as written."""
    if not path.is_file():
        raise InputError(f"Input file {path} does not exist.")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        try:
            return pd.read_excel(path, dtype=object, engine="openpyxl")
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise InputError(f"{path}: cannot read as .xlsx: {exc}") from exc
    if suffix not in (".csv", ".txt", ".tsv"):
        raise InputError(f"{path}: use a .csv or .xlsx file (got {suffix or 'no extension'}).")
    data = path.read_bytes()
    text = decode(data, path)
    try:
        dialect = csv.Sniffer().sniff(text[:20000], delimiters=";,\t|")
        sep = dialect.delimiter
    except csv.Error:
        sep = ","
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: cannot read as CSV with separator {sep!r}: {exc}") from exc


def decode(data: bytes, path: Path) -> str:
    """Text of a file in UTF-8 (with or without BOM), else the detected encoding (cp1251...)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise InputError(f"{path}: cannot tell the text encoding; save it as UTF-8.")
    return str(best)


def categorize_file(input_path: Path, output: Path, *, config_path: Path | None = None,
                    rules_path: Path | None = None, today: date | None = None) -> FileResult:
    mapping: dict[str, str] = {}
    options = ParseOptions()
    rules: RuleSet
    if config_path is not None:
        from .config import load_config

        config = load_config(config_path)
        mapping, options = dict(config.fields), config.parsing
        rules = load_rules(rules_path or config.rules_path)
    elif rules_path is not None:
        rules = load_rules(rules_path)
    else:
        from .demo import default_rules_text
        from .rules import parse_rules

        rules = parse_rules(default_rules_text(), "default rules")
    raw = read_table_file(input_path)
    table = build_table(raw, mapping, options, extra=rules.columns)
    require_columns(table, rules.required, raw.columns, str(input_path))
    if "id" not in table.source_columns:
        table.frame["id"] = [str(i + 2) for i in range(len(raw))]  # the spreadsheet row
    outcome = categorize(table, rules, today or date.today()).frame
    result = raw.copy()
    for column in OUTPUT_COLUMNS:
        result[column] = outcome[column].astype(object).where(outcome[column].notna(), "")
    write_table_file(result, output)
    counts = outcome["category"].value_counts()
    order = rules.codes + [UNQUALIFIED]
    return FileResult(output, len(result),
                      {c: int(counts[c]) for c in order if c in counts.index})


def write_table_file(frame: pd.DataFrame, output: Path) -> None:
    suffix = output.suffix.lower()
    try:
        if suffix == ".csv":
            frame.to_csv(output, index=False, encoding="utf-8-sig")
        elif suffix == ".xlsx":
            from .sheets.base import TabWrite, WriteBatch
            from .sheets.workbook import WorkbookSheet

            if output.exists():
                output.unlink()
            header = [str(c) for c in frame.columns]
            rows = [[None if v is None or (isinstance(v, float) and v != v) else v
                     for v in r] for r in frame.itertuples(index=False)]
            WorkbookSheet(output).write(WriteBatch([TabWrite("Clients", header, created=True,
                                                             appends=rows)]))
        else:
            raise InputError(f"{output}: the output must end in .csv or .xlsx")
    except OSError as exc:
        raise InputError(f"{output}: cannot write: {exc.strerror}") from exc
