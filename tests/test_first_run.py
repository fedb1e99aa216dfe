"""A new user's first run, end to end through the CLI (issue 11): the commands in a real
terminal, each error printed once with the right exit code, the demo's "next, try" commands,
``check`` one line each, ``--help`` listing each command's own exit codes, honest floors."""

from __future__ import annotations

import fcntl
import os
import re
import select
import shlex
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sheets_sync.cli import COMMAND_EXITS
from sheets_sync.errors import EXIT_MEANINGS, ExitCode

ROOT = Path(__file__).resolve().parent.parent
PROGRESS = re.compile(r"(sync|export): \d/\d")


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI of this environment in a subprocess, with pipes (not a terminal)."""
    return subprocess.run([sys.executable, "-m", "sheets_sync", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=300)


def run_in_terminal(args: list[str], cwd: Path, limit: float = 300.0) -> tuple[int, str]:
    """The CLI with a pseudo-terminal as stdin, stdout and stderr: (exit code, all it wrote).

    Reads until the child closes the terminal; ``limit`` only bounds a hung child."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # as a real one
    env = {**os.environ, "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "sheets_sync", *args], cwd=cwd, env=env,
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + limit
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        else:
            proc.kill()
            pytest.fail(f"{args} still running after {limit} s")
        code = proc.wait(timeout=limit)
    finally:
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    done = run(["demo", "demo", "--clients", "60"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    return tmp_path / "demo"


# ------------------------------------------------------------------ 1. a real terminal
def test_commands_in_a_terminal_show_progress_and_exit_clean(tmp_path: Path) -> None:
    code, out = run_in_terminal(["demo", "demo", "--clients", "60"], tmp_path)
    assert (code, "Traceback" in out) == (0, False), out
    assert PROGRESS.search(out) and "Demo created in demo/" in out
    folder = tmp_path / "demo"
    for args, expected in ((["sync", "--dry-run"], 0), (["sync"], 0),
                           (["export", "--out", "clients-export.xlsx"], 0)):
        code, out = run_in_terminal(args, folder)
        assert (code, "Traceback" in out) == (expected, False), (args, out)
        assert PROGRESS.search(out), (args, out)
    assert (folder / "clients-export.xlsx").is_file()


def test_no_progress_bar_without_a_terminal(demo: Path) -> None:
    done = run(["sync"], demo)
    assert done.returncode == 0 and done.stderr == ""
    assert not PROGRESS.search(done.stdout)


# ------------------------------------------------------------------ 3. errors once, right codes
def test_a_wrong_table_name_is_one_line_exit_2_and_logged(demo: Path) -> None:
    config = demo / "sheets-sync.toml"
    config.write_text(config.read_text().replace('table = "companies"', 'table = "compnies"')
                      + '\n[log]\nfile = "logs/sync.log"\n', encoding="utf-8")
    done = run(["sync"], demo)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (f"Error: CRM database sqlite:///{demo / 'crm.sqlite'} table 'compnies': "
                           "no such table or view. Fix [crm] table in the config.\n")
    log = (demo / "logs" / "sync.log").read_text(encoding="utf-8")
    assert "ERROR sheets_sync: sync failed, exit 2: CRM database" in log
    done = run(["check"], demo)
    assert done.returncode == 2 and done.stdout.count("\n") == 4
    assert "FIX   CRM: CRM database" in done.stdout and "no such table or view" in done.stdout


def test_an_unknown_column_is_a_configuration_error(cli: Callable[..., str], demo: Path) -> None:
    config = demo / "sheets-sync.toml"
    config.write_text(config.read_text().replace('category_field = "category"',
                                                 'category_field = "categry"'), encoding="utf-8")
    out = cli("sync", "--config", str(config), code=2)
    assert out.count("\n") == 1 and out.startswith("Error: ")


def test_a_remote_crm_failing_after_retries_is_exit_4_once(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from sheets_sync_emulators.crm import EmulatorServer, HubSpotApp

    app = HubSpotApp(token="pat-na1-first-run-token", limit=100, window=0.05)
    app.faults.fail(500, times=1000)
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-na1-first-run-token")
    (tmp_path / "rules.py").write_text((ROOT / "rules.py").read_text(encoding="utf-8"), encoding="utf-8")
    with EmulatorServer(app) as server:
        (tmp_path / "sheets-sync.toml").write_text(f'''
[crm]
kind = "hubspot"
url = "{server.base_url}"
token_env = "HUBSPOT_TOKEN"
max_attempts = 2
backoff = 0.01
backoff_max = 0.01
[sheet]
workbook = "clients.xlsx"
''', encoding="utf-8")
        done = run(["sync"], tmp_path)
    assert done.returncode == 4, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("Error: ")
    assert "pat-na1-first-run-token" not in done.stderr


# ------------------------------------------------------------------ 4. the demo's next steps
def test_the_demos_next_steps_each_work_as_printed(tmp_path: Path) -> None:
    done = run(["demo", "demo", "--clients", "60"], tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    steps = done.stdout.split("Next, try:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert steps[0].strip() == "cd demo"
    commands = [shlex.split(line.split("#")[0].split("then:")[-1]) for line in steps[1:]]
    assert [c[:2] for c in commands] == [["sheets-sync", "sync"]] * 2 + [
        ["sheets-sync", "check"], ["sheets-sync", "categorize"]]
    expected = {"sync": 0, "check": 0, "categorize": 0}
    for command in commands:
        step = run(command[1:], tmp_path / "demo")
        assert step.returncode == expected[command[1]], (command, step.stdout, step.stderr)
        assert step.stderr == "", (command, step.stderr)
    categorized = run(["categorize", "export.csv", "--out", "again.csv"], tmp_path / "demo")
    assert re.fullmatch(r"Categorized 40 clients \(.*unqualified \d+\) into again\.csv\n",
                        categorized.stdout), categorized.stdout
    text = (tmp_path / "demo" / "export.csv").read_bytes().decode("cp1251")
    assert text.startswith("Код;Компания;Менеджер;Выручка;Затраты;")
    assert "н/д" in text and "12,3,4" in text  # messy values, as real exports have


def test_demo_and_dry_run_agree_on_the_exit_code(cli: Callable[..., str], tmp_path: Path) -> None:
    import json

    folder = tmp_path / "d"
    out = cli("demo", str(folder), "--clients", "40", code=0)
    assert "Exit code" not in out
    config = str(folder / "sheets-sync.toml")
    summary = json.loads(cli("sync", "--config", config, "--dry-run", "--json", code=0))
    assert summary["exit_code"] == 0 and not summary["unqualified"]
    with sqlite3.connect(folder / "crm.sqlite") as db:  # a client whose revenue cannot be read
        db.execute("UPDATE companies SET revenue_rub = 'н/д' WHERE id = 3")
    summary = json.loads(cli("sync", "--config", config, "--dry-run", "--json", code=1))
    assert summary["exit_code"] == 1 and [u["id"] for u in summary["unqualified"]] == ["3"]
    cli("sync", "--config", config, code=1)  # the sync says the same as its dry run


def test_readme_says_what_exit_1_means_for_a_scheduler() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code, meaning in EXIT_MEANINGS.items():
        assert f"| {int(code)} | {meaning} |" in readme
    assert "For a scheduler, 1 is not a failure" in readme


# ------------------------------------------------------------------ 5. check
def test_check_is_one_line_per_thing(cli: Callable[..., str], demo: Path) -> None:
    config = str(demo / "sheets-sync.toml")
    out = cli("check", "--config", config)
    lines = out.splitlines()
    assert [line.split()[:2] for line in lines] == [["ok", "config"], ["ok", "rules"],
                                                    ["ok", "CRM:"], ["ok", "sheet"]]
    assert lines[2] == (f"ok    CRM: connected to sqlite:///{demo / 'crm.sqlite'} table "
                        "'companies'; 13 more checks ok (fields, where categories go)")
    with sqlite3.connect(demo / "crm.sqlite") as db:
        db.execute("ALTER TABLE companies RENAME COLUMN nps TO nps_score")
        db.execute("ALTER TABLE companies RENAME COLUMN referrals TO refs")
    out = cli("check", "--config", config, code=2)
    assert out.splitlines()[2:] == ["FIX   CRM: field 'referrals' is missing",
                                    "FIX   CRM: field 'nps' is missing", lines[3]]


# ------------------------------------------------------------------ 6. --help
@pytest.mark.parametrize("command", sorted(COMMAND_EXITS))
def test_help_lists_only_the_commands_exit_codes(cli: Callable[..., str], command: str) -> None:
    args = [] if command == "sheets-sync" else command.split()
    out = cli(*args, "--help")
    listed = re.findall(r"^\s+(\d)  (.+)$", out.split("Exit codes:", 1)[1], re.MULTILINE)
    assert listed == [(str(int(c)), EXIT_MEANINGS[c]) for c in COMMAND_EXITS[command]]


def test_demo_takes_no_lock_and_sync_does(cli: Callable[..., str]) -> None:
    assert "3  another sync holds the lock" not in cli("demo", "--help")
    assert "3  another sync holds the lock" in cli("sync", "--help")
    assert ExitCode.LOCKED not in COMMAND_EXITS["check"]


# ------------------------------------------------------------------ 2. floors
def test_every_requirement_has_a_floor_the_ci_pins() -> None:
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    reqs = [r.strip() for r in cfg.get("options", "install_requires").splitlines() if r.strip()]
    done = subprocess.run([sys.executable, str(ROOT / ".ci" / "floors.py"), "--extras", "test"],
                          capture_output=True, text=True, check=True)
    pins = dict(line.split("==") for line in done.stdout.splitlines() if not line.startswith("#"))
    for req in reqs:
        name, floor = re.split(r"\s*>=\s*", req)
        assert pins[name.lower()] == floor, req
    assert pins["tqdm"] and pins["tenacity"] == "8.3" and "pyrate-limiter" not in pins
