"""Regressions a review of the owner-trust work found, on the in-memory fakes."""
from __future__ import annotations

from test_owner_state_machine import TAB, OwnerMachine, checked, column


def test_an_overwritten_edit_is_recorded_once_across_a_replan() -> None:
    """An owner edits a revenue in the sheet; a column is inserted while the sync writes;
    the pass is planned again and records the same overwritten edit a second time."""
    m = checked(OwnerMachine())
    try:
        m.edit_revenue_in_sheet(pick=0, value=777_777.0)
        m.sheet.between_check_and_write = lambda sheet: sheet.insert_column(TAB, 0)
        writes = m.sheet.writes
        m._sync()
        assert m.sheet.writes == writes + 2  # a clobbered write, then the re-planned one
        edits = m.ctx.state.db.execute("SELECT client_id, col, sheet_value FROM edits").fetchall()
        assert len(edits) == 1, edits
        hist = m.sheet.tabs["History"]
        assert sum(1 for line in hist if "sheet edit replaced" in line) == 1
    finally:
        m.teardown()


import pytest  # noqa: E402

from sheets_sync import sync as sync_mod  # noqa: E402
from sheets_sync.errors import ShrinkError  # noqa: E402
from sheets_sync.sheets.guard import header_text  # noqa: E402


def test_a_sheet_pasted_twice_does_not_disable_the_shrink_guard() -> None:
    """The owner pastes the whole table a second time below (every id in two rows); one sync
    runs (nothing written for those rows: fine). It also wipes the snapshot, so the next
    CRM read that returns no client at all is accepted: every row is marked gone."""
    m = checked(OwnerMachine())
    try:
        hr = m.hr()
        for line in [list(x) for x in m.grid[hr + 1:]]:
            m.grid.append(line)
        m._sync()
        m.crm.clients = []  # a vendor answers an empty list
        with pytest.raises(ShrinkError):  # "always for all gone" (issue 13)
            sync_mod.run_sync(m.ctx)
    finally:
        m.teardown()


def test_a_title_row_inserted_during_the_write_leaves_the_header_intact() -> None:
    """Revenue changes for client 1 (row 2, the first data row); an owner inserts a title row
    while the sync writes: the write to the first data row lands in the header row. The
    repair skips every cell at or above the header row, so our value stays there as a header."""
    m = checked(OwnerMachine())
    try:
        header_before = [header_text(v) for v in m.grid[m.hr()] if header_text(v)]
        first = m.rows_of()[0][1]
        client = m.crm.find(first)
        client["revenue_rub"] = 2_500_000.0 if client["revenue_rub"] != 2_500_000.0 else 40_000.0
        m.sheet.between_check_and_write = lambda sheet: sheet.insert_row(TAB, 0, ["Клиенты на ноябрь"])
        m._sync()
        header_after = [header_text(v) for v in m.grid[m.hr()] if header_text(v)]
        assert header_after == header_before
    finally:
        m.teardown()


def test_an_owner_column_with_codes_is_not_taken_for_a_deleted_manual_column() -> None:
    """Manual E on client 1; the owner keeps their own column of last year's codes (E for
    client 1 by chance, A for the others) and deletes manual_category. The sync takes the
    owner's column for manual_category and writes A into the CRM for every client."""
    m = checked(OwnerMachine())
    try:
        m.set_manual_category(pick=0, code="E")
        m._sync()
        crm_before = dict(m.crm.categories())
        hr = m.hr()
        idc = column(m.grid, hr, "id")
        values = [None] * hr + ["Категория 2025"]
        for line in m.grid[hr + 1:]:
            values.append("E" if str(line[idc]) == "1" else "A")
        width = max(len(line) for line in m.grid)
        m.sheet.insert_column(TAB, width, values)
        m.sheet.delete_column(TAB, column(m.grid, hr, "manual_category"))
        sync_mod.run_sync(m.ctx)
        after = m.crm.categories()
        changed = {cid: (crm_before[cid], after[cid]) for cid in after if after[cid] != crm_before[cid]}
        assert not changed, f"CRM categories changed by an owner's own column: {changed}"
    finally:
        m.teardown()


def test_a_replan_writes_to_the_crm_what_it_records() -> None:
    """While the sync writes, an owner sorts the rows and types a manual category. The pass is
    planned again: History and the sheet get the manual category; the CRM does not (its
    write was done in the first plan and is skipped)."""
    m = checked(OwnerMachine())
    try:
        m.crm_revenue(pick=0, value=REV)
        target = "2"
        before = m.crm.categories()[target]
        code = "E" if before != "E" else "C"

        def race(sheet):
            m.do_sort(0, True)
            r = next(r for r, c in m.rows_of() if c == target)
            sheet.set_cell(TAB, r, column(m.grid, m.hr(), "manual_category"), code)

        m.sheet.between_check_and_write = race
        sync_mod.run_sync(m.ctx)
        r = next(r for r, c in m.rows_of() if c == target)
        shown = m.grid[r][column(m.grid, m.hr(), "category")]
        last = m.ctx.state.last_categories()[target][0]
        assert (shown, last) == (code, code)
        assert m.crm.categories()[target] == shown, "the sheet and History say one thing, the CRM another"
    finally:
        m.teardown()


REV = 2_500_000.0


