"""/profile: a person's CRM profile (name, phone, position, bio) and editing one field at a time.

A typed value is checked before anything is sent, so a refusal asks again with nothing saved;
the save re-reads the profile and PUTs all four fields (services/profile.py)."""

from __future__ import annotations

from typing import Any

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.context import Ctx, needs
from handlers.errors import explain
from handlers.feature import Feature
from handlers.forms import typed
from services.errors import ApiError
from services.profile import (
    InvalidInput,
    NotAllowed,
    ProfileField,
    ProfileService,
    clean_profile_value,
    may_edit_position,
)
from services.roles import Permission
from views.callbacks import ProfileCb
from views.i18n import N_
from views.profile import (
    ask_keyboard,
    ask_text,
    positions_keyboard,
    problem_text,
    profile_keyboard,
    profile_text,
)
from views.render import esc

P = Permission
feature = Feature("profile")
get_router = feature.router


class ProfileEdit(StatesGroup):
    value = State()  # data: profile_field


@feature.message(Command("profile"), flags=needs(P.PROFILE))
async def show(message: Message, ctx: Ctx, state: FSMContext, profiles: ProfileService) -> None:
    if await state.get_state() == ProfileEdit.value.state:
        await state.clear()  # /profile again: start over from the card
    profile = await profiles.get()
    await ctx.send(profile_text(profile), reply_markup=profile_keyboard(profile, ctx.role))


@feature.callback_query(ProfileCb.filter(F.action == "e"), flags=needs(P.PROFILE))
async def edit(
    query: CallbackQuery, callback_data: ProfileCb, ctx: Ctx, state: FSMContext, profiles: ProfileService
) -> None:
    try:
        field = ProfileField(callback_data.arg)
    except ValueError:
        await ctx.toast(_("Эта кнопка устарела. Откройте раздел заново."))
        return
    if field is ProfileField.POSITION:
        if not may_edit_position(ctx.role):
            await ctx.toast(_("Должность может менять только владелец."), alert=True)
            return
        profile = await profiles.get()
        await ctx.send(_("Выберите должность:"), reply_markup=positions_keyboard(profile))
        return
    await state.set_state(ProfileEdit.value)
    await state.set_data({"profile_field": field.value})
    await ctx.send(ask_text(field), reply_markup=ask_keyboard(field))


async def _field(state: FSMContext) -> ProfileField | None:
    try:
        return ProfileField(str((await state.get_data()).get("profile_field")))
    except ValueError:
        return None


def _read(text: str) -> str:
    return text  # checked per field in `typed_value`, which knows the field


@typed(
    feature,
    ProfileEdit.value,
    read=_read,
    problem=problem_text,
    need=(P.PROFILE,),
    waiting=N_("Сейчас я жду новое значение."),
)
async def typed_value(
    message: Message, value: str, ctx: Ctx, state: FSMContext, profiles: ProfileService
) -> None:
    field = await _field(state)
    if field is None:
        await state.clear()
        await ctx.send(_("Эта кнопка устарела. Откройте раздел заново."))
        return
    try:
        value = clean_profile_value(field, value)
    except InvalidInput as error:
        await ctx.send(problem_text(error) + "\n" + ask_text(field), reply_markup=ask_keyboard(field))
        return
    await state.clear()
    await ctx.send(**await save(ctx, field, value, profiles))


@feature.callback_query(ProfileEdit.value, ProfileCb.filter(F.action == "c"), flags=needs(P.PROFILE))
async def clear_bio(query: CallbackQuery, ctx: Ctx, state: FSMContext, profiles: ProfileService) -> None:
    if await _field(state) is not ProfileField.BIO:
        await ctx.toast(_("Эта кнопка устарела. Откройте раздел заново."))
        return
    await state.clear()
    await ctx.show(**await save(ctx, ProfileField.BIO, "", profiles))


@feature.callback_query(ProfileCb.filter(F.action == "p"), flags=needs(P.SHOP_EDIT))
async def position_picked(
    query: CallbackQuery, callback_data: ProfileCb, ctx: Ctx, profiles: ProfileService
) -> None:
    await ctx.toast(_("⏳ Сохраняю…"))
    await ctx.show(**await save(ctx, ProfileField.POSITION, callback_data.arg, profiles))


@feature.callback_query(ProfileCb.filter(F.action == "x"), flags=needs())
async def leave(query: CallbackQuery, ctx: Ctx, state: FSMContext) -> None:
    if await state.get_state() == ProfileEdit.value.state:
        await state.clear()
    await ctx.show(_("Отменено. Ничего не сохранено."))


@feature.message(ProfileEdit.value, flags=needs())
async def hint(message: Message, ctx: Ctx) -> None:
    await ctx.send(_("Жду текст сообщением. /cancel — выйти."))


async def save(ctx: Ctx, field: ProfileField, value: str, profiles: ProfileService) -> dict[str, Any]:
    """Save one field; the message to show: the updated card, or why nothing changed."""
    try:
        profile = await profiles.save(ctx.staff_id, ctx.role, field, value)
    except NotAllowed:
        return {"text": _("Должность может менять только владелец.")}
    except InvalidInput as error:
        return {"text": problem_text(error)}
    except ApiError as error:
        return {"text": esc(explain(error)) + "\n" + _("Профиль не изменён.")}
    text = _("✅ Сохранено.") + "\n\n" + profile_text(profile)
    return {"text": text, "reply_markup": profile_keyboard(profile, ctx.role)}
