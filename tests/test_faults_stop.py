"""Stops and crashes of the real `cvety-bot run` process at each step of the work it does.

A stop (SIGTERM: a deploy, `docker stop`) must finish what it started and repeat nothing; a
crash (SIGKILL) may repeat at most the one step that was under way, and lose nothing. Every test
checks outcomes — what the group and the people saw, what the APIs hold — never calls."""

from __future__ import annotations

import asyncio
import signal
import socket
import sqlite3
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.webhook import webhook_secret
from sandbox import Sandbox
from tests.bot_process import STOPPED, BotProcess, bot_env
from tests.conftest import OWNER
from tests.fake_telegram import FakeTelegram
from tests.test_webhook import update

GROUP = -100555


@pytest.fixture
async def shop(tg: FakeTelegram, sandbox: Sandbox) -> FakeTelegram:
    tg.add_group(GROUP, "Цветы — смена", members=[OWNER])
    return tg


@pytest.fixture
async def processes() -> AsyncIterator[list[BotProcess]]:
    started: list[BotProcess] = []
    yield started
    for process in started:
        await process.aclose()


def cards(tg: FakeTelegram, number: object) -> list[dict]:
    return [m for m in tg.messages(GROUP) if f"Новый заказ №{number}" in m.get("text", "")]


async def start(processes: list[BotProcess], env: dict[str, str]) -> BotProcess:
    process = await BotProcess.start(env)
    processes.append(process)
    await process.wait_for_log("Start polling")  # signals are its own from here on
    return process


async def known_orders(processes: list[BotProcess], env: dict[str, str]) -> None:
    """A first start records the shop's orders (none is announced); then a normal stop."""
    first = await start(processes, env)
    await first.wait_for_log("first start")
    assert await first.stop() == 0, first.log


async def test_a_stop_while_a_new_order_card_is_posted_finishes_it_and_never_posts_it_again(
    shop, sandbox, tmp_path, processes
):
    env = bot_env(shop, sandbox, tmp_path, ALERT_CHAT_ID=str(GROUP), OWNER_IDS=str(OWNER))
    await known_orders(processes, env)
    order = sandbox.state.new_order()
    posting = shop.hold_answer("sendMessage", chat_id=GROUP)
    second = await start(processes, env)
    await posting.wait()  # the card is in the group; the bot has not heard back yet
    second.signal(signal.SIGTERM)
    await second.wait_for_log(STOPPED)
    posting.release()
    assert await second.wait() == 0, second.log
    assert "cut off" not in second.log
    assert len(cards(shop, order.id)) == 1

    later = sandbox.state.new_order()
    third = await start(processes, env)
    await shop.wait_for_message(GROUP, text_contains=f"№{later.id}", timeout=60)
    assert await third.stop() == 0, third.log
    assert len(cards(shop, order.id)) == 1, "the card was posted again after a normal restart"
    assert len(cards(shop, later.id)) == 1


async def test_a_crash_right_after_posting_a_card_posts_it_at_most_twice_and_loses_none(
    shop, sandbox, tmp_path, processes
):
    env = bot_env(shop, sandbox, tmp_path, ALERT_CHAT_ID=str(GROUP), OWNER_IDS=str(OWNER))
    await known_orders(processes, env)
    first, second = sandbox.state.new_order(), sandbox.state.new_order()
    # The worst moment: the card is posted, the bot has not heard back, nothing is remembered.
    posting = shop.hold_answer("sendMessage", chat_id=GROUP)
    crashing = await start(processes, env)
    await posting.wait()
    assert len(cards(shop, first.id)) == 1
    await crashing.kill()
    posting.release()

    restarted = await start(processes, env)
    await shop.wait_for_message(GROUP, text_contains=f"№{second.id}", timeout=60)
    assert await restarted.stop() == 0, restarted.log
    assert len(cards(shop, first.id)) == 2  # the one window a crash can fall in
    assert len(cards(shop, second.id)) == 1

    # Killed after the first card was remembered: that one is never posted again.
    third = sandbox.state.new_order()
    fourth = sandbox.state.new_order()
    posting = shop.hold_answer("sendMessage", chat_id=GROUP, text_contains=f"№{fourth.id}")
    once_more = await start(processes, env)
    await posting.wait()  # the fourth card is being posted: the third is remembered by now
    await once_more.kill()
    posting.release()
    fifth = sandbox.state.new_order()
    last = await start(processes, env)
    await shop.wait_for_message(GROUP, text_contains=f"№{fifth.id}", timeout=60)
    assert await last.stop() == 0, last.log
    assert len(cards(shop, third.id)) == 1
    assert 1 <= len(cards(shop, fourth.id)) <= 2


# --- a status change -----------------------------------------------------------------------------

