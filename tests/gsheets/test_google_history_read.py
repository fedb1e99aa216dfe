"""The History tab is not fetched whole at every sync: its first rows say whether it holds
anything; it is read whole only when an earlier run may have written rows without noting it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from urllib.parse import parse_qs

from .conftest import GoogleDemo


def _ranges(demo: GoogleDemo) -> list[str]:
    gets = [e for e in demo.server.state.request_log if e.action == "values.batchGet"]
    return [r for e in gets for r in parse_qs(e.query)["ranges"]]


def test_a_sync_reads_the_first_rows_of_history_unless_rows_may_be_in_it_unnoted(
        cli: Callable[..., str], google_demo: GoogleDemo) -> None:
    config = str(google_demo.config)
    cli("sync", "--config", config, code=0)
    history = google_demo.values("History")
    assert len(history) > 50  # every client's first category, one row each

    google_demo.server.state.clear_log()
    assert cli("sync", "--config", config, code=0).startswith("No changes")
    assert "'History'!1:50" in _ranges(google_demo)

    # a run killed after writing the sheet and before noting it: the rows are in the tab, the
    # state store does not know; the next run reads the tab whole and appends none twice
    state = google_demo.folder / "google.state.sqlite"
    assert state.is_file()
    with sqlite3.connect(state) as db:
        db.execute("UPDATE history SET in_sheet = 0 WHERE seq > (SELECT MAX(seq) - 5 FROM history)")
    google_demo.server.state.clear_log()
    cli("sync", "--config", config, code=0)
    assert "'History'" in _ranges(google_demo)
    assert google_demo.values("History") == history
    with sqlite3.connect(state) as db:
        assert db.execute("SELECT COUNT(*) FROM history WHERE in_sheet = 0").fetchone() == (0,)
