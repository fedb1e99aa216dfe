"""The TOML config (``sheets-sync.toml``): which CRM, which sheet, the field mapping, the rules.

Every relative path in the file is relative to the file's own folder. An unknown key, a wrong
type or a missing file gives one :class:`~sheets_sync.errors.ConfigError` that says what to
fix; nothing is guessed silently.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .crm.base import CrmSettings
from .errors import ConfigError
from .i18n import LANGUAGES, NC_, _, all_languages
from .parsing import HARD_MAX_YEAR, HARD_MIN_YEAR, MAX_YEAR, MIN_YEAR, DateOrder
from .table import COLUMNS, ParseOptions, header_key

DEFAULT_NAME = "sheets-sync.toml"
_SHEET = {"workbook", "google", "clients_tab", "history_tab", "headers", "credentials",
          "credentials_env", "endpoint", "live_formulas", "requests_per_minute", "retry_budget",
          "retry_base_delay", "timeout"}
_SHEET_NUMBERS = {"requests_per_minute": 1, "retry_budget": 0, "retry_base_delay": 0, "timeout": 0}
_SHEET_TEXT = ("workbook", "google", "credentials", "credentials_env", "endpoint")
#: Tabs of ours besides the configurable two (names must differ from them, ignoring case); a
#: new sheet gets them in its language, an existing one keeps the names it has.
FIXED_TABS = (NC_("tab", "Legend"), NC_("tab", "Summary"))
#: Excel's rules for a tab name (Google Sheets accepts all of them, so they are the ones kept).
TAB_MAX = 31
_TAB_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
# [crm] keys the adapters read, by the type they must have (other keys are the adapter's own).
_CRM_TEXT = ("kind", "path", "url", "table", "schema", "category_field", "password_env",
             "password_file", "token_env", "token_file", "output", "encoding", "delimiter",
             "categories_table", "category_label", "sheet")
_CRM_NUMBERS = ("batch_size", "chunk_size", "timeout", "max_attempts", "backoff", "backoff_max",
                "retry_budget")
_FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


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
class SyncSettings:
    """``[sync]``: when a CRM read that lost clients is refused (the shrink guard): more than
    ``max_gone`` clients gone, or more than ``max_gone_share`` of them (and more than 5), or all."""

    max_gone: int = 50
    max_gone_share: float = 0.10


@dataclass(frozen=True)
class OrdersSettings:
    """``[orders]``: where the deals come from. ``source`` is ``crm`` (the deals of the CRM in
    ``[crm]``), ``sql`` (a table: ``url`` or ``path`` of a SQLite file, ``table``) or ``file``
    (a CSV/XLSX export: ``path``). ``columns`` maps our deal fields (client_id, amount, date,
    cost, status) to the source's column names; ``won`` lists the status values that count as
    won (without a status column every row is a won deal)."""

    source: str
    base_dir: Path = Path(".")
    path: Path | None = None
    url: str | None = None
    table: str | None = None
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    password_env: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    won: tuple[str, ...] = ()


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
    sync: SyncSettings = SyncSettings()
    orders: OrdersSettings | None = None  # [orders]: metrics from the deals
    #: "en" | "ru"; empty: the system locale's (see :mod:`sheets_sync.i18n`)
    language: str = ""

    @property
    def base_dir(self) -> Path:
        return self.path.parent


NOW_ENV = "SHEETS_SYNC_NOW"


def fixed_now() -> datetime | None:
    """The moment ``SHEETS_SYNC_NOW`` fixes (ISO 8601, for tests and replays), ``None`` when it
    is not set; a value that is not a date and time within the years we read is one error."""
    text = os.environ.get(NOW_ENV, "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"The environment variable {NOW_ENV}={text[:40]!r} is not a date and "
                          "time; write it as 2026-11-23T10:00:00, or unset it to use the clock.") \
            from None
    check_day(moment.date(), NOW_ENV)
    return moment.replace(tzinfo=None) if moment.tzinfo is None else moment


def check_day(day: date, what: str) -> date:
    """``day`` (the day to categorize as of) within the years dates are read in."""
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ConfigError(f"{what} {day.isoformat()} is outside the years {MIN_YEAR}-{MAX_YEAR}; "
                          "give a day in that range (e.g. today's date).")
    return day


def find_config(path: str | Path | None) -> Path:
    """The config path given, or ``sheets-sync.toml`` in the current folder."""
    candidate = Path(path) if path else Path.cwd() / DEFAULT_NAME
    if not candidate.is_file():
        if path:
            raise ConfigError(_("Config file {path} does not exist.").format(path=candidate))
        raise ConfigError(_(
            "No {name} in {folder}. Pass --config PATH, or run `sheets-sync demo` to create a "
            "working example.").format(name=DEFAULT_NAME, folder=Path.cwd()))
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


@dataclass(frozen=True)
class Table:
    """One ``[table]`` of the config: the keys it may hold (``None``: any, checked by whoever
    reads them) and the function that validates it into its settings, given the table, the
    file's folder, the file's name and the tables parsed before it."""

    keys: frozenset[str] | None
    parse: Callable[[Mapping[str, Any], Path, str, Mapping[str, Any]], Any]


def check_keys(table: Mapping[str, Any], known: Iterable[str], section: str = "", *,
               file: str = "", context: str = "") -> None:
    """The one unknown-key check of the config (the CRM adapters' own ``[crm]`` keys too):
    ``file: [section] unknown key 'x' <context> (did you mean 'y'?). Known keys: ...``."""
    known = set(known)
    unknown = sorted(set(table) - known, key=str)
    if unknown:
        where = (f"{file}: " if file else "") + (f"[{section}] " if section else "")
        raise ConfigError(f"{where}unknown key {unknown[0]!r}{context}{did_you_mean(unknown[0], known)}. "
                          f"Known keys: {', '.join(sorted(known))}.")


def parse_config(data: Mapping[str, Any], path: Path) -> Config:
    """Validate the TOML ``data`` of the config file at ``path``: each table of :data:`TABLES`
    in turn, then the paths of the rules and state files."""
    name = path.name
    check_keys(data, TOP_KEYS | set(TABLES), file=name)
    base = path.parent
    parsed: dict[str, Any] = {}
    for key, spec in TABLES.items():
        table = _table(data, key, name)
        if spec.keys is not None:
            check_keys(table, spec.keys, key, file=name)
        parsed[key] = spec.parse(table, base, name, parsed)
    rules = _path(data.get("rules", "rules.py"), base, name, "rules")
    state = _path(data.get("state", path.stem + ".state.sqlite"), base, name, "state")
    for key, file in (("rules", rules), ("state", state)):
        _not_a_folder(file, name, key)
    lock = Path(str(state) + ".lock")
    if lock.is_dir():
        raise ConfigError(f"{name}: {lock} (the sync's lock file, beside the state file) is a "
                          "folder; move it away, or set state = \"...\" to another path")
    return Config(path, rules, state, parsed["crm"], parsed["sheet"], parsed["fields"], parsed["parsing"],
                  parsed["log"], parsed["sync"], parsed["orders"], _language(data.get("language"), name))


def _language(value: Any, name: str) -> str:
    if value is None:
        return ""
    if value not in LANGUAGES:
        raise ConfigError(f"{name}: language must be one of {', '.join(repr(x) for x in LANGUAGES)} "
                          f"(got {value!r}); leave it out to follow the system locale")
    return str(value)


def _fields(fields: Mapping[str, Any], base: Path, name: str, parsed: Mapping[str, Any]) -> dict[str, str]:
    for canonical, field_name in fields.items():
        if not isinstance(field_name, str) or not field_name.strip():
            raise ConfigError(f"{name} [fields] {canonical}: give the CRM field name as text, "
                              f"e.g. {canonical} = \"{canonical}\"")
        _field_key(canonical, field_name, name)
    return dict(fields)


def _crm(table: Mapping[str, Any], base: Path, name: str, parsed: Mapping[str, Any]) -> CrmSettings:
    crm_table = dict(table)
    _crm_types(crm_table, name)
    if "kind" not in crm_table:
        raise ConfigError(f"{name} [crm]: set kind, e.g. kind = \"sqlite\"")
    fields = parsed["fields"]
    return CrmSettings(
        kind=str(crm_table.pop("kind")),
        options=crm_table,
        base_dir=base,
        id_field=str(fields.get("id", "id")),
        category_field=str(crm_table.get("category_field", "category")),
        fields=tuple(dict.fromkeys(str(v) for v in fields.values())),
    )


def did_you_mean(word: str, known: Any) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, or nothing."""
    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _field_key(canonical: str, field_name: str, name: str) -> None:
    """A ``[fields]`` key is one of our columns (or one the rules declare in COLUMNS): a typo
    of ours, or the mapping written backwards, is said at once."""
    if canonical in COLUMNS:
        return
    hint = did_you_mean(canonical, COLUMNS)
    if hint or not _FIELD_NAME.match(canonical):
        raise ConfigError(
            f"{name} [fields]: unknown column {canonical!r}{hint}. The left side is our column "
            f"({', '.join(COLUMNS)}, or one rules.py declares in COLUMNS), the right side the "
            f"CRM's field, e.g. revenue = \"{field_name}\"")


def check_fields(config: Config, declared: Mapping[str, Any]) -> None:
    """Every ``[fields]`` key is a canonical column or one the rules declare (``declared``,
    :attr:`RuleSet.columns`); call once the rules are loaded."""
    known = list(COLUMNS) + list(declared)
    for key, value in config.fields.items():
        if key not in known:
            raise ConfigError(
                f"{config.path.name} [fields]: unknown column {key!r}{did_you_mean(key, known)}. "
                f"Map one of {', '.join(known)}, or declare it in the rules' COLUMNS "
                f"(COLUMNS = {{\"{key}\": \"number\"}}); it maps the CRM's {value!r}.")


def _crm_types(table: Mapping[str, Any], name: str) -> None:
    for key in _CRM_TEXT:
        if key in table and (not isinstance(table[key], str) or not table[key].strip()):
            raise ConfigError(f"{name} [crm] {key} must be text in quotes, e.g. {key} = "
                              f"\"{table[key]}\" (got {table[key]!r})")
    for key in _CRM_NUMBERS:
        value = table.get(key)
        if key in table and (isinstance(value, bool) or not isinstance(value, int | float)
                             or value != value or value < 0):
            raise ConfigError(f"{name} [crm] {key} must be a number without quotes, e.g. "
                              f"{key} = 100 (got {value!r})")


def _not_a_folder(path: Path, name: str, key: str) -> None:
    if path.is_dir():
        example = {"rules": "rules.py", "[log] file": "sync.log"}.get(key, "sheets-sync.state.sqlite")
        raise ConfigError(f"{name}: {key} = {str(path)!r} is a folder; give a file path, "
                          f"e.g. {key} = \"{path.name}/{example}\"")


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


def _sheet(table: Mapping[str, Any], base: Path, name: str, parsed: Mapping[str, Any]) -> SheetSettings:
    if "workbook" in table and "google" in table:
        raise ConfigError(f"{name} [sheet]: set either workbook or google, not both")
    for key in _SHEET_TEXT:
        if key in table and (not isinstance(table[key], str) or not table[key].strip()):
            raise ConfigError(f"{name} [sheet] {key} must be text in quotes (got {table[key]!r})")
    for key, least in _SHEET_NUMBERS.items():
        value = table.get(key)
        if key in table and (isinstance(value, bool) or not isinstance(value, int | float)
                             or value != value or value < least or value == float("inf")):
            raise ConfigError(f"{name} [sheet] {key} must be a number without quotes, at least "
                              f"{least}, e.g. {key} = 60 (got {value!r})")
    if "live_formulas" in table and not isinstance(table["live_formulas"], bool):
        raise ConfigError(f"{name} [sheet] live_formulas must be true or false without quotes "
                          f"(got {table['live_formulas']!r})")
    if "google" in table:
        kind, target = "google", str(table["google"])
    else:
        workbook = _path(table.get("workbook", "clients.xlsx"), base, name, "[sheet] workbook")
        if workbook.is_dir():
            raise ConfigError(f"{name} [sheet] workbook = {str(workbook)!r} is a folder; give "
                              "the workbook's file path, e.g. workbook = \"clients.xlsx\"")
        kind, target = "workbook", str(workbook)
    tabs = {key: _tab_name(table.get(key, default), name, key)
            for key, default in (("clients_tab", "Clients"), ("history_tab", "History"))}
    seen: dict[str, str] = {}
    fixed = [(f"the {t} tab", name) for t in FIXED_TABS for name in all_languages(t, "tab")]
    for key, tab in [*tabs.items(), *fixed]:
        other = seen.get(tab.casefold())
        if other:
            raise ConfigError(f"{name} [sheet]: {other} and {key} are both {tab!r}; every tab "
                              f"needs its own name (tabs of ours: {', '.join(FIXED_TABS)} too)")
        seen[tab.casefold()] = key
    headers = _headers(table.get("headers", {}), name)
    options = {k: v for k, v in table.items() if k not in {"workbook", "google", "clients_tab",
                                                          "history_tab", "headers"}}
    return SheetSettings(kind, target, tabs["clients_tab"], tabs["history_tab"], headers,
                         options, base)


def _tab_name(value: Any, name: str, key: str) -> str:
    """A tab name both Excel and Google Sheets accept."""
    fix = f"e.g. {key} = \"{'Clients' if key == 'clients_tab' else 'History'}\""
    if not isinstance(value, str):
        raise ConfigError(f"{name} [sheet] {key} must be a tab name in quotes, {fix} "
                          f"(got {value!r})")
    if not value.strip():
        raise ConfigError(f"{name} [sheet] {key} is blank; {fix}")
    if len(value) > TAB_MAX:
        raise ConfigError(f"{name} [sheet] {key} {value!r} has {len(value)} characters; Excel "
                          f"allows at most {TAB_MAX} in a tab name")
    bad = _TAB_FORBIDDEN.search(value)
    if bad or value.startswith("'") or value.endswith("'"):
        char = bad.group() if bad else "'"
        raise ConfigError(f"{name} [sheet] {key} {value!r}: a tab name cannot hold {char!r} "
                          "(Excel forbids [ ] : * ? / \\ and a quote at either end)")
    if value != value.strip():
        raise ConfigError(f"{name} [sheet] {key} {value!r} starts or ends with a space; "
                          f"remove it")
    if key != "history_tab" and value.casefold() == "history":
        raise ConfigError(f"{name} [sheet] {key} cannot be 'History': Excel reserves that name "
                          "for its own history of changes, and it is the default history_tab")
    return value


def _headers(headers: Any, name: str) -> dict[str, str]:
    """``[sheet.headers]``: our column -> the header the owner wants; each header unique and
    not the name of another of our columns (else a column could not be told from another)."""
    if not isinstance(headers, dict):
        raise ConfigError(f"{name} [sheet] headers must be a table of column = \"Header\"")
    from .layout import COMPUTED, OWNER

    ours = [*COLUMNS, *COMPUTED, *OWNER]
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for column, header in headers.items():
        if not isinstance(header, str) or not header.strip():
            raise ConfigError(f"{name} [sheet.headers] {column}: give the header as text, e.g. "
                              f"{column} = \"Категория\" (got {header!r})")
        key = header_key(header)
        clash = next((c for c in ours if c != column and header_key(c) == key), None)
        if clash:
            raise ConfigError(f"{name} [sheet.headers] {column} = {header!r} is the name of our "
                              f"column {clash!r}; choose another header")
        if key in seen:
            raise ConfigError(f"{name} [sheet.headers]: {seen[key]} and {column} both have the "
                              f"header {header!r}; each column needs its own")
        seen[key] = column
        out[str(column)] = header
    return out


def _sync(table: Mapping[str, Any], base: Path, name: str, parsed: Mapping[str, Any]) -> SyncSettings:
    gone, share = table.get("max_gone", 50), table.get("max_gone_share", 0.10)
    if isinstance(gone, bool) or not isinstance(gone, int) or gone < 0:
        raise ConfigError(f"{name} [sync] max_gone must be a whole number without quotes, e.g. "
                          f"max_gone = 50 (got {gone!r})")
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
        raise ConfigError(f"{name} [sync] max_gone_share must be a share from 0 to 1 without quotes, "
                          f"e.g. max_gone_share = 0.1 for 10 % (got {share!r})")
    return SyncSettings(gone, float(share))


def _log(table: Mapping[str, Any], base: Path, name: str, parsed: Mapping[str, Any]) -> LogSettings:
    level = str(table.get("level", "INFO")).upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"{name} [log] level must be debug, info, warning or error, not {level.lower()!r}")
    max_bytes, backups = table.get("max_bytes", 1_000_000), table.get("backups", 5)
    for key, value in (("max_bytes", max_bytes), ("backups", backups)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{name} [log] {key} must be a whole number without quotes, "
                              f"e.g. {key} = 5 (got {value!r})")
    file = _path(table["file"], base, name, "[log] file") if "file" in table else None
    if file is not None:
        _not_a_folder(file, name, "[log] file")
    return LogSettings(file, max_bytes, backups, level)


