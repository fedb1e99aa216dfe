"""``[orders] source = "crm"``: the deals of the CRM in ``[crm]``, read by its adapter."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .read import Deals


def read_crm_deals(crm: Any, state: Any = None) -> Deals:
    reader = getattr(crm, "deals", None)
    if reader is None:
        raise ConfigError(f"[orders] source = \"crm\": the {type(crm).__name__} adapter cannot read "
                          "deals; use source = \"sql\" or \"file\"")
    return reader(state)
