"""Webhook mode: Telegram posts updates to the bot's own web server; the secret header is checked."""

from __future__ import annotations

import aiohttp

from bot.webhook import start_webhook, webhook_secret
from tests.conftest import OWNER, fake_session, make_settings

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
        await running.close()


def test_webhook_url_must_be_https(tmp_path):
    import pytest

    from bot.config import SettingsError, load_settings

    with pytest.raises(SettingsError) as caught:
        load_settings(
            bot_token="123456:TEST-token", demo=True, webhook_url="http://plain.example/hook"
        ).require_bot()
    assert "https" in caught.value.problems[0]
    load_settings(bot_token="123456:TEST-token", demo=True, webhook_url=URL).require_bot()
