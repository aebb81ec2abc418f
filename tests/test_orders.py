"""Orders from the phone, end to end: the real bot over HTTP, the fake Telegram, the sandbox APIs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from aiogram.methods.base import Response
from aiogram.types import Message

from sandbox import data
from services.orders import AUDIT_ACTION, PHOTO_ACTION
from tests.conftest import ASSISTANT, COURIER, FLORIST, OWNER, SENIOR, Harness, start_harness
from tests.fake_telegram import TINY_PNG, FakeTelegram
from views.callbacks import MenuCb

ORDERS = "/cvety/api/v2/orders"
DETAIL = "/cvety/api/v2/orders/detail"
ALLOWED = "/cvety/api/v2/order/allowed-statuses"
CHANGE = "/cvety/api/v2/order/change-status"
UPLOAD = "/cvety/api/v2/uploads/images"


def status_of(bot: Harness, order_id: int) -> str:
    assert bot.sandbox is not None
    return bot.sandbox.state.order(order_id).status


def changes(bot: Harness) -> int:
    assert bot.sandbox is not None
    return bot.sandbox.faults.calls("POST", CHANGE)


def requests_to(bot: Harness, path: str, since: int = 0) -> int:
    assert bot.sandbox is not None
    return sum(1 for r in bot.sandbox.requests[since:] if r.path == path)


async def open_card(bot: Harness, user: int, order_id: int) -> dict:
    await bot.tg.send_message(user, f"/order {order_id}")
    return await bot.tg.wait_for_message(user, text_contains=f"№{order_id}")


# --- round trips per update ---------------------------------------------------------------------


async def say(bot: Harness, user: int, text: str, expect: str) -> dict:
    await bot.tg.send_message(user, text)
    return await bot.tg.wait_for_message(user, text_contains=expect)


def round_trips(caplog) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.name == "runtime.counters"]
    caplog.clear()
    return [line.split(" kind=", 1)[1] for line in lines]


async def test_an_update_asks_the_database_only_what_it_must(tg: FakeTelegram, sandbox, tmp_path, caplog):
    """LOG_LEVEL=DEBUG counts SQL statements, API calls and Bot API calls per update: the person
    and the conversation come from memory once read; a status change writes the log once."""
    caplog.set_level(logging.DEBUG, logger="runtime.counters")
    async for bot in start_harness(tg, sandbox, tmp_path):
        await say(bot, FLORIST, "/orders", "Заказы")
        await bot.app.drain()  # the line is written once the update is done
        caplog.clear()
        await say(bot, FLORIST, "/orders", "Заказы")
        await bot.app.drain()
        assert round_trips(caplog) == ["message sql=0 api=1 telegram=1"]
        card = await open_card(bot, OWNER, data.ORDER_N)
        await bot.tg.press_button(OWNER, text_contains="Оплачен", message=card)
        await bot.tg.wait_for_message(OWNER, text_contains="💳 Оплачен")
        await bot.app.drain()
        # API: detail ‖ allowed → change → detail ‖ allowed; SQL: the log written, read for the
        # card (with the API calls), the new-order watch told; Bot API: answer and edit
        assert round_trips(caplog)[-1] == "callback_query sql=3 api=5 telegram=2"
        # aiogram checks each answer with a generic model pydantic keeps only weakly; the bot
        # holds them, so they are built once, not again after each garbage collection
        models = set()
        for _ in range(10):
            await say(bot, FLORIST, "/orders", "Заказы")
            models.add(id(Response[Message]))
        assert len(models) == 1


# --- lists -------------------------------------------------------------------------------------


async def test_orders_list_tabs_are_edited_in_place_with_one_call_per_page(bot: Harness):
    assert bot.sandbox is not None
    mark = len(bot.sandbox.requests)
    await bot.tg.send_message(OWNER, "/orders")
    page = await bot.tg.wait_for_message(OWNER, text_contains="Новые")
    assert requests_to(bot, ORDERS, mark) == 1 and requests_to(bot, DETAIL, mark) == 0
    for order_id in (data.ORDER_N, data.ORDER_PD, data.ORDER_PD_USD):
        assert f"№{order_id}" in page["text"]
    assert f"№{data.ORDER_AP}" not in page["text"]  # the sandbox's `status=new` also leaks others
    assert "65\u00a0USD" in page["text"]

    mark = len(bot.sandbox.requests)
    await bot.tg.press_button(OWNER, text_contains="Приняты", message=page)
    accepted = await bot.tg.wait_for_message(OWNER, text_contains="Приняты ·")
    assert accepted["message_id"] == page["message_id"] and accepted["edited"]
    assert f"№{data.ORDER_AP}" in accepted["text"] and f"№{data.ORDER_N}" not in accepted["text"]
    assert requests_to(bot, ORDERS, mark) == 1 and requests_to(bot, DETAIL, mark) == 0
    assert len(bot.tg.messages(OWNER)) == 1


async def test_the_start_menu_button_opens_orders_like_the_command(bot: Harness):
    await bot.tg.send_message(COURIER, "/help")
    menu = await bot.tg.wait_for_message(COURIER, text_contains="Что я умею")
    await bot.tg.press_callback_data(COURIER, MenuCb(open="orders").pack(), message=menu)
    mine = await bot.tg.wait_for_message(COURIER, text_contains="📋 Заказы · Мои доставки")
    assert mine["message_id"] != menu["message_id"]  # a new message, as /orders sends


async def test_list_pages_of_eight(bot: Harness):
    assert bot.sandbox is not None
    for _ in range(10):
        bot.sandbox.state.new_order()
    await bot.tg.send_message(FLORIST, "/orders")
    first = await bot.tg.wait_for_message(FLORIST, text_contains="стр. 1 из ")
    rows = [line for line in first["text"].splitlines() if line.startswith("№")]
    assert len(rows) == 8
    await bot.tg.press_button(FLORIST, text_contains="▶", message=first)
    second = await bot.tg.wait_for_message(FLORIST, text_contains="стр. 2 из ")
    assert second["message_id"] == first["message_id"]
    assert not set(rows) & {line for line in second["text"].splitlines() if line.startswith("№")}
    await bot.tg.press_button(FLORIST, text_contains="◀", message=second)
    await bot.tg.wait_for_message(FLORIST, text_contains="стр. 1 из ")


async def test_today_and_tomorrow_tabs(bot: Harness):
    await bot.tg.send_message(FLORIST, "/orders")
    first = await bot.tg.wait_for_message(FLORIST, text_contains="Новые")
    await bot.tg.press_button(FLORIST, text_contains="Завтра", message=first)
    tomorrow = await bot.tg.wait_for_message(FLORIST, text_contains="Завтра ·")
    assert f"№{data.ORDER_N_TOMORROW}" in tomorrow["text"]
    assert f"№{data.ORDER_DE}" not in tomorrow["text"]
    await bot.tg.press_button(FLORIST, text_contains="Сегодня", message=first)
    today = await bot.tg.wait_for_message(FLORIST, text_contains="Сегодня ·")
    rows = [line for line in today["text"].splitlines() if line.startswith("№")]
    assert rows and all("сегодня" in row for row in rows)
    assert f"№{data.ORDER_F}" not in today["text"]  # finished orders are not open


async def test_courier_sees_ready_orders_and_own_deliveries(bot: Harness):
    await bot.tg.send_message(COURIER, "/orders")
    home = await bot.tg.wait_for_message(COURIER, text_contains="Мои доставки")  # what they carry first
    assert "Здесь пока пусто" in home["text"]
    await bot.tg.press_button(COURIER, text_contains="Готовы к доставке", message=home)
    ready = await bot.tg.wait_for_message(COURIER, text_contains="Готовы к доставке ·")
    assert f"№{data.ORDER_CO}" in ready["text"]
    assert f"№{data.ORDER_N}" not in ready["text"] and f"№{data.ORDER_DE}" not in ready["text"]
    assert "Новые" not in str(bot.tg.buttons(ready))

    await bot.tg.press_button(COURIER, text_contains=f"№{data.ORDER_CO}", message=ready)
    card = await bot.tg.wait_for_message(COURIER, text_contains="Состав")
    await bot.tg.press_button(COURIER, text_contains="Взять в доставку", message=card)
    await bot.tg.wait_for_message(COURIER, text_contains="В доставке")
    assert status_of(bot, data.ORDER_CO) == "DE"

    await bot.tg.press_button(COURIER, text_contains="Мои доставки", message=ready)
    mine = await bot.tg.wait_for_message(COURIER, text_contains="Мои доставки ·")
    assert f"№{data.ORDER_CO}" in mine["text"]
    assert f"№{data.ORDER_DE}" not in mine["text"]  # someone else's delivery


async def test_courier_cannot_open_an_order_that_is_not_theirs(bot: Harness):
    await bot.tg.send_message(COURIER, str(data.ORDER_N))
    await bot.tg.wait_for_message(COURIER, text_contains="вам недоступен")


async def test_forged_list_tab_is_refused(bot: Harness):
    await bot.tg.send_message(COURIER, "/orders")
    mine = await bot.tg.wait_for_message(COURIER, text_contains="Мои доставки")
    query = await bot.tg.press_callback_data(COURIER, "ol:n:0", message=mine)
    await bot.tg.wait_for("answerCallbackQuery")
    assert "недоступен" in bot.tg.callback_answers[query]["text"]


# --- the card ------------------------------------------------------------------------------------


async def test_card_shows_everything_with_at_most_two_calls(bot: Harness):
    assert bot.sandbox is not None
    mark = len(bot.sandbox.requests)
    await bot.tg.send_message(FLORIST, str(data.ORDER_DE))
    card = await bot.tg.wait_for_message(FLORIST, text_contains=f"№{data.ORDER_DE}")
    assert len(bot.sandbox.requests) - mark == 2
    assert requests_to(bot, DETAIL, mark) == 1 and requests_to(bot, ALLOWED, mark) == 1
    text = card["text"]
    assert "В доставке" in text
    assert "Состав" in text and "×" in text
    assert "₸" in text
    links = [e["url"] for e in card.get("entities", []) if e["type"] == "text_link"]
    assert any("2gis.kz" in url for url in links) and any("yandex" in url for url in links)
    assert "🔄 Обновить" in str(bot.tg.buttons(card))
    # a florist cannot move an order that is in delivery: no status buttons
    assert all("Доставлен" not in text for text, _ in bot.tg.buttons(card))


async def test_card_escapes_what_the_customer_typed(bot: Harness):
    assert bot.sandbox is not None
    order = bot.sandbox.state.order(data.ORDER_N_HTML)
    order.recipient_name = "<b>Аня</b> & Co"
    order.comment = "Позвонить <до> 10:00 & не опаздывать " + "очень " * 200
    card = await open_card(bot, OWNER, data.ORDER_N_HTML)
    assert "<b>Аня</b> & Co" in card["text"]  # shown literally, not as markup
    assert "…" in card["text"]  # the long comment is cut
    assert len(card["text"]) < 4096
    assert "<pre>" in card["raw"]  # the postcard text in its own block


async def test_card_of_an_unknown_status_is_shown_and_owners_get_its_moves(bot: Harness):
    card = await open_card(bot, OWNER, data.ORDER_TR)
    assert "Статус «TR»" in card["text"]
    labels = " ".join(text for text, _ in bot.tg.buttons(card))
    assert "Передать курьеру" in labels and "Отменить" in labels
    florist_card = await open_card(bot, FLORIST, data.ORDER_TR)
    assert [text for text, _ in bot.tg.buttons(florist_card)] == ["🔄 Обновить"]


async def test_refresh_rereads_the_order(bot: Harness):
    assert bot.sandbox is not None
    card = await open_card(bot, OWNER, data.ORDER_N)
    bot.sandbox.state.change_status(data.ORDER_N, "AP")
    await bot.tg.press_button(OWNER, text_contains="Обновить", message=card)
    refreshed = await bot.tg.wait_for_message(OWNER, text_contains="Принят")
    assert refreshed["message_id"] == card["message_id"]


async def test_unknown_order_number(bot: Harness):
    await bot.tg.send_message(OWNER, f"№{data.ORDER_MISSING}")
    await bot.tg.wait_for_message(OWNER, text_contains="не найден")


# --- status changes ------------------------------------------------------------------------------


async def test_happy_path_by_the_right_roles(bot: Harness):
    order_id = data.ORDER_N
    card = await open_card(bot, OWNER, order_id)
    await bot.tg.press_button(OWNER, text_contains="Оплачен", message=card)
    await bot.tg.wait_for_message(OWNER, text_contains="💳 Оплачен")
    assert status_of(bot, order_id) == "PD"

    card = await open_card(bot, FLORIST, order_id)
    await bot.tg.press_button(FLORIST, text_contains="Принять", message=card)
    accepted = await bot.tg.wait_for_message(FLORIST, text_contains="✍️ Принят")
    assert accepted["message_id"] == card["message_id"]  # edited in place
    assert "Принял(а): Асель Нурланова" in accepted["text"]
    assert status_of(bot, order_id) == "AP"

    await bot.tg.press_button(FLORIST, text_contains="Собран", message=accepted)
    assembled = await bot.tg.wait_for_message(FLORIST, text_contains="💐 Собран")  # at once, no photo gate
    assert assembled["message_id"] == card["message_id"]
    assert "📷 Пришлите фото собранного букета, если нужно" in assembled["text"]
    assert status_of(bot, order_id) == "CO"

    card = await open_card(bot, COURIER, order_id)
    await bot.tg.press_button(COURIER, text_contains="Взять в доставку", message=card)
    await bot.tg.wait_for_message(COURIER, text_contains="🚚 В доставке")
    assert status_of(bot, order_id) == "DE"
    await bot.tg.press_button(COURIER, text_contains="Доставлен")
    done = await bot.tg.wait_for_message(COURIER, text_contains="✅ Завершён")
    assert done["message_id"] == card["message_id"]
    assert "📷 Пришлите фото вручения, если нужно" in done["text"]
    assert status_of(bot, order_id) == "F"
    assert [b for b in bot.tg.buttons(done) if "Доставлен" in b[0]] == []

    history = await bot.app.audit.for_target(f"order:{order_id}")
    assert [(e.actor_id, e.before, e.after) for e in reversed(history) if e.action == AUDIT_ACTION] == [
        (OWNER, "N", "PD"),
        (FLORIST, "PD", "AP"),
        (FLORIST, "AP", "CO"),
        (COURIER, "CO", "DE"),
        (COURIER, "DE", "F"),
    ]


async def test_buttons_follow_the_role(bot: Harness):
    florist = await open_card(bot, FLORIST, data.ORDER_CO)
    assert [text for text, _ in bot.tg.buttons(florist)] == ["🔄 Обновить"]
    owner = await open_card(bot, OWNER, data.ORDER_CO)
    labels = [text for text, _ in bot.tg.buttons(owner)]
    assert "🚚 Передать курьеру" in labels and "✖️ Отменить" in labels
    florist_new = await open_card(bot, FLORIST, data.ORDER_N)
    assert [text for text, _ in bot.tg.buttons(florist_new)] == ["✍️ Принять", "🔄 Обновить"]


async def test_forged_button_for_the_wrong_role_calls_nothing(bot: Harness):
    assert bot.sandbox is not None
    card = await open_card(bot, FLORIST, data.ORDER_CO)
    mark = len(bot.sandbox.requests)
    for forged in (
        f"o:s:{data.ORDER_CO}:DE:CO:",
        f"o:r:{data.ORDER_CO}:UN:CO:client",
        f"o:x:{data.ORDER_CO}:UN:CO:",
    ):
        query = await bot.tg.press_callback_data(FLORIST, forged, message=card)
        await bot.tg.wait_for("answerCallbackQuery")
        assert "нельзя" in bot.tg.callback_answers[query]["text"]
    for garbage in (f"o:s:{data.ORDER_CO}:DE", "o:s:notanumber:AP:N:", "zz:1", "ol:q:0"):
        query = await bot.tg.press_callback_data(FLORIST, garbage, message=card)
        await bot.tg.wait_for("answerCallbackQuery")
        assert bot.tg.callback_answers[query].get("text")
    assert len(bot.sandbox.requests) == mark
    assert status_of(bot, data.ORDER_CO) == "CO"


async def test_forged_button_for_a_missing_order_or_wrong_state_changes_nothing(bot: Harness):
    card = await open_card(bot, OWNER, data.ORDER_N)
    await bot.tg.press_callback_data(OWNER, f"o:s:{data.ORDER_MISSING}:AP:N:", message=card)
    await bot.tg.wait_for_message(OWNER, text_contains="не найден")
    await bot.tg.press_callback_data(OWNER, f"o:s:{data.ORDER_F}:AP:N:", message=card)
    await bot.tg.wait_for_message(OWNER, text_contains="уже «Завершён»")
    assert changes(bot) == 0
    assert status_of(bot, data.ORDER_F) == "F"


async def test_stale_button_says_who_was_faster(bot: Harness):
    florist_card = await open_card(bot, FLORIST, data.ORDER_N)
    senior_card = await open_card(bot, SENIOR, data.ORDER_N)
    await bot.tg.press_button(SENIOR, text_contains="Принять", message=senior_card)
    await bot.tg.wait_for_message(SENIOR, text_contains="✍️ Принят")
    await bot.tg.press_button(FLORIST, text_contains="Принять", message=florist_card)
    note = await bot.tg.wait_for_message(FLORIST, text_contains="уже «Принят»")
    assert "Дана Ким" in note["text"]
    refreshed = bot.tg.messages(FLORIST)[0]
    assert refreshed["message_id"] == florist_card["message_id"] and "✍️ Принят" in refreshed["text"]
    assert changes(bot) == 1


async def test_double_tap_changes_once(bot: Harness):
    card = await open_card(bot, FLORIST, data.ORDER_PD)
    await bot.tg.press_button(FLORIST, text_contains="Принять", message=card)
    await bot.tg.press_button(FLORIST, text_contains="Принять", message=card)
    await bot.tg.wait_for_message(FLORIST, text_contains="уже «Принят»")
    assert changes(bot) == 1
    assert status_of(bot, data.ORDER_PD) == "AP"


async def test_two_florists_racing_for_one_order(bot: Harness):
    first = await open_card(bot, FLORIST, data.ORDER_PD_ASAP)
    second = await open_card(bot, SENIOR, data.ORDER_PD_ASAP)
    await asyncio.gather(
        bot.tg.press_button(FLORIST, text_contains="Принять", message=first),
        bot.tg.press_button(SENIOR, text_contains="Принять", message=second),
    )
    await bot.tg.wait_for("sendMessage", lambda c: "уже «Принят»" in str(c.params.get("text")))
    assert changes(bot) == 1
    history = await bot.app.audit.for_target(f"order:{data.ORDER_PD_ASAP}")
    assert len(history) == 1


async def test_cancel_asks_for_a_reason_and_sends_it(bot: Harness):
    assert bot.sandbox is not None
    card = await open_card(bot, OWNER, data.ORDER_AP)
    await bot.tg.press_button(OWNER, text_contains="Отменить", message=card)
    asking = await bot.tg.wait_for_message(OWNER, text_contains="Выберите причину")
    await bot.tg.press_button(OWNER, text_contains="Не отменять", message=asking)
    back = await bot.tg.wait_for_message(OWNER, text_contains="✍️ Принят")
    assert "Выберите причину" not in back["text"]
    assert status_of(bot, data.ORDER_AP) == "AP"

    await bot.tg.press_button(OWNER, text_contains="Отменить", message=back)
    asking = await bot.tg.wait_for_message(OWNER, text_contains="Выберите причину")
    await bot.tg.press_button(OWNER, text_contains="Клиент отказался", message=asking)
    await bot.tg.wait_for_message(OWNER, text_contains="✖️ Отменён")
    assert status_of(bot, data.ORDER_AP) == "UN"
    assert bot.sandbox.state.order(data.ORDER_AP).history[-1].comment == "Клиент отказался"


async def test_cancel_with_a_typed_reason_is_validated(bot: Harness):
    assert bot.sandbox is not None
    card = await open_card(bot, SENIOR, data.ORDER_N_TOMORROW)
    await bot.tg.press_button(SENIOR, text_contains="Отменить", message=card)
    await bot.tg.wait_for_message(SENIOR, text_contains="Выберите причину")
    await bot.tg.press_button(SENIOR, text_contains="Другая причина")
    await bot.tg.wait_for_message(SENIOR, text_contains="Напишите причину")
    await bot.tg.send_message(SENIOR, "а")
    await bot.tg.wait_for_message(SENIOR, text_contains="слишком короткая")
    await bot.tg.send_message(SENIOR, "x" * 501)
    await bot.tg.wait_for_message(SENIOR, text_contains="Слишком длинно")
    assert status_of(bot, data.ORDER_N_TOMORROW) == "N"
    await bot.tg.send_message(SENIOR, "  Получатель   переехал  ")
    await bot.tg.wait_for_message(SENIOR, text_contains="✖️ Отменён")
    assert bot.sandbox.state.order(data.ORDER_N_TOMORROW).history[-1].comment == "Получатель переехал"


# --- photos --------------------------------------------------------------------------------------


async def photo_kept_with(bot: Harness, order_id: int) -> str:
    """The URL of the photo the bot kept with the order's handling (sent after the change)."""
    history = await bot.app.audit.for_target(f"order:{order_id}")
    [comment] = [e.comment or "" for e in history if e.action == PHOTO_ACTION]
    return comment.split("📷", 1)[1].strip()


