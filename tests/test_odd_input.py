"""Odd input, end to end: what no flow expects — stickers, voice, locations, polls, huge texts,
metacharacters in searches, absurd order numbers, garbage and forged buttons, buttons on messages
that are gone — from every role, idle and in the middle of flows, through the real dispatcher.

Whatever arrives: nothing crashes (no ERROR in the log, no call Telegram would reject: the
harness checks both), every button press is answered exactly once, every private message and
every command gets an answer, and nothing is written to the APIs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import ASSISTANT, COURIER, FLORIST, OWNER, SENIOR, STRANGER, Harness, settle
from views.callbacks import (
    ColleagueCb,
    FlowCb,
    InviteCb,
    OrderCb,
    ProfileCb,
    ShopCb,
    ShowcaseCb,
    StockCb,
    StocktakeCb,
)

ORDER_NEW, ORDER_ACCEPTED, ORDER_IN_DELIVERY = 122575, 122571, 122578
FOREIGN_GROUP = -1009000000009
LONG = ("Роза " * 820)[:4096]  # the longest text Telegram delivers, one line
LONG_HTML = ("<b>&amp;</b> " * 400)[:4096]


def examples(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """`count` values hypothesis generates, the same in every run: the garbage fed to the bot
    (end to end, one bot for all of them, so no shrinking — the failure names the input)."""
    found: list[Any] = []

    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found


def _fits_callback(data: str) -> bool:
    return 1 <= len(data.encode("utf-8")) <= 64  # Telegram delivers nothing else


PREFIXES = ("o", "ol", "st", "fl", "tk", "al", "pf", "sh", "lg", "cl", "iv", "vt", "ct", "cu")
GARBAGE_CALLBACKS: list[str] = examples(
    st.one_of(
        st.text(min_size=1, max_size=64),
        st.builds(
            lambda prefix, rest: f"{prefix}:{rest}",
            st.sampled_from(PREFIXES),
            st.text(alphabet=":-0123456789abcdefxyzNAPCODEUF.", max_size=50),
        ),
    ).filter(_fits_callback),
    24,
)
GARBAGE_TEXTS: list[str] = examples(
    st.one_of(
        st.text(min_size=1, max_size=200),
        st.builds(
            lambda command, args: f"/{command} {args}",
            st.sampled_from(("stock", "catalog", "customer", "order", "history", "staff", "start")),
            st.text(max_size=120),
        ),
    ).filter(lambda text: text.strip() != "" and not text.startswith(" ")),
    16,
)

# Forged by hand: valid prefixes with wrong fields, numbers no order has
FORGED_CALLBACKS = [
    "o",
    "o:",
    "o:s",
    "o:s:abc:AP:N:",
    "o:v:99999999999999999999:::",
    "o:v:-1:::",
    "o:o:0:::",
    "o:r:122575::N:nonsense",
    "o:n:122575:CO:AP:",
    "o:b:122575:::p",
    "ol:zz:0",
    "ol:n:-5",
    "ol:n:99999999999999999999",
    "st:p:-1:",
    "st:f:0:no-such-flower",
    "st:r:0:",
    "st:d:0:no-such-flower",
    "fl:pick:no-such-flower",
    "fl:save:",
    "fl:reason:nonsense",
    "fl:supplier:99",
    "fl:field:nonsense",
    "tk:send:x",
    "tk:same:",
    "al:nonsense",
    "pf:e:nonsense",
    "pf:c:",
    "sh:e:nonsense",
    "lg:xx",
    "cl:o:::0",
    "cl:l:zz.zz::0",
    "cl:l:all.:-3",
    "cl:p::nonsense:0",
    "cl:e:no-such-colleague:name:0",
    "iv:r:nonsense:",
    "iv:v:nonsense:",
    "vt:o:-1:0:",
    "vt:p:0:999999:",
    "vt:f:0:-7:",
    "vt:k:0:0:nonsense",
    "ct:o:-1:0",
    "ct:p:0:99999",
    "cu:o:0:0",
    "cu:p:171690:99999",
    "\x00",
    "💐" * 16,
]


def forged_for_other_roles() -> list[tuple[int, str, str]]:
    """(who, what, the callback data of a button their role never gets)."""
    return [
        (COURIER, "accept a new order (florist)", OrderCb(action="s", id=ORDER_NEW, to="AP", frm="N").pack()),
        (COURIER, "cancel an order (owner)", OrderCb(action="x", id=ORDER_NEW, frm="N").pack()),
        (
            COURIER,
            "cancel with a reason (owner)",
            OrderCb(action="r", id=ORDER_NEW, frm="N", arg="client").pack(),
        ),
        (ASSISTANT, "accept an order", OrderCb(action="s", id=ORDER_NEW, to="AP", frm="N").pack()),
        (ASSISTANT, "finish a delivery", OrderCb(action="s", id=ORDER_IN_DELIVERY, to="F", frm="DE").pack()),
        (
            ASSISTANT,
            "deliver without photo",
            OrderCb(action="n", id=ORDER_IN_DELIVERY, to="F", frm="DE").pack(),
        ),
        (FLORIST, "refund an order", OrderCb(action="s", id=ORDER_NEW, to="RF", frm="N").pack()),
        (COURIER, "save a delivery", FlowCb(action="save", arg="deadbeef").pack()),
        (COURIER, "open a flower", StockCb(action="f", id="rose-red").pack()),
        (COURIER, "write off a flower", StockCb(action="w", id="rose-red").pack()),
        (COURIER, "send a stocktake", StocktakeCb(action="send", arg="deadbeef").pack()),
        (FLORIST, "delete a colleague", ColleagueCb(action="D", id="3").pack()),
        (FLORIST, "deactivate a colleague", ColleagueCb(action="t", id="3").pack()),
        (FLORIST, "add a colleague", ColleagueCb(action="n").pack()),
        (SENIOR, "make someone owner", ColleagueCb(action="r", id="3", arg="owner").pack()),
        (COURIER, "invite an owner", InviteCb(action="r", arg="owner").pack()),
        (FLORIST, "edit the shop's phone", ShopCb(action="e", arg="phone").pack()),
        (ASSISTANT, "pick a position", ProfileCb(action="p", arg="owner").pack()),
        (ASSISTANT, "take a bouquet down", ShowcaseCb(action="S", id=696885).pack()),
        (ASSISTANT, "add a bouquet", ShowcaseCb(action="a").pack()),
        (COURIER, "open the showcase", ShowcaseCb(action="p").pack()),
    ]


def _odd_content() -> list[tuple[str, dict[str, Any]]]:
    """Message contents no step asks for (complete payloads, as Telegram sends them)."""
    return [
        (
            "sticker",
            {
                "sticker": {
                    "file_id": "CAACAgIAAxkBAAEstk",
                    "file_unique_id": "AgADstk",
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                    "emoji": "💐",
                }
            },
        ),
        ("voice", {"voice": {"file_id": "AwACAgIvoice", "file_unique_id": "AgADvoice", "duration": 3}}),
        (
            "video note",
            {
                "video_note": {
                    "file_id": "DQACAgIvn",
                    "file_unique_id": "AgADvn",
                    "length": 240,
                    "duration": 2,
                }
            },
        ),
        ("location", {"location": {"latitude": 43.238949, "longitude": 76.889709}}),
        ("contact", {"contact": {"phone_number": "+77011234567", "first_name": "Кто-то"}}),
        (
            "poll",
            {
                "poll": {
                    "id": "5001",
                    "question": "Розы или пионы?",
                    "options": [
                        {"persistent_id": "a", "text": "Розы", "voter_count": 0},
                        {"persistent_id": "b", "text": "Пионы", "voter_count": 0},
                    ],
                    "total_voter_count": 0,
                    "is_closed": False,
                    "is_anonymous": True,
                    "type": "regular",
                    "allows_multiple_answers": False,
                    "allows_revoting": True,
                    "members_only": False,
                }
            },
        ),
        ("dice", {"dice": {"emoji": "🎲", "value": 6}}),
        ("4096 characters", {"text": LONG}),
        ("4096 characters of HTML", {"text": LONG_HTML}),
    ]


class Observer:
    """Feeds one thing at a time and notes what went unanswered (all of it, not just the first)."""

    def __init__(self, bot: Harness) -> None:
        self.bot = bot
        self.problems: list[str] = []

    async def reply_to(self, chat_id: int, what: str, act: Callable[[], Awaitable[object]]) -> list[str]:
        """Do `act`, wait until the bot is done with it; the texts it sent or edited in the chat."""
        mark = len(self.bot.tg.requests)
        await act()
        await settle(self.bot)
        texts = [
            text
            for call in self.bot.tg.requests[mark:]
            if call.ok
            for cid, _mid, text in call.produced
            if cid == chat_id
        ]
        return texts

    async def expect_answer(self, user: int, what: str, act: Callable[[], Awaitable[object]]) -> None:
        if not await self.reply_to(user, what, act):
            self.problems.append(f"{user}: no answer to {what}")

    async def send(self, user: int, what: str, fields: dict[str, Any], *, chat_id: int | None = None) -> None:
        await self.expect_answer(user, what, lambda: self.bot.tg.send_custom(user, fields, chat_id=chat_id))

    async def say(self, user: int, text: str) -> None:
        await self.expect_answer(user, repr(text[:60]), lambda: self.bot.tg.send_message(user, text))

    async def press(self, user: int, data: str, message: dict[str, Any], what: str | None = None) -> str:
        """Press (possibly forged) callback data; check it was answered exactly once."""
        query_id = ""

        async def act() -> None:
            nonlocal query_id
            query_id = await self.bot.tg.press_callback_data(user, data, message=message)

        await self.reply_to(message["chat"]["id"], data, act)
        self.check_answered(query_id, what or repr(data))
        return query_id

    def check_answered(self, query_id: str, what: str) -> None:
        answers = [
            c
            for c in self.bot.tg.calls("answerCallbackQuery")
            if c.params.get("callback_query_id") == query_id
        ]
        if len(answers) != 1 or not answers[0].ok:
            self.problems.append(
                f"button {what}: answered {len(answers)} times ({[c.summary() for c in answers]})"
            )

    def assert_fine(self) -> None:
        assert self.bot.sandbox is not None
        writes = [f"{r.method} {r.path}" for r in self.bot.sandbox.requests if r.method != "GET"]
        assert not writes, f"odd input reached the APIs as writes: {writes}"
        assert not self.problems, "\n".join(self.problems)


async def step(bot: Harness, user: int, text: str, expect: str) -> dict[str, Any]:
    await bot.tg.send_message(user, text)
    return await bot.tg.wait_for_message(user, text_contains=expect)


async def tap(bot: Harness, user: int, label: str, expect: str) -> dict[str, Any]:
    await bot.tg.press_button(user, text_contains=label)
    return await bot.tg.wait_for_message(user, text_contains=expect)


async def into_delivery(bot: Harness) -> None:
    await step(bot, FLORIST, "/delivery", "Приход")


async def into_writeoff(bot: Harness) -> None:
    await step(bot, ASSISTANT, "/writeoff", "Списание")


async def into_vitrina_add(bot: Harness) -> None:
    await step(bot, FLORIST, "/vitrina", "Витрина")
    await tap(bot, FLORIST, "Добавить на витрину", "Новый букет")


async def into_staff_add(bot: Harness) -> None:
    await step(bot, SENIOR, "/staff", "Сотрудники")
    await tap(bot, SENIOR, "Добавить", "Как зовут")


async def into_profile_edit(bot: Harness) -> None:
    await step(bot, COURIER, "/profile", "Мой профиль")
    await tap(bot, COURIER, "Имя", "Напишите имя")


async def into_catalog(bot: Harness) -> None:
    await step(bot, ASSISTANT, "/catalog", "Что ищем")


async def into_order_photo(bot: Harness) -> None:
    await step(bot, FLORIST, f"/order {ORDER_ACCEPTED}", str(ORDER_ACCEPTED))
    await tap(bot, FLORIST, "Собран", "фото собранного букета")
    assert bot.sandbox is not None
    bot.sandbox.requests.clear()  # «Собран» changes the order at once; that write is the way in


async def into_cancel_reason(bot: Harness) -> None:
    await step(bot, OWNER, f"/order {ORDER_NEW}", str(ORDER_NEW))
    await tap(bot, OWNER, "Отменить", "Выберите причину")
    await tap(bot, OWNER, "Другая причина", "Напишите причину")


async def idle(bot: Harness) -> None:
    return None


# who, how they get there, and whether any text is an answer to the step (a search is)
FLOWS: dict[str, tuple[int, Callable[[Harness], Awaitable[None]], bool]] = {
    "idle courier": (COURIER, idle, False),
    "idle owner": (OWNER, idle, False),
    "/delivery": (FLORIST, into_delivery, False),
    "/writeoff": (ASSISTANT, into_writeoff, False),
    "/vitrina add": (FLORIST, into_vitrina_add, False),
    "/staff add": (SENIOR, into_staff_add, False),
    "/profile edit": (COURIER, into_profile_edit, False),
    "/catalog": (ASSISTANT, into_catalog, True),
    "order photo": (FLORIST, into_order_photo, False),
    "cancel reason": (OWNER, into_cancel_reason, False),
}


@pytest.mark.parametrize("flow", FLOWS)
async def test_odd_messages_in_the_middle_of_a_flow_get_an_answer_and_leave_it_in_place(
    bot: Harness, flow: str
):
    user, enter, texts_are_answers = FLOWS[flow]
    await enter(bot)
    seen = Observer(bot)
    for what, fields in _odd_content():
        if not (texts_are_answers and "text" in fields):
            await seen.send(user, what, fields)
    await seen.expect_answer(
        user, "a PDF", lambda: bot.tg.send_document(user, b"%PDF-1.4 odd", file_name="invoice.pdf")
    )
    # a live location moving is an edited message, no update the bot asked for: nothing happens
    live = {"location": {"latitude": 43.2389, "longitude": 76.8897, "live_period": 900}}
    sent = await bot.tg.send_custom(user, live)
    await settle(bot)
    moved = {**sent, "location": {**live["location"], "latitude": 43.2401}, "edit_date": sent["date"] + 5}
    texts = await seen.reply_to(user, "an edit", lambda: _enqueue(bot, "edited_message", moved))
    assert texts == []
    # the flow is still there: /cancel leaves it (idle: there is nothing to cancel)
    # (the order photo is offered after the change: leaving it is «без фото»)
    expected = {"order photo": "без фото"}.get(
        flow, "Нечего отменять" if flow.startswith("idle") else "Отменено"
    )
    await step(bot, user, "/cancel", expected)
    seen.assert_fine()


async def _enqueue(bot: Harness, kind: str, payload: dict[str, Any]) -> None:
    bot.tg.enqueue_update(kind, payload)


ODD_COMMANDS = [
    "/stock .*(",
    "/stock %",
    "/stock " + "(" * 60,
    "/history .*(",
    "/catalog [[[",
    "/catalog .*(",
    "/catalog %' OR 1=1 --",
    "/customer %' OR 1=1 --",
    "/customer ' OR ''='",
    "/customer .*(",
    "/customer +7 (701) ___-__-__",
    "/order 99999999999999999999",
    "/order -1",
    "/order ١٢٣",
    "/order 0",
    "/order 1e9",
    f"/order {ORDER_NEW}; DROP TABLE orders",
    "/order " + LONG[:4000],
    "/stock " + LONG[:4000],
    "/customer " + LONG[:4000],
    "/start " + "x" * 64,
    "/staff всё",
    "/vitrina zzz",
    "/language xx",
    "/alerts 1",
    "/profile <b>",
    "/help@some_other_bot",
    "/nosuchcommand",
]


@pytest.mark.parametrize("user", [OWNER, ASSISTANT, COURIER])
async def test_odd_commands_and_texts_get_an_answer(bot: Harness, user: int):
    seen = Observer(bot)
    for text in ODD_COMMANDS:
        await seen.say(user, text)
    for text in ("١٢٣", "99999999999999999999", "-1", "№ 0", LONG_HTML):
        await seen.say(user, text)
    for text in GARBAGE_TEXTS:
        await seen.say(user, text)
    seen.assert_fine()


ODD_NUMBERS = ["99999999999999999999", "-1", "0", "1e9", "5.5", "½", "²", "NaN", "∞", "50 шт шт", "1 000 000"]
GARBAGE_NUMBERS: list[str] = examples(
    st.text(alphabet="0123456789-+.,eE ½²١٢٣٠", min_size=1, max_size=24).filter(lambda t: t.strip() != ""), 10
)


@pytest.mark.parametrize(
    ("user", "command", "prompt"),
    [
        (FLORIST, "/delivery", "Сколько стеблей пришло"),
        (ASSISTANT, "/writeoff", "Сколько стеблей списать"),
    ],
)
async def test_absurd_quantities_are_answered_and_the_flow_goes_on(
    bot: Harness, user: int, command: str, prompt: str
):
    seen = Observer(bot)
    await step(bot, user, command, "Какой цветок")
    await step(bot, user, "роза 60", prompt)
    for text in ODD_NUMBERS + GARBAGE_NUMBERS:
        await seen.say(user, text)
    await step(bot, user, "/cancel", "Отменено")  # wherever it got to, still in the flow
    seen.assert_fine()


async def test_a_stranger_gets_the_refusal_with_their_id_whatever_they_send(bot: Harness):
    seen = Observer(bot)
    for what, fields in _odd_content():
        texts = await seen.reply_to(
            STRANGER, what, lambda fields=fields: bot.tg.send_custom(STRANGER, fields)
        )
        if not any(str(STRANGER) in text for text in texts):
            seen.problems.append(f"a stranger's {what}: {texts}")
    for text in [
        "/start",
        "/start " + "x" * 64,
        "/start " + LONG[:4000],
        "/order 122575",
        *GARBAGE_TEXTS[:6],
    ]:
        texts = await seen.reply_to(
            STRANGER, repr(text[:40]), lambda text=text: bot.tg.send_message(STRANGER, text)
        )
        if not texts:
            seen.problems.append(f"a stranger's {text[:40]!r}: no answer")
    assert bot.sandbox is not None and bot.sandbox.requests == [], "a stranger reached the APIs"
    seen.assert_fine()


async def test_garbage_and_forged_buttons_are_answered_once_and_do_nothing(bot: Harness):
    seen = Observer(bot)
    for user in (OWNER, FLORIST, COURIER, STRANGER):
        if user == STRANGER:  # their refusal is the one message of the bot they see
            message = await step(bot, user, "/start", str(STRANGER))
        else:
            message = await step(bot, user, "/help", "Что я умею")
        for data in FORGED_CALLBACKS + GARBAGE_CALLBACKS:
            # on the newest message the person has: a screen may have replaced the older one
            await seen.press(user, data, bot.tg.last_message(user) if user != STRANGER else message)
    seen.assert_fine()


async def test_a_button_of_another_role_is_refused_with_a_word(bot: Harness):
    seen = Observer(bot)
    for user, what, data in forged_for_other_roles():
        message = await step(bot, user, "/help", "Что я умею")
        query_id = await seen.press(user, data, message, what)
        if not bot.tg.callback_answers.get(query_id, {}).get("text"):
            seen.problems.append(f"{user} pressing «{what}» ({data}): refused without a word")
    seen.assert_fine()


async def into_writeoff_reason(bot: Harness) -> None:
    await step(bot, ASSISTANT, "/writeoff", "Какой цветок списать")
    await step(bot, ASSISTANT, "роза 60", "Сколько стеблей списать")
    await step(bot, ASSISTANT, "1", "Почему списываем")


STEPS: dict[str, tuple[int, Callable[[Harness], Awaitable[None]]]] = {
    "/delivery: which flower": (FLORIST, into_delivery),
    "/writeoff: why": (ASSISTANT, into_writeoff_reason),
}


@pytest.mark.parametrize("flow", STEPS)
async def test_wrong_buttons_in_the_middle_of_a_flow_are_refused_once_and_leave_it(bot: Harness, flow: str):
    """Buttons of other steps, other flows, a stocktake never started, and forged choices of
    this very step (a flower that is not there, a reason that does not exist)."""
    user, enter = STEPS[flow]
    seen = Observer(bot)
    await enter(bot)
    message = bot.tg.last_message(user)
    for data in (
        FlowCb(action="pick", arg="no-such-flower").pack(),
        FlowCb(action="reason", arg="nonsense").pack(),
        FlowCb(action="save", arg="deadbeef").pack(),
        FlowCb(action="supplier", arg="0").pack(),
        FlowCb(action="skip").pack(),
        FlowCb(action="edit").pack(),
        FlowCb(action="back").pack(),
        FlowCb(action="field", arg="price").pack(),
        StocktakeCb(action="same").pack(),
        StocktakeCb(action="finish").pack(),
        ColleagueCb(action="s").pack(),
        ColleagueCb(action="p", arg="florist").pack(),
        ProfileCb(action="c").pack(),
        ShowcaseCb(action="k", arg="deadbeef").pack(),
        ShowcaseCb(action="t", arg="1").pack(),
        ShowcaseCb(action="n").pack(),
        ShowcaseCb(action="x").pack(),
        # «Без фото» of a photo step long gone, for an order no longer where it was: refused
        # by the server's state, and the flow in hand is not thrown away with it
        OrderCb(action="n", id=ORDER_NEW, to="CO", frm="AP").pack() if user == FLORIST else "o",
    ):
        await seen.press(user, data, message)
    await step(bot, user, "/cancel", "Отменено")  # the flow is still there
    seen.assert_fine()


async def test_buttons_on_messages_that_are_gone(bot: Harness):
    """A message older than 48 hours comes as an InaccessibleMessage; a deleted one cannot be
    edited any more. Either way the press is answered, with a word."""
    seen = Observer(bot)
    card = await step(bot, OWNER, f"/order {ORDER_NEW}", str(ORDER_NEW))
    buttons = [data for _text, data in bot.tg.buttons(card) if data.startswith("o:")]
    more = [
        StockCb(action="f", id="rose-red").pack(),
        ColleagueCb(action="n").pack(),
        FlowCb(action="save", arg="deadbeef").pack(),
        ShowcaseCb(action="p").pack(),
        "garbage",
    ]
    for data in buttons + more:
        query_id = ""

        async def act(data: str = data) -> None:
            nonlocal query_id
            query_id = await bot.tg.press_on_inaccessible(
                OWNER, data, chat_id=OWNER, message_id=card["message_id"]
            )

        texts = await seen.reply_to(OWNER, data, act)
        seen.check_answered(query_id, f"{data} on an inaccessible message")
        if not texts and not bot.tg.callback_answers.get(query_id, {}).get("text"):
            seen.problems.append(f"{data} on an inaccessible message: silence")
    # a deleted card: its refresh is sent anew instead of edited
    bot.tg.delete_message(OWNER, card["message_id"])
    [refresh] = [data for text, data in bot.tg.buttons(card) if "Обновить" in text]
    texts = await seen.reply_to(
        OWNER, "refresh", lambda: bot.tg.press_callback_data(OWNER, refresh, message=card)
    )
    assert any(str(ORDER_NEW) in text for text in texts)
    bot.tg.errors[:] = [e for e in bot.tg.errors if "message to edit not found" not in (e.description or "")]
    seen.assert_fine()


async def test_save_under_a_message_that_is_gone_keeps_the_delivery_and_says_so(bot: Harness):
    """The summary of a delivery left for days: «Сохранить» under it comes with an inaccessible
    message. Nothing is written, and the entered delivery is not thrown away in silence."""
    seen = Observer(bot)
    await step(bot, FLORIST, "/delivery", "Какой цветок пришёл")
    await step(bot, FLORIST, "роза 60", "Сколько стеблей пришло")
    summary = await step(bot, FLORIST, "50", "проверьте")
    [save] = [data for text, data in bot.tg.buttons(summary) if "Сохранить" in text]
    query_id = await bot.tg.press_on_inaccessible(
        FLORIST, save, chat_id=FLORIST, message_id=summary["message_id"]
    )
    await settle(bot)
    seen.check_answered(query_id, "save under a gone summary")
    assert "устарело" in bot.tg.callback_answers[query_id].get("text", "")
    seen.assert_fine()
    await step(bot, FLORIST, "/cancel", "Отменено")  # the delivery was still there to cancel


async def test_odd_things_in_a_strangers_group(bot: Harness):
    """Someone's group the bot is in (added before it learnt to leave): strangers get no answers
    and no API is called for them; staff there are not bothered either."""
    bot.tg.add_group(FOREIGN_GROUP, "Чужая группа", members=[STRANGER, COURIER, FLORIST])
    seen = Observer(bot)
    for user in (STRANGER, COURIER, FLORIST):
        for what, fields in _odd_content():
            texts = await seen.reply_to(
                FOREIGN_GROUP,
                what,
                lambda user=user, fields=fields: bot.tg.send_custom(user, fields, chat_id=FOREIGN_GROUP),
            )
            if texts:
                seen.problems.append(f"{user}: {what} in a stranger's group was answered: {texts}")
    assert bot.sandbox is not None
    before = len(bot.sandbox.requests)
    for text in ("/start", "/orders", "/stock роза", f"/order {ORDER_NEW}", str(ORDER_NEW)):
        texts = await seen.reply_to(
            FOREIGN_GROUP, text, lambda text=text: bot.tg.send_message(STRANGER, text, chat_id=FOREIGN_GROUP)
        )
        if texts:
            seen.problems.append(f"a stranger's {text!r} in their group was answered: {texts}")
    assert len(bot.sandbox.requests) == before
    # a button on the bot's message there, pressed by a stranger: a toast, once, and no more
    await bot.tg.send_message(FLORIST, "/help", chat_id=FOREIGN_GROUP)
    group_message = await bot.tg.wait_for_message(FOREIGN_GROUP, text_contains="Что я умею")
    for data in (OrderCb(action="v", id=ORDER_NEW).pack(), "garbage"):
        query_id = await seen.press(STRANGER, data, group_message)
        assert "сотрудников" in bot.tg.callback_answers[query_id].get("text", "")
    assert bot.tg.messages(FOREIGN_GROUP) == [group_message]
    seen.assert_fine()


def test_the_garbage_is_garbage():
    """The generated inputs are what Telegram could deliver."""
    assert len(GARBAGE_CALLBACKS) >= 10 and all(_fits_callback(d) for d in GARBAGE_CALLBACKS)
    assert len(GARBAGE_TEXTS) >= 8 and all(t.strip() for t in GARBAGE_TEXTS)
    assert len(LONG) == 4096 and len(LONG_HTML) == 4096
