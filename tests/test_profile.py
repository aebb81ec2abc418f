"""/profile, /shop and /language end to end: the real bot over HTTP against the fake Telegram and
the sandbox, asserting on what the person sees and on the sandbox's state."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from tests.conftest import COURIER, FLORIST, OWNER, SENIOR, Harness, start_harness
from tests.fake_telegram import TINY_PNG, FakeTelegram

PROFILE = "/crm/api/v2/profile"
SHOP_INFO = "/crm/api/v2/shop-info"
SHOP_LIST = "/cvety/api/v2/shop/list"


def profile(bot: Harness) -> dict:
    assert bot.sandbox is not None
    return bot.sandbox.state.profile


def shop_info(bot: Harness) -> dict:
    assert bot.sandbox is not None
    return bot.sandbox.state.shop_info


def puts(bot: Harness, path: str) -> list[dict]:
    assert bot.sandbox is not None
    return [json.loads(r.body) for r in bot.sandbox.requests if r.method == "PUT" and r.path == path]


def gets(bot: Harness, path: str) -> int:
    assert bot.sandbox is not None
    return sum(1 for r in bot.sandbox.requests if r.method == "GET" and r.path == path)


async def say(bot: Harness, user: int, text: str, expect: str) -> dict:
    await bot.tg.send_message(user, text)
    return await bot.tg.wait_for_message(user, text_contains=expect)


async def press(bot: Harness, user: int, label: str, expect: str) -> dict:
    await bot.tg.press_button(user, text_contains=label)
    return await bot.tg.wait_for_message(user, text_contains=expect)


async def toast(bot: Harness, user: int, data: str, message: dict) -> str:
    """Press a (forged) button; the text of the callback answer."""
    query = await bot.tg.press_callback_data(user, data, message=message)
    await bot.tg.wait_for("answerCallbackQuery", lambda c: c.params.get("callback_query_id") == query)
    return str(bot.tg.callback_answers[query].get("text", ""))


def labels(bot: Harness, message: dict) -> list[str]:
    return [text for text, _ in bot.tg.buttons(message)]


# --- /profile ------------------------------------------------------------------------------------


async def test_profile_shows_the_crm_profile(bot: Harness):
    card = await say(bot, OWNER, "/profile", "Мой профиль")
    text = card["text"]
    assert "Имя: Асель Туребекова" in text
    assert "Телефон: +77012345678" in text  # «+7 (701) 234-56-78» from the server, normalised
    assert "Должность: Владелец" in text
    assert "О себе: Владелец магазина. Собираю букеты с 2015 года" in text
    assert labels(bot, card) == ["✏️ Имя", "✏️ Телефон", "✏️ О себе", "✏️ Должность"]


async def test_profile_escapes_what_the_server_sends(bot: Harness):
    profile(bot)["name"] = "<b>Асель</b> & Co"
    profile(bot)["position"] = "barista"
    card = await say(bot, FLORIST, "/profile", "Мой профиль")
    assert "&lt;b&gt;Асель&lt;/b&gt; &amp; Co" in card["raw"]
    assert "Должность: barista" in card["text"]  # an unknown position as it came


async def test_production_positions_are_shown_in_russian(bot: Harness):
    for code, name in [("director", "Директор"), ("manager", "Менеджер"), ("seller", "Продавец")]:
        profile(bot)["position"] = code
        card = await say(bot, COURIER, "/profile", "Мой профиль")
        assert f"Должность: {name}" in card["text"]


async def test_profile_when_the_crm_is_down(bot: Harness):
    assert bot.sandbox is not None
    bot.sandbox.faults.add("GET", PROFILE, status=503)
    await say(bot, FLORIST, "/profile", "Сервер магазина сейчас недоступен")


async def test_name_is_asked_again_until_it_fits_then_saved_everywhere(bot: Harness):
    before = dict(profile(bot))
    await say(bot, SENIOR, "/profile", "Мой профиль")
    await press(bot, SENIOR, "Имя", "Напишите имя")
    refused = await say(bot, SENIOR, " Д ", "Слишком коротко")
    assert "от 2 до 255" in refused["text"] and "Напишите имя" in refused["text"]
    assert puts(bot, PROFILE) == [] and profile(bot) == before
    saved = await say(bot, SENIOR, "  Дана \n  Ким-Ли ", "Сохранено")
    assert "Имя: Дана Ким-Ли" in saved["text"]
    assert profile(bot)["name"] == "Дана Ким-Ли"
    [body] = puts(bot, PROFILE)
    assert body == {
        "name": "Дана Ким-Ли",
        "phone": "+77012345678",
        "position": "owner",
        "bio": before["bio"],
    }
    member = await bot.app.staff.get(SENIOR)
    assert member is not None and member.name == "Дана Ким-Ли"  # the bot's display name follows
    assert member.role == "senior"
    await say(bot, SENIOR, "/start", "Здравствуйте, Дана Ким-Ли")


async def test_phone_in_a_spoken_spelling_is_saved_normalised(bot: Harness):
    await say(bot, FLORIST, "/profile", "Мой профиль")
    await press(bot, FLORIST, "Телефон", "Напишите телефон")
    await say(bot, FLORIST, "+7 495 123 45 67", "Не похоже на казахстанский номер")
    await bot.tg.send_photo(FLORIST, TINY_PNG)
    await bot.tg.wait_for_message(FLORIST, text_contains="Жду текст")
    saved = await say(bot, FLORIST, "8 777 123 45 67", "Сохранено")
    assert "Телефон: +77771234567" in saved["text"]
    [body] = puts(bot, PROFILE)
    assert body["phone"] == "+77771234567"
    assert profile(bot)["phone"] == "+77771234567"


async def test_bio_of_1001_characters_is_refused_1000_saved_and_it_can_be_cleared(bot: Harness):
    await say(bot, FLORIST, "/profile", "Мой профиль")
    await press(bot, FLORIST, "О себе", "до 1000 символов")
    refused = await say(bot, FLORIST, "п" * 1001, "Слишком длинно")
    assert "1001" in refused["text"] and "1000" in refused["text"]
    assert puts(bot, PROFILE) == []
    await say(bot, FLORIST, "п" * 1000, "Сохранено")
    assert profile(bot)["bio"] == "п" * 1000
    await say(bot, FLORIST, "/profile", "Мой профиль")
    await press(bot, FLORIST, "О себе", "до 1000 символов")
    cleared = await press(bot, FLORIST, "Очистить", "Сохранено")
    assert "О себе: —" in cleared["text"]
    assert profile(bot)["bio"] == ""
    assert puts(bot, PROFILE)[-1]["bio"] == ""


async def test_a_dash_clears_the_bio(bot: Harness):
    await say(bot, COURIER, "/profile", "Мой профиль")
    await press(bot, COURIER, "О себе", "до 1000 символов")
    await say(bot, COURIER, "-", "Сохранено")
    assert profile(bot)["bio"] == ""


async def test_only_the_owner_changes_the_position(bot: Harness):
    card = await say(bot, FLORIST, "/profile", "Мой профиль")
    assert not any("Должность" in label for label in labels(bot, card))
    assert "владелец" in await toast(bot, FLORIST, "pf:e:position", card)
    assert "владелец" in await toast(bot, FLORIST, "pf:p:florist", card)
    assert puts(bot, PROFILE) == [] and profile(bot)["position"] == "owner"
    # the owner picks from the server's positions, shown in Russian
    await say(bot, OWNER, "/profile", "Мой профиль")
    picker = await press(bot, OWNER, "Должность", "Выберите должность")
    assert labels(bot, picker) == ["✅ Владелец", "Старший флорист", "Флорист", "Помощник", "↩️ Отмена"]
    saved = await press(bot, OWNER, "Старший флорист", "Сохранено")
    assert saved["message_id"] == picker["message_id"]
    assert "Должность: Старший флорист" in saved["text"]
    assert profile(bot)["position"] == "senior"
    assert puts(bot, PROFILE)[-1]["position"] == "senior"


async def test_a_forged_position_the_server_does_not_offer_is_refused(bot: Harness):
    card = await say(bot, OWNER, "/profile", "Мой профиль")
    await toast(bot, OWNER, "pf:p:director", card)
    await bot.tg.wait_for_message(OWNER, text_contains="Такой должности нет")
    assert puts(bot, PROFILE) == []


async def test_crm_down_on_save_changes_nothing_and_says_so(bot: Harness):
    assert bot.sandbox is not None
    before = dict(profile(bot))
    bot.sandbox.faults.add("PUT", PROFILE, status=500)
    await say(bot, FLORIST, "/profile", "Мой профиль")
    await press(bot, FLORIST, "Имя", "Напишите имя")
    failed = await say(bot, FLORIST, "Асель Нурланова-Ким", "Профиль не изменён")
    assert "недоступен" in failed["text"]
    assert profile(bot) == before
    member = await bot.app.staff.get(FLORIST)
    assert member is not None and member.name == "Асель Нурланова"  # not renamed either
    await say(bot, FLORIST, "ещё раз", "Не понял")  # the edit is over: nothing half-entered


async def test_the_servers_own_refusal_is_shown(bot: Harness):
    assert bot.sandbox is not None
    refusal = {"detail": [{"loc": ["body", "name"], "msg": "Имя уже занято", "type": "value_error"}]}
    bot.sandbox.faults.add("PUT", PROFILE, status=422, body=json.dumps(refusal))
    await say(bot, FLORIST, "/profile", "Мой профиль")
    await press(bot, FLORIST, "Имя", "Напишите имя")
    refused = await say(bot, FLORIST, "Асель", "Имя уже занято")
    assert "Сервер отказал" in refused["text"] and "Профиль не изменён" in refused["text"]


async def test_cancel_leaves_the_edit(bot: Harness):
    await say(bot, FLORIST, "/profile", "Мой профиль")
    await press(bot, FLORIST, "Телефон", "Напишите телефон")
    await press(bot, FLORIST, "Отмена", "Ничего не сохранено")
    await say(bot, FLORIST, "87771234567", "Не понял")
    await say(bot, FLORIST, "/profile", "Мой профиль")
    await press(bot, FLORIST, "Телефон", "Напишите телефон")
    await say(bot, FLORIST, "/cancel", "Ничего не сохранено")
    assert puts(bot, PROFILE) == []


@pytest.fixture
async def quick(tg: FakeTelegram, sandbox, tmp_path) -> AsyncIterator[Harness]:
    async for harness in start_harness(tg, sandbox, tmp_path, api_read_timeout=0.3):
        yield harness


async def test_a_save_that_timed_out_but_landed_is_reported_as_saved(quick: Harness):
    assert quick.sandbox is not None
    quick.sandbox.faults.add("PUT", PROFILE, apply_then_hang=True, times=1)
    await say(quick, FLORIST, "/profile", "Мой профиль")
    await press(quick, FLORIST, "Телефон", "Напишите телефон")
    saved = await say(quick, FLORIST, "7011112233", "Сохранено")
    assert "+77011112233" in saved["text"]
    assert len(puts(quick, PROFILE)) == 1
    quick.sandbox.faults.release()


# --- /shop ---------------------------------------------------------------------------------------


async def test_shop_for_a_courier_shows_everything_and_no_edit_buttons(bot: Harness):
    card = await say(bot, COURIER, "/shop", "Цветы.kz — Самал")
    text = card["text"]
    for line in (
        "Адрес: г. Алматы, пр. Абая 150/230",
        "Телефон: +77273788888",
        "Часы работы: Пн-Вс: 9:00-21:00",
        "Город: Алматы",
        "Instagram: https://instagram.com/cvety.kz",
        "WhatsApp: +77273788888",
        "Telegram: —",
        "Магазин на cvety.kz: «Cvety.kz» (id 17008, код города 2)",
        "«+7 707 123 45 67» (id 18342",  # a shop whose name is a phone number
        "… и ещё 1",
    ):
        assert line in text, line
    assert '<a href="https://instagram.com/cvety.kz">' in card["raw"]
    assert not card.get("reply_markup")


async def test_shop_info_and_shop_list_are_asked_at_once(bot: Harness):
    assert bot.sandbox is not None
    bot.sandbox.faults.add("GET", SHOP_INFO, hang=True, times=1)
    bot.sandbox.faults.add("GET", SHOP_LIST, hang=True, times=1)
    await bot.tg.send_message(FLORIST, "/shop")
    await asyncio.wait_for(bot.sandbox.faults.wait_hanging(2), 3)  # both out, neither answered
    bot.sandbox.faults.release()
    await bot.tg.wait_for_message(FLORIST, text_contains="Магазин на cvety.kz")


async def test_shop_info_is_shown_when_cvety_kz_is_down(bot: Harness):
    assert bot.sandbox is not None
    bot.sandbox.faults.add("GET", SHOP_LIST, status=503)
    card = await say(bot, FLORIST, "/shop", "Цветы.kz — Самал")
    assert "не удалось узнать магазин" in card["text"] and "Адрес: г. Алматы" in card["text"]


async def test_shop_escapes_what_the_server_sends(bot: Harness):
    shop_info(bot)["name"] = "Цветы <script>"
    shop_info(bot)["social_media"]["telegram"] = 'https://t.me/x"><b>'
    card = await say(bot, FLORIST, "/shop", "Цветы <script>")
    assert "Цветы &lt;script&gt;" in card["raw"]
    assert 'href="https://t.me/x&quot;&gt;&lt;b&gt;"' in card["raw"]


async def test_owner_edits_the_phone_and_instagram(bot: Harness):
    before = json.loads(json.dumps(shop_info(bot)))
    card = await say(bot, OWNER, "/shop", "Цветы.kz — Самал")
    assert "✏️ Изменить телефон" in labels(bot, card) and "✏️ Изменить Instagram" in labels(bot, card)
    await press(bot, OWNER, "Изменить телефон", "телефон магазина")
    await say(bot, OWNER, "378-88-88", "Не похоже на казахстанский номер")
    assert puts(bot, SHOP_INFO) == []
    saved = await say(bot, OWNER, "8 (727) 300-00-00", "Сохранено")
    assert "Телефон: +77273000000" in saved["text"] and "Магазин на cvety.kz" in saved["text"]
    assert shop_info(bot)["phone"] == "+77273000000"
    [body] = puts(bot, SHOP_INFO)
    assert body["phone"] == "+77273000000"
    assert body["name"] == before["name"] and body["address"] == before["address"]
    assert body["social_media"] == before["social_media"]

    await bot.tg.press_button(OWNER, text_contains="Изменить Instagram", message=saved)
    await bot.tg.wait_for_message(OWNER, text_contains="ссылку на Instagram")
    await say(bot, OWNER, "cvety_almaty", "Нужна ссылка")
    assert len(puts(bot, SHOP_INFO)) == 1
    saved = await say(bot, OWNER, "@cvety_almaty", "Сохранено")
    assert "https://instagram.com/cvety_almaty" in saved["text"]
    social = shop_info(bot)["social_media"]
    assert social["instagram"] == "https://instagram.com/cvety_almaty"
    assert social["whatsapp"] == before["social_media"]["whatsapp"]
    assert shop_info(bot)["phone"] == "+77273000000"  # the first change is kept


async def test_owner_clears_a_social_link(bot: Harness):
    await say(bot, OWNER, "/shop", "Цветы.kz — Самал")
    await press(bot, OWNER, "Изменить WhatsApp", "WhatsApp")
    await say(bot, OWNER, "https://instagram.com/x", "Нужен номер телефона")
    saved = await say(bot, OWNER, "-", "Сохранено")
    assert "WhatsApp: —" in saved["text"]
    assert shop_info(bot)["social_media"]["whatsapp"] is None


async def test_a_florists_forged_edit_button_is_refused_with_nothing_called(bot: Harness):
    assert bot.sandbox is not None
    card = await say(bot, FLORIST, "/shop", "Цветы.kz — Самал")
    calls = len(bot.sandbox.requests)
    assert "владелец" in await toast(bot, FLORIST, "sh:e:phone", card)
    assert "владелец" in await toast(bot, FLORIST, "sh:e:name", card)
    assert len(bot.sandbox.requests) == calls
    await say(bot, FLORIST, "8 701 000 00 00", "Не понял")  # no edit was started
    assert puts(bot, SHOP_INFO) == []


async def test_shop_save_failure_changes_nothing(bot: Harness):
    assert bot.sandbox is not None
    before = json.loads(json.dumps(shop_info(bot)))
    bot.sandbox.faults.add("PUT", SHOP_INFO, status=500)
    await say(bot, OWNER, "/shop", "Цветы.kz — Самал")
    await press(bot, OWNER, "Изменить город", "Напишите город")
    await say(bot, OWNER, "Астана", "Данные магазина не изменены")
    assert shop_info(bot) == before


# --- /language -----------------------------------------------------------------------------------


async def test_language_switches_answers_and_the_persons_menu(bot: Harness):
    menu = await say(bot, FLORIST, "/language", "Выберите язык")
    assert labels(bot, menu) == ["✅ Русский", "Қазақша", "English"]
    await bot.tg.press_button(FLORIST, text_contains="English", message=menu)
    done = await bot.tg.wait_for_message(FLORIST, text_contains="English")
    assert labels(bot, done) == ["Русский", "Қазақша", "✅ English"]
    member = await bot.app.staff.get(FLORIST)
    assert member is not None and member.language == "en"

    call = await bot.tg.wait_for(
        "setMyCommands", lambda c: (c.params.get("scope") or {}).get("type") == "chat"
    )
    assert call.params["scope"] == {"type": "chat", "chat_id": FLORIST}
    commands = {c["command"]: c["description"] for c in call.params["commands"]}
    assert commands["start"] == "Main menu" and commands["help"] == "What the bot can do"
    assert "stocktake" not in commands and "delivery" in commands  # the florist's own menu
    assert bot.tg.commands[(f"chat:{FLORIST}", None)] == call.params["commands"]

    await say(bot, FLORIST, "/help", "What I can do")
    await say(bot, OWNER, "/help", "Что я умею")  # only that person changed

    await say(bot, FLORIST, "/language", "")
    await bot.tg.press_button(FLORIST, text_contains="Русский")
    await bot.tg.wait_for_message(FLORIST, text_contains="Русский")
    back = await bot.tg.wait_for(
        "setMyCommands", lambda c: (c.params.get("scope") or {}).get("type") == "chat"
    )
    assert {c["command"]: c["description"] for c in back.params["commands"]}["start"] == "Главное меню"
    await say(bot, FLORIST, "/help", "Что я умею")
    member = await bot.app.staff.get(FLORIST)
    assert member is not None and member.language == "ru"


async def test_a_forged_language_is_refused(bot: Harness):
    menu = await say(bot, COURIER, "/language", "Выберите язык")
    assert "устарела" in await toast(bot, COURIER, "lg:de", menu)
    member = await bot.app.staff.get(COURIER)
    assert member is not None and member.language == "ru"
