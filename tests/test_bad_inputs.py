"""The bad-input corpus: every case in ``tests/fixtures/bad_inputs/*.toml`` is fed to the CLI.

Each case starts from a fresh copy of a synced demo (a SQLite CRM, a workbook, a state file),
breaks one thing, runs one command and checks the exit code, a key phrase of the message, that
no traceback was printed, and that the CRM, the workbook and the state are unchanged where the
case says so. The format is documented in ``tests/fixtures/bad_inputs/README.md``.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from sheets_sync.cli import main
from sheets_sync.demo import create_demo

CORPUS = Path(__file__).parent / "fixtures" / "bad_inputs"
NOW = "2026-11-23T10:00:00"
TODAY = date(2026, 11, 23)


def _cases() -> list[Any]:
    out = []
    for file in sorted(CORPUS.glob("*.toml")):
        for case in tomllib.loads(file.read_text(encoding="utf-8"))["case"]:
            out.append(pytest.param(case, id=f"{file.stem}:{case['name']}"))
    return out


@pytest.fixture(scope="module")
def synced_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo") / "demo"
    create_demo(folder, clients=25, today=TODAY)
    result = CliRunner().invoke(main, ["sync", "--config", str(folder / "sheets-sync.toml")],
                                env={"SHEETS_SYNC_NOW": NOW})
    assert result.exit_code in (0, 1), result.output
    return folder


def _crm(folder: Path) -> list[tuple]:
    db = sqlite3.connect(folder / "crm.sqlite")
    try:
        return db.execute("SELECT * FROM companies ORDER BY id").fetchall()
    finally:
        db.close()


def _workbook(folder: Path) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(folder / "clients.xlsx", read_only=True)
    try:
        return {ws.title: list(ws.iter_rows(values_only=True)) for ws in wb.worksheets}
    finally:
        wb.close()


def _state(folder: Path) -> str:
    path = folder / "sheets-sync.state.sqlite"
    db = sqlite3.connect(path)
    try:
        rows = [db.execute(f"SELECT * FROM {t}").fetchall() for t in ("snapshot", "history", "ledger")]
    finally:
        db.close()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


WITNESSES = {"crm": _crm, "workbook": _workbook, "state": _state}


_REPEAT = re.compile(r"\{repeat:(\d+):(.*?)\}", re.S)


def _expand(text: str) -> str:
    """``{repeat:N:text}`` is ``text`` N times (a 600-term sum, 500 nested nots)."""
    return _REPEAT.sub(lambda m: m.group(2) * int(m.group(1)), text)


def _fill(text: str, folder: Path) -> str:
    return text.replace("{dir}", str(folder)).replace("{config}", str(folder / "sheets-sync.toml"))


def _replace(path: Path, pairs: list[list[str]], append: str = "") -> None:
    text = path.read_text(encoding="utf-8")
    for old, new in pairs:
        assert old in text, f"{old!r} not in {path.name}: fix the case"
        text = text.replace(old, _expand(new), 1)
    path.write_text(text + _expand(append), encoding="utf-8")


def _setup(folder: Path, setup: dict[str, Any]) -> None:
    if setup.get("config") or setup.get("config_append"):
        _replace(folder / "sheets-sync.toml", setup.get("config", []), setup.get("config_append", ""))
    if setup.get("rules") or setup.get("rules_append"):
        _replace(folder / "rules.py", setup.get("rules", []), setup.get("rules_append", ""))
    if setup.get("crm_sql"):
        db = sqlite3.connect(folder / "crm.sqlite")
        with db:
            for statement in setup["crm_sql"]:
                db.execute(statement)
        db.close()
    for name, content in setup.get("files", {}).items():
        (folder / name).write_text(_expand(content), encoding="utf-8")
    for name, source in setup.get("copy", {}).items():
        shutil.copyfile(CORPUS / source, folder / name)
    for name in setup.get("folders", []):
        target = folder / name
        if target.is_file():
            target.unlink()
        target.mkdir(parents=True, exist_ok=True)
    for name, megabytes in setup.get("big_files", {}).items():
        with open(folder / name, "w", encoding="utf-8") as fh:
            line = "# " + "x" * 1021 + "\n"
            for _ in range(int(megabytes * 1024)):
                fh.write(line)


@pytest.mark.parametrize("case", _cases())
def test_bad_input(case: dict[str, Any], synced_demo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    shutil.copytree(synced_demo, folder)
    _setup(folder, case.get("setup", {}))
    unchanged = case.get("unchanged", [])
    before = {name: WITNESSES[name](folder) for name in unchanged}
    env = {"SHEETS_SYNC_NOW": NOW, **case.get("env", {})}
    args = [_fill(a, folder) for a in case["args"]]
    result = CliRunner().invoke(main, args, env=env)
    output = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"uncaught {type(result.exception).__name__}: {result.exception}\n{output}"
    assert "Traceback" not in output, output
    assert result.exit_code == case["exit"], output
    messages = case.get("message", [])
    for phrase in [messages] if isinstance(messages, str) else messages:
        assert phrase.lower() in output.lower(), f"{phrase!r} not in:\n{output}"
    for phrase in case.get("absent", []):
        assert phrase.lower() not in output.lower(), f"{phrase!r} in:\n{output}"
    for name in unchanged:
        assert WITNESSES[name](folder) == before[name], f"the {name} changed"
    for check in case.get("expect_file", []):
        text = (folder / check["path"]).read_text(encoding="utf-8-sig")
        for phrase in check.get("contains", []):
            assert phrase in text, f"{phrase!r} not in {check['path']}:\n{text[:2000]}"
        for phrase in check.get("lacks", []):
            assert phrase not in text, f"{phrase!r} in {check['path']}:\n{text[:2000]}"
    for check in case.get("expect_xlsx", []):  # text cells stay text, never formulas
        wb = openpyxl.load_workbook(folder / check["path"])
        cells = {c.value: c.data_type for ws in wb.worksheets for row in ws.iter_rows() for c in row}
        for text in check["text"]:
            assert cells.get(text) == "s", f"{text!r} in {check['path']}: {cells.get(text)!r}"
    if case.get("then_no_changes"):  # a second sync converges: nothing left to write
        again = CliRunner().invoke(main, args, env=env)
        assert "No changes" in again.output, again.output
