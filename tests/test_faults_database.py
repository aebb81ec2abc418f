"""Faults of the bot's own database, end to end: the real bot, the fake Telegram, the sandbox.

- SQLite locked by another process (a `sqlite3` shell, a backup): short locks are waited out,
  long ones are told as «nothing saved, try again» with the button still there;
- SQLite full (a real SQLITE_FULL: the file may not grow and its pages are packed);
- PostgreSQL restarted or down under the bot: a throwaway server this file starts itself
  (or TEST_POSTGRES_URL), one per session, a fresh database per test from a migrated template.

Nothing here sleeps to wait: the lock holder says «locked» on its stdout, the fake Telegram and
the sandbox are awaited with timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

import services.storage.db as storage_db
from sandbox import data
from services.alerts import ORDERS_KEY
from services.outbox import Outbox
from services.storage.db import create_engine
from services.storage.repositories import OutboxRepository
from tests.conftest import (
    ASSISTANT,
    FLORIST,
    OWNER,
    SENIOR,
    STAFF,
    STRANGER,
    Harness,
    run_job_now,
    start_harness,
)
from tests.fake_telegram import FakeTelegram
from tests.postgres import PgServer, database_of

DELIVERY = "/crm/api/flowers/delivery"
WRITEOFF = "/crm/api/flowers/writeoff"
ROSE = data.FLOWER_ROSE_RED
GROUP = -1001234567890
WAIT = 10.0  # generous: a short lock alone takes 3 s


# --- the flows ---------------------------------------------------------------------------------


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/bot.db"


def posts(bot: Harness, path: str) -> list[dict[str, Any]]:
    assert bot.sandbox is not None
    return [json.loads(r.body) for r in bot.sandbox.requests if r.method == "POST" and r.path == path]


def stock(bot: Harness, flower_id: str = ROSE) -> int:
    assert bot.sandbox is not None
    return bot.sandbox.state.flowers[flower_id].quantity


async def say(bot: Harness, user: int, text: str, expect: str) -> dict[str, Any]:
    await bot.tg.send_message(user, text)
    return await bot.tg.wait_for_message(user, text_contains=expect, timeout=WAIT)


async def press(bot: Harness, user: int, label: str, expect: str) -> dict[str, Any]:
    await bot.tg.press_button(user, text_contains=label)
    return await bot.tg.wait_for_message(user, text_contains=expect, timeout=WAIT)


async def delivery_to_confirm(bot: Harness, user: int = FLORIST, quantity: int = 50) -> dict[str, Any]:
    await say(bot, user, "/delivery", "Какой цветок пришёл")
    await say(bot, user, "роза 60", "Сколько стеблей пришло")
    return await say(bot, user, str(quantity), "Приход — проверьте")


async def writeoff_to_confirm(bot: Harness, user: int = SENIOR) -> dict[str, Any]:
    await say(bot, user, "/writeoff", "Какой цветок списать")
    await say(bot, user, "роза 60", "Сколько стеблей списать")
    await say(bot, user, "3", "Почему списываем")
    await press(bot, user, "Увяли", "фото")
    return await press(bot, user, "Пропустить", "Списание — проверьте")


def op_of(confirm: dict[str, Any], tg: FakeTelegram) -> str:
    [op] = [data.split(":")[-1] for text, data in tg.buttons(confirm) if "Сохранить" in text]
    return op


def later(bot: Harness, hours: float = 1) -> Outbox:
    """The app's outbox as the retry job will see it some time from now."""
    moment = datetime.now(UTC) + timedelta(hours=hours)
    return Outbox(OutboxRepository(bot.app.sessions), bot.app.crm, now=lambda: moment)


def warnings_about(caplog: pytest.LogCaptureFixture, *words: str) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.levelno == logging.WARNING and all(w in r.getMessage() for w in words)
    ]


def no_traceback_logged(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info and r.levelno >= logging.WARNING]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# --- SQLite locked by another process ----------------------------------------------------------

LOCKER = r"""
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
hold = float(sys.argv[2])
if hold > 0:
    time.sleep(hold)
else:
    sys.stdin.readline()
connection.execute("COMMIT")
print("released", flush=True)
"""


