"""Shared fixtures: a fixed clock, no production credentials in the environment."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from click.testing import CliRunner

from sheets_sync.cli import main

DANGEROUS = ("GOOGLE_APPLICATION_CREDENTIALS", "GSPREAD_CREDENTIALS", "AMOCRM_TOKEN",
             "BITRIX24_WEBHOOK", "HUBSPOT_TOKEN")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name in DANGEROUS or name.startswith("SHEETS_SYNC_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SHEETS_SYNC_NOW", "2026-11-23T10:00:00")


def invoke(*args: str, code: int | None = 0) -> str:
    """Run the CLI in-process; check the exit code (``None``: any); return its output."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    if code is not None:
        assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def cli() -> Callable[..., str]:
    return invoke


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """In CI (SHEETS_SYNC_STRICT_SKIPS=1) a skipped test fails: CI installs everything."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("SHEETS_SYNC_STRICT_SKIPS") == "1" and call.when in ("setup", "call"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may be skipped: {report.longrepr}"
