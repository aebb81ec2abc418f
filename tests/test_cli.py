"""The command line, run as a person runs it: a separate process, from another directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

NO_AIOGRAM = (
    "import sys, runpy\n"
    "sys.argv = ['cvety-bot'] + sys.argv[1:]\n"
    "from bot.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "assert 'aiogram' not in sys.modules, 'aiogram was imported'\n"
    "sys.exit(code)\n"
)


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "CVETY_", "CRM_", "DEMO"))}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", NO_AIOGRAM, *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    return tmp_path / "elsewhere"


def test_staff_commands_work_from_any_directory_without_aiogram(workdir, tmp_path):
    db = f"sqlite+aiosqlite:///{tmp_path}/state/bot.db"
    added = run(
        ["staff", "add", "--telegram-id", "1001", "--role", "owner", "--name", "Айгуль"],
        workdir,
        DATABASE_URL=db,
    )
    assert added.returncode == 0, added.stderr
    run(
        ["staff", "add", "--telegram-id", "1003", "--role", "courier", "--name", "Ержан"],
        workdir,
        DATABASE_URL=db,
    )
    listed = run(["staff", "list"], workdir, DATABASE_URL=db)
    assert listed.returncode == 0, listed.stderr
    assert "1001" in listed.stdout and "owner" in listed.stdout and "Ержан" in listed.stdout
    removed = run(["staff", "remove", "1003"], workdir, DATABASE_URL=db)
    assert removed.returncode == 0 and "Ержан" in removed.stdout
    again = run(["staff", "remove", "1003"], workdir, DATABASE_URL=db)
    assert again.returncode == 1 and "1003" in again.stderr
    assert "Ержан" not in run(["staff", "list"], workdir, DATABASE_URL=db).stdout


def test_staff_add_with_a_bad_role_says_which_roles_exist(workdir, tmp_path):
    result = run(
        ["staff", "add", "--telegram-id", "5", "--role", "boss", "--name", "Кто-то"],
        workdir,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/bot.db",
    )
    assert result.returncode == 2
    assert "owner, senior, florist, assistant, courier" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_works_without_aiogram(workdir):
    result = run(["--help"], workdir)
    assert result.returncode == 0
    for command in ("run", "check", "sandbox", "staff"):
        assert command in result.stdout


def test_run_with_missing_settings_exits_with_one_line_per_problem(workdir):
    result = run(["run"], workdir, BOT_TOKEN="123456:TEST-token")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert all("DEMO=1" in line for line in lines)
    assert "Traceback" not in result.stderr
    assert "TEST-token" not in result.stderr


def test_invalid_setting_stops_even_staff_commands(workdir):
    result = run(["staff", "list"], workdir, DATABASE_URL="mysql://nope", LOG_LEVEL="LOUD")
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr and "LOG_LEVEL" in result.stderr
    assert "Traceback" not in result.stderr


def test_python_dash_m_bot_is_the_same_command(workdir):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], cwd=workdir, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "staff" in result.stdout