async def test_assembled_then_a_bouquet_photo(bot: Harness):
    assert bot.sandbox is not None
    card = await open_card(bot, FLORIST, data.ORDER_AP)
    await bot.tg.press_button(FLORIST, text_contains="Собран", message=card)
    await bot.tg.wait_for_message(FLORIST, text_contains="Пришлите фото собранного букета, если нужно")
    assert status_of(bot, data.ORDER_AP) == "CO"  # changed at once: the photo is offered, not a gate
    await bot.tg.send_message(FLORIST, "вот")
    await bot.tg.wait_for_message(FLORIST, text_contains="Жду фото")
    await bot.tg.send_document(
        FLORIST, b"%PDF-1.4 not a photo", file_name="order.pdf", mime_type="application/pdf"
    )
    await bot.tg.wait_for_message(FLORIST, text_contains="Это не фото")
    await bot.tg.send_photo(FLORIST, TINY_PNG)
    assembled = await bot.tg.wait_for_message(FLORIST, text_contains="💐 Собран")
    assert assembled["message_id"] == card["message_id"]
    assert status_of(bot, data.ORDER_AP) == "CO" and changes(bot) == 1
    url = await photo_kept_with(bot, data.ORDER_AP)
    assert url.startswith(bot.sandbox.origin + "/upload/")
    assert any(path.endswith(url.rsplit("/", 1)[1]) for path in bot.sandbox.state.uploads)
    links = [e["url"] for e in assembled.get("entities", []) if e["type"] == "text_link"]
    assert url in links and "Фото букета" in assembled["text"]
    assert "если нужно" not in assembled["text"]  # the offer is gone once answered


