"""The FSM storages the bot can run on — SQL (SQLite, PostgreSQL) and Redis, all real servers — keep
one contract, and the bot built by the harness really runs on the backend the test is given."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis

from bot.app import fsm_storage
from runtime.fsm_storage import SqlStorage
from services.storage.db import create_engine, make_sessionmaker, migrate
from tests.conftest import FLORIST, Backend, start_harness

ROSES = "Какой цветок пришёл"


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def store(request, tmp_path) -> tuple[str, str]:
    """(kind, url) of a fresh store on a real server: a SQLite file, a PostgreSQL database copied
    from a migrated template, the session's Redis flushed."""
    if request.param == "sqlite":
        return "sql", f"sqlite+aiosqlite:///{tmp_path}/fsm.db"
    if request.param == "postgresql":
        return "sql", request.getfixturevalue("pg_url")
    return "redis", request.getfixturevalue("redis_url")


@pytest.fixture
async def make_storage(store: tuple[str, str]) -> AsyncIterator[Callable[[], BaseStorage]]:
    """A factory of storage instances over one store, built as the bot builds its storage: a
    second instance is a restarted replica."""
    kind, url = store
    engine = create_engine(url if kind == "sql" else "sqlite+aiosqlite://")  # unused beside Redis
    if kind == "sql":
        await migrate(engine)
    made: list[BaseStorage] = []

    def make() -> BaseStorage:
        made.append(
            fsm_storage(url if kind == "redis" else None, make_sessionmaker(engine), only_replica=False)
        )
        return made[-1]

    yield make
    for storage in made:
        await storage.close()
    await engine.dispose()


async def test_state_and_data_survive_a_new_instance_and_stay_per_person(make_storage):
    key = StorageKey(bot_id=1, chat_id=10, user_id=10)
    first = make_storage()
    await first.set_state(key, "Delivery:quantity")
    await first.update_data(key, {"flower": "Роза красная 60 см", "quantity": 50})
    await first.update_data(key, {"price": 1200})
    second = make_storage()
    assert await second.get_state(key) == "Delivery:quantity"
    assert await second.get_data(key) == {"flower": "Роза красная 60 см", "quantity": 50, "price": 1200}
    for other in (
        StorageKey(bot_id=1, chat_id=10, user_id=11),
        StorageKey(bot_id=1, chat_id=-100555, user_id=10),  # the same person in a group
        StorageKey(bot_id=2, chat_id=10, user_id=10),  # another bot on the same store
    ):
        assert await second.get_state(other) is None and await second.get_data(other) == {}
    await second.set_state(key, None)
    await second.set_data(key, {})
    assert await first.get_state(key) is None and await first.get_data(key) == {}


async def test_a_half_entered_delivery_survives_a_restart_on_the_tests_backend(
    tg, sandbox, tmp_path, backend: Backend
):
    """The harness builds the bot on the backend of the test (SQLite + SQL FSM, or PostgreSQL +
    Redis FSM), and a flow begun before a restart goes on after it."""
    async for bot in start_harness(tg, sandbox, tmp_path):
        dialect = bot.app.engine.dialect.name
        storage = bot.app.dp.storage
        await tg.send_message(FLORIST, "/delivery")
        await tg.wait_for_message(FLORIST, text_contains=ROSES)
        await tg.send_message(FLORIST, "роза 60")
        await tg.wait_for_message(FLORIST, text_contains="Сколько стеблей пришло")
    if backend.redis_url is None:
        assert (dialect, type(storage)) == ("sqlite", SqlStorage)
    else:
        assert (dialect, type(storage)) == ("postgresql", RedisStorage)
        redis = Redis.from_url(backend.redis_url, decode_responses=True)
        try:
            keys = [str(key) for key in await redis.keys("fsm:*")]
        finally:
            await redis.aclose()
        assert any(str(FLORIST) in key for key in keys), keys  # the state is in Redis, not in SQL
    async for _bot in start_harness(tg, sandbox, tmp_path):  # a new process on the same stores
        await tg.send_message(FLORIST, "50")
        confirm = await tg.wait_for_message(FLORIST, text_contains="Приход — проверьте")
        assert "Роза красная 60 см" in confirm["text"] and "50 шт" in confirm["text"]
