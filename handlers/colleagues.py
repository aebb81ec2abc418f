"""/staff (owners and seniors): colleagues from the CRM, adding and editing them, their access to
the bot, invitation links; and `/start <code>` for the person who got such a link.

Who may change whom is the service's rule (services/people.py): a refusal arrives as PeopleError
(ColleagueGone for someone gone, ValueError for a forged button) and is told once, by `_done`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram import Bot, F
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from handlers.commands import set_person_menu
from handlers.context import Ctx, needs
from handlers.feature import Feature
from handlers.forms import Step, typed
from services.errors import ApiError
from services.parsing import normalize_phone
from services.people import (
    ColleagueGone,
    ColleagueService,
    InviteProblem,
    InviteService,
    PeopleError,
    allowed_position,
)
from services.person import Person
from services.roles import Permission, Role
from services.staff import clean_name
from views import people as screens
from views.callbacks import ColleagueCb, InviteCb, MenuCb
from views.i18n import N_
from views.render import esc

log = logging.getLogger(__name__)
T = TypeVar("T")
VIEW, MANAGE = Permission.COLLEAGUES_VIEW, Permission.COLLEAGUES_MANAGE
GONE = N_("Такого сотрудника больше нет.")
UNCHANGED = N_("Ничего не изменено.")
NOT_CONNECTED = N_("Этот сотрудник не подключён к боту.")
PHONE_PROBLEM = N_("Не похоже на казахстанский номер. Например: 8 777 123 45 67 или +7 (777) 123-45-67")

feature = Feature("colleagues")
get_router = feature.router
arrivals = Feature("invitations")  # before the plain /start; strangers have no ctx (flag «stranger»)
get_start_router = arrivals.router


class AddColleague(StatesGroup):
    name = State()
    phone = State()
    position = State()
    confirm = State()  # data: name, phone, position


class EditColleague(StatesGroup):
    name = State()  # data (both): id, field
    phone = State()


# A position is picked with a button that carries the colleague: no step waits for it.
FIELDS = {"name": EditColleague.name, "phone": EditColleague.phone, "position": None}


async def _done(ctx: Ctx, work: Awaitable[T], gone: str = GONE, then: str = UNCHANGED) -> T | None:
    """What the service did, or None once the person is told why nothing was."""
    try:
        return await work
    except ApiError as error:
        await ctx.failed(error, then=_(then) if then else "")
    except (PeopleError, ColleagueGone, ValueError) as error:
        await _refuse(ctx, error, gone)
    return None


async def _refuse(ctx: Ctx, error: Exception, gone: str = GONE) -> None:
    """An alert under the pressed button; a message when the button is answered already."""
    if ctx.query is not None and not ctx.answered:
        await ctx.toast(screens.refused_text(error, gone), alert=isinstance(error, PeopleError))
    else:
        await ctx.send(screens.refused_text(error, gone))


async def _card(ctx: Ctx, colleagues: ColleagueService, colleague_id: str, head: str = "") -> None:
    view = await colleagues.view(colleague_id)
    await (ctx.show(**screens.card_screen(view, ctx.role, head)) if view else ctx.tell(_(GONE)))


@feature.message(Command("staff"), flags=needs(VIEW))
@feature.callback_query(MenuCb.filter(F.open == "staff"), flags=needs(VIEW))
async def show_staff(event: Message | CallbackQuery, ctx: Ctx, colleagues: ColleagueService) -> None:
    result = await colleagues.list(only_active=True)
    await ctx.send(**screens.list_screen(result.items, only_active=True, position=None, page=0))


@feature.callback_query(ColleagueCb.filter(F.action == "l"), flags=needs(VIEW))
async def staff_page(
    query: CallbackQuery, callback_data: ColleagueCb, ctx: Ctx, colleagues: ColleagueService
) -> None:
    only_active, position = screens.scope_of(callback_data.arg)
    result = await _done(ctx, colleagues.list(only_active=only_active, position=position), then="")
    if result is not None:
        await ctx.show(**screens.list_screen(result.items, only_active, position, callback_data.page))


@feature.callback_query(ColleagueCb.filter(F.action == "o"), flags=needs(VIEW))
async def open_card(
    query: CallbackQuery, callback_data: ColleagueCb, ctx: Ctx, colleagues: ColleagueService
) -> None:
    await _card(ctx, colleagues, callback_data.id)


def _step(state: State, read: Callable[[str], str], problem: str) -> Callable[[Step], Step]:
    """A typed value of the add and edit forms: asked again with `problem` until it fits."""
    again = screens.cancel_keyboard
    return typed(feature, state, read=read, problem=lambda _e: _(problem), markup=again, need=(MANAGE,))


@feature.callback_query(ColleagueCb.filter(F.action == "n"), flags=needs(MANAGE))
async def add_start(query: CallbackQuery, ctx: Ctx, state: FSMContext) -> None:
    await state.set_state(AddColleague.name)
    await state.set_data({})
    await ctx.send(**screens.question("name", ctx.role))


@_step(AddColleague.name, clean_name, N_("Имя — от 2 до 255 символов. Как зовут сотрудника?"))
async def add_name(message: Message, value: str, ctx: Ctx, state: FSMContext) -> None:
    await state.update_data(name=value)
    await state.set_state(AddColleague.phone)
    await ctx.send(**screens.question("phone", ctx.role))


@_step(AddColleague.phone, normalize_phone, PHONE_PROBLEM)
async def add_phone(message: Message, value: str, ctx: Ctx, state: FSMContext) -> None:
    await state.update_data(phone=value)
    await state.set_state(AddColleague.position)
    await ctx.send(**screens.question("position", ctx.role))


@feature.callback_query(
    AddColleague.position, ColleagueCb.filter((F.action == "p") & ~F.id), flags=needs(MANAGE)
)
async def add_position(query: CallbackQuery, callback_data: ColleagueCb, ctx: Ctx, state: FSMContext) -> None:
    try:
        position = allowed_position(ctx.role, callback_data.arg)
    except (PeopleError, ValueError) as error:
        await _refuse(ctx, error)
        return
    await state.update_data(position=position)
    await state.set_state(AddColleague.confirm)
    await ctx.show(**screens.confirm_new(await state.get_data()))


@feature.callback_query(AddColleague.confirm, ColleagueCb.filter(F.action == "s"), flags=needs(MANAGE))
async def add_save(query: CallbackQuery, ctx: Ctx, state: FSMContext, colleagues: ColleagueService) -> None:
    new = await state.get_data()
    await state.clear()  # before the call: a second tap finds nothing to save
    await ctx.toast(_("⏳ Сохраняю…"))
    work = colleagues.create(ctx.person, ctx.role, new["name"], new["phone"], new["position"])
    colleague = await _done(ctx, work, then=N_("Сотрудник не добавлен."))
    if colleague is not None:
        head = _("✅ Сотрудник добавлен: {name}.").format(name=esc(colleague.name or ""))
        await _card(ctx, colleagues, colleague.id, head)


@feature.message(AddColleague.position, flags=needs())
async def position_hint(message: Message, ctx: Ctx) -> None:
    await ctx.send(_("Выберите должность кнопкой выше."))


@feature.callback_query(ColleagueCb.filter((F.action == "e") & F.arg.in_(FIELDS)), flags=needs(MANAGE))
async def edit_start(
    query: CallbackQuery,
    callback_data: ColleagueCb,
    ctx: Ctx,
    state: FSMContext,
    colleagues: ColleagueService,
) -> None:
    if await _done(ctx, colleagues.editable(ctx.role, callback_data.id)):
        await state.set_state(FIELDS[callback_data.arg])
        await state.set_data({"id": callback_data.id, "field": callback_data.arg})
        await ctx.send(**screens.question(callback_data.arg, ctx.role, callback_data.id))


@_step(EditColleague.name, clean_name, N_("Имя — от 2 до 255 символов. Напишите ещё раз."))
@_step(EditColleague.phone, normalize_phone, PHONE_PROBLEM)
async def edit_typed(
    message: Message, value: str, ctx: Ctx, state: FSMContext, colleagues: ColleagueService
) -> None:
    edit = await state.get_data()
    await state.clear()
    await _save(ctx, colleagues, edit["id"], edit["field"], value)


@feature.callback_query(ColleagueCb.filter((F.action == "p") & F.id), flags=needs(MANAGE))
async def set_position(
    query: CallbackQuery, callback_data: ColleagueCb, ctx: Ctx, colleagues: ColleagueService
) -> None:
    await _save(ctx, colleagues, callback_data.id, "position", callback_data.arg)


async def _save(ctx: Ctx, colleagues: ColleagueService, colleague_id: str, field: str, value: str) -> None:
    if await _done(ctx, colleagues.edit(ctx.person, ctx.role, colleague_id, field, value)):
        await _card(ctx, colleagues, colleague_id, _("✅ Сохранено."))


@feature.callback_query(ColleagueCb.filter(F.action == "t"), flags=needs(MANAGE))
async def toggle(
    query: CallbackQuery, callback_data: ColleagueCb, ctx: Ctx, colleagues: ColleagueService
) -> None:
    updated = await _done(ctx, colleagues.toggle(ctx.person, ctx.role, callback_data.id))
    if updated is not None:
        done = _("Активирован(а)") if updated.is_active else _("Деактивирован(а): доступ к боту закрыт")
        await _card(ctx, colleagues, callback_data.id, done)


@feature.callback_query(ColleagueCb.filter(F.action == "d"), flags=needs(MANAGE))
async def delete_ask(
    query: CallbackQuery, callback_data: ColleagueCb, ctx: Ctx, colleagues: ColleagueService
) -> None:
    view = await _done(ctx, colleagues.editable(ctx.role, callback_data.id))
    if view is not None:
        await ctx.show(**screens.delete_question(view.colleague))


@feature.callback_query(ColleagueCb.filter(F.action == "D"), flags=needs(MANAGE))
async def delete(
    query: CallbackQuery, callback_data: ColleagueCb, ctx: Ctx, colleagues: ColleagueService
) -> None:
    if await _done(ctx, colleagues.delete(ctx.person, ctx.role, callback_data.id), gone=N_("Уже удалён.")):
        await ctx.toast(_("Удалено"))
        await ctx.show(_("🗑 Сотрудник удалён, доступ к боту закрыт."))


@feature.callback_query(ColleagueCb.filter(F.action == "x"), flags=needs())
async def leave(query: CallbackQuery, ctx: Ctx, state: FSMContext) -> None:
    current = await state.get_state()
    if current in AddColleague or current in EditColleague:  # another feature's flow stays
        await state.clear()
    await ctx.show(_("Отменено. Ничего не сохранено."))


@feature.callback_query(ColleagueCb.filter(F.action == "R"), flags=needs(MANAGE))
async def role_ask(
    query: CallbackQuery, callback_data: ColleagueCb, ctx: Ctx, colleagues: ColleagueService
) -> None:
    if await _done(ctx, colleagues.bot_member(ctx.role, callback_data.id), gone=NOT_CONNECTED):
        await ctx.send(**screens.roles_screen(callback_data.id))


@feature.callback_query(ColleagueCb.filter(F.action == "r"), flags=needs(MANAGE))
async def role_set(
    query: CallbackQuery, callback_data: ColleagueCb, ctx: Ctx, colleagues: ColleagueService, i18n: I18n
) -> None:
    work = colleagues.set_role(ctx.person, ctx.role, callback_data.id, callback_data.arg)
    changed = await _done(ctx, work, gone=NOT_CONNECTED)
    if changed is not None:
        await set_person_menu(ctx.bot, i18n, changed.telegram_id, Role(changed.role), changed.language)
        await ctx.toast(_("Готово"))
        await ctx.show(screens.role_changed_text(changed))


@feature.callback_query(InviteCb.filter(F.action.in_({"l", "c"})), flags=needs(MANAGE))
async def invite_menu(
    query: CallbackQuery, callback_data: InviteCb, ctx: Ctx, invites: InviteService
) -> None:
    await ctx.send(**screens.invites_screen(await invites.open_invites(), ctx.role, ctx.tz, callback_data.id))


@feature.callback_query(InviteCb.filter(F.action == "r"), flags=needs(MANAGE))
async def invite_make(
    query: CallbackQuery,
    callback_data: InviteCb,
    ctx: Ctx,
    invites: InviteService,
    colleagues: ColleagueService,
) -> None:
    view = await colleagues.view(callback_data.id) if callback_data.id else None
    work = invites.create(ctx.person, ctx.role, callback_data.arg, colleague=view.colleague if view else None)
    invite = await _done(ctx, work)
    if invite is not None:
        await ctx.send(screens.invite_text(invite, (await ctx.bot.me()).username or ""))


@feature.callback_query(InviteCb.filter(F.action == "v"), flags=needs(MANAGE))
async def invite_revoke(
    query: CallbackQuery, callback_data: InviteCb, ctx: Ctx, invites: InviteService
) -> None:
    revoked = await invites.revoke(ctx.person, ctx.role, callback_data.arg)  # needs(MANAGE): allowed
    await ctx.toast(_("Ссылка отозвана") if revoked else _("Эта ссылка уже не действует"))
    await ctx.show(**screens.invites_screen(await invites.open_invites(), ctx.role, ctx.tz))


def _stranger(message: Message, staff: Person | None = None) -> bool:
    return staff is None


@arrivals.message(CommandStart(deep_link=True), _stranger, flags={"stranger": True})
async def arrive(
    message: Message, command: CommandObject, invites: InviteService, bot: Bot, i18n: I18n
) -> None:
    user = message.from_user
    assert user is not None  # a private /start always has one
    result = await invites.accept((command.args or "").strip(), user.id, user.full_name)
    if isinstance(result, InviteProblem):
        await message.answer(screens.invite_problem_text(result, user.id))
        return
    member, inviter = result.member, result.invite.created_by
    await set_person_menu(bot, i18n, member.telegram_id, Role(member.role), member.language)
    await message.answer(**screens.welcome(member))
    try:
        await bot.send_message(inviter, screens.joined_text(member))
    except Exception as exc:  # the inviter may have blocked the bot: the newcomer is in anyway
        log.info("could not tell inviter %s: %s", inviter, exc)


@arrivals.message(CommandStart(deep_link=True), flags=needs())
async def arrive_again(message: Message, ctx: Ctx) -> None:
    await ctx.send(_("Вы уже в команде. /help — что я умею."))
