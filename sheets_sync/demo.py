"""The embedded default: a demo CRM (SQLite), a config, the default rules and a local workbook.

Everything is generated from a fixed seed, so the demo looks the same on every machine.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

from .errors import ConfigError

_CONFIG_TEMPLATE = """\
# sheets-sync config: the demo. Relative paths are relative to this file.
language = "{language}"                    # the sheet, reasons and messages: "ru" or "en"
rules = "rules.py"                  # the category rules (edit the thresholds there)
state = "sheets-sync.state.sqlite"  # history of category changes, last-synced snapshot

[crm]
kind = "sqlite"                     # a home-grown CRM in SQLite
path = "crm.sqlite"
table = "companies"
category_field = "category"         # where categories are written back

[sheet]
workbook = "clients.xlsx"           # a local workbook; or google = "<spreadsheet key or URL>"
clients_tab = "{clients_tab}"
history_tab = "{history_tab}"

[parsing]
decimal = "auto"                    # "," or "." if your CRM writes numbers one way
dates = "dmy"                       # 01/02/2026 is 1 February; "mdy" for 2 January

[fields]                            # canonical column = the CRM's field name
id = "id"
name = "company"
revenue = "revenue_rub"
costs = "costs_rub"
orders_12m = "orders_12m"
first_order = "first_order"
last_order = "last_order"
overdue_days = "overdue_days"
referrals = "referrals"
potential = "potential_rub"
nps = "nps"
blacklisted = "blacklisted"
"""

#: The demo's deals (in the demo's config, before [fields], which stays the last table).
ORDERS_TEXT = """\
[orders]                            # metrics from the deals: revenue_12m, cv_12m, xyz, abc, rfm...
source = "sql"                      # the orders table of the demo CRM ("file" for a CSV/XLSX)
path = "crm.sqlite"
table = "orders"
won = ["won"]                       # the statuses that count as won deals
[orders.columns]                    # ours = the table's column
client_id = "company_id"
amount = "amount"
date = "closed_on"
cost = "cost"
status = "status"
"""

RU_FORMS = ["ООО", "АО", "ИП", "ЗАО", "ПАО"]
RU_NAMES = ["Ромашка", "Вектор", "СтройМонтаж", "Северный ветер", "Альфа-Трейд", "ТехноСнаб",
            "Уральские узоры", "Лесопромсервис", "Волга-Логистик", "Кондитерская «Пчёлка»",
            "Меридиан", "Гранит", "Сибирский хлеб", "Фабрика окон", "АгроДом", "Контур",
            "Байкал-Сервис", "Печати и штампы", "Кофейня на Садовой", "Тепловые системы",
            "Медицинский центр «Здоровье»", "Автомир", "Спектр", "Профиль-М", "Ладога"]
EN_NAMES = ["Acme Logistics", "Blue River Foods", "Northwind Traders", "Bright Dental",
            "Summit Print", "Greenleaf Cafe", "Atlas Engineering", "Harbor Freight Co",
            "Pinecrest Hotels", "Redwood Analytics", "Silverline Media", "Oak & Iron",
            "Quantum Bakery", "Sunrise Clinics", "Vertex Tools"]
EN_FORMS = ["Ltd", "LLC", "Inc.", "GmbH", ""]

PROFILES = [  # name, weight, roi range, revenue range, orders, overdue, referrals, nps
    ("vip", 10, (0.6, 2.0), (800_000, 6_000_000), (4, 24), (0, 10), (0, 4), (7, 10)),
    ("loyal", 20, (0.15, 0.45), (300_000, 2_500_000), (4, 18), (0, 15), (0, 2), (6, 10)),
    ("prospect", 15, (0.05, 0.4), (20_000, 200_000), (1, 3), (0, 5), (0, 1), (7, 10)),
    ("filler", 30, (0.02, 0.3), (50_000, 600_000), (1, 3), (0, 20), (0, 0), (3, 8)),
    ("late", 12, (0.05, 0.5), (100_000, 900_000), (1, 8), (30, 240), (0, 0), (0, 6)),
    ("loss", 8, (-0.4, -0.02), (50_000, 800_000), (1, 6), (0, 60), (0, 0), (0, 6)),
    ("new", 5, (0.0, 0.0), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0)),
]


#: a demo client of the vip or loyal kind with this many orders a year buys every month
STEADY_ORDERS = 13

#: the default rules file of each language: the same logic, titles, strategies and comments
RULES_FILES = {"en": "default_rules.py", "ru": "default_rules_ru.py"}


def default_rules_text(language: str = "en") -> str:
    name = RULES_FILES.get(language, RULES_FILES["en"])
    return resources.files("sheets_sync").joinpath(name).read_text("utf-8")


#: the demo's tab names per language
TABS = {"en": ("Clients", "History"), "ru": ("Клиенты", "История")}


def config_text(language: str) -> str:
    clients_tab, history_tab = TABS.get(language, TABS["en"])
    return _CONFIG_TEMPLATE.format(language=language, clients_tab=clients_tab, history_tab=history_tab)


CONFIG_TEXT = config_text("en")


def demo_config(language: str = "en") -> str:
    """The demo's config: the config text with the [orders] table of its deals."""
    return config_text(language).replace("\n[fields]", "\n" + ORDERS_TEXT + "\n[fields]")


