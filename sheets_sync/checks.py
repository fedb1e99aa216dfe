"""``sheets-sync check``: config, rules, CRM and sheet, one line each, changing nothing."""

from __future__ import annotations

from pathlib import Path

from .errors import SheetsSyncError


def run_checks(config_path: Path | None) -> tuple[list[tuple[bool, str]], bool]:
    from .config import load_config
    from .crm import open_crm
    from .rules import load_rules
    from .sheets import open_sheet

    lines: list[tuple[bool, str]] = []
    try:
        config = load_config(config_path)
        lines.append((True, f"config {config.path}"))
    except SheetsSyncError as err:
        return [(False, str(err))], False
    rules = None
    try:
        rules = load_rules(config.rules_path)
        lines.append((True, f"rules {config.rules_path}: {len(rules.categories)} categories "
                            f"({', '.join(rules.codes)})"))
    except SheetsSyncError as err:
        lines.append((False, str(err)))
    try:
        adapter = open_crm(config.crm)
        try:
            for item in adapter.check(rules.codes if rules else []):
                lines.append((item.ok, f"CRM: {item.message}"))
        finally:
            adapter.close()
    except SheetsSyncError as err:
        lines.append((False, f"CRM: {err}"))
    try:
        sheet = open_sheet(config.sheet)
        grids = sheet.read([config.sheet.clients_tab])
        grid = grids[config.sheet.clients_tab]
        state = "a new tab is created at the first sync" if grid is None else \
            f"{max(len(grid) - 1, 0)} rows"
        lines.append((True, f"sheet {sheet.where}: tab {config.sheet.clients_tab!r}: {state}"))
    except SheetsSyncError as err:
        lines.append((False, f"sheet: {err}"))
    return lines, all(ok for ok, _ in lines)
