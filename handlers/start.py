"""/start, /help and /cancel: a greeting with the person's main actions as buttons (each button
is handled by the feature owning its command, as if the command was typed), the full list of
commands, and a way out of any started step."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from handlers.context import Ctx, needs
from handlers.feature import Feature
from handlers.orders import OrderFlow
from views.start import help_text, main_actions, start_text

CANCEL_WORDS = {"отмена", "cancel", "бас тарту"}
# Steps that come after the work is saved (a photo offered once the status has changed):
# leaving them drops only what they offered.
AFTER_SAVE = {OrderFlow.photo.state}

feature = Feature("start")
get_router = feature.router


@feature.message(CommandStart(), flags=needs())
async def start(message: Message, ctx: Ctx, demo: bool = False) -> None:
    await ctx.send(start_text(ctx.person.name, ctx.role, demo), reply_markup=main_actions(ctx.role))


@feature.message(Command("help"), flags=needs())
async def help_(message: Message, ctx: Ctx) -> None:
    await ctx.send(help_text(ctx.role))


# Registered before every feature's steps (handlers/__init__.py), so it leaves any of them.
@feature.message(Command("cancel"), flags=needs())
@feature.message(F.text.casefold().in_(CANCEL_WORDS), flags=needs())
async def cancel(message: Message, ctx: Ctx, state: FSMContext) -> None:
    if await state.get_state() is None:
        await ctx.send(_("Нечего отменять. /help — что я умею."))
        return
    left = await state.get_state()
    await state.clear()
    await ctx.send(_("Хорошо, без фото.") if left in AFTER_SAVE else _("Отменено. Ничего не сохранено."))
