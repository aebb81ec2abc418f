"""The fake Bot API server, driven by a real aiogram Bot (and Dispatcher where it matters)."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    CallbackQuery,
    ChatMemberAdministrator,
    ErrorEvent,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from tests.fake_telegram import (
    BAD_MARKUP_JSON,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    TINY_PNG,
    FakeTelegram,
    HtmlParseError,
    make_bot,
    message_text,
    parse_html,
    run_polling,
)

USER = 4242
GROUP = -1001234567890


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.user(USER, "Айгерим", username="aigerim")
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    bot = make_bot(fake)
    yield bot
    await bot.session.close()


def kb(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=text, callback_data=data)] for text, data in buttons]
    )


def build_echo_router(handler_errors: list[BaseException]) -> Router:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        assert message.from_user is not None
        name = html.escape(message.from_user.first_name)
        await message.answer(f"Привет, <b>{name}</b>!", reply_markup=kb(("Нажми меня", "press:1")))

    @router.callback_query(F.data.startswith("press:"))
    async def press(query: CallbackQuery) -> None:
        await query.answer("Принято")
        assert isinstance(query.message, Message)
        await query.message.edit_text(f"Нажато ✅ {html.escape(query.data or '')}")

    @router.message(F.photo)
    async def photo(message: Message, bot: Bot) -> None:
        assert message.photo
        data = await bot.download(message.photo[-1].file_id)
        assert data is not None
        await message.answer(f"Фото: {len(data.read())} байт")

    @router.message(F.text == "boom")
    async def boom(message: Message) -> None:
        raise RuntimeError("boom")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(html.escape(message.text or ""))

    @router.errors()
    async def on_error(event: ErrorEvent) -> bool:
        handler_errors.append(event.exception)
        return True

    return router


@pytest.fixture
async def polling(fake: FakeTelegram, bot: Bot) -> AsyncIterator[list[BaseException]]:
    """Polling with the echo router; yields the list of exceptions the handlers raised."""
    handler_errors: list[BaseException] = []
    dp = Dispatcher()
    dp.include_router(build_echo_router(handler_errors))
    async with run_polling(dp, bot, polling_timeout=5):
        yield handler_errors


# ------------------------------------------------------------------------------------ round trips


async def test_command_round_trip(fake: FakeTelegram, polling: list[BaseException]) -> None:
    sent = await fake.send_message(USER, "/start")
    assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]

    reply = await fake.wait_for_message(USER, text_contains="Привет")

    assert reply["text"] == "Привет, Айгерим!"
    assert reply["raw"] == "Привет, <b>Айгерим</b>!"
    assert reply["entities"] == [{"type": "bold", "offset": 8, "length": 7}]
    assert fake.buttons(reply) == [("Нажми меня", "press:1")]
    call = await fake.wait_for("sendMessage")
    assert call.params["parse_mode"] == "HTML" and call.chat_id == USER
    assert fake.errors == [] and polling == []


async def test_button_press_is_answered_and_edits(fake: FakeTelegram, polling: list[BaseException]) -> None:
    await fake.send_message(USER, "/start")
    card = await fake.wait_for_message(USER, text_contains="Привет")

    query_id = await fake.press_button(USER, text_contains="Нажми")

    edited = await fake.wait_for_message(USER, text_contains="Нажато")
    assert edited["message_id"] == card["message_id"]
    assert edited["edited"] is True and "edit_date" in edited
    assert edited["text"] == "Нажато ✅ press:1"
    assert "reply_markup" not in edited  # editMessageText without reply_markup drops the keyboard
    assert fake.callback_answers[query_id]["text"] == "Принято"
    assert [m["message_id"] for m in fake.messages(USER)] == [card["message_id"]]
    assert fake.errors == [] and polling == []


async def test_user_photo_is_downloadable_by_the_bot(
    fake: FakeTelegram, polling: list[BaseException]
) -> None:
    sent = await fake.send_photo(USER, TINY_PNG, caption="букет")
    assert sent["photo"][-1]["width"] == 2

    reply = await fake.wait_for_message(USER, text_contains="Фото")

    assert reply["text"] == f"Фото: {len(TINY_PNG)} байт"
    assert [c.method for c in fake.requests[fake.cursor :] if c.method != "getUpdates"] == [
        "getFile",
        "sendMessage",
    ]
    assert fake.errors == [] and polling == []


async def test_handler_errors_reach_the_test_and_echo_escapes(
    fake: FakeTelegram, polling: list[BaseException]
) -> None:
    await fake.send_message(USER, "boom")
    await fake.send_message(USER, "a < b & c")

    reply = await fake.wait_for_message(USER)

    assert reply["text"] == "a < b & c"
    assert [str(e) for e in polling] == ["boom"]
    assert fake.errors == []


async def test_group_messages(fake: FakeTelegram, polling: list[BaseException]) -> None:
    fake.add_group(GROUP, "Цветы: смена")
    words = ("один", "два", "три")
    for word in words:
        await fake.send_message(USER, word, chat_id=GROUP)
    for word in words:  # handlers run as concurrent tasks: replies may arrive in any order
        await fake.wait_for_message(GROUP, text_contains=word, after=0)

    assert sorted(m["text"] for m in fake.messages(GROUP)) == sorted(words)
    assert fake.last_message(GROUP)["chat"] == {"id": GROUP, "type": "supergroup", "title": "Цветы: смена"}
    assert fake.errors == [] and polling == []


async def test_polling_restarts_cleanly_on_the_same_server(fake: FakeTelegram) -> None:
    for attempt in ("первый", "второй"):
        bot = make_bot(fake)
        dp = Dispatcher()
        dp.include_router(build_echo_router([]))
        async with run_polling(dp, bot, polling_timeout=5):
            await fake.send_message(USER, attempt)
            await fake.wait_for_message(USER, text_contains=attempt)
    assert fake.errors == []  # the abandoned long poll of the first run did not conflict


async def test_run_polling_raises_what_stopped_polling(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("getMe", error_code=401, description="Unauthorized")
    dp = Dispatcher()
    dp.include_router(build_echo_router([]))
    with pytest.raises(TelegramUnauthorizedError):
        async with run_polling(dp, bot):
            pytest.fail("polling should not have started")


async def test_two_pollers_conflict(fake: FakeTelegram, bot: Bot) -> None:
    mark = len(fake.requests)
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await fake.wait_for("getUpdates", after=mark)
    second = asyncio.create_task(bot.get_updates(timeout=5))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await first
    await fake.send_message(USER, "привет")
    assert [u.message.text for u in await second if u.message] == ["привет"]
    assert len(fake.errors) == 1


# ------------------------------------------------------------------------------------ observing


async def test_wait_for_timeout_lists_what_arrived(fake: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(USER, "привет")

    with pytest.raises(AssertionError) as caught:
        await fake.wait_for("editMessageText", timeout=0.05, after=0)

    assert "sendMessage(chat_id='4242', text='привет') -> ok" in str(caught.value)


async def test_press_button_lists_available_buttons(fake: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(USER, "Заказ №7", reply_markup=kb(("Принять", "order:7:accept")))

    with pytest.raises(AssertionError, match=r"Принять.*order:7:accept"):
        await fake.press_button(USER, text_contains="Отменить")


async def test_reply_keyboard_is_tracked(fake: FakeTelegram, bot: Bot) -> None:
    keyboard = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="📦 Заказы")]], resize_keyboard=True)
    await bot.send_message(USER, "Меню", reply_markup=keyboard)
    assert fake.reply_keyboard(USER) == {"keyboard": [[{"text": "📦 Заказы"}]], "resize_keyboard": True}

    await bot.send_message(USER, "Скрыто", reply_markup=ReplyKeyboardRemove())

    assert fake.reply_keyboard(USER) is None
    assert "reply_markup" not in fake.last_message(USER)


# ------------------------------------------------------------------------------------ rejections


async def test_text_and_caption_limits(fake: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(USER, "<b>" + "я" * 4096 + "</b>")  # 4096 visible characters
    await bot.send_message(USER, "&amp;" * 4096)  # 20480 characters of HTML, 4096 visible
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER, "я" * 4097)
    for empty in ("", "   ", "<b> </b>"):
        with pytest.raises(TelegramBadRequest, match="message text is empty"):
            await bot.send_message(USER, empty)
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(USER, BufferedInputFile(TINY_PNG, "b.png"), caption="ц" * 1025)

    assert [e.description for e in fake.errors] == [
        "Bad Request: message is too long",
        "Bad Request: message text is empty",
        "Bad Request: message text is empty",
        "Bad Request: message text is empty",
        "Bad Request: message caption is too long",
    ]
    assert len(fake.messages(USER)) == 2


async def test_inline_keyboard_rejections(fake: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(USER, "64 байта", reply_markup=kb(("ок", "ж" * 32)))
    many_ok = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=str(i), callback_data=str(i))] for i in range(100)]
    )
    await bot.send_message(USER, "100 кнопок", reply_markup=many_ok)

    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "65+ байт", reply_markup=kb(("ок", "ж" * 33)))  # 33 chars, 66 bytes
    with pytest.raises(TelegramBadRequest, match="Text buttons are unallowed"):
        no_action = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="?")]])
        await bot.send_message(USER, "x", reply_markup=no_action)
    with pytest.raises(TelegramBadRequest, match="REPLY_MARKUP_TOO_LONG"):
        too_many = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text=str(i), callback_data=str(i))] for i in range(101)]
        )
        await bot.send_message(USER, "101", reply_markup=too_many)
    with pytest.raises(TelegramBadRequest, match="Unsupported URL protocol"):
        tel = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="📞", url="tel:+77011234567")]]
        )
        await bot.send_message(USER, "Позвонить", reply_markup=tel)

    assert len(fake.errors) == 4
    assert len(fake.messages(USER)) == 2


async def test_malformed_reply_markup_and_unknown_method_over_raw_http(fake: FakeTelegram) -> None:
    async with aiohttp.ClientSession() as http:
        url = f"{fake.base_url}/bot{fake.token}"
        data = {"chat_id": str(USER), "text": "x", "reply_markup": '{"inline_keyboard": [[{"text"'}
        async with http.post(f"{url}/sendMessage", data=data) as resp:
            assert resp.status == 400
            assert await resp.json() == {"ok": False, "error_code": 400, "description": BAD_MARKUP_JSON}
        async with http.post(f"{url}/sendTelepathy", data={"chat_id": str(USER)}) as resp:
            assert resp.status == 404
            assert (await resp.json())["description"] == "Not Found: method not found"

    assert [(e.method, e.error_code) for e in fake.errors] == [("sendMessage", 400), ("sendTelepathy", 404)]


async def test_invalid_html_is_rejected(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match=r"can't parse entities: Unsupported start tag \"\""):
        await bot.send_message(USER, "2 < 3")
    with pytest.raises(TelegramBadRequest, match='can\'t parse entities: Unescaped "&"'):
        await bot.send_message(USER, "Розы & тюльпаны")
    with pytest.raises(TelegramBadRequest, match="can't parse entities: Can't find end tag"):
        await bot.send_photo(USER, BufferedInputFile(TINY_PNG, "b.png"), caption="<b>Букет")

    await bot.send_message(USER, "2 < 3", parse_mode=None)  # no parse mode: no HTML check
    assert fake.last_message(USER)["text"] == "2 < 3"
    assert len(fake.errors) == 3


async def test_edit_rejections(fake: FakeTelegram, bot: Bot) -> None:
    card = await bot.send_message(USER, "Заказ <b>№7</b>", reply_markup=kb(("Принять", "accept:7")))
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "Заказ <b>№7</b>",
            chat_id=USER,
            message_id=card.message_id,
            reply_markup=kb(("Принять", "accept:7")),
        )
    # Same text, keyboard left out: Telegram removes the keyboard, so this is a change.
    await bot.edit_message_text("Заказ <b>№7</b>", chat_id=USER, message_id=card.message_id)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=USER, message_id=card.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER, message_id=999)
    photo = await bot.send_photo(USER, BufferedInputFile(TINY_PNG, "b.png"), caption="Букет")
    with pytest.raises(TelegramBadRequest, match="there is no text in the message to edit"):
        await bot.edit_message_text("x", chat_id=USER, message_id=photo.message_id)
    with pytest.raises(TelegramBadRequest, match="there is no caption in the message to edit"):
        await bot.edit_message_caption(chat_id=USER, message_id=card.message_id, caption="x")
    await bot.edit_message_caption(chat_id=USER, message_id=photo.message_id, caption="Букет <i>готов</i>")
    await bot.delete_message(USER, card.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("y", chat_id=USER, message_id=card.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(USER, card.message_id)

    assert fake.errors[0].description == NOT_MODIFIED
    assert len(fake.errors) == 7
    [current] = fake.messages(USER)
    assert current["caption"] == "Букет готов" and current["edited"] is True
    assert current["caption_entities"] == [{"type": "italic", "offset": 6, "length": 5}]
    assert fake.deleted_messages(USER)[0]["message_id"] == card.message_id


async def test_callback_query_rejections(fake: FakeTelegram, bot: Bot) -> None:
    card = await bot.send_message(USER, "Заказ", reply_markup=kb(("Принять", "accept:7")))
    query_id = await fake.press_button(USER, text_contains="Принять")
    await bot.answer_callback_query(query_id, text="ok")
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query("1234567890")
    old = await fake.press_callback_data(USER, "forged:1", message=card.model_dump(mode="json"))
    fake.expire_callback(old)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(old)

    assert {e.description for e in fake.errors} == {QUERY_TOO_OLD}
    assert fake.callback_answers == {query_id: {"callback_query_id": query_id, "text": "ok"}}
    updates = await bot.get_updates(timeout=0)
    assert [u.callback_query.data for u in updates if u.callback_query] == ["accept:7", "forged:1"]


async def test_chat_rejections(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(777, "кто здесь?")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(GROUP, "в группу, которой нет")
    fake.add_group(GROUP, "Цветы", bot_can_send=False)
    with pytest.raises(TelegramBadRequest, match="not enough rights to send text messages"):
        await bot.send_message(GROUP, "тишина")
    fake.add_group(GROUP, "Цветы")
    await bot.send_message(GROUP, "теперь можно")
    fake.kick_bot(GROUP)
    with pytest.raises(TelegramForbiddenError, match="bot was kicked from the supergroup chat"):
        await bot.send_message(GROUP, "уже нельзя")
    fake.block(USER)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(USER, "привет")

    assert [e.error_code for e in fake.errors] == [400, 400, 400, 403, 403]


async def test_unauthorized_token(fake: FakeTelegram) -> None:
    stranger = make_bot(fake, token="654321:WRONG-token")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await stranger.get_me()
    finally:
        await stranger.session.close()
    assert fake.errors[0].description == "Unauthorized"


async def test_injected_faults(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next(
        "sendMessage", error_code=429, description="Too Many Requests: retry after 3", retry_after=3
    )
    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(USER, "раз")
    assert flood.value.retry_after == 3
    await bot.send_message(USER, "два")

    fake.fail_next(
        "sendMessage",
        error_code=400,
        description="Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=-1009876543210,
    )
    with pytest.raises(TelegramMigrateToChat) as migrated:
        await bot.send_message(USER, "три")
    assert migrated.value.migrate_to_chat_id == -1009876543210

    fake.fail_next("sendPhoto", error_code=500, description="Internal Server Error", times=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await bot.send_photo(USER, BufferedInputFile(TINY_PNG, "b.png"))
    await bot.send_photo(USER, BufferedInputFile(TINY_PNG, "b.png"))

    assert fake.errors == []  # injected failures are not the bot's mistakes
    assert [c.injected for c in fake.calls("sendMessage")] == [True, False, True]
    assert [message_text(m) for m in fake.messages(USER)] == ["два", ""]


# ------------------------------------------------------------------------------------ files


async def test_send_photo_bytes_stores_a_downloadable_photo(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_photo(
        USER, BufferedInputFile(TINY_PNG, "bouquet.png"), caption="<b>Букет</b> готов"
    )

    stored = fake.last_message(USER)
    assert stored["caption"] == "Букет готов" and stored["raw"] == "<b>Букет</b> готов"
    assert stored["caption_entities"] == [{"type": "bold", "offset": 0, "length": 5}]
    assert sent.photo is not None and sent.photo[-1].width == 2
    downloaded = await bot.download(sent.photo[-1].file_id)
    assert downloaded is not None and downloaded.read() == TINY_PNG
    call = await fake.wait_for("sendPhoto", after=0)
    assert call.params["photo"].startswith("attach://") and len(call.files) == 1

    again = await bot.send_photo(USER, sent.photo[-1].file_id)  # by file_id
    assert again.photo is not None and again.photo[-1].file_id == sent.photo[-1].file_id


async def test_photo_and_document_rejections(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(USER, BufferedInputFile(b"%PDF-1.4 not an image", "x.jpg"))
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(USER, "AgACAgIAAxkBAAI-nonexistent")
    document = await bot.send_document(USER, BufferedInputFile(b"%PDF-1.4", "invoice.pdf"))
    assert document.document is not None and document.document.mime_type == "application/pdf"
    with pytest.raises(TelegramBadRequest, match="can't use file of type Document as Photo"):
        await bot.send_photo(USER, document.document.file_id)

    user_doc = await fake.send_document(USER, b"%PDF-1.4", file_name="order.pdf")
    assert user_doc["document"]["mime_type"] == "application/pdf"
    assert fake.file_bytes(user_doc["document"]["file_id"]) == b"%PDF-1.4"
    assert len(fake.errors) == 3


async def test_media_group(fake: FakeTelegram, bot: Bot) -> None:
    first = await bot.send_photo(USER, BufferedInputFile(TINY_PNG, "a.png"))
    assert first.photo is not None
    album = await bot.send_media_group(
        USER,
        [
            InputMediaPhoto(media=BufferedInputFile(TINY_PNG, "b.png"), caption="<i>до</i>"),
            InputMediaPhoto(media=first.photo[-1].file_id, caption="после"),
        ],
    )

    assert len(album) == 2 and album[0].media_group_id == album[1].media_group_id is not None
    assert [message_text(m) for m in fake.messages(USER)[1:]] == ["до", "после"]
    assert fake.errors == []


async def test_edit_media_and_photo_by_url(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_photo(USER, "https://cdn.example.kz/bouquet.jpg", caption="До")
    assert sent.photo is not None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_media(
            InputMediaPhoto(media=sent.photo[-1].file_id, caption="До"),
            chat_id=USER,
            message_id=sent.message_id,
        )
    after = InputMediaPhoto(media=BufferedInputFile(TINY_PNG, "after.png"), caption="<b>После</b>")
    edited = await bot.edit_message_media(after, chat_id=USER, message_id=sent.message_id)

    assert not isinstance(edited, bool) and edited.photo is not None
    assert edited.photo[-1].file_id != sent.photo[-1].file_id
    current = fake.last_message(USER)
    assert current["caption"] == "После" and current["edited"] is True
    assert fake.file_bytes(current["photo"][-1]["file_id"]) == TINY_PNG
    assert len(fake.errors) == 1


# ------------------------------------------------------------------------------------ updates


async def test_get_updates_offset_limit_allowed_updates_and_long_poll(fake: FakeTelegram, bot: Bot) -> None:
    card = await bot.send_message(USER, "Заказ", reply_markup=kb(("Принять", "accept:7")))
    for text in ("один", "два", "три"):
        await fake.send_message(USER, text)
    await fake.press_button(USER, text_contains="Принять", message=card.model_dump(mode="json"))

    first_two = await bot.get_updates(limit=2, timeout=0)
    assert [u.message.text for u in first_two if u.message] == ["один", "два"]
    only_callbacks = await bot.get_updates(
        offset=first_two[-1].update_id + 1, allowed_updates=["callback_query"]
    )
    assert [u.callback_query.data for u in only_callbacks if u.callback_query] == ["accept:7"]
    assert await bot.get_updates(offset=only_callbacks[-1].update_id + 1, timeout=0) == []

    mark = len(fake.requests)
    offset = only_callbacks[-1].update_id + 1
    poll = asyncio.create_task(bot.get_updates(offset=offset, timeout=5, allowed_updates=[]))
    await fake.wait_for("getUpdates", after=mark)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await fake.send_message(USER, "четыре")
    woke = await poll
    assert [u.message.text for u in woke if u.message] == ["четыре"]
    assert loop.time() - started < 1  # woken by the update, not by the 5 s timeout
    assert fake.errors == []


async def test_webhook_conflicts_with_get_updates(fake: FakeTelegram, bot: Bot) -> None:
    await bot.set_webhook("https://bot.example.kz/telegram")
    assert (await bot.get_webhook_info()).url == "https://bot.example.kz/telegram"
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates(timeout=0)
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates(timeout=0) == []
    assert len(fake.errors) == 1


# ------------------------------------------------------------------------------------ chats etc.


async def test_groups_members_threads(fake: FakeTelegram, bot: Bot) -> None:
    fake.add_group(GROUP, "Цветы: смена", is_forum=True)
    fake.set_member(GROUP, USER, "creator")

    me = await bot.get_chat_member(GROUP, bot.id)
    assert isinstance(me, ChatMemberAdministrator) and me.can_post_messages and me.can_manage_topics
    assert (await bot.get_chat_member(GROUP, USER)).status == "creator"
    assert {m.user.id for m in await bot.get_chat_administrators(GROUP)} == {USER, bot.id}
    chat = await bot.get_chat(GROUP)
    assert chat.title == "Цветы: смена" and chat.is_forum
    assert (await bot.get_chat(USER)).username == "aigerim"
    await bot.send_message(GROUP, "в тему", message_thread_id=7)
    assert fake.last_message(GROUP)["message_thread_id"] == 7
    await bot.send_chat_action(GROUP, "typing")

    fake.add_group(-5, "Маленькая", members={USER: "administrator"})
    assert (await bot.get_chat_member(-5, USER)).status == "administrator"
    sent = await fake.send_message(USER, "/help@cvety_test_bot", chat_id=-5, chat_type="supergroup")
    assert sent["chat"]["type"] == "supergroup" and sent["entities"][0]["length"] == 20

    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.get_chat(-42)
    fake.add_group(-42, "Обычная группа")
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(-42, "в тему", message_thread_id=7)
    assert len(fake.errors) == 2


async def test_the_bot_added_to_a_chat_and_leaving_it(fake: FakeTelegram, bot: Bot) -> None:
    update = fake.bot_status_changed(USER, GROUP, new="administrator", title="Чужая")
    event = update["my_chat_member"]
    assert event["from"]["id"] == USER and event["chat"]["title"] == "Чужая"
    assert (event["old_chat_member"]["status"], event["new_chat_member"]["status"]) == (
        "left",
        "administrator",
    )
    assert (await bot.get_chat_member(GROUP, bot.id)).status == "administrator"
    assert await bot.leave_chat(GROUP)
    assert fake.left_chats() == [GROUP]
    assert (await bot.get_chat_member(GROUP, bot.id)).status == "left"
    with pytest.raises(TelegramForbiddenError, match="bot is not a member of the supergroup chat"):
        await bot.send_message(GROUP, "ещё тут?")
    with pytest.raises(TelegramForbiddenError, match="not a member"):
        await bot.leave_chat(GROUP)
    with pytest.raises(TelegramBadRequest, match="private chats"):
        await bot.leave_chat(USER)
    assert len(fake.errors) == 3
    fake.bot_status_changed(USER, GROUP)  # added again: sends work again
    await bot.send_message(GROUP, "снова здесь")


async def test_a_button_under_an_inaccessible_message_and_a_deleted_one(fake: FakeTelegram, bot: Bot) -> None:
    from aiogram.types import InaccessibleMessage

    sent = await bot.send_message(USER, "старое", reply_markup=kb(("Кнопка", "old:1")))
    seen: list[object] = []
    router = Router()

    @router.callback_query()
    async def any_button(query: CallbackQuery) -> None:
        seen.append(query.message)
        await query.answer("Устарело")

    dp = Dispatcher()
    dp.include_router(router)
    async with run_polling(dp, bot, polling_timeout=5):
        query_id = await fake.press_on_inaccessible(USER, "old:1", chat_id=USER, message_id=sent.message_id)
        await fake.wait_for("answerCallbackQuery")
    [message] = seen
    assert isinstance(message, InaccessibleMessage) and message.message_id == sent.message_id
    assert message.chat.id == USER and fake.callback_answers[query_id]["text"] == "Устарело"
    fake.delete_message(USER, sent.message_id)
    assert fake.messages(USER) == []
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("новое", chat_id=USER, message_id=sent.message_id)
    assert len(fake.errors) == 1


async def test_commands_copy_forward(fake: FakeTelegram, bot: Bot) -> None:
    menu = [BotCommand(command="start", description="Главное меню")]
    await bot.set_my_commands(menu, scope=BotCommandScopeAllPrivateChats(), language_code="kk")
    await bot.set_my_commands(menu)
    assert fake.commands == {
        ("all_private_chats", "kk"): [{"command": "start", "description": "Главное меню"}],
        ("default", None): [{"command": "start", "description": "Главное меню"}],
    }
    got = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="kk")
    assert [(c.command, c.description) for c in got] == [("start", "Главное меню")]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Start!", description="x")])
    await bot.delete_my_commands()
    assert list(fake.commands) == [("all_private_chats", "kk")]

    fake.add_group(GROUP, "Цветы")
    note = await fake.send_message(USER, "Доставка к 18:00")
    copied = await bot.copy_message(GROUP, from_chat_id=USER, message_id=note["message_id"])
    forwarded = await bot.forward_message(GROUP, from_chat_id=USER, message_id=note["message_id"])
    assert forwarded.forward_origin is not None
    assert [(m["message_id"], m["text"]) for m in fake.messages(GROUP)] == [
        (copied.message_id, "Доставка к 18:00"),
        (forwarded.message_id, "Доставка к 18:00"),
    ]
    assert len(fake.errors) == 1


# ------------------------------------------------------------------------------------ HTML parser


@pytest.mark.parametrize(
    ("source", "text", "entities"),
    [
        (
            "<b>жирный <i>оба</i></b> обычный",
            "жирный оба обычный",
            [{"type": "bold", "offset": 0, "length": 10}, {"type": "italic", "offset": 7, "length": 3}],
        ),
        ("A &amp; B &lt;3 &quot;q&quot; &gt; &#8470;&#x1F490;", 'A & B <3 "q" > №💐', []),
        (
            '<a href="https://2gis.kz/almaty?q=1&amp;x=2">карта</a>',
            "карта",
            [{"type": "text_link", "offset": 0, "length": 5, "url": "https://2gis.kz/almaty?q=1&x=2"}],
        ),
        (
            '<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler><u>u</u><s>s</s>',
            "stus",
            [
                {"type": "spoiler", "offset": 0, "length": 1},
                {"type": "spoiler", "offset": 1, "length": 1},
                {"type": "underline", "offset": 2, "length": 1},
                {"type": "strikethrough", "offset": 3, "length": 1},
            ],
        ),
        (
            '<pre><code class="language-python">x = 1</code></pre><code>y</code>',
            "x = 1y",
            [
                {"type": "pre", "offset": 0, "length": 5, "language": "python"},
                {"type": "code", "offset": 5, "length": 1},
            ],
        ),
        (
            "<blockquote expandable>цитата</blockquote><blockquote>q</blockquote>",
            "цитатаq",
            [
                {"type": "expandable_blockquote", "offset": 0, "length": 6},
                {"type": "blockquote", "offset": 6, "length": 1},
            ],
        ),
        ("💐 <b>x</b>", "💐 x", [{"type": "bold", "offset": 3, "length": 1}]),  # UTF-16 offsets
        ("<B>caps</B>\nстрока", "caps\nстрока", [{"type": "bold", "offset": 0, "length": 4}]),
    ],
)
def test_html_valid(source: str, text: str, entities: list[dict[str, Any]]) -> None:
    assert parse_html(source) == (text, entities)


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("<x>y</x>", 'Unsupported start tag "x" at byte offset 0'),
        ("Привет <x>", 'Unsupported start tag "x" at byte offset 13'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("a <", "Unclosed start tag at byte offset 2"),
        ("Tom & Jerry", 'Unescaped "&" at byte offset 4'),
        ("&nbsp;", 'Unescaped "&" at byte offset 0'),
        ('<a href="?a=1&b=2">x</a>', 'Unescaped "&" at byte offset 13'),
        ("<b>жирный", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
        ("a<br>b", 'Unsupported start tag "br" at byte offset 1'),
        ('<a href="x>y</a>', 'Unclosed start tag "a" at byte offset 0'),
        ("<b", 'Unclosed start tag "b" at byte offset 0'),
        ("<b x>y</b>", 'Expected equal sign in declaration of an attribute of the tag "b" at byte offset 0'),
    ],
)
def test_html_invalid(source: str, error: str) -> None:
    with pytest.raises(HtmlParseError) as caught:
        parse_html(source)
    assert str(caught.value).startswith(error)


def test_html_lenient_ampersand_like_telegram() -> None:
    assert parse_html("Tom & Jerry &nbsp; &amp", strict_ampersand=False) == ("Tom & Jerry &nbsp; &", [])
