"""`cvety-bot check` and `cvety-bot run` as real processes against the fake Telegram and the sandbox."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from bot.check import run_checks
from tests.conftest import OWNER, fake_session, make_settings


def child_env(tmp_path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "CVETY_", "CRM_", "DEMO"))}
    env.update(values)
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/child.db"
    return env


async def test_check_against_the_sandbox_reports_every_part_ok(tg, sandbox, tmp_path):
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        env=child_env(
            tmp_path,
            BOT_TOKEN=tg.token,
            TELEGRAM_API_URL=tg.base_url,
            CVETY_API_URL=sandbox.cvety_url,
            CVETY_API_TOKEN=sandbox.token,
            CRM_API_URL=sandbox.crm_url,
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    lines = stdout.decode().strip().splitlines()
    assert process.returncode == 0, (stdout, stderr)
    assert [line.split()[0] for line in lines] == ["ok"] * 4
    assert "@cvety_test_bot" in lines[1]
    assert "Cvety.kz" in lines[2]
    assert sandbox.token not in stdout.decode() + stderr.decode()


async def test_check_names_what_failed(tg, sandbox, tmp_path):
    sandbox.faults.add(
        "*", "/crm/api/v2/shop-info", status=503, body="<html>down</html>", content_type="text/html"
    )
    results = await run_checks(
        make_settings(tg, sandbox, tmp_path, cvety_api_token="wrong-token"), bot_session=fake_session(tg)
    )
    by_name = {r.name: r for r in results}
    assert by_name["telegram"].ok
    assert not by_name["cvety.kz API"].ok and "Bad Token" in by_name["cvety.kz API"].detail
    assert not by_name["CRM API"].ok
    assert "wrong-token" not in "".join(r.line() for r in results)


async def test_check_tells_whether_the_bot_can_post_in_the_alert_chat(tg, sandbox, tmp_path):
    tg.add_group(-100555, "Цветы — смена")
    tg.add_group(-100666, "Старая группа")
    tg.kick_bot(-100666)
    for chat, ok in ((-100555, True), (-100666, False), (-100777, False)):
        results = await run_checks(
            make_settings(tg, sandbox, tmp_path, alert_chat_id=chat), bot_session=fake_session(tg)
        )
        [line] = [r for r in results if r.name == "alert chat"]
        assert line.ok is ok, line.line()


async def test_check_with_missing_settings_fails_without_calls(tg, tmp_path):
    results = await run_checks(make_settings(tg, None, tmp_path))
    assert [r.ok for r in results] == [False, False]
    assert all("DEMO=1" in r.detail for r in results)


async def test_run_in_demo_mode_answers_start_and_stops_on_sigint(tg, tmp_path):
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=child_env(
            tmp_path, BOT_TOKEN=tg.token, TELEGRAM_API_URL=tg.base_url, DEMO="1", OWNER_IDS=str(OWNER)
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await tg.wait_for("getUpdates", timeout=60)
        await tg.send_message(OWNER, "/start")
        reply = await tg.wait_for_message(OWNER, text_contains="Здравствуйте", timeout=20)
        assert "Демо-режим" in reply["text"]
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "DEMO" in log
    assert tg.token not in log and tg.token.split(":")[1] not in log
