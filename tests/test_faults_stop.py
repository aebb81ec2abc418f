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
from sandbox import Sandbox, data
from tests.bot_process import BotProcess, bot_env
from tests.conftest import OWNER
from tests.fake_telegram import TINY_PNG, FakeTelegram
from tests.test_webhook import update

GROUP = -100555
FINISHING = "stop: finishing"  # the bot stopped taking updates and waits for the work in hand


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


async def hanging(sandbox: Sandbox) -> None:
    """A request of the bot's is held by the sandbox now."""
    await asyncio.wait_for(sandbox.faults.wait_hanging(), 30)


async def stop_while_the_api_holds_a_request(sandbox: Sandbox, process: BotProcess) -> None:
    """SIGTERM while the sandbox holds a request of the bot's; the request goes on once the bot
    says it waits for the work in hand, and the stop must end cleanly."""
    await hanging(sandbox)
    process.signal(signal.SIGTERM)
    await process.wait_for_log(FINISHING)
    sandbox.faults.release()
    assert await process.wait() == 0, process.log


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
    await second.wait_for_log(FINISHING)
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
    await stop_while_the_api_holds_a_request(sandbox, running)
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
    await hanging(sandbox)
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
    await process.wait_for_log("listening on")
    sandbox.faults.add("GET", "/cvety/api/v2/orders", hang=True, times=1)
    async with aiohttp.ClientSession() as http:
        posting = http.post(
            f"http://127.0.0.1:{port}/tg/hook",
            json=update(1, OWNER, "/orders"),
            headers={"X-Telegram-Bot-Api-Secret-Token": webhook_secret(shop.token)},
        )
        answer = asyncio.ensure_future(posting)
        await hanging(sandbox)  # the update is being handled
        process.signal(signal.SIGTERM)
        await process.wait_for_log(FINISHING)
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


# --- deliveries and write-offs -------------------------------------------------------------------

DELIVERY = "/crm/api/flowers/delivery"
WRITEOFF = "/crm/api/flowers/writeoff"


async def say(tg: FakeTelegram, text: str, expect: str) -> dict:
    await tg.send_message(OWNER, text)
    return await tg.wait_for_message(OWNER, text_contains=expect, timeout=30)


async def press(tg: FakeTelegram, label: str, expect: str | None = None) -> dict | None:
    await tg.press_button(OWNER, text_contains=label)
    return await tg.wait_for_message(OWNER, text_contains=expect, timeout=30) if expect else None


async def delivery_up_to_save(tg: FakeTelegram) -> None:
    await say(tg, "/delivery", "Какой цветок пришёл")
    await say(tg, "роза 60", "Сколько стеблей пришло")
    await say(tg, "50", "Приход — проверьте")


def applied(sandbox: Sandbox, path: str) -> int:
    """Writes the CRM carried out (each movement is one)."""
    kind = "delivery" if path == DELIVERY else "writeoff"
    return sum(1 for m in sandbox.state.movements if m.movement_type == kind and "[op:" in (m.note or ""))


def rose(sandbox: Sandbox) -> int:
    return sandbox.state.flowers[data.FLOWER_ROSE_RED].quantity


async def test_a_stop_while_the_crm_is_slow_saves_the_delivery_once_and_says_so(
    shop, sandbox, tmp_path, processes
):
    env = bot_env(shop, sandbox, tmp_path, OWNER_IDS=str(OWNER), **QUIET)
    before = rose(sandbox)
    running = await start(processes, env)
    await delivery_up_to_save(shop)
    sandbox.faults.add("POST", DELIVERY, hang=True, times=1)
    await press(shop, "Сохранить")
    await stop_while_the_api_holds_a_request(sandbox, running)
    await shop.wait_for_message(OWNER, text_contains="Приход сохранён", timeout=5)
    assert rose(sandbox) == before + 50 and applied(sandbox, DELIVERY) == 1

    again = await start(processes, env)
    await again.wait_for_log("executed successfully")  # the retry pass at start found nothing to do
    assert await again.stop() == 0, again.log
    assert rose(sandbox) == before + 50 and applied(sandbox, DELIVERY) == 1


async def test_a_delivery_kept_while_the_crm_is_down_goes_out_once_after_a_restart(
    shop, sandbox, tmp_path, processes
):
    env = bot_env(shop, sandbox, tmp_path, OWNER_IDS=str(OWNER), **QUIET)
    before = rose(sandbox)
    running = await start(processes, env)
    await delivery_up_to_save(shop)
    sandbox.faults.add("POST", DELIVERY, status=503, times=1)
    await press(shop, "Сохранить", "отправлю, когда склад ответит")
    assert await running.stop() == 0, running.log
    assert rose(sandbox) == before

    await start(processes, env)  # the CRM is back
    told = await shop.wait_for_message(OWNER, text_contains="Приход сохранён", timeout=30)
    assert "Склад ответил" in told["text"]
    assert rose(sandbox) == before + 50 and applied(sandbox, DELIVERY) == 1


