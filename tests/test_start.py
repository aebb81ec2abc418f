"""/start, /help, access and the command menu — the whole bot over HTTP."""

from __future__ import annotations

import pytest

from tests.conftest import ASSISTANT, COURIER, FLORIST, OWNER, STRANGER, Harness, settle, start_harness


async def test_owner_gets_a_greeting_and_the_menu(bot: Harness):
    await bot.tg.send_message(OWNER, "/start")
    reply = await bot.tg.wait_for_message(OWNER, text_contains="Здравствуйте")
    assert "Айгуль Сапарова" in reply["text"]
    assert "владелец" in reply["text"]
    assert "/help" in reply["text"]
    assert "Демо" not in reply["text"]


OWNER_ACTIONS = [
    ("📋 Заказы", "mn:orders"),
    ("➕ Приход", "mn:delivery"),
    ("➖ Списание", "mn:writeoff"),
    ("🌸 Склад", "mn:stock"),
    ("🌷 Витрина", "mn:vitrina"),
    ("💐 Каталог", "mn:catalog"),
    ("👥 Сотрудники", "mn:staff"),
]


async def test_start_shows_the_main_actions_of_the_role_as_buttons(bot: Harness):
    await bot.tg.send_message(OWNER, "/start")
    owner = await bot.tg.wait_for_message(OWNER, text_contains="Здравствуйте")
    assert bot.tg.buttons(owner) == OWNER_ACTIONS
    assert "Все команды — /help" in owner["text"]
    assert "/orders" not in owner["text"] and "/stocktake" not in owner["text"]  # no list of commands

    await bot.tg.send_message(FLORIST, "/start")
    florist = await bot.tg.wait_for_message(FLORIST, text_contains="Здравствуйте")
    assert bot.tg.buttons(florist) == OWNER_ACTIONS[:-1]  # no colleagues to manage

    await bot.tg.send_message(COURIER, "/start")
    courier = await bot.tg.wait_for_message(COURIER, text_contains="Здравствуйте")
    assert bot.tg.buttons(courier) == [("🚚 Мои доставки", "mn:orders")]
    assert "Все команды — /help" in courier["text"]
    # a main action the role does not have, forged, is refused
    query = await bot.tg.press_callback_data(COURIER, "mn:catalog", message=courier)
    await bot.tg.wait_for("answerCallbackQuery", lambda c: c.params.get("callback_query_id") == query)
    assert "Каталог вам недоступен" in bot.tg.callback_answers[query]["text"]


async def test_the_catalog_button_of_start_searches_in_two_interactions(bot: Harness):
    await bot.tg.send_message(FLORIST, "/start")
    screen = await bot.tg.wait_for_message(FLORIST, text_contains="Здравствуйте")
    await bot.tg.press_button(FLORIST, text_contains="Каталог", message=screen)  # 1
    ask = await bot.tg.wait_for_message(FLORIST, text_contains="Что ищем?")
    assert ask["message_id"] != screen["message_id"]  # the main screen stays for the next action
    await bot.tg.send_message(FLORIST, "пионы")  # 2
    page = await bot.tg.wait_for_message(FLORIST, text_contains="Каталог ·")
    assert "Пионы розовые, 9 шт" in page["text"]


async def test_every_main_action_opens_its_section(bot: Harness):
    """Each button of /start is handled by the feature owning its command: none falls through to
    «this button is out of date», each answers with a new message of its own."""
    await bot.tg.send_message(OWNER, "/start")
    screen = await bot.tg.wait_for_message(OWNER, text_contains="Здравствуйте")
    for label, data in bot.tg.buttons(screen):
        before = len(bot.tg.messages(OWNER))
        query = await bot.tg.press_callback_data(OWNER, data, message=screen)
        await settle(bot)
        assert "устарел" not in bot.tg.callback_answers.get(query, {}).get("text", ""), label
        assert len(bot.tg.messages(OWNER)) > before, f"{label}: no answer"
        await bot.tg.send_message(OWNER, "/cancel")  # leave the step the section may have begun
        await settle(bot)


async def test_unknown_person_is_refused_with_their_id_and_nothing_else_happens(bot: Harness):
    assert bot.sandbox is not None
    before = len(bot.sandbox.requests)
    await bot.tg.send_message(STRANGER, "/start")
    reply = await bot.tg.wait_for_message(STRANGER, text_contains="4242")
    assert "сотрудников" in reply["text"]
    await bot.tg.send_message(STRANGER, "122578")
    await bot.tg.wait_for_message(STRANGER, text_contains="4242")
    assert len(bot.tg.messages(STRANGER)) == 2
    assert len(bot.sandbox.requests) == before  # no API call for a stranger


