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
from .i18n import DOMAIN, LOCALE_DIR, N_, _, ngettext, translate

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


#: Texts click itself prints (usage, sections, its errors), marked here so our catalog
#: translates them: the command line binds gettext's default domain to our catalog
#: (:meth:`Group.main`), which is where click looks them up.
CLICK_TEXTS = (
    N_("Usage:"), N_("Options"), N_("Commands"), N_("Show this message and exit."),
    N_("Show the version and exit."), N_("Error: {message}"), N_("Try '{command} {option}' for help."),
    N_("No such command {name!r}."), N_("No such option {name!r}."), N_("Missing argument"),
    N_("Missing option"), N_("Missing command."), N_("Invalid value for {param_hint}: {message}"),
    N_("Invalid value: {message}"), N_("{value!r} is not a valid {number_type}."),
    N_("{value} is not in the range {range}."), N_("{name} {filename!r} does not exist."),
    N_("{name} {filename!r} is a directory."), N_("{name} {filename!r} is a file."), N_("file"),
    N_("directory"), N_("path"), N_("Aborted!"), N_("default: {default}"),
    ngettext("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})", 1),
    ngettext("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments.", 1),
    ngettext("{value!r} is not {choice}.", "{value!r} is not one of {choices}.", 1),
    ngettext("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)", 1),
    ngettext("{value!r} does not match the format {format}.",
             "{value!r} does not match the formats {formats}.", 1),
)

#: The names of the steps a progress bar shows (given by the library in English).
STEP_NAMES = (N_("reading the CRM"), N_("reading the sheet"), N_("writing the CRM"),
              N_("writing the sheet"), N_("writing the workbook"), N_("sync"), N_("export"))


class ExitEpilog(str):
    """An epilog listing ``command``'s exit codes: English text, rebuilt in the language when
    the help is shown."""

    command: str

    def __new__(cls, command: str) -> ExitEpilog:
        self = super().__new__(cls, _exit_text(command))
        self.command = command
        return self


def _exit_text(command: str) -> str:
    lines = [f"  {int(code)}  {translate(EXIT_MEANINGS[code])}" for code in COMMAND_EXITS[command]]
    return "\b\n" + _("Exit codes:") + "\n" + "\n".join(lines) + "\n"


def exit_codes(command: str) -> str:
    """The ``--help`` epilog of ``command``: the exit codes it can return, one line each."""
    return ExitEpilog(command)


class _Localised(click.Command):
    """A command whose help, epilog and options' help are English in the code (marked with
    ``N_``) and translated when shown, so ``--help`` speaks the language of the moment rather
    than the one in force when the module was imported."""

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        saved = (self.help, self.epilog, self.short_help,
                 [(p, getattr(p, "help", None)) for p in self.params])
        self.help = translate(self.help) if self.help else self.help
        self.short_help = translate(self.short_help) if self.short_help else self.short_help
        if isinstance(self.epilog, ExitEpilog):
            self.epilog = _exit_text(self.epilog.command)
        elif self.epilog:
            self.epilog = translate(self.epilog)
        for param, text in saved[3]:
            if text:
                param.help = translate(text)  # type: ignore[attr-defined]
        try:
            yield
        finally:
            self.help, self.epilog, self.short_help = saved[:3]
            for param, text in saved[3]:
                if text is not None:
                    param.help = text  # type: ignore[attr-defined]

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with self._translated():
            super().format_help(ctx, formatter)

    def get_short_help_str(self, limit: int = 45) -> str:
        with self._translated():
            return super().get_short_help_str(limit)


class Command(_Localised):
    """A sheets-sync command (help in the language)."""


class Group(_Localised, click.Group):
    """A sheets-sync command group (help in the language); its commands are :class:`Command`."""

    command_class = Command
    group_class = type  # subgroups are of this class too

    def main(self, *args: Any, **kwargs: Any) -> Any:
        # click looks its own texts up in gettext's default domain: make that our catalog, so
        # "Usage:", "Options" and its error messages follow the system locale as ours do
        import gettext

        gettext.bindtextdomain(DOMAIN, str(LOCALE_DIR))
        gettext.textdomain(DOMAIN)
        return super().main(*args, **kwargs)


