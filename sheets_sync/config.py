"""The TOML config (``sheets-sync.toml``): which CRM, which sheet, the field mapping, the rules.

Every relative path in the file is relative to the file's own folder. An unknown key, a wrong
type or a missing file gives one :class:`~sheets_sync.errors.ConfigError` that says what to
fix; nothing is guessed silently.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .crm.base import CrmSettings
from .errors import ConfigError
from .parsing import DateOrder
from .table import ParseOptions

DEFAULT_NAME = "sheets-sync.toml"
_TOP = {"rules", "state", "crm", "sheet", "fields", "parsing", "log"}
_SHEET = {"workbook", "google", "clients_tab", "history_tab", "headers", "credentials",
          "credentials_env", "endpoint", "live_formulas", "requests_per_minute", "retry_budget",
          "retry_base_delay", "timeout"}


@dataclass(frozen=True)
class SheetSettings:
    """``[sheet]``: a local ``workbook`` path or a ``google`` spreadsheet key or URL."""

    kind: str  # "workbook" | "google"
    target: str
    clients_tab: str = "Clients"
    history_tab: str = "History"
    headers: Mapping[str, str] = field(default_factory=dict)  # column -> header text
    options: Mapping[str, Any] = field(default_factory=dict)
    base_dir: Path = Path(".")


@dataclass(frozen=True)
class LogSettings:
    """``[log]``: a log file with rotation (none by default)."""

    file: Path | None = None
    max_bytes: int = 1_000_000
    backups: int = 5
    level: str = "INFO"


@dataclass(frozen=True)
class Config:
    path: Path
    rules_path: Path
    state_path: Path
    crm: CrmSettings
    sheet: SheetSettings
    fields: Mapping[str, str]  # canonical column -> CRM field key
    parsing: ParseOptions
    log: LogSettings = LogSettings()

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def find_config(path: str | Path | None) -> Path:
    """The config path given, or ``sheets-sync.toml`` in the current folder."""
    candidate = Path(path) if path else Path.cwd() / DEFAULT_NAME
    if not candidate.is_file():
        if path:
            raise ConfigError(f"Config file {candidate} does not exist.")
        raise ConfigError(
            f"No {DEFAULT_NAME} in {Path.cwd()}. Pass --config PATH, or run "
            "`sheets-sync demo` to create a working example.")
    return candidate


def load_config(path: str | Path | None = None) -> Config:
    path = find_config(path).resolve()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return parse_config(data, path)


def parse_config(data: Mapping[str, Any], path: Path) -> Config:
    name = path.name
    _no_unknown(data, _TOP, name, "")
    base = path.parent
    fields = _table(data, "fields", name)
    for canonical, field_name in fields.items():
        if not isinstance(field_name, str) or not field_name:
            raise ConfigError(f"{name} [fields] {canonical}: give the CRM field name as text, "
                              f"e.g. {canonical} = \"{canonical}\"")
    crm_table = dict(_table(data, "crm", name))
    if "kind" not in crm_table:
        raise ConfigError(f"{name} [crm]: set kind, e.g. kind = \"sqlite\"")
    crm = CrmSettings(
        kind=str(crm_table.pop("kind")),
        options=crm_table,
        base_dir=base,
        id_field=str(fields.get("id", "id")),
        category_field=str(crm_table.get("category_field", "category")),
        fields=tuple(dict.fromkeys(str(v) for v in fields.values())),
    )
    sheet = _sheet(_table(data, "sheet", name), base, name)
    parsing = _parsing(_table(data, "parsing", name), name)
    rules = _path(data.get("rules", "rules.py"), base, name, "rules")
    state = _path(data.get("state", path.stem + ".state.sqlite"), base, name, "state")
    return Config(path, rules, state, crm, sheet, dict(fields), parsing, _log(_table(data, "log", name), base, name))


def _no_unknown(data: Mapping[str, Any], known: set[str], name: str, section: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        where = f"[{section}] " if section else ""
        raise ConfigError(f"{name}: unknown key {where}{unknown[0]!r}. Known keys: "
                          f"{', '.join(sorted(known))}.")


def _table(data: Mapping[str, Any], key: str, name: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: [{key}] must be a table, e.g. [{key}] on its own line")
    return value


def _path(value: Any, base: Path, name: str, key: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{name}: {key} must be a file path in quotes")
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _sheet(table: Mapping[str, Any], base: Path, name: str) -> SheetSettings:
    _no_unknown(table, _SHEET, name, "sheet")
    if "workbook" in table and "google" in table:
        raise ConfigError(f"{name} [sheet]: set either workbook or google, not both")
    if "google" in table:
        kind, target = "google", str(table["google"])
    else:
        kind, target = "workbook", str(_path(table.get("workbook", "clients.xlsx"), base, name,
                                             "[sheet] workbook"))
    headers = table.get("headers", {})
    if not isinstance(headers, dict):
        raise ConfigError(f"{name} [sheet] headers must be a table of column = \"Header\"")
    options = {k: v for k, v in table.items() if k not in {"workbook", "google", "clients_tab",
                                                          "history_tab", "headers"}}
    return SheetSettings(kind, target, str(table.get("clients_tab", "Clients")),
                         str(table.get("history_tab", "History")),
                         {str(k): str(v) for k, v in headers.items()}, options, base)


def _log(table: Mapping[str, Any], base: Path, name: str) -> LogSettings:
    _no_unknown(table, {"file", "max_bytes", "backups", "level"}, name, "log")
    level = str(table.get("level", "INFO")).upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"{name} [log] level must be debug, info, warning or error, not {level.lower()!r}")
    try:
        max_bytes, backups = int(table.get("max_bytes", 1_000_000)), int(table.get("backups", 5))
    except (TypeError, ValueError):
        raise ConfigError(f"{name} [log] max_bytes and backups must be whole numbers") from None
    file = _path(table["file"], base, name, "[log] file") if "file" in table else None
    return LogSettings(file, max_bytes, backups, level)


def _parsing(table: Mapping[str, Any], name: str) -> ParseOptions:
    _no_unknown(table, {"decimal", "dates"}, name, "parsing")
    decimal = table.get("decimal", "auto")
    if decimal not in ("auto", ",", "."):
        raise ConfigError(f"{name} [parsing] decimal must be \",\", \".\" or \"auto\", "
                          f"not {decimal!r}")
    dates = table.get("dates", "dmy")
    try:
        order = DateOrder(dates)
    except ValueError:
        raise ConfigError(f"{name} [parsing] dates must be \"dmy\" (23/11/2026) or \"mdy\" "
                          f"(11/23/2026), not {dates!r}") from None
    return ParseOptions(None if decimal == "auto" else decimal, order)