async def test_photo_with_the_order_number_as_caption_does_it_in_one_step(bot: Harness):
    await bot.tg.send_photo(FLORIST, TINY_PNG, caption=str(data.ORDER_AP_KEYS))
    await bot.tg.wait_for_message(FLORIST, text_contains="💐 Собран")
    assert status_of(bot, data.ORDER_AP_KEYS) == "CO"
    await bot.tg.send_photo(FLORIST, TINY_PNG, caption=str(data.ORDER_N))
    await bot.tg.wait_for_message(FLORIST, text_contains="нельзя приложить фото")
    assert status_of(bot, data.ORDER_N) == "N"


async def test_oversized_photo_is_refused_before_downloading(bot: Harness):
    assert bot.sandbox is not None
    card = await open_card(bot, FLORIST, data.ORDER_AP)
    await bot.tg.press_button(FLORIST, text_contains="Собран", message=card)
    await bot.tg.wait_for_message(FLORIST, text_contains="Пришлите фото")
    await bot.tg.send_document(
        FLORIST, b"\xff\xd8\xff" + b"0" * (10 * 1024 * 1024 + 1), file_name="big.jpg", mime_type="image/jpeg"
    )
    await bot.tg.wait_for_message(FLORIST, text_contains="больше 10 МБ")
    assert status_of(bot, data.ORDER_AP) == "CO" and not bot.sandbox.state.uploads


