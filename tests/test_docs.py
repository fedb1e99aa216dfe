"""Docs that cannot drift: every command has help and is in the README; every rule function
is documented."""

from __future__ import annotations

from pathlib import Path

import click

from sheets_sync.cli import main
from sheets_sync.rules.expr import FUNCTIONS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "sheets-sync") -> list[tuple[str, click.Command]]:
    out = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        out.append((path, command))
        if isinstance(command, click.Group):
            out += _commands(command, path)
    return out


def test_every_command_has_help_and_is_in_the_readme() -> None:
    missing_help = [path for path, command in _commands(main) if not (command.help or "").strip()]
    assert missing_help == []
    undocumented = [path for path, command in _commands(main)
                    if not isinstance(command, click.Group) and f"`{path}" not in README]
    assert undocumented == []


def test_every_rule_function_is_documented() -> None:
    rules_text = (Path(__file__).resolve().parent.parent / "rules.py").read_text(encoding="utf-8")
    for name in FUNCTIONS:
        assert f"{name}(" in README and f"{name}(" in rules_text, name
