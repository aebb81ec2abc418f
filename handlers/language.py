"""/language: the person picks Русский, Қазақша or English; the bot answers in it at once and
sets the person's own command menu (their role's commands, in their language)."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from handlers.commands import set_person_menu
from services.person import Person
from services.roles import Role
from services.staff import StaffService
from views.callbacks import LanguageCb
from views.i18n import LANGUAGES
from views.inventory import button
from views.render import edit_or_send

log = logging.getLogger(__name__)

# Each language by its own name, never translated: whoever landed in a language they cannot read
# still finds theirs.
LANGUAGE_NAMES = {"ru": "Русский", "kk": "Қазақша", "en": "English"}


def language_keyboard(current: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                button(
                    ("✅ " if code == current else "") + LANGUAGE_NAMES.get(code, code),
                    LanguageCb(code=code).pack(),
                )
            ]
            for code in LANGUAGES
        ]
    )


def get_router() -> Router:
    router = Router(name="language")

    @router.message(Command("language"))
    async def choose(message: Message, locale: str) -> None:
        await message.answer(_("🌐 Выберите язык:"), reply_markup=language_keyboard(locale))

    @router.callback_query(LanguageCb.filter())
    async def chosen(
        query: CallbackQuery,
        callback_data: LanguageCb,
        staff: Person,
        role: Role,
        staff_service: StaffService,
        i18n: I18n,
        bot: Bot,
    ) -> None:
        code = callback_data.code
        if code not in LANGUAGES:
            await query.answer(_("Эта кнопка устарела. Откройте раздел заново."))
            return
        await staff_service.set_language(staff.telegram_id, code)
        with i18n.use_locale(code):  # from this answer on, the person's new language
            await query.answer(_("Готово"))
            await set_person_menu(bot, i18n, staff.telegram_id, role, code)
            if isinstance(query.message, Message):
                await edit_or_send(
                    bot,
                    query.message,
                    text=_("✅ Язык: {language}. Меню команд обновлено.").format(
                        language=LANGUAGE_NAMES[code]
                    ),
                    reply_markup=language_keyboard(code),
                )

    return router
