"""The quarterly review, the capacity report, and the Summary tab.

The domain asks for a review at least once a quarter: who moved where and why, whose category
nobody has looked at for a long time, which new clients are still unqualified, and how the
loyalty ladder looks. All of it is computed from the live client table (as a sync would see
it) and the state store's history; nothing is written anywhere but the report file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from .categorize import UNQUALIFIED
from .errors import InputError
from .i18n import N_, _, translate
from .i18n import day as day_text
from .rules.loader import RuleSet

NEW = "(new)"
STALE_DAYS = 90

#: The review's column names as shown (the frames keep the English ones).
REVIEW_COLUMNS = {"id": N_("id"), "name": N_("name"), "from": N_("from"), "to": N_("to"),
                  "reason": N_("reason"), "category": N_("category"), "title": N_("title"),
                  "clients": N_("clients"), "unchanged since": N_("unchanged since"), "days": N_("days"),
                  "first_seen": N_("first seen"), "problems": N_("problems"), "stage": N_("stage"),
                  "strategy": N_("strategy")}
NEW_TEXT = N_("(new)")


def _shown_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as the review shows it: column names and "(new)" in the language."""
    out = frame.rename(columns=lambda c: translate(REVIEW_COLUMNS[c]) if c in REVIEW_COLUMNS else c)
    new = translate(NEW_TEXT)
    for column in (translate(REVIEW_COLUMNS["from"]),):
        if column in out.columns and new != NEW:
            out[column] = out[column].replace(NEW, new)
    return out


@dataclass
class Review:
    since: date
    as_of: date
    transitions: pd.DataFrame  # rows: from, columns: to, values: counts
    moved: pd.DataFrame  # id, name, from, to, reason
    stale: pd.DataFrame  # id, name, category, since, days
    unqualified: pd.DataFrame  # id, name, first_seen, problems
    stages: pd.DataFrame  # stage, title, clients, strategy
    distribution: pd.DataFrame  # one row per sync date, one column per category
    current: pd.DataFrame | None = None  # category, title, clients: the distribution today

    def sections(self) -> list[tuple[str, pd.DataFrame]]:
        """Each section's title and table, in the language (the frames' own columns stay)."""
        return [(title, _shown_frame(frame)) for title, frame, _whole in self._sections()]

    def _sections(self) -> list[tuple[str, pd.DataFrame, bool]]:
        """Title, table, and whether the text shows it whole (else its count and its top)."""
        now = [] if self.current is None else [(_("Clients per category now"), self.current, True)]
        return [
            *now,
            (_("Transitions (from → to)"), self.transitions.reset_index(), True),
            (_("Moved clients"), self.moved, False),
            (_("Category not reviewed for more than {days} days").format(days=STALE_DAYS), self.stale, False),
            (_("New clients still unqualified"), self.unqualified, False),
            (_("Loyalty ladder"), self.stages, False),
        ]

    def title(self) -> str:
        return _("Quarterly review {since} .. {until}").format(since=day_text(self.since),
                                                               until=day_text(self.as_of))

    def to_text(self, limit: int = 25) -> str:
        out = [self.title()]
        for title, frame, whole in self._sections():
            frame = _shown_frame(frame)
            out += ["", title if whole else f"{title}: {len(frame)}"]
            shown = frame if whole else frame.head(limit)
            out.append(shown.to_string(index=False) if len(frame) else "  " + _("(none)"))
            if len(frame) > len(shown):
                out.append("  " + _("... and {count} more (write them all with --out FILE)").format(
                    count=len(frame) - len(shown)))
        return "\n".join(out)


def quarter_ago(as_of: date) -> date:
    return (pd.Timestamp(as_of) - pd.DateOffset(months=3)).date()


def category_at(history: list[dict[str, Any]], when: datetime) -> dict[str, str]:
    """Each client's category as of ``when`` (the last change recorded up to then)."""
    stamp = when.isoformat(timespec="seconds")
    out: dict[str, str] = {}
    for row in history:  # ordered by seq, i.e. by time
        if row["changed_at"] <= stamp:
            out[row["client_id"]] = row["to_cat"]
    return out


