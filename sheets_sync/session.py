"""The set-up every command shares, in one context manager.

    with open_session(config_path, lock=True, log="sync") as ctx:
        ...  # ctx.config, ctx.rules, ctx.crm, ctx.sheet, ctx.state, ctx.now; log: sheets_sync.logs.log

In this order: the config (a broken one fails before anything else), the log file, the lock
(only a sync takes it), the rules (a broken rules file fails before any data is touched), the
CRM and sheet backends and the state store. On the way out everything opened is closed, in
reverse order, whatever happened; a library error is written to the log before it goes on to
the CLI, which prints it once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from .config import Config, load_config
from .crm import CrmAdapter, open_crm
from .errors import LockedError, SheetsSyncError
from .plan import SyncOptions
from .rules import RuleSet, load_rules
from .sheets import SheetBackend, open_sheet
from .state import StateStore

Clock = Callable[[], datetime]


@dataclass
class Context:
    """What a command works with: the config, the rules, the backends, the state, the time."""

    config: Config
    rules: RuleSet
    crm: CrmAdapter
    sheet: SheetBackend
    state: StateStore
    now: datetime
    progress: Any = None
    options: SyncOptions = field(default_factory=SyncOptions)
    #: state-store values to save once the sheet is written
    state_after_write: dict[str, str] = field(default_factory=dict)


def now() -> datetime:
    """The current time; ``SHEETS_SYNC_NOW`` (ISO 8601) fixes it, for tests and replays."""
    from .config import fixed_now

    return fixed_now() or datetime.now().replace(microsecond=0)


def load_checked_rules(config: Config, rules_path: Path | None = None) -> RuleSet:
    """The config's rules (or ``rules_path``'s), with the config's ``[fields]`` keys checked
    against the columns they declare. The config's language is in force from here on."""
    from .config import check_fields
    from .i18n import set_language

    set_language(config.language)
    rules = load_rules(rules_path or config.rules_path)
    check_fields(config, rules.columns)
    return rules


def open_context(config: Config, clock: Clock | None = None, options: SyncOptions | None = None,
                 read_only: bool = False) -> Context:
    """The backends and the state store of ``config``; the caller closes them
    (:func:`open_session` does). The rules are loaded first: a broken rules file fails before
    any data is touched."""
    rules = load_checked_rules(config)
    started = (clock or now)()
    crm = open_crm(config.crm)
    try:
        sheet = open_sheet(config.sheet)
        state = StateStore(config.state_path, read_only)
    except BaseException:
        crm.close()
        raise
    return Context(config, rules, crm, sheet, state, started, options=options or SyncOptions())


def close_context(ctx: Context) -> None:
    try:
        ctx.crm.close()
    finally:
        ctx.state.close()


def sync_lock(config: Config, wait: float = 0.0) -> FileLock:
    """The lock that keeps a second sync of the same config from running beside the first.

    It is an OS-level lock (filelock), so a lock left by a killed process is released by the
    OS and never blocks forever."""
    return FileLock(str(config.state_path) + ".lock", timeout=wait)


@contextmanager
def locked(config: Config, wait: float = 0.0) -> Iterator[None]:
    from .paths import path_error

    lock = sync_lock(config, wait)
    try:
        lock.acquire()
    except Timeout:  # (a subclass of OSError: first)
        raise LockedError(f"Another sync of {config.path.name} is running (lock "
                          f"{lock.lock_file}); waited {wait:g} s. Try again later, or pass "
                          "--wait SECONDS.") from None
    except OSError as exc:
        raise path_error(lock.lock_file, exc, "the lock file (beside the state file)") from exc
    try:
        yield
    finally:
        lock.release()


@contextmanager
def open_session(config: Path | str | Config | None = None, *, lock: bool = False,
                 wait: float = 0.0, read_only: bool = True, log: str | None = None,
                 note: str = "", options: SyncOptions | None = None,
                 clock: Clock | None = None) -> Iterator[Context]:
    """Open what a command needs (see the module docstring) and close it again.

    ``config`` is a path (``None``: ``./sheets-sync.toml``) or a loaded config; ``lock`` takes
    the sync lock, waiting up to ``wait`` seconds; ``read_only`` opens the state store on a
    private copy (nothing is written to it); ``log`` names the run in the ``[log]`` file
    (``None``: no log file is opened): "``log`` started``note``" once the lock is held, "``log``
    failed" with the error; the command writes its other lines to :data:`sheets_sync.logs.log`."""
    from .logs import close_log, open_log
    from .logs import log as logger

    loaded = config if isinstance(config, Config) else load_config(config)
    with ExitStack() as stack:
        if log is not None:
            stack.callback(close_log, open_log(loaded.log))
        try:
            if lock:
                stack.enter_context(locked(loaded, wait))
            if log is not None:
                logger.info("%s started%s (config %s)", log, note, loaded.path)
            ctx = open_context(loaded, clock, options, read_only)
            stack.callback(close_context, ctx)
            yield ctx
        except SheetsSyncError as err:
            if log is not None:
                logger.error("%s failed, exit %d: %s", log, int(err.exit_code), err)
            raise


def setup_crm(config: Path | str | Config | None = None) -> list[str]:
    """``sheets-sync crm setup``: create the category field in the CRM, or add the codes the
    rules gained; one line per thing done or found."""
    loaded = config if isinstance(config, Config) else load_config(config)
    rules = load_rules(loaded.rules_path)
    adapter = open_crm(loaded.crm)
    try:
        return list(adapter.ensure_category_field(rules.codes))
    finally:
        adapter.close()
