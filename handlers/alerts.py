"""/alerts: which alerts a person also gets in private (the shop's group gets them all)."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from services.alerts import AlertKind, Subscriptions
from services.person import Person
from services.roles import Permission, Role, can
from views.alerts import subscriptions_keyboard, subscriptions_text
from views.callbacks import AlertsCb
from views.render import edit_or_send


def may_subscribe(role: Role) -> bool:
    return can(role, Permission.ALERTS_RECEIVE) or can(role, Permission.ALERTS_OPT_IN)


def get_router() -> Router:
    router = Router(name="alerts")

    @router.message(Command("alerts"))
    async def alerts(message: Message, role: Role, staff: Person, subscriptions: Subscriptions) -> None:
        if not may_subscribe(role):
            await message.answer(_("Уведомления доступны владельцу, старшему флористу и флористам."))
            return
        kinds = await subscriptions.of(staff.telegram_id)
        await message.answer(subscriptions_text(kinds), reply_markup=subscriptions_keyboard(kinds))

    @router.callback_query(AlertsCb.filter())
    async def toggle(
        query: CallbackQuery,
        callback_data: AlertsCb,
        role: Role,
        staff: Person,
        subscriptions: Subscriptions,
        bot: Bot,
    ) -> None:
        if not may_subscribe(role):
            await query.answer(_("Уведомления доступны владельцу, старшему флористу и флористам."))
            return
        try:
            kind = AlertKind(callback_data.kind)
        except ValueError:
            await query.answer(_("Эта кнопка устарела."))
            return
        kinds = await subscriptions.toggle(staff.telegram_id, kind)
        await query.answer(_("Включено") if kind in kinds else _("Выключено"))
        if isinstance(query.message, Message):
            await edit_or_send(
                bot, query.message, text=subscriptions_text(kinds), reply_markup=subscriptions_keyboard(kinds)
            )

    return router
