"""Category rules of this business, read by sheets-sync.

This file is read, never run: it may hold only assignments of literal values (strings,
numbers, lists, dicts). Edit the thresholds to fit your business; `sheets-sync check` tells
you at once if something is wrong, with the line.

Conditions are small expressions over the client table's columns:
    names       columns (revenue, costs, orders_12m, overdue_days, referrals, potential, nps,
                blacklisted...), the derived metrics below, the stage, METRICS, THRESHOLDS
    operators   < <= > >= == != (chains like 0 < x <= 10 too), and, or, not, + - * /,
                in ('a', 'b'), parentheses, true, false
    functions   isblank(x), abs(x), min(a, b), max(a, b)
A blank value makes a comparison unknown (as in SQL): `nps >= 9` does not hold for a client
without an NPS, and neither does `not (nps >= 9)`; test blanks with isblank(nps).

Derived metrics, computed before the rules:
    profit            revenue - costs
    roi_pct           profit / costs * 100; blank when costs are blank or not above 0
                      (a client with zero costs has no ratio; the rules below then skip A)
    margin_pct        profit / revenue * 100; blank when revenue is blank or not above 0
    profit_share_cum  Pareto: the share of total profit made by the clients who earn more than
                      this one (highest profit first; 0 for the top client). Below 0.8 means
                      "among the clients who make the first 80 % of all profit".
                      Blank when the client's profit is not above 0.
    tenure_months     whole months since first_order
    recency_days      days since last_order

From the deals, with an [orders] source in the config (blank without one; a field of the
company record mapped in [fields] wins). "Won deals" are the ones the source marks won; the
window is the 365 days up to and including the day of the sync:
    revenue_12m       sum of the won deals' amounts in the window (0 without deals); with
                      [orders], revenue is revenue_12m unless [fields] maps revenue
    costs_12m         sum of the costs of those deals that carry one (0 without deals; blank
                      when none carries a cost); costs is costs_12m unless [fields] maps costs
    orders_12m        the number of those deals (0 without deals)
    first_order       close date of the first won deal, all time (blank without deals)
    last_order        close date of the last won deal, all time (blank without deals)
    avg_order         revenue_12m / orders_12m (blank when orders_12m is 0)
    months_active_12m of the last 12 full calendar months (this month not included), the
                      number with at least one won deal
    cv_12m            stability: population standard deviation / mean of the 12 monthly sums
                      of the last 12 full calendar months, rounded to 6 decimals; blank when
                      the mean is 0. 0 is perfectly steady; above 1 is "now and then".
    xyz               X when cv_12m <= xyz_x, Y when <= xyz_y, else Z (blank when cv_12m is)
    abc               by cumulative share of revenue_12m, highest first: A while the clients
                      ranked above make less than abc_a of all revenue, B less than abc_b,
                      else C (blank when revenue_12m is not above 0)
    r_score, f_score, m_score
                      1-5 by quintiles among the clients with a won deal: ceil(5 x the share
                      of them with a last_order / orders_12m / revenue_12m no higher than
                      this client's); 5 is the most recent, frequent, valuable
    rfm               the three scores as one code, e.g. '545' (blank without deals)

First match wins, top to bottom. A manual category set by the owner in the sheet wins over
all of them. A client with a value that cannot be read, or with a REQUIRED value missing, is
"unqualified" and goes into no category until the data is fixed.
"""

THRESHOLDS = {
    # A (VIP): judge profit as a ratio, not contract sums
    "roi_a": 50,            # ROI at least 50 % (200,000 on 100,000 of costs is 100 %)
    "pareto_a": 0.8,        # and within the clients who make the top 80 % of all profit
    # B (good): loyal, buying constantly
    "orders_regular": 4,    # at least 4 orders in the last 12 months
    # stability of the monthly sums (cv_12m) from the deals: X steady, Y fairly, Z now and then
    "xyz_x": 0.1,           # X: cv_12m at most 0.10
    "xyz_y": 0.25,          # Y: cv_12m at most 0.25
    # ABC by share of revenue_12m
    "abc_a": 0.8,           # A: the clients who make the first 80 % of revenue
    "abc_b": 0.95,          # B: up to 95 %; C the rest
    # C (prospective): little now, realistic growth
    "potential_c": 2,       # estimated potential at least 2x today's revenue
    "nps_promoter": 9,      # or a promoter (NPS 9-10) who is still new
    "new_months": 12,       # "new": a client for less than 12 months
    # the loyalty ladder
    "adherent_months": 24,  # an adherent has bought regularly for 2 years or more
    # AAA: A clients who are loyal and bring others
    "referrals_aaa": 2,
    # E (no, thanks) and its extensions
    "overdue_e": 90,        # pays 90+ days late
    "overdue_ee": 30,       # EE: an E client who also pays 30+ days late
    "overdue_eee": 180,     # EEE: blacklisted, or 180+ days late
}

