"""Colleagues, invitations and roles, end to end through the real bot."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from tests.conftest import COURIER, FLORIST, OWNER, SENIOR, STRANGER, Harness

NEWCOMER, LATECOMER = 5001, 5002
COLLEAGUES = "/crm/api/v2/colleagues"


async def say(bot: Harness, user: int, text: str, expect: str) -> dict:
    await bot.tg.send_message(user, text)
    return await bot.tg.wait_for_message(user, text_contains=expect)


async def press(bot: Harness, user: int, label: str, expect: str, message: dict | None = None) -> dict:
    await bot.tg.press_button(user, text_contains=label, message=message)
    return await bot.tg.wait_for_message(user, text_contains=expect)


async def toast(bot: Harness, user: int, data: str) -> str:
    message = (
        bot.tg.messages(user)[-1] if bot.tg.messages(user) else await say(bot, user, "/help", "Что я умею")
    )
    query = await bot.tg.press_callback_data(user, data, message=message)
    await bot.tg.wait_for("answerCallbackQuery", lambda c: c.params.get("callback_query_id") == query)
    return str(bot.tg.callback_answers[query].get("text", ""))


async def press_exact(bot: Harness, user: int, label: str, expect: str, message: dict) -> dict:
    [data] = [d for text, d in bot.tg.buttons(message) if text == label]
    await bot.tg.press_callback_data(user, data, message=message)
    return await bot.tg.wait_for_message(user, text_contains=expect)


def writes(bot: Harness) -> list:
    assert bot.sandbox is not None
    return [r for r in bot.sandbox.requests if r.path.startswith(COLLEAGUES) and r.method != "GET"]


async def test_list_with_filters_and_counts(bot: Harness):
    active = await say(bot, OWNER, "/staff", "Сотрудники")
    assert "Активные · 7" in active["text"]
    assert "Флорист: 2" in active["text"] and "Нурлан Абенов" not in active["text"]
    everyone = await press_exact(bot, OWNER, "Все", "Все · 9", message=active)
    assert "Нурлан Абенов" in everyone["text"] and "неактивен" in everyone["text"]
    assert everyone["message_id"] == active["message_id"]
    couriers = await press_exact(bot, OWNER, "Курьер", "Все · Курьер", message=everyone)
    lines = [line for line in couriers["text"].splitlines() if " — " in line]
    assert len(lines) == 2 and all("Курьер" in line for line in lines)
    await press(bot, OWNER, "Ерлан", "Телефон", message=couriers)
    card = bot.tg.messages(OWNER)[-1]
    assert "+77015556677" in card["text"] and "В боте: нет" in card["text"]


async def test_florists_and_couriers_have_no_staff_list(bot: Harness):
    await say(bot, FLORIST, "/staff", "Список сотрудников вам недоступен")  # the refusal of needs(VIEW)
    assert "нельзя" in await toast(bot, COURIER, "cl:t:3::0") or "доступно" in await toast(
        bot, COURIER, "cl:t:3::0"
    )
    assert writes(bot) == []


async def test_add_with_a_messy_phone_and_a_one_letter_name(bot: Harness):
    listing = await say(bot, SENIOR, "/staff", "Сотрудники")
    await press(bot, SENIOR, "Добавить", "Как зовут", message=listing)
    await say(bot, SENIOR, "Ж", "от 2 до 255")
    await say(bot, SENIOR, "  Жанна   Ли ", "Телефон?")
    await say(bot, SENIOR, "12345", "Не похоже")
    positions = await say(bot, SENIOR, "8 (707) 765-43-21", "Должность?")
    labels = [text for text, _ in bot.tg.buttons(positions)]
    assert "Владелец" not in labels and "Директор" not in labels  # a senior cannot make owners
    await press(bot, SENIOR, "Флорист", "проверьте", message=positions)
    await press(bot, SENIOR, "Сохранить", "Сотрудник добавлен")
    [request] = writes(bot)
    body = json.loads(request.body)
    assert (body["name"], body["phone"], body["position"]) == ("Жанна Ли", "+77077654321", "florist")


async def test_edit_toggle_and_delete_with_confirmation(bot: Harness):
    assert bot.sandbox is not None
    await bot.tg.send_message(OWNER, "/staff")
    listing = await bot.tg.wait_for_message(OWNER, text_contains="Сотрудники")
    card = await press(bot, OWNER, "Мария Ким", "Телефон", message=listing)
    await press(bot, OWNER, "Имя", "Новое имя", message=card)
    await say(bot, OWNER, "М", "от 2 до 255")
    await bot.tg.send_message(OWNER, "Мария Ким-Ли")
    card = await bot.tg.wait_for_message(OWNER, text_contains="Телефон")
    assert bot.sandbox.state.colleagues[3].name == "Мария Ким-Ли"
    await bot.tg.press_button(OWNER, text_contains="Деактивировать", message=card)
    await bot.tg.wait_for_message(OWNER, text_contains="неактивен")
    assert bot.sandbox.state.colleagues[3].is_active is False
    card = bot.tg.messages(OWNER)[-1]
    await press(bot, OWNER, "Удалить", "Удалить сотрудника", message=card)
    assert 3 in bot.sandbox.state.colleagues  # nothing without the confirmation
    await press(bot, OWNER, "Да, удалить", "удалён")
    assert 3 not in bot.sandbox.state.colleagues


async def test_a_senior_cannot_touch_an_owner(bot: Harness):
    assert bot.sandbox is not None
    for data in ("cl:t:1::0", "cl:d:1::0", "cl:D:1::0", "cl:e:1:name:0"):
        assert "владельца" in await toast(bot, SENIOR, data)
    assert writes(bot) == []
    assert bot.sandbox.state.colleagues[1].is_active
    assert "владелец" in (await toast(bot, SENIOR, "iv:r:owner:")).lower()


async def invite_link(bot: Harness, inviter: int, role_label: str) -> str:
    listing = await say(bot, inviter, "/staff", "Сотрудники")
    menu = await press(bot, inviter, "Пригласить", "Приглашения", message=listing)
    message = await press_exact(bot, inviter, role_label, "t.me/", message=menu)
    match = re.search(r"start=([A-Za-z0-9_-]+)", message["text"])
    assert match is not None
    return match.group(1)


async def test_an_invitation_works_once(bot: Harness):
    code = await invite_link(bot, OWNER, "флорист")
    assert len(code) >= 20
    bot.tg.user(NEWCOMER, first_name="Камила", last_name="Нур")
    welcome = await say(bot, NEWCOMER, f"/start {code}", "Здравствуйте, Камила Нур")
    assert "флорист" in welcome["text"] and "старший" not in welcome["text"]
    await bot.tg.wait_for_message(OWNER, text_contains="подключился")
    menus = [
        c
        for c in bot.tg.requests
        if c.method == "setMyCommands" and c.params.get("scope", {}).get("chat_id") == NEWCOMER
    ]
    assert menus and not any(
        cmd["command"] == "staff" for cmd in menus[-1].params["commands"]
    )  # a florist's menu
    await say(bot, NEWCOMER, "/orders", "Заказы")
    bot.tg.user(LATECOMER, first_name="Кто-то")
    refused = await say(bot, LATECOMER, f"/start {code}", "уже использована")
    assert str(LATECOMER) in refused["text"]
    await say(bot, LATECOMER, "/orders", str(LATECOMER))  # still a stranger
    await say(bot, STRANGER, "/start notarealcode", "не подошла")


async def test_an_expired_or_revoked_invitation(bot: Harness):
    code = await invite_link(bot, SENIOR, "курьер")
    invites = bot.app.dp.workflow_data["invites"]
    real_clock = invites.clock
    invites.clock = lambda: real_clock() + timedelta(hours=25)
    bot.tg.user(NEWCOMER, first_name="Аян")
    await say(bot, NEWCOMER, f"/start {code}", "истёк")
    invites.clock = real_clock
    revoked = await invite_link(bot, OWNER, "помощник")
    listing = await say(bot, OWNER, "/staff", "Сотрудники")
    menu = await press(bot, OWNER, "Пригласить", "Открытые ссылки", message=listing)
    await press(bot, OWNER, "Отозвать: помощник", "Приглашения", message=menu)
    await say(bot, NEWCOMER, f"/start {revoked}", "отозвали")


async def test_deactivating_a_connected_colleague_closes_the_bot_at_once(bot: Harness):
    listing = await say(bot, OWNER, "/staff", "Сотрудники")
    card = await press(bot, OWNER, "Айдана", "Телефон", message=listing)
    menu = await press(bot, OWNER, "Пригласить в бот", "Приглашения", message=card)
    link = await press_exact(bot, OWNER, "флорист", "t.me/", message=menu)
    code = re.search(r"start=([A-Za-z0-9_-]+)", link["text"]).group(1)  # type: ignore[union-attr]
    bot.tg.user(NEWCOMER, first_name="Айдана")
    await say(bot, NEWCOMER, f"/start {code}", "Айдана Серикова")
    card = await say(bot, OWNER, "/staff", "Сотрудники")
    card = await press(bot, OWNER, "Айдана", "В боте: да", message=card)
    await press(bot, OWNER, "Роль в боте", "Новая роль", message=card)
    await press(bot, OWNER, "старший флорист", "Действует со следующего")
    await say(bot, NEWCOMER, "/help", "Что я умею")
    assert (await bot.app.staff.get(NEWCOMER)).role == "senior"  # type: ignore[union-attr]
    menus = [
        c
        for c in bot.tg.requests
        if c.method == "setMyCommands" and c.params.get("scope", {}).get("chat_id") == NEWCOMER
    ]
    assert any(cmd["command"] == "staff" for cmd in menus[-1].params["commands"])  # now a senior's menu
    await bot.tg.press_button(OWNER, text_contains="Деактивировать", message=card)
    await bot.tg.wait_for("answerCallbackQuery")
    refused = await say(bot, NEWCOMER, "/orders", str(NEWCOMER))
    assert "сотрудников" in refused["text"]


async def test_the_staff_button_of_start_opens_the_list(bot: Harness):
    start = await say(bot, OWNER, "/start", "Здравствуйте")
    listing = await press(bot, OWNER, "👥 Сотрудники", "Активные · 7", message=start)
    assert listing["message_id"] != start["message_id"]  # the main screen stays for the next action


async def test_a_long_list_pages_in_place(bot: Harness):
    from datetime import date

    from sandbox.state import Colleague

    assert bot.sandbox is not None
    for n in range(6):
        bot.sandbox.state.colleagues[100 + n] = Colleague(
            100 + n, f"Флорист Номер{n}", "+77010000000", "florist", True, date(2025, 1, 1)
        )
    first = await say(bot, OWNER, "/staff", "Активные · 13")
    assert "стр. 1 из 2" in first["text"] and "◀" not in [t for t, _ in bot.tg.buttons(first)]
    second = await press_exact(bot, OWNER, "▶", "стр. 2 из 2", message=first)
    assert second["message_id"] == first["message_id"]
    assert len([line for line in second["text"].splitlines() if " — " in line]) == 3
    back = await press_exact(bot, OWNER, "◀", "стр. 1 из 2", message=second)
    assert back["message_id"] == first["message_id"]


async def test_a_position_is_one_button_and_the_card_lives_in_place(bot: Harness):
    assert bot.sandbox is not None
    listing = await say(bot, OWNER, "/staff", "Сотрудники")
    card = await press(bot, OWNER, "Мария Ким", "Телефон", message=listing)
    assert card["message_id"] == listing["message_id"]  # the list became the card
    ask = await press(bot, OWNER, "Должность", "Новая должность?", message=card)
    saved = await press_exact(bot, OWNER, "Менеджер", "Сохранено", message=ask)
    assert saved["message_id"] == ask["message_id"] and "Менеджер" in saved["text"]
    assert bot.sandbox.state.colleagues[3].position == "manager"
    listing = await press(bot, OWNER, "К списку", "Активные · 7", message=saved)
    assert listing["message_id"] == saved["message_id"]


async def test_cancel_under_a_question_leaves_the_form(bot: Harness):
    listing = await say(bot, SENIOR, "/staff", "Сотрудники")
    ask = await press(bot, SENIOR, "Добавить", "Как зовут", message=listing)
    gone = await press(bot, SENIOR, "Отмена", "Отменено", message=ask)
    assert gone["message_id"] == ask["message_id"] and bot.tg.buttons(gone) == []
    await say(bot, SENIOR, "/cancel", "Нечего отменять")
    assert writes(bot) == []


async def test_only_an_owner_changes_bot_roles_and_a_newcomer_gets_the_main_actions(bot: Harness):
    assert "Роли в боте меняет владелец" in await toast(bot, SENIOR, "cl:R:3::0")
    assert "Роли в боте меняет владелец" in await toast(bot, SENIOR, "cl:r:3:courier:0")
    code = await invite_link(bot, OWNER, "курьер")
    bot.tg.user(NEWCOMER, first_name="Аян")
    welcome = await say(bot, NEWCOMER, f"/start {code}", "Здравствуйте, Аян")
    assert bot.tg.buttons(welcome) == [("🚚 Мои доставки", "mn:orders")]
    await say(bot, NEWCOMER, f"/start {code}", "Вы уже в команде")
