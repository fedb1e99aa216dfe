"""The emulator's formula evaluator, table-driven: each formula is typed into Sheet1!Z1 of a
spreadsheet holding the cells below, then read back UNFORMATTED (errors read as their code)."""

from __future__ import annotations

from typing import Any

import pytest

from sheets_sync_emulators.google_sheets.formulas import parse
from sheets_sync_emulators.google_sheets.state import EmulatorState, Spreadsheet

# Sheet1: A1:A5 numbers and a blank, B1:B5 text, C1:C3 mixed; 'My tab' and Legend for references.
CELLS = {
    "Sheet1!A1:A5": [[1], [2], [3], [""], [10]],
    "Sheet1!B1:B5": [["apple"], ["Banana"], ["  two  spaces  "], [""], ["APPLE"]],
    "Sheet1!C1:C4": [["text"], ["=1/0"], ["=\"\""], ["TRUE"]],
    "'My tab'!A1:A3": [[5], [6], ["x"]],
    "Legend!B2:B3": [[0.25], ["2026-11-23"]],
}


@pytest.fixture(scope="module")
def book() -> tuple[EmulatorState, Spreadsheet]:
    state = EmulatorState()
    ss = state.create_spreadsheet("f", sheet_titles=["Sheet1", "My tab", "Legend"])
    for rng, values in CELLS.items():
        state.owner_update_values(ss.id, rng, values)
    legend = ss.sheet_by_title("Legend")
    assert legend is not None
    for name, row in (("roi_a", 1), ("as_of", 2)):
        state.owner_batch_update(ss.id, [{"addNamedRange": {"namedRange": {"name": name, "range": {
            "sheetId": legend.id, "startRowIndex": row, "endRowIndex": row + 1,
            "startColumnIndex": 1, "endColumnIndex": 2}}}}])
    return state, ss


def value_of(book: tuple[EmulatorState, Spreadsheet], formula: str) -> Any:
    state, ss = book
    state.owner_update_values(ss.id, "Sheet1!Z1", [[formula]])
    values = state.read_values(ss.id, "Sheet1!Z1")
    return values[0][0] if values else None


