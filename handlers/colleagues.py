"""/staff (owners and seniors): colleagues from the CRM, adding and editing them, access to the
bot, invitation links; and `/start <code>` for the person who got such a link."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from handlers.commands import set_person_menu
from handlers.errors import explain
from handlers.start import menu_text, role_name
from services.errors import ApiError
from services.parsing import normalize_phone
from services.people import (
    Accepted,
    ColleagueService,
    InviteProblem,
    InviteService,
    PeopleError,
    Refusal,
    check_manage,
    clean_position,
)
from services.person import Person
from services.roles import Permission, Role, can
from services.staff import clean_name
from views.callbacks import ColleagueCb, InviteCb
from views.people import (
    button,
    card_screen,
    confirm_new,
    invites_screen,
    list_screen,
    positions_keyboard,
    roles_keyboard,
)
from views.render import edit_or_send, esc

log = logging.getLogger(__name__)


class AddColleague(StatesGroup):
    name = State()
    phone = State()
    position = State()
    confirm = State()


class EditColleague(StatesGroup):
    value = State()


def refusal_text(refusal: Refusal) -> str:
    if refusal is Refusal.OWNER_PROTECTED:
        return _("Старший флорист не может менять, отключать или удалять владельца.")
    if refusal is Refusal.NO_OWNER_PROMOTION:
        return _("Назначить владельца может только владелец.")
    return _("Это доступно владельцу и старшему флористу.")


def get_router() -> Router:
    router = Router(name="colleagues")

    # --- the list and the card -----------------------------------------------------------------

    @router.message(Command("staff"))
    async def staff_list(message: Message, role: Role, colleagues: ColleagueService) -> None:
        if not can(role, Permission.COLLEAGUES_VIEW):
            await message.answer(_("Список сотрудников доступен владельцу и старшему флористу."))
            return
        result = await colleagues.list(only_active=True)
        text, keyboard = list_screen(result.items, only_active=True, position=None, page=0)
        await message.answer(text, reply_markup=keyboard)

    @router.callback_query(ColleagueCb.filter(F.action == "l"))
    async def staff_page(
        query: CallbackQuery, callback_data: ColleagueCb, role: Role, colleagues: ColleagueService, bot: Bot
    ) -> None:
        if not can(role, Permission.COLLEAGUES_VIEW):
            await query.answer(_("Список сотрудников доступен владельцу и старшему флористу."))
            return
        scope, _sep, position = callback_data.arg.partition(".")
        position_filter = position or None
        if position_filter is not None:
            try:
                position_filter = clean_position(position_filter)
            except ValueError:
                await query.answer(_("Эта кнопка устарела."))
                return
        await query.answer()
        result = await colleagues.list(only_active=scope != "all", position=position_filter)
        text, keyboard = list_screen(
            result.items, only_active=scope != "all", position=position_filter, page=callback_data.page
        )
        if isinstance(query.message, Message):
            await edit_or_send(bot, query.message, text=text, reply_markup=keyboard)

    async def show_card(
        chat_id: int,
        message_id: int | None,
        colleague_id: str,
        role: Role,
        colleagues: ColleagueService,
        bot: Bot,
        settings: Settings,
    ) -> None:
        view = await colleagues.view(colleague_id)
        if view is None:
            await bot.send_message(chat_id, _("Такого сотрудника больше нет."))
            return
        text, keyboard = card_screen(view, role, settings.tz, datetime.now(settings.tz).date())
        if message_id is None:
            await bot.send_message(chat_id, text, reply_markup=keyboard)
        else:
            await edit_or_send(bot, chat_id=chat_id, message_id=message_id, text=text, reply_markup=keyboard)

    @router.callback_query(ColleagueCb.filter(F.action == "o"))
    async def open_card(
        query: CallbackQuery,
        callback_data: ColleagueCb,
        role: Role,
        colleagues: ColleagueService,
        bot: Bot,
        settings: Settings,
    ) -> None:
        if not can(role, Permission.COLLEAGUES_VIEW):
            await query.answer(_("Список сотрудников доступен владельцу и старшему флористу."))
            return
        await query.answer()
        if isinstance(query.message, Message):
            await show_card(query.message.chat.id, None, callback_data.id, role, colleagues, bot, settings)

    # --- adding --------------------------------------------------------------------------------

    @router.callback_query(ColleagueCb.filter(F.action == "n"))
    async def add_start(query: CallbackQuery, role: Role, state: FSMContext) -> None:
        if not can(role, Permission.COLLEAGUES_MANAGE):
            await query.answer(refusal_text(Refusal.NOT_ALLOWED), show_alert=True)
            return
        await query.answer()
        await state.set_state(AddColleague.name)
        await state.set_data({})
        if isinstance(query.message, Message):
            await query.message.answer(_("➕ <b>Новый сотрудник.</b> Как зовут? (имя и фамилия)"))

    @router.message(AddColleague.name, F.text)
    async def add_name(message: Message, state: FSMContext) -> None:
        try:
            name = clean_name(message.text or "")
        except ValueError:
            await message.answer(_("Имя — от 2 до 255 символов. Как зовут сотрудника?"))
            return
        await state.update_data(name=name)
        await state.set_state(AddColleague.phone)
        await message.answer(_("Телефон? Например: 8 777 123 45 67"))

    @router.message(AddColleague.phone, F.text)
    async def add_phone(message: Message, state: FSMContext, role: Role) -> None:
        try:
            phone = normalize_phone(message.text or "")
        except ValueError:
            await message.answer(
                _("Не похоже на казахстанский номер. Например: 8 777 123 45 67 или +7 (777) 123-45-67")
            )
            return
        await state.update_data(phone=phone)
        await state.set_state(AddColleague.position)
        await message.answer(_("Должность?"), reply_markup=positions_keyboard(role))

    @router.callback_query(ColleagueCb.filter(F.action == "p"))
    async def position_picked(
        query: CallbackQuery,
        callback_data: ColleagueCb,
        role: Role,
        staff: Person,
        state: FSMContext,
        colleagues: ColleagueService,
        bot: Bot,
        settings: Settings,
    ) -> None:
        current = await state.get_state()
        try:
            position = clean_position(callback_data.arg)
        except ValueError:
            await query.answer(_("Эта кнопка устарела."))
            return
        if current == AddColleague.position.state:
            if position in ("owner", "director") and role is not Role.OWNER:
                await query.answer(refusal_text(Refusal.NO_OWNER_PROMOTION), show_alert=True)
                return
            await query.answer()
            await state.update_data(position=position, draft=staff.telegram_id)
            await state.set_state(AddColleague.confirm)
            data = await state.get_data()
            if isinstance(query.message, Message):
                keyboard = [
                    [button(_("✅ Сохранить"), ColleagueCb(action="s").pack())],
                    [button(_("↩️ Отмена"), ColleagueCb(action="x").pack())],
                ]
                await query.message.answer(
                    confirm_new(data), reply_markup=InlineKeyboardMarkup(inline_keyboard=keyboard)
                )
            return
        data = await state.get_data()
        if (
            current == EditColleague.value.state
            and data.get("field") == "position"
            and data.get("id") == callback_data.id
        ):
            await query.answer()
            await state.clear()
            await apply_edit(
                query.message, staff, role, colleagues, callback_data.id, "position", position, bot, settings
            )
            return
        await query.answer(_("Эта кнопка устарела."))

    @router.callback_query(ColleagueCb.filter(F.action == "s"))
    async def add_save(
        query: CallbackQuery,
        role: Role,
        staff: Person,
        state: FSMContext,
        colleagues: ColleagueService,
        bot: Bot,
        settings: Settings,
    ) -> None:
        if await state.get_state() != AddColleague.confirm.state:
            await query.answer(_("Уже сохранено или устарело."))
            return
        data = await state.get_data()
        await state.clear()  # before the call: a second tap finds nothing to save
        await query.answer(_("⏳ Сохраняю…"))
        if not isinstance(query.message, Message):
            return
        try:
            colleague = await colleagues.create(staff, role, data["name"], data["phone"], data["position"])
        except PeopleError as exc:
            await query.message.answer(refusal_text(exc.refusal))
            return
        except ApiError as exc:
            await query.message.answer(esc(explain(exc)) + "\n" + _("Сотрудник не добавлен."))
            return
        await query.message.answer(_("✅ Сотрудник добавлен: {name}.").format(name=esc(colleague.name or "")))
        await show_card(query.message.chat.id, None, colleague.id, role, colleagues, bot, settings)

    # --- editing, toggling, deleting -----------------------------------------------------------

    @router.callback_query(ColleagueCb.filter(F.action == "e"))
    async def edit_start(
        query: CallbackQuery,
        callback_data: ColleagueCb,
        role: Role,
        state: FSMContext,
        colleagues: ColleagueService,
    ) -> None:
        if not can(role, Permission.COLLEAGUES_MANAGE) or callback_data.arg not in (
            "name",
            "phone",
            "position",
        ):
            await query.answer(refusal_text(Refusal.NOT_ALLOWED), show_alert=True)
            return
        view = await colleagues.view(callback_data.id)
        if view is None:
            await query.answer(_("Такого сотрудника больше нет."))
            return
        try:
            check_manage(role, view.colleague.position)
        except PeopleError as exc:
            await query.answer(refusal_text(exc.refusal), show_alert=True)
            return
        await query.answer()
        await state.set_state(EditColleague.value)
        await state.set_data({"id": callback_data.id, "field": callback_data.arg})
        if not isinstance(query.message, Message):
            return
        if callback_data.arg == "position":
            await query.message.answer(
                _("Новая должность?"), reply_markup=positions_keyboard(role, colleague_id=callback_data.id)
            )
        elif callback_data.arg == "phone":
            await query.message.answer(_("Новый телефон? Например: 8 777 123 45 67"))
        else:
            await query.message.answer(_("Новое имя?"))

    @router.message(EditColleague.value, F.text)
    async def edit_value(
        message: Message,
        role: Role,
        staff: Person,
        state: FSMContext,
        colleagues: ColleagueService,
        bot: Bot,
        settings: Settings,
    ) -> None:
        data = await state.get_data()
        field = str(data.get("field"))
        value = message.text or ""
        try:
            if field == "name":
                clean_name(value)
            elif field == "phone":
                normalize_phone(value)
            else:
                await message.answer(_("Выберите должность кнопкой выше."))
                return
        except ValueError:
            if field == "name":
                await message.answer(_("Имя — от 2 до 255 символов. Напишите ещё раз."))
            else:
                await message.answer(
                    _("Не похоже на казахстанский номер. Например: 8 777 123 45 67 или +7 (777) 123-45-67")
                )
            return
        await state.clear()
        await apply_edit(message, staff, role, colleagues, str(data["id"]), field, value, bot, settings)

    async def apply_edit(
        message: Any,
        staff: Person,
        role: Role,
        colleagues: ColleagueService,
        colleague_id: str,
        field: str,
        value: str,
        bot: Bot,
        settings: Settings,
    ) -> None:
        chat_id = message.chat.id
        try:
            await colleagues.edit(staff, role, colleague_id, field, value)
        except PeopleError as exc:
            await bot.send_message(chat_id, refusal_text(exc.refusal))
            return
        except LookupError:
            await bot.send_message(chat_id, _("Такого сотрудника больше нет."))
            return
        except ApiError as exc:
            await bot.send_message(chat_id, esc(explain(exc)) + "\n" + _("Ничего не изменено."))
            return
        await bot.send_message(chat_id, _("✅ Сохранено."))
        await show_card(chat_id, None, colleague_id, role, colleagues, bot, settings)

    @router.callback_query(ColleagueCb.filter(F.action == "t"))
    async def toggle(
        query: CallbackQuery,
        callback_data: ColleagueCb,
        role: Role,
        staff: Person,
        colleagues: ColleagueService,
        bot: Bot,
        settings: Settings,
    ) -> None:
        if not can(role, Permission.COLLEAGUES_MANAGE):
            await query.answer(refusal_text(Refusal.NOT_ALLOWED), show_alert=True)
            return
        try:
            updated = await colleagues.toggle(staff, role, callback_data.id)
        except PeopleError as exc:
            await query.answer(refusal_text(exc.refusal), show_alert=True)
            return
        except LookupError:
            await query.answer(_("Такого сотрудника больше нет."))
            return
        await query.answer(
            _("Активирован(а)") if updated.is_active else _("Деактивирован(а): доступ к боту закрыт")
        )
        if isinstance(query.message, Message):
            await show_card(
                query.message.chat.id,
                query.message.message_id,
                callback_data.id,
                role,
                colleagues,
                bot,
                settings,
            )

    @router.callback_query(ColleagueCb.filter(F.action == "d"))
    async def delete_ask(
        query: CallbackQuery, callback_data: ColleagueCb, role: Role, colleagues: ColleagueService
    ) -> None:
        view = await colleagues.view(callback_data.id) if can(role, Permission.COLLEAGUES_MANAGE) else None
        if view is None:
            await query.answer(
                refusal_text(Refusal.NOT_ALLOWED)
                if not can(role, Permission.COLLEAGUES_MANAGE)
                else _("Такого сотрудника больше нет."),
                show_alert=True,
            )
            return
        try:
            check_manage(role, view.colleague.position)
        except PeopleError as exc:
            await query.answer(refusal_text(exc.refusal), show_alert=True)
            return
        await query.answer()
        if isinstance(query.message, Message):
            keyboard = InlineKeyboardMarkup(
                inline_keyboard=[
                    [button(_("🗑 Да, удалить"), ColleagueCb(action="D", id=callback_data.id).pack())],
                    [button(_("↩️ Не удалять"), ColleagueCb(action="o", id=callback_data.id).pack())],
                ]
            )
            await query.message.answer(
                _("Удалить сотрудника {name}? Доступ к боту тоже закроется.").format(
                    name=esc(view.colleague.name or "")
                ),
                reply_markup=keyboard,
            )

    @router.callback_query(ColleagueCb.filter(F.action == "D"))
    async def delete_confirmed(
        query: CallbackQuery,
        callback_data: ColleagueCb,
        role: Role,
        staff: Person,
        colleagues: ColleagueService,
        bot: Bot,
    ) -> None:
        if not can(role, Permission.COLLEAGUES_MANAGE):
            await query.answer(refusal_text(Refusal.NOT_ALLOWED), show_alert=True)
            return
        try:
            await colleagues.delete(staff, role, callback_data.id)
        except PeopleError as exc:
            await query.answer(refusal_text(exc.refusal), show_alert=True)
            return
        except LookupError:
            await query.answer(_("Уже удалён."))
            return
        await query.answer(_("Удалено"))
        if isinstance(query.message, Message):
            await edit_or_send(
                bot, query.message, text=_("🗑 Сотрудник удалён, доступ к боту закрыт."), reply_markup=None
            )

    # --- bot roles -----------------------------------------------------------------------------

    @router.callback_query(ColleagueCb.filter(F.action == "R"))
    async def role_ask(query: CallbackQuery, callback_data: ColleagueCb, role: Role) -> None:
        if role is not Role.OWNER:
            await query.answer(_("Роли в боте меняет владелец."), show_alert=True)
            return
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.answer(
                _("Новая роль в боте?"),
                reply_markup=roles_keyboard(role, action="role", colleague_id=callback_data.id),
            )

    @router.callback_query(ColleagueCb.filter(F.action == "r"))
    async def role_set(
        query: CallbackQuery,
        callback_data: ColleagueCb,
        role: Role,
        staff: Person,
        colleagues: ColleagueService,
        bot: Bot,
        i18n: I18n,
    ) -> None:
        if role is not Role.OWNER:
            await query.answer(_("Роли в боте меняет владелец."), show_alert=True)
            return
        try:
            new_role = Role(callback_data.arg)
        except ValueError:
            await query.answer(_("Эта кнопка устарела."))
            return
        member = await colleagues.member_of(callback_data.id)
        if member is None:
            await query.answer(_("Этот сотрудник не подключён к боту."))
            return
        changed = await colleagues.set_role(staff, role, member.telegram_id, new_role)
        await set_person_menu(bot, i18n, changed.telegram_id, new_role, changed.language)
        await query.answer(_("Готово"))
        if isinstance(query.message, Message):
            await edit_or_send(
                bot,
                query.message,
                text=_("🔑 {name}: теперь {role}. Действует со следующего нажатия.").format(
                    name=esc(member.name), role=role_name(new_role)
                ),
                reply_markup=None,
            )

    @router.callback_query(ColleagueCb.filter(F.action == "x"))
    async def leave(query: CallbackQuery, state: FSMContext) -> None:
        await query.answer()
        if await state.get_state() is not None:
            await state.clear()
            if isinstance(query.message, Message):
                await query.message.answer(_("Отменено. Ничего не сохранено."))

    # --- invitations ---------------------------------------------------------------------------

    @router.callback_query(InviteCb.filter(F.action.in_({"l", "c"})))
    async def invite_menu(
        query: CallbackQuery, callback_data: InviteCb, role: Role, invites: InviteService, settings: Settings
    ) -> None:
        if not can(role, Permission.COLLEAGUES_MANAGE):
            await query.answer(refusal_text(Refusal.NOT_ALLOWED), show_alert=True)
            return
        await query.answer()
        if not isinstance(query.message, Message):
            return
        text, keyboard = invites_screen(await invites.open_invites(), settings.tz)
        roles = roles_keyboard(role, action="invite", colleague_id=callback_data.id)
        keyboard.inline_keyboard[:0] = roles.inline_keyboard[:-1]
        await query.message.answer(text, reply_markup=keyboard)

    @router.callback_query(InviteCb.filter(F.action == "r"))
    async def invite_make(
        query: CallbackQuery,
        callback_data: InviteCb,
        role: Role,
        staff: Person,
        invites: InviteService,
        colleagues: ColleagueService,
        bot: Bot,
        settings: Settings,
    ) -> None:
        try:
            invited_role = Role(callback_data.arg)
        except ValueError:
            await query.answer(_("Эта кнопка устарела."))
            return
        colleague = None
        if callback_data.id:
            view = (
                await colleagues.view(callback_data.id) if can(role, Permission.COLLEAGUES_MANAGE) else None
            )
            colleague = view.colleague if view else None
        try:
            invite = await invites.create(staff, role, invited_role, colleague=colleague)
        except PeopleError as exc:
            await query.answer(refusal_text(exc.refusal), show_alert=True)
            return
        await query.answer()
        me = await bot.me()
        link = f"https://t.me/{me.username}?start={invite.code}"
        who = f" ({esc(invite.name)})" if invite.name else ""
        text = _(
            "✉️ Ссылка для роли «{role}»{who}:\n{link}\n\n"
            "Действует 24 часа и только один раз. Перешлите её человеку."
        ).format(role=role_name(invited_role), who=who, link=esc(link))
        if isinstance(query.message, Message):
            await query.message.answer(text)

    @router.callback_query(InviteCb.filter(F.action == "v"))
    async def invite_revoke(
        query: CallbackQuery,
        callback_data: InviteCb,
        role: Role,
        staff: Person,
        invites: InviteService,
        bot: Bot,
        settings: Settings,
    ) -> None:
        try:
            revoked = await invites.revoke(staff, role, callback_data.arg)
        except PeopleError as exc:
            await query.answer(refusal_text(exc.refusal), show_alert=True)
            return
        await query.answer(_("Ссылка отозвана") if revoked else _("Эта ссылка уже не действует"))
        if isinstance(query.message, Message):
            text, keyboard = invites_screen(await invites.open_invites(), settings.tz)
            await edit_or_send(bot, query.message, text=text, reply_markup=keyboard)

    return router


def get_start_router() -> Router:
    """`/start <code>`: the person who got an invitation link; before the plain /start."""
    router = Router(name="invitations")

    @router.message(CommandStart(deep_link=True))
    async def arrive(
        message: Message,
        command: CommandObject,
        staff: Person | None,
        invites: InviteService,
        bot: Bot,
        settings: Settings,
        i18n: I18n,
    ) -> None:
        if staff is not None:
            await message.answer(_("Вы уже в команде. /help — что я умею."))
            return
        user = message.from_user
        assert user is not None
        result = await invites.accept((command.args or "").strip(), user.id, user.full_name)
        if isinstance(result, InviteProblem):
            await message.answer(invite_problem_text(result, user.id))
            return
        await welcome(message, result, bot, settings, i18n)

    return router


def invite_problem_text(problem: InviteProblem, telegram_id: int) -> str:
    tail = _("Попросите владельца магазина новую ссылку. Ваш Telegram ID: <code>{telegram_id}</code>").format(
        telegram_id=telegram_id
    )
    if problem is InviteProblem.USED:
        return _("Эта ссылка уже использована.") + " " + tail
    if problem is InviteProblem.EXPIRED:
        return _("Срок действия ссылки истёк (она действует 24 часа).") + " " + tail
    if problem is InviteProblem.REVOKED:
        return _("Эту ссылку отозвали.") + " " + tail
    return _("Ссылка не подошла.") + " " + tail


async def welcome(message: Message, accepted: Accepted, bot: Bot, settings: Settings, i18n: I18n) -> None:
    member, role = accepted.member, Role(accepted.member.role)
    await set_person_menu(bot, i18n, member.telegram_id, role, member.language)
    await message.answer(
        _("Здравствуйте, {name}! Вы в команде: {role}.").format(name=esc(member.name), role=role_name(role))
        + "\n\n"
        + _("Что я умею:")
        + "\n"
        + menu_text(role)
    )
    try:
        await bot.send_message(
            accepted.invite.created_by,
            _("✅ {name} подключился(-лась) к боту по вашей ссылке: {role}.").format(
                name=esc(member.name), role=role_name(role)
            ),
        )
    except Exception as exc:  # the inviter may have blocked the bot: the newcomer is in anyway
        log.info("could not tell inviter %s: %s", accepted.invite.created_by, exc)
