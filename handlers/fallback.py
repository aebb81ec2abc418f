"""What no feature claimed: stale or forged buttons, and messages the bot does not understand."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _


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
