"""``sheets-sync categorize``: categorize a one-off CSV or XLSX export."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from .categorize import UNQUALIFIED
from .errors import InputError
from .i18n import _, ngettext
from .outcome import Skipped, categorized, client_table
from .rules import RuleSet, load_rules
from .table import ParseOptions, clean_text
from .tablefile import read_table

OUTPUT_COLUMNS = ["category", "reason", "stage", "problems"]


@dataclass
class FileResult:
    output: Path
    rows: int
    counts: dict[str, int]
    renamed: list[str] = field(default_factory=list)  # input columns named like ours

    def to_text(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        text = ngettext("Categorized {n} client ({counts}) into {path}",
                        "Categorized {n} clients ({counts}) into {path}",
                        self.rows).format(n=self.rows, counts=counts, path=self.output)
        if self.renamed:
            text += "\n" + _("The input already had columns of ours, kept under new names: {columns}").format(
                columns=", ".join(self.renamed))
        return text


def read_table_file(path: Path) -> tuple[pd.DataFrame, list[int]]:
    """A CSV (any common encoding and separator) or XLSX file, every value as written (see
    :mod:`sheets_sync.tablefile`), and the file's row number of each row. The header is kept as
    written: two columns named alike stay two (a table built from them says which are the same),
    not ``revenue`` and ``revenue.1``; a blank header cell is ``Unnamed: N``."""
    if not path.exists():
        raise InputError(_("Input file {path} does not exist.").format(path=path))
    found = read_table(path)
    header = [h or f"Unnamed: {i}" for i, h in enumerate(found.header)]
    if not header:
        raise InputError(f"{path}: the file has no columns; export the clients again, with a "
                         "header row.")
    frame = pd.DataFrame(found.rows, columns=range(len(header)), dtype=object)
    frame.columns = header
    if found.format is not None:  # a CSV output keeps the input's separator
        frame.attrs["csv_sep"] = found.format.delimiter
    return frame, found.row_numbers


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
    raw, lines = read_table_file(input_path)
    table = client_table(raw, mapping, options, rules, str(input_path))
    if "id" not in table.source_columns:
        table.frame["id"] = [str(n) for n in lines]  # the row of the file
    done = categorized(table, rules, today or date.today())
    outcome = done.outcome.reindex(table.frame.index)
    for item in done.skipped:  # every input row is in the output: these say why they have no category
        outcome.loc[item.label, ["category", "reason", "stage"]] = [UNQUALIFIED, "", ""]
        outcome.loc[item.label, "problems"] = _skipped_text(item, lines)
    result, renamed = _keep_input_columns(clean_text(raw, {}))  # as the table has them
    for column in OUTPUT_COLUMNS:
        result[column] = outcome[column].astype(object).where(outcome[column].notna(), "")
    write_table_file(result, output, raw_csv=raw_csv, sep=raw.attrs.get("csv_sep"))
    counts = outcome["category"].value_counts()
    order = rules.codes + [UNQUALIFIED]
    return FileResult(output, len(result),
                      {c: int(counts[c]) for c in order if c in counts.index}, renamed)


def _skipped_text(item: Skipped, lines: list[int]) -> str:
    """Why a row of the input file got no category (``lines``: the file's row of each row)."""
    if not item.id:
        return "id: blank; give the client its CRM id"
    return f"id {item.id!r}: also in row {lines[item.first]}, which is categorized; remove one of them"


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


def write_table_file(frame: pd.DataFrame, output: Path, *, raw_csv: bool = False, sep: str | None = None) -> None:
    suffix = output.suffix.lower()
    try:
        if output.is_dir():
            raise IsADirectoryError(output)
        if suffix == ".csv":
            from .csvout import write_csv

            write_csv(frame, output, raw=raw_csv, sep=sep)
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
