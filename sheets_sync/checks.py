"""``sheets-sync check``: config, rules, CRM and sheet, one line each, changing nothing.

A thing that is fine is one ``ok`` line; a thing that needs fixing is one ``FIX`` line per
problem found. The exit code is the one a sync would give: 2 for a configuration problem
(the config, the rules, a missing field or table), 4 when a remote service failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ExitCode, SheetsSyncError

Line = tuple[bool, str]


def run_checks(config_path: Path | None) -> tuple[list[Line], ExitCode]:
    """The lines to print (ok?, text) and the exit code."""
    from .config import load_config
    from .crm import open_crm
    from .rules import load_rules
    from .sheets import open_sheet

    lines: list[Line] = []
    codes: list[ExitCode] = []

    def fail(text: str, code: ExitCode = ExitCode.CONFIG) -> None:
        lines.append((False, text))
        codes.append(code)

    try:
        config = load_config(config_path)
        lines.append((True, f"config {config.path}"))
        from .i18n import set_language

        set_language(config.language)
    except SheetsSyncError as err:
        return [(False, str(err))], err.exit_code
    rules = None
    try:
        rules = load_rules(config.rules_path)
        lines.append((True, f"rules {config.rules_path}: {len(rules.categories)} categories "
                            f"({', '.join(rules.codes)})"))
    except SheetsSyncError as err:
        fail(str(err), err.exit_code)
    try:
        adapter = open_crm(config.crm)
        try:
            items = list(adapter.check(rules.codes if rules else []))
        finally:
            adapter.close()
        bad = [item for item in items if not item.ok]
        for item in bad:
            fail(f"CRM: {item.message}")
        if items and not bad:
            more = f"; {len(items) - 1} more checks ok (fields, where categories go)" \
                if len(items) > 1 else ""
            lines.append((True, f"CRM: {items[0].message}{more}"))
    except SheetsSyncError as err:
        fail(f"CRM: {err}", err.exit_code)
    try:
        sheet = open_sheet(config.sheet)
        grids = sheet.read([config.sheet.clients_tab])
        grid = grids[config.sheet.clients_tab]
        state = "a new tab is created at the first sync" if grid is None else \
            f"{max(len(grid) - 1, 0)} rows"
        lines.append((True, f"sheet {sheet.where}: tab {config.sheet.clients_tab!r}: {state}"))
        if rules is not None:  # listed, as a sync lists them; a sync still runs (the rules decide)
            for problem in _unknown_codes(grid, config, rules.codes):
                lines.append((False, f"sheet: tab {config.sheet.clients_tab!r}, {problem}"))
        for cid, rows in _duplicates(grid, config).items():
            fail(f"sheet: client {cid} is in rows {', '.join(str(r + 1) for r in rows)} of tab "
                 f"{config.sheet.clients_tab!r}: delete the copies (until then those rows are not "
                 "updated and their manual category is not used)", ExitCode.PARTIAL)
    except SheetsSyncError as err:
        fail(f"sheet: {err}", err.exit_code)
    if not codes:
        return lines, ExitCode.OK
    if set(codes) == {ExitCode.PARTIAL}:
        return lines, ExitCode.PARTIAL
    return lines, ExitCode.CONFIG if ExitCode.CONFIG in codes else max(codes)


def _duplicates(grid: Any, config: Any) -> dict[str, list[int]]:
    """Client ids in more than one row of the Clients tab, as a sync would find them."""
    from .layout import clients_columns, read_clients

    if not grid:
        return {}
    return read_clients(grid, clients_columns(["id", "name"], config.sheet.headers)).duplicates


def _unknown_codes(grid: Any, config: Any, codes: list[str]) -> list[Any]:
    """Manual categories in the Clients tab that are no code of the rules (row and value)."""
    from .layout import clients_columns, read_clients, unknown_codes

    if not grid:
        return []
    return unknown_codes(read_clients(grid, clients_columns(["id", "name"], config.sheet.headers)), codes)
