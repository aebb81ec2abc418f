"""/profile and /shop as they look: the person's CRM profile card, the positions to pick, the
questions for one field, and why a typed value was refused."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from services.models import Profile
from services.profile import InvalidInput, Problem, ProfileField, may_edit_position, positions_of
from services.roles import Role
from views.callbacks import ProfileCb
from views.i18n import N_
from views.render import button, esc

POSITION_NAMES = {
    "owner": N_("Владелец"),
    "senior": N_("Старший флорист"),
    "florist": N_("Флорист"),
    "assistant": N_("Помощник"),
    "director": N_("Директор"),
    "manager": N_("Менеджер"),
    "seller": N_("Продавец"),
    "courier": N_("Курьер"),
}
# A position travels in the button's data: a code with the separator or over 64 bytes cannot.
MAX_POSITION_BYTES = 40


def position_name(code: str | None) -> str:
    """A position in the person's language; an unknown code as it came (plain text: escape it
    before it goes into HTML)."""
    if not code:
        return "—"
    known = POSITION_NAMES.get(code)
    return _(known) if known else code


def problem_text(error: InvalidInput) -> str:
    """Why a typed value was refused (profile and shop fields alike)."""
    problem = error.problem
    if problem is Problem.EMPTY:
        return _("Пустое сообщение.")
    if problem is Problem.TOO_SHORT:
        return _("Слишком коротко: нужно от {minimum} до {maximum} символов.").format(
            minimum=error.minimum, maximum=error.maximum
        )
    if problem is Problem.TOO_LONG:
        return _("Слишком длинно: {length} символов, можно до {maximum}.").format(
            length=error.length, maximum=error.maximum
        )
    if problem is Problem.PHONE:
        return _("Не похоже на казахстанский номер. Пример: 8 777 123 45 67 или +7 777 123 45 67.")
    if problem is Problem.LINK:
        return _("Нужна ссылка, начинающаяся с https://, или имя через @, например @cvety_kz.")
    if problem is Problem.WHATSAPP:
        return _("Нужен номер телефона (8 777 123 45 67) или ссылка https://wa.me/77771234567.")
    return _("Такой должности нет в списке.")


def profile_text(profile: Profile) -> str:
    dash = "—"
    lines = [
        _("👤 <b>Мой профиль</b>"),
        "",
        _("Имя: {name}").format(name=esc(profile.name) if profile.name else dash),
        _("Телефон: {phone}").format(phone=esc(profile.phone) if profile.phone else dash),
        _("Должность: {position}").format(position=esc(position_name(profile.position))),
        _("О себе: {bio}").format(bio=esc(profile.bio) if profile.bio else dash),
    ]
    return "\n".join(lines)


def profile_keyboard(profile: Profile, role: Role) -> InlineKeyboardMarkup | None:
    if profile.can_edit is False:
        return None  # the server says this profile is read-only
    rows = [
        [
            button(_("✏️ Имя"), ProfileCb(action="e", arg=ProfileField.NAME).pack()),
            button(_("✏️ Телефон"), ProfileCb(action="e", arg=ProfileField.PHONE).pack()),
        ],
        [button(_("✏️ О себе"), ProfileCb(action="e", arg=ProfileField.BIO).pack())],
    ]
    if may_edit_position(role):
        rows[1].append(button(_("✏️ Должность"), ProfileCb(action="e", arg=ProfileField.POSITION).pack()))
    return InlineKeyboardMarkup(inline_keyboard=rows)


def positions_keyboard(profile: Profile) -> InlineKeyboardMarkup:
    rows = [
        [
            button(
                ("✅ " if code == profile.position else "") + position_name(code),
                ProfileCb(action="p", arg=code).pack(),
            )
        ]
        for code in positions_of(profile)
        if ":" not in code and len(code.encode()) <= MAX_POSITION_BYTES
    ]
    rows.append([button(_("↩️ Отмена"), ProfileCb(action="x").pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def ask_text(field: ProfileField) -> str:
    if field is ProfileField.NAME:
        return _("Напишите имя — от 2 до 255 символов.")
    if field is ProfileField.PHONE:
        return _("Напишите телефон, например 8 777 123 45 67.")
    return _("Напишите о себе — до 1000 символов. «-» или кнопка «Очистить» — убрать текст.")


def ask_keyboard(field: ProfileField) -> InlineKeyboardMarkup:
    rows = []
    if field is ProfileField.BIO:
        rows.append([button(_("🧹 Очистить"), ProfileCb(action="c", arg=ProfileField.BIO).pack())])
    rows.append([button(_("↩️ Отмена"), ProfileCb(action="x").pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)