class ForeignLock:
    """`BEGIN EXCLUSIVE` on the bot's database in another process, for `hold` seconds or, with
    hold 0, until `release()`."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.released = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def take(cls, path: Path, hold: float = 0) -> ForeignLock:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            LOCKER,
            str(path),
            str(hold),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), WAIT)
        assert line.strip() == b"locked", line
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        if line.strip() == b"released":
            self.released.set()

    async def release(self) -> None:
        assert self.process.stdin is not None
        if self.process.returncode is None and not self.released.is_set():
            self.process.stdin.write(b"go\n")
            await self.process.stdin.drain()
        await asyncio.wait_for(self.released.wait(), WAIT)
        await asyncio.wait_for(self.process.wait(), WAIT)

    async def close(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(Exception):
                await self.release()
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()


@contextlib.asynccontextmanager
async def foreign_lock(path: Path, hold: float = 0) -> AsyncIterator[ForeignLock]:
    lock = await ForeignLock.take(path, hold)
    try:
        yield lock
    finally:
        await lock.close()


async def test_the_engine_waits_for_locks_and_pings_server_connections(tmp_path):
    engine = create_engine(sqlite_url(tmp_path))
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await connection.scalar(text("PRAGMA busy_timeout")) >= 5000
    finally:
        await engine.dispose()
    server = create_engine("postgresql+asyncpg://postgres@127.0.0.1:9/none")  # never connected
    assert server.pool._pre_ping  # a restarted server's dead connections are replaced, not used
    await server.dispose()


async def test_a_short_lock_by_another_process_is_waited_out(tg: FakeTelegram, sandbox, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    async for bot in start_harness(tg, sandbox, tmp_path, database_url=sqlite_url(tmp_path)):
        before = stock(bot)
        await delivery_to_confirm(bot, FLORIST)
        await writeoff_to_confirm(bot, SENIOR)
        async with foreign_lock(tmp_path / "bot.db", hold=3) as lock:
            mark = bot.tg.cursor
            await bot.tg.press_button(FLORIST, text_contains="Сохранить")
            await bot.tg.press_button(SENIOR, text_contains="Сохранить")
            await bot.tg.send_message(ASSISTANT, "/delivery")  # a state write: waits too
            # readers are not blocked in WAL mode: this one is answered while the lock is held
            await say(bot, OWNER, "/lowstock", "Мало на складе")
            assert not lock.released.is_set(), "the machine is too slow for this test's 3 s lock"
            assert posts(bot, DELIVERY) == [] and posts(bot, WRITEOFF) == []
            for user, expect in (
                (FLORIST, "Приход сохранён"),
                (SENIOR, "Списание сохранено"),
                (ASSISTANT, "Какой цветок пришёл"),
            ):
                await bot.tg.wait_for_message(user, text_contains=expect, timeout=WAIT, after=mark)
                assert lock.released.is_set()  # it waited for the lock: it did not fail or go around it
        assert len(posts(bot, DELIVERY)) == 1 and len(posts(bot, WRITEOFF)) == 1
        assert stock(bot) == before + 50 - 3
        assert await bot.app.outbox.pending() == []
    no_traceback_logged(caplog)


async def test_a_lock_longer_than_the_busy_timeout_saves_nothing_and_says_so(
    tg: FakeTelegram, sandbox, tmp_path, caplog, monkeypatch
):
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(storage_db, "SQLITE_BUSY_TIMEOUT_MS", 300)  # instead of waiting 5 s
    async for bot in start_harness(tg, sandbox, tmp_path, database_url=sqlite_url(tmp_path)):
        before = stock(bot)
        confirm = await delivery_to_confirm(bot, FLORIST)
        op_id = op_of(confirm, bot.tg)
        async with foreign_lock(tmp_path / "bot.db") as lock:
            await bot.tg.press_button(FLORIST, text_contains="Сохранить", message=confirm)
            refused = await bot.tg.wait_for_message(
                FLORIST, text_contains="ничего не сохранено", timeout=WAIT
            )
            assert "База данных бота занята" in refused["text"]
            assert "Нажмите «Сохранить» ещё раз" in refused["text"]
            assert "Сохранить" in str(bot.tg.buttons(refused))  # the button is right there again
            busy = await say(bot, ASSISTANT, "/writeoff", "ничего не сохранено")  # a state write
            assert "Что-то пошло не так" not in busy["text"]
            # nothing half-applied: no CRM call, no outbox row
            assert posts(bot, DELIVERY) == []
            assert await OutboxRepository(bot.app.sessions).get(op_id) is None
            await lock.release()
        await press(bot, FLORIST, "Сохранить", "Приход сохранён")
        await say(bot, ASSISTANT, "/writeoff", "Какой цветок списать")
        assert len(posts(bot, DELIVERY)) == 1 and stock(bot) == before + 50
        entry = await OutboxRepository(bot.app.sessions).get(op_id)
        assert entry is not None and entry.status == "done"
    assert warnings_about(caplog, "StorageBusy", op_id)
    no_traceback_logged(caplog)


async def test_a_lock_between_the_crm_answer_and_its_record_neither_lies_nor_doubles(
    tg: FakeTelegram, sandbox, tmp_path, caplog, monkeypatch
):
    """The CRM took the write, then the bot's database would not take the answer: the person is
    told the truth (saved), and the retry finds the movement in the history instead of sending it
    again."""
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(storage_db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    async for bot in start_harness(tg, sandbox, tmp_path, database_url=sqlite_url(tmp_path)):
        before = stock(bot)
        confirm = await delivery_to_confirm(bot, FLORIST)
        op_id = op_of(confirm, bot.tg)
        sandbox.faults.add("POST", DELIVERY, hang=True, times=1)
        await bot.tg.press_button(FLORIST, text_contains="Сохранить", message=confirm)
        await asyncio.wait_for(sandbox.faults.wait_hanging(), WAIT)  # stored, the CRM call out
        async with foreign_lock(tmp_path / "bot.db") as lock:
            sandbox.faults.release()  # the CRM applies it and answers, into the lock
            saved = await bot.tg.wait_for_message(FLORIST, text_contains="Приход сохранён", timeout=WAIT)
            assert "не сохранено" not in saved["text"]
            await lock.release()
        entry = await OutboxRepository(bot.app.sessions).get(op_id)
        assert entry is not None and entry.status == "checking"  # unfinished: to be looked up
        await later(bot).retry_due()
        entry = await OutboxRepository(bot.app.sessions).get(op_id)
        assert entry is not None and entry.status == "done"
        assert len(posts(bot, DELIVERY)) == 1 and stock(bot) == before + 50
    assert warnings_about(caplog, op_id, "not recorded", "StorageBusy")
    no_traceback_logged(caplog)


async def test_an_invoice_cut_by_a_lock_reports_what_is_stored_and_finishes_later(
    tg: FakeTelegram, sandbox, tmp_path, caplog, monkeypatch
):
    """Line 1 reaches the CRM, then the database locks: line 1 is reported saved, the rest as not
    saved with «Сохранить» again, which stores the rest and does not send line 1 twice."""
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(storage_db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    async for bot in start_harness(tg, sandbox, tmp_path, database_url=sqlite_url(tmp_path)):
        lisianthus = data.FLOWER_WHITE_LISIANTHUS
        before = stock(bot), stock(bot, lisianthus)
        await say(bot, FLORIST, "/delivery", "Какой цветок пришёл")
        table = await say(bot, FLORIST, "Роза красная 60 50 120\nЭустома белая 30", "Накладная")
        sandbox.faults.add("POST", DELIVERY, hang=True, times=1)
        await bot.tg.press_button(FLORIST, text_contains="Сохранить", message=table)
        await asyncio.wait_for(sandbox.faults.wait_hanging(), WAIT)
        async with foreign_lock(tmp_path / "bot.db") as lock:
            sandbox.faults.release()
            cut = await bot.tg.wait_for_message(FLORIST, text_contains="Остальные строки", timeout=WAIT)
            assert "✅ Роза красная 60 см: +50 сохранено" in cut["text"]
            assert "База данных бота занята" in cut["text"] and "Эустома" not in cut["text"]
            await lock.release()
        await press(bot, FLORIST, "Сохранить", "Эустома белая: +30 сохранено")
        assert sorted((b["flower_id"], b["quantity"]) for b in posts(bot, DELIVERY)) == sorted(
            [(ROSE, 50), (lisianthus, 30)]
        )
        assert (stock(bot), stock(bot, lisianthus)) == (before[0] + 50, before[1] + 30)
        await later(bot).retry_due()  # line 1, unrecorded in the lock, is found in the history
        assert await bot.app.outbox.pending() == [] and len(posts(bot, DELIVERY)) == 2
    assert warnings_about(caplog, "invoice", "not stored", "StorageBusy")
    no_traceback_logged(caplog)


# --- SQLite full -------------------------------------------------------------------------------

# Rows that mean nothing to the bot (a status nothing reads, keys no feature uses) to pack pages.
_FILLERS = {
    "outbox": (
        "INSERT INTO outbox (id, kind, payload, status, attempts, next_attempt_at, created_at, updated_at)"
        " VALUES (:key, 'filler', :blob, 'filler', 0, :at, :at, :at)"
    ),
    "fsm_state": "INSERT INTO fsm_state (key, state, data, updated_at) VALUES (:key, NULL, :blob, :at)",
    "kv_state": "INSERT INTO kv_state (key, value, updated_at) VALUES (:key, :blob, :at)",
    "audit_log": ("INSERT INTO audit_log (at, action, target, comment) VALUES (:at, 'filler', :key, :blob)"),
}


def _pack(path: Path) -> int:
    """Fill the database to the last byte it may have: its size frozen (max_page_count), then
    rows of falling size into every table the bot writes until SQLITE_FULL, so the next real row
    or a row that grows has nowhere to go. Returns the frozen page count."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=WAIT)
    try:
        connection.execute("PRAGMA synchronous=OFF")
        pages = int(connection.execute("PRAGMA page_count").fetchone()[0])
        connection.execute(f"PRAGMA max_page_count={pages}")
        at = "2000-01-01 00:00:00.000000"
        number = 0
        for size in (2048, 512, 128, 32, 8, 1, 0):
            for sql in _FILLERS.values():
                while True:
                    number += 1
                    try:
                        connection.execute(sql, {"key": f"~{number:x}", "blob": "x" * size, "at": at})
                    except sqlite3.OperationalError as exc:
                        assert "full" in str(exc), exc
                        break
        assert int(connection.execute("PRAGMA freelist_count").fetchone()[0]) == 0
        return pages
    finally:
        connection.close()


