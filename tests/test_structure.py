"""The shape of the house: the product imports nothing from the emulators (test infrastructure),
and the row-by-row oracle does not ship."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sheets_sync"


def test_the_product_imports_nothing_from_the_emulators() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "emulators" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if any("emulators" in n.split(".") or n.startswith("sheets_sync_emulators") for n in names):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def test_the_row_by_row_oracle_lives_with_the_tests() -> None:
    assert not (PACKAGE / "rules" / "rowwise.py").exists()


def test_the_emulators_are_a_distribution_of_their_own() -> None:
    root = PACKAGE.parent
    assert not (PACKAGE / "emulators").exists()
    assert (root / "emulators" / "setup.cfg").read_text(encoding="utf-8").count("name = sheets-sync-emulators") == 1
    assert (root / "emulators" / "sheets_sync_emulators" / "__init__.py").exists()
