"""What no feature claimed: stale or forged buttons, and messages the bot does not understand.

A button under a message the bot can no longer reach (deleted, or too old: Telegram sends an
InaccessibleMessage) needs nothing here: every handler declares `needs`, and the context
middleware tells the person «this message is out of date» before any of them runs."""

from __future__ import annotations

from aiogram import F
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.context import Ctx, needs
from handlers.feature import Feature

feature = Feature("fallback")
get_router = feature.router


@feature.callback_query(flags=needs())
async def unknown_button(query: CallbackQuery, ctx: Ctx) -> None:
    # Every callback gets an answer, or the person's button keeps spinning.
    await ctx.toast(_("Эта кнопка устарела. Откройте раздел заново."))


@feature.message(F.chat.type == "private", flags=needs())
async def unknown_message(message: Message, ctx: Ctx) -> None:
    await ctx.send(_("Не понял. /help — что я умею."))
