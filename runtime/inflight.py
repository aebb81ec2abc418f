"""What the bot is doing right now — updates being handled and scheduled jobs running — so a stop
can let it finish instead of cutting it in half (a card posted but not remembered is posted again
after the restart; a stock write sent but not recorded is a write nobody was told about)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

STOP_TIMEOUT = 15.0  # a deploy waits this long for the work in hand, then says what was cut off


class InFlight:
    def __init__(self) -> None:
        self._running: dict[asyncio.Task[Any], str] = {}

    @contextmanager
    def track(self, what: str) -> Iterator[None]:
        task = cast("asyncio.Task[Any]", asyncio.current_task())  # always one, under asyncio
        self._running[task] = what
        try:
            yield
        finally:
            self._running.pop(task, None)

    def running(self) -> list[str]:
        return sorted(what for task, what in self._running.items() if not task.done())

    async def wait(self, seconds: float = STOP_TIMEOUT, also: Iterable[asyncio.Task[Any]] = ()) -> list[str]:
        """Wait for what is running now (and what it starts meanwhile) to finish, and for `also`
        (tasks that may not have reached the tracking yet); returns what was still running when
        the time ran out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        current = asyncio.current_task()
        others = set(also)
        while True:
            pending = {t for t in (*self._running, *others) if not t.done() and t is not current}
            left = deadline - loop.time()
            if not pending or left <= 0:
                return sorted(self._running.get(t, "an update just received") for t in pending)
            await asyncio.wait(pending, timeout=left)


class InFlightMiddleware(BaseMiddleware):
    """Outermost on updates: every update being handled is known to the stop."""

    def __init__(self, in_flight: InFlight) -> None:
        self._in_flight = in_flight

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        update = cast(Update, event)  # registered on updates only
        with self._in_flight.track(f"update {update.update_id} ({update.event_type})"):
            return await handler(event, data)
