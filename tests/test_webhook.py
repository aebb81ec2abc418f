"""Webhook mode: Telegram posts updates to the bot's own web server; the secret header is checked;
/healthz and /readyz tell a load balancer whether the process is up and can do its work."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from bot.webhook import STOP_GRACE, RunningWebhook, start_webhook, webhook_secret
from tests.conftest import OWNER, fake_session, make_settings
from tests.fake_telegram import FakeTelegram
from tests.postgres import PgServer, database_of
from tests.redis_server import start_redis, stop_redis

URL = "https://bot.cvety.example/tg/hook"


def update(update_id: int, user_id: int, text: str) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1772950000,
            "chat": {"id": user_id, "type": "private", "first_name": "Айгуль"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Айгуль", "language_code": "ru"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }


async def test_updates_arrive_by_webhook_and_forged_posts_are_refused(tg, sandbox, tmp_path):
    settings = make_settings(tg, sandbox, tmp_path, webhook_url=URL)
    running = await start_webhook(
        settings, host="127.0.0.1", port=0, bot_session=fake_session(tg), start_scheduler=False
    )
    try:
        secret = webhook_secret(tg.token)
        assert tg.webhook is not None and tg.webhook["url"] == URL and tg.webhook["secret_token"] == secret
        assert "callback_query" in tg.webhook["allowed_updates"]
        hook = f"http://127.0.0.1:{running.port}/tg/hook"
        async with aiohttp.ClientSession() as http:
            forged = await http.post(
                hook, json=update(1, OWNER, "/help"), headers={"X-Telegram-Bot-Api-Secret-Token": "guess"}
            )
            assert forged.status == 401
            real = await http.post(
                hook, json=update(2, OWNER, "/help"), headers={"X-Telegram-Bot-Api-Secret-Token": secret}
            )
            assert real.status == 200
        reply = await tg.wait_for_message(OWNER, text_contains="Что я умею", after=0)
        assert len(tg.messages(OWNER)) == 1 and reply["text"]
        assert tg.token not in secret
    finally:
        await running.app.drain()
        started = time.monotonic()
        await running.close()
    # nothing polled /readyz: no balancer needs to be told, the stop does not wait for one
    assert time.monotonic() - started < STOP_GRACE


def test_webhook_url_must_be_https(tmp_path):
    import pytest

    from bot.config import SettingsError, load_settings

    with pytest.raises(SettingsError) as caught:
        load_settings(
            bot_token="123456:TEST-token", demo=True, webhook_url="http://plain.example/hook"
        ).require_bot()
    assert "https" in caught.value.problems[0]
    load_settings(bot_token="123456:TEST-token", demo=True, webhook_url=URL).require_bot()


async def get(running: RunningWebhook, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{running.port}{path}") as response:
            return response.status, await response.json()


async def test_readyz_follows_the_bot_api_and_asks_it_at_most_every_few_seconds(
    tg, sandbox, tmp_path, backend
):
    settings = make_settings(tg, sandbox, tmp_path, webhook_url=URL)
    running = await start_webhook(
        settings, host="127.0.0.1", port=0, bot_session=fake_session(tg), start_scheduler=False, stop_grace=0
    )
    try:
        assert await get(running, "/healthz") == (200, {"status": "ok"})
        expected = {"database": "ok", "telegram": "ok"}
        if backend.redis_url:
            expected["redis"] = "ok"
        asked = len(tg.calls("getMe"))
        assert await get(running, "/readyz") == (200, {"status": "ready", "checks": expected})
        assert len(tg.calls("getMe")) == asked + 1
        # a balancer polling every second, several at once: the Bot API is asked once per few seconds
        answers = await asyncio.gather(*(get(running, "/readyz") for _ in range(5)))
        assert {status for status, _ in answers} == {200}
        assert len(tg.calls("getMe")) == asked + 1

        running.readiness.telegram_check_every = 0  # ask on every poll from here on
        tg.fail_next("getMe", error_code=401, description="Unauthorized")
        status, body = await get(running, "/readyz")
        assert status == 503, body
        assert body["failed"] == ["telegram"] and body["checks"]["telegram"] == "TelegramUnauthorizedError"
        assert tg.token not in str(body) and tg.token.split(":")[1] not in str(body)
        assert await get(running, "/healthz") == (200, {"status": "ok"})

        running.readiness.timeout = 0.3  # the Bot API takes getMe but never answers
        held = tg.hold_answer("getMe")
        status, body = await get(running, "/readyz")
        assert (status, body["failed"], body["checks"]["telegram"]) == (
            503,
            ["telegram"],
            "no answer in 0.3 s",
        )
        held.release()
        running.readiness.timeout = 3.0
        assert (await get(running, "/readyz"))[0] == 200
    finally:
        await running.close()


async def test_readyz_fails_while_the_database_or_redis_is_down(
    pg_server: PgServer, pg_url: str, sandbox, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    """A Redis of its own (the session's stays up for the other tests) and the PostgreSQL stopped
    for real; /healthz answers 200 throughout: the process is up, it just cannot work."""
    redis = await asyncio.to_thread(start_redis)
    redis_stopped = False
    async with FakeTelegram() as fake:
        settings = make_settings(
            fake, sandbox, tmp_path, webhook_url=URL, database_url=pg_url, redis_url=redis.url
        )
        running = await start_webhook(
            settings,
            host="127.0.0.1",
            port=0,
            bot_session=fake_session(fake),
            start_scheduler=False,
            stop_grace=0,
        )
        try:
            all_ok = {"database": "ok", "redis": "ok", "telegram": "ok"}
            assert await get(running, "/readyz") == (200, {"status": "ready", "checks": all_ok})

            await asyncio.to_thread(stop_redis, redis)
            redis_stopped = True
            status, body = await get(running, "/readyz")
            assert (status, body["failed"], body["checks"]["database"]) == (503, ["redis"], "ok"), body

            await pg_server.stop(database_of(pg_url))
            status, body = await get(running, "/readyz")
            assert (status, body["failed"]) == (503, ["database", "redis"]), body
            assert await get(running, "/healthz") == (200, {"status": "ok"})

            await pg_server.start(database_of(pg_url))
            status, body = await get(running, "/readyz")
            assert (status, body["failed"]) == (503, ["redis"]), body  # the database is back
        finally:
            await running.close()
            if not redis_stopped:
                await asyncio.to_thread(stop_redis, redis)
    noted = [r.getMessage() for r in caplog.records if r.getMessage().startswith("not ready")]
    assert len(noted) == 2, noted  # once per check that went down, not once per poll
    assert noted[0].startswith("not ready: redis") and noted[1].startswith("not ready: database")
    assert fake.token not in caplog.text


async def test_a_stop_turns_readyz_503_before_the_listener_closes(tg, sandbox, tmp_path):
    settings = make_settings(tg, sandbox, tmp_path, webhook_url=URL)
    running = await start_webhook(
        settings, host="127.0.0.1", port=0, bot_session=fake_session(tg), start_scheduler=False, stop_grace=30
    )
    closing: asyncio.Task[None] | None = None
    try:
        assert (await get(running, "/readyz"))[0] == 200  # a balancer polls this replica
        closing = asyncio.create_task(running.close())  # what SIGTERM does
        await asyncio.wait_for(running.readiness.stopping.wait(), 5)
        assert await get(running, "/readyz") == (503, {"status": "stopping"})
        assert await get(running, "/healthz") == (200, {"status": "ok"})
        # until the balancer has noticed, updates still come here, and are handled
        async with aiohttp.ClientSession() as http:
            answer = await http.post(
                f"http://127.0.0.1:{running.port}/tg/hook",
                json=update(7, OWNER, "/help"),
                headers={"X-Telegram-Bot-Api-Secret-Token": webhook_secret(tg.token)},
            )
            assert answer.status == 200
        await tg.wait_for_message(OWNER, text_contains="Что я умею", after=0)
        assert await get(running, "/readyz") == (503, {"status": "stopping"})
        assert not closing.done()  # two 503s seen: the listener stays open for the third
        assert await get(running, "/readyz") == (503, {"status": "stopping"})
        await asyncio.wait_for(closing, 20)
        with pytest.raises(aiohttp.ClientConnectorError):
            await get(running, "/healthz")
    finally:
        if closing is None:
            await running.close()
        elif not closing.done():
            await asyncio.wait_for(closing, 40)
