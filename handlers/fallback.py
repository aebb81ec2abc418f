"""What no feature claimed: stale or forged buttons, and messages the bot does not understand."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _


def _under_a_gone_message(query: CallbackQuery) -> bool:
    return not isinstance(query.message, Message)


def get_stale_router() -> Router:
    """Before every feature: a button under a message the bot can no longer reach (Telegram sends
    an InaccessibleMessage for one deleted or too old). There is nothing to edit or answer under,
    and a step half done stays as it is, so the person is told instead of left with silence."""
    router = Router(name="stale")

    @router.callback_query(_under_a_gone_message)
    async def button_under_a_gone_message(query: CallbackQuery) -> None:
        await query.answer(_("Это сообщение устарело: откройте раздел заново. /cancel — выйти из начатого."))

    return router


def get_router() -> Router:
    router = Router(name="fallback")

    @router.callback_query()
    async def unknown_button(query: CallbackQuery) -> None:
        # Every callback gets an answer, or the person's button keeps spinning.
        await query.answer(_("Эта кнопка устарела. Откройте раздел заново."))

    @router.message(F.chat.type == "private")
    async def unknown_message(message: Message) -> None:
        await message.answer(_("Не понял. /help — что я умею."))

    return router
