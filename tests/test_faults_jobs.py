"""Scheduled jobs cut in the middle (as a crash cuts them): a low-stock alert, a deadline nudge, a
summary is given again rather than lost, and never twice once it went out; a summary whose time
passed while the bot was down is given at the next start."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime, time, timedelta

import pytest

from runtime.jobs import missed_summary, morning_summary, poll_low_stock, poll_new_orders
from sandbox import data
from tests.conftest import COURIER, FLORIST, OWNER, SENIOR, Harness, start_harness
from tests.fake_telegram import FakeTelegram

GROUP = -1001234567890
OPENING, CLOSING = time(9, 0), time(21, 0)


@pytest.fixture
async def shop(tg: FakeTelegram, sandbox, tmp_path) -> AsyncIterator[Harness]:
    tg.add_group(GROUP, "Цветы — смена", members=[OWNER, SENIOR, FLORIST, COURIER])
    async for harness in start_harness(tg, sandbox, tmp_path, alert_chat_id=GROUP):
        yield harness


def at(shop: Harness, hour: int, minute: int = 0, days: int = 2) -> None:
    moment = datetime.now(shop.app.settings.tz).replace(hour=hour, minute=minute) + timedelta(days=days)
    shop.app.alerts.clock = lambda: moment


def group_texts(shop: Harness, starting: str) -> list[str]:
    return [m.get("text", "") for m in shop.tg.messages(GROUP) if m.get("text", "").startswith(starting)]


async def cut_while_posting(shop: Harness, job: Awaitable[None], text_contains: str | None = None) -> None:
    """Run the job until Telegram has posted its message to the group, then cut it there."""
    posting = shop.tg.hold_answer("sendMessage", chat_id=GROUP, text_contains=text_contains)
    task = asyncio.ensure_future(job)
    await posting.wait(5)
    task.cancel()
    posting.release()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_a_low_stock_alert_cut_off_is_given_again_then_never(shop: Harness):
    assert shop.sandbox is not None
    at(shop, 6)
    await poll_low_stock(shop.app.alerts)  # the first start: what is low now is the morning's news
    shop.sandbox.state.flowers[data.FLOWER_ROSE_RED].quantity = 2
    await cut_while_posting(shop, poll_low_stock(shop.app.alerts))
    assert len(group_texts(shop, "⚠️")) == 1
    await poll_low_stock(shop.app.alerts)
    assert len(group_texts(shop, "⚠️")) == 2, "the alert was lost with the cut"
    await poll_low_stock(shop.app.alerts)
    assert len(group_texts(shop, "⚠️")) == 2


async def test_a_deadline_nudge_cut_off_is_given_again_then_never(shop: Harness):
    assert shop.sandbox is not None
    state = shop.sandbox.state
    today = state.now().date()
    state.order(data.ORDER_N).delivery_date, state.order(data.ORDER_N).slot = today, "3"  # 16:00–20:00
    start_of_day = datetime.combine(today, datetime.min.time(), shop.app.settings.tz)
    shop.app.alerts.clock = lambda: start_of_day + timedelta(hours=6)
    await poll_new_orders(shop.app.alerts)  # the first start, long before the slot
    shop.app.alerts.clock = lambda: start_of_day + timedelta(hours=15, minutes=10)
    await cut_while_posting(shop, poll_new_orders(shop.app.alerts), f"№{data.ORDER_N}")
    await poll_new_orders(shop.app.alerts)
    await poll_new_orders(shop.app.alerts)
    nudges = [t for t in group_texts(shop, "⏰") if f"№{data.ORDER_N}" in t]
    assert len(nudges) == 2, "the nudge was lost with the cut, or repeated after it went out"


async def test_a_summary_missed_while_the_bot_was_down_is_given_once_at_the_next_start(shop: Harness):
    at(shop, 8)
    await missed_summary(shop.app.alerts, OPENING, CLOSING)  # the very first start: nothing owed
    at(shop, 8, days=3)
    await missed_summary(shop.app.alerts, OPENING, CLOSING)  # before opening: nothing due yet
    assert group_texts(shop, "☀️") == []
    at(shop, 9, 40, days=3)  # the bot was restarting at 09:00
    await missed_summary(shop.app.alerts, OPENING, CLOSING)
    assert len(group_texts(shop, "☀️")) == 1
    await missed_summary(shop.app.alerts, OPENING, CLOSING)  # another restart the same morning
    await morning_summary(shop.app.alerts)  # and the scheduled run, late
    assert len(group_texts(shop, "☀️")) == 1
    at(shop, 22, days=3)  # down at closing time too
    await missed_summary(shop.app.alerts, OPENING, CLOSING)
    evenings = group_texts(shop, "🌙")
    assert len(evenings) == 1 and "Итоги дня" in evenings[0]
    assert len(group_texts(shop, "☀️")) == 1  # the morning one is not news any more


async def test_a_first_start_in_the_afternoon_gives_no_morning_summary(shop: Harness):
    at(shop, 15)
    await missed_summary(shop.app.alerts, OPENING, CLOSING)
    await morning_summary(shop.app.alerts)  # even if asked: that day is done
    assert group_texts(shop, "☀️") == []


async def test_a_summary_cut_off_is_given_again_then_never(shop: Harness):
    at(shop, 9)
    await cut_while_posting(shop, morning_summary(shop.app.alerts))
    await morning_summary(shop.app.alerts)
    await morning_summary(shop.app.alerts)
    assert len(group_texts(shop, "☀️")) == 2
