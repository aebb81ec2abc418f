"""Alerts end to end: the real bot, the fake Telegram enforcing flood limits, the sandbox, and
the jobs called directly (or once through the scheduler) with a clock the test controls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED

from runtime.jobs import evening_summary, morning_summary, poll_low_stock, poll_new_orders
from sandbox import data
from services.alerts import ORDERS_KEY, AlertKind
from services.roles import Role
from tests.conftest import COURIER, FLORIST, OWNER, SENIOR, STRANGER, Harness, run_job_now, start_harness
from tests.fake_telegram import FakeClock, FakeTelegram

GROUP = -1001234567890
ALMATY_TZ = "Asia/Almaty"


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(flood_limits=True)
    await fake.start()
    for user in (OWNER, SENIOR, FLORIST, COURIER, STRANGER):
        fake.user(user)
    fake.add_group(GROUP, "Цветы — смена", members=[OWNER, SENIOR, FLORIST, COURIER, STRANGER])
    yield fake
    await fake.close()


def calm_day(harness: Harness) -> None:
    """A moment when no seeded order is near its delivery slot, so no deadline nudge interferes."""
    moment = datetime.now(harness.app.settings.tz).replace(hour=6, minute=0) + timedelta(days=2)
    harness.app.alerts.clock = lambda: moment


@pytest.fixture
async def shop(tg: FakeTelegram, sandbox, tmp_path) -> AsyncIterator[Harness]:
    async for harness in start_harness(tg, sandbox, tmp_path, alert_chat_id=GROUP):
        calm_day(harness)
        yield harness


def group_texts(bot: Harness) -> list[str]:
    return [m.get("text", "") for m in bot.tg.messages(GROUP)]


def new_order(bot: Harness) -> int:
    assert bot.sandbox is not None
    return bot.sandbox.state.new_order().id


async def test_first_start_replays_nothing_then_each_new_order_once(shop: Harness):
    await poll_new_orders(shop.app.alerts)
    assert group_texts(shop) == []
    order_id = new_order(shop)
    await poll_new_orders(shop.app.alerts)
    [card] = shop.tg.messages(GROUP)
    assert f"Новый заказ №{order_id}" in card["text"] and "₸" in card["text"]
    assert [text for text, _ in shop.tg.buttons(card)] == ["✍️ Принять"]
    await poll_new_orders(shop.app.alerts)
    await poll_new_orders(shop.app.alerts)
    assert len(shop.tg.messages(GROUP)) == 1


async def test_a_restart_does_not_repeat_and_a_crash_does_not_lose(tg: FakeTelegram, sandbox, tmp_path):
    async for first in start_harness(tg, sandbox, tmp_path, alert_chat_id=GROUP):
        calm_day(first)
        await poll_new_orders(first.app.alerts)
        announced = new_order(first)
        await poll_new_orders(first.app.alerts)
        crashed = new_order(first)
        await first.app.alerts.watch.poll()  # the watermark moved, then the process died before posting
    async for second in start_harness(tg, sandbox, tmp_path, alert_chat_id=GROUP):
        calm_day(second)
        await poll_new_orders(second.app.alerts)
        await poll_new_orders(second.app.alerts)
        texts = group_texts(second)
        assert sum(f"№{announced}" in t for t in texts) == 1
        assert sum(f"№{crashed}" in t for t in texts) == 1


async def test_the_card_follows_a_change_made_outside_the_bot(shop: Harness):
    assert shop.sandbox is not None
    await poll_new_orders(shop.app.alerts)
    order_id = new_order(shop)
    await poll_new_orders(shop.app.alerts)
    shop.sandbox.state.change_status(order_id, "AP")
    await poll_new_orders(shop.app.alerts)
    [card] = shop.tg.messages(GROUP)
    assert card["edited"] and "Принят — вне бота" in card["text"]
    assert shop.tg.buttons(card) == []
    shop.sandbox.state.change_status(order_id, "UN")
    await poll_new_orders(shop.app.alerts)
    assert "Заказ отменён" in shop.tg.messages(GROUP)[0]["text"]


async def test_accept_from_the_group_and_refusals(shop: Harness):
    assert shop.sandbox is not None
    await poll_new_orders(shop.app.alerts)
    order_id = new_order(shop)
    await poll_new_orders(shop.app.alerts)
    card = shop.tg.messages(GROUP)[0]

    stranger = await shop.tg.press_button(STRANGER, text_contains="Принять", message=card)
    await shop.tg.wait_for("answerCallbackQuery")
    assert "сотрудников" in shop.tg.callback_answers[stranger]["text"]
    courier = await shop.tg.press_button(COURIER, text_contains="Принять", message=card)
    await shop.tg.wait_for("answerCallbackQuery")
    assert "нельзя" in shop.tg.callback_answers[courier]["text"]
    assert shop.sandbox.state.order(order_id).status == "N"

    await shop.tg.press_button(FLORIST, text_contains="Принять", message=card)
    edited = await shop.tg.wait_for_message(GROUP, text_contains="Принят — Асель Нурланова")
    assert edited["message_id"] == card["message_id"]
    assert shop.sandbox.state.order(order_id).status == "AP"
    assert len(shop.tg.messages(GROUP)) == 1  # the group is not spammed with a full card
    await poll_new_orders(shop.app.alerts)  # the poll sees the change the bot made: no second edit
    assert shop.tg.messages(GROUP)[0]["text"] == edited["text"]


async def test_sixty_orders_at_once_are_folded_into_digests(shop: Harness):
    await poll_new_orders(shop.app.alerts)
    ids = [new_order(shop) for _ in range(60)]
    await poll_new_orders(shop.app.alerts)
    texts = [t for t in group_texts(shop) if t.startswith("🔔")]
    assert len(texts) == 4  # 60 orders in digests of 15
    for order_id in ids:
        assert sum(f"№{order_id}" in t for t in texts) == 1
    assert shop.tg.max_sends_per_window(GROUP) <= 20


async def test_more_cards_than_the_limit_wait_for_their_turn(sandbox, tmp_path, monkeypatch):
    """Even without digests the sender keeps the group within the flood limit and loses nothing."""
    import runtime.alerts

    monkeypatch.setattr(runtime.alerts, "INDIVIDUAL_LIMIT", 1000)
    clock = FakeClock()
    async with FakeTelegram(flood_limits=True, clock=clock.now) as fake:
        fake.user(OWNER)
        fake.add_group(GROUP, "Цветы — смена", members=[OWNER])
        async for shop in start_harness(
            fake, sandbox, tmp_path, alert_chat_id=GROUP, sender_time=(clock.now, clock.sleep)
        ):
            calm_day(shop)
            await poll_new_orders(shop.app.alerts)
            for _ in range(45):
                new_order(shop)
            start = clock.now()
            await poll_new_orders(shop.app.alerts)
            assert len(group_texts(shop)) == 45
            assert fake.max_sends_per_window(GROUP) <= 20
            assert clock.now() - start >= 120  # 20 + 20 + 5: two full minutes of waiting, on virtual time


async def test_low_stock_once_not_repeated_and_again_after_restock(shop: Harness):
    assert shop.sandbox is not None
    rose = shop.sandbox.state.flowers[data.FLOWER_ROSE_RED]
    await poll_low_stock(shop.app.alerts)
    assert group_texts(shop) == []  # already low at the first start: the morning summary lists those
    rose.quantity = 2
    await poll_low_stock(shop.app.alerts)
    [alert] = group_texts(shop)
    assert "Роза красная 60 см" in alert and "Эустома белая" not in alert
    await poll_low_stock(shop.app.alerts)
    assert len(group_texts(shop)) == 1
    rose.quantity = 100
    await poll_low_stock(shop.app.alerts)
    rose.quantity = 1
    await poll_low_stock(shop.app.alerts)
    assert len(group_texts(shop)) == 2 and "Роза красная 60 см" in group_texts(shop)[1]


async def test_morning_lists_everything_low_and_evening_sums_up(shop: Harness):
    await morning_summary(shop.app.alerts)
    morning = group_texts(shop)[-1]
    assert "Доброе утро" in morning and "Эустома белая" in morning and "Лента атласная" in morning
    await evening_summary(shop.app.alerts)
    evening = group_texts(shop)[-1]
    assert "Итоги дня" in evening and "Выполнено заказов" in evening and "Выручка" in evening


async def test_deadline_nudges_once(shop: Harness):
    assert shop.sandbox is not None
    state = shop.sandbox.state
    card = await open_card_as(shop, FLORIST, data.ORDER_N)
    await shop.tg.press_button(FLORIST, text_contains="Принять", message=card)
    await shop.tg.wait_for_message(FLORIST, text_contains="✍️ Принят")
    today = state.now().date()
    for order_id in (data.ORDER_N, data.ORDER_CO):
        state.order(order_id).delivery_date, state.order(order_id).slot = today, "3"  # 16:00–20:00
    zone = shop.app.settings.tz
    start_of_day = datetime.combine(today, datetime.min.time(), zone)
    shop.app.alerts.clock = lambda: start_of_day + timedelta(hours=15, minutes=10)
    await poll_new_orders(shop.app.alerts)
    await poll_new_orders(shop.app.alerts)
    nudges = [t for t in group_texts(shop) if t.startswith("⏰")]
    assert sum(f"№{data.ORDER_N}" in t and "ещё не собран" in t for t in nudges) == 1
    assert not any(f"№{data.ORDER_CO}" in t for t in nudges)  # 50 minutes left: couriers not yet
    private = [m["text"] for m in shop.tg.messages(FLORIST) if m.get("text", "").startswith("⏰")]
    assert len(private) == 1 and f"№{data.ORDER_N}" in private[0]  # to the florist who took it
    shop.app.alerts.clock = lambda: start_of_day + timedelta(hours=15, minutes=35)
    await poll_new_orders(shop.app.alerts)
    await poll_new_orders(shop.app.alerts)
    nudges = [t for t in group_texts(shop) if t.startswith("⏰")]
    assert sum(f"№{data.ORDER_N}" in t for t in nudges) == 1
    assert sum(f"№{data.ORDER_CO}" in t and "никто не повёз" in t for t in nudges) == 1
    to_courier = [m["text"] for m in shop.tg.messages(COURIER) if m.get("text", "").startswith("⏰")]
    assert sum(f"№{data.ORDER_CO}" in t for t in to_courier) == 1


async def open_card_as(bot: Harness, user: int, order_id: int) -> dict:
    await bot.tg.send_message(user, f"/order {order_id}")
    return await bot.tg.wait_for_message(user, text_contains=f"№{order_id}")


async def test_quiet_hours_are_silent_but_nothing_is_dropped(tg: FakeTelegram, sandbox, tmp_path):
    async for shop in start_harness(tg, sandbox, tmp_path, alert_chat_id=GROUP, quiet_hours="00:00-23:59"):
        calm_day(shop)
        await poll_new_orders(shop.app.alerts)
        new_order(shop)
        await poll_new_orders(shop.app.alerts)
        [call] = [c for c in tg.requests if c.method == "sendMessage" and c.chat_id == GROUP]
        assert str(call.params.get("disable_notification")).lower() == "true"


async def test_private_copies_for_those_who_asked(shop: Harness):
    await shop.tg.send_message(FLORIST, "/alerts")
    screen = await shop.tg.wait_for_message(FLORIST, text_contains="Уведомления в личку")
    await shop.tg.press_button(FLORIST, text_contains="Новые заказы", message=screen)
    await shop.tg.wait_for_message(FLORIST, text_contains="✅ Новые заказы")
    await shop.tg.send_message(COURIER, "/alerts")
    await shop.tg.wait_for_message(COURIER, text_contains="доступны")
    await poll_new_orders(shop.app.alerts)
    order_id = new_order(shop)
    await poll_new_orders(shop.app.alerts)
    copies = [m for m in shop.tg.messages(FLORIST) if f"Новый заказ №{order_id}" in m.get("text", "")]
    assert len(copies) == 1
    assert not any(f"№{order_id}" in m.get("text", "") for m in shop.tg.messages(SENIOR))


async def test_group_migration_is_followed(shop: Harness):
    new_group = -1009876543210
    shop.tg.add_group(new_group, "Цветы — смена", members=[OWNER])
    await poll_new_orders(shop.app.alerts)
    new_order(shop)
    shop.tg.fail_next(
        "sendMessage",
        error_code=400,
        description="Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=new_group,
    )
    await poll_new_orders(shop.app.alerts)
    assert len(shop.tg.messages(new_group)) == 1
    assert shop.app.alerts.chat_id == new_group
    assert await shop.app.kv.get("alerts.chat_id") == new_group


async def test_polls_run_at_start_on_the_scheduler_and_zero_switches_them_off(
    tg: FakeTelegram, sandbox, tmp_path
):
    async for shop in start_harness(
        tg,
        sandbox,
        tmp_path,
        alert_chat_id=GROUP,
        start_scheduler=True,
        new_order_poll_seconds=60,
        low_stock_poll_seconds=0,
    ):
        scheduler = shop.app.dp.workflow_data["scheduler"]
        assert scheduler.get_job("poll_low_stock") is None
        assert scheduler.get_job("morning_summary") and scheduler.get_job("evening_summary")
        assert scheduler.get_job("poll_new_orders").trigger.interval == timedelta(seconds=60)
        assert await run_job_now(shop, "poll_new_orders") == EVENT_JOB_EXECUTED
        assert await run_job_now(shop, "housekeeping") == EVENT_JOB_EXECUTED
        assert await shop.app.kv.get(ORDERS_KEY) is not None


async def test_an_alert_chat_the_bot_cannot_post_in_is_reported_at_start(
    tg: FakeTelegram, sandbox, tmp_path, caplog
):
    tg.kick_bot(GROUP)
    async for _shop in start_harness(tg, sandbox, tmp_path, alert_chat_id=GROUP):
        pass
    assert any("cannot post" in r.getMessage() for r in caplog.records)


async def test_private_copies_stop_when_the_role_no_longer_allows_them(shop: Harness):
    await shop.tg.send_message(FLORIST, "/alerts")
    screen = await shop.tg.wait_for_message(FLORIST, text_contains="Уведомления в личку")
    await shop.tg.press_button(FLORIST, text_contains="Новые заказы", message=screen)
    await shop.tg.wait_for_message(FLORIST, text_contains="✅ Новые заказы")
    await shop.app.staff.change_role(FLORIST, Role.COURIER)
    await poll_new_orders(shop.app.alerts)
    order_id = new_order(shop)
    await poll_new_orders(shop.app.alerts)
    assert not any(f"№{order_id}" in m.get("text", "") for m in shop.tg.messages(FLORIST))


async def test_a_person_who_blocked_the_bot_is_skipped_until_they_write_again(shop: Harness):
    await shop.app.alerts.subscriptions.toggle(SENIOR, AlertKind.NEW_ORDERS)
    shop.tg.block(SENIOR)
    await poll_new_orders(shop.app.alerts)
    new_order(shop)
    await poll_new_orders(shop.app.alerts)
    assert (await shop.app.staff.get(SENIOR)).unreachable  # type: ignore[union-attr]
    calls = len([c for c in shop.tg.requests if c.chat_id == SENIOR])
    new_order(shop)
    await poll_new_orders(shop.app.alerts)
    assert len([c for c in shop.tg.requests if c.chat_id == SENIOR]) == calls  # not tried again
    shop.tg.unblock(SENIOR)
    await shop.tg.send_message(SENIOR, "/help")
    await shop.tg.wait_for_message(SENIOR, text_contains="Что я умею")
    assert not (await shop.app.staff.get(SENIOR)).unreachable  # type: ignore[union-attr]
    assert [e.error_code for e in shop.tg.errors] == [403]  # the one expected refusal
    shop.tg.errors.clear()