async def taken_into_delivery(bot: Harness, order_id: int) -> dict:
    """The courier's card of an assembled order, after «Взять в доставку»."""
    card = await open_card(bot, COURIER, order_id)
    await bot.tg.press_button(COURIER, text_contains="Взять в доставку", message=card)
    return await bot.tg.wait_for_message(COURIER, text_contains="🚚 В доставке")


async def test_courier_delivers_in_two_taps(bot: Harness):
    """Counted as a person would, from a fresh /orders: the order, then «Доставлен». A photo of
    the handover is offered after the change, never a step before it."""
    await taken_into_delivery(bot, data.ORDER_CO)  # earlier that day
    taps = 0

    async def tap(label: str, message: dict, expect: str) -> dict:
        nonlocal taps
        taps += 1
        await bot.tg.press_button(COURIER, text_contains=label, message=message)
        return await bot.tg.wait_for_message(COURIER, text_contains=expect)

    await bot.tg.send_message(COURIER, "/orders")
    mine = await bot.tg.wait_for_message(COURIER, text_contains="Мои доставки ·")
    card = await tap(f"№{data.ORDER_CO}", mine, "Состав")
    done = await tap("Доставлен", card, "✅ Завершён")
    assert status_of(bot, data.ORDER_CO) == "F" and taps == 2
    assert done["message_id"] == card["message_id"]
    assert "📷 Пришлите фото вручения, если нужно" in done["text"]
    assert [b for b in bot.tg.buttons(done) if "Доставлен" in b[0]] == []