def review(outcome: pd.DataFrame, history: list[dict[str, Any]], rules: RuleSet, as_of: date,
           since: date | None = None) -> Review:
    """The review of the period ``since`` (default: three months back) to ``as_of``."""
    since = since or quarter_ago(as_of)
    start = datetime.combine(since, datetime.min.time())
    first_seen: dict[str, str] = {}
    last_change: dict[str, dict[str, Any]] = {}
    for row in history:
        first_seen.setdefault(row["client_id"], row["changed_at"])
        last_change[row["client_id"]] = row
    current = outcome[["id", "name", "category", "reason", "manual_category"]].copy()
    current["id"] = current["id"].astype(str)
    moved = moves(current, history, since)
    if history and history[0]["changed_at"] >= start.isoformat():
        # the first sync falls in the period: what it found is the starting point, not a move
        # of every client from "(new)" (on the first day the review shows the distribution)
        first = history[0]["changed_at"]
        baseline = {r["client_id"]: r["to_cat"] for r in history if r["changed_at"] == first}
        moved = moved.copy()
        moved["from"] = [baseline.get(i, f) if f == NEW else f for i, f in zip(moved["id"], moved["from"], strict=True)]
        moved = moved[moved["from"] != moved["category"]]
    order = [*rules.codes, UNQUALIFIED]
    rows = [NEW, *order]
    matrix = pd.crosstab(moved["from"], moved["category"]).reindex(
        index=[r for r in rows if r in set(moved["from"])],
        columns=[c for c in order if c in set(moved["category"])], fill_value=0)
    matrix.index.name, matrix.columns.name = "from", "to"
    moved_out = moved.rename(columns={"category": "to"})[["id", "name", "from", "to", "reason"]]

    limit = (datetime.combine(as_of, datetime.min.time()) - timedelta(days=STALE_DAYS)).isoformat()
    stale_rows = []
    for row in current.itertuples():
        change = last_change.get(row.id)
        manual = isinstance(row.manual_category, str) and row.manual_category.strip() != ""
        if change and change["changed_at"] < limit and not manual and row.category != UNQUALIFIED:
            days = (as_of - date.fromisoformat(change["changed_at"][:10])).days
            stale_rows.append([row.id, row.name, row.category, change["changed_at"][:10], days])
    stale = pd.DataFrame(stale_rows, columns=["id", "name", "category", "unchanged since", "days"])

    since_text = start.isoformat()
    unq = outcome[(outcome["category"] == UNQUALIFIED)].copy()
    unq["id"] = unq["id"].astype(str)
    unq["first_seen"] = unq["id"].map(lambda i: first_seen.get(i, as_of.isoformat())[:10])
    unq = unq[unq["first_seen"] >= since_text[:10]][["id", "name", "first_seen", "problems"]]

    counts = outcome["stage"].value_counts()
    stages = pd.DataFrame([[s.code, s.title, int(counts.get(s.code, 0)), s.strategy] for s in rules.stages],
                          columns=["stage", "title", "clients", "strategy"])
    counts_now = outcome["category"].value_counts()
    now = pd.DataFrame([[c, (rules.category(c).title if rules.category(c) else c), int(counts_now.get(c, 0))]
                        for c in order if counts_now.get(c, 0)], columns=["category", "title", "clients"])
    return Review(since, as_of, matrix, moved_out.reset_index(drop=True), stale, unq.reset_index(drop=True),
                  stages, distribution(history, order), now)


def moves(current: pd.DataFrame, history: list[dict[str, Any]], since: date) -> pd.DataFrame:
    """Clients whose category now differs from the one they had when ``since`` began, with a
    ``from`` column (``(new)`` for clients that appeared since)."""
    before = category_at(history, datetime.combine(since, datetime.min.time()) - timedelta(seconds=1))
    out = current.copy()
    out["from"] = out["id"].astype(str).map(lambda i: before.get(i, NEW))
    return out[out["from"] != out["category"]]


def distribution(history: list[dict[str, Any]], order: Sequence[str]) -> pd.DataFrame:
    """Category counts after each day on which something changed (for the chart)."""
    if not history:
        return pd.DataFrame(columns=["date", *order])
    days = sorted({row["changed_at"][:10] for row in history})
    rows = []
    for day in days:
        state = category_at(history, datetime.fromisoformat(day) + timedelta(days=1, seconds=-1))
        counts = pd.Series(list(state.values())).value_counts()
        rows.append([day, *[int(counts.get(c, 0)) for c in order]])
    return pd.DataFrame(rows, columns=["date", *order])


