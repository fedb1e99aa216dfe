"""The ``sheets-sync`` command: a thin layer over the library.

Each command parses options, calls one library function, and turns a
:class:`~sheets_sync.errors.SheetsSyncError` into one message and an exit code.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .errors import EXIT_MEANINGS, ExitCode, SheetsSyncError

F = TypeVar("F", bound=Callable[..., Any])

#: Which exit codes each command can return; ``--help`` lists exactly these (meanings from
#: :data:`~sheets_sync.errors.EXIT_MEANINGS`). Only ``sync`` takes the lock (3); only a sync
#: reports partial results (1), the demo included, since it runs one.
COMMAND_EXITS: dict[str, tuple[ExitCode, ...]] = {
    "sheets-sync": tuple(ExitCode),
    "demo": (ExitCode.OK, ExitCode.PARTIAL, ExitCode.CONFIG, ExitCode.REMOTE),
    "sync": tuple(ExitCode),
    "categorize": (ExitCode.OK, ExitCode.CONFIG, ExitCode.REMOTE),
    "check": (ExitCode.OK, ExitCode.PARTIAL, ExitCode.CONFIG, ExitCode.REMOTE),
    "crm setup": (ExitCode.OK, ExitCode.CONFIG, ExitCode.REMOTE),
    "export": (ExitCode.OK, ExitCode.CONFIG, ExitCode.REMOTE),
    "report": (ExitCode.OK, ExitCode.CONFIG, ExitCode.REMOTE),
    "report review": (ExitCode.OK, ExitCode.CONFIG, ExitCode.REMOTE),
    "report capacity": (ExitCode.OK, ExitCode.CONFIG, ExitCode.REMOTE),
}


def exit_codes(command: str) -> str:
    """The ``--help`` epilog of ``command``: the exit codes it can return, one line each."""
    lines = [f"  {int(code)}  {EXIT_MEANINGS[code]}" for code in COMMAND_EXITS[command]]
    return "\b\nExit codes:\n" + "\n".join(lines) + "\n"


def handle_errors(fn: F) -> F:
    """Print a library error as one line on stderr and exit with its code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SheetsSyncError as err:
            click.secho(f"Error: {err}", fg="red", err=True)
            sys.exit(int(err.exit_code))

    return wrapper  # type: ignore[return-value]


