"""End-to-end harness: the real bot (aiogram Bot + Dispatcher over HTTP) against a fake Telegram
Bot API server and the sandbox APIs, all on 127.0.0.1, in this process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
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
from tests.redis_server import redis_server, redis_url  # noqa: F401 - fixtures for every test module

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


# The end-to-end suites run on both deployments: SQLite with the SQL FSM storage (one file per test,
# the default), and PostgreSQL with Redis FSM storage (a fresh database per test copied from a
# migrated template, tests/postgres.py; the session's Redis flushed per test, tests/redis_server.py).
# Each test of these modules that drives the bot (asks for `tg`) is parametrized by `backend`.
E2E_MODULES = frozenset(
    {
        "test_alerts",
        "test_catalog",
        "test_check_and_run",
        "test_colleagues",
        "test_faults_jobs",
        "test_groups",
        "test_inventory",
        "test_invoice_photo_flow",
        "test_odd_input",
        "test_orders",
        "test_profile",
        "test_redis_fsm",
        "test_showcase",
        "test_start",
        "test_webhook",
    }
)
# test id -> why it runs on SQLite only (never skipped: it is simply not parametrized)
SQLITE_ONLY: dict[str, str] = {
    f"test_check_and_run.py::{name}": "a child `cvety-bot` process, its DATABASE_URL set by child_env"
    for name in (
        "test_check_against_the_sandbox_reports_every_part_ok",
        "test_run_in_demo_mode_answers_start_and_stops_on_sigint",
    )
}
BACKENDS = ("sqlite", "postgres+redis")


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str | None = None  # None: a SQLite file in the test's tmp_path
    redis_url: str | None = None  # None: the SQL FSM storage


SQLITE = Backend("sqlite")
_backend = SQLITE  # the running test's, set by the `backend` fixture


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rpartition(".")[2]
    test_id = f"{module}.py::{metafunc.function.__name__}"
    if module in E2E_MODULES and "tg" in metafunc.fixturenames and test_id not in SQLITE_ONLY:
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture(autouse=True)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """The storage the harness builds the bot on: SQLite unless the test is parametrized."""
    global _backend
    name = getattr(request, "param", "sqlite")
    if name == "sqlite":
        chosen = SQLITE
    else:
        chosen = Backend(name, request.getfixturevalue("pg_url"), request.getfixturevalue("redis_url"))
    _backend = chosen
    try:
        yield chosen
    finally:
        _backend = SQLITE


def make_settings(tg: FakeTelegram, sandbox: Sandbox | None, tmp_path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "bot_token": tg.token,
        "telegram_api_url": tg.base_url,
        "database_url": _backend.database_url or f"sqlite+aiosqlite:///{tmp_path}/bot.db",
        "owner_ids": [OWNER],
    }
    if _backend.redis_url is not None:
        values["redis_url"] = _backend.redis_url
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
