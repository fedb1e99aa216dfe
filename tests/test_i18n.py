"""The language: catalogs complete and compiled, the setting, the sheet relabelled in place,
reasons and the Legend in words, forgiving manual codes."""

from __future__ import annotations

import gettext
import json
import sqlite3
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import sheets_sync
from sheets_sync import i18n
from sheets_sync.categorize import categorize
from sheets_sync.config import load_config
from sheets_sync.demo import create_demo
from sheets_sync.errors import ConfigError
from sheets_sync.rules import load_rules, parse_rules
from sheets_sync.sync import open_context, run_sync
from sheets_sync.table import build_table

PACKAGE = Path(sheets_sync.__file__).parent
PO = PACKAGE / "locale" / "ru" / "LC_MESSAGES" / "sheets_sync.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "NC_": ((1, "c"), 2)}
ROOT = Path(__file__).resolve().parents[1]


def _catalog() -> dict[tuple[str | None, str], str]:
    """Each translated text by (context, msgid); a plural text by its singular, translated only
    when every plural form is (then its first form)."""
    with PO.open("rb") as f:
        po = read_po(f, locale="ru")
    out = {}
    for m in po:
        if m.id and "fuzzy" not in m.flags:
            if isinstance(m.id, str):
                out[(m.context, m.id)] = m.string
            else:
                out[(m.context, m.id[0])] = m.string[0] if all(m.string) else ""
    return out


def _plurals() -> dict[str, str]:
    with PO.open("rb") as f:
        return {m.id[0]: m.id[1] for m in read_po(f, locale="ru") if m.id and not isinstance(m.id, str)}


def test_every_marked_text_has_a_russian_translation() -> None:
    """A text marked for translation in the code (``_``, ``N_``, ``pgettext``...) and missing
    from the Russian catalog, or left empty there, fails here: run
    ``python -m sheets_sync.i18n extract``, translate, then ``... compile``."""
    catalog = _catalog()
    missing = []
    for _file, _line, message, _comments, context in extract_from_dir(
            str(PACKAGE), keywords=KEYWORDS, comment_tags=()):
        msgid = message if isinstance(message, str) else message[0]
        if not catalog.get((context, msgid)):
            missing.append((context, msgid))
    assert not missing, f"no Russian translation for {missing[:10]}"


def test_the_compiled_catalog_is_up_to_date() -> None:
    with MO.open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    plurals = _plurals()
    for (context, msgid), text in _catalog().items():
        if msgid in plurals:
            got = compiled.ngettext(msgid, plurals[msgid], 1)
        else:
            got = compiled.pgettext(context, msgid) if context else compiled.gettext(msgid)
        assert got == text, f"{MO.name} is older than {PO.name} for {msgid!r}: run python -m sheets_sync.i18n compile"


@pytest.mark.parametrize(("env", "want"), [({"LANG": "ru_RU.UTF-8"}, "ru"), ({"LANG": "en_US.UTF-8"}, "en"),
                                           ({"LANG": "C.UTF-8"}, "en"), ({"LC_ALL": "ru_UA", "LANG": "en_GB"}, "ru"),
                                           ({}, "en")])
