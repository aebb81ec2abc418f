"""What a person sees of the bot itself: the /start screen with the main actions of their role,
the /help list, the command menu (one table, filtered by role and translated for
setMyCommands) and the /language choice."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from services.roles import Permission, Role, can
from views.callbacks import LanguageCb, MenuCb
from views.i18n import LANGUAGES, N_
from views.render import button, esc, keyboard

P = Permission


@dataclass(frozen=True)
class MenuCommand:
    command: str
    description: str  # msgid, translated where the language is known
    permissions: tuple[Permission, ...] = ()  # any of these; empty: everyone


COMMANDS: tuple[MenuCommand, ...] = (
    MenuCommand("start", N_("Главное меню")),
    MenuCommand("orders", N_("Заказы"), (P.ORDERS_VIEW_ALL, P.ORDERS_VIEW_OPEN, P.ORDERS_VIEW_COURIER)),
    MenuCommand("stock", N_("Склад: найти цветок"), (P.STOCK_VIEW,)),
    MenuCommand("delivery", N_("Приход цветов"), (P.STOCK_WRITE,)),
    MenuCommand("writeoff", N_("Списание"), (P.STOCK_WRITE,)),
    MenuCommand("lowstock", N_("Что заканчивается"), (P.STOCK_VIEW,)),
    MenuCommand("history", N_("История движений"), (P.STOCK_VIEW,)),
    MenuCommand("stocktake", N_("Пересчёт склада"), (P.STOCKTAKE,)),
    MenuCommand("staff", N_("Сотрудники и приглашения"), (P.COLLEAGUES_VIEW,)),
    MenuCommand("alerts", N_("Уведомления в личку"), (P.ALERTS_RECEIVE, P.ALERTS_OPT_IN)),
    MenuCommand("vitrina", N_("Витрина: готовые букеты"), (P.CATALOG_VIEW,)),
    MenuCommand("catalog", N_("Каталог: букеты и цены"), (P.CATALOG_VIEW,)),
    MenuCommand("customer", N_("Найти клиента"), (P.CATALOG_VIEW,)),
    MenuCommand("profile", N_("Мой профиль"), (P.PROFILE,)),
    MenuCommand("shop", N_("Магазин: адрес, телефон, часы"), (P.SHOP_VIEW,)),
    MenuCommand("language", N_("Язык / Тіл / Language")),
    MenuCommand("help", N_("Что умеет бот")),
    MenuCommand("cancel", N_("Отменить текущее действие")),
)

# The /start buttons: what hands do all day, in the order of a shift. A role sees the ones its
# commands allow (the table above decides, nothing else).
MAIN_ACTIONS: tuple[tuple[str, str], ...] = (
    ("orders", N_("📋 Заказы")),
    ("delivery", N_("➕ Приход")),
    ("writeoff", N_("➖ Списание")),
    ("stock", N_("🌸 Склад")),
    ("vitrina", N_("🌷 Витрина")),
    ("catalog", N_("💐 Каталог")),
    ("staff", N_("👥 Сотрудники")),
)
ACTIONS_PER_ROW = 2

ROLE_NAMES = {
    Role.OWNER: N_("владелец"),
    Role.SENIOR: N_("старший флорист"),
    Role.FLORIST: N_("флорист"),
    Role.ASSISTANT: N_("помощник"),
    Role.COURIER: N_("курьер"),
}

# Each language by its own name, never translated: whoever landed in a language they cannot read
# still finds theirs.
LANGUAGE_NAMES = {"ru": "Русский", "kk": "Қазақша", "en": "English"}


def commands_for(role: Role) -> list[MenuCommand]:
    return [c for c in COMMANDS if not c.permissions or any(can(role, p) for p in c.permissions)]


def role_name(role: Role) -> str:
    return _(ROLE_NAMES[role])


def menu_text(role: Role) -> str:
    return "\n".join(f"/{c.command} — {_(c.description)}" for c in commands_for(role))


def help_text(role: Role) -> str:
    return _("Что я умею:") + "\n" + menu_text(role)


def _action_label(command: str, label: str, role: Role) -> str:
    if command == "orders" and not (can(role, P.ORDERS_VIEW_ALL) or can(role, P.ORDERS_VIEW_OPEN)):
        return _("🚚 Мои доставки")  # a courier's orders are the deliveries
    return _(label)


def main_actions(role: Role) -> InlineKeyboardMarkup:
    """The /start buttons: the main actions the person's role may use, two to a row."""
    allowed = {c.command for c in commands_for(role)}
    buttons = [
        button(_action_label(command, label, role), MenuCb(open=command))
        for command, label in MAIN_ACTIONS
        if command in allowed
    ]
    return keyboard(*(buttons[i : i + ACTIONS_PER_ROW] for i in range(0, len(buttons), ACTIONS_PER_ROW)))


def start_text(name: str, role: Role, demo: bool) -> str:
    parts = [_("Здравствуйте, {name}! Вы — {role}.").format(name=esc(name), role=role_name(role))]
    if demo:
        parts.append(_("🧪 Демо-режим: магазин, заказы и склад ненастоящие — можно нажимать всё."))
    parts.append(_("Все команды — /help"))
    return "\n\n".join(parts)


def language_keyboard(current: str) -> InlineKeyboardMarkup:
    names = {code: ("✅ " if code == current else "") + LANGUAGE_NAMES.get(code, code) for code in LANGUAGES}
    return keyboard(*([button(name, LanguageCb(code=code))] for code, name in names.items()))
