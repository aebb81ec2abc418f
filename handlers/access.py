"""Outer middlewares: who is this, which language, may they use the bot at all."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update, User
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from services.roles import Role
from services.staff import StaffService
from views.i18n import pick_locale

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class AccessMiddleware(BaseMiddleware):
    """Resolves the Telegram user to a staff member and role (`staff`, `role` and `locale` in the
    handler data) and stops strangers before any handler, and so any API call, runs. The bot's own
    membership changes reach the handlers for strangers too, with `staff` and `role` None: who
    added the bot where decides whether it stays."""

    def __init__(self, staff: StaffService, i18n: I18n) -> None:
        self._staff = staff
        self._i18n = i18n

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        membership = isinstance(event, Update) and event.my_chat_member is not None
        if user is None or (user.is_bot and not membership):
            return None  # channel posts and other bots: not for us
        member = await self._staff.get_active(user.id)
        role = _known_role(member.role) if member else None
        locale = pick_locale(member.language if member else None, user.language_code)
        data.update(locale=locale, i18n=self._i18n)
        with self._i18n.context(), self._i18n.use_locale(locale):
            # Strangers go on only when the bot was added to a chat or removed (the groups feature
            # decides) or with `/start <code>` (the invitation handler decides).
            if role is None and not membership and not (member is None and _invitation(event)):
                if member is not None:
                    log.warning("staff %s has an unknown role %r: refused", user.id, member.role)
                await self._refuse(event, user, data)
                return None
            if member and role and not membership and member.unreachable:
                await self._staff.set_reachable(member.telegram_id)  # writing to the bot again unblocks
            data.update(staff=member if role else None, role=role)
            return await handler(event, data)

    async def _refuse(self, event: TelegramObject, user: User, data: dict[str, Any]) -> None:
        if not isinstance(event, Update):
            return
        log.info("refused unknown user %s", user.id)
        if event.callback_query is not None:
            try:
                await event.callback_query.answer(_("Эта кнопка только для сотрудников магазина."))
            except Exception:  # an old query cannot be answered; the refusal itself must not crash
                log.debug("could not answer callback %s", event.callback_query.id, exc_info=True)
            return
        message = event.message
        if message is None:
            return
        if message.chat.type != "private":
            alert_chat_id: Callable[[], int | None] | None = data.get("alert_chat_id")
            if not (message.text or "").startswith("/") or alert_chat_id is None:
                return  # strangers chatting in a group the bot is in: stay quiet
            if message.chat.id != alert_chat_id():
                return  # and outside the shop's group, their commands too: no answers to spam with
        text = _(
            "Здравствуйте! Этот бот — для сотрудников цветочного магазина.\n"
            "Ваш Telegram ID: <code>{telegram_id}</code>\n"
            "Передайте его владельцу магазина, чтобы он добавил вас."
        ).format(telegram_id=user.id)
        await data["bot"].send_message(message.chat.id, text, message_thread_id=message.message_thread_id)


def _known_role(value: str) -> Role | None:
    try:
        return Role(value)
    except ValueError:
        return None


def _invitation(event: TelegramObject) -> bool:
    """A private `/start <payload>`: the way a new colleague arrives with an invitation link."""
    if not isinstance(event, Update) or event.message is None or event.message.chat.type != "private":
        return False
    parts = (event.message.text or "").split(maxsplit=1)
    return len(parts) == 2 and (parts[0] == "/start" or parts[0].startswith("/start@"))