def test_the_default_language_follows_the_system_locale(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                                        want: str) -> None:
    monkeypatch.delenv("LANG", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert i18n.system_language() == want
    assert i18n.language() == want


def test_numbers_and_dates_in_the_language() -> None:
    with i18n.use_language("ru"):
        assert i18n.number(208.6) == "208,6"
        assert i18n.number(-1234567.891) == "−1\u00a0234\u00a0567,89"
        assert i18n.number(1234) == "1234"
        assert i18n.day(date(2026, 8, 1)) == "01.08.2026"
    with i18n.use_language("en"):
        assert i18n.number(208.6) == "208.6"
        assert i18n.day(date(2026, 8, 1)) == "2026-08-01"


def test_the_config_language_is_checked(tmp_path: Path) -> None:
    paths = create_demo(tmp_path / "d", clients=5, today=date(2026, 11, 23), language="en")
    text = paths["config"].read_text(encoding="utf-8")
    assert 'language = "en"' in text
    paths["config"].write_text(text.replace('language = "en"', 'language = "de"'), encoding="utf-8")
    with pytest.raises(ConfigError, match="language must be one of 'en', 'ru'"):
        load_config(paths["config"])


def _sync(config: Path) -> dict:
    ctx = open_context(load_config(config))
    try:
        return run_sync(ctx).as_dict()
    finally:
        ctx.crm.close()
        ctx.state.close()


def _set_language(config: Path, lang: str) -> None:
    text = config.read_text(encoding="utf-8")
    old = 'language = "ru"' if 'language = "ru"' in text else 'language = "en"'
    config.write_text(text.replace(old, f'language = "{lang}"'), encoding="utf-8")


def _clients(book: Path, tab: str) -> tuple[list[str], dict[str, dict[str, object]]]:
    wb = openpyxl.load_workbook(book)
    rows = list(wb[tab].iter_rows(values_only=True))
    header = [str(h) for h in rows[0]]
    return header, {str(r[0]): dict(zip(header, r, strict=False)) for r in rows[1:]}


def test_switching_the_language_relabels_the_sheet_in_place(tmp_path: Path) -> None:
    """en -> ru -> en: the same columns in the same places, relabelled; the owners' manual
    categories and notes kept; no column twice; the header notes in the language."""
    paths = create_demo(tmp_path / "d", clients=30, today=date(2026, 11, 23), language="en")
    _sync(paths["config"])
    wb = openpyxl.load_workbook(paths["workbook"])
    ws = wb["Clients"]
    header = [c.value for c in ws[1]]
    ws.cell(row=3, column=header.index("manual_category") + 1, value="B")
    ws.cell(row=4, column=header.index("notes") + 1, value="звонить в пятницу")
    ws.cell(row=1, column=len(header) + 1, value="Owner's column")
    ws.cell(row=2, column=len(header) + 1, value="mine")
    wb.save(paths["workbook"])
    _sync(paths["config"])
    en_header, en_rows = _clients(paths["workbook"], "Clients")

    _set_language(paths["config"], "ru")
    summary = _sync(paths["config"])
    ru_header, ru_rows = _clients(paths["workbook"], "Clients")
    assert len(ru_header) == len(en_header)
    assert ru_header[1:4] == ["Компания", "Категория", "Ручная категория"]  # ("id" and "ID": one header)
    assert ru_header[en_header.index("notes")] == "Заметки"
    assert ru_header[-1] == "Owner's column"
    assert len(set(ru_header)) == len(ru_header)
    assert summary["changes"] == [] and summary["sheet"]["rows_added"] == 0
    for cid, row in en_rows.items():  # the same values, column by column
        assert list(ru_rows[cid].values())[:3] == list(row.values())[:3]
    client3 = next(cid for cid, r in en_rows.items() if r["manual_category"] == "B")
    assert ru_rows[client3]["Ручная категория"] == "B" and ru_rows[client3]["Категория"] == "B"
    assert "вручную B" in ru_rows[client3]["Почему"]
    assert any(r["Заметки"] == "звонить в пятницу" for r in ru_rows.values())
    wb = openpyxl.load_workbook(paths["workbook"])
    assert "перезаписывается" in wb["Clients"].cell(row=1, column=3).comment.text
    assert wb["History"].cell(row=1, column=1).value == "Категория изменена"
    assert wb.sheetnames[:4] == ["Clients", "History", "Legend", "Summary"]  # tabs keep their names

    _set_language(paths["config"], "en")
    _sync(paths["config"])
    back_header, back_rows = _clients(paths["workbook"], "Clients")
    assert back_header == en_header
    assert back_rows[client3]["manual_category"] == "B"
    assert any(r["notes"] == "звонить в пятницу" for r in back_rows.values())
    assert _sync(paths["config"])["nothing_to_do"]


def test_header_overrides_win_over_the_language(tmp_path: Path) -> None:
    paths = create_demo(tmp_path / "d", clients=5, today=date(2026, 11, 23), language="ru")
    text = paths["config"].read_text(encoding="utf-8")
    paths["config"].write_text(text.replace("[parsing]", '[sheet.headers]\ncategory = "Сегмент"\n\n[parsing]'),
                               encoding="utf-8")
    _sync(paths["config"])
    header, _ = _clients(paths["workbook"], "Клиенты")
    assert "Сегмент" in header and "Категория" not in header and "Ручная категория" in header


def _table(**columns: list[object]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {"id": [str(i) for i in range(1, n + 1)], "name": [f"c{i}" for i in range(n)]}
    base.update(columns)
    return pd.DataFrame(base)


def test_reasons_in_russian_with_locale_numbers() -> None:
    rules = load_rules(ROOT / "rules.py")
    raw = _table(revenue=[300_000.0, 10.0], costs=[97_000.0, 9.0], orders_12m=[1, 1], overdue_days=[0, 0],
                 manual_category=[None, "а"])
    with i18n.use_language("ru"):
        out = categorize(build_table(raw), rules, date(2026, 11, 23)).frame
    assert out["reason"][0] == ("A: рентабельность 209,28\u00a0% ≥ 50\u00a0% и доля прибыли клиентов выше "
                                "0\u00a0% < 80\u00a0%")
    assert out["category"][1] == "A"  # a Cyrillic а typed for A
    assert out["reason"][1] == ("вручную A: задал владелец в таблице (по правилам было бы "
                                "D: не подошёл ни под одну категорию выше)")


def test_the_fall_through_says_so_in_english() -> None:
    rules = load_rules(ROOT / "rules.py")
    out = categorize(build_table(_table(revenue=[10.0], costs=[9.0], orders_12m=[1])), rules,
                     date(2026, 11, 23)).frame
    assert out["reason"][0] == "D: matched none of the categories above"


@pytest.mark.parametrize("typed", ["A", " a ", "а", "А", "\tА\n"])
def test_manual_codes_are_read_forgivingly(typed: str) -> None:
    rules = load_rules(ROOT / "rules.py")
    out = categorize(build_table(_table(revenue=[10.0], costs=[9.0], orders_12m=[1], manual_category=[typed])),
                     rules, date(2026, 11, 23)).frame
    assert out["category"][0] == "A" and not out["problems"][0]


def test_cyrillic_look_alikes_of_longer_codes() -> None:
    rules = load_rules(ROOT / "rules.py")
    out = categorize(build_table(_table(revenue=[10.0] * 3, costs=[9.0] * 3, orders_12m=[1] * 3,
                                        manual_category=["ЕЕЕ", "аа", "Я"])), rules, date(2026, 11, 23)).frame
    assert list(out["category"]) == ["EEE", "AA", "D"]
    assert "manual_category 'Я': is not a category code" in out["problems"][2]


def test_unknown_codes_are_listed_with_row_and_value(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    paths = create_demo(tmp_path / "d", clients=10, today=date(2026, 11, 23), language="en")
    _sync(paths["config"])
    wb = openpyxl.load_workbook(paths["workbook"])
    ws = wb["Clients"]
    col = [c.value for c in ws[1]].index("manual_category") + 1
    ws.cell(row=5, column=col, value="Я")
    ws.cell(row=6, column=col, value=" в ")  # Cyrillic в is B
    wb.save(paths["workbook"])
    out = json.loads(cli("sync", "--config", str(paths["config"]), "--json", code=None))
    assert out["unknown_codes"] == [{"row": 5, "id": str(ws.cell(row=5, column=1).value), "value": "Я"}]
    assert any("row 5, column 'manual_category': 'Я' is not a category code" in p for p in out["sheet_problems"])
    text = cli("sync", "--config", str(paths["config"]), code=None)
    assert "row 5, column 'manual_category': 'Я' is not a category code" in text
    checked = cli("check", "--config", str(paths["config"]), code=None)
    assert "FIX   sheet: tab 'Clients', row 5, column 'manual_category': 'Я'" in checked
    db = sqlite3.connect(paths["crm"])
    assert db.execute("SELECT category FROM companies WHERE id = ?",
                      (int(ws.cell(row=6, column=1).value),)).fetchone()[0] == "B"
    db.close()


def test_legend_conditions_in_words_and_rules_the_file_accepts(tmp_path: Path) -> None:
    paths = create_demo(tmp_path / "d", clients=5, today=date(2026, 11, 23), language="ru")
    _sync(paths["config"])
    wb = openpyxl.load_workbook(paths["workbook"])
    rows = list(wb["Легенда"].iter_rows(values_only=True))
    assert rows[0] == ("Код", "Название", "Условие", "Стратегия", "Цвет", "Правило (rules.py)")
    by_code = {r[0]: r for r in rows[1:] if r[0]}
    assert by_code["A"][2] == "рентабельность ≥ 50\u00a0% и доля прибыли клиентов выше < 80\u00a0%"
    assert by_code["D"][2] == "все остальные"
    source = (ROOT / "rules.py").read_text(encoding="utf-8")
    for code in ("A", "B", "C", "EEE"):  # the rule column is what the rules file holds, and it parses
        rule = by_code[code][5]
        assert "≥" not in rule
        parse_rules(source.replace(f'"when": "{rule}"', f'"when": {rule!r}'))


def _rule_shape(rules) -> list:  # type: ignore[no-untyped-def]
    return [[(c.code, c.node, c.colour) for c in rules.categories], [(s.code, s.node) for s in rules.stages],
            [(m.name, m.node) for m in rules.metrics], rules.thresholds, rules.required, rules.columns]


def test_the_russian_default_rules_have_the_same_logic() -> None:
    from sheets_sync.demo import default_rules_text

    en, ru = parse_rules(default_rules_text("en")), parse_rules(default_rules_text("ru"))
    assert _rule_shape(ru) == _rule_shape(en)
    assert [c.title for c in ru.categories][-1] == "На безрыбье"
    assert all(any("а" <= ch <= "я" for ch in c.strategy.lower()) for c in [*ru.categories, *ru.stages])


def test_the_russian_demo_writes_the_russian_rules_and_reads_in_russian(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "d"
    cli("demo", str(folder), "--clients", "20", "--language", "ru", code=None)
    assert "Правила категорий" in (folder / "rules.py").read_text(encoding="utf-8")
    wb = openpyxl.load_workbook(folder / "clients.xlsx")
    assert wb.sheetnames == ["Клиенты", "История", "Легенда", "Сводка"]
    reasons = [r[6] for r in wb["Клиенты"].iter_rows(min_row=2, values_only=True)]
    assert any(r.startswith("D: не подошёл ни под одну категорию выше") for r in reasons)
    stages = [r for r in reasons if "этап" in r]
    assert stages and all("«Постоянный»" in r or "«Приверженец»" in r for r in stages)


def test_a_csv_output_keeps_the_inputs_separator(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """The demo's export is a ;-separated cp1251 file, as Russian CRMs save it: the categorized
    CSV is ;-separated too, so Russian Excel opens it in columns."""
    paths = create_demo(tmp_path / "d", clients=5, today=date(2026, 11, 23), language="en")
    out = tmp_path / "categorized.csv"
    cli("categorize", str(paths["export"]), "--out", str(out), code=None)
    header = out.read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.startswith("Код;Компания;Менеджер;Выручка") and header.endswith(";category;reason;stage;problems")
    plain = tmp_path / "plain.csv"
    plain.write_text("id,revenue,costs,orders_12m\n1,300,100,2\n", encoding="utf-8")
    cli("categorize", str(plain), "--out", str(out), code=None)
    header = out.read_text(encoding="utf-8-sig").splitlines()[0]
    assert header == "id,revenue,costs,orders_12m,category,reason,stage,problems"


def test_report_csv_in_russian_uses_semicolons_and_decimal_commas(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "d"
    cli("demo", str(folder), "--clients", "20", "--language", "ru", code=None)
    out = tmp_path / "capacity.csv"
    cli("report", "capacity", "--config", str(folder / "sheets-sync.toml"), "--slots", "3", "--out", str(out),
        code=None)
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "decision;id;name;category;revenue;profit;roi_pct;xyz;cv_12m"  # the demo has deals
    assert any("," in line.split(";")[6] for line in lines[1:])  # ROI 208,6: a number to Russian Excel


def test_the_demo_and_the_sync_summary_speak_russian(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "d"
    out = cli("demo", str(folder), "--clients", "20", "--language", "ru", code=None)
    assert out.startswith(f"Демо создано в {folder}/ и один раз синхронизировано.\nКлиентов 20: ")
    assert "Дальше попробуйте:" in out and "заполните «Ручная категория»" in out
    again = cli("sync", "--config", str(folder / "sheets-sync.toml"), code=None)
    assert again.startswith("Без изменений: клиентов 20, таблица и CRM в актуальном состоянии")
    out_en = cli("demo", str(tmp_path / "e"), "--clients", "20", "--language", "en", code=None)
    assert out_en.startswith(f"Demo created in {tmp_path / 'e'}/ and synced once.\n20 clients: ")
