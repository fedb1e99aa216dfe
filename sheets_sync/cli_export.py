"""``sheets-sync export``: the client table in a copy of an Excel template, with live formulas."""

from __future__ import annotations

from pathlib import Path

import click

from .cli import Command, config_option, exit_codes, handle_errors, progress_bar
from .i18n import N_


@click.command(cls=Command, epilog=exit_codes("export"), help=N_(
    "Write the client table, as a sync would see it, into a copy of an Excel template.\n\n"
    "Nothing is written anywhere else: not the sheet, the CRM or the state. The computed columns "
    "are live formulas: live_category recomputes when an owner edits a number in the workbook, "
    "and a manual category still wins."))
@click.option("--out", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help=N_("The workbook to write (.xlsx)."))
@click.option("--template", type=click.Path(dir_okay=False, path_type=Path),
              help=N_("Your template (.xlsx); default: the built-in one."))
@config_option
@click.option("--pareto", type=click.Choice(["auto", "live", "fixed"]), default="auto", show_default=True,
              help=N_("profit_share_cum as a live formula, or as a value fixed at export "
                      "(auto: live up to 10,000 clients)."))
@handle_errors
def export(output: Path, template: Path | None, config_path: Path | None, pareto: str) -> None:
    from .excel import EXPORT_STEPS, export_current

    with progress_bar(False, "export", EXPORT_STEPS) as bar:
        result = export_current(config_path, output, template=template, pareto=pareto, progress=bar)
    click.echo(result.to_text())
