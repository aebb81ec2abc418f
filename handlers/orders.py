"""Orders in Telegram: /orders lists, order cards, status buttons, cancel reasons, photos."""

from __future__ import annotations

import logging
import re
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from handlers.errors import explain
from handlers.photos import received_image
from services.errors import ApiError, ApiNotFound
from services.models import OrderStatus
from services.orders import (
    ChangeOutcome,
    ChangeResult,
    OrderCard,
    OrderService,
    Tab,
    actions_for,
    may_change,
    may_view,
    photo_comment,
    tabs_for,
)
from services.person import Person
from services.roles import Role
from services.staff import StaffService
from views.callbacks import OrderCb, OrderListCb
from views.orders import (
    CANCEL_REASONS,
    cancel_keyboard,
    card_keyboard,
    card_preview,
    card_text,
    list_keyboard,
    list_text,
    photo_keyboard,
    status_name,
)
from views.render import edit_or_send, esc

log = logging.getLogger(__name__)
S = OrderStatus

ORDER_NUMBER = re.compile(r"^\s*(?:№|#|n)?\s*(\d{1,9})\s*$", re.IGNORECASE)
REASON_MAX = 500
# Statuses after which a photo is offered: the bouquet when assembled, the handover when delivered.
PHOTO_STEPS = {S.ASSEMBLED, S.FINISHED}


class OrderFlow(StatesGroup):
    photo = State()  # data: order_id, to, frm, card_chat, card_message
    cancel_reason = State()  # data: order_id, frm, card_chat, card_message


def _courier(role: Role) -> bool:
    return role is Role.COURIER


async def _names(staff_service: StaffService, card: OrderCard) -> dict[int, str]:
    ids = {h.actor_id for h in card.handled if h.actor_id}
    return await staff_service.names(ids)


async def render_card(
    card: OrderCard, role: Role, staff_service: StaffService, settings: Settings, orders: OrderService
) -> dict[str, Any]:
    """Text, keyboard and preview of a card, ready for send or edit."""
    actions = actions_for(role, card.allowed) if card.allowed else []
    return {
        "text": card_text(card, await _names(staff_service, card), settings.tz, orders.today()),
        "reply_markup": card_keyboard(card, actions, courier=_courier(role)),
        "link_preview_options": card_preview(card),
    }


