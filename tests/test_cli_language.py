"""The command line in the owner's language: ``--help``, click's own messages, our errors and
the review report follow ``LANG`` (Russian under ``ru_RU``, English under ``C``), with the same
exit codes and never a traceback."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sheets_sync import i18n
from sheets_sync.cli import COMMAND_EXITS
from sheets_sync.demo import ORDERS_TEXT
from sheets_sync.errors import EXIT_MEANINGS, ExitCode
from sheets_sync.reports import chart_figures, review_config
from sheets_sync.rules import load_rules

CYRILLIC = set("абвгдеёжзийклмнопрстуфхцчшщъыьэюя")


def run(*args: str, lang: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real ``sheets-sync`` in a process of its own, under ``LANG=lang``."""
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANGUAGE")}
    env["LANG"] = lang
    script = Path(sys.executable).with_name("sheets-sync")  # the installed entry point
    command = [str(script)] if script.exists() else [sys.executable, "-m", "sheets_sync"]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def russian(text: str) -> bool:
    letters = [c for c in text.lower() if c.isalpha()]
    return sum(c in CYRILLIC for c in letters) > len(letters) / 2


@pytest.mark.parametrize("command", ["", "sync", "report review", "crm setup", "export"])
def test_help_speaks_russian_under_a_russian_locale(command: str) -> None:
    result = run(*command.split(), "--help", lang="ru_RU.UTF-8")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Использование: "), out
    assert "Параметры:" in out and "Показать эту справку и выйти." in out
    assert "Usage:" not in out and "Options:" not in out and "Exit codes:" not in out
    assert "Коды выхода:" in out
    with i18n.use_language("ru"):
        for code in COMMAND_EXITS[command or "sheets-sync"]:
            assert f"{int(code)}  {i18n.translate(EXIT_MEANINGS[code])}" in out
    prose = [line for line in out.splitlines() if line.startswith("  ") and not line.lstrip().startswith("-")]
    assert russian(" ".join(prose)), out  # the command's own help, not only click's frame


def test_help_stays_english_under_the_c_locale() -> None:
    out = run("sync", "--help", lang="C.UTF-8").stdout
    assert out.startswith("Usage: ") and " sync [OPTIONS]" in out
    assert "Show the plan; change nothing anywhere." in out and "Exit codes:" in out
    assert not any(c in CYRILLIC for c in out.lower())


def test_the_group_lists_its_commands_in_russian() -> None:
    out = run("--help", lang="ru_RU.UTF-8").stdout
    commands = out.split("Команды:", 1)[1].split("Коды выхода:", 1)[0]
    assert "sync        Один проход" in commands
    assert "report      Отчёты для владельца" in commands


@pytest.mark.parametrize(("args", "code", "want"), [
    (["sync", "--config", "missing.toml"], ExitCode.CONFIG, "Ошибка: Файл настроек missing.toml не найден."),
    (["check"], ExitCode.CONFIG, "ИСПРАВИТЬ В папке "),
    (["categorize", "--today", "2026-99-01"], 2, "Ошибка: Неверное значение для '--today': '2026-99-01' не подходит"),
    (["sync", "--wait", "-1"], 2, "— не число секунд от 0 до 604800"),
    (["categorize", "clients.csv"], 2, "Ошибка: укажите INPUT и --out OUTPUT"),
    (["report", "capacity"], 2, "Ошибка: Не хватает параметра '--slots'."),
    (["nosuch"], 2, "Ошибка: Нет такой команды: 'nosuch'."),
])
def test_a_failing_command_says_why_in_russian(tmp_path: Path, args: list[str], code: int, want: str) -> None:
    result = run(*args, lang="ru_RU.UTF-8", cwd=tmp_path)
    assert result.returncode == int(code), result.stderr
    assert want in result.stderr + result.stdout, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    english = run(*args, lang="C", cwd=tmp_path)
    assert english.returncode == result.returncode  # the same exit code in either language
    said = english.stderr + english.stdout
    assert ("Error: " in said or "FIX   " in said) and not any(c in CYRILLIC for c in said.lower())


@pytest.fixture
def two_syncs(cli: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Russian demo synced on 01.08.2026, one client made unprofitable, synced on 20.11.2026."""
    monkeypatch.setenv("SHEETS_SYNC_NOW", "2026-08-01T09:00:00")
    folder = tmp_path / "demo"
    cli("demo", str(folder), "--clients", "60", "--language", "ru", code=None)
    config = folder / "sheets-sync.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(ORDERS_TEXT, ""), encoding="utf-8")
    cli("sync", "--config", str(config), code=None)
    with sqlite3.connect(folder / "sheets-sync.state.sqlite") as db:
        (moved,) = db.execute("SELECT client_id FROM history WHERE to_cat IN ('B', 'C', 'D') "
                              "ORDER BY CAST(client_id AS INTEGER) LIMIT 1").fetchone()
    with sqlite3.connect(folder / "crm.sqlite") as db:
        db.execute("UPDATE companies SET revenue_rub = 100000, costs_rub = 150000, overdue_days = 0, "
                   "blacklisted = 0 WHERE id = ?", (moved,))
    monkeypatch.setenv("SHEETS_SYNC_NOW", "2026-11-20T09:00:00")
    cli("sync", "--config", str(config), code=None)
    return folder


def test_the_review_and_its_charts_speak_russian(two_syncs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = two_syncs / "sheets-sync.toml"
    result = run("report", "review", "--config", str(config), "--since", "01.09.2026",
                 "--out", str(two_syncs / "обзор.md"), lang="ru_RU.UTF-8")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Квартальный обзор 01.09.2026 – 20.11.2026")
    for title in ("Клиентов в каждой категории сейчас", "Переходы (откуда → куда)", "Клиенты, сменившие категорию: 1",
                  "Категория не пересматривалась больше 90 дней", "Новые клиенты без категории",
                  "Лестница лояльности"):
        assert title in out, out
    assert "Quarterly" not in out and "Moved clients" not in out and "(none)" not in out
    text = (two_syncs / "обзор.md").read_text(encoding="utf-8")
    assert "## Клиенты, сменившие категорию" in text and "| откуда | куда |" in text
    assert f"записан {two_syncs / 'обзор-transitions.png'}" in out

    monkeypatch.setenv("SHEETS_SYNC_NOW", "2026-11-20T09:00:00")
    with i18n.use_language("ru"):
        rev, _written = review_config(config, since=None)
        figures = dict(chart_figures(rev, load_rules(two_syncs / "rules.py")))
    over_time, moves = figures["categories"].axes[0], figures["transitions"].axes[0]
    assert over_time.get_title() == "Клиенты по категориям во времени" and over_time.get_ylabel() == "клиентов"
    assert moves.get_title() == "Переходы 20.08.2026 – 20.11.2026"
    assert (moves.get_xlabel(), moves.get_ylabel()) == ("куда", "откуда")
    assert [t.get_text() for t in over_time.get_xticklabels()] == ["01.08.2026", "20.11.2026"]