CASES: list[tuple[str, Any]] = [
    # arithmetic: blank is 0, numeric text is a number, other text is #VALUE!
    ("=A1+A2*A3", 7),
    ("=A4+1", 1),
    ("=A4*5", 0),
    ('="3"+1', 4),
    ("=B1+1", "#VALUE!"),
    ("=1/A4", "#DIV/0!"),
    ("=2^3", 8),
    ("=-2^2", 4),
    ("=50%", 0.5),
    ("=TRUE+1", 2),
    # text: blank is "", numbers in general format, & joins
    ('=A4&"x"', "x"),
    ('=A1&"-"&B1', "1-apple"),
    ("=1/4&\"\"", "0.25"),
    # comparisons: = ignores case, blank equals "" and 0, types order number < text < boolean
    ('=B1="APPLE"', True),
    ('=B1<"b"', True),
    ('=A4=""', True),
    ("=A4=0", True),
    ('=A4<>""', False),
    ('=1<"a"', True),
    ('="z"<TRUE', True),
    ("=C2=1", "#DIV/0!"),
    # errors propagate and IFERROR/IFNA catch them; IF only evaluates its branch
    ("=C2+1", "#DIV/0!"),
    ('=IFERROR(C2,"caught")', "caught"),
    ('=IFERROR(1,"caught")', 1),
    ("=IFERROR(C2)", ""),
    ('=IFNA(MATCH("nope",B1:B5,0),"none")', "none"),
    ('=IFNA(C2,"none")', "#DIV/0!"),
    ("=IF(TRUE,1,1/0)", 1),
    ("=IF(FALSE,1/0,2)", 2),
    ("=IF(FALSE,1)", False),
    ("=IF(A4,1,2)", 2),
    ('=IF(B1,1,2)', "#VALUE!"),
    ("=IF(C2,1,2)", "#DIV/0!"),
    ('=IFS(A1>5,"big",A1>0,"small")', "small"),
    ('=IFS(A1>5,"big")', "#N/A"),
    # AND / OR / NOT / XOR
    ("=AND(TRUE,A1=1)", True),
    ("=AND(TRUE,C2)", "#DIV/0!"),
    ("=OR(FALSE,A1)", True),
    ("=AND(B1:B2)", "#VALUE!"),
    ("=OR(A1:A5>5)", True),
    ("=NOT(A4)", True),
    ('=NOT("x")', "#VALUE!"),
    ("=XOR(TRUE,TRUE)", False),
    # information
    ("=ISBLANK(A4)", True),
    ("=ISBLANK(C3)", False),  # a formula showing "" is not blank
    ("=ISNUMBER(A1)", True),
    ('=ISNUMBER("1")', False),
    ("=ISNUMBER(C2)", False),
    ("=ISLOGICAL(C4)", True),
    ("=ISTEXT(B1)", True),
    ("=ISERROR(C2)", True),
    ("=ISNA(C2)", False),
    ("=N(C4)", 1),
    ("=N(B1)", 0),
    # text functions
    ('=EXACT(B1,"APPLE")', False),
    ("=EXACT(B1,LOWER(B5))", True),
    ('=EXACT(A4,"")', True),
    ('=TRIM(B3)&"|"', "two spaces|"),
    ("=UPPER(B2)", "BANANA"),
    ("=LOWER(B2)", "banana"),
    ("=LEN(B3)", 15),
    ("=LEN(A5)", 2),
    ('=LEFT("abc",2)&RIGHT("abc")&MID("abcd",2,2)', "abcbc"),
    ('=SUBSTITUTE("a-b-c","-","+")', "a+b+c"),
    ('=CONCATENATE(A1,B1)', "1apple"),
    ('=VALUE("1,234.5")', 1234.5),
    ('=VALUE("x")', "#VALUE!"),
    # maths: ranges take numbers only, typed arguments are coerced
    ("=SUM(A1:A5)", 16),
    ("=SUM(A1:A5,\"4\",TRUE)", 21),
    ("=SUM(A1:C5)", "#DIV/0!"),
    ("=MIN(A1:A5)", 1),
    ("=MAX(A1:A5,20)", 20),
    ("=MIN(B1:B2)", 0),
    ("=AVERAGE(A1:A5)", 4),
    ("=COUNT(A1:B5)", 4),
    ("=COUNTA(A1:A5)", 4),
    ("=COUNTBLANK(A1:A5)", 1),
    ("=ROUND(2.5)", 3),
    ("=ROUND(-2.5)", -3),
    ("=ROUND(1.23456,2)", 1.23),
    ("=ROUNDUP(1.21,1)", 1.3),
    ("=ROUNDDOWN(-1.29,1)", -1.2),
    ("=INT(-1.5)", -2),
    ("=ABS(-3)", 3),
    ("=MOD(-7,3)", 2),
    ("=SUMPRODUCT(A1:A3,A1:A3)", 14),
    ("=SUMPRODUCT(A1:A5>1)", 3),  # Sheets counts booleans as 1/0 here (Excel would not)
    ("=SUMPRODUCT((A1:A5>1)*A1:A5)", 15),
    ("=SUMPRODUCT((A1:A5=2)*(ROW(A1:A5)>ROW()))", 1),
    ("=SUMPRODUCT(A1:A3,A1:A2)", "#VALUE!"),
    # criteria
    ('=COUNTIF(A1:A5,">1")', 3),
    ("=COUNTIF(B1:B5,\"apple\")", 2),
    ('=COUNTIF(B1:B5,"b*")', 1),
    ('=COUNTIF(B1:B5,"?pple")', 2),
    ('=COUNTIF(A1:A5,"")', 1),
    ('=COUNTIF(A1:A5,"<>")', 4),
    ("=COUNTIF(A1:A5,2)", 1),
    ('=COUNTIFS(A1:A5,">1",B1:B5,"<>")', 3),
    ('=SUMIF(B1:B5,"apple",A1:A5)', 11),
    ('=SUMIF(A1:A5,">2")', 13),
    ('=SUMIFS(A1:A5,B1:B5,"apple",A1:A5,"<5")', 1),
    # lookup and reference
    ("=INDEX(A1:B5,2,2)", "Banana"),
    ("=INDEX(A1:A5,5)", 10),
    ("=INDEX(A1:A5,9)", "#REF!"),
    ("=SUM(INDEX(A1:B5,0,1))", 16),
    ('=MATCH("banana",B1:B5,0)', 2),
    ("=MATCH(2.5,A1:A3)", 2),
    ("=MATCH(0,A1:A3)", "#N/A"),
    ("=ROW()", 1),
    ("=ROW(A3)", 3),
    ("=COLUMN(C1)", 3),
    ("=ROWS(A1:B5)+COLUMNS(A1:B5)", 7),
    # other tabs and named ranges
    ("=Legend!B2*4", 1),
    ("=SUM('My tab'!A1:A10)", 11),
    ("='My tab'!A3", "x"),
    ("=roi_a+1", 1.25),
    ("=ROI_A", 0.25),
    ("=YEAR(as_of)*10000+MONTH(as_of)*100+DAY(as_of)", 20261123),
    ('=YEAR("2024-02-29")', 2024),
    ("=DATE(2026,13,1)", 46388),
    ("=Nowhere!A1", "#REF!"),
    ("=no_such_name", "#NAME?"),
    ("=NO_SUCH_FUNCTION(1)", "#NAME?"),
    ("=ROUND()", "#N/A"),
    ("=SUM(1,", "#ERROR!"),
    ('=ARRAYFORMULA(SUM(A1:A3*2))', 12),
    ("={1,2;3,4}", 1),
    ("=#N/A", "#N/A"),
    ("=A1:A3", 1),
    ('=HYPERLINK("https://example.com","label")', "label"),
]


