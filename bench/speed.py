"""How fast cvety-bot answers, against a bare aiogram bot on the same fake Bot API, in one run.

Measured, for each bot as its own `… run` subprocess (one after the other) on one fake Telegram
(tests/fake_telegram.py) and one sandbox (the fake cvety.kz + CRM APIs), both in this process:

- button press → card edited: from the fake injecting the callback update to the fake receiving
  the editMessageText of that message (cvety-bot: «Принять» on the card of a fresh new order;
  the bare bot: its one button), median of 30 after a warm-up;
- /orders → reply: from injecting "/orders" to the fake receiving the reply, median of 30;
- 20 people at once, each sending /orders again as soon as the answer came, for 10 s:
  replies per second overall, p50 and p95 reply time (cvety-bot's sender paces everything it
  sends to ~30 messages/s overall: that is its ceiling, by design);
- peak RSS (VmHWM) of each bot process after the runs, and CPU ms per update (the process's
  utime + stime over the timed phases / updates delivered in them);
- the API floor: the bare calls each action needs, made directly from here on the same servers
  (the project's CvetyApi client + plain POSTs to the fake Bot API), so bot − floor is the
  bot's own overhead;
- round trips per update of cvety-bot (SQL statements, API calls, Bot API calls), from the
  `runtime.counters` DEBUG lines of a separate, untimed run with LOG_LEVEL=DEBUG.

Prints a table with ratios; asserts nothing about times. Run: `make bench` (or
`.venv/bin/python -m bench.speed`); takes about a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from sandbox import Sandbox, start_sandbox
from services.cvety_api import CvetyApi
from services.http import make_http_client
from services.orders import LIST_FETCH_LIMIT
from services.storage.db import create_engine, migrate
from tests.bot_process import BotProcess, bot_env
from tests.fake_telegram import ApiCall, FakeTelegram

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 30
WARM_UP = 3
LOAD_PEOPLE = 20
LOAD_SECONDS = 10.0
COUNT_ROUNDS = 5
PERSON = 7001  # the one who presses and asks in the timed passes
CROWD = tuple(range(7101, 7101 + LOAD_PEOPLE))
SENDER_CEILING = 30  # runtime/sender.py: Limits.global_per_second
READY_TIMEOUT = 60.0
STEP_TIMEOUT = 30.0
COUNTER_WAIT = 5.0
ACCEPT = "Принять"  # the button pressed
ACCEPTED = "Принят"  # in the card once it is edited (the bare bot's edit too)
LISTED = "Заказы"  # in the /orders reply (the bare bot's too)
COUNTER_LINE = re.compile(r"round trips: update=(\d+) kind=(\w+) sql=(\d+) api=(\d+) telegram=(\d+)")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def median_ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000


def p95_ms(seconds: list[float]) -> float:
    if len(seconds) < 2:
        return seconds[0] * 1000
    return statistics.quantiles(seconds, n=20)[18] * 1000


@dataclass
class Load:
    replies: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    driver_cpu: float = 0.0  # share of one core this process (fake Telegram, sandbox) used meanwhile
    bot_cpu: float = 0.0  # share of one core the bot process used meanwhile

    @property
    def rate(self) -> float:
        return self.replies / self.seconds if self.seconds else 0.0


@dataclass
class Run:
    """What one bot process measured."""

    name: str
    press: list[float] = field(default_factory=list)
    orders: list[float] = field(default_factory=list)
    load: Load = field(default_factory=Load)
    rss_mib: float = 0.0
    phases: dict[str, tuple[float, int]] = field(default_factory=dict)  # name -> (CPU ms, updates)

    @property
    def cpu_ms(self) -> float:
        return sum(cpu for cpu, _ in self.phases.values())

    @property
    def updates(self) -> int:
        return sum(updates for _, updates in self.phases.values())

    @property
    def cpu_per_update(self) -> float:
        return self.cpu_ms / self.updates if self.updates else 0.0


@dataclass
class Counted:
    action: str  # what the person did: /start, /orders, order number, press
    kind: str  # the update's kind as the bot logged it
    counts: tuple[int, int, int]  # sql, api, telegram


@dataclass
class Screens:
    """What cvety-bot sent, resent by the floor: the /orders list, a card before and after «Принять»."""

    orders: dict[str, Any] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)
    accepted: dict[str, Any] = field(default_factory=dict)


class Bench:
    def __init__(self, fake: FakeTelegram, sandbox: Sandbox) -> None:
        self.fake = fake
        self.sandbox = sandbox
        self.updates = 0  # updates injected so far
        self.screens = Screens()
        self._kept: tuple[Any, ...] = ()

    def keep_sandbox(self) -> None:
        """Remember the sandbox's orders and stock as they are now, for `restore_sandbox`."""
        state = self.sandbox.state
        self._kept = copy.deepcopy((state.orders, state.flowers, state.movements, state.made_orders))

    def restore_sandbox(self) -> None:
        """Put back what `keep_sandbox` saw, so the floor's press meets the orders cvety-bot's press
        phase met (every press makes an order, and the sandbox answers slower as they pile up)."""
        state = self.sandbox.state
        orders, flowers, movements, made = copy.deepcopy(self._kept)
        state.orders.clear()
        state.orders.update(orders)
        state.flowers.clear()
        state.flowers.update(flowers)
        state.movements[:] = movements
        state.made_orders = made

    # ---------------------------------------------------------------- acting and waiting

    async def say(self, user: int, text: str) -> tuple[int, float]:
        """(request index to wait from, injection time)."""
        mark, start = len(self.fake.requests), time.monotonic()
        await self.fake.send_message(user, text)
        self.updates += 1
        return mark, start

    async def press(self, user: int, message_id: int, button: str) -> tuple[int, float, str]:
        mark, start = len(self.fake.requests), time.monotonic()
        query_id = await self.fake.press_button(
            user, text_contains=button, message={"chat": {"id": user}, "message_id": message_id}
        )
        self.updates += 1
        return mark, start, query_id

    async def sent(self, user: int, after: int, text: str | None = None) -> ApiCall:
        def matches(call: ApiCall) -> bool:
            return (
                bool(call.ok)
                and call.chat_id == user
                and (text is None or any(text in shown for _, _, shown in call.produced))
            )

        return await self.fake.wait_for("sendMessage", matches, after=after, timeout=STEP_TIMEOUT)

    async def edited(self, user: int, message_id: int, after: int) -> ApiCall:
        """The edit that shows the new status (not any edit of the message before it)."""

        def matches(call: ApiCall) -> bool:
            return (
                bool(call.ok)
                and call.chat_id == user
                and call.param_int("message_id") == message_id
                and any(ACCEPTED in shown for _, _, shown in call.produced)
            )

        return await self.fake.wait_for("editMessageText", matches, after=after, timeout=STEP_TIMEOUT)

    async def answered(self, query_id: str, after: int) -> ApiCall:
        def matches(call: ApiCall) -> bool:
            return call.params.get("callback_query_id") == query_id

        return await self.fake.wait_for("answerCallbackQuery", matches, after=after, timeout=STEP_TIMEOUT)

    def view(self, user: int, message_id: int) -> dict[str, Any]:
        return next(m for m in self.fake.messages(user) if m["message_id"] == message_id)

    # ---------------------------------------------------------------- one action, timed

    async def ask_orders(self, user: int) -> float:
        mark, start = await self.say(user, "/orders")
        return (await self.sent(user, mark, text=LISTED)).time - start

    async def open_card(self, user: int, real: bool) -> int:
        """A message with the button to press: a fresh new order's card, or the bare bot's reply."""
        if real:
            order_id = self.sandbox.state.new_order().id
            mark, _ = await self.say(user, str(order_id))
            call = await self.sent(user, mark, text=f"№{order_id}")
        else:
            mark, _ = await self.say(user, "/start")
            call = await self.sent(user, mark)
        return int(call.result["message_id"])

    async def press_round(self, user: int, real: bool) -> float:
        message_id = await self.open_card(user, real)
        before = self.view(user, message_id)
        mark, start, query_id = await self.press(user, message_id, ACCEPT)
        took = (await self.edited(user, message_id, mark)).time - start
        await self.answered(query_id, mark)  # handled to the end before the next round
        if real:
            self.screens.card, self.screens.accepted = before, self.view(user, message_id)
        return took

    # ---------------------------------------------------------------- a bot's run

    async def phase(self, bot: Process, result: Run, name: str, work: Awaitable[T]) -> T:
        """`work`, with the bot's CPU time and the updates it got meanwhile put in `result.phases`."""
        ticks, updates = bot.cpu_ticks(), self.updates
        value = await work
        result.phases[name] = ((bot.cpu_ticks() - ticks) * 1000 / TICKS_PER_SECOND, self.updates - updates)
        return value

    async def timed(self, probe: Callable[[], Awaitable[float]]) -> list[float]:
        for _ in range(WARM_UP):
            await probe()
        return [await probe() for _ in range(ROUNDS)]

    async def crowd(self) -> Load:
        await asyncio.gather(*(self.ask_orders(user) for user in CROWD))  # each one's first, untimed
        load = Load()
        begin, cpu = time.monotonic(), time.process_time()
        end = begin + LOAD_SECONDS
        last = begin

        async def person(user: int) -> None:
            nonlocal last
            while time.monotonic() < end:
                took = await self.ask_orders(user)
                load.latencies.append(took)
                load.replies += 1
                last = time.monotonic()

        await asyncio.gather(*(person(user) for user in CROWD))
        load.seconds = last - begin
        load.driver_cpu = (time.process_time() - cpu) / load.seconds
        return load

    async def run(self, name: str, args: list[str], env: dict[str, str], floor: Floor | None = None) -> Run:
        """The timed phases of one bot; with `floor` (cvety-bot), the /orders floor is taken
        right after its /orders phase, on the same orders, while the bot idles (its CPU left out)."""
        real = floor is not None
        bot = await Process.start(args, env)
        result = Run(name)
        try:
            await bot.ready(self, PERSON)
            result.orders = await self.phase(
                bot, result, "/orders", self.timed(lambda: self.ask_orders(PERSON))
            )
            if floor is not None:  # the bot idles meanwhile, outside the phases
                self.screens.orders = self.fake.messages(PERSON)[-1]
                floor.orders = await self.timed(floor.one_list)
            result.load = await self.phase(bot, result, f"{LOAD_PEOPLE} people", self.crowd())
            cpu_ms, _ = result.phases[f"{LOAD_PEOPLE} people"]
            result.load.bot_cpu = cpu_ms / 1000 / result.load.seconds
            if real:
                self.keep_sandbox()
            press = self.timed(lambda: self.press_round(PERSON, real))
            result.press = await self.phase(bot, result, "card + press", press)
            result.rss_mib = bot.peak_rss_kib() / 1024
        except BaseException:
            await bot.stop(failed=True)
            raise
        await bot.stop()
        return result

    # ---------------------------------------------------------------- counters

    async def count(self, env: dict[str, str]) -> list[Counted] | None:
        """Round trips per update of a LOG_LEVEL=DEBUG run, or None without the lines."""
        bot = await Process.start(["-m", "bot", "run"], env)
        mark = len(self.fake.requests)
        try:
            await bot.ready(self, PERSON)
            for _ in range(COUNT_ROUNDS):
                await self.ask_orders(PERSON)
            for _ in range(COUNT_ROUNDS):
                await self.press_round(PERSON, real=True)
            actions = self.delivered(mark)
            last = max(actions)
            with contextlib.suppress(TimeoutError):  # the line comes once the update is handled
                await bot.log.wait_for_log(f"update={last} kind=", timeout=COUNTER_WAIT)
        except BaseException:
            await bot.stop(failed=True)
            raise
        await bot.stop()
        counted = []
        for line in bot.log.lines:
            found = COUNTER_LINE.search(line)
            if found is not None and int(found[1]) in actions:
                counts = (int(found[3]), int(found[4]), int(found[5]))
                counted.append(Counted(actions[int(found[1])], found[2], counts))
        return counted or None

    def delivered(self, after: int) -> dict[int, str]:
        """update id -> what the person did, for the updates the bot got since request `after`."""
        actions = {}
        for call in self.fake.requests[after:]:
            if call.method.lower() != "getupdates" or not call.ok:
                continue
            for update in call.result:
                text = (update.get("message") or {}).get("text", "")
                action = (
                    "press"
                    if "callback_query" in update
                    else text.split()[0]
                    if text.startswith("/")
                    else "order number"
                )
                actions[int(update["update_id"])] = action
        return actions


