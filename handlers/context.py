"""What every handler gets instead of loose dependencies: one `Ctx` (who, which role and language,
the shop's day, where to answer), built by one middleware that also refuses what a person's role
does not allow — declared on the handler with `needs(...)`, checked for every update, forged or not."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import BaseMiddleware, Bot
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.dispatcher.flags import get_flag
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import gettext as _

from handlers.errors import explain
from services.person import Person
from services.roles import Permission, Role, can
from views.i18n import N_
from views.render import esc

log = logging.getLogger(__name__)

P = Permission
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

# What a person is told when their role lacks what a handler needs (the first one it names).
REFUSALS = {
    P.ORDERS_VIEW_ALL: N_("Заказы вам недоступны."),
    P.ORDERS_VIEW_OPEN: N_("Заказы вам недоступны."),
    P.ORDERS_VIEW_COURIER: N_("Заказы вам недоступны."),
    P.ORDERS_ACCEPT_ASSEMBLE: N_("Вам нельзя так менять этот заказ."),
    P.ORDERS_DELIVER: N_("Вам нельзя так менять этот заказ."),
    P.ORDERS_CANCEL_AND_OTHER: N_("Вам нельзя отменять заказы."),
    P.STOCK_VIEW: N_("Склад вам недоступен."),
    P.STOCK_WRITE: N_("Приход и списание вам недоступны."),
    P.STOCKTAKE: N_("Пересчёт склада вам недоступен."),
    P.COLLEAGUES_VIEW: N_("Список сотрудников вам недоступен."),
    P.COLLEAGUES_MANAGE: N_("Управлять сотрудниками вам нельзя."),
    P.PROFILE: N_("Профиль вам недоступен."),
    P.SHOP_VIEW: N_("Информация о магазине вам недоступна."),
    P.SHOP_EDIT: N_("Данные магазина меняет только владелец."),
    P.ALERTS_RECEIVE: N_("Уведомления вам недоступны."),
    P.ALERTS_OPT_IN: N_("Уведомления вам недоступны."),
    P.CATALOG_VIEW: N_("Каталог вам недоступен."),
    P.SHOWCASE_EDIT: N_("Витрина вам недоступна."),
}
ORDERS_VIEW = (P.ORDERS_VIEW_ALL, P.ORDERS_VIEW_OPEN, P.ORDERS_VIEW_COURIER)


def needs(*permissions: Permission, refusal: str | None = None) -> dict[str, Any]:
    """A handler's flags: the person's role must have one of these permissions; `needs()` alone
    means any member of staff. Every handler declares it (tests/test_architecture.py). The
    refusal is REFUSALS' text for the first permission, or `refusal` (marked with N_)."""
    return (
        {"needs": permissions, "refusal": refusal or REFUSALS[permissions[0]]}
        if permissions
        else {"needs": ()}
    )


@dataclass
class Ctx:
    """The person, the shop's day and the place to answer, for one update."""

    person: Person
    role: Role
    locale: str
    tz: ZoneInfo
    bot: Bot
    chat_id: int
    today: Callable[[], date]
    screen: Message | None = None  # the message a pressed button lives on; None for typed messages
    query: CallbackQuery | None = None
    thread_id: int | None = None
    answered: bool = field(default=False, repr=False)

    @property
    def staff_id(self) -> int:
        return self.person.telegram_id

    def can(self, permission: Permission) -> bool:
        return can(self.role, permission)

    async def send(self, text: str, **kwargs: Any) -> Message:
        """A new message in the person's chat (in the group's topic when pressed there)."""
        if self.thread_id is not None:
            kwargs.setdefault("message_thread_id", self.thread_id)
        return await self.bot.send_message(self.chat_id, text, **kwargs)

    async def show(self, text: str, **kwargs: Any) -> None:
        """The screen the button lives on refreshed in place; a typed message gets a new one."""
        if self.screen is None:
            await self.send(text, **kwargs)
            return
        await self.edit(self.screen.message_id, text, **kwargs)

    async def edit(self, message_id: int | None, text: str, **kwargs: Any) -> None:
        """A message of this chat edited in place; «not modified» is success, and one that can no
        longer be edited is replaced by a new one, so the person always sees the current state."""
        await edit_or_send(self.bot, self.chat_id, message_id, text, **kwargs)

    async def toast(self, text: str | None = None, *, alert: bool = False) -> None:
        """The answer to a pressed button (a line at the top, or a box with `alert`)."""
        if self.query is None or self.answered:
            return
        self.answered = True
        try:
            await self.query.answer(text, show_alert=alert)
        except TelegramAPIError as exc:  # too old to answer: the refusal or hint itself must not crash
            log.debug("could not answer callback %s: %s", self.query.id, exc)

    async def tell(self, text: str, **kwargs: Any) -> None:
        """A short word: a toast under a pressed button, a message otherwise."""
        if self.query is not None and not self.answered:
            await self.toast(text)
        else:
            await self.send(text, **kwargs)

    async def failed(self, error: Exception, then: str = "", **kwargs: Any) -> None:
        """An API or database failure told as a message, with what to do next."""
        await self.send(esc(explain(error)) + (f"\n{then}" if then else ""), **kwargs)