async def test_a_forged_button_from_a_stranger_gets_a_toast_only(bot: Harness):
    await bot.tg.send_message(OWNER, "/start")
    message = await bot.tg.wait_for_message(OWNER, text_contains="Здравствуйте")
    query_id = await bot.tg.press_callback_data(STRANGER, "o:ap:122578", message=message)
    await bot.tg.wait_for("answerCallbackQuery")
    assert "сотрудников" in bot.tg.callback_answers[query_id].get("text", "")
    assert bot.tg.messages(STRANGER) == []


async def test_menu_follows_the_role(bot: Harness):
    await bot.tg.send_message(COURIER, "/help")
    reply = await bot.tg.wait_for_message(COURIER, text_contains="Что я умею")
    assert "/help" in reply["text"] and "/cancel" in reply["text"]
    await bot.tg.send_message(FLORIST, "/start")
    florist = await bot.tg.wait_for_message(FLORIST, text_contains="флорист")
    assert "Асель" in florist["text"]


async def test_person_language_is_used(bot: Harness):
    await bot.app.staff.set_language(ASSISTANT, "en")
    await bot.tg.send_message(ASSISTANT, "/start")
    reply = await bot.tg.wait_for_message(ASSISTANT, text_contains="Hello")
    assert "assistant" in reply["text"]
    await bot.app.staff.set_language(ASSISTANT, "kk")
    await bot.tg.send_message(ASSISTANT, "/help")
    await bot.tg.wait_for_message(ASSISTANT, text_contains="Мен не істей аламын")


async def test_removed_person_is_refused_at_the_next_message(bot: Harness):
    await bot.tg.send_message(FLORIST, "/help")
    await bot.tg.wait_for_message(FLORIST, text_contains="Что я умею")
    await bot.app.staff.remove(FLORIST)
    await bot.tg.send_message(FLORIST, "/help")
    await bot.tg.wait_for_message(FLORIST, text_contains=str(FLORIST))


async def test_command_menu_is_set_in_every_language(bot: Harness):
    await bot.tg.send_message(OWNER, "/help")  # the startup hook has certainly run by now
    await bot.tg.wait_for_message(OWNER, text_contains="Что я умею")
    calls = [c for c in bot.tg.requests if c.method == "setMyCommands"]
    languages = {c.params.get("language_code") for c in calls}
    assert languages == {None, "ru", "kk", "en"}
    by_language = {c.params.get("language_code"): c.params["commands"] for c in calls}
    assert any(cmd["description"] == "Главное меню" for cmd in by_language[None])
    assert any(cmd["description"] == "Басты мәзір" for cmd in by_language["kk"])
    assert any(cmd["description"] == "Main menu" for cmd in by_language["en"])


async def test_cancel_without_a_flow_says_so(bot: Harness):
    await bot.tg.send_message(OWNER, "/cancel")
    await bot.tg.wait_for_message(OWNER, text_contains="Нечего отменять")


async def test_demo_mode_says_so_in_start(tg, tmp_path):
    async for harness in start_harness(tg, None, tmp_path, demo=True):
        assert harness.app.backends.sandbox is not None
        await tg.send_message(OWNER, "/start")
        reply = await tg.wait_for_message(OWNER, text_contains="Здравствуйте")
        assert "Демо-режим" in reply["text"]


@pytest.mark.parametrize("chat_type", ["group", "supergroup"])
async def test_stranger_chatting_in_a_group_is_ignored(bot: Harness, chat_type):
    group = -100777
    bot.tg.add_group(group, "Цветы — смена", members=[OWNER, STRANGER])
    await bot.tg.send_message(STRANGER, "всем привет", chat_id=group, chat_type=chat_type)
    await bot.tg.send_message(OWNER, "/help", chat_id=group, chat_type=chat_type)
    reply = await bot.tg.wait_for_message(group, text_contains="Что я умею")
    assert bot.tg.messages(group) == [reply]


async def test_a_reply_that_meets_the_flood_limit_waits_and_arrives(tg, sandbox, tmp_path):
    from tests.fake_telegram import FakeClock

    clock = FakeClock()
    async for harness in start_harness(tg, sandbox, tmp_path, sender_time=(clock.now, clock.sleep)):
        tg.fail_next(
            "sendMessage", error_code=429, description="Too Many Requests: retry after 5", retry_after=5
        )
        await harness.tg.send_message(OWNER, "/help")
        await harness.tg.wait_for_message(OWNER, text_contains="Что я умею")
        assert 5 in clock.sleeps
        assert [c.error_code for c in tg.requests if c.method == "sendMessage"] == [429, None]


async def test_quick_replies_in_a_private_chat_are_not_held_back(tg, sandbox, tmp_path):
    from tests.fake_telegram import FakeClock

    clock = FakeClock()
    async for harness in start_harness(tg, sandbox, tmp_path, sender_time=(clock.now, clock.sleep)):
        for _ in range(4):
            await harness.tg.send_message(OWNER, "/help")
            await harness.tg.wait_for_message(OWNER, text_contains="Что я умею")
        assert clock.sleeps == []  # the person waits for nothing but the work itself
