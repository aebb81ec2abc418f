"""The form step every flow has: the person types a value, it is read and checked, and a value
that does not fit is asked again with the reason — written once here, declared by each step."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import F
from aiogram.dispatcher.event.handler import CallableObject
from aiogram.filters import StateFilter
from aiogram.fsm.state import State
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from handlers.context import needs
from handlers.feature import Feature
from services.roles import Permission

Step = Callable[..., Awaitable[Any]]


def typed(
    feature: Feature,
    *states: State,
    read: Callable[[str], Any],
    problem: Callable[[Any], str],
    again: Callable[[], str] | None = None,
    markup: Callable[[], InlineKeyboardMarkup | None] | None = None,
    need: tuple[Permission, ...] = (),
    waiting: str | None = None,
) -> Callable[[Step], Step]:
    """Registers the decorated step for text typed in `states`. `read(text)` gives the value or
    raises ValueError (any subclass); then `problem(error)` and the question again (`again()`,
    with `markup()`) are sent, and the step waits on. A command typed instead is answered with
    `waiting` (what the step waits for, marked with N_). The step is called with the message,
    `value=` and whatever else it names of the handler data (ctx, state, services)."""

    def register(step: Step) -> Step:
        call = CallableObject(step)

        async def handle(message: Message, **data: Any) -> Any:
            text = message.text or ""
            if text.startswith("/"):
                hint = _(waiting) if waiting else _("Сейчас я жду ответ текстом.")
                await message.answer(hint + " " + _("/cancel — выйти."))
                return None
            try:
                value = read(text)
            except ValueError as error:
                reply = problem(error) + (f"\n{again()}" if again else "")
                await message.answer(reply, reply_markup=markup() if markup else None)
                return None
            return await call.call(message, value=value, **data)

        handle.__name__ = handle.__qualname__ = step.__name__
        feature.message(StateFilter(*states), F.text, flags=needs(*need))(handle)
        return step

    return register
