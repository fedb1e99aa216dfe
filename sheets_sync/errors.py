"""Every error sheets-sync raises on purpose, under one root.

    SheetsSyncError                 root; the CLI catches it once and prints ``str(err)``
    ├── ConfigError                 the config file, a credential or a path is wrong (exit 2)
    │   ├── RulesError              the rules file is wrong (file, line, category, what)
    │   └── StructureError          the sheet lost what the owners decided (a tab, the header
    │                               row): nothing is written until a person looks (exit 2)
    ├── InputError                  an input file (CSV/XLSX) cannot be read
    ├── SheetError                  the sheet (workbook or Google) refused or is malformed
    │   ├── ConcurrentEditError     the sheet changed between our read and our write: the
    │   │                           pass reads it again and plans again (transient)
    │   └── SheetLockedError        the workbook is open in Excel or LibreOffice (exit 3)
    ├── CrmError                    the CRM refused or answered something we cannot use
    │   └── ShrinkError             the CRM returned far fewer clients than last time (exit 4)
    ├── RemoteError                 a remote API failed after bounded retries, or refuses us
    │   │                           for now (a vendor's block or quota) (exit 4)
    │   ├── RetryableError          one attempt failed and may pass if repeated (transient):
    │   │                           429, 408, 5xx, a dropped or refused connection, a timeout,
    │   │                           an unusable answer to a read
    │   └── UncertainWriteError     a request not safe to repeat (an append, a create) failed
    │                               after it may have been applied: never repeated blindly;
    │                               the sync reads the sheet again and plans again
    └── LockedError                 another sync holds the lock (exit 3)

``Transient`` marks the errors worth repeating: the HTTP funnel (:mod:`sheets_sync.http`)
repeats a ``RetryableError`` under its budget, the sync pass plans again after a
``ConcurrentEditError``; everything else is terminal. Lower-level errors (openpyxl, SQLAlchemy,
HTTP) are wrapped at the adapter boundary with ``raise ... from exc``; HTTP ones in the funnel.
"""

from __future__ import annotations

from enum import IntEnum

from .i18n import N_


class ExitCode(IntEnum):
    """Exit codes of the ``sheets-sync`` command (documented in the README and ``--help``)."""

    OK = 0
    PARTIAL = 1
    CONFIG = 2
    LOCKED = 3
    REMOTE = 4


#: What each exit code means: the one table behind the README's and every ``--help``'s.
EXIT_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: N_("done (with changes or none)"),
    ExitCode.PARTIAL: N_("partial: some clients unqualified or rejected by the CRM (listed)"),
    ExitCode.CONFIG: N_("configuration, rules, input or credential error"),
    ExitCode.LOCKED: N_("another sync holds the lock, or the workbook is open in another program"),
    ExitCode.REMOTE: N_("a remote API (sheet or CRM) failed after retries"),
}


class Transient:
    """Mixin: the operation may succeed if repeated unchanged (see the module docstring)."""


class SheetsSyncError(Exception):
    exit_code: ExitCode = ExitCode.CONFIG


class ConfigError(SheetsSyncError):
    exit_code = ExitCode.CONFIG


class RulesError(ConfigError):
    """A rules file problem, located as precisely as we can."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 code: str | None = None) -> None:
        where = []
        if path:
            where.append(f"{path}:{line}" if line else path)
        if code:
            where.append(f"category {code}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.path, self.line, self.code, self.detail = path, line, code, message


class InputError(SheetsSyncError):
    exit_code = ExitCode.CONFIG


class SheetError(SheetsSyncError):
    exit_code = ExitCode.REMOTE


class ConcurrentEditError(SheetError, Transient):
    """The sheet changed under us; re-read and re-plan."""


class SheetLockedError(SheetError):
    exit_code = ExitCode.LOCKED


class StructureError(ConfigError):
    """The sheet no longer holds what the owners decided; a person must look first."""


class CrmError(SheetsSyncError):
    exit_code = ExitCode.REMOTE


class ShrinkError(CrmError):
    """A CRM read lost many of the clients the last sync saw: nothing is written."""


class RemoteError(SheetsSyncError):
    exit_code = ExitCode.REMOTE


class RetryableError(RemoteError, Transient):
    """One attempt failed in a way that may pass if repeated; ``retry_after``: the server's
    ``Retry-After`` in seconds, if it gave one. The funnel repeats it; when its budget is spent
    it raises a :class:`RemoteError` naming the last one."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UncertainWriteError(RemoteError):
    """A request that must not be repeated blindly (an append, a create) failed without a
    clear answer: it may have been applied. Whoever sent it looks before sending it again (the
    sync pass reads the sheet again and plans again)."""


class LockedError(SheetsSyncError):
    exit_code = ExitCode.LOCKED
