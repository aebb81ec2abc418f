"""How long a florist waits between sending /orders (or an order number) and seeing the answer,
through the real bot: fake Telegram on 127.0.0.1, the real Dispatcher, the sandbox APIs.

Baseline, measured in the same run: the bare API calls the answer needs (one list call for
/orders; detail + allowed-statuses made together for a card), so the ratio is the bot's own
overhead (middlewares, database, rendering, Telegram round trips). Run:
`.venv/bin/python -m bench.round_trip`.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable

from aiogram.client.telegram import TelegramAPIServer

from bot.app import build_application
from bot.config import load_settings
from sandbox import data, start_sandbox
from tests.fake_telegram import FakeTelegram, FastAiohttpSession, run_polling

ROUNDS = 30
FLORIST = 1003


async def median_ms(probe: Callable[[], Awaitable[object]]) -> float:
    await probe()  # warm up connections and caches
    timings = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        await probe()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1000


async def main() -> None:
    sandbox = await start_sandbox()
    fake = FakeTelegram()
    await fake.start()
    fake.user(FLORIST, first_name="Асель")
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(
            bot_token=fake.token,
            telegram_api_url=fake.base_url,
            cvety_api_url=sandbox.cvety_url,
            cvety_api_token=sandbox.token,
            crm_api_url=sandbox.crm_url,
            database_url=f"sqlite+aiosqlite:///{folder}/bench.db",
            new_order_poll_seconds=0,
            low_stock_poll_seconds=0,
        )
        session = FastAiohttpSession(api=TelegramAPIServer.from_base(fake.base_url, is_local=False))
        app = await build_application(settings, bot_session=session, start_scheduler=False)
        await app.staff.add(FLORIST, role="florist", name="Асель Нурланова")
        async with run_polling(app.dp, app.bot, allowed_updates=app.allowed_updates):

            async def ask(text: str, expect: str) -> None:
                await fake.send_message(FLORIST, text)
                await fake.wait_for_message(FLORIST, text_contains=expect)

            async def card_calls() -> None:
                await asyncio.gather(
                    app.cvety.get_order(data.ORDER_DE), app.cvety.allowed_statuses(data.ORDER_DE)
                )

            rows = [
                (
                    "/orders",
                    await median_ms(lambda: ask("/orders", "Заказы")),
                    await median_ms(lambda: app.cvety.list_orders(limit=100)),
                ),
                (
                    "order card",
                    await median_ms(lambda: ask(str(data.ORDER_DE), f"№{data.ORDER_DE}")),
                    await median_ms(card_calls),
                ),
            ]
            await app.drain()
        await app.aclose()
    await fake.close()
    await sandbox.close()
    print(f"{'answer':<12} {'bot ms':>8} {'API ms':>8} {'ratio':>6}   (median of {ROUNDS})")
    for name, bot_ms, api_ms in rows:
        print(f"{name:<12} {bot_ms:8.1f} {api_ms:8.1f} {bot_ms / api_ms:6.2f}")


if __name__ == "__main__":
    asyncio.run(main())
