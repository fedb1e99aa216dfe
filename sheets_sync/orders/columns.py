"""The columns the deals give every client, their kinds and exact definitions.

Kept free of heavy imports: the rules loader, the config and the layout read it.
"""

from __future__ import annotations

from ..table import Kind

#: The frame every deals reader returns: one row per deal.
#: ``client_id`` text (a pandas Categorical as the readers give it: encoded once),
#: ``amount`` float, ``date`` datetime64 (the close date, a day),
#: ``cost`` float (NaN when the deal carries none), ``won`` bool.
DEAL_COLUMNS = ("client_id", "amount", "date", "cost", "won")

#: New columns of the client table, computed from the deals.
ORDER_COLUMNS: dict[str, Kind] = {
    "revenue_12m": Kind.MONEY,
    "costs_12m": Kind.MONEY,
    "avg_order": Kind.MONEY,
    "months_active_12m": Kind.COUNT,
    "cv_12m": Kind.NUMBER,
    "xyz": Kind.TEXT,
    "abc": Kind.TEXT,
    "r_score": Kind.COUNT,
    "f_score": Kind.COUNT,
    "m_score": Kind.COUNT,
    "rfm": Kind.TEXT,
}

#: Canonical columns the deals fill where ``[fields]`` does not map them to a field of the
#: company record (the record's field wins where the config maps it): column -> metric.
FROM_DEALS: dict[str, str] = {
    "revenue": "revenue_12m",
    "costs": "costs_12m",
    "orders_12m": "orders_12m",
    "first_order": "first_order",
    "last_order": "last_order",
}

#: Thresholds the metrics use, overridable in the rules' THRESHOLDS.
DEFAULT_THRESHOLDS: dict[str, float] = {
    "xyz_x": 0.10,  # X: cv_12m at most 0.10
    "xyz_y": 0.25,  # Y: cv_12m at most 0.25 (else Z)
    "abc_a": 0.80,  # A: the clients making the first 80 % of revenue_12m
    "abc_b": 0.95,  # B: up to 95 % (else C)
}

#: Exact definitions; "won deals" are the deals the source marks won, "the sync date" is the
#: day of the sync (``SHEETS_SYNC_NOW`` or ``--today`` fix it). Deals dated after it are left out.
DEFINITIONS: dict[str, str] = {
    "revenue_12m": "sum of the won deals' amounts with a close date in the 365 days up to and "
                   "including the sync date; 0 for a client without such deals",
    "orders_12m": "the number of those deals; 0 for a client without any",
    "first_order": "close date of the client's first won deal (all time); blank without deals",
    "last_order": "close date of the client's last won deal (all time); blank without deals",
    "avg_order": "revenue_12m ÷ orders_12m; blank when orders_12m is 0",
    "costs_12m": "sum of the costs of the deals counted in revenue_12m that carry a cost; 0 when "
                 "there are no such deals; blank when the source has no cost or none of those "
                 "deals carries one",
    "months_active_12m": "of the last 12 full calendar months (the sync date's month not "
                         "included), the number with at least one won deal",
    "cv_12m": "stability: the population standard deviation of the 12 monthly sums of won "
              "amounts of the last 12 full calendar months, divided by their mean, rounded to "
              "6 decimals; blank when the mean is 0",
    "xyz": "X when cv_12m ≤ xyz_x (0.10), Y when ≤ xyz_y (0.25), else Z; blank when cv_12m is",
    "abc": "by cumulative share of revenue_12m, highest first (ties by client id): A when the "
           "clients ranked above make less than abc_a (80 %) of the total, B less than abc_b "
           "(95 %), else C; blank when revenue_12m is not above 0",
    "r_score": "recency 1-5 by quintiles among the clients with a won deal: ceil(5 × share of "
               "them whose last_order is no later than this client's); blank without deals",
    "f_score": "frequency 1-5: ceil(5 × share of those clients whose orders_12m is at most "
               "this client's); blank without deals",
    "m_score": "monetary 1-5: ceil(5 × share of those clients whose revenue_12m is at most "
               "this client's); blank without deals",
    "rfm": "r_score, f_score and m_score as one three-digit code, e.g. '545'; blank without "
           "deals",
}