async def test_handover_photo_sent_after_delivery_lands_on_the_card(bot: Harness):
    assert bot.sandbox is not None
    card = await taken_into_delivery(bot, data.ORDER_CO)
    await bot.tg.press_button(COURIER, text_contains="Доставлен", message=card)
    await bot.tg.wait_for_message(COURIER, text_contains="фото вручения, если нужно")
    await bot.tg.send_photo(COURIER, TINY_PNG)
    await bot.tg.wait_for_message(COURIER, text_contains="📷 Фото загружено")
    shown = bot.tg.messages(COURIER)[0]
    assert shown["message_id"] == card["message_id"] and "✅ Завершён" in shown["text"]
    url = await photo_kept_with(bot, data.ORDER_CO)
    links = [e["url"] for e in shown.get("entities", []) if e["type"] == "text_link"]
    assert url in links and "Фото вручения" in shown["text"] and "если нужно" not in shown["text"]
    assert status_of(bot, data.ORDER_CO) == "F" and changes(bot) == 2  # the photo changed no status
    moves = [e for e in await bot.app.audit.for_target(f"order:{data.ORDER_CO}") if e.action == AUDIT_ACTION]
    assert [(e.before, e.after) for e in reversed(moves)] == [("CO", "DE"), ("DE", "F")]
    reopened = await open_card(bot, OWNER, data.ORDER_CO)  # kept: the owner's fresh card shows it too
    assert "Фото вручения" in reopened["text"] and reopened["text"].count("Доставил(а)") == 1


