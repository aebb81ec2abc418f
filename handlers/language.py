"""/language: the person picks Русский, Қазақша or English; the bot answers in it at once and
sets the person's own command menu (their role's commands, in their language)."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from handlers.commands import set_person_menu
from handlers.context import Ctx, needs
from handlers.feature import Feature
from services.staff import StaffService
from views.callbacks import LanguageCb
from views.i18n import LANGUAGES
from views.start import LANGUAGE_NAMES, language_keyboard

feature = Feature("language")
get_router = feature.router


@feature.message(Command("language"), flags=needs())
async def choose(message: Message, ctx: Ctx) -> None:
    await ctx.send(_("🌐 Выберите язык:"), reply_markup=language_keyboard(ctx.locale))


# A code the bot does not speak (forged or from an older version) is left to the fallback's
# «this button is out of date».
@feature.callback_query(LanguageCb.filter(F.code.in_(LANGUAGES)), flags=needs())
async def chosen(
    query: CallbackQuery, callback_data: LanguageCb, ctx: Ctx, staff_service: StaffService, i18n: I18n
) -> None:
    code = callback_data.code
    await staff_service.set_language(ctx.staff_id, code)
    with i18n.use_locale(code):  # from this answer on, the person's new language
        await ctx.toast(_("Готово"))
        await set_person_menu(ctx.bot, i18n, ctx.staff_id, ctx.role, code)
        text = _("✅ Язык: {language}. Меню команд обновлено.").format(language=LANGUAGE_NAMES[code])
        await ctx.show(text, reply_markup=language_keyboard(code))