def _seconds(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """A number of seconds: finite, not negative (``nan`` and ``-1`` are refused)."""
    if not 0 <= value <= 7 * 86400:  # also false for nan
        raise click.BadParameter(f"{value!r} is not a number of seconds from 0 to 604800.")
    return value


def _day(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A day within the years dates are read in (``--today 2300-01-01`` is refused)."""
    if value is None:
        return None
    from .config import check_day
    from .errors import ConfigError

    try:
        check_day(value.date(), f"--{param.name}")
    except ConfigError as err:
        raise click.BadParameter(str(err).split(" is ", 1)[1]) from None
    return value


config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    help="The config file (default: ./sheets-sync.toml).")


@click.group(epilog=exit_codes("sheets-sync"))
@click.version_option(__version__, prog_name="sheets-sync")
def main() -> None:
    """Pull clients from a CRM into a shared sheet, categorize them by your rules
    (A/B/C/D/E, AA/AAA, EE/EEE), and write the categories back to the CRM.

    Start with `sheets-sync demo`: it needs no Google account and no CRM.
    """
    from .config import fixed_now

    try:
        fixed_now()  # a garbage SHEETS_SYNC_NOW is one message, before any command runs
    except SheetsSyncError as err:
        click.secho(f"Error: {err}", fg="red", err=True)
        sys.exit(int(err.exit_code))


@main.command(epilog=exit_codes("demo"))
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--clients", default=300, show_default=True, type=click.IntRange(1, 1_000_000),
              help="How many demo clients.")
@click.option("--language", type=click.Choice(["en", "ru"]), default=None,
              help="The language of the demo's sheet and config (default: the system locale's).")
@handle_errors
def demo(folder: Path | None, clients: int, language: str | None) -> None:
    """Create a working example in FOLDER (default: ./sheets-sync-demo) and run one sync.

    It writes a config, a demo CRM (SQLite) with realistic clients, a copy of the default
    rules, and the local workbook clients.xlsx that plays the shared sheet.
    """
    from .demo import create_demo
    from .session import now, open_session
    from .sync import run_sync

    folder = folder or Path("sheets-sync-demo")
    paths = create_demo(folder, clients=clients, today=now().date(), language=language)
    with progress_bar(False) as bar, open_session(paths["config"], read_only=False) as ctx:
        summary = run_sync(ctx, progress=bar)
    from .i18n import _
    from .layout import header

    click.echo(_("Demo created in {folder}/ and synced once.").format(folder=folder))
    click.echo(summary.to_text())
    click.echo("")
    click.echo(_("Files:"))
    for label, key in ((_("config"), "config"), (_("rules"), "rules"), (_("demo CRM"), "crm"),
                       (_("sheet"), "workbook"), (_("export"), "export")):
        click.echo(f"  {label:9} {paths[key]}")
    click.echo("")
    click.echo(_("Next, try:"))
    click.echo(f"  cd {folder}")
    click.echo(_("  sheets-sync sync --dry-run   # the plan: nothing to do, the same exit code"))
    click.echo(_("  (open clients.xlsx, set a {column}, save) then: sheets-sync sync").format(
        column=header("manual_category")))
    click.echo(_("  sheets-sync check            # config, rules, CRM and sheet, one line each"))
    click.echo(_("  sheets-sync categorize {export} --out categorized.xlsx   # a one-off CRM export").format(
        export=paths["export"].name))
    code = summary.exit_code
    if code == ExitCode.PARTIAL:
        click.echo("")
        click.echo(_("Exit code {code}, as `sheets-sync sync` gives on this data: some clients are "
                     "unqualified (the demo CRM holds a few messy values on purpose).").format(code=int(code)))
    sys.exit(int(code))


@main.command(epilog=exit_codes("sync"))
@config_option
@click.option("--dry-run", is_flag=True, help="Show the plan; change nothing anywhere.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@click.option("--wait", default=0.0, show_default=True, metavar="SECONDS", type=float,
              callback=_seconds,
              help="How long to wait for another running sync of the same config.")
@click.option("--accept-shrink", is_flag=True,
              help="The CRM really lost many clients since the last sync: go on (once).")
@click.option("--rebuild-sheet", is_flag=True,
              help="The Clients tab or the workbook is gone on purpose: make it anew, with the "
                   "manual categories and notes sheets-sync kept.")
@click.option("--force", is_flag=True,
              help="Write the workbook although an Excel/LibreOffice lock file says it is open.")
@handle_errors
def sync(config_path: Path | None, dry_run: bool, as_json: bool, wait: float, accept_shrink: bool,
         rebuild_sheet: bool, force: bool) -> None:
    """Run one pass: CRM -> sheet -> rules -> CRM, writing only what changed."""
    from .sync import SyncOptions, sync_config

    options = SyncOptions(accept_shrink=accept_shrink, rebuild_sheet=rebuild_sheet, force=force)
    with progress_bar(as_json) as bar:
        summary = sync_config(config_path, dry_run=dry_run, wait=wait, options=options, progress=bar)
    click.echo(summary.to_json() if as_json else summary.to_text())
    sys.exit(int(summary.exit_code))


@main.command(epilog=exit_codes("categorize"))
@click.argument("input_path", metavar="INPUT", required=False,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the result: .csv or .xlsx (required with INPUT).")
@config_option
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path),
              help="A rules file (default: the config's, else the built-in default rules).")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), callback=_day,
              help="Categorize as of this day.")
@click.option("--raw-csv", is_flag=True,
              help="Write a CSV OUTPUT as is: no quote before text starting with = + - @ "
                   "(by default such text is neutralised so Excel does not run it).")
@click.option("--in-database", is_flag=True,
              help="No INPUT: categorize the config's [crm] SQL table inside the database "
                   "(PostgreSQL, SQLite) with one statement, writing changed categories only.")
@handle_errors
def categorize(input_path: Path | None, output: Path | None, config_path: Path | None,
               rules_path: Path | None, today: Any, raw_csv: bool, in_database: bool) -> None:
    """Categorize a one-off CSV or XLSX export from any CRM (INPUT --out OUTPUT), or a SQL
    CRM in place (--in-database).

    Headers are matched by the config's [fields] mapping, or by the canonical English names
    (id, name, revenue, costs, orders_12m, ...) and common Russian ones. OUTPUT holds the
    input columns plus category, reason, stage and problems.
    """
    if in_database:
        if input_path is not None or output is not None:
            raise click.UsageError("--in-database reads the config's [crm] database: give no "
                                   "INPUT and no --out.")
        from .crm.sql import categorize_config_in_database

        click.echo(categorize_config_in_database(
            config_path, rules_path, today.date() if today else None).to_text())
        return
    if input_path is None or output is None:
        raise click.UsageError("give INPUT and --out OUTPUT (or --in-database with --config).")
    from .oneoff import categorize_file
    from .outputs import refuse_own_files

    refuse_own_files(output, config_path)
    if input_path.resolve() == output.resolve():
        raise click.UsageError(f"--out {output} is the INPUT file: choose another name.")
    result = categorize_file(input_path, output, config_path=config_path,
                             rules_path=rules_path, today=today.date() if today else None,
                             raw_csv=raw_csv)
    click.echo(result.to_text())


@contextlib.contextmanager
def progress_bar(quiet: bool, desc: str = "sync", total: int = 4) -> Iterator[Any]:
    """A progress bar on stderr when it is a terminal (never in cron logs or --json runs),
    else ``None``; closed on the way out."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="step", leave=False, file=sys.stderr,
               bar_format="{desc}: {n_fmt}/{total_fmt} {postfix}")
    try:
        yield bar
    finally:
        bar.close()


@main.command(epilog=exit_codes("check"))
@config_option
@handle_errors
def check(config_path: Path | None) -> None:
    """Check the config, the rules, the CRM and the sheet without changing anything: one line
    each, with details only for what needs fixing."""
    from .checks import run_checks

    lines, code = run_checks(config_path)
    for good, text in lines:
        click.echo(("ok    " if good else "FIX   ") + text)
    sys.exit(int(code))


@main.group()
def crm() -> None:
    """CRM commands."""


@crm.command("setup", epilog=exit_codes("crm setup"))
@config_option
@handle_errors
def crm_setup(config_path: Path | None) -> None:
    """Create the category field in the CRM, or add codes the rules gained."""
    from .session import setup_crm

    for line in setup_crm(config_path):
        click.echo(line)


from .cli_report import report  # noqa: E402  (registered after main is defined)

main.add_command(report)

from .cli_export import export  # noqa: E402  (registered after main is defined)

main.add_command(export)