# Values a client must have to be categorized at all.
REQUIRED = ["revenue", "costs", "orders_12m"]

# Extra columns of your CRM that the rules may use, with their kind
# (text, money, number, count, date, bool), e.g. {"partners": "count"}.
COLUMNS = {}

# The loyalty ladder (first match wins). The stage is a column too: rules can use it.
STAGES = [
    {"code": "potential", "title": "Potential",
     "when": "isblank(first_order) and (isblank(orders_12m) or orders_12m == 0)",
     "strategy": "Attract: they do not know us yet."},
    {"code": "adherent", "title": "Adherent",
     "when": "orders_12m >= orders_regular and tenure_months >= adherent_months"
             " and (referrals >= 1 or nps >= nps_promoter)",
     "strategy": "Cherish: unique offers, VIP service; they pay a premium and recommend us."},
    {"code": "regular", "title": "Regular",
     "when": "orders_12m >= orders_regular",
     "strategy": "Retain: bonuses, extra services; move them up to adherents."},
    {"code": "first_purchase", "title": "First purchase",
     "when": "true",
     "strategy": "Engage: win the second purchase; watch demand, order size and profit."},
]

# Named conditions the categories share.
METRICS = {
    "vip": "roi_pct >= roi_a and profit_share_cum < pareto_a",
    "loyal": "stage == 'adherent'",
    # buys steadily: X or Y by the deals; without deal data (no [orders] source, or no deals
    # in the last 12 full months) orders alone decide
    "steady": "xyz in ('X', 'Y') or isblank(xyz)",
    "unwanted": "profit < 0 or overdue_days >= overdue_e",
}

CATEGORIES = [
    {"code": "EEE", "title": "No, thanks: never again",
     "when": "blacklisted or overdue_days >= overdue_eee",
     "strategy": "Stop work, collect the debt, take no new orders.",
     "colour": "#E06666"},
    {"code": "EE", "title": "No, thanks: payment problems",
     "when": "unwanted and overdue_days >= overdue_ee",
     "strategy": "Prepayment only; part ways when a better client needs the capacity.",
     "colour": "#F4B183"},
    {"code": "E", "title": "No, thanks",
     "when": "unwanted",
     "strategy": "Do not invest; raise prices or let them go.",
     "colour": "#F8CBAD"},
    {"code": "AAA", "title": "VIP: loyal and recommends us",
     "when": "vip and loyal and referrals >= referrals_aaa",
     "strategy": "Personal attention from the owner; thank them for every referral.",
     "colour": "#63BE7B"},
    {"code": "AA", "title": "VIP: loyal",
     "when": "vip and loyal",
     "strategy": "Priority service, unique offers; never let deadlines slip here.",
     "colour": "#A9D08E"},
    {"code": "A", "title": "VIP",
     "when": "vip",
     "strategy": "Most profit for the least risk: keep them first in the queue.",
     "colour": "#C6EFCE"},
    {"code": "B", "title": "Good: buys steadily",
     "when": "stage in ('regular', 'adherent') and steady",
     "strategy": "Support them or they leave: the business survives a crisis on them. "
                 "Steady buyers (XYZ X or Y: monthly sums vary little), not only frequent ones.",
     "colour": "#DDEBF7"},
    {"code": "C", "title": "Prospective",
     "when": "potential >= potential_c * revenue"
             " or (tenure_months < new_months and nps >= nps_promoter)",
     "strategy": "Little now, can grow to A or B: develop them deliberately.",
     "colour": "#FFF2CC"},
    {"code": "D", "title": "Filler",
     "when": "true",
     "strategy": "Some profit; nobody worries if they leave. First to wait when capacity is short.",
     "colour": "#EDEDED"},
]