class Floor:
    """The bare calls each action needs, made from here on the same servers with what cvety-bot
    sent (Screens): the project's CvetyApi client and plain POSTs to the fake Bot API."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self._cvety_http = make_http_client(bench.sandbox.cvety_url)
        self.cvety = CvetyApi(self._cvety_http, bench.sandbox.token)
        self.telegram = httpx.AsyncClient(base_url=f"{bench.fake.base_url}/bot{bench.fake.token}/")
        self.orders: list[float] = []
        self.press: list[float] = []

    async def aclose(self) -> None:
        await self.telegram.aclose()
        await self._cvety_http.aclose()

    async def post(self, method: str, **params: Any) -> Any:
        response = await self.telegram.post(method, json=params)
        body = response.json()
        assert body["ok"], f"{method}: {body}"
        return body["result"]

    @staticmethod
    def message(screen: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {"text": screen["raw"], "parse_mode": "HTML"}
        if screen.get("reply_markup"):
            params["reply_markup"] = screen["reply_markup"]
        return params

    async def one_list(self) -> float:
        """/orders: the list call, then the list sent."""
        start = time.monotonic()
        await self.cvety.list_orders(limit=LIST_FETCH_LIMIT)
        await self.post("sendMessage", chat_id=PERSON, **self.message(self.bench.screens.orders))
        return time.monotonic() - start

    async def card(self, order_id: int) -> None:
        await asyncio.gather(self.cvety.get_order(order_id), self.cvety.allowed_statuses(order_id))

    async def one_press(self) -> float:
        """«Принять»: the card read to check the move, the change, the card read again, the
        callback answered and the card edited. Enqueues a callback update: no bot may be running."""
        screens, fake = self.bench.screens, self.bench.fake
        order_id = self.bench.sandbox.state.new_order().id
        sent = await self.post("sendMessage", chat_id=PERSON, **self.message(screens.card))
        target = {"chat": {"id": PERSON}, "message_id": sent["message_id"]}
        query_id = await fake.press_callback_data(PERSON, "floor", message=target)
        start = time.monotonic()
        await self.card(order_id)
        await self.cvety.change_status(order_id, "AP")
        await self.card(order_id)
        await self.post("answerCallbackQuery", callback_query_id=query_id)
        message_id = sent["message_id"]
        await self.post(
            "editMessageText", chat_id=PERSON, message_id=message_id, **self.message(screens.accepted)
        )
        return time.monotonic() - start


class Process:
    """A bot subprocess: its stderr read as it comes (BotProcess), its /proc figures."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.pid = process.pid
        self.log = BotProcess(process)
        self._process = process

    @classmethod
    async def start(cls, args: list[str], env: dict[str, str]) -> Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            env=env,
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def ready(self, bench: Bench, user: int) -> None:
        """Ready once it has answered /start (no fixed sleep); fails with its log if it ends first."""
        mark, _ = await bench.say(user, "/start")
        answered = asyncio.create_task(
            bench.fake.wait_for(
                "sendMessage", lambda c: bool(c.ok) and c.chat_id == user, after=mark, timeout=READY_TIMEOUT
            )
        )
        ended = asyncio.create_task(self._process.wait())
        await asyncio.wait({answered, ended}, return_when=asyncio.FIRST_COMPLETED)
        if not answered.done():
            answered.cancel()
            raise RuntimeError(f"the bot ended before answering /start:\n{self.log.log}")
        ended.cancel()
        answered.result()

    def cpu_ticks(self) -> int:
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime

    def peak_rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    async def stop(self, failed: bool = False) -> None:
        """SIGTERM, and wait for it to end; its log's tail on stderr if the run failed or it did."""
        code = await self.log.stop() if self.log.running else self._process.returncode
        if failed or code != 0:
            tail = "\n".join(self.log.lines[-40:])
            print(f"bot process {self.pid} ended with {code}; its log's last lines:\n{tail}", file=sys.stderr)