async def test_any_other_command_or_button_leaves_the_photo_step(bot: Harness):
    card = await open_card(bot, FLORIST, data.ORDER_AP)
    await bot.tg.press_button(FLORIST, text_contains="Собран", message=card)
    await bot.tg.wait_for_message(FLORIST, text_contains="если нужно")
    await bot.tg.press_button(FLORIST, text_contains="Обновить", message=card)  # a button: left
    await bot.tg.wait_for("editMessageText")
    await bot.tg.send_photo(FLORIST, TINY_PNG)
    await bot.tg.wait_for_message(FLORIST, text_contains="Не понял")  # no step waits for it
    card = await open_card(bot, FLORIST, data.ORDER_AP_KEYS)
    await bot.tg.press_button(FLORIST, text_contains="Собран", message=card)
    await bot.tg.wait_for_message(FLORIST, text_contains="если нужно")
    await bot.tg.send_message(FLORIST, "/orders")  # a command: left, and it does what it does
    await bot.tg.wait_for_message(FLORIST, text_contains="📋 Заказы")
    await bot.tg.send_message(FLORIST, "/cancel")
    await bot.tg.wait_for_message(FLORIST, text_contains="Нечего отменять")
    assert status_of(bot, data.ORDER_AP) == status_of(bot, data.ORDER_AP_KEYS) == "CO"
    assert [
        e for e in await bot.app.audit.for_target(f"order:{data.ORDER_AP}") if e.action == PHOTO_ACTION
    ] == []


