"""`cvety-bot check` and `cvety-bot run` as real processes against the fake Telegram and the sandbox."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import sys

from sqlalchemy import text

from bot.check import run_checks
from services.storage.db import _alembic_config, create_engine, migrate
from tests.conftest import OWNER, fake_session, make_settings
from tests.fake_telegram import FakeTelegram
from tests.postgres import PgServer


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
    assert [line.split()[0] for line in lines] == ["ok"] * 6
    assert "@cvety_test_bot" in lines[1]
    assert "Cvety.kz" in lines[2]
    assert lines[4] == "ok    база данных: база ещё пуста: `cvety-bot run` создаст таблицы при запуске"
    assert lines[5].startswith("ok    фото накладных: фото накладных читаются (Tesseract, языки rus")
    assert not (tmp_path / "child.db").exists()  # check only looks: it creates no database
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


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from services.storage.db import MIGRATIONS_DIR

    [head] = ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()
    return head


async def test_check_reports_the_database_at_head_and_redis_when_configured(tg, sandbox, tmp_path, backend):
    settings = make_settings(tg, sandbox, tmp_path)
    engine = create_engine(settings.database_url)
    await migrate(engine)
    await engine.dispose()
    results = await run_checks(settings, bot_session=fake_session(tg))
    by_name = {r.name: r for r in results}
    assert by_name["база данных"].line() == f"ok    база данных: схема актуальна: ревизия {head_revision()}"
    if backend.redis_url:
        assert by_name["Redis"].ok and by_name["Redis"].detail.startswith("отвечает (Redis 7."), results
    else:
        assert "Redis" not in by_name
    assert all(r.ok for r in results), [r.line() for r in results]


async def migrate_to(url: str, revision: str) -> None:
    from alembic import command

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: command.upgrade(_alembic_config(sync), revision))
    finally:
        await engine.dispose()


async def test_check_says_a_database_behind_head_is_migrated_by_run_and_one_ahead_fails(
    pg_server: PgServer, sandbox, tmp_path
):
    name = f"cvety_check_{secrets.token_hex(4)}"
    await pg_server.admin(f'CREATE DATABASE "{name}"')
    url = pg_server.url_for(name)
    try:
        await migrate_to(url, "0002")
        async with FakeTelegram() as fake:
            settings = make_settings(fake, sandbox, tmp_path, database_url=url)
            [behind] = [
                r
                for r in await run_checks(settings, bot_session=fake_session(fake))
                if r.name == "база данных"
            ]
            assert behind.ok, behind.line()
            head = head_revision()
            assert behind.detail == (
                f"схема на ревизии 0002, этот код ждёт {head}: `cvety-bot run` обновит её при запуске"
            )
            engine = create_engine(url)
            async with engine.begin() as connection:  # a newer release migrated it, then was rolled back
                await connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
            await engine.dispose()
            results = await run_checks(settings, bot_session=fake_session(fake))
        [ahead] = [r for r in results if r.name == "база данных"]
        assert not ahead.ok and "схема новее этого кода (ревизия 9999" in ahead.detail, ahead.line()
    finally:
        await pg_server.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_check_says_when_the_database_or_redis_does_not_answer(sandbox, tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with FakeTelegram() as fake:
        settings = make_settings(
            fake,
            sandbox,
            tmp_path,
            database_url=f"postgresql+asyncpg://cvety:db-pass-w0rd@127.0.0.1:{port}/cvety",
            redis_url=f"redis://:redis-pass-w0rd@127.0.0.1:{port}/0",
        )
        results = await run_checks(settings, bot_session=fake_session(fake))
    by_name = {r.name: r for r in results}
    assert by_name["telegram"].ok
    assert not by_name["база данных"].ok and by_name["база данных"].detail.startswith("не отвечает: ")
    assert not by_name["Redis"].ok and by_name["Redis"].detail.startswith("не отвечает: ")
    output = "\n".join(r.line() for r in results)
    assert "pass-w0rd" not in output, output


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