def _parsing(table: Mapping[str, Any], base: Path, name: str, parsed: Mapping[str, Any]) -> ParseOptions:
    years = []
    for key, default in (("min_year", MIN_YEAR), ("max_year", MAX_YEAR)):
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) \
                or not HARD_MIN_YEAR <= value <= HARD_MAX_YEAR:
            raise ConfigError(f"{name} [parsing] {key} must be a year from {HARD_MIN_YEAR} to "
                              f"{HARD_MAX_YEAR} without quotes, e.g. {key} = {default} "
                              f"(got {value!r})")
        years.append(value)
    if years[0] > years[1]:
        raise ConfigError(f"{name} [parsing] min_year {years[0]} is after max_year {years[1]}")
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
    return ParseOptions(None if decimal == "auto" else decimal, order, (years[0], years[1]))


ORDER_SOURCES = ("crm", "sql", "file")
#: our deal fields a [orders.columns] table maps; client_id, amount and date are required
ORDER_FIELDS = ("client_id", "amount", "date", "cost", "status")
_ORDERS_KEYS = {"crm": {"source", "won"},
                "sql": {"source", "url", "path", "table", "password_env", "columns", "won"},
                "file": {"source", "path", "sheet", "encoding", "delimiter", "columns", "won"}}
_CRM_DEALS = ("amocrm", "kommo", "bitrix24", "hubspot")