def write_review(rev: Review, out: Path, rules: RuleSet, *, raw_csv: bool = False) -> list[Path]:
    """Write the review as CSV, XLSX or Markdown by ``out``'s extension, plus PNG charts.

    Text is written as text: a CSV cell that Excel would run as a formula gets a quote in
    front (unless ``raw_csv``), and an XLSX cell starting with ``=`` is a text cell."""
    suffix = out.suffix.lower()
    if out.is_dir():
        from .paths import path_error

        raise path_error(out, IsADirectoryError(out), "the report file")
    written = [out]
    if suffix == ".md":
        parts = [f"# {rev.title()}"]
        for title, frame in rev.sections():
            parts += ["", f"## {title}", "", markdown(frame)]
        out.write_text("\n".join(parts) + "\n", encoding="utf-8")
    elif suffix == ".xlsx":
        with pd.ExcelWriter(out, engine="openpyxl") as writer:
            for title, frame in rev.sections():
                frame.to_excel(writer, sheet_name=title[:31].replace("→", "-"), index=False)
            for sheet in writer.book.worksheets:  # none of ours is a formula: text stays text
                for row in sheet.iter_rows():
                    for cell in row:
                        if cell.data_type == "f":
                            cell.data_type = "s"
    elif suffix == ".csv":
        frames = []
        for title, frame in rev.sections():
            f = frame.copy()
            f.insert(0, _("section"), title)
            frames.append(f)
        from .csvout import write_csv

        write_csv(pd.concat(frames, ignore_index=True), out, raw=raw_csv)
    else:
        raise InputError(_("{path}: the review can be written as .csv, .xlsx or .md").format(path=out))
    written += charts(rev, out.with_suffix(""), rules)
    return written