async def edit_or_send(bot: Bot, chat_id: int, message_id: int | None, text: str, **kwargs: Any) -> None:
    if message_id is not None:
        try:
            await bot.edit_message_text(text=text, chat_id=chat_id, message_id=message_id, **kwargs)
            return
        except TelegramBadRequest as exc:
            if "message is not modified" in exc.message:
                return
            log.info(
                "could not edit message %s in %s (%s): sending a new one", message_id, chat_id, exc.message
            )
    await bot.send_message(chat_id, text, **kwargs)


class ContextMiddleware(BaseMiddleware):
    """Inner middleware of messages and buttons: builds the `ctx`, refuses what the handler's
    declared `needs` do not allow, tells a button under a message that is gone, and answers a
    pressed button the handler left unanswered (or it keeps spinning)."""

    def __init__(self, tz: ZoneInfo, today: Callable[[], date]) -> None:
        self._tz = tz
        self._today = today

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        person: Person | None = data.get("staff")
        role: Role | None = data.get("role")
        if person is None or role is None:  # a stranger with an invitation: no ctx
            if get_flag(data, "stranger"):
                return await handler(event, data)
            raise SkipHandler  # only handlers declared for strangers see them
        ctx = self._context(event, person, role, data)
        data["ctx"] = ctx
        try:
            result = await self._checked(handler, event, data, ctx)
        except SkipHandler:  # the next handler answers the button, not this one
            raise
        except BaseException:
            await ctx.toast()
            raise
        await ctx.toast()
        return result

    async def _checked(self, handler: Handler, event: TelegramObject, data: dict[str, Any], ctx: Ctx) -> Any:
        if isinstance(event, CallbackQuery) and ctx.screen is None:
            await ctx.toast(_("Это сообщение устарело: откройте раздел заново. /cancel — выйти из начатого."))
            return None
        wanted: tuple[Permission, ...] | None = get_flag(data, "needs")
        if wanted is None:  # tests/test_architecture.py keeps this from happening: refuse, loudly
            log.error("handler %s declares no permission: refused", data.get("handler"))
            return None
        if wanted and not any(can(ctx.role, p) for p in wanted):
            log.info("refused %s (%s) for %s: needs %s", ctx.staff_id, ctx.role, type(event).__name__, wanted)
            refusal = _(get_flag(data, "refusal") or REFUSALS[wanted[0]])
            if isinstance(event, CallbackQuery):
                await ctx.toast(refusal, alert=True)
            else:
                await ctx.send(refusal)
            return None
        return await handler(event, data)

    def _context(self, event: TelegramObject, person: Person, role: Role, data: dict[str, Any]) -> Ctx:
        ctx = Ctx(
            person,
            role,
            str(data.get("locale", "ru")),
            self._tz,
            data["bot"],
            person.telegram_id,
            self._today,
        )
        if isinstance(event, CallbackQuery):
            ctx.query = event
            if isinstance(event.message, Message):
                ctx.screen = data["screen"] = event.message
                ctx.chat_id = event.message.chat.id
                ctx.thread_id = event.message.message_thread_id if event.message.is_topic_message else None
        elif isinstance(event, Message):
            ctx.chat_id = event.chat.id
            ctx.thread_id = event.message_thread_id if event.is_topic_message else None
        return ctx