class FullDisk:
    """SQLITE_FULL («database or disk is full») for the bot's own connections: every connection
    it checks out may not grow the file past `limit` pages."""

    UNLIMITED = 2_147_483_646

    def __init__(self, engine: AsyncEngine, path: Path) -> None:
        self.path = path
        self.limit: int | None = None
        event.listen(engine.sync_engine, "checkout", self._checkout)

    def _checkout(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count={self.limit or self.UNLIMITED}")
        cursor.close()

    async def fill(self) -> None:
        self.limit = await asyncio.to_thread(_pack, self.path)

    def make_room(self) -> None:
        self.limit = None


async def test_a_full_disk_saves_nothing_says_why_and_works_once_there_is_room(
    tg: FakeTelegram, sandbox, tmp_path, caplog
):
    caplog.set_level(logging.WARNING)
    async for bot in start_harness(tg, sandbox, tmp_path, database_url=sqlite_url(tmp_path)):
        disk = FullDisk(bot.app.engine, tmp_path / "bot.db")
        before = stock(bot)
        confirm = await delivery_to_confirm(bot, FLORIST)
        op_id = op_of(confirm, bot.tg)
        await disk.fill()
        await bot.tg.press_button(FLORIST, text_contains="Сохранить", message=confirm)
        refused = await bot.tg.wait_for_message(FLORIST, text_contains="закончилось место", timeout=WAIT)
        assert "Ничего не сохранено" in refused["text"] and "На склад ничего не отправлено" in refused["text"]
        assert "Что-то пошло не так" not in refused["text"]
        assert posts(bot, DELIVERY) == []
        assert await OutboxRepository(bot.app.sessions).get(op_id) is None
        # the flow is where it was: no state was lost, «Сохранить» is offered again
        assert await bot.app.dp.storage.get_state(_key(bot, FLORIST)) == "Flow:confirm"
        disk.make_room()
        saved = await press(bot, FLORIST, "Сохранить", "Приход сохранён")
        assert f"Теперь на складе: {before + 50}" in saved["text"]
        assert len(posts(bot, DELIVERY)) == 1 and stock(bot) == before + 50
        late = await bot.tg.press_callback_data(FLORIST, f"fl:save:{op_id}", message=refused)
        await bot.tg.wait_for("answerCallbackQuery", timeout=WAIT)
        assert "Уже сохранено" in bot.tg.callback_answers[late]["text"]
        assert len(posts(bot, DELIVERY)) == 1
    assert warnings_about(caplog, "StorageFull", "database or disk is full")
    no_traceback_logged(caplog)


async def test_a_full_disk_under_a_stocktake_keeps_the_count_to_send_again(
    tg: FakeTelegram, sandbox, tmp_path, caplog
):
    caplog.set_level(logging.WARNING)
    async for bot in start_harness(tg, sandbox, tmp_path, database_url=sqlite_url(tmp_path)):
        disk = FullDisk(bot.app.engine, tmp_path / "bot.db")
        await say(bot, SENIOR, "/stocktake", "Пересчёт цветов")
        await say(bot, SENIOR, "0", "2/")
        review = await press(bot, SENIOR, "Закончить", "расхождения")
        await disk.fill()
        await bot.tg.press_button(SENIOR, text_contains="Отправить", message=review)
        refused = await bot.tg.wait_for_message(SENIOR, text_contains="закончилось место", timeout=WAIT)
        assert "Нажмите «Отправить» ещё раз" in refused["text"]
        bulk, one = (
            "/crm/api/inventory/bulk-update",
            "/crm/api/inventory/update",
        )  # one difference: one update
        assert posts(bot, bulk) + posts(bot, one) == []
        # the hour of counting is kept: the review is where it was, «Отправить» is under the refusal
        assert await bot.app.dp.storage.get_state(_key(bot, SENIOR)) == "Stocktake:review"
        disk.make_room()
        await press(bot, SENIOR, "Отправить", "Пересчёт сохранён")
        assert len(posts(bot, bulk) + posts(bot, one)) == 1
    assert warnings_about(caplog, "StorageFull", "not stored")
    no_traceback_logged(caplog)


def _key(bot: Harness, user: int) -> Any:
    from aiogram.fsm.storage.base import StorageKey

    return StorageKey(bot_id=bot.app.bot.id, chat_id=user, user_id=user)


async def test_a_full_disk_refuses_a_new_flow_state_with_a_clear_word(
    tg: FakeTelegram, sandbox, tmp_path, caplog
):
    caplog.set_level(logging.WARNING)
    async for bot in start_harness(tg, sandbox, tmp_path, database_url=sqlite_url(tmp_path)):
        disk = FullDisk(bot.app.engine, tmp_path / "bot.db")
        await disk.fill()
        refused = await say(bot, ASSISTANT, "/writeoff", "закончилось место")
        assert "Ничего не сохранено" in refused["text"]
        assert await bot.app.dp.storage.get_state(_key(bot, ASSISTANT)) is None
        await say(bot, OWNER, "/lowstock", "Мало на складе")  # reading goes on
        disk.make_room()
        await say(bot, ASSISTANT, "/writeoff", "Какой цветок списать")
        assert await bot.app.dp.storage.get_state(_key(bot, ASSISTANT)) == "Flow:flower"
    assert warnings_about(caplog, "database failure in update", "StorageFull")
    no_traceback_logged(caplog)


@pytest.fixture
async def group_tg() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    await fake.start()
    for telegram_id, (_role, name) in STAFF.items():
        fake.user(telegram_id, first_name=name.split()[0])
    fake.user(STRANGER)
    fake.add_group(GROUP, "Цветы — смена", members=[*STAFF])
    yield fake
    await fake.close()


async def full_disk_under_the_new_order_poll(tg: FakeTelegram, sandbox, tmp_path) -> AsyncIterator[Harness]:
    """The new-order poll, through the real scheduler, meets a full disk with three new orders
    waiting: what it did is checked after room is made and the poll ran again."""
    async for shop in start_harness(
        tg,
        sandbox,
        tmp_path,
        database_url=sqlite_url(tmp_path),
        alert_chat_id=GROUP,
        start_scheduler=True,
        new_order_poll_seconds=60,
        low_stock_poll_seconds=0,
    ):
        calm = datetime.now(shop.app.settings.tz).replace(hour=6, minute=0) + timedelta(days=2)
        shop.app.alerts.clock = lambda calm=calm: calm  # no deadline nudge interferes
        assert await run_job_now(shop, "poll_new_orders") == EVENT_JOB_EXECUTED
        watermark = await shop.app.kv.get(ORDERS_KEY)
        assert watermark is not None
        disk = FullDisk(shop.app.engine, tmp_path / "bot.db")
        await disk.fill()
        ids = [sandbox.state.new_order().id for _ in range(3)]
        code = await run_job_now(shop, "poll_new_orders")
        scheduler = shop.app.dp.workflow_data["scheduler"]
        assert scheduler.running and scheduler.get_job("poll_new_orders") is not None
        # nothing announced that the bot could not remember announcing, the watermark as it was
        assert not [m for m in shop.tg.messages(GROUP) if any(f"№{i}" in m.get("text", "") for i in ids)]
        assert await shop.app.kv.get(ORDERS_KEY) == watermark
        shop.app.dp["test_poll_code"] = code
        disk.make_room()
        assert await run_job_now(shop, "poll_new_orders") == EVENT_JOB_EXECUTED
        assert await run_job_now(shop, "poll_new_orders") == EVENT_JOB_EXECUTED
        texts = [m.get("text", "") for m in shop.tg.messages(GROUP)]
        for order_id in ids:  # each announced exactly once: none lost, none twice
            assert sum(f"№{order_id}" in t for t in texts) == 1, (order_id, texts)
        yield shop


async def test_a_full_disk_under_the_alert_poll_is_one_warning_and_loses_no_order(
    group_tg: FakeTelegram, sandbox, tmp_path, caplog
):
    caplog.set_level(logging.WARNING)
    async for shop in full_disk_under_the_new_order_poll(group_tg, sandbox, tmp_path):
        # the job ended normally for the scheduler, with one warning line, no traceback
        assert shop.app.dp["test_poll_code"] == EVENT_JOB_EXECUTED
        assert warnings_about(caplog, "poll_new_orders", "database or disk is full")
    no_traceback_logged(caplog)


# --- PostgreSQL restarted or down ----------------------------------------------------------------


async def test_postgres_restarted_between_two_updates(
    tg: FakeTelegram, sandbox, tmp_path, pg_server: PgServer, pg_url: str, caplog
):
    caplog.set_level(logging.WARNING)
    async for bot in start_harness(tg, sandbox, tmp_path, database_url=pg_url):
        before = stock(bot)
        # a write queued in the outbox (the CRM is down) before the restart …
        queued_confirm = await writeoff_to_confirm(bot, SENIOR)
        queued_op = op_of(queued_confirm, bot.tg)
        sandbox.faults.add("POST", WRITEOFF, status=503, times=1)
        await press(bot, SENIOR, "Сохранить", "отправлю, когда склад ответит")
        await say(bot, FLORIST, "/delivery", "Какой цветок пришёл")
        await pg_server.restart(database_of(pg_url))
        # … the next update after the restart is handled as if nothing happened
        await say(bot, FLORIST, "роза 60", "Сколько стеблей пришло")
        await say(bot, FLORIST, "50", "Приход — проверьте")
        await pg_server.restart(database_of(pg_url))
        await press(bot, FLORIST, "Сохранить", "Приход сохранён")
        # … and nothing was lost from the outbox: the queued write goes out once
        [entry] = await bot.app.outbox.pending()
        assert entry.id == queued_op
        await later(bot).retry_due()
        assert await bot.app.outbox.pending() == []
        assert len(posts(bot, DELIVERY)) == 1 and len(posts(bot, WRITEOFF)) == 2  # 503, then sent
        assert stock(bot) == before + 50 - 3
    no_traceback_logged(caplog)


async def test_postgres_down_gets_a_friendly_word_and_loses_nothing(
    tg: FakeTelegram, sandbox, tmp_path, pg_server: PgServer, pg_url: str, caplog
):
    caplog.set_level(logging.WARNING)
    database = database_of(pg_url)
    async for bot in start_harness(tg, sandbox, tmp_path, database_url=pg_url):
        before = stock(bot)
        confirm = await delivery_to_confirm(bot, FLORIST)
        op_id = op_of(confirm, bot.tg)
        await pg_server.stop(database)
        try:
            await bot.tg.press_button(FLORIST, text_contains="Сохранить", message=confirm)
            down = await bot.tg.wait_for_message(FLORIST, text_contains="недоступна", timeout=WAIT)
            assert "База данных бота сейчас недоступна, ничего не сохранено" in down["text"]
            stock_reply = await say(bot, OWNER, "/stock роза", "недоступна")
            assert "Что-то пошло не так" not in stock_reply["text"]
            assert posts(bot, DELIVERY) == []
        finally:
            await pg_server.start(database)
        # the flow is where it was: «Сохранить», given again with the refusal, works now, once
        await bot.tg.press_button(FLORIST, text_contains="Сохранить")
        await bot.tg.wait_for_message(FLORIST, text_contains="Приход сохранён", timeout=WAIT)
        entry = await OutboxRepository(bot.app.sessions).get(op_id)
        assert entry is not None and entry.status == "done"
        assert len(posts(bot, DELIVERY)) == 1 and stock(bot) == before + 50
    assert warnings_about(caplog, "database failure in update", "StorageUnavailable")
    no_traceback_logged(caplog)
