"""/start and /help: a greeting and the menu that fits the person's role."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from handlers.commands import commands_for
from services.person import Person
from services.roles import Role
from views.i18n import N_
from views.render import esc

ROLE_NAMES = {
    Role.OWNER: N_("владелец"),
    Role.SENIOR: N_("старший флорист"),
    Role.FLORIST: N_("флорист"),
    Role.ASSISTANT: N_("помощник"),
    Role.COURIER: N_("курьер"),
}


def role_name(role: Role) -> str:
    return _(ROLE_NAMES[role])


def menu_text(role: Role) -> str:
    lines = [f"/{c.command} — {_(c.description)}" for c in commands_for(role)]
    return "\n".join(lines)


def get_router() -> Router:
    router = Router(name="start")

    @router.message(CommandStart())
    async def start(message: Message, staff: Person, role: Role, settings: Settings) -> None:
        parts = [
            _("Здравствуйте, {name}! Вы — {role}.").format(name=esc(staff.name), role=role_name(role)),
        ]
        if settings.demo:
            parts.append(_("🧪 Демо-режим: магазин, заказы и склад ненастоящие — можно нажимать всё."))
        parts.append(_("Что я умею:") + "\n" + menu_text(role))
        await message.answer("\n\n".join(parts))

    @router.message(Command("help"))
    async def help_(message: Message, role: Role) -> None:
        await message.answer(_("Что я умею:") + "\n" + menu_text(role))

    @router.message(Command("cancel"))
    @router.message(F.text.casefold().in_({"отмена", "cancel", "бас тарту"}))
    async def cancel(message: Message, state: FSMContext) -> None:
        if await state.get_state() is None:
            await message.answer(_("Нечего отменять. /help — что я умею."))
            return
        await state.clear()
        await message.answer(_("Отменено. Ничего не сохранено."))

    return router
