"""``sheets-sync report review`` and ``sheets-sync report capacity``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .cli import Group, _day, config_option, exit_codes, handle_errors
from .i18n import N_, _


@click.group(cls=Group, epilog=exit_codes("report"), help=N_(
    "Reports for the owner: the quarterly review, capacity. They change nothing."))
def report() -> None:
    """The ``report`` group."""


@report.command("review", epilog=exit_codes("report review"), help=N_(
    "Who moved where and why, categories nobody reviewed for 90+ days, new clients still "
    "unqualified, and the loyalty ladder with the strategy for each stage."))
@config_option
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%d.%m.%Y"]), callback=_day,
              help=N_("Start of the period, 2026-08-01 or 01.08.2026 (default: 3 months ago)."))
@click.option("--out", "output", type=click.Path(dir_okay=False, path_type=Path),
              help=N_("Also write the review to a .csv, .xlsx or .md file, with PNG charts beside it."))
@click.option("--raw-csv", is_flag=True,
              help=N_("Write a CSV as is: no quote before text starting with = + - @."))
@handle_errors
def review_command(config_path: Path | None, since: Any, output: Path | None,
                   raw_csv: bool) -> None:
    from .reports import review_config

    rev, written = review_config(config_path, since.date() if since else None, output, raw_csv=raw_csv)
    click.echo(rev.to_text())
    for path in written:
        click.echo(_("wrote {path}").format(path=path))


@report.command("capacity", epilog=exit_codes("report capacity"), help=N_(
    "Which clients to keep when capacity is short (\"10 clients, capacity for 6\"): in category "
    "order, then by profit ratio; with the revenue and profit kept and given up."))
@config_option
@click.option("--slots", type=click.IntRange(0), required=True,
              help=N_("How many clients the business can serve."))
@click.option("--out", "output", type=click.Path(dir_okay=False, path_type=Path),
              help=N_("Also write the whole list to a .csv, .xlsx or .md file."))
@click.option("--raw-csv", is_flag=True,
              help=N_("Write a CSV as is: no quote before text starting with = + - @."))
@handle_errors
def capacity_command(config_path: Path | None, slots: int, output: Path | None, raw_csv: bool) -> None:
    from .reports import capacity_config

    click.echo(capacity_config(config_path, slots, output, raw_csv=raw_csv).to_text())
    if output:
        click.echo(_("wrote {path}").format(path=output))
