"""/alerts: which alerts a person also gets in private (the shop's group gets them all)."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.context import Ctx, needs
from handlers.feature import Feature
from services.alerts import AlertKind, Subscriptions
from services.roles import Permission
from views.alerts import subscriptions_keyboard, subscriptions_text
from views.callbacks import AlertsCb

P = Permission
ALERTS = (P.ALERTS_RECEIVE, P.ALERTS_OPT_IN)

feature = Feature("alerts")
get_router = feature.router


@feature.message(Command("alerts"), flags=needs(*ALERTS))
async def alerts(message: Message, ctx: Ctx, subscriptions: Subscriptions) -> None:
    kinds = await subscriptions.of(ctx.staff_id)
    await ctx.send(subscriptions_text(kinds), reply_markup=subscriptions_keyboard(kinds))


# A kind the bot does not know (forged or from an older version) is left to the fallback.
@feature.callback_query(AlertsCb.filter(F.kind.in_({k.value for k in AlertKind})), flags=needs(*ALERTS))
async def toggle(
    query: CallbackQuery, callback_data: AlertsCb, ctx: Ctx, subscriptions: Subscriptions
) -> None:
    kind = AlertKind(callback_data.kind)
    kinds = await subscriptions.toggle(ctx.staff_id, kind)
    await ctx.toast(_("Включено") if kind in kinds else _("Выключено"))
    await ctx.show(subscriptions_text(kinds), reply_markup=subscriptions_keyboard(kinds))
