"""Sheet backends, chosen by the config's ``[sheet]`` table."""

from __future__ import annotations

from collections.abc import Callable

from ..config import SheetSettings
from ..errors import ConfigError
from .base import SheetBackend

BackendFactory = Callable[[SheetSettings], SheetBackend]


def _workbook(settings: SheetSettings) -> SheetBackend:
    from .workbook import WorkbookSheet

    return WorkbookSheet(settings.target)


def _google(settings: SheetSettings) -> SheetBackend:
    try:
        from .google import GoogleSheet
    except ImportError as exc:  # pragma: no cover - the module ships with the package
        raise ConfigError(f"The Google Sheets backend is not available: {exc}") from exc
    return GoogleSheet(settings)


BACKENDS: dict[str, BackendFactory] = {"workbook": _workbook, "google": _google}


def open_sheet(settings: SheetSettings) -> SheetBackend:
    return BACKENDS[settings.kind](settings)


__all__ = ["BACKENDS", "SheetBackend", "open_sheet"]