def handle_errors(fn: F) -> F:
    """Print a library error as one line on stderr and exit with its code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SheetsSyncError as err:
            click.secho(_("Error: {message}").format(message=err), fg="red", err=True)
            sys.exit(int(err.exit_code))

    return wrapper  # type: ignore[return-value]


def _seconds(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """A number of seconds: finite, not negative (``nan`` and ``-1`` are refused)."""
    if not 0 <= value <= 7 * 86400:  # also false for nan
        raise click.BadParameter(_("{value} is not a number of seconds from 0 to 604800.").format(
            value=repr(value)))
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
    help=N_("The config file (default: ./sheets-sync.toml)."))


@click.group(cls=Group, epilog=exit_codes("sheets-sync"), help=N_(
    "Pull clients from a CRM into a shared sheet, categorize them by your rules (A/B/C/D/E, "
    "AA/AAA, EE/EEE), and write the categories back to the CRM.\n\n"
    "Start with `sheets-sync demo`: it needs no Google account and no CRM."))
@click.version_option(__version__, prog_name="sheets-sync")
def main() -> None:
    """The command group; its help is the ``help`` above (translated when shown)."""
    from .config import fixed_now

    try:
        fixed_now()  # a garbage SHEETS_SYNC_NOW is one message, before any command runs
    except SheetsSyncError as err:
        click.secho(_("Error: {message}").format(message=err), fg="red", err=True)
        sys.exit(int(err.exit_code))


@main.command(epilog=exit_codes("demo"), help=N_(
    "Create a working example in FOLDER (default: ./sheets-sync-demo) and run one sync.\n\n"
    "It writes a config, a demo CRM (SQLite) with realistic clients, a copy of the default rules, "
    "and the local workbook clients.xlsx that plays the shared sheet."))
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--clients", default=300, show_default=True, type=click.IntRange(1, 1_000_000),
              help=N_("How many demo clients."))
@click.option("--language", type=click.Choice(["en", "ru"]), default=None,
              help=N_("The language of the demo's sheet and config (default: the system locale's)."))
@handle_errors
def demo(folder: Path | None, clients: int, language: str | None) -> None:
    from .demo import create_demo
    from .session import now, open_session
    from .sync import run_sync

    folder = folder or Path("sheets-sync-demo")
    paths = create_demo(folder, clients=clients, today=now().date(), language=language)
    with progress_bar(False) as bar, open_session(paths["config"], read_only=False) as ctx:
        summary = run_sync(ctx, progress=bar)
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


@main.command(epilog=exit_codes("sync"), help=N_(
    "Run one pass: CRM -> sheet -> rules -> CRM, writing only what changed."))
@config_option
@click.option("--dry-run", is_flag=True, help=N_("Show the plan; change nothing anywhere."))
@click.option("--json", "as_json", is_flag=True, help=N_("Print a machine-readable summary."))
@click.option("--wait", default=0.0, show_default=True, metavar="SECONDS", type=float,
              callback=_seconds,
              help=N_("How long to wait for another running sync of the same config."))
@click.option("--accept-shrink", is_flag=True,
              help=N_("The CRM really lost many clients since the last sync: go on (once)."))
@click.option("--rebuild-sheet", is_flag=True,
              help=N_("The Clients tab or the workbook is gone on purpose: make it anew, with the "
                      "manual categories and notes sheets-sync kept."))
@click.option("--force", is_flag=True,
              help=N_("Write the workbook although an Excel/LibreOffice lock file says it is open."))
@handle_errors
def sync(config_path: Path | None, dry_run: bool, as_json: bool, wait: float, accept_shrink: bool,
         rebuild_sheet: bool, force: bool) -> None:
    from .sync import SyncOptions, sync_config

    options = SyncOptions(accept_shrink=accept_shrink, rebuild_sheet=rebuild_sheet, force=force)
    with progress_bar(as_json) as bar:
        summary = sync_config(config_path, dry_run=dry_run, wait=wait, options=options, progress=bar)
    click.echo(summary.to_json() if as_json else summary.to_text())
    sys.exit(int(summary.exit_code))


@main.command(epilog=exit_codes("categorize"), help=N_(
    "Categorize a one-off CSV or XLSX export from any CRM (INPUT --out OUTPUT), or a SQL CRM in "
    "place (--in-database).\n\n"
    "Headers are matched by the config's [fields] mapping, or by the canonical English names (id, "
    "name, revenue, costs, orders_12m, ...) and common Russian ones. OUTPUT holds the input columns "
    "plus category, reason, stage and problems."))
@click.argument("input_path", metavar="INPUT", required=False,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "output", type=click.Path(dir_okay=False, path_type=Path),
              help=N_("Where to write the result: .csv or .xlsx (required with INPUT)."))
@config_option
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path),
              help=N_("A rules file (default: the config's, else the built-in default rules)."))
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), callback=_day,
              help=N_("Categorize as of this day."))
@click.option("--raw-csv", is_flag=True,
              help=N_("Write a CSV OUTPUT as is: no quote before text starting with = + - @ "
                      "(by default such text is neutralised so Excel does not run it)."))
@click.option("--in-database", is_flag=True,
              help=N_("No INPUT: categorize the config's [crm] SQL table inside the database "
                      "(PostgreSQL, SQLite) with one statement, writing changed categories only."))
@handle_errors
def categorize(input_path: Path | None, output: Path | None, config_path: Path | None,
               rules_path: Path | None, today: Any, raw_csv: bool, in_database: bool) -> None:
    if in_database:
        if input_path is not None or output is not None:
            raise click.UsageError(_("--in-database reads the config's [crm] database: give no "
                                      "INPUT and no --out."))
        from .crm.sql import categorize_config_in_database

        click.echo(categorize_config_in_database(
            config_path, rules_path, today.date() if today else None).to_text())
        return
    if input_path is None or output is None:
        raise click.UsageError(_("give INPUT and --out OUTPUT (or --in-database with --config)."))
    from .oneoff import categorize_file
    from .outputs import refuse_own_files

    refuse_own_files(output, config_path)
    if input_path.resolve() == output.resolve():
        raise click.UsageError(_("--out {output} is the INPUT file: choose another name.").format(
            output=output))
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

    class Bar(tqdm):  # type: ignore[misc,valid-type]
        """The steps' names (English in the library) shown in the language."""

        def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
            super().set_postfix_str(translate(s), refresh)

    bar = Bar(total=total, desc=translate(desc), unit="step", leave=False, file=sys.stderr,
              bar_format="{desc}: {n_fmt}/{total_fmt} {postfix}")
    try:
        yield bar
    finally:
        bar.close()


@main.command(epilog=exit_codes("check"), help=N_(
    "Check the config, the rules, the CRM and the sheet without changing anything: one line each, "
    "with details only for what needs fixing."))
@config_option
@handle_errors
def check(config_path: Path | None) -> None:
    from .checks import run_checks

    lines, code = run_checks(config_path)
    ok, fix = _("ok"), _("FIX")
    width = max(6, len(ok) + 1, len(fix) + 1)
    for good, text in lines:
        click.echo(f"{ok if good else fix:{width}}" + text)
    sys.exit(int(code))


@main.group(help=N_("CRM commands."))
def crm() -> None:
    """The ``crm`` group."""


@crm.command("setup", epilog=exit_codes("crm setup"), help=N_(
    "Create the category field in the CRM, or add codes the rules gained."))
@config_option
@handle_errors
def crm_setup(config_path: Path | None) -> None:
    from .session import setup_crm

    for line in setup_crm(config_path):
        click.echo(line)


from .cli_report import report  # noqa: E402  (registered after main is defined)

main.add_command(report)

from .cli_export import export  # noqa: E402  (registered after main is defined)

main.add_command(export)
