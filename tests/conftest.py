"""End-to-end harness: the real bot (aiogram Bot + Dispatcher over HTTP) against a fake Telegram
Bot API server and the sandbox APIs, all on 127.0.0.1, in this process."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram.client.telegram import TelegramAPIServer

from bot.app import Application, build_application
from bot.config import Settings, load_settings
from sandbox import Sandbox, start_sandbox
from tests.fake_telegram import FakeClock, FakeTelegram, FastAiohttpSession, run_polling
from tests.postgres import pg_server, pg_url  # noqa: F401 - fixtures for every test module

# Telegram ids of the demo staff used across the end-to-end tests
OWNER, SENIOR, FLORIST, ASSISTANT, COURIER, STRANGER = 1001, 1002, 1003, 1004, 1005, 4242
STAFF = {
    OWNER: ("owner", "Айгуль Сапарова"),
    SENIOR: ("senior", "Дана Ким"),
    FLORIST: ("florist", "Асель Нурланова"),
    ASSISTANT: ("assistant", "Мадина Ахметова"),
    COURIER: ("courier", "Ержан Бекенов"),
}

_ENV = (
    "BOT_TOKEN",
    "TELEGRAM_API_URL",
    "CVETY_API_URL",
    "CVETY_API_TOKEN",
    "CRM_API_URL",
    "CRM_API_TOKEN",
    "DATABASE_URL",
    "REDIS_URL",
    "OWNER_IDS",
    "ALERT_CHAT_ID",
    "ALERT_THREAD_ID",
    "DEMO",
    "WEBHOOK_URL",
    "QUIET_HOURS",
)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No test reads the developer's environment or .env."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


class ErrorLog(logging.Handler):
    """Collects ERROR records: handler exceptions under polling are only logged."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    running = await start_sandbox()
    yield running
    await running.close()


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    await fake.start()
    for telegram_id, (_role, name) in STAFF.items():
        fake.user(telegram_id, first_name=name.split()[0])
    fake.user(STRANGER, first_name="Незнакомец")
    yield fake
    await fake.close()


# Run the end-to-end tests on PostgreSQL instead of SQLite (locally; CI has no PostgreSQL):
# TEST_E2E_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:55432/cvety make test
E2E_POSTGRES = os.environ.get("TEST_E2E_POSTGRES_URL")


@pytest.fixture(autouse=True)
async def clean_postgres() -> None:
    if E2E_POSTGRES:
        from sqlalchemy import text

        from services.storage.db import create_engine

        engine = create_engine(E2E_POSTGRES)
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await engine.dispose()


def make_settings(tg: FakeTelegram, sandbox: Sandbox | None, tmp_path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "bot_token": tg.token,
        "telegram_api_url": tg.base_url,
        "database_url": E2E_POSTGRES or f"sqlite+aiosqlite:///{tmp_path}/bot.db",
        "owner_ids": [OWNER],
    }
    if sandbox is not None:
        values.update(
            cvety_api_url=sandbox.cvety_url, cvety_api_token=sandbox.token, crm_api_url=sandbox.crm_url
        )
    values.update(overrides)
    return load_settings(**values)


def fake_session(tg: FakeTelegram) -> FastAiohttpSession:
    return FastAiohttpSession(api=TelegramAPIServer.from_base(tg.base_url, is_local=False))


@dataclass
class Harness:
    tg: FakeTelegram
    sandbox: Sandbox | None
    app: Application
    errors: ErrorLog


async def start_harness(
    tg: FakeTelegram,
    sandbox: Sandbox | None,
    tmp_path,
    *,
    api_read_timeout: float = 2.0,
    start_scheduler: bool = False,
    sender_time: Any = None,
    **overrides: object,
) -> AsyncIterator[Harness]:
    """The bot polling the fake Telegram. The scheduler is off unless asked for: tests call the
    jobs themselves, so no poll runs in the middle of a test that counts API calls."""
    settings = make_settings(tg, sandbox, tmp_path, **overrides)
    if sender_time is None:  # rate limits on virtual time: no test waits for a real second
        clock = FakeClock()
        sender_time = (clock.now, clock.sleep)
    app = await build_application(
        settings,
        bot_session=fake_session(tg),
        api_read_timeout=api_read_timeout,
        start_scheduler=start_scheduler,
        sender_time=sender_time,
    )
    for telegram_id, (role, name) in STAFF.items():
        if telegram_id != OWNER:
            await app.staff.add(telegram_id, role=role, name=name)
    await app.staff.add(OWNER, role="owner", name=STAFF[OWNER][1])
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    try:
        async with run_polling(app.dp, app.bot, allowed_updates=app.allowed_updates):
            yield Harness(tg, sandbox, app, errors)
            await app.drain(5)  # a handler still running would reopen the bot's HTTP session
    finally:
        logging.getLogger().removeHandler(errors)
        await app.aclose()
    # «message is not modified» is Telegram's way of saying an edit was already true: success
    rejected = [c for c in tg.errors if "message is not modified" not in (c.description or "")]
    assert not rejected, f"the bot made calls Telegram would reject: {rejected}"
    assert not errors.records, f"errors were logged: {[r.getMessage() for r in errors.records]}"


@pytest.fixture
async def bot(tg: FakeTelegram, sandbox: Sandbox, tmp_path) -> AsyncIterator[Harness]:
    async for harness in start_harness(tg, sandbox, tmp_path):
        yield harness


async def run_job_now(harness: Harness, job_id: str) -> int:
    """Run a scheduled job once, now, through the real scheduler; the APScheduler event code."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED

    scheduler = harness.app.dp.workflow_data["scheduler"]
    job = scheduler.get_job(job_id)
    assert job is not None, f"no job {job_id}"
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def listener(event: Any) -> None:
        if event.job_id == job_id and not done.done():
            done.set_result(event.code)

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    try:
        job.modify(next_run_time=datetime.now(UTC))
        scheduler.wakeup()
        return await asyncio.wait_for(done, 5)
    finally:
        scheduler.remove_listener(listener)


async def settle(harness: Harness, timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """Wait until the bot has taken every update sent so far and finished handling them."""
    newest = harness.tg.newest_unconfirmed_update
    if newest is not None:
        await harness.tg.wait_for(
            "getUpdates", lambda c: (c.param_int("offset") or 0) > newest, timeout=timeout, after=0
        )
    # the poller made the tasks of a batch before it asked for the next one
    tasks = [t for t in getattr(harness.app.dp, "_handle_update_tasks", ()) if not t.done()]
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        assert not pending, f"updates still being handled after {timeout}s"
