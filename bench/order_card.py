"""How long a florist waits for an order card, against a sandbox that answers each call in 40 ms.

Prints the median time of `OrderService.card()` (detail + allowed-statuses made together, plus the
audit read) and of the same two calls made one after the other — the baseline, measured in the
same run — and their ratio. Run: `.venv/bin/python -m bench.order_card`.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from zoneinfo import ZoneInfo

from sandbox import data, start_sandbox
from services.cvety_api import CvetyApi
from services.http import make_http_client
from services.orders import OrderService
from services.storage.db import create_engine, make_sessionmaker, migrate
from services.storage.repositories import AuditLog

LATENCY = 0.04
ROUNDS = 15


async def main() -> None:
    sandbox = await start_sandbox()
    for path in ("/cvety/api/v2/orders/detail", "/cvety/api/v2/order/allowed-statuses"):
        sandbox.faults.add("GET", path, delay=LATENCY)
    http = make_http_client(sandbox.cvety_url)
    cvety = CvetyApi(http, sandbox.token)
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{folder}/bench.db")
        await migrate(engine)
        orders = OrderService(cvety, AuditLog(make_sessionmaker(engine)), tz=ZoneInfo("Asia/Almaty"))

        async def card() -> None:
            await orders.card(data.ORDER_DE)

        async def sequential() -> None:
            await cvety.get_order(data.ORDER_DE)
            await cvety.allowed_statuses(data.ORDER_DE)

        results = {}
        for name, probe in (("card (concurrent)", card), ("baseline (sequential)", sequential)):
            await probe()  # warm the connection pool
            timings = []
            for _ in range(ROUNDS):
                start = time.perf_counter()
                await probe()
                timings.append(time.perf_counter() - start)
            results[name] = statistics.median(timings)
            print(f"{name:<24} median {results[name] * 1000:7.1f} ms over {ROUNDS} rounds")
        ratio = results["card (concurrent)"] / results["baseline (sequential)"]
        print(f"ratio card / baseline: {ratio:.2f} (2 calls of {LATENCY * 1000:.0f} ms each)")
        await engine.dispose()
    await http.aclose()
    await sandbox.close()


if __name__ == "__main__":
    asyncio.run(main())
