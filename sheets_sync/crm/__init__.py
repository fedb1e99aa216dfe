"""CRM adapters, registered by ``[crm] kind``."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ConfigError
from .base import CheckItem, CrmAdapter, CrmSettings, WriteResult

AdapterFactory = Callable[[CrmSettings], CrmAdapter]


def _sql(settings: CrmSettings) -> CrmAdapter:
    from .sql import SqlCrm

    return SqlCrm(settings)


def _file(settings: CrmSettings) -> CrmAdapter:
    from .files import FileCrm

    return FileCrm(settings)


def _amocrm(settings: CrmSettings) -> CrmAdapter:
    from .amocrm import AmoCrm

    return AmoCrm(settings)


def _bitrix24(settings: CrmSettings) -> CrmAdapter:
    from .bitrix24 import Bitrix24Crm

    return Bitrix24Crm(settings)


def _hubspot(settings: CrmSettings) -> CrmAdapter:
    from .hubspot import HubSpotCrm

    return HubSpotCrm(settings)


ADAPTERS: dict[str, AdapterFactory] = {
    "sqlite": _sql,
    "sql": _sql,
    "file": _file,
    "amocrm": _amocrm,
    "kommo": _amocrm,
    "bitrix24": _bitrix24,
    "hubspot": _hubspot,
}


def open_crm(settings: CrmSettings) -> CrmAdapter:
    """Build the adapter for ``settings.kind`` (an error names the known kinds)."""
    try:
        factory = ADAPTERS[settings.kind]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise ConfigError(
            f"[crm] kind = {settings.kind!r} is not known. Use one of: {known}."
        ) from None
    return factory(settings)


__all__ = ["ADAPTERS", "CheckItem", "CrmAdapter", "CrmSettings", "WriteResult", "open_crm"]
