"""The log file of unattended runs: rotated by size, secrets masked, one summary line per run."""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler

from .config import LogSettings

log = logging.getLogger("sheets_sync")
# Without a handler of its own, Python's last-resort handler would copy every warning and error
# to stderr, where the CLI already prints the error once: the log goes to the log file only.
log.addHandler(logging.NullHandler())


class _Mask(logging.Filter):
    """Masks every registered secret (tokens, webhook codes) in the formatted message."""

    def filter(self, record: logging.LogRecord) -> bool:
        from .http import mask

        record.msg = mask(record.getMessage())
        record.args = None
        return True


def open_log(settings: LogSettings) -> RotatingFileHandler | None:
    """Attach the rotating log file of ``settings`` (if any); the caller closes it."""
    if settings.file is None:
        return None
    try:
        settings.file.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(settings.file, maxBytes=settings.max_bytes,
                                      backupCount=settings.backups, encoding="utf-8")
    except OSError as exc:
        from .paths import path_error

        raise path_error(settings.file, exc, "the [log] file") from exc
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_Mask())
    handler.setLevel(settings.level)
    log.addHandler(handler)
    log.setLevel(min(log.level or logging.WARNING, logging.getLevelName(settings.level)))
    return handler


def close_log(handler: RotatingFileHandler | None) -> None:
    if handler is not None:
        log.removeHandler(handler)
        handler.close()