async def test_a_crash_after_the_crm_applied_a_delivery_never_counts_it_twice(
    shop, sandbox, tmp_path, processes
):
    env = bot_env(shop, sandbox, tmp_path, OWNER_IDS=str(OWNER), **QUIET)
    before = rose(sandbox)
    crashing = await start(processes, env)
    await delivery_up_to_save(shop)
    sandbox.faults.add("POST", DELIVERY, apply_then_hang=True, times=1)
    await press(shop, "Сохранить")
    await hanging(sandbox)  # the CRM counted it; the bot has not heard
    await crashing.kill()
    sandbox.faults.release()
    assert rose(sandbox) == before + 50

    restarted = await start(processes, env)
    told = await shop.wait_for_message(OWNER, text_contains="Приход сохранён", timeout=30)
    assert "Склад ответил" in told["text"]  # the person hears how it ended after all
    assert await restarted.stop() == 0, restarted.log
    assert "found in history" in restarted.log
    assert rose(sandbox) == before + 50 and applied(sandbox, DELIVERY) == 1


async def test_a_stop_during_a_write_off_finishes_it_once(shop, sandbox, tmp_path, processes):
    env = bot_env(shop, sandbox, tmp_path, OWNER_IDS=str(OWNER), **QUIET)
    before = rose(sandbox)
    running = await start(processes, env)
    await say(shop, "/writeoff", "Какой цветок списать")
    await say(shop, "роза 60", "Сколько стеблей списать")
    await say(shop, "3", "Почему списываем")
    await press(shop, "Увяли", "фото")
    await press(shop, "Пропустить", "Списание — проверьте")
    sandbox.faults.add("POST", WRITEOFF, hang=True, times=1)
    await press(shop, "Сохранить")
    await stop_while_the_api_holds_a_request(sandbox, running)
    await shop.wait_for_message(OWNER, text_contains="Списание сохранено", timeout=5)
    assert rose(sandbox) == before - 3 and applied(sandbox, WRITEOFF) == 1


# --- a bouquet put on the showcase ---------------------------------------------------------------

CREATE = "/cvety/api/v2/product/create"


def bouquets(sandbox: Sandbox, title: str) -> int:
    return sum(1 for p in sandbox.state.products.values() if p.title == title)


async def bouquet_up_to_preview(tg: FakeTelegram, title: str) -> dict:
    await say(tg, "/vitrina", "Витрина")
    await press(tg, "Добавить на витрину", "Пришлите фото букета")
    await tg.send_photo(OWNER, TINY_PNG, caption=title)
    await tg.wait_for_message(OWNER, text_contains="Цена букета", timeout=30)
    await say(tg, "18 500 тг", "Размер букета")
    preview = await press(tg, "Пропустить", "Проверьте букет")
    assert preview is not None
    return preview


async def test_a_stop_while_a_bouquet_is_created_finishes_it_once(shop, sandbox, tmp_path, processes):
    env = bot_env(shop, sandbox, tmp_path, OWNER_IDS=str(OWNER), **QUIET)
    running = await start(processes, env)
    preview = await bouquet_up_to_preview(shop, "Пионы к празднику")
    sandbox.faults.add("POST", CREATE, hang=True, times=1)
    await shop.press_button(OWNER, text_contains="Выставить", message=preview)
    await stop_while_the_api_holds_a_request(sandbox, running)
    await shop.wait_for_message(OWNER, text_contains="на витрине", timeout=5)
    assert bouquets(sandbox, "Пионы к празднику") == 1


async def test_a_crash_while_a_bouquet_is_created_never_puts_it_up_twice(shop, sandbox, tmp_path, processes):
    env = bot_env(shop, sandbox, tmp_path, OWNER_IDS=str(OWNER), **QUIET)
    crashing = await start(processes, env)
    preview = await bouquet_up_to_preview(shop, "Розы и эвкалипт")
    sandbox.faults.add("POST", CREATE, apply_then_hang=True, times=1)
    await shop.press_button(OWNER, text_contains="Выставить", message=preview)
    await hanging(sandbox)  # created on the site; the bot has not heard
    await crashing.kill()
    sandbox.faults.release()
    assert bouquets(sandbox, "Розы и эвкалипт") == 1

    # The draft survived in the database; the tap comes again (a phone that never saw the
    # buttons go, or a tap queued while the bot was down).
    [save] = [data for text, data in shop.buttons(preview) if "Выставить" in text]
    restarted = await start(processes, env)
    await shop.press_callback_data(OWNER, save, message=preview)
    await shop.wait_for_message(OWNER, text_contains="на витрине", timeout=30)
    assert await restarted.stop() == 0, restarted.log
    assert bouquets(sandbox, "Розы и эвкалипт") == 1, "the bouquet was put up twice"