# -------------------------------------------------------------------------------------------- output


def ratio(bot: float, bare: float) -> str:
    return f"{bot / bare:.2f}×" if bare else "—"


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |" for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def report(
    bare: Run,
    real: Run,
    floor: Floor,
    counted: list[Counted] | None,
) -> None:
    floor_orders, floor_press = floor.orders, floor.press
    ms = "{:.1f} ms".format
    rows = [
        ["figure", "API floor", "bare aiogram", "cvety-bot", "ratio", "target"],
        [
            "button press → card edited, median",
            ms(median_ms(floor_press)),
            ms(median_ms(bare.press)),
            ms(median_ms(real.press)),
            ratio(median_ms(real.press), median_ms(bare.press)),
            "≤ 2.5×",
        ],
        [
            "/orders → reply, median",
            ms(median_ms(floor_orders)),
            ms(median_ms(bare.orders)),
            ms(median_ms(real.orders)),
            ratio(median_ms(real.orders), median_ms(bare.orders)),
            "≤ 2.0×",
        ],
        [
            "peak RSS after the runs",
            "—",
            f"{bare.rss_mib:.1f} MiB",
            f"{real.rss_mib:.1f} MiB",
            ratio(real.rss_mib, bare.rss_mib),
            "≤ 1.15×",
        ],
        [
            "CPU per update",
            "—",
            f"{bare.cpu_per_update:.2f} ms",
            f"{real.cpu_per_update:.2f} ms",
            ratio(real.cpu_per_update, bare.cpu_per_update),
            "—",
        ],
        [
            f"{LOAD_PEOPLE} people: replies/s overall",
            "—",
            f"{bare.load.rate:.1f}/s",
            f"{real.load.rate:.1f}/s",
            ratio(real.load.rate, bare.load.rate),
            f"~{SENDER_CEILING}/s (sender pacing)",
        ],
        [
            f"{LOAD_PEOPLE} people: reply p50",
            "—",
            ms(median_ms(bare.load.latencies)),
            ms(median_ms(real.load.latencies)),
            ratio(median_ms(real.load.latencies), median_ms(bare.load.latencies)),
            "—",
        ],
        [
            f"{LOAD_PEOPLE} people: reply p95",
            "—",
            ms(p95_ms(bare.load.latencies)),
            ms(p95_ms(real.load.latencies)),
            ratio(p95_ms(real.load.latencies), p95_ms(bare.load.latencies)),
            "—",
        ],
    ]
    print(table(rows))
    print()
    print(
        f"medians of {ROUNDS} after {WARM_UP} warm-up rounds; API floor: the same calls made directly "
        "(press: detail + allowed statuses, change-status, detail + allowed statuses, "
        "answerCallbackQuery, editMessageText; /orders: the list call, sendMessage)"
    )
    print(
        f"bot overhead over the floor: press {median_ms(real.press) - median_ms(floor_press):.1f} ms, "
        f"/orders {median_ms(real.orders) - median_ms(floor_orders):.1f} ms (cvety-bot − API floor)"
    )
    for run in (bare, real):
        phases = ", ".join(f"{name} {cpu / max(n, 1):.1f}" for name, (cpu, n) in run.phases.items())
        print(
            f"{run.name}: {run.updates} updates in the timed phases, {run.cpu_ms:.0f} ms CPU "
            f"(CPU ms per update: {phases}); "
            f"{LOAD_PEOPLE} people: {run.load.replies} replies in {run.load.seconds:.1f} s "
            f"(the bot used {run.load.bot_cpu:.0%} of a core, this driver with the fake Telegram and "
            f"the sandbox {run.load.driver_cpu:.0%})"
        )
    print(
        f"cvety-bot's sender paces every send and edit to {SENDER_CEILING}/s overall "
        f"(runtime/sender.py), so {LOAD_PEOPLE} people at once meet that ceiling: "
        f"{real.load.rate:.1f}/s reached, p95 reply {p95_ms(real.load.latencies):.0f} ms under that load"
    )
    print()
    if counted is None:
        print("counters: not available (no `round trips:` lines at LOG_LEVEL=DEBUG)")
        return
    groups: dict[str, list[tuple[int, int, int]]] = {}
    for one in counted:
        groups.setdefault(f"kind={one.kind}", []).append(one.counts)
    for one in counted:
        groups.setdefault(one.action, []).append(one.counts)
    rows = [["round trips per update (median)", "updates", "sql", "api", "telegram"]]
    for name, found in groups.items():
        medians = [f"{statistics.median(c[i] for c in found):g}" for i in range(3)]
        rows.append([name, str(len(found)), *medians])
    print(table(rows))