def _orders(table: Any, base: Path, name: str, crm_kind: str) -> OrdersSettings:
    """``[orders]``, checked: the source, its keys, the column mapping and the won statuses."""
    if not isinstance(table, dict):
        raise ConfigError(f"{name}: [orders] must be a table, e.g. [orders] on its own line")
    source = table.get("source")
    if source not in ORDER_SOURCES:
        raise ConfigError(f"{name} [orders] source must be one of {', '.join(map(repr, ORDER_SOURCES))}"
                          f" (got {source!r}): \"crm\" for the deals of the CRM in [crm], \"sql\" "
                          "for an orders table, \"file\" for a CSV or XLSX file of orders")
    for key in ("url", "path", "table", "sheet", "encoding", "password_env"):
        if key in table and (not isinstance(table[key], str) or not table[key].strip()):
            raise ConfigError(f"{name} [orders] {key} must be text in quotes (got {table[key]!r})")
    if source == "crm" and crm_kind not in _CRM_DEALS:
        raise ConfigError(f"{name} [orders] source = \"crm\" reads the deals of amoCRM, Bitrix24 or "
                          f"HubSpot; [crm] kind is {crm_kind!r}. Use source = \"sql\" (an orders "
                          "table) or \"file\" (a CSV/XLSX of orders) instead.")
    check_keys(table, _ORDERS_KEYS[source], "orders", file=name)
    if source == "sql":
        if ("url" in table) == ("path" in table):
            raise ConfigError(f"{name} [orders] source = \"sql\": set url (any SQLAlchemy URL) or "
                              "path (a SQLite file), one of them")
        if "table" not in table:
            raise ConfigError(f"{name} [orders] source = \"sql\": set table, e.g. table = \"orders\"")
    if source == "file" and "path" not in table:
        raise ConfigError(f"{name} [orders] source = \"file\": set path, e.g. path = \"orders.csv\"")
    path = _path(table["path"], base, name, "[orders] path") if "path" in table else None
    if source == "file" and path is not None and path.suffix.lower() not in (".csv", ".txt", ".xlsx", ".xlsm"):
        raise ConfigError(f"{name} [orders] path {path.name!r}: give a .csv or .xlsx file of orders")
    if path is not None:
        _not_a_folder(path, name, "[orders] path")
    delimiter = table.get("delimiter")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise ConfigError(f"{name} [orders] delimiter must be one character, e.g. delimiter = \";\" "
                          f"(got {delimiter!r})")
    columns = table.get("columns", {})
    if not isinstance(columns, dict):
        raise ConfigError(f"{name} [orders] columns must be a table, e.g. [orders.columns] with "
                          "client_id = \"company_id\"")
    for key, value in columns.items():
        if key not in ORDER_FIELDS:
            raise ConfigError(f"{name} [orders.columns]: unknown field {key!r}"
                              f"{did_you_mean(key, ORDER_FIELDS)}. The left side is ours "
                              f"({', '.join(ORDER_FIELDS)}), the right side the source's column, "
                              "e.g. amount = \"Сумма\"")
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{name} [orders.columns] {key}: give the column name as text, e.g. "
                              f"{key} = \"{key}\" (got {value!r})")
    won = table.get("won", [])
    if isinstance(won, str):
        won = [won]
    if not isinstance(won, list) or not all(isinstance(w, str | int) and not isinstance(w, bool)
                                            and str(w).strip() for w in won):
        raise ConfigError(f"{name} [orders] won must be a list of status values, e.g. won = "
                          f"[\"won\", \"Оплачен\"] (got {won!r})")
    if source == "crm" and won:
        raise ConfigError(f"{name} [orders] won: the CRM's deals are won by the vendor's own status "
                          "(amoCRM 142, Bitrix24 stage semantics S, HubSpot's closed-won stages); "
                          "remove won")
    return OrdersSettings(source, base, path, table.get("url"), table.get("table"), table.get("sheet"),
                          table.get("encoding"), delimiter, table.get("password_env"),
                          {str(k): str(v) for k, v in columns.items()}, tuple(str(w).strip() for w in won))


#: The config's top-level keys besides its tables.
TOP_KEYS = frozenset({"rules", "state", "language"})
#: The config's tables, validated in this order (a later one may read an earlier one's
#: settings: [crm] takes the id field from [fields]). A new table is one entry here and a
#: field of :class:`Config`.
TABLES: dict[str, Table] = {
    "fields": Table(None, _fields),  # keys: our columns, checked by _field_key and check_fields
    "crm": Table(None, _crm),  # keys: the adapter's, checked by the adapter (check_keys)
    "sheet": Table(frozenset(_SHEET), _sheet),
    "parsing": Table(frozenset({"decimal", "dates", "min_year", "max_year"}), _parsing),
    "log": Table(frozenset({"file", "max_bytes", "backups", "level"}), _log),
    "sync": Table(frozenset({"max_gone", "max_gone_share"}), _sync),
    "orders": Table(None, lambda t, base, name, parsed: _orders(t, base, name, parsed["crm"].kind)
                    if t else None),  # keys: per source, checked by _orders
}