async def test_cancel_in_the_photo_step_says_the_change_stands(bot: Harness):
    """The status changed before the photo was offered: /cancel leaves only the offer."""
    card = await open_card(bot, FLORIST, data.ORDER_AP)
    await bot.tg.press_button(FLORIST, text_contains="Собран", message=card)
    await bot.tg.wait_for_message(FLORIST, text_contains="если нужно")
    await bot.tg.send_message(FLORIST, "/cancel")
    reply = await bot.tg.wait_for_message(FLORIST, text_contains="без фото")
    assert "Ничего не сохранено" not in reply["text"]
    assert status_of(bot, data.ORDER_AP) == "CO"


async def test_forged_delivered_from_a_role_that_may_not_changes_nothing(bot: Harness):
    """«Доставлен» is re-checked for every press, forged or not: a florist's, an assistant's, and a
    courier's for an order that is not in delivery are refused; nothing is called or offered."""
    assert bot.sandbox is not None
    mark = len(bot.sandbox.requests)
    forged = [
        (FLORIST, f"o:s:{data.ORDER_DE}:F:DE:"),
        (ASSISTANT, f"o:s:{data.ORDER_DE}:F:DE:"),
        (COURIER, f"o:s:{data.ORDER_AP}:F:AP:"),
    ]
    for user, callback in forged:
        await bot.tg.send_message(user, "/help")
        message = await bot.tg.wait_for_message(user, text_contains="Что я умею")
        query = await bot.tg.press_callback_data(user, callback, message=message)
        await bot.tg.wait_for(
            "answerCallbackQuery", lambda c, q=query: c.params.get("callback_query_id") == q
        )
        answer = bot.tg.callback_answers[query]
        assert "нельзя" in answer["text"] and answer.get("show_alert"), (user, answer)
        assert not any("если нужно" in m["text"] for m in bot.tg.messages(user))
    assert len(bot.sandbox.requests) == mark and changes(bot) == 0
    assert status_of(bot, data.ORDER_DE) == "DE" and status_of(bot, data.ORDER_AP) == "AP"
    assert await bot.app.audit.for_target(f"order:{data.ORDER_DE}") == []


# --- failures ------------------------------------------------------------------------------------


@pytest.fixture
async def quick(tg: FakeTelegram, sandbox, tmp_path) -> AsyncIterator[Harness]:
    """The bot with a 0.3 s API read timeout, to meet timeouts without waiting 20 s."""
    async for harness in start_harness(tg, sandbox, tmp_path, api_read_timeout=0.3):
        yield harness


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"status": 500}, "недоступен"),
        ({"status": 200, "body": "{not json"}, "недоступен"),
        ({"hang": True}, "недоступен"),
    ],
)
async def test_list_failures_are_explained(quick: Harness, fault, expected):
    assert quick.sandbox is not None
    quick.sandbox.faults.add("GET", ORDERS, **fault)
    await quick.tg.send_message(OWNER, "/orders")
    await quick.tg.wait_for_message(OWNER, text_contains=expected)


@pytest.mark.parametrize("fault", [{"status": 502}, {"status": 200, "body": "<html>oops"}, {"hang": True}])
async def test_card_failures_are_explained(quick: Harness, fault):
    assert quick.sandbox is not None
    quick.sandbox.faults.add("GET", DETAIL, **fault)
    await quick.tg.send_message(OWNER, str(data.ORDER_N))
    await quick.tg.wait_for_message(OWNER, text_contains="недоступен")


async def test_card_without_allowed_statuses_has_no_buttons_but_says_why(quick: Harness):
    assert quick.sandbox is not None
    quick.sandbox.faults.add("GET", ALLOWED, status=500, times=1)
    card = await open_card(quick, OWNER, data.ORDER_N)
    assert "Нажмите «Обновить»" in card["text"]
    assert [text for text, _ in quick.tg.buttons(card)] == ["🔄 Обновить"]
    await quick.tg.press_button(OWNER, text_contains="Обновить", message=card)
    await quick.tg.wait_for("editMessageText")
    refreshed = quick.tg.messages(OWNER)[-1]
    assert "Нажмите «Обновить»" not in refreshed["text"]
    assert "✍️ Принять" in [text for text, _ in quick.tg.buttons(refreshed)]


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 503, "body": "<html>down</html>"}])
async def test_change_status_failure_leaves_the_order_and_says_so(quick: Harness, fault):
    assert quick.sandbox is not None
    card = await open_card(quick, FLORIST, data.ORDER_N)
    quick.sandbox.faults.add("POST", CHANGE, **fault)
    await quick.tg.press_button(FLORIST, text_contains="Принять", message=card)
    await quick.tg.wait_for_message(FLORIST, text_contains="не изменён")
    assert status_of(quick, data.ORDER_N) == "N"
    assert await quick.app.audit.for_target(f"order:{data.ORDER_N}") == []


