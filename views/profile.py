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


PROBLEMS = {
    Problem.EMPTY: N_("Пустое сообщение."),
    Problem.TOO_SHORT: N_("Слишком коротко: нужно от {minimum} до {maximum} символов."),
    Problem.TOO_LONG: N_("Слишком длинно: {length} символов, можно до {maximum}."),
    Problem.PHONE: N_("Не похоже на казахстанский номер. Пример: 8 777 123 45 67 или +7 777 123 45 67."),
    Problem.LINK: N_("Нужна ссылка, начинающаяся с https://, или имя через @, например @cvety_kz."),
    Problem.WHATSAPP: N_("Нужен номер телефона (8 777 123 45 67) или ссылка https://wa.me/77771234567."),
    Problem.POSITION: N_("Такой должности нет в списке."),
}
QUESTIONS = {
    ProfileField.NAME: N_("Напишите имя — от 2 до 255 символов."),
    ProfileField.PHONE: N_("Напишите телефон, например 8 777 123 45 67."),
    ProfileField.BIO: N_("Напишите о себе — до 1000 символов. «-» или кнопка «Очистить» — убрать текст."),
}


def problem_text(error: InvalidInput) -> str:
    """Why a typed value was refused (profile and shop fields alike)."""
    return _(PROBLEMS[error.problem]).format(
        minimum=error.minimum, maximum=error.maximum, length=error.length
    )


def profile_text(profile: Profile) -> str:
    return "\n".join(
        [
            _("👤 <b>Мой профиль</b>"),
            "",
            _("Имя: {name}").format(name=esc(profile.name or "—")),
            _("Телефон: {phone}").format(phone=esc(profile.phone or "—")),
            _("Должность: {position}").format(position=esc(position_name(profile.position))),
            _("О себе: {bio}").format(bio=esc(profile.bio or "—")),
        ]
    )


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
    return _(QUESTIONS.get(field, QUESTIONS[ProfileField.BIO]))


def ask_keyboard(field: ProfileField) -> InlineKeyboardMarkup:
    rows = []
    if field is ProfileField.BIO:
        rows.append([button(_("🧹 Очистить"), ProfileCb(action="c", arg=ProfileField.BIO).pack())])
    rows.append([button(_("↩️ Отмена"), ProfileCb(action="x").pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)
