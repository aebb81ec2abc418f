"""The command menu: one list, filtered by role for /help and translated for setMyCommands."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat
from aiogram.utils.i18n import I18n

from services.roles import Permission, Role, can
from views.i18n import DEFAULT_LOCALE, LANGUAGES, N_

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MenuCommand:
    command: str
    description: str  # msgid, translated where the language is known
    permissions: tuple[Permission, ...] = ()  # any of these; empty: everyone


COMMANDS: tuple[MenuCommand, ...] = (
    MenuCommand("start", N_("Главное меню")),
    MenuCommand(
        "orders",
        N_("Заказы"),
        (Permission.ORDERS_VIEW_ALL, Permission.ORDERS_VIEW_OPEN, Permission.ORDERS_VIEW_COURIER),
    ),
    MenuCommand("stock", N_("Склад: найти цветок"), (Permission.STOCK_VIEW,)),
    MenuCommand("delivery", N_("Приход цветов"), (Permission.STOCK_WRITE,)),
    MenuCommand("writeoff", N_("Списание"), (Permission.STOCK_WRITE,)),
    MenuCommand("lowstock", N_("Что заканчивается"), (Permission.STOCK_VIEW,)),
    MenuCommand("history", N_("История движений"), (Permission.STOCK_VIEW,)),
    MenuCommand("stocktake", N_("Пересчёт склада"), (Permission.STOCKTAKE,)),
    MenuCommand("staff", N_("Сотрудники и приглашения"), (Permission.COLLEAGUES_VIEW,)),
    MenuCommand("alerts", N_("Уведомления в личку"), (Permission.ALERTS_RECEIVE, Permission.ALERTS_OPT_IN)),
    MenuCommand("vitrina", N_("Витрина: готовые букеты"), (Permission.CATALOG_VIEW,)),
    MenuCommand("catalog", N_("Каталог: букеты и цены"), (Permission.CATALOG_VIEW,)),
    MenuCommand("customer", N_("Найти клиента"), (Permission.CATALOG_VIEW,)),
    MenuCommand("profile", N_("Мой профиль"), (Permission.PROFILE,)),
    MenuCommand("shop", N_("Магазин: адрес, телефон, часы"), (Permission.SHOP_VIEW,)),
    MenuCommand("language", N_("Язык / Тіл / Language")),
    MenuCommand("help", N_("Что умеет бот")),
    MenuCommand("cancel", N_("Отменить текущее действие")),
)


def commands_for(role: Role) -> list[MenuCommand]:
    return [c for c in COMMANDS if not c.permissions or any(can(role, p) for p in c.permissions)]


async def set_bot_commands(bot: Bot, i18n: I18n) -> None:
    """The menu in every language; the default one (no language code) is Russian."""
    for language in (None, *LANGUAGES):
        locale = language or DEFAULT_LOCALE
        commands = [
            BotCommand(command=c.command, description=i18n.gettext(c.description, locale=locale))
            for c in COMMANDS
        ]
        await bot.set_my_commands(commands, scope=BotCommandScopeAllPrivateChats(), language_code=language)
    log.info("command menu set for %s", ", ".join(LANGUAGES))


def menu_for(role: Role, i18n: I18n, locale: str) -> list[BotCommand]:
    return [
        BotCommand(command=c.command, description=i18n.gettext(c.description, locale=locale))
        for c in commands_for(role)
    ]


async def set_person_menu(bot: Bot, i18n: I18n, telegram_id: int, role: Role, locale: str) -> None:
    """The person's own menu: their role's commands in their language (a convenience: never fails)."""
    try:
        await bot.set_my_commands(
            menu_for(role, i18n, locale), scope=BotCommandScopeChat(chat_id=telegram_id)
        )
    except Exception as exc:
        log.warning("could not set the command menu for %s: %s", telegram_id, exc)
