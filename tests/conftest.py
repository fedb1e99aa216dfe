"""Shared fixtures: a fixed clock, no production credentials in the environment."""

from __future__ import annotations

import os

import pytest

DANGEROUS = ("GOOGLE_APPLICATION_CREDENTIALS", "GSPREAD_CREDENTIALS", "AMOCRM_TOKEN",
             "BITRIX24_WEBHOOK", "HUBSPOT_TOKEN")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name in DANGEROUS or name.startswith("SHEETS_SYNC_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SHEETS_SYNC_NOW", "2026-11-23T10:00:00")