@pytest.mark.parametrize(("formula", "expected"), CASES, ids=[c[0] for c in CASES])
def test_formula(book: tuple[EmulatorState, Spreadsheet], formula: str, expected: Any) -> None:
    got = value_of(book, formula)
    if isinstance(expected, float):
        assert got == pytest.approx(expected)
    else:
        assert got == expected and type(got) is type(expected)


def test_formatted_values_and_error_cells(book: tuple[EmulatorState, Spreadsheet]) -> None:
    state, ss = book
    state.owner_update_values(ss.id, "Sheet1!Z2:Z3", [["=1/3"], ["=1/0"]])
    assert state.read_values(ss.id, "Sheet1!Z2:Z3", "FORMATTED_VALUE") == [["0.3333333333"], ["#DIV/0!"]]
    assert state.read_values(ss.id, "Sheet1!Z2", "FORMULA") == [["=1/3"]]


def test_dependents_recompute_on_read() -> None:
    state = EmulatorState()
    ss = state.create_spreadsheet("r", sheet_titles=["Sheet1", "Legend"])
    state.owner_update_values(ss.id, "Legend!A1", [[1]])
    state.owner_update_values(ss.id, "Sheet1!A1:A3", [["=Legend!A1*2"], ["=A1+1"], ["=SUM(A1:A2)"]])
    assert state.read_values(ss.id, "Sheet1!A1:A3") == [[2], [3], [5]]
    state.owner_update_values(ss.id, "Legend!A1", [[10]])
    assert state.read_values(ss.id, "Sheet1!A1:A3") == [[20], [21], [41]]


def test_a_cycle_is_a_ref_error_and_a_long_chain_is_not() -> None:
    state = EmulatorState()
    ss = state.create_spreadsheet("c", rows=1200)
    state.owner_update_values(ss.id, "A1:B1", [["=B1+1", "=A1+1"]])
    assert state.read_values(ss.id, "A1:B1") == [["#REF!", "#REF!"]]
    chain = [[1]] + [[f"=A{r}+1"] for r in range(1, 1000)]
    state.owner_update_values(ss.id, "A1:A1000", chain)
    assert state.read_values(ss.id, "A1000") == [[1000]]


def test_a_renamed_tab_and_a_moved_named_range_are_followed() -> None:
    state = EmulatorState()
    ss = state.create_spreadsheet("n", sheet_titles=["Sheet1", "Legend"])
    legend = ss.sheet_by_title("Legend")
    assert legend is not None
    state.owner_update_values(ss.id, "Legend!B2:B3", [[1], [2]])
    state.owner_batch_update(ss.id, [{"addNamedRange": {"namedRange": {"name": "t", "range": {
        "sheetId": legend.id, "startRowIndex": 1, "endRowIndex": 2, "startColumnIndex": 1, "endColumnIndex": 2}}}}])
    state.owner_update_values(ss.id, "Sheet1!A1", [["=t*10"]])
    assert state.read_values(ss.id, "Sheet1!A1") == [[10]]
    state.owner_insert_rows(ss.id, "Legend", 0)  # the named cell moves down with its row
    assert state.read_values(ss.id, "Sheet1!A1") == [[10]]


def test_parse_is_cached_and_rejects_garbage() -> None:
    assert parse("=A1+1") is parse("=A1+1")
    with pytest.raises(Exception):  # noqa: B017, PT011 - the parser's own syntax error
        parse("=(1")


def test_every_function_the_live_formulas_write_is_computed() -> None:
    from sheets_sync.rules.formula import FUNCTIONS_USED
    from sheets_sync_emulators.google_sheets.formulas import FUNCTIONS

    assert set(FUNCTIONS_USED) <= set(FUNCTIONS)


def test_custom_formula_references_move_with_the_cell() -> None:
    from sheets_sync_emulators.google_sheets.formulas import shift

    assert shift("=$B1>5", 2, 3) == "=$B3>5"
    assert shift("=A$1+Legend!C2+'My tab'!$D$4", 1, 1) == "=B$1+Legend!D3+'My tab'!$D$4"
    assert shift("=A1", -1, 0) == "=#REF!"