async def test_change_that_times_out_but_went_through_is_reported_as_done(quick: Harness):
    assert quick.sandbox is not None
    card = await open_card(quick, FLORIST, data.ORDER_N)
    quick.sandbox.faults.add("POST", CHANGE, apply_then_hang=True)
    await quick.tg.press_button(FLORIST, text_contains="Принять", message=card)
    accepted = await quick.tg.wait_for_message(FLORIST, text_contains="✍️ Принят")
    assert accepted["message_id"] == card["message_id"]
    assert status_of(quick, data.ORDER_N) == "AP"
    assert len(await quick.app.audit.for_target(f"order:{data.ORDER_N}")) == 1


async def test_change_that_times_out_and_cannot_be_checked_is_unknown(quick: Harness):
    assert quick.sandbox is not None
    card = await open_card(quick, FLORIST, data.ORDER_N)
    quick.sandbox.faults.add("POST", CHANGE, apply_then_hang=True)
    await quick.tg.press_button(FLORIST, text_contains="Принять", message=card)
    await quick.sandbox.faults.wait_hanging(1)
    quick.sandbox.faults.add("GET", DETAIL, status=500)  # the re-read after the timeout fails too
    await quick.tg.wait_for_message(FLORIST, text_contains="неизвестно")


async def test_server_refusal_is_explained(quick: Harness):
    assert quick.sandbox is not None
    card = await open_card(quick, FLORIST, data.ORDER_N)
    quick.sandbox.faults.add(
        "POST", CHANGE, status=200, body='{"status": false, "error": "Заказ заблокирован менеджером"}'
    )
    await quick.tg.press_button(FLORIST, text_contains="Принять", message=card)
    await quick.tg.wait_for_message(FLORIST, text_contains="Заказ заблокирован менеджером")


async def test_photo_upload_failure_keeps_waiting_for_the_photo(quick: Harness):
    assert quick.sandbox is not None
    card = await open_card(quick, FLORIST, data.ORDER_AP)
    await quick.tg.press_button(FLORIST, text_contains="Собран", message=card)
    await quick.tg.wait_for_message(FLORIST, text_contains="Пришлите фото")
    assert status_of(quick, data.ORDER_AP) == "CO"
    quick.sandbox.faults.add("POST", UPLOAD + "*", status=500, times=1)
    await quick.tg.send_photo(FLORIST, TINY_PNG)
    await quick.tg.wait_for_message(FLORIST, text_contains="Фото не загружено")
    await quick.tg.send_photo(FLORIST, TINY_PNG)
    assembled = await quick.tg.wait_for_message(FLORIST, text_contains="Фото букета")
    assert "💐 Собран" in assembled["text"] and assembled["message_id"] == card["message_id"]
    assert await photo_kept_with(quick, data.ORDER_AP)


async def test_two_replicas_change_one_order_once(sandbox, tmp_path):
    """Two bot processes (webhook mode behind a balancer) share the database: the order's lease
    there lets only one of them change the order; the other re-reads and reports it done."""
    from zoneinfo import ZoneInfo

    from services.cvety_api import CvetyApi
    from services.http import make_http_client
    from services.orders import ChangeOutcome, OrderService
    from services.roles import Role
    from services.storage.db import create_engine, make_sessionmaker, migrate
    from services.storage.repositories import AuditLog, Leases

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/shared.db")
    await migrate(engine)
    sessions = make_sessionmaker(engine)
    clients = [make_http_client(sandbox.cvety_url) for _ in range(2)]
    leases = Leases(sessions)  # without it both replicas send the change (the test then fails)
    replicas = [
        OrderService(
            CvetyApi(http, sandbox.token), AuditLog(sessions), tz=ZoneInfo("Asia/Almaty"), leases=leases
        )
        for http in clients
    ]
    sandbox.faults.add("POST", CHANGE, delay=0.3)  # a slow server widens the race
    try:
        results = await asyncio.gather(
            *(
                replica.change_status(
                    actor_id=user, role=Role.FLORIST, order_id=data.ORDER_N, expected="N", target="AP"
                )
                for replica, user in zip(replicas, (FLORIST, SENIOR), strict=True)
            )
        )
    finally:
        for http in clients:
            await http.aclose()
        await engine.dispose()
    assert sorted(r.outcome for r in results) == sorted([ChangeOutcome.CHANGED, ChangeOutcome.ALREADY])
    assert sandbox.faults.calls("POST", CHANGE) == 1