def get_router() -> Router:
    router = Router(name="orders")

    # --- lists ---------------------------------------------------------------------------------

    @router.message(Command("orders"))
    async def orders_list(message: Message, role: Role, staff: Person, orders: OrderService) -> None:
        tabs = tabs_for(role)
        if not tabs:
            await message.answer(_("Заказы вам недоступны."))
            return
        page = await orders.list_tab(tabs[0], role, staff.telegram_id)
        await message.answer(
            list_text(page, orders.today()), reply_markup=list_keyboard(page, tabs, orders.today())
        )

    @router.callback_query(OrderListCb.filter())
    async def orders_page(
        query: CallbackQuery,
        callback_data: OrderListCb,
        role: Role,
        staff: Person,
        orders: OrderService,
        bot: Bot,
    ) -> None:
        tabs = tabs_for(role)
        try:
            tab = Tab(callback_data.tab)
        except ValueError:
            tab = None
        if tab is None or tab not in tabs:
            await query.answer(_("Этот список вам недоступен."))
            return
        await query.answer()
        if not isinstance(query.message, Message):
            return
        try:
            page = await orders.list_tab(tab, role, staff.telegram_id, callback_data.page)
        except ApiError as exc:
            await bot.send_message(query.message.chat.id, esc(explain(exc)))
            return
        await edit_or_send(
            bot,
            query.message,
            text=list_text(page, orders.today()),
            reply_markup=list_keyboard(page, tabs, orders.today()),
        )

    # --- opening a card ------------------------------------------------------------------------

    async def open_card(
        message: Message,
        order_id: int,
        role: Role,
        staff: Person,
        orders: OrderService,
        staff_service: StaffService,
        settings: Settings,
    ) -> None:
        try:
            card = await orders.card(order_id)
        except ApiNotFound:
            await message.answer(_("Заказ №{number} не найден.").format(number=order_id))
            return
        took_it = card.order.status == S.IN_DELIVERY and await orders.took_it(order_id, staff.telegram_id)
        if not may_view(role, card.order, took_it=took_it):
            await message.answer(_("Заказ №{number} вам недоступен.").format(number=order_id))
            return
        await message.answer(**await render_card(card, role, staff_service, settings, orders))

    @router.message(Command("order"))
    async def order_command(
        message: Message,
        command: CommandObject,
        role: Role,
        staff: Person,
        orders: OrderService,
        staff_service: StaffService,
        settings: Settings,
    ) -> None:
        match = ORDER_NUMBER.match(command.args or "")
        if match is None:
            await message.answer(_("Напишите номер заказа, например: /order 122578"))
            return
        await open_card(message, int(match.group(1)), role, staff, orders, staff_service, settings)

    @router.message(StateFilter(None), F.text.regexp(ORDER_NUMBER))
    async def order_by_number(
        message: Message,
        role: Role,
        staff: Person,
        orders: OrderService,
        staff_service: StaffService,
        settings: Settings,
    ) -> None:
        if not tabs_for(role):
            return
        match = ORDER_NUMBER.match(message.text or "")
        assert match is not None
        await open_card(message, int(match.group(1)), role, staff, orders, staff_service, settings)

    # --- the card's buttons --------------------------------------------------------------------

    async def refresh_card(
        bot: Bot,
        chat_id: int,
        message_id: int,
        card: OrderCard,
        role: Role,
        staff_service: StaffService,
        settings: Settings,
        orders: OrderService,
    ) -> None:
        await edit_or_send(
            bot,
            chat_id=chat_id,
            message_id=message_id,
            **await render_card(card, role, staff_service, settings, orders),
        )

    @router.callback_query(OrderCb.filter(F.action.in_({"o", "v"})))
    async def card_refresh(
        query: CallbackQuery,
        callback_data: OrderCb,
        role: Role,
        staff: Person,
        orders: OrderService,
        staff_service: StaffService,
        settings: Settings,
        bot: Bot,
        state: FSMContext,
    ) -> None:
        if not tabs_for(role):
            await query.answer(_("Заказы вам недоступны."))
            return
        await query.answer()
        if not isinstance(query.message, Message):
            return
        chat_id = query.message.chat.id
        try:
            card = await orders.card(callback_data.id)
        except ApiNotFound:
            await bot.send_message(chat_id, _("Заказ №{number} не найден.").format(number=callback_data.id))
            return
        except ApiError as exc:
            await bot.send_message(chat_id, esc(explain(exc)))
            return
        took_it = card.order.status == S.IN_DELIVERY and await orders.took_it(
            card.order.id, staff.telegram_id
        )
        if not may_view(role, card.order, took_it=took_it):
            await bot.send_message(
                chat_id, _("Заказ №{number} вам недоступен.").format(number=callback_data.id)
            )
            return
        if callback_data.action == "o":  # from a list: the card is a message of its own
            await bot.send_message(chat_id, **await render_card(card, role, staff_service, settings, orders))
            return
        await refresh_card(
            bot, chat_id, query.message.message_id, card, role, staff_service, settings, orders
        )

    @router.callback_query(OrderCb.filter(F.action == "s"))
    async def set_status(
        query: CallbackQuery,
        callback_data: OrderCb,
        role: Role,
        staff: Person,
        orders: OrderService,
        staff_service: StaffService,
        settings: Settings,
        bot: Bot,
        state: FSMContext,
    ) -> None:
        if not may_change(role, callback_data.frm, callback_data.to) or callback_data.to == S.CANCELLED:
            await query.answer(_("Вам нельзя так менять этот заказ."), show_alert=True)
            return
        if not isinstance(query.message, Message):
            await query.answer(_("Это сообщение устарело. Откройте заказ заново."))
            return
        if callback_data.to in PHOTO_STEPS:
            await query.answer()
            await ask_photo(query.message, callback_data, state)
            return
        await query.answer(_("⏳ Меняю статус…"))
        result = await orders.change_status(
            actor_id=staff.telegram_id,
            role=role,
            order_id=callback_data.id,
            expected=callback_data.frm,
            target=callback_data.to,
        )
        await report(
            bot,
            query.message.chat.id,
            query.message.message_id,
            callback_data.id,
            callback_data.to,
            result,
            role,
            staff_service,
            settings,
            orders,
            alert_tap_by=query.from_user.id if callback_data.arg == "a" else None,
        )

    async def ask_photo(card_message: Message, data: OrderCb, state: FSMContext) -> None:
        await state.set_state(OrderFlow.photo)
        await state.set_data(
            {
                "order_id": data.id,
                "to": data.to,
                "frm": data.frm,
                "card_chat": card_message.chat.id,
                "card_message": card_message.message_id,
            }
        )
        if data.to == S.ASSEMBLED:
            text = _(
                "💐 Заказ №{number}: пришлите фото собранного букета — оно попадёт в заказ.\n"
                "Или нажмите «Без фото»."
            ).format(number=data.id)
        else:
            text = _(
                "✅ Заказ №{number}: пришлите фото вручения, если есть.\nИли нажмите «Без фото»."
            ).format(number=data.id)
        await card_message.answer(text, reply_markup=photo_keyboard(data.id, data.to, data.frm))

    @router.callback_query(OrderCb.filter(F.action == "n"))
    async def without_photo(
        query: CallbackQuery,
        callback_data: OrderCb,
        role: Role,
        staff: Person,
        orders: OrderService,
        staff_service: StaffService,
        settings: Settings,
        bot: Bot,
        state: FSMContext,
    ) -> None:
        if not may_change(role, callback_data.frm, callback_data.to) or callback_data.to == S.CANCELLED:
            await query.answer(_("Вам нельзя так менять этот заказ."), show_alert=True)
            return
        await query.answer(_("⏳ Меняю статус…"))
        data = await state.get_data()
        if await state.get_state() == OrderFlow.photo.state and data.get("order_id") == callback_data.id:
            await state.clear()  # this order's photo step; any other flow stays as it was
        chat_id, card_message = _card_location(query, data, callback_data.id)
        if isinstance(query.message, Message):
            await edit_or_send(bot, query.message, text=_("Без фото."), reply_markup=None)
        result = await orders.change_status(
            actor_id=staff.telegram_id,
            role=role,
            order_id=callback_data.id,
            expected=callback_data.frm,
            target=callback_data.to,
        )
        await report(
            bot,
            chat_id,
            card_message,
            callback_data.id,
            callback_data.to,
            result,
            role,
            staff_service,
            settings,
            orders,
        )

    @router.message(OrderFlow.photo, F.photo | F.document)
    async def photo_received(
        message: Message,
        role: Role,
        staff: Person,
        orders: OrderService,
        staff_service: StaffService,
        settings: Settings,
        bot: Bot,
        state: FSMContext,
    ) -> None:
        data = await state.get_data()
        order_id, target, frm = int(data["order_id"]), str(data["to"]), str(data["frm"])
        if not may_change(role, frm, target):
            await state.clear()
            await message.answer(_("Вам нельзя так менять этот заказ."))
            return
        url = await take_photo(message, bot, orders)
        if url is None:
            return  # told why; still waiting for a photo
        await state.clear()
        await message.answer(_("📷 Фото загружено. ⏳ Меняю статус…"))
        result = await orders.change_status(
            actor_id=staff.telegram_id,
            role=role,
            order_id=order_id,
            expected=frm,
            target=target,
            comment=photo_comment(url),
        )
        await report(
            bot,
            int(data["card_chat"]),
            int(data["card_message"]),
            order_id,
            target,
            result,
            role,
            staff_service,
            settings,
            orders,
        )

    @router.message(OrderFlow.photo)
    async def photo_hint(message: Message, state: FSMContext) -> None:
        data = await state.get_data()
        await message.answer(
            _(
                "Жду фото к заказу №{number}. Пришлите снимок или нажмите «Без фото»; /cancel — отменить."
            ).format(number=data.get("order_id", "?"))
        )

    async def take_photo(message: Message, bot: Bot, orders: OrderService) -> str | None:
        """Download the photo from Telegram and upload it to cvety.kz; None after telling why not."""
        image = await received_image(message, bot, default_name="bouquet.jpg")
        if image is None:
            return None
        try:
            return await orders.upload_photo(image.content, image.filename, image.content_type)
        except ApiError as exc:
            await message.answer(esc(explain(exc)) + "\n" + _("Фото не загружено: пришлите его ещё раз."))
            return None

    @router.message(StateFilter(None), F.photo | F.document, F.caption.regexp(ORDER_NUMBER))
    async def photo_with_number(
        message: Message,
        role: Role,
        staff: Person,
        orders: OrderService,
        staff_service: StaffService,
        settings: Settings,
        bot: Bot,
    ) -> None:
        """One step: a photo captioned with an order number assembles or delivers that order."""
        match = ORDER_NUMBER.match(message.caption or "")
        assert match is not None
        order_id = int(match.group(1))
        try:
            card = await orders.card(order_id)
        except ApiNotFound:
            await message.answer(_("Заказ №{number} не найден.").format(number=order_id))
            return
        targets = [t for t in (actions_for(role, card.allowed) if card.allowed else []) if t in PHOTO_STEPS]
        if not targets:
            await message.answer(
                _("К заказу №{number} сейчас нельзя приложить фото: он «{status}».").format(
                    number=order_id, status=status_name(card.order.status, card.order.status_name)
                )
            )
            return
        url = await take_photo(message, bot, orders)
        if url is None:
            return
        result = await orders.change_status(
            actor_id=staff.telegram_id,
            role=role,
            order_id=order_id,
            expected=card.order.status,
            target=targets[0],
            comment=photo_comment(url),
        )
        sent = await message.answer(_("📷 Фото загружено."))
        await report(
            bot, sent.chat.id, None, order_id, targets[0], result, role, staff_service, settings, orders
        )

    # --- cancelling ----------------------------------------------------------------------------

    @router.callback_query(OrderCb.filter(F.action == "x"))
    async def cancel_ask(query: CallbackQuery, callback_data: OrderCb, role: Role, bot: Bot) -> None:
        if not may_change(role, callback_data.frm, S.CANCELLED):
            await query.answer(_("Вам нельзя отменять заказы."), show_alert=True)
            return
        await query.answer()
        if not isinstance(query.message, Message):
            return
        text = (
            (query.message.html_text or "")
            + "\n\n"
            + _("<b>Отменить заказ №{number}?</b> Выберите причину.").format(number=callback_data.id)
        )
        await edit_or_send(
            bot, query.message, text=text, reply_markup=cancel_keyboard(callback_data.id, callback_data.frm)
        )

    @router.callback_query(OrderCb.filter(F.action == "r"))
    async def cancel_with_reason(
        query: CallbackQuery,
        callback_data: OrderCb,
        role: Role,
        staff: Person,
        orders: OrderService,
        staff_service: StaffService,
        settings: Settings,
        bot: Bot,
        state: FSMContext,
    ) -> None:
        if not may_change(role, callback_data.frm, S.CANCELLED):
            await query.answer(_("Вам нельзя отменять заказы."), show_alert=True)
            return
        if not isinstance(query.message, Message):
            await query.answer(_("Это сообщение устарело. Откройте заказ заново."))
            return
        if callback_data.arg == "other":
            await query.answer()
            await state.set_state(OrderFlow.cancel_reason)
            await state.set_data(
                {
                    "order_id": callback_data.id,
                    "frm": callback_data.frm,
                    "card_chat": query.message.chat.id,
                    "card_message": query.message.message_id,
                }
            )
            await query.message.answer(
                _("Напишите причину отмены заказа №{number} одним сообщением (до {limit} символов).").format(
                    number=callback_data.id, limit=REASON_MAX
                )
            )
            return
        reason = CANCEL_REASONS.get(callback_data.arg)
        if reason is None:
            await query.answer(_("Кнопка устарела. Откройте заказ заново."))
            return
        await query.answer(_("⏳ Отменяю…"))
        result = await orders.change_status(
            actor_id=staff.telegram_id,
            role=role,
            order_id=callback_data.id,
            expected=callback_data.frm,
            target=S.CANCELLED,
            comment=reason,  # the shop's language on the server, whatever the person reads
        )
        await report(
            bot,
            query.message.chat.id,
            query.message.message_id,
            callback_data.id,
            S.CANCELLED,
            result,
            role,
            staff_service,
            settings,
            orders,
        )

    @router.message(OrderFlow.cancel_reason, F.text)
    async def cancel_reason_typed(
        message: Message,
        role: Role,
        staff: Person,
        orders: OrderService,
        staff_service: StaffService,
        settings: Settings,
        bot: Bot,
        state: FSMContext,
    ) -> None:
        reason = " ".join((message.text or "").split())
        if reason.startswith("/"):
            await message.answer(_("Напишите причину словами или /cancel, чтобы не отменять заказ."))
            return
        if len(reason) < 3:
            await message.answer(_("Причина слишком короткая. Напишите, почему отменяется заказ."))
            return
        if len(reason) > REASON_MAX:
            await message.answer(
                _("Слишком длинно: {length} символов, можно до {limit}. Напишите короче.").format(
                    length=len(reason), limit=REASON_MAX
                )
            )
            return
        data = await state.get_data()
        await state.clear()
        order_id = int(data["order_id"])
        await message.answer(_("⏳ Отменяю заказ №{number}…").format(number=order_id))
        result = await orders.change_status(
            actor_id=staff.telegram_id,
            role=role,
            order_id=order_id,
            expected=str(data["frm"]),
            target=S.CANCELLED,
            comment=reason,
        )
        await report(
            bot,
            int(data["card_chat"]),
            int(data["card_message"]),
            order_id,
            S.CANCELLED,
            result,
            role,
            staff_service,
            settings,
            orders,
        )

    @router.message(OrderFlow.cancel_reason)
    async def cancel_reason_hint(message: Message) -> None:
        await message.answer(_("Напишите причину отмены текстом или /cancel, чтобы не отменять заказ."))

    @router.callback_query(OrderCb.filter(F.action == "b"))
    async def back_to_card(
        query: CallbackQuery,
        callback_data: OrderCb,
        role: Role,
        staff: Person,
        orders: OrderService,
        staff_service: StaffService,
        settings: Settings,
        bot: Bot,
        state: FSMContext,
    ) -> None:
        await query.answer()
        data = await state.get_data()
        if await state.get_state() is not None and data.get("order_id") == callback_data.id:
            await state.clear()
        if not isinstance(query.message, Message):
            return
        chat_id, message_id = query.message.chat.id, query.message.message_id
        if callback_data.arg == "p":
            # from the photo prompt: drop its buttons and go back to the card it belongs to
            await edit_or_send(bot, query.message, text=_("Статус не изменён."), reply_markup=None)
            chat_id, found = _card_location(query, data, callback_data.id)
            if found is None:
                return
            message_id = found
        try:
            card = await orders.card(callback_data.id)
        except ApiError as exc:
            await bot.send_message(chat_id, esc(explain(exc)))
            return
        await refresh_card(bot, chat_id, message_id, card, role, staff_service, settings, orders)

    # --- telling what happened -----------------------------------------------------------------

    async def report(
        bot: Bot,
        chat_id: int,
        card_message: int | None,
        order_id: int,
        target: str,
        result: ChangeResult,
        role: Role,
        staff_service: StaffService,
        settings: Settings,
        orders: OrderService,
        *,
        alert_tap_by: int | None = None,
    ) -> None:
        if alert_tap_by is not None:
            # A tap on an alert in the shop's group: the alert card follows the change by itself
            # (OrderService listener); what went wrong is told to the person, not to the group.
            note = outcome_text(result, order_id, target, await _mover_name(result, staff_service))
            if note:
                try:
                    await bot.send_message(alert_tap_by, note)
                except TelegramAPIError as exc:
                    log.info("could not tell %s privately: %s", alert_tap_by, exc.message)
            return
        if result.card is not None:
            rendered = await render_card(result.card, role, staff_service, settings, orders)
            if card_message is None:
                await bot.send_message(chat_id, **rendered)
            else:
                await edit_or_send(bot, chat_id=chat_id, message_id=card_message, **rendered)
        note = outcome_text(result, order_id, target, await _mover_name(result, staff_service))
        if note:
            await bot.send_message(chat_id, note)

    return router