def create_demo(folder: Path, *, clients: int = 300, today: date | None = None,
                seed: int = 20261123, language: str | None = None) -> dict[str, Path]:
    """Write config, rules, and the demo CRM into ``folder`` (which must not hold them yet);
    ``language`` (default: the system's) is the config's, and names the tabs."""
    from .i18n import system_language

    language = language or system_language()
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"config": folder / "sheets-sync.toml", "rules": folder / "rules.py",
             "crm": folder / "crm.sqlite", "workbook": folder / "clients.xlsx",
             "export": folder / "export.csv"}
    existing = [p.name for p in paths.values() if p.exists()]
    if existing:
        raise ConfigError(f"{folder} already holds {', '.join(existing)}. Choose an empty "
                          "folder, e.g. `sheets-sync demo new-folder`.")
    paths["config"].write_text(demo_config(language), encoding="utf-8")
    paths["rules"].write_text(default_rules_text(language), encoding="utf-8")
    write_demo_crm(paths["crm"], clients, today or date.today(), seed)
    write_demo_export(paths["export"], EXPORT_CLIENTS, today or date.today(), seed + 1)
    return paths


def demo_rows(n: int, today: date, seed: int, unreadable: bool = False, messy: bool = True) -> list[tuple]:
    """``n`` realistic clients (with a few messy values), deterministic for a seed."""
    rnd = random.Random(seed)
    weights = [p[1] for p in PROFILES]
    rows = []
    for i in range(1, n + 1):
        profile = rnd.choices(PROFILES, weights)[0]
        kind, _, roi, rev, orders, overdue, refs, nps = profile
        if rnd.random() < 0.65:
            name = f"{rnd.choice(RU_FORMS)} «{rnd.choice(RU_NAMES)}»"
        else:
            name = f"{rnd.choice(EN_NAMES)} {rnd.choice(EN_FORMS)}".strip()
        name = f"{name} #{i}" if rnd.random() < 0.3 else name
        if kind == "new":
            rows.append((i, name, 0.0, 0.0, 0, None, None, 0, 0,
                         float(rnd.randrange(100_000, 3_000_000, 10_000)), None, 0, None))
            continue
        revenue = round(rnd.uniform(*rev), -2)
        costs = round(revenue / (1 + rnd.uniform(*roi)), -2)
        n_orders = rnd.randint(*orders)
        tenure_days = rnd.randint(40, 365 * 6) if kind != "prospect" else rnd.randint(30, 300)
        if kind in ("vip", "loyal"):
            tenure_days = max(tenure_days, rnd.randint(400, 365 * 6))
        first = today - timedelta(days=tenure_days)
        last = today - timedelta(days=rnd.randint(1, min(tenure_days, 200)))
        if kind in ("vip", "loyal") and n_orders >= STEADY_ORDERS:  # buys every month, lately too
            last = today - timedelta(days=1 + i % 20)  # (no draw: the other values stay as they were)
        potential = revenue * (rnd.uniform(2.5, 6) if kind == "prospect" else rnd.uniform(0.5, 1.8))
        rows.append((i, name, revenue, costs, n_orders, first.isoformat(), last.isoformat(),
                     rnd.randint(*overdue), rnd.randint(*refs), round(potential, -3),
                     rnd.randint(*nps) if rnd.random() > 0.1 else None,
                     1 if kind == "late" and rnd.random() < 0.15 else 0, None))
    if messy:
        _make_messy(rows, rnd, unreadable)
    return rows


