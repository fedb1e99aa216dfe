"""The deployment recipes in deploy/ are well-formed and their commands run."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read_string((DEPLOY / name).read_text())
    return parser


def _sync_args(command: str) -> list[str]:
    args = shlex.split(command)
    start = next(i for i, a in enumerate(args) if a.endswith("sheets-sync"))
    end = next((i for i, a in enumerate(args) if a in (">>", "2>&1", "||", ">")), len(args))
    return args[start + 1:end]


def test_crontab_line_runs(cli: Callable[..., str], tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    line = next(x for x in (DEPLOY / "crontab.txt").read_text().splitlines() if x and not x.startswith("#"))
    fields = line.split(None, 5)
    assert len(fields) == 6 and all(f for f in fields[:5])
    cli("demo", str(tmp_path / "srv"), "--clients", "20", code=0)
    monkeypatch.chdir(tmp_path / "srv")
    args = _sync_args(fields[5].split("&&", 1)[1])
    assert args[:1] == ["sync"]
    cli(*args, code=0)  # 1: the demo has unqualified clients, listed


def test_systemd_units(cli: Callable[..., str], tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    service = _unit("sheets-sync.service")
    timer = _unit("sheets-sync.timer")
    assert service["Service"]["Type"] == "oneshot" and "1" in service["Service"]["SuccessExitStatus"].split()
    assert timer["Install"]["WantedBy"] == "timers.target"
    calendar = timer["Timer"]["OnCalendar"]
    if shutil.which("systemd-analyze"):
        result = subprocess.run(["systemd-analyze", "calendar", calendar], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    cli("demo", str(tmp_path / "srv"), "--clients", "20", code=0)
    command = service["Service"]["ExecStart"].replace("/srv/sheets-sync", str(tmp_path / "srv"))
    cli(*_sync_args(command), code=0)


def test_github_workflow() -> None:
    flow = yaml.safe_load((DEPLOY / "github-actions.yml").read_text())
    assert flow[True]["schedule"][0]["cron"].count(" ") == 4  # YAML reads the key "on" as True
    steps = flow["jobs"]["sync"]["steps"]
    sync = next(s for s in steps if s.get("name") == "Sync")
    assert "secrets.HUBSPOT_TOKEN" in sync["env"]["HUBSPOT_TOKEN"]
    assert "sheets-sync sync --config sheets-sync.toml --json" in sync["run"]
    assert flow["concurrency"]["cancel-in-progress"] is False
