"""Proof by a real spreadsheet engine: LibreOffice recalculates exported workbooks headless and
every live formula must give what pandas gave: live_category, stage, the metrics.

The workbooks are exported without cached values, and LibreOffice runs with a profile that
recalculates every file on load, so each value read back was computed by LibreOffice. All
workbooks of a test go through one ``soffice`` call.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sheets_sync.categorize import categorize
from sheets_sync.demo import default_rules_text, demo_rows
from sheets_sync.excel import ExportOptions, export_table
from sheets_sync.rules import RuleSet, parse_rules
from sheets_sync.table import build_table

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
pytestmark = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed "
                                                        "(apt-get install libreoffice-calc-nogui)")
AS_OF = date(2026, 11, 23)
DEMO_COLUMNS = ["id", "name", "revenue", "costs", "orders_12m", "first_order", "last_order",
                "overdue_days", "referrals", "potential", "nps", "blacklisted", "manual_category"]
@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return parse_rules(default_rules_text(), "default rules")


def _export(raw: pd.DataFrame, rules: RuleSet, path: Path, pareto: str = "live") -> pd.DataFrame:
    table = build_table(raw, extra=rules.columns)
    outcome = categorize(table, rules, AS_OF).frame
    export_table(outcome, rules, path, as_of=AS_OF, problems=table.problems,
                 options=ExportOptions(pareto=pareto, cached_values=False))
    return outcome


def _blank(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, str) and v == "") or (isinstance(v, float) and v != v)


def _same(pandas_value: Any, sheet_value: Any) -> bool:
    if _blank(pandas_value) or _blank(sheet_value):
        return _blank(pandas_value) and _blank(sheet_value) or pandas_value == ""
    if isinstance(pandas_value, bool | np.bool_):
        return bool(pandas_value) == bool(sheet_value)
    if isinstance(pandas_value, float | int | np.floating | np.integer):
        a, b = float(pandas_value), float(sheet_value)
        return abs(a - b) <= 1e-9 * max(1.0, abs(a))
    return str(pandas_value) == str(sheet_value)


def _check(recalculated: Path, outcome: pd.DataFrame, rules: RuleSet) -> None:
    wb = openpyxl.load_workbook(recalculated, data_only=True, read_only=True)
    rows = wb["Clients"].iter_rows(values_only=True)
    header = list(next(rows))
    at = {name: header.index(name) for name in header if name}
    values = list(rows)
    wb.close()
    assert len(values) == len(outcome), recalculated.name
    checked = ["stage", "profit", "roi_pct", "margin_pct", "profit_share_cum", "tenure_months",
               "recency_days", "qualified", *(m.name for m in rules.metrics)]
    wrong = []
    for row, (_, want) in zip(values, outcome.iterrows(), strict=True):
        if row[at["live_category"]] != want["category"]:
            wrong.append((want["id"], "live_category", want["category"], row[at["live_category"]]))
        for name in checked:
            if not _same(want[name], row[at[name]]):
                wrong.append((want["id"], name, want[name], row[at[name]]))
    assert not wrong, f"{recalculated.name}: {len(wrong)} differ from pandas, e.g. {wrong[:8]}"


def _demo_frame(n: int, seed: int) -> pd.DataFrame:
    return pd.DataFrame(demo_rows(n, AS_OF, seed), columns=DEMO_COLUMNS, dtype=object)


def test_live_categories_equal_pandas_on_demo_data(tmp_path: Path, rules: RuleSet,
                                                    recalculate: Callable[[list[Path]], list[Path]]) -> None:
    demo = _demo_frame(300, 20261123)
    manual = demo.copy()  # the owner's manual categories win, case and spaces aside; nonsense is ignored
    manual.loc[manual.index[:12], "manual_category"] = ["a", " EE ", "x", "Aaa", "", "d", None, "B",
                                                        "unqualified", "C ", "e", "zz"]
    other = _demo_frame(200, 7)
    cases = {"demo.xlsx": (demo, "live"), "manual.xlsx": (manual, "live"),
             "fixed.xlsx": (other, "fixed"), "other.xlsx": (other, "live")}
    outcomes = {name: _export(frame, rules, tmp_path / name, pareto)
                for name, (frame, pareto) in cases.items()}
    assert outcomes["manual.xlsx"]["category"].iloc[0] == "A"
    results = recalculate([tmp_path / name for name in cases])
    for path in results:
        _check(path, outcomes[path.name], rules)


def test_an_owner_edit_recomputes_the_category(tmp_path: Path, rules: RuleSet,
                                               recalculate: Callable[[list[Path]], list[Path]]) -> None:
    demo = _demo_frame(60, 11)
    outcome = _export(demo, rules, tmp_path / "before.xlsx")
    target = outcome.index[(outcome["category"] == "D").to_numpy()][0]
    wb = openpyxl.load_workbook(tmp_path / "before.xlsx")
    ws = wb["Clients"]
    header = [c.value for c in ws[1]]
    row = int(outcome.index.get_loc(target)) + 2
    ws.cell(row=row, column=header.index("costs") + 1, value=float(demo.at[target, "revenue"]) + 1000)
    wb.save(tmp_path / "edited.xlsx")
    edited = demo.copy()
    edited.at[target, "costs"] = float(demo.at[target, "revenue"]) + 1000  # now loss-making: E
    expected = categorize(build_table(edited), rules, AS_OF).frame
    assert expected.at[target, "category"] == "E"
    # and a threshold edited on the Legend (a named cell) recomputes every row
    wb = openpyxl.load_workbook(tmp_path / "before.xlsx")
    legend = wb["Legend"]
    row = next(r for r in range(1, legend.max_row + 1) if legend.cell(r, 1).value == "orders_regular")
    legend.cell(row=row, column=2, value=2)
    wb.save(tmp_path / "threshold.xlsx")
    stricter = parse_rules(default_rules_text().replace('"orders_regular": 4', '"orders_regular": 2'))
    expected_threshold = categorize(build_table(demo), stricter, AS_OF).frame
    assert (expected_threshold["category"] != outcome["category"]).any()
    results = recalculate([tmp_path / "edited.xlsx", tmp_path / "threshold.xlsx"])
    _check(results[0], expected, rules)
    _check(results[1], expected_threshold, stricter)


# ---------------------------------------------------------------- generated client tables

def _money() -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.integers(-50_000, 2_000_000), st.sampled_from([0, 100, 150, 300, 1000]),
                     st.just("12,3,4"))


@st.composite
def client_tables(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 14))
    rows = []
    for i in range(n):
        costs = draw(_money())
        shape = draw(st.sampled_from(["free", "roi50", "same", "loss"]))
        if isinstance(costs, int) and costs > 0 and shape == "roi50":
            revenue: Any = costs * 3 // 2 if costs % 2 == 0 else costs  # ROI exactly 50 %
        elif isinstance(costs, int) and shape == "same":
            revenue = costs  # profit 0
        elif isinstance(costs, int) and shape == "loss":
            revenue = costs - draw(st.integers(1, 5000))
        else:
            revenue = draw(_money())
        months = draw(st.one_of(st.none(), st.integers(0, 40), st.sampled_from([12, 24])))
        first = None if months is None else (pd.Timestamp(AS_OF) - pd.DateOffset(months=months)
                                             + pd.Timedelta(days=draw(st.integers(-1, 1)))).date()
        last = None if first is None else AS_OF - timedelta(days=draw(st.integers(0, 400)))
        potential = draw(st.one_of(st.none(), st.integers(0, 3_000_000)))
        if isinstance(revenue, int) and draw(st.booleans()):
            potential = revenue * 2  # potential_c tie
        rows.append({
            "id": str(i + 1), "name": f"client {i + 1}", "revenue": revenue, "costs": costs,
            "orders_12m": draw(st.one_of(st.none(), st.integers(0, 8), st.just(4))),
            "first_order": None if first is None else first.isoformat(),
            "last_order": None if last is None else last.isoformat(),
            "overdue_days": draw(st.one_of(st.none(), st.integers(0, 250), st.sampled_from([30, 90, 180]))),
            "referrals": draw(st.one_of(st.none(), st.integers(0, 3))),
            "potential": potential,
            "nps": draw(st.one_of(st.none(), st.integers(0, 10), st.just(9))),
            "blacklisted": draw(st.sampled_from([None, True, False, False, False])),
            "manual_category": draw(st.sampled_from([None, None, None, None, "a", " B ", "zz", "EEE"])),
        })
    return pd.DataFrame(rows, columns=DEMO_COLUMNS, dtype=object)


def test_live_categories_equal_pandas_on_generated_tables(tmp_path: Path, rules: RuleSet,
                                                          recalculate: Callable[[list[Path]], list[Path]]) -> None:
    """Hypothesis makes the tables; all of them are recalculated by one soffice call."""
    cases: list[tuple[Path, pd.DataFrame]] = []
    ties = pd.DataFrame([  # equal profits (the Pareto tie-break), ROI exactly 50 %, zero costs
        {"id": "1", "revenue": 300, "costs": 200, "orders_12m": 4}, {"id": "2", "revenue": 300, "costs": 200},
        {"id": "3", "revenue": 150, "costs": 100, "orders_12m": 1}, {"id": "4", "revenue": 50, "costs": 0},
        {"id": "5", "revenue": 100, "costs": 100}, {"id": "6", "revenue": 0, "costs": 500, "overdue_days": 90},
    ], columns=DEMO_COLUMNS, dtype=object)

    @settings(max_examples=20, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(client_tables())
    @example(ties)
    def collect(raw: pd.DataFrame) -> None:
        path = tmp_path / f"case{len(cases):02d}.xlsx"
        cases.append((path, _export(raw, rules, path)))

    collect()
    results = recalculate([path for path, _ in cases])
    for result, (_, outcome) in zip(results, cases, strict=True):
        _check(result, outcome, rules)


def test_a_template_saved_by_libreoffice_works_too(tmp_path: Path, rules: RuleSet,
                                                   recalculate: Callable[[list[Path]], list[Path]]) -> None:
    """Another writer's XML: shared strings, other attribute orders, its own styles."""
    import io

    from openpyxl.drawing.image import Image
    from PIL import Image as PILImage

    from sheets_sync.excel import default_template

    wb = openpyxl.load_workbook(default_template())
    buf = io.BytesIO()
    PILImage.new("RGB", (20, 20), "red").save(buf, format="PNG")
    buf.seek(0)
    wb["Summary"].add_image(Image(buf), "H25")
    (tmp_path / "src").mkdir()
    wb.save(tmp_path / "src" / "template.xlsx")
    (template,) = recalculate([tmp_path / "src" / "template.xlsx"])
    table = build_table(_demo_frame(80, 3))
    outcome = categorize(table, rules, AS_OF).frame
    export_table(outcome, rules, tmp_path / "from-lo.xlsx", as_of=AS_OF, problems=table.problems,
                 options=ExportOptions(template=template, cached_values=False))
    exported = openpyxl.load_workbook(tmp_path / "from-lo.xlsx")
    assert len(exported["Summary"]._images) == 1 and len(exported["Summary"]._charts) == 1
    exported.close()
    (result,) = recalculate([tmp_path / "from-lo.xlsx"])
    _check(result, outcome, rules)
