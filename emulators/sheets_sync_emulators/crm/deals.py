"""Deterministic demo deals, shared by the three vendors' ``seed_deals``.

:func:`plan` decides, from a seeded :class:`random.Random` and an ``as_of`` date alone (never
the wall clock), which client each deal belongs to, its amount, its outcome (won 70 %, lost
15 %, still open 15 %) and its dates over the two years up to ``as_of``; each vendor turns a
plan into its own record (an amoCRM lead in status 142/143, a Bitrix24 deal in stage
``WON``/``LOSE``, a HubSpot deal in ``closedwon``/``closedlost``). The same arguments give the
same deals on every machine.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

DEMO_AS_OF = dt.date(2026, 11, 1)
_MSK = dt.timezone(dt.timedelta(hours=3))


@dataclass(frozen=True)
class PlannedDeal:
    number: int  # 1-based
    client: int  # index into the vendor's companies, 0-based
    amount: int
    outcome: str  # "won" | "lost" | "open"
    closed: dt.date | None  # the close date (won/lost) or the planned one (open)
    created: float  # epoch seconds
    modified: float  # epoch seconds, never after as_of's end


def epoch(day: dt.date, hour: int) -> float:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=_MSK).timestamp()


def plan(count: int, clients: int, rng: random.Random,
         as_of: dt.date | None = None) -> list[PlannedDeal]:
    """``count`` deals over ``clients`` clients (0 clients: deals without a company).

    Clients are drawn with a skew (a few buy often, most rarely), so the derived ABC/XYZ
    classes have something to tell apart.
    """
    as_of = as_of or DEMO_AS_OF
    out = []
    for number in range(1, count + 1):
        client = min(int(rng.random() ** 2 * clients), clients - 1) if clients else -1
        amount = rng.randrange(5, 500) * 1000
        roll = rng.random()
        outcome = "won" if roll < 0.70 else "lost" if roll < 0.85 else "open"
        if outcome == "open":
            closed = as_of + dt.timedelta(days=rng.randrange(1, 90))
            created_day = as_of - dt.timedelta(days=rng.randrange(0, 60))
            modified_day = created_day
        else:
            closed = as_of - dt.timedelta(days=rng.randrange(0, 730))
            created_day = closed - dt.timedelta(days=rng.randrange(0, 60))
            modified_day = min(closed + dt.timedelta(days=rng.randrange(0, 3)), as_of)
        hour = 9 + rng.randrange(0, 9)
        out.append(PlannedDeal(number, client, amount, outcome, closed,
                               epoch(created_day, hour), epoch(modified_day, hour)))
    return out
