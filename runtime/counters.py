"""Round trips per update, for finding where an update's time goes: SQL statements, calls to the
shop's APIs and calls to the Bot API that handling one update made. Installed only when the
`runtime.counters` logger is at DEBUG (LOG_LEVEL=DEBUG), so a normal run pays nothing; each
update then logs one line:

    round trips: update=17 kind=message sql=1 api=1 telegram=1
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

import httpx
from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject, Update
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)


@dataclass
class RoundTrips:
    sql: int = 0
    api: int = 0
    telegram: int = 0


# Tasks an update's handling starts (a send through the sender) copy the context: theirs count too.
_current: ContextVar[RoundTrips | None] = ContextVar("round_trips", default=None)


def enabled() -> bool:
    return log.isEnabledFor(logging.DEBUG)


def install(dp: Dispatcher, engine: AsyncEngine, clients: Iterable[httpx.AsyncClient], bot: Bot) -> None:
    """Hooks the counters into the database engine, the API clients and the bot's session, and
    counts per update from outside aiogram's own middlewares (the FSM state is read there)."""

    def on_statement(*_: Any) -> None:
        if (counts := _current.get()) is not None:
            counts.sql += 1

    async def on_request(_: httpx.Request) -> None:
        if (counts := _current.get()) is not None:
            counts.api += 1

    event.listen(engine.sync_engine, "before_cursor_execute", on_statement)
    for client in clients:
        client.event_hooks["request"].append(on_request)
    bot.session.middleware(_CountTelegram())
    builtin = list(dp.update.outer_middleware)
    for middleware in builtin:
        dp.update.outer_middleware.unregister(middleware)
    dp.update.outer_middleware(_CountPerUpdate())
    for middleware in builtin:
        dp.update.outer_middleware(middleware)


class _CountTelegram(BaseRequestMiddleware):
    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Any:
        if (counts := _current.get()) is not None:
            counts.telegram += 1
        return await make_request(bot, method)


class _CountPerUpdate(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        update = cast(Update, event)  # registered on updates only
        counts = RoundTrips()
        token = _current.set(counts)
        try:
            return await handler(event, data)
        finally:
            _current.reset(token)
            log.debug(
                "round trips: update=%s kind=%s sql=%s api=%s telegram=%s",
                update.update_id,
                update.event_type,
                counts.sql,
                counts.api,
                counts.telegram,
            )
