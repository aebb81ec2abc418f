"""The shop's bot stays in the shop: who added it where decides whether it stays."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from aiogram.exceptions import TelegramForbiddenError

from sandbox import Sandbox
from tests.conftest import COURIER, OWNER, SENIOR, STRANGER, Harness, settle, start_harness
from tests.fake_telegram import FakeTelegram

ALERT_GROUP = -1001000000001
FOREIGN = -1002000000002


@pytest.fixture
async def shop(tg: FakeTelegram, sandbox: Sandbox, tmp_path) -> AsyncIterator[Harness]:
    tg.add_group(ALERT_GROUP, "Цветы: магазин", members=[OWNER, SENIOR])
    async for harness in start_harness(tg, sandbox, tmp_path, alert_chat_id=ALERT_GROUP):
        yield harness


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "handlers.groups" and r.levelno == level]


def test_my_chat_member_is_asked_for(bot: Harness):
    assert "my_chat_member" in bot.app.allowed_updates


async def test_a_stranger_adding_the_bot_to_their_group_makes_it_leave(
    shop: Harness, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, "handlers.groups")
    shop.tg.user(STRANGER, "Незнакомец", username="stranger", last_name="Петров")
    shop.tg.bot_status_changed(STRANGER, FOREIGN, title="Продам гараж")
    await shop.tg.wait_for("leaveChat", lambda c: c.chat_id == FOREIGN)
    assert shop.tg.left_chats() == [FOREIGN]
    [warning] = records(caplog, logging.WARNING)
    assert str(STRANGER) in warning and "Незнакомец Петров" in warning and "@stranger" in warning
    assert str(FOREIGN) in warning and "Продам гараж" in warning
    assert shop.tg.messages(FOREIGN) == []  # left without a word


@pytest.mark.parametrize(("chat_type", "status"), [("group", "member"), ("channel", "administrator")])
async def test_a_stranger_adding_it_to_a_basic_group_or_a_channel_too(
    shop: Harness, chat_type: str, status: str
):
    chat = -4000123 if chat_type == "group" else -1003000000003
    shop.tg.bot_status_changed(STRANGER, chat, new=status, chat_type=chat_type)
    await shop.tg.wait_for("leaveChat", lambda c: c.chat_id == chat)


async def test_a_removed_colleague_is_a_stranger(shop: Harness):
    await shop.app.staff.remove(COURIER)
    shop.tg.bot_status_changed(COURIER, FOREIGN)
    await shop.tg.wait_for("leaveChat", lambda c: c.chat_id == FOREIGN)


async def test_after_leaving_sends_there_fail_like_telegram(shop: Harness):
    shop.tg.bot_status_changed(STRANGER, FOREIGN)
    await shop.tg.wait_for("leaveChat")
    with pytest.raises(TelegramForbiddenError, match="bot is not a member of the supergroup chat"):
        await shop.app.bot.send_message(FOREIGN, "привет")
    shop.tg.errors.clear()  # the refusal above was the point


async def test_staff_adding_the_bot_to_the_alert_chat_keeps_it_there(
    shop: Harness, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, "handlers.groups")
    shop.tg.bot_status_changed(OWNER, ALERT_GROUP, new="administrator")
    await settle(shop)
    assert shop.tg.left_chats() == []
    assert any("shop's group" in line for line in records(caplog, logging.INFO))
    await shop.tg.send_message(OWNER, "/help", chat_id=ALERT_GROUP)  # and it works there as before
    await shop.tg.wait_for_message(ALERT_GROUP, text_contains="Что я умею")


async def test_even_a_stranger_adding_it_to_the_alert_chat_keeps_it_there(shop: Harness):
    shop.tg.bot_status_changed(STRANGER, ALERT_GROUP)
    await settle(shop)
    assert shop.tg.left_chats() == []


async def test_the_alert_group_that_just_became_a_supergroup_is_not_left(
    tg: FakeTelegram, sandbox: Sandbox, tmp_path
):
    old, new = -4000555, -1004000000555
    tg.add_group(old, "Цветы: магазин", chat_type="group")
    async for shop in start_harness(tg, sandbox, tmp_path, alert_chat_id=old):
        tg.fail_next(
            "getChat",
            error_code=400,
            description="Bad Request: group chat was upgraded to a supergroup chat",
            migrate_to_chat_id=new,
        )
        tg.bot_status_changed(STRANGER, new, new="administrator", title="Цветы: магазин")
        await settle(shop)
        assert tg.left_chats() == []
        # a supergroup the alert group did not become is left as any other
        tg.bot_status_changed(STRANGER, FOREIGN)
        await tg.wait_for("leaveChat", lambda c: c.chat_id == FOREIGN)


async def test_staff_adding_the_bot_elsewhere_keeps_it_and_logs_info(
    shop: Harness, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, "handlers.groups")
    shop.tg.bot_status_changed(COURIER, FOREIGN, title="Курьеры")
    await settle(shop)
    assert shop.tg.left_chats() == []
    assert records(caplog, logging.WARNING) == []
    [info] = records(caplog, logging.INFO)
    assert str(COURIER) in info and str(FOREIGN) in info and "Курьеры" in info


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("member", "administrator"),
        ("administrator", "member"),
        ("member", "left"),
        ("administrator", "kicked"),
    ],
)
async def test_promotions_and_removals_are_only_logged(shop: Harness, old: str, new: str):
    shop.tg.bot_status_changed(STRANGER, FOREIGN, old=old, new=new)
    await settle(shop)
    assert shop.tg.left_chats() == []
    assert shop.tg.messages(FOREIGN) == []


async def test_a_private_chat_blocked_and_unblocked_is_not_a_group(shop: Harness):
    shop.tg.bot_status_changed(STRANGER, STRANGER, old="member", new="kicked")
    await settle(shop)
    shop.tg.bot_status_changed(STRANGER, STRANGER, old="kicked", new="member")
    await settle(shop)
    assert shop.tg.left_chats() == [] and shop.tg.messages(STRANGER) == []


async def test_strangers_commands_in_a_foreign_group_get_no_answer(shop: Harness):
    shop.tg.add_group(FOREIGN, "Чужая группа", members=[STRANGER, OWNER])
    for text in ("/start", "/help", "/orders", "122578", "привет"):
        await shop.tg.send_message(STRANGER, text, chat_id=FOREIGN)
    await shop.tg.send_message(OWNER, "/help", chat_id=FOREIGN)  # staff still gets answers there
    reply = await shop.tg.wait_for_message(FOREIGN, text_contains="Что я умею")
    assert shop.tg.messages(FOREIGN) == [reply]


async def test_a_strangers_command_in_the_alert_chat_and_in_private_gets_the_refusal_with_their_id(
    shop: Harness,
):
    await shop.tg.send_message(STRANGER, "/start", chat_id=ALERT_GROUP)
    await shop.tg.wait_for_message(ALERT_GROUP, text_contains=str(STRANGER))
    await shop.tg.send_message(STRANGER, "/help")
    await shop.tg.wait_for_message(STRANGER, text_contains=str(STRANGER))