def demo_deals(rows: list[tuple], today: date, seed: int) -> list[tuple]:
    """The demo CRM's deals, consistent with its clients (the clean values of ``rows``): the
    won deals of the 365 days up to ``today`` add up to the client's revenue and costs and
    count its orders_12m, the last is on last_order, the first on first_order. A client with
    STEADY_ORDERS or more orders a year and a recent last order buys every month for about
    the same sum (XYZ X or Y); the others buy in random months (mostly Z). A few lost deals
    (status 'lost') ride along."""
    rnd = random.Random(seed)
    deals: list[tuple] = []
    window = today - timedelta(days=364)
    this_month = date(today.year, today.month, 1)
    months = []  # the first day of each of the last 12 full months
    for k in range(12, 0, -1):
        y, m = divmod(today.year * 12 + today.month - 1 - k, 12)
        months.append(date(y, m + 1, 1))
    for cid, _, revenue, costs, n_orders, first, last, *_ in rows:
        if not n_orders or first is None or last is None:
            continue
        first_day, last_day = date.fromisoformat(first), date.fromisoformat(last)
        start = max(first_day, window)
        days: list[date] = []
        weights: list[float] = []
        if n_orders >= STEADY_ORDERS and last_day >= months[-1] and first_day <= window:
            rest = n_orders - 1  # one deal on last_order; the others over the 12 full months
            per_month = [1] * 12
            for k in rnd.sample(range(12), rest - 12) if rest > 12 else []:
                per_month[k] += 1
            for k, count in enumerate(per_month[:rest]):
                low = max(months[k], start)
                high = (months[k + 1] if k < 11 else this_month) - timedelta(days=1)
                high = min(high, last_day)
                share = rnd.uniform(0.96, 1.04) / count
                for _ in range(count):
                    days.append(low + timedelta(days=rnd.randint(0, max((high - low).days, 0))))
                    weights.append(share)
            days.append(last_day)
            weights.append(1.0 if last_day >= this_month else weights[-1])
        else:
            days = sorted(start + timedelta(days=rnd.randint(0, max((last_day - start).days, 0)))
                          for _ in range(n_orders - 1)) + [last_day]
            weights = [rnd.uniform(0.3, 1.7) for _ in days]
        total = sum(weights)
        amounts = [round(revenue * w / total, 2) for w in weights]
        amounts[-1] = round(revenue - sum(amounts[:-1]), 2)
        ratio = costs / revenue if revenue else 0.0
        for day, amount in zip(days, amounts, strict=True):
            deals.append((cid, amount, day.isoformat(), round(amount * ratio, 2), "won"))
        if first_day < window:  # older deals: the first on first_order
            older = [first_day] + [first_day + timedelta(days=rnd.randint(0, (window - first_day).days - 1))
                                   for _ in range(rnd.randint(0, 4))]
            for day in older:
                amount = round(revenue / max(n_orders, 1) * rnd.uniform(0.5, 1.5), 2)
                deals.append((cid, amount, day.isoformat(), round(amount * ratio, 2), "won"))
        if rnd.random() < 0.2:
            deals.append((cid, round(revenue * 0.1, 2), (last_day - timedelta(days=5)).isoformat(),
                          None, "lost"))
    rnd.shuffle(deals)
    return deals


