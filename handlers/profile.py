"""/profile: a person's CRM profile (name, phone, position, bio) and editing one field at a time.

A typed value is checked before anything is sent, so a refusal asks again with nothing saved;
the save re-reads the profile and PUTs all four fields (services/profile.py)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.i18n import N_
from handlers.callbacks import ProfileCb
from handlers.errors import explain
from handlers.inventory_views import button
from handlers.render import edit_or_send, esc
from services.errors import ApiError
from services.models import Profile
from services.profile import (
    InvalidInput,
    NotAllowed,
    Problem,
    ProfileField,
    ProfileService,
    clean_profile_value,
    may_edit_position,
    positions_of,
)
from services.roles import Permission, Role, can
from services.storage.repositories import StaffMember

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


class ProfileEdit(StatesGroup):
    value = State()  # data: profile_field


# --- how it looks --------------------------------------------------------------------------------


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


# --- the router ----------------------------------------------------------------------------------


def get_router() -> Router:
    router = Router(name="profile")

    @router.message(Command("profile"))
    async def show(message: Message, role: Role, state: FSMContext, profiles: ProfileService) -> None:
        if not can(role, Permission.PROFILE):
            await message.answer(_("Профиль вам недоступен."))
            return
        if await state.get_state() == ProfileEdit.value.state:
            await state.clear()  # /profile again: start over from the card
        profile = await profiles.get()
        await message.answer(profile_text(profile), reply_markup=profile_keyboard(profile, role))

    @router.callback_query(ProfileCb.filter(F.action == "e"))
    async def edit(
        query: CallbackQuery,
        callback_data: ProfileCb,
        role: Role,
        state: FSMContext,
        profiles: ProfileService,
    ) -> None:
        try:
            field = ProfileField(callback_data.arg)
        except ValueError:
            await query.answer(_("Эта кнопка устарела. Откройте раздел заново."))
            return
        if not can(role, Permission.PROFILE):
            await query.answer(_("Профиль вам недоступен."), show_alert=True)
            return
        if field is ProfileField.POSITION and not may_edit_position(role):
            await query.answer(_("Должность может менять только владелец."), show_alert=True)
            return
        await query.answer()
        if not isinstance(query.message, Message):
            return
        if field is ProfileField.POSITION:
            profile = await profiles.get()
            await query.message.answer(_("Выберите должность:"), reply_markup=positions_keyboard(profile))
            return
        await state.set_state(ProfileEdit.value)
        await state.set_data({"profile_field": field.value})
        await query.message.answer(ask_text(field), reply_markup=ask_keyboard(field))

    @router.message(ProfileEdit.value, F.text)
    async def typed(
        message: Message,
        state: FSMContext,
        staff: StaffMember,
        role: Role,
        profiles: ProfileService,
    ) -> None:
        try:
            field = ProfileField(str((await state.get_data()).get("profile_field")))
        except ValueError:
            await state.clear()
            await message.answer(_("Эта кнопка устарела. Откройте раздел заново."))
            return
        text = message.text or ""
        if text.startswith("/"):
            await message.answer(_("Сейчас я жду новое значение. /cancel — выйти."))
            return
        try:
            value = clean_profile_value(field, text)
        except InvalidInput as error:
            await message.answer(
                problem_text(error) + "\n" + ask_text(field), reply_markup=ask_keyboard(field)
            )
            return
        await state.clear()
        reply, markup = await save(staff, role, field, value, profiles)
        await message.answer(reply, reply_markup=markup)

    @router.callback_query(ProfileCb.filter(F.action == "c"))
    async def clear_bio(
        query: CallbackQuery,
        state: FSMContext,
        staff: StaffMember,
        role: Role,
        profiles: ProfileService,
        bot: Bot,
    ) -> None:
        data = await state.get_data()
        if (
            await state.get_state() != ProfileEdit.value.state
            or data.get("profile_field") != ProfileField.BIO
        ):
            await query.answer(_("Эта кнопка устарела. Откройте раздел заново."))
            return
        await query.answer()
        await state.clear()
        if not isinstance(query.message, Message):
            return
        reply, markup = await save(staff, role, ProfileField.BIO, "", profiles)
        await edit_or_send(bot, query.message, text=reply, reply_markup=markup)

    @router.callback_query(ProfileCb.filter(F.action == "p"))
    async def position_picked(
        query: CallbackQuery,
        callback_data: ProfileCb,
        staff: StaffMember,
        role: Role,
        profiles: ProfileService,
        bot: Bot,
    ) -> None:
        if not may_edit_position(role):
            await query.answer(_("Должность может менять только владелец."), show_alert=True)
            return
        await query.answer(_("⏳ Сохраняю…"))
        if not isinstance(query.message, Message):
            return
        reply, markup = await save(staff, role, ProfileField.POSITION, callback_data.arg, profiles)
        await edit_or_send(bot, query.message, text=reply, reply_markup=markup)

    @router.callback_query(ProfileCb.filter(F.action == "x"))
    async def leave(query: CallbackQuery, state: FSMContext, bot: Bot) -> None:
        await query.answer()
        if await state.get_state() == ProfileEdit.value.state:
            await state.clear()
        if isinstance(query.message, Message):
            await edit_or_send(bot, query.message, text=_("Отменено. Ничего не сохранено."))

    @router.message(ProfileEdit.value)
    async def hint(message: Message) -> None:
        await message.answer(_("Жду текст сообщением. /cancel — выйти."))

    return router


async def save(
    staff: StaffMember, role: Role, field: ProfileField, value: str, profiles: ProfileService
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Save one field; the message to show: the updated card, or why nothing changed."""
    try:
        profile = await profiles.save(staff.telegram_id, role, field, value)
    except NotAllowed:
        return _("Должность может менять только владелец."), None
    except InvalidInput as error:
        return problem_text(error), None
    except ApiError as error:
        return esc(explain(error)) + "\n" + _("Профиль не изменён."), None
    return _("✅ Сохранено.") + "\n\n" + profile_text(profile), profile_keyboard(profile, role)