def _card_location(query: CallbackQuery, data: dict[str, Any], order_id: int) -> tuple[int, int | None]:
    if data.get("order_id") == order_id and "card_message" in data:
        return int(data["card_chat"]), int(data["card_message"])
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage):
        return (query.from_user.id, None)
    return message.chat.id, None


async def _mover_name(result: ChangeResult, staff_service: StaffService) -> str | None:
    if result.by is None or result.by.actor_id is None:
        return None
    return (await staff_service.names({result.by.actor_id})).get(result.by.actor_id)


def outcome_text(result: ChangeResult, order_id: int, target: str, mover: str | None) -> str | None:
    """The one line that tells the person what happened (None when the edited card says it all)."""
    outcome = result.outcome
    if outcome is ChangeOutcome.CHANGED:
        return None
    if outcome is ChangeOutcome.ALREADY:
        current = result.card.order.status if result.card else ""
        status = status_name(current, result.card.order.status_name if result.card else None)
        if mover:
            return _("Заказ №{number} уже «{status}» — это сделал(а) {who}. Карточка обновлена.").format(
                number=order_id, status=status, who=esc(mover)
            )
        return _("Заказ №{number} уже «{status}». Карточка обновлена.").format(number=order_id, status=status)
    if outcome is ChangeOutcome.REFUSED:
        if result.reason:
            return _("Сервер не разрешил сменить статус заказа №{number}: {reason}").format(
                number=order_id, reason=esc(result.reason)
            )
        return _("Сейчас заказ №{number} нельзя перевести в «{status}». Карточка обновлена.").format(
            number=order_id, status=status_name(target)
        )
    if outcome is ChangeOutcome.UNKNOWN:
        return _(
            "Сервер не ответил вовремя, и проверить не удалось: "
            "неизвестно, сменился ли статус заказа №{number}. Нажмите «Обновить» через минуту."
        ).format(number=order_id)
    if outcome is ChangeOutcome.UNAVAILABLE:
        return _(
            "Сервер заказов сейчас недоступен — статус заказа №{number} не изменён. Попробуйте ещё раз."
        ).format(number=order_id)
    if outcome is ChangeOutcome.NOT_FOUND:
        return _("Заказ №{number} не найден.").format(number=order_id)
    return _("Вам нельзя так менять этот заказ.")