async def main() -> None:
    began, busy = time.monotonic(), os.getloadavg()[0]
    sandbox = await start_sandbox()
    fake = FakeTelegram()
    await fake.start()
    bench = Bench(fake, sandbox)
    floor = Floor(bench)
    for user in (PERSON, *CROWD):
        fake.user(user, first_name=f"Сотрудник {user}")
    try:
        with tempfile.TemporaryDirectory(prefix="cvety-bench-") as folder:

            async def env(name: str, level: str) -> dict[str, str]:
                path = Path(folder, name)
                path.mkdir()  # noqa: ASYNC240 - before any bot runs: nothing waits on it
                # as every start after a shop's first finds its database: migrated already
                engine = create_engine(f"sqlite+aiosqlite:///{path}/bot.db")
                await migrate(engine)
                await engine.dispose()
                return bot_env(
                    fake,
                    sandbox,
                    path,
                    LOG_LEVEL=level,
                    NEW_ORDER_POLL_SECONDS="0",
                    LOW_STOCK_POLL_SECONDS="0",
                    OWNER_IDS=",".join(str(user) for user in (PERSON, *CROWD)),
                )

            print("bare aiogram …", file=sys.stderr)
            bare = await bench.run("bare aiogram", ["-m", "bench.bare_bot"], await env("bare", "WARNING"))
            print("cvety-bot …", file=sys.stderr)
            real = await bench.run("cvety-bot", ["-m", "bot", "run"], await env("real", "WARNING"), floor)
            print("cvety-bot, counting round trips (LOG_LEVEL=DEBUG) …", file=sys.stderr)
            counted = await bench.count(await env("counted", "DEBUG"))
            print("API floor of a press …", file=sys.stderr)
            bench.restore_sandbox()
            floor.press = await bench.timed(floor.one_press)  # no bot runs now: it enqueues a callback
    finally:
        await floor.aclose()
        await fake.close()
        await sandbox.close()
    report(bare, real, floor, counted)
    if fake.errors:
        print(f"\nthe fake Telegram refused {len(fake.errors)} calls, e.g. {fake.errors[0].summary()}")
    print(
        f"\nwall time {time.monotonic() - began:.0f} s on {os.cpu_count()} cores, load average "
        f"{busy:.2f} at the start (other work on the machine moves the millisecond figures)"
    )


if __name__ == "__main__":
    asyncio.run(main())