@pytest.mark.parametrize("own_header", [None, "Комментарий"])
def test_a_clobbered_owner_cell_is_given_back_its_value(own_header: str | None) -> None:
    """The owner keeps values in a column of their own left of revenue: one without a header
    (None), or one whose header is also used by another column of theirs. A column inserted
    while the sync writes a revenue shifts our value into the owner's column; the repair
    finds no (client, header) for that cell and empties it: the owner's value is gone."""
    m = checked(OwnerMachine())
    try:
        hr = m.hr()
        if own_header is not None:  # another column of the owner's with the same header, far left
            m.sheet.insert_column(TAB, 1, [None] * hr + [own_header])
        rev = column(m.grid, hr, "revenue")
        idc = column(m.grid, hr, "id")
        values = [None] * hr + [own_header] + [f"keep:{line[idc]}" for line in m.grid[hr + 1:]]
        m.sheet.insert_column(TAB, rev, values)
        m._sync()
        first = m.rows_of()[0][1]
        client = m.crm.find(first)
        client["revenue_rub"] = 2_500_000.0 if client["revenue_rub"] != 2_500_000.0 else 40_000.0
        m.sheet.between_check_and_write = lambda sheet: sheet.insert_column(TAB, 0)
        m._sync()
        hr = m.hr()
        own = rev + 1  # the owner's column, shifted by the inserted one
        idc = column(m.grid, hr, "id")
        for line in m.grid[hr + 1:]:
            assert line[own] == f"keep:{line[idc]}", (own, [str(v) for v in line])
    finally:
        m.teardown()


def test_an_old_alias_does_not_take_a_new_column() -> None:
    """manual_category renamed to «Ручная категория» (recognised, alias kept), later renamed
    back. The alias is kept for ever: a new, empty column the owner names «Ручная категория»
    left of it is taken for manual_category; every manual category reads as cleared and the
    CRM is reverted to the rules' categories."""
    m = checked(OwnerMachine())
    try:
        m.set_manual_category(pick=0, code="E")
        m.set_manual_category(pick=1, code="E")
        m._sync()
        manual = {c: v for c, v in m.crm.categories().items() if c in ("1", "2")}
        m.sheet.rename_header(TAB, "manual_category", "Ручная категория")
        m._sync()
        m.sheet.rename_header(TAB, "Ручная категория", "manual_category")
        m._sync()
        m.sheet.insert_column(TAB, 1, [None] * m.hr() + ["Ручная категория"])  # a new, empty column
        sync_mod.run_sync(m.ctx)
        assert {c: v for c, v in m.crm.categories().items() if c in ("1", "2")} == manual
    finally:
        m.teardown()


def test_a_title_cell_reading_id_does_not_misguide_the_repair() -> None:
    """A title row above the header has a cell 'id' (nothing else of ours, so read_clients
    rightly skips it). guard.locate (used by restorations) takes the first row with 'id' as
    the header: when a race makes the backend repair, the owner's cell that our value landed
    in gets back None instead of its value."""
    m = checked(OwnerMachine())
    try:
        m.sheet.insert_row(TAB, 0, ["Клиенты", None, None, None, None, None, None, None, None, None, None, "id"])
        hr = 1
        rev = column(m.grid, hr, "revenue")
        idc = column(m.grid, hr, "id")
        values = [None] * hr + ["own"] + [f"keep:{line[idc]}" for line in m.grid[hr + 1:]]
        m.sheet.insert_column(TAB, rev, values)
        sync_mod.run_sync(m.ctx)
        client = m.crm.find(str(m.grid[hr + 1][idc]))
        client["revenue_rub"] = 2_500_000.0 if client["revenue_rub"] != 2_500_000.0 else 40_000.0
        m.sheet.between_check_and_write = lambda sheet: sheet.insert_column(TAB, 0)
        sync_mod.run_sync(m.ctx)
        own = column(m.grid, hr, "own")
        idc = column(m.grid, hr, "id")
        for line in m.grid[hr + 1:]:
            assert line[own] == f"keep:{line[idc]}", (own, [str(v) for v in line][:14])
    finally:
        m.teardown()


def test_a_label_row_above_the_header_is_not_taken_for_it() -> None:
    """The owner inserts a row of labels above the header ("ID", "Name"): read_clients takes
    the first row with 'id' and one more of our headers, so that row becomes the header. Our
    other columns are 'missing' and re-made from column 2 on, on top of the real ones: the
    owner's own column is overwritten with revenues and the manual category the owner just
    changed (E -> A) is overwritten with the kept E, which stays in the CRM."""
    m = checked(OwnerMachine())
    try:
        m.set_manual_category(pick=0, code="E")
        m._sync()
        hr = m.hr()
        idc = column(m.grid, hr, "id")
        rev = column(m.grid, hr, "revenue")
        own = [None] * hr + ["Комментарий"] + [f"keep:{line[idc]}" for line in m.grid[hr + 1:]]
        m.sheet.insert_column(TAB, rev, own)
        row1 = next(r for r, c in m.rows_of() if c == "1")
        m.sheet.set_cell(TAB, row1, column(m.grid, hr, "manual_category"), "A")  # the owner's new decision
        m.sheet.insert_row(TAB, 0, ["ID", "Name"])
        try:
            sync_mod.run_sync(m.ctx)
        except Exception as exc:  # a refusal (StructureError) would be an acceptable answer
            assert type(exc).__name__ == "StructureError", exc
        grid = m.grid
        hr = 1
        own = column(grid, hr, "Комментарий")
        manual = column(grid, hr, "manual_category")
        idc = column(grid, hr, "id")
        for line in grid[hr + 1:]:
            assert line[own] == f"keep:{line[idc]}", [str(v) for v in line][:12]
        assert grid[row1 + 1][manual] == "A"
        assert m.crm.categories()["1"] in ("A", "E")
    finally:
        m.teardown()