CHANGE = "/cvety/api/v2/order/change-status"
QUIET = {"NEW_ORDER_POLL_SECONDS": "0", "LOW_STOCK_POLL_SECONDS": "0"}  # no poll between the steps


def accepted_times(sandbox: Sandbox, order_id: int) -> int:
    return sum(1 for entry in sandbox.state.orders[order_id].history if entry.status == "AP")


async def open_card(tg: FakeTelegram, order_id: int) -> dict:
    await tg.send_message(OWNER, f"/order {order_id}")
    return await tg.wait_for_message(OWNER, text_contains=f"№{order_id}", timeout=30)


async def test_a_stop_during_a_status_change_finishes_it_tells_the_person_and_repeats_nothing(
    shop, sandbox, tmp_path, processes
):
    env = bot_env(shop, sandbox, tmp_path, OWNER_IDS=str(OWNER), **QUIET)
    order = sandbox.state.new_order()
    running = await start(processes, env)
    card = await open_card(shop, order.id)
    sandbox.faults.add("POST", CHANGE, hang=True, times=1)
    await shop.press_button(OWNER, text_contains="Принять", message=card)
    await sandbox.faults.wait_hanging()
    running.signal(signal.SIGTERM)
    await running.wait_for_log(STOPPED)
    sandbox.faults.release()
    assert await running.wait() == 0, running.log
    await shop.wait_for_message(OWNER, text_contains="✍️ Принят", timeout=5)
    assert accepted_times(sandbox, order.id) == 1

    # After the restart the tap is not handled again (it was confirmed to Telegram at the stop).
    again = await start(processes, env)
    await shop.send_message(OWNER, "/help")
    await shop.wait_for_message(OWNER, text_contains="Что я умею", timeout=30)
    assert await again.stop() == 0, again.log
    assert len(shop.calls("answerCallbackQuery")) == 1
    assert not [m for m in shop.messages(OWNER) if "уже «Принят»" in m.get("text", "")]
    assert accepted_times(sandbox, order.id) == 1


async def test_a_crash_during_a_status_change_applies_it_once_and_a_new_tap_tells_the_outcome(
    shop, sandbox, tmp_path, processes
):
    env = bot_env(shop, sandbox, tmp_path, OWNER_IDS=str(OWNER), **QUIET)
    order = sandbox.state.new_order()
    crashing = await start(processes, env)
    card = await open_card(shop, order.id)
    sandbox.faults.add("POST", CHANGE, apply_then_hang=True, times=1)  # applied, the answer lost
    await shop.press_button(OWNER, text_contains="Принять", message=card)
    await sandbox.faults.wait_hanging()
    await crashing.kill()
    sandbox.faults.release()
    assert accepted_times(sandbox, order.id) == 1

    restarted = await start(processes, env)
    await shop.press_button(OWNER, text_contains="Принять", message=card)
    await shop.wait_for_message(OWNER, text_contains="уже «Принят»", timeout=30)
    assert await restarted.stop() == 0, restarted.log
    assert accepted_times(sandbox, order.id) == 1


# --- webhook mode --------------------------------------------------------------------------------


async def test_webhook_mode_stops_cleanly_on_sigterm(shop, sandbox, tmp_path, processes):
    port = free_port()
    env = bot_env(
        shop,
        sandbox,
        tmp_path,
        OWNER_IDS=str(OWNER),
        WEBHOOK_URL="https://bot.cvety.example/tg/hook",
        **QUIET,
    )
    process = await BotProcess.start(env, "--host", "127.0.0.1", "--port", str(port))
    processes.append(process)
    await process.wait_for_log("webhook set")
    sandbox.faults.add("GET", "/cvety/api/v2/orders", hang=True, times=1)
    async with aiohttp.ClientSession() as http:
        posting = http.post(
            f"http://127.0.0.1:{port}/tg/hook",
            json=update(1, OWNER, "/orders"),
            headers={"X-Telegram-Bot-Api-Secret-Token": webhook_secret(shop.token)},
        )
        answer = asyncio.ensure_future(posting)
        await sandbox.faults.wait_hanging()  # the update is being handled
        process.signal(signal.SIGTERM)
        await process.wait_for_log("stopping")
        sandbox.faults.release()
        response = await asyncio.wait_for(answer, 30)
        assert response.status == 200  # answered once handled: Telegram will not send it again
    assert await process.wait() == 0, process.log
    await shop.wait_for_message(OWNER, text_contains="Заказы", timeout=5)
    assert "cut off" not in process.log
    with sqlite3.connect(tmp_path / "bot.db") as db:
        assert db.execute("SELECT count(*) FROM leases").fetchone() == (0,), "the lease was not released"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