def markdown(frame: pd.DataFrame) -> str:
    if not len(frame):
        return _("(none)")
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join("" if pd.isna(v) else str(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def charts(rev: Review, stem: Path, rules: RuleSet) -> list[Path]:
    """PNG charts beside the report: categories over time, and the transitions."""
    import matplotlib.pyplot as plt

    paths = []
    for name, fig in chart_figures(rev, rules):
        path = stem.parent / f"{stem.name}-{name}.png"
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        paths.append(path)
    return paths


def chart_figures(rev: Review, rules: RuleSet) -> list[tuple[str, Any]]:
    """The review's charts as matplotlib figures, by name (``categories``, ``transitions``),
    with titles and labels in the language."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {c.code: c.colour or "#999999" for c in rules.categories}
    figures: list[tuple[str, Any]] = []
    dist = rev.distribution
    if len(dist):
        fig, ax = plt.subplots(figsize=(8, 4.5))
        bottom = None
        x = [day_text(d) for d in dist["date"]]
        for code in [c for c in dist.columns if c != "date"]:
            values = dist[code].to_numpy()
            ax.bar(x, values, bottom=bottom, label=code, color=colours.get(code, "#BBBBBB"), edgecolor="#555555")
            bottom = values if bottom is None else bottom + values
        ax.set_title(_("Clients per category over time"))
        ax.set_ylabel(_("clients"))
        ax.legend(ncol=5, fontsize=8)
        fig.autofmt_xdate()
        figures.append(("categories", fig))
    matrix = rev.transitions
    if matrix.size:
        fig, ax = plt.subplots(figsize=(2.5 + 0.9 * len(matrix.columns), 1.5 + 0.6 * len(matrix.index)))
        ax.imshow(matrix.to_numpy(), cmap="Blues")

        def label(code: object) -> str:  # "A VIP", "(new)": the code and its title
            if code == NEW:
                return translate(NEW_TEXT)
            cat = rules.category(str(code))
            return f"{code} {cat.title}" if cat and cat.title != code else str(code)

        ax.set_xticks(range(len(matrix.columns)), [label(c) for c in matrix.columns], rotation=35, ha="right")
        ax.set_yticks(range(len(matrix.index)), [label(i) for i in matrix.index])
        for (i, j), v in pd.DataFrame(matrix.to_numpy()).stack().items():
            ax.text(j, i, str(v), ha="center", va="center")
        ax.set_xlabel(_("to"))
        ax.set_ylabel(_("from"))
        ax.set_title(_("Moves {since} .. {until}").format(since=day_text(rev.since), until=day_text(rev.as_of)))
        figures.append(("transitions", fig))
    return figures


@dataclass
class Capacity:
    slots: int
    keep: pd.DataFrame
    drop: pd.DataFrame

    def totals(self) -> dict[str, float]:
        def money(frame: pd.DataFrame, column: str) -> float:
            return float(pd.to_numeric(frame[column], errors="coerce").fillna(0).sum())

        return {"revenue_kept": money(self.keep, "revenue"), "profit_kept": money(self.keep, "profit"),
                "revenue_given_up": money(self.drop, "revenue"), "profit_given_up": money(self.drop, "profit")}

    def to_text(self, limit: int = 20) -> str:
        """Totals, and the top of each list (the whole lists with ``--out``)."""
        t = self.totals()
        lines = [f"Capacity for {self.slots} of {len(self.keep) + len(self.drop)} clients.",
                 f"Keep {len(self.keep)}: revenue {_money(t['revenue_kept'])}, profit {_money(t['profit_kept'])}.",
                 f"Give up {len(self.drop)}: revenue {_money(t['revenue_given_up'])}, "
                 f"profit {_money(t['profit_given_up'])}.", "", "Keep:"]
        lines += _shown(self.keep, limit)
        lines += ["", "Give up (first to go at the bottom):"]
        lines += _shown(self.drop, limit)
        return "\n".join(lines)

    def table(self) -> pd.DataFrame:
        """Both lists in one table, with what happens to each client."""
        keep, drop = self.keep.copy(), self.drop.copy()
        keep.insert(0, "decision", "keep")
        drop.insert(0, "decision", "give up")
        return pd.concat([keep, drop], ignore_index=True)


def _money(value: float) -> str:
    from .i18n import language, localise_number

    return localise_number(f"{value:.0f}") if language() == "ru" else f"{value:,.0f}"


def _shown(frame: pd.DataFrame, limit: int) -> list[str]:
    if not len(frame):
        return ["  (none)"]
    shown = frame.head(limit)
    lines = [shown.astype(object).where(shown.notna(), "").to_string(index=False)]
    if len(frame) > len(shown):
        lines.append(f"  ... and {len(frame) - len(shown)} more (the whole list: --out FILE.csv, .xlsx or .md)")
    return lines


def write_capacity(cap: Capacity, out: Path, *, raw_csv: bool = False) -> Path:
    """The whole capacity list as CSV, XLSX or Markdown by ``out``'s extension; numbers stay
    numbers, blanks are blank."""
    table = cap.table()
    suffix = out.suffix.lower()
    if out.is_dir():
        from .paths import path_error

        raise path_error(out, IsADirectoryError(out), "the report file")
    if suffix == ".csv":
        from .csvout import write_csv

        write_csv(table, out, raw=raw_csv)
    elif suffix == ".xlsx":
        with pd.ExcelWriter(out, engine="openpyxl") as writer:
            table.to_excel(writer, sheet_name="Capacity", index=False)
            sheet = writer.book.worksheets[0]
            for row in sheet.iter_rows(min_row=2):
                for cell in row:
                    if cell.data_type == "f":
                        cell.data_type = "s"
                    elif isinstance(cell.value, float):
                        cell.number_format = "#,##0.00"
    elif suffix == ".md":
        t = cap.totals()
        head = [f"# Capacity for {cap.slots} of {len(table)} clients", "",
                f"Keep {len(cap.keep)}: revenue {t['revenue_kept']:,.2f}, profit {t['profit_kept']:,.2f}. "
                f"Give up {len(cap.drop)}: revenue {t['revenue_given_up']:,.2f}, profit {t['profit_given_up']:,.2f}.",
                ""]
        out.write_text("\n".join(head) + markdown(table) + "\n", encoding="utf-8")
    else:
        raise InputError(f"{out}: the capacity list can be written as .csv, .xlsx or .md")
    return out


def capacity(outcome: pd.DataFrame, rules: RuleSet, slots: int) -> Capacity:
    """"10 clients, capacity for 6": keep clients in category order, then by profitability,
    then by stability.

    Category order is the rules file's order of A-like codes first: the best categories (AAA,
    AA, A, B, C, D) and then E-like and unqualified ones last. Within a category the higher
    ROI in whole percent comes first; at the same ROI the steadier buyer (the lower ``cv_12m``
    from the deals, blank last); then the higher profit.
    """
    if slots < 0:
        raise InputError("--slots must be 0 or more")
    rank = _category_rank(rules)
    steady = [c for c in ("xyz", "cv_12m") if c in outcome.columns]
    frame = outcome[["id", "name", "category", "revenue", "profit", "roi_pct", *steady]].copy()
    frame["_rank"] = frame["category"].map(lambda c: rank.get(str(c), len(rank)))
    frame["_roi"] = pd.to_numeric(frame["roi_pct"], errors="coerce").round(0).fillna(float("-inf"))
    cv = outcome["cv_12m"] if "cv_12m" in outcome.columns else pd.Series(float("nan"), index=outcome.index)
    frame["_cv"] = pd.to_numeric(cv, errors="coerce").fillna(float("inf"))
    frame["_profit"] = pd.to_numeric(frame["profit"], errors="coerce").fillna(float("-inf"))
    frame = frame.sort_values(["_rank", "_roi", "_cv", "_profit"], ascending=[True, False, True, False],
                              kind="stable")
    frame = frame.drop(columns=["_rank", "_roi", "_cv", "_profit"])
    frame["roi_pct"] = pd.to_numeric(frame["roi_pct"], errors="coerce").round(1)
    if steady and all(frame[c].isna().all() for c in steady):  # no deals: nothing to show
        frame = frame.drop(columns=steady)
    return Capacity(slots, frame.iloc[:slots].reset_index(drop=True), frame.iloc[slots:].reset_index(drop=True))


def review_config(config_path: Path | None, since: date | None = None, out: Path | None = None,
                  *, raw_csv: bool = False) -> tuple[Review, list[Path]]:
    """``sheets-sync report review``: the review of the client table as a sync would see it
    (:func:`sheets_sync.sync.current`) and the state store's history; with ``out``, also
    written there (the files written are returned). Nothing else is written."""
    from .outputs import refuse_own_files
    from .session import open_session
    from .sync import current_outcome

    if out is not None:
        refuse_own_files(out, config_path)
    with open_session(config_path) as ctx:
        rev = review(current_outcome(ctx), ctx.state.history(), ctx.rules, ctx.now.date(), since)
    return rev, (write_review(rev, out, ctx.rules, raw_csv=raw_csv) if out is not None else [])


def capacity_config(config_path: Path | None, slots: int, out: Path | None = None,
                    *, raw_csv: bool = False) -> Capacity:
    """``sheets-sync report capacity``: :func:`capacity` of the client table as a sync would
    see it (:func:`sheets_sync.sync.current`); with ``out``, the whole list also written there."""
    from .outputs import refuse_own_files
    from .session import open_session
    from .sync import current_outcome

    if out is not None:
        refuse_own_files(out, config_path)
    with open_session(config_path) as ctx:
        result = capacity(current_outcome(ctx), ctx.rules, slots)
    if out is not None:
        write_capacity(result, out, raw_csv=raw_csv)
    return result


def _category_rank(rules: RuleSet) -> dict[str, int]:
    """Good categories first in the rules' order, then the E family (worst last), then unqualified."""
    codes = rules.codes
    bad = [c for c in codes if c.upper().startswith("E")]
    good = [c for c in codes if c not in bad]
    ordered = good + sorted(bad, key=len)  # E before EE before EEE
    rank = {c: i for i, c in enumerate(ordered)}
    rank[UNQUALIFIED] = len(ordered)
    return rank


def summary_rows(outcome: pd.DataFrame, rules: RuleSet, history: list[dict[str, Any]],
                 as_of: date) -> list[list[Any]]:
    """The Summary tab: counts, revenue, profit and share per category; moves this quarter."""
    total_profit = float(pd.to_numeric(outcome["profit"], errors="coerce").clip(lower=0).fillna(0).sum())
    rows: list[list[Any]] = [[_("category"), _("title"), _("clients"), _("revenue"), _("profit"),
                              _("profit share")]]
    for code in [*rules.codes, UNQUALIFIED]:
        part = outcome[outcome["category"] == code]
        if not len(part) and code == UNQUALIFIED:
            continue
        revenue = float(pd.to_numeric(part["revenue"], errors="coerce").fillna(0).sum())
        profit = float(pd.to_numeric(part["profit"], errors="coerce").fillna(0).sum())
        cat = rules.category(code)
        share = round(max(profit, 0) / total_profit, 4) if total_profit else 0.0
        rows.append([code, cat.title if cat else _("not categorized"), len(part), round(revenue, 2),
                     round(profit, 2), share])
    quarter_start = date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1)
    moved = moves(outcome[["id", "category"]], history, quarter_start)
    rows += [[], [_("Moves since {day}").format(day=day_text(quarter_start)), "", _("clients")]]
    counts = moved[moved["from"] != NEW].groupby(["from", "category"]).size()
    rows += [[f"{a} → {b}", "", int(n)] for (a, b), n in counts.items()] or [[_("(none)")]]
    return rows
