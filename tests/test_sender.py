"""Sender against the fake Telegram over HTTP (a real aiogram Bot), one FakeClock driving both:
the fake's flood limits and the sender's pacing see the same time, and nothing really sleeps."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import SendMessage
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions

from runtime.sender import Limits, Sender, SenderMiddleware
from tests.fake_telegram import NOT_MODIFIED, TINY_PNG, FakeClock, FakeTelegram, make_bot, message_text

USER, OTHER_USER = 4242, 4343
GROUP = -1001234567890  # the shop's supergroup
OLD_GROUP, NEW_GROUP = -4567, -1004567000000  # a basic group and the supergroup it became
FORUM = -1007777777777


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(flood_limits=True, clock=clock.now) as server:
        server.user(USER, "Айгерим")
        server.user(OTHER_USER, "Дана")
        server.add_group(GROUP, "Цветы: смена")
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    bot = make_bot(fake)
    yield bot
    await bot.session.close()


class Events:
    """What the sender told the application."""

    def __init__(self) -> None:
        self.unreachable: list[int] = []
        self.migrated: list[tuple[int, int]] = []

    async def on_unreachable(self, chat_id: int) -> None:
        self.unreachable.append(chat_id)

    async def on_migrated(self, old: int, new: int) -> None:
        self.migrated.append((old, new))


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def make_sender(bot: Bot, clock: FakeClock, events: Events) -> Callable[..., Sender]:
    def make(**overrides: Any) -> Sender:
        return Sender(
            bot,
            on_unreachable=events.on_unreachable,
            on_migrated=events.on_migrated,
            limits=Limits(**overrides),
            clock=clock.now,
            sleep=clock.sleep,
        )

    return make


@pytest.fixture
def left_bot(bot: Bot, clock: FakeClock) -> dict[int, list[float]]:
    """chat id -> clock times at which sendMessage calls left the bot: what the sender decided.
    (The fake's own times come later by the HTTP round trip, during which virtual time may move
    on for another chat, as latency does in real life.)"""
    times: dict[int, list[float]] = {}

    async def record(make_request: Any, bot: Bot, method: Any) -> Any:
        if isinstance(method, SendMessage):
            times.setdefault(int(method.chat_id), []).append(clock.now())
        return await make_request(bot, method)

    bot.session.middleware(record)
    return times


def gaps(times: list[float], step: int = 1) -> list[float]:
    return [later - earlier for earlier, later in zip(times, times[step:], strict=False)]


def texts(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [message_text(m) for m in fake.messages(chat_id)]


def send_times(fake: FakeTelegram, chat_id: int) -> list[float]:
    return [c.time for c in fake.calls("sendMessage") if c.ok and c.chat_id == chat_id]


# ------------------------------------------------------------------------------------ pacing


async def test_sixty_alerts_to_the_group_stay_within_twenty_a_minute(fake, clock, make_sender) -> None:
    sender = make_sender()
    started = clock.now()

    sent = await asyncio.gather(*(sender.send_message(GROUP, f"Заказ №{i}") for i in range(60)))

    assert all(m is not None for m in sent)
    assert texts(fake, GROUP) == [f"Заказ №{i}" for i in range(60)]  # in the order handed over
    assert fake.max_sends_per_window(GROUP) == 20
    assert fake.flood_hits == 0  # paced by the sender, never by Telegram
    assert clock.now() - started == pytest.approx(120)  # three minutes' worth, no more
    assert fake.errors == []


async def test_flood_answers_are_waited_out_and_everything_arrives(fake, clock, make_sender) -> None:
    sender = make_sender(group_per_minute=30)  # more than Telegram allows

    sent = await asyncio.gather(*(sender.send_message(GROUP, f"Заказ №{i}") for i in range(60)))

    assert all(m is not None for m in sent)
    assert texts(fake, GROUP) == [f"Заказ №{i}" for i in range(60)]
    assert fake.max_sends_per_window(GROUP) <= 20
    flood = [c for c in fake.requests if c.error_code == 429]
    assert len(flood) == fake.flood_hits >= 1
    for answer in flood:  # the next attempt came no earlier than Telegram asked
        retry_after = int(answer.description.rsplit(" ", 1)[1])  # "… retry after 60"
        retry = next(c for c in fake.calls("sendMessage") if c.index > answer.index)
        assert retry.time - answer.time >= retry_after
    assert fake.errors == []


async def test_a_private_chat_gets_about_one_a_second(fake, clock, make_sender) -> None:
    sender = make_sender()
    started = clock.now()

    await asyncio.gather(*(sender.send_message(USER, f"Напоминание {i}") for i in range(5)))

    assert texts(fake, USER) == [f"Напоминание {i}" for i in range(5)]
    assert gaps(send_times(fake, USER)) == [1.0] * 4
    assert clock.now() - started == pytest.approx(4)
    assert fake.flood_hits == 0


async def test_chats_are_paced_side_by_side(fake, clock, make_sender, left_bot) -> None:
    sender = make_sender()
    started = clock.now()

    await asyncio.gather(
        *(sender.send_message(user, f"Напоминание {i}") for i in range(5) for user in (USER, OTHER_USER))
    )

    for user in (USER, OTHER_USER):
        assert texts(fake, user) == [f"Напоминание {i}" for i in range(5)]
        assert min(gaps(left_bot[user])) >= 1.0
    assert clock.now() - started < 5  # 4 s side by side; 9 s if one chat waited for the other


async def test_the_global_limit_spans_all_chats(fake, make_sender, left_bot) -> None:
    users = list(range(5001, 5007))
    for user in users:
        fake.user(user)
    sender = make_sender(global_per_second=2.0)

    await asyncio.gather(*(sender.send_message(user, "Смена начинается") for user in users))

    times = sorted(t for user in users for t in left_bot[user])
    assert len(times) == 6
    assert min(gaps(times, step=2)) >= 1.0  # never 3 within a second


async def test_edits_have_their_own_budget(fake, clock, make_sender) -> None:
    sender = make_sender(group_per_minute=2)
    first = await sender.send_message(GROUP, "Заказ №1: новый")
    await sender.send_message(GROUP, "Заказ №2: новый")
    assert first is not None
    started = clock.now()

    assert await sender.edit_message_text(GROUP, first.message_id, "Заказ №1: принят")  # no wait
    assert clock.now() == started
    assert await sender.send_message(GROUP, "Заказ №3: новый") is not None  # waits for the window
    assert clock.now() - started == pytest.approx(60)


# ------------------------------------------------------------------------------------ edits and kwargs


async def test_not_modified_is_success(fake, make_sender, caplog) -> None:
    sender = make_sender()
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Принять", callback_data="o:acc:1")]]
    )
    card = await sender.send_message(USER, "Заказ №1", reply_markup=markup)
    assert card is not None

    assert await sender.edit_message_text(USER, card.message_id, "Заказ №1", reply_markup=markup) is True
    assert await sender.edit_message_reply_markup(USER, card.message_id, reply_markup=markup) is True
    assert [c.description for c in fake.errors] == [NOT_MODIFIED, NOT_MODIFIED]  # Telegram did refuse
    assert await sender.edit_message_text(USER, card.message_id, "Заказ №1: принят") is True
    assert fake.last_message(USER)["text"] == "Заказ №1: принят"
    assert not [r for r in caplog.records if r.name == "runtime.sender"]

    with caplog.at_level(logging.WARNING, logger="runtime.sender"):  # someone deleted the card
        assert await sender.edit_message_text(USER, 999, "нет такого") is False
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "message to edit not found" in caplog.text


async def test_kwargs_reach_telegram(fake, make_sender) -> None:
    fake.add_group(FORUM, "Цветы: форум", is_forum=True, topics=[7])
    sender = make_sender()

    sent = await sender.send_message(
        FORUM,
        "<b>Заказ №1</b> https://cvety.kz",
        message_thread_id=7,
        disable_notification=True,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    photo = await sender.send_photo(
        FORUM, BufferedInputFile(TINY_PNG, "bouquet.png"), caption="Букет", message_thread_id=7
    )

    assert sent is not None and photo is not None and photo.photo
    params = fake.calls("sendMessage")[-1].params
    assert params["message_thread_id"] == "7" and params["disable_notification"] == "true"
    assert params["link_preview_options"] == {"is_disabled": True}
    assert fake.last_message(FORUM)["caption"] == "Букет"
    assert fake.errors == []


async def test_a_too_long_text_is_logged_as_an_error(fake, make_sender, caplog) -> None:
    sender = make_sender()
    with caplog.at_level(logging.ERROR, logger="runtime.sender"):
        assert await sender.send_message(GROUP, "я" * 5000) is None
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert "message is too long" in caplog.text
    assert len(fake.calls("sendMessage")) == 1  # not retried


# ------------------------------------------------------------------------------------ failures


async def test_a_blocked_user_is_reported_once_and_not_retried(fake, clock, events, make_sender) -> None:
    fake.block(USER)
    sender = make_sender()

    assert await sender.send_message(USER, "Заказ №1 готов") is None

    assert events.unreachable == [USER]
    assert len(fake.calls("sendMessage")) == 1
    assert clock.sleeps == []


async def test_a_group_that_removed_the_bot_is_unreachable(fake, events, make_sender) -> None:
    fake.kick_bot(GROUP)
    sender = make_sender()

    assert await sender.send_message(GROUP, "Новый заказ") is None
    assert events.unreachable == [GROUP]


async def test_a_group_upgraded_to_a_supergroup(fake, events, make_sender) -> None:
    fake.add_group(OLD_GROUP, "Цветы", chat_type="group")
    fake.add_group(NEW_GROUP, "Цветы")
    fake.fail_next(
        "sendMessage",
        error_code=400,
        description="Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=NEW_GROUP,
    )
    sender = make_sender()

    first = await sender.send_message(OLD_GROUP, "Заказ №1")
    second = await sender.send_message(OLD_GROUP, "Заказ №2")

    assert first is not None and first.chat.id == NEW_GROUP
    assert second is not None and second.chat.id == NEW_GROUP
    assert events.migrated == [(OLD_GROUP, NEW_GROUP)]
    assert sender.resolve(OLD_GROUP) == NEW_GROUP
    assert texts(fake, NEW_GROUP) == ["Заказ №1", "Заказ №2"]
    assert texts(fake, OLD_GROUP) == []
    assert [c.chat_id for c in fake.calls("sendMessage")] == [OLD_GROUP, NEW_GROUP, NEW_GROUP]
    assert await sender.edit_message_text(OLD_GROUP, first.message_id, "Заказ №1: принят") is True
    assert texts(fake, NEW_GROUP)[0] == "Заказ №1: принят"


async def test_an_unknown_chat_is_a_warning(fake, events, make_sender, caplog) -> None:
    sender = make_sender()
    with caplog.at_level(logging.WARNING, logger="runtime.sender"):
        assert await sender.send_message(-999, "Новый заказ") is None
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "chat not found" in caplog.text
    assert events.unreachable == []
    assert len(fake.calls("sendMessage")) == 1


async def test_server_errors_are_retried_with_backoff(fake, clock, make_sender) -> None:
    fake.fail_next("sendMessage", error_code=500, description="Internal Server Error", times=2)
    fake.fail_next("sendPhoto", error_code=502, description="Bad Gateway")
    sender = make_sender()

    assert await sender.send_message(GROUP, "Заказ №1") is not None
    photo = await sender.send_photo(GROUP, BufferedInputFile(TINY_PNG, "bouquet.png"), caption="Букет")

    assert photo is not None and photo.photo  # the upload was read again for the retry
    assert texts(fake, GROUP) == ["Заказ №1", "Букет"]
    assert len(fake.calls("sendMessage")) == 3
    assert clock.sleeps == [1.0, 2.0, 1.0]


async def test_retries_are_bounded(fake, clock, make_sender, caplog) -> None:
    fake.fail_next(
        "sendMessage", error_code=429, description="Too Many Requests: retry after 5", retry_after=5, times=4
    )
    fake.fail_next("editMessageText", error_code=500, description="Internal Server Error", times=3)
    sender = make_sender(max_retries=2)

    with caplog.at_level(logging.WARNING, logger="runtime.sender"):
        assert await sender.send_message(GROUP, "Заказ №1") is None
    assert len(fake.calls("sendMessage")) == 3
    assert clock.sleeps == [5.0, 5.0]
    assert "gave up after 2 retries" in caplog.text

    card = await sender.send_message(GROUP, "Заказ №1")  # the 4th injected 429, then through
    assert card is not None
    assert await sender.edit_message_text(GROUP, card.message_id, "Заказ №1: принят") is False


# ------------------------------------------------------------------------------------ can_post


async def test_can_post(fake, make_sender) -> None:
    fake.add_group(-1002000000001, "Только чтение", bot_can_send=False)
    fake.add_group(-1002000000002, "Бывшая смена")
    fake.kick_bot(-1002000000002)
    fake.add_group(FORUM, "Цветы: форум", is_forum=True, topics=[7])
    sender = make_sender()

    assert await sender.can_post(GROUP) == (True, "")
    assert await sender.can_post(USER) == (True, "")
    assert await sender.can_post(FORUM, 7) == (True, "")

    for chat_id, thread_id, reason in [
        (-1002000000001, None, "may not send messages"),
        (-1002000000002, None, "removed"),
        (-1009999999999, None, "chat not found"),
        (FORUM, 8, "topic 8 not found"),
        (GROUP, 7, "no topics"),
    ]:
        ok, why = await sender.can_post(chat_id, thread_id)
        assert not ok and reason in why, (chat_id, thread_id, why)
    assert fake.calls("sendMessage") == []  # it asked, it did not post


# ------------------------------------------------------------------------------------ the fake's limits


async def test_the_fake_answers_429_like_telegram(fake, clock, bot) -> None:
    for i in range(3):  # a private chat: a burst of 3 …
        await bot.send_message(USER, f"{i}")
    with pytest.raises(TelegramRetryAfter) as flood:  # … then about one a second
        await bot.send_message(USER, "3")
    assert flood.value.retry_after == 3
    clock.advance(3)
    await bot.send_message(USER, "3")

    for i in range(20):
        await bot.send_message(GROUP, f"{i}")
    clock.advance(59.5)
    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(GROUP, "20")
    assert flood.value.retry_after == 1  # 0.5 s left, rounded up
    clock.advance(0.5)
    await bot.send_message(GROUP, "20")

    assert fake.flood_hits == 2
    assert [c.error_code for c in fake.requests if not c.ok] == [429, 429]
    assert fake.errors == []
    assert fake.max_sends_per_window(GROUP) == 20
    assert fake.max_sends_per_window(USER, window=3.0) == 3


async def test_under_load_the_global_slots_go_first_come_first_served() -> None:
    """Twenty people each getting replies one after another, more than the global limit allows:
    a reply leaves after every reply asked before it, never overtaken by one asked later (so no
    one waits several turns because somebody else looked for a freed slot first)."""
    # real time: the race for a freed slot is between real timers
    async with FakeTelegram() as server:  # its flood limits off: ours are tested
        bot = make_bot(server)
        left: list[int] = []

        async def record(make_request: Any, bot: Bot, method: Any) -> Any:
            if isinstance(method, SendMessage):
                left.append(int(method.text.rsplit(" ", 1)[1]))
            return await make_request(bot, method)

        sender = Sender(bot, limits=Limits(global_per_second=60.0))
        bot.session.middleware(SenderMiddleware(sender))  # replies, as handlers send them
        bot.session.middleware(record)
        asked = iter(range(1, 161))

        async def person(user: int) -> None:
            server.user(user)
            for _ in range(8):
                await bot.send_message(user, f"Заказы на сегодня {next(asked)}")

        await asyncio.gather(*(person(user) for user in range(6001, 6021)))
        await bot.session.close()
    overtaken = sum(1 for earlier, later in itertools.pairwise(left) if later < earlier)
    assert overtaken == 0, left
