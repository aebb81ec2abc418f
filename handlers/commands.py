"""The command menu on Telegram's side: setMyCommands for every language, and a person's own menu
(their role's commands in their language). The table itself lives in views/start.py."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat
from aiogram.utils.i18n import I18n

from services.roles import Role
from views.i18n import DEFAULT_LOCALE, LANGUAGES
from views.start import COMMANDS, MenuCommand, commands_for

log = logging.getLogger(__name__)


def _bot_commands(commands: Iterable[MenuCommand], i18n: I18n, locale: str) -> list[BotCommand]:
    return [
        BotCommand(command=c.command, description=i18n.gettext(c.description, locale=locale))
        for c in commands
    ]


async def set_bot_commands(bot: Bot, i18n: I18n) -> None:
    """The menu in every language; the default one (no language code) is Russian."""
    for language in (None, *LANGUAGES):
        commands = _bot_commands(COMMANDS, i18n, language or DEFAULT_LOCALE)
        await bot.set_my_commands(commands, scope=BotCommandScopeAllPrivateChats(), language_code=language)
    log.info("command menu set for %s", ", ".join(LANGUAGES))


def menu_for(role: Role, i18n: I18n, locale: str) -> list[BotCommand]:
    return _bot_commands(commands_for(role), i18n, locale)


async def set_person_menu(bot: Bot, i18n: I18n, telegram_id: int, role: Role, locale: str) -> None:
    """The person's own menu: their role's commands in their language (a convenience: never fails)."""
    try:
        await bot.set_my_commands(
            menu_for(role, i18n, locale), scope=BotCommandScopeChat(chat_id=telegram_id)
        )
    except Exception as exc:
        log.warning("could not set the command menu for %s: %s", telegram_id, exc)