def _make_messy(rows: list[tuple], rnd: random.Random, unreadable: bool = False) -> None:
    """A few values as real CRMs hold them: text money, Russian dates, gaps; with
    ``unreadable`` also values no reader can take (the one-off export shows those: its clients
    come out unqualified, with the column and the value). The demo CRM holds only readable
    ones, so the demo and a sync of it exit 0 as a healthy setup does."""
    def patch(index: int, column: int, value: object) -> None:
        row = list(rows[index])
        row[column] = value
        rows[index] = tuple(row)

    messy = [
        (2, "1 234 567,89 ₽"),
        (5, "15.03.2021"),                               # a Russian date, read fine
        (2, "2\u202f450\u202f000 руб."),                 # narrow no-break spaces
        (1, '=HYPERLINK("http://example.com","Click me") Ltd'),  # stays text
        (3, "(1 200)"),                                  # accounting negative: read as -1200
        (10, "n/a"),
        (7, "—"),
        (2, "980,000.00"),
    ]
    if unreadable:
        messy[1:1] = [
            (2, "н/д"),                                  # unqualified: revenue missing
            (3, "12,3,4"),                               # unqualified: a typo
            (6, "31.02.2026"),                           # unqualified: no such date
            (3, None),                                   # unqualified: costs missing
        ]
    picks = rnd.sample(range(len(rows)), min(len(messy), len(rows)))
    for index, (column, value) in zip(picks, messy, strict=False):
        patch(index, column, value)


#: The sample export ``sheets-sync categorize export.csv`` reads: as a Russian CRM or 1C saves it
#: from Excel (Windows-1251, ``;``, decimal commas, dd.mm.yyyy dates, Russian headers).
EXPORT_CLIENTS = 40
EXPORT_HEADER = ["Код", "Компания", "Менеджер", "Выручка", "Затраты", "Заказы за 12 месяцев",
                 "Дата первого заказа", "Дата последнего заказа", "Дней просрочки",
                 "Рекомендации", "Потенциал", "NPS", "Чёрный список"]
MANAGERS = ["Иванова А.", "Петров С.", "Смирнова Е.", "Ким Д."]


def _money(value: object) -> str:
    """A number as a Russian spreadsheet writes it: ``1 234 567,89`` (no-break spaces)."""
    if not isinstance(value, float | int):
        return "" if value is None else str(value)
    text = f"{value:,.2f}".replace(",", "\u00a0").replace(".", ",")
    return text[:-3] if text.endswith(",00") else text


def _ru_date(value: object) -> str:
    if isinstance(value, str) and len(value) == 10 and value[4] == "-":
        return f"{value[8:]}.{value[5:7]}.{value[:4]}"
    return "" if value is None else str(value)


def write_demo_export(path: Path, n: int, today: date, seed: int) -> None:
    """A one-off CRM export of ``n`` other clients, some of them with messy values."""
    rnd = random.Random(seed)
    rows = demo_rows(n, today, seed, unreadable=True)
    lines = [";".join(EXPORT_HEADER)]
    for row in rows:
        cid, name, revenue, costs, orders, first, last, overdue, refs, potential, nps, black, _ = row
        cells = [f"К-{1000 + cid}", str(name).replace(";", ","), rnd.choice(MANAGERS),
                 _money(revenue), _money(costs), str(orders), _ru_date(first), _ru_date(last),
                 str(overdue), str(refs), _money(potential), "" if nps is None else str(nps),
                 "да" if black else "нет"]
        lines.append(";".join(cells))
    text = "\r\n".join(lines) + "\r\n"
    text = text.replace("\u202f", "\u00a0").replace("₽", "руб.")  # not in Windows-1251
    path.write_bytes(text.encode("cp1251"))


def write_demo_crm(path: Path, n: int, today: date, seed: int) -> None:
    rows = demo_rows(n, today, seed)
    db = sqlite3.connect(path)
    with db:
        db.execute(
            "CREATE TABLE companies (id INTEGER PRIMARY KEY, company TEXT, revenue_rub, "
            "costs_rub, orders_12m INTEGER, first_order, last_order, overdue_days, "
            "referrals INTEGER, potential_rub, nps, blacklisted INTEGER, category TEXT)")
        db.executemany(f"INSERT INTO companies VALUES ({', '.join('?' * 13)})", rows)
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, company_id INTEGER, amount REAL, "
                   "closed_on TEXT, cost REAL, status TEXT)")
        db.executemany("INSERT INTO orders (company_id, amount, closed_on, cost, status) "
                       "VALUES (?, ?, ?, ?, ?)", demo_deals(demo_rows(n, today, seed, messy=False),
                                                            today, seed + 2))
    db.close()
