from __future__ import annotations

import asyncio

import pytest
from aiogram.fsm.storage.base import StorageKey
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from runtime.fsm_storage import SqlStorage
from services.roles import Role
from services.staff import StaffService
from services.storage.db import create_engine, make_sessionmaker, migrate
from services.storage.models import Base
from services.storage.repositories import (
    AuditLog,
    FsmRepository,
    KeyValueStore,
    StaffRepository,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """Every storage test on SQLite and on a real PostgreSQL (the suite's throwaway server,
    tests/postgres.py, a fresh migrated database per test): the models must stay portable."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/sub/dir/bot.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture
async def engine(database_url):
    engine = create_engine(database_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine):
    return make_sessionmaker(engine)


@pytest.fixture
def staff(sessions):
    return StaffService(StaffRepository(sessions), AuditLog(sessions))


async def test_migrations_create_exactly_the_models_and_are_idempotent(engine):
    await migrate(engine)  # second run: nothing to do, no error

    def diff(connection):
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)

    async with engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_sqlite_runs_in_wal_with_a_busy_timeout(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/bot.db")
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await connection.execute(text("PRAGMA busy_timeout"))).scalar() == 5000
    finally:
        await engine.dispose()


async def test_staff_add_list_update_remove_with_audit(staff, sessions):
    member = await staff.add(1001, role="owner", name="  Айгуль   Сапарова ")
    assert member.name == "Айгуль Сапарова" and member.role == "owner" and member.active
    assert member.created_at.tzinfo is not None
    await staff.add(1003, role="courier", name="Ержан", language="kk")
    assert [m.telegram_id for m in await staff.list_all()] == [1001, 1003]
    updated = await staff.add(1003, role="florist", name="Ержан")
    assert updated.role == "florist" and updated.language == "kk"
    assert (await staff.remove(1003)).telegram_id == 1003
    assert await staff.remove(1003) is None
    assert await staff.get_active(1003) is None
    history = await AuditLog(sessions).for_target("staff:1003")
    assert [e.action for e in history] == ["staff.remove", "staff.update", "staff.add"]
    assert history[1].before == "courier/active" and history[1].after == "florist/active"


@pytest.mark.parametrize(
    ("telegram_id", "role", "name"),
    [(0, "owner", "Айгуль"), (5, "boss", "Айгуль"), (5, "owner", "А"), (5, "owner", "x" * 256)],
)
async def test_staff_add_refuses_bad_input(staff, telegram_id, role, name):
    with pytest.raises(ValueError):
        await staff.add(telegram_id, role=role, name=name)
    assert await staff.list_all() == []


async def test_owner_ids_are_ensured_without_losing_names(staff):
    await staff.add(1002, role="florist", name="Дана", language="en")
    await staff.ensure_owners([1001, 1002])
    await staff.ensure_owners([1001, 1002])
    by_id = {m.telegram_id: m for m in await staff.list_all()}
    assert by_id[1001].role == Role.OWNER and by_id[1002].role == Role.OWNER
    assert by_id[1002].name == "Дана" and by_id[1002].language == "en"


async def test_inactive_staff_are_not_active(staff, sessions):
    await staff.add(7, role="assistant", name="Асель")
    await StaffRepository(sessions).upsert(7, active=False)
    assert await staff.get_active(7) is None
    assert (await staff.get(7)).active is False


async def test_key_value_store_round_trip(sessions):
    kv = KeyValueStore(sessions)
    assert await kv.get("orders.watermark", 0) == 0
    await kv.set("orders.watermark", {"max_id": 122578, "statuses": {"122578": "AP"}})
    await kv.set("orders.watermark", {"max_id": 122579})
    assert await kv.get("orders.watermark") == {"max_id": 122579}
    await kv.delete("orders.watermark")
    assert await kv.get("orders.watermark") is None


async def test_fsm_state_survives_a_new_storage_instance(engine):
    key = StorageKey(bot_id=1, chat_id=10, user_id=10)
    first = SqlStorage(FsmRepository(make_sessionmaker(engine)))
    await first.set_state(key, "Delivery:quantity")
    await first.update_data(key, {"flower": "Роза красная 60 см", "quantity": 50})
    second = SqlStorage(FsmRepository(make_sessionmaker(engine)))
    assert await second.get_state(key) == "Delivery:quantity"
    assert await second.get_data(key) == {"flower": "Роза красная 60 см", "quantity": 50}
    other = StorageKey(bot_id=1, chat_id=10, user_id=11)
    assert await second.get_state(other) is None and await second.get_data(other) == {}
    await second.set_state(key, None)
    await second.set_data(key, {})
    assert await first.get_state(key) is None and await first.get_data(key) == {}


async def test_concurrent_writers_do_not_fail_on_a_locked_database(sessions):
    kv = KeyValueStore(sessions)
    await asyncio.gather(*(kv.set(f"k{i}", i) for i in range(30)))
    assert [await kv.get(f"k{i}") for i in range(30)] == list(range(30))


async def test_one_replica_holds_the_scheduler_lease(sessions):
    from datetime import UTC, datetime, timedelta

    from runtime.jobs import LEASE_TTL, SchedulerLease
    from services.storage.repositories import Leases

    moment = [datetime(2026, 3, 8, 6, 0, tzinfo=UTC)]
    first = SchedulerLease(Leases(sessions), clock=lambda: moment[0])
    second = SchedulerLease(Leases(sessions), clock=lambda: moment[0])
    assert await first.hold() and not await second.hold()
    moment[0] += LEASE_TTL / 2
    assert await first.hold() and not await second.hold()  # renewed in time
    moment[0] += LEASE_TTL + timedelta(seconds=1)  # the first replica died
    assert await second.hold() and not await first.hold()
    await second.release()
    assert await first.hold()


async def test_leases_taken_at_the_same_moment_go_to_one(sessions):
    from datetime import UTC, datetime, timedelta

    from services.storage.repositories import Leases

    leases = Leases(sessions)
    now = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)
    results = await asyncio.gather(
        *(
            leases.acquire("scheduler", f"replica-{i}", until=now + timedelta(seconds=45), now=now)
            for i in range(5)
        )
    )
    assert sorted(results) == [False, False, False, False, True]


async def test_housekeeping_forgets_old_alert_state_and_finished_writes_only(sessions):
    from datetime import UTC, datetime, timedelta

    from services.storage.models import KeyValueRow, OutboxRow
    from services.storage.repositories import Housekeeping

    now = datetime(2026, 3, 8, 4, 30, tzinfo=UTC)
    old, fresh = now - timedelta(days=40), now - timedelta(days=1)
    async with sessions.begin() as session:
        for key, at in [
            ("alert_card:1", old),
            ("nudged:1:assemble", old),
            ("alert_card:2", fresh),
            ("alerts.orders", old),
            ("recent_suppliers", old),
        ]:
            session.add(KeyValueRow(key=key, value="{}", updated_at=at))
        for op, status, at in [
            ("a1", "done", now - timedelta(days=100)),
            ("a2", "failed", now - timedelta(days=100)),
            ("a3", "pending", now - timedelta(days=100)),
            ("a4", "done", fresh),
        ]:
            session.add(
                OutboxRow(
                    id=op,
                    kind="flower_delivery",
                    payload="{}",
                    status=status,
                    attempts=1,
                    next_attempt_at=at,
                    created_at=at,
                    updated_at=at,
                )
            )
    removed = await Housekeeping(sessions).sweep(
        now, keep_alerts=timedelta(days=30), keep_outbox=timedelta(days=90)
    )
    assert removed == {"alert_state": 2, "outbox": 2}
    kv = KeyValueStore(sessions)
    for key in ("alert_card:2", "alerts.orders", "recent_suppliers"):
        assert await kv.get(key) is not None
    async with sessions() as session:
        assert {row.id for row in (await session.scalars(select(OutboxRow))).all()} == {"a3", "a4"}


# --- what the bot keeps in memory instead of asking the database on every update ---------------


def count_statements(engine) -> list[str]:
    from sqlalchemy import event

    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


async def test_a_person_is_read_once_within_the_cache_time_and_at_once_after_a_change(engine, sessions):
    now = [1000.0]
    cached = StaffRepository(sessions, cache_seconds=5.0, clock=lambda: now[0])
    staff = StaffService(cached, AuditLog(sessions))
    await staff.add(1003, role="florist", name="Асель")
    statements = count_statements(engine)
    assert (await staff.get_active(1003)) is not None
    assert (await staff.get_active(1003)) is not None and await staff.names({1003}) == {1003: "Асель"}
    assert len(statements) == 1
    await staff.deactivate(1003)  # through this repository: refused at the next update
    assert await staff.get_active(1003) is None
    # a write by another process (a second replica, `cvety-bot staff`) is seen once the time is up
    other = StaffService(StaffRepository(sessions), AuditLog(sessions))
    await other.add(1003, role="courier", name="Асель")
    assert await staff.get_active(1003) is None
    now[0] += 5.0
    member = await staff.get_active(1003)
    assert member is not None and member.role == "courier"


async def test_a_stranger_is_remembered_too_until_added(sessions):
    cached = StaffRepository(sessions, cache_seconds=5.0)
    assert await cached.get(2001) is None
    await StaffService(cached, AuditLog(sessions)).add(2001, role="florist", name="Новенькая")
    assert await cached.get(2001) is not None


async def test_a_read_that_overlaps_a_write_is_not_remembered(engine, sessions):
    cached = StaffRepository(sessions, cache_seconds=60.0)
    await cached.upsert(1003, name="Асель", role="florist")
    gate, reading = asyncio.Event(), asyncio.Event()
    real_sessions = cached._sessions

    class SlowRead:  # the read has its old row in hand when the write lands
        def __call__(self):
            session = real_sessions()
            real_get = session.get

            async def get(*args, **kwargs):
                row = await real_get(*args, **kwargs)
                reading.set()
                await gate.wait()
                return row

            session.get = get
            return session

    cached._sessions = SlowRead()  # type: ignore[assignment]
    stale = asyncio.create_task(cached.get(1003))
    await reading.wait()
    cached._sessions = real_sessions
    await cached.upsert(1003, active=False)
    gate.set()
    assert (await stale).active  # what it read before the write…
    assert not (await cached.get(1003)).active  # …is not what the next update gets


async def test_the_only_replica_reads_a_conversation_once_and_writes_through(engine, sessions):
    key = StorageKey(bot_id=1, chat_id=10, user_id=10)
    remembering = SqlStorage(FsmRepository(sessions, only_writer=True))
    statements = count_statements(engine)
    assert await remembering.get_state(key) is None
    assert await remembering.get_state(key) is None and await remembering.get_data(key) == {}
    assert len(statements) == 1
    await remembering.set_state(key, "Delivery:quantity")
    await remembering.update_data(key, {"quantity": 50})
    written = len(statements)
    assert await remembering.get_state(key) == "Delivery:quantity"
    assert await remembering.get_data(key) == {"quantity": 50}
    assert len(statements) == written  # read from memory
    # and it is in the table: a restart (a new storage) finds it
    fresh = SqlStorage(FsmRepository(sessions))
    assert await fresh.get_state(key) == "Delivery:quantity" and await fresh.get_data(key) == {"quantity": 50}
    data = await remembering.get_data(key)
    data["quantity"] = 7  # a handler changing its copy changes nothing stored
    assert await remembering.get_data(key) == {"quantity": 50}


async def test_a_failed_conversation_write_is_not_remembered(engine, sessions):
    from sqlalchemy import event

    key = StorageKey(bot_id=1, chat_id=10, user_id=10)
    remembering = SqlStorage(FsmRepository(sessions, only_writer=True))
    await remembering.set_state(key, "Delivery:quantity")

    def refuse(*_args):
        raise RuntimeError("disk full")

    event.listen(engine.sync_engine, "before_cursor_execute", refuse)
    with pytest.raises(Exception, match="disk full"):
        await remembering.set_state(key, "Delivery:price")
    event.remove(engine.sync_engine, "before_cursor_execute", refuse)
    assert await remembering.get_state(key) == "Delivery:quantity"  # what the table holds


def test_the_head_revision_read_from_the_scripts_is_alembics():
    from alembic.script import ScriptDirectory

    from services.storage.db import MIGRATIONS_DIR, head_revision

    assert [head_revision()] == list(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())


async def test_a_database_at_the_head_starts_without_loading_alembic(tmp_path):
    """Alembic would stay in the running bot's memory for nothing once the schema is current."""
    import sys

    script = (
        "import asyncio, sys\n"
        "from services.storage.db import create_engine, migrate\n"
        "async def main():\n"
        f"    engine = create_engine('sqlite+aiosqlite:///{tmp_path}/bot.db')\n"
        "    await migrate(engine)\n"
        "    await engine.dispose()\n"
        "asyncio.run(main())\n"
        "print('alembic' in sys.modules)\n"
    )

    async def start() -> str:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await process.communicate()
        assert process.returncode == 0
        return out.decode().strip()

    assert await start() == "True"  # a new database: migrated
    assert await start() == "False"  # at the head: nothing to do
