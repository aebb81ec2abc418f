"""A feature's handlers, declared flat at module level and attached to a fresh Router for every
Dispatcher (a Router joins one parent only, and the tests build many dispatchers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram import Router

Callback = Callable[..., Any]


class Feature:
    def __init__(self, name: str) -> None:
        self.name = name
        self._handlers: list[tuple[str, Callback, tuple[Any, ...], dict[str, Any]]] = []

    def message(self, *filters: Any, **kwargs: Any) -> Callable[[Callback], Callback]:
        return self.on("message", *filters, **kwargs)

    def callback_query(self, *filters: Any, **kwargs: Any) -> Callable[[Callback], Callback]:
        return self.on("callback_query", *filters, **kwargs)

    def on(self, event: str, *filters: Any, **kwargs: Any) -> Callable[[Callback], Callback]:
        def register(callback: Callback) -> Callback:
            self._handlers.append((event, callback, filters, kwargs))
            return callback

        return register

    def router(self) -> Router:
        router = Router(name=self.name)
        for event, callback, filters, kwargs in self._handlers:
            router.observers[event].register(callback, *filters, **kwargs)
        return router
