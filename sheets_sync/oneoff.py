"""``sheets-sync categorize``: categorize a one-off CSV or XLSX export."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from .categorize import UNQUALIFIED
from .errors import InputError
from .outcome import Skipped, categorized, client_table
from .rules import RuleSet, load_rules
from .table import ParseOptions, clean_text

OUTPUT_COLUMNS = ["category", "reason", "stage", "problems"]


@dataclass
class FileResult:
    output: Path
    rows: int
    counts: dict[str, int]
    renamed: list[str] = field(default_factory=list)  # input columns named like ours

    def to_text(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        text = f"Categorized {self.rows} clients ({counts}) into {self.output}"
        if self.renamed:
            text += ("\nThe input already had columns of ours, kept under new names: "
                     + ", ".join(self.renamed))
        return text


def read_table_file(path: Path) -> pd.DataFrame:
    """A CSV (any common encoding and separator) or XLSX file, every value as written."""
    if not path.is_file():
        raise InputError(f"Input file {path} does not exist.")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        try:
            grid = pd.read_excel(path, dtype=object, engine="openpyxl", header=None)
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise InputError(f"{path}: cannot read as .xlsx: {exc}") from exc
        if grid.empty:
            raise InputError(f"{path}: the first sheet is empty; put the clients on it, with a "
                             "header row.")
        return _with_header(grid)
    if suffix not in (".csv", ".txt", ".tsv"):
        raise InputError(f"{path}: use a .csv or .xlsx file (got {suffix or 'no extension'}).")
    try:
        data = path.read_bytes()
    except OSError as exc:
        from .paths import path_error

        raise path_error(path, exc, "the input file") from exc
    text = decode(data, path)
    if not text.strip():
        raise InputError(f"{path}: the file is empty; export the clients again, with a header "
                         "row (id, name, revenue, costs, ...) and one row per client.")
    try:
        dialect = csv.Sniffer().sniff(text[:20000], delimiters=";,\t|")
        sep = dialect.delimiter
    except csv.Error:
        sep = ","
    try:
        grid = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                           header=None)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file has no columns; export the clients again, with a "
                         "header row.") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: cannot read as CSV with separator {sep!r}: {exc}") from exc
    return _with_header(grid)


def _with_header(grid: pd.DataFrame) -> pd.DataFrame:
    """The first row as the header, kept as written: two columns named alike stay two (a
    table built from them says which are the same), not ``revenue`` and ``revenue.1``."""
    header = ["" if pd.isna(h) else str(h).strip() for h in grid.iloc[0]] if len(grid) else []
    header = [h or f"Unnamed: {i}" for i, h in enumerate(header)]
    body = grid.iloc[1:].reset_index(drop=True)
    body.columns = header
    return body


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
                    rules_path: Path | None = None, today: date | None = None,
                    raw_csv: bool = False) -> FileResult:
    """Categorize ``input_path`` into ``output``. The input's own columns named like ours
    (category, reason, stage, problems) are kept, renamed ``category (input)``...; a CSV
    output is safe to open in Excel unless ``raw_csv`` (see :mod:`sheets_sync.csvout`)."""
    mapping: dict[str, str] = {}
    options = ParseOptions()
    rules: RuleSet
    if config_path is not None:
        from .config import load_config
        from .session import load_checked_rules

        config = load_config(config_path)
        mapping, options = dict(config.fields), config.parsing
        rules = load_checked_rules(config, rules_path)
    elif rules_path is not None:
        rules = load_rules(rules_path)
    else:
        from .demo import default_rules_text
        from .rules import parse_rules

        rules = parse_rules(default_rules_text(), "default rules")
    raw = read_table_file(input_path)
    table = client_table(raw, mapping, options, rules, str(input_path))
    if "id" not in table.source_columns:
        table.frame["id"] = [str(i + 2) for i in range(len(raw))]  # the spreadsheet row
    done = categorized(table, rules, today or date.today())
    outcome = done.outcome.reindex(table.frame.index)
    for item in done.skipped:  # every input row is in the output: these say why they have no category
        outcome.loc[item.label, ["category", "reason", "stage"]] = [UNQUALIFIED, "", ""]
        outcome.loc[item.label, "problems"] = _skipped_text(item, table.frame.index)
    result, renamed = _keep_input_columns(clean_text(raw, {}))  # as the table has them
    for column in OUTPUT_COLUMNS:
        result[column] = outcome[column].astype(object).where(outcome[column].notna(), "")
    write_table_file(result, output, raw_csv=raw_csv)
    counts = outcome["category"].value_counts()
    order = rules.codes + [UNQUALIFIED]
    return FileResult(output, len(result),
                      {c: int(counts[c]) for c in order if c in counts.index}, renamed)


def _skipped_text(item: Skipped, index: pd.Index) -> str:
    """Why a row of the input file got no category (rows counted as in a spreadsheet)."""
    if not item.id:
        return "id: blank; give the client its CRM id"
    row = index.get_loc(item.first) + 2
    return f"id {item.id!r}: also in row {row}, which is categorized; remove one of them"


def _keep_input_columns(raw: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The input with its own columns named like our output columns renamed, never
    overwritten: ``category`` becomes ``category (input)`` (``category (input 2)``...)."""
    from .table import header_key

    ours = {header_key(c) for c in OUTPUT_COLUMNS}
    taken = {header_key(c) for c in raw.columns}
    names, renamed = [], []
    for column in raw.columns:
        name = str(column)
        if header_key(name) in ours:
            n, new = 1, f"{name} (input)"
            while header_key(new) in taken:
                n += 1
                new = f"{name} (input {n})"
            taken.add(header_key(new))
            renamed.append(f"{name} -> {new}")
            name = new
        names.append(name)
    result = raw.copy()
    result.columns = names
    return result, renamed


def write_table_file(frame: pd.DataFrame, output: Path, *, raw_csv: bool = False) -> None:
    suffix = output.suffix.lower()
    try:
        if output.is_dir():
            raise IsADirectoryError(output)
        if suffix == ".csv":
            from .csvout import write_csv

            write_csv(frame, output, raw=raw_csv)
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
        from .paths import path_error

        raise path_error(output, exc, "the output file") from exc
