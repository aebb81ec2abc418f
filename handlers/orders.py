"""/orders in Telegram: lists by tab, order cards and their status buttons, cancel reasons, photos.

OrderService checks every change for every press, forged or not. A photo is offered after the
change it belongs to (assembled, delivered), never a gate before it: the step waits for one
photo and is left by anything else the person does."""

from __future__ import annotations

import logging
import re

from aiogram import F
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.context import ORDERS_VIEW, Ctx, P, needs
from handlers.feature import Feature
from handlers.forms import typed
from handlers.photos import received_image
from services.errors import ApiError, ApiNotFound
from services.models import OrderStatus
from services.orders import (
    PHOTO_STEPS,
    ChangeOutcome,
    ChangeResult,
    OrderCard,
    OrderHidden,
    OrderService,
    TabHidden,
    cancel_reason,
    photo_comment,
    tabs_for,
)
from services.staff import StaffService
from views import orders as view
from views.callbacks import MenuCb, OrderCb, OrderListCb

log = logging.getLogger(__name__)
S = OrderStatus
feature = Feature("orders")
get_router = feature.router

ORDER_NUMBER = re.compile(r"^\s*(?:№|#|n)?\s*(\d{1,9})\s*$", re.IGNORECASE)
ORDER_COMMAND = re.compile(r"^/order(?:@\w+)?", re.IGNORECASE)
MOVERS = (P.ORDERS_ACCEPT_ASSEMBLE, P.ORDERS_DELIVER, P.ORDERS_CANCEL_AND_OTHER)
CANCELLERS = (P.ORDERS_CANCEL_AND_OTHER,)
PHOTO = F.photo | F.document


class OrderFlow(StatesGroup):
    photo = State()  # data: order_id, to (the status just reached), card_message
    cancel_reason = State()  # data: order_id, frm, card_message


@feature.message(OrderFlow.photo, F.text.startswith("/") | F.text.regexp(ORDER_NUMBER), flags=needs())
@feature.callback_query(OrderFlow.photo, flags=needs())
@feature.callback_query(OrderFlow.cancel_reason, OrderCb.filter(F.action == "b"), flags=needs())
async def leave_step(event: Message | CallbackQuery, ctx: Ctx, state: FSMContext) -> None:
    """A command, the next order's number or any button leaves the photo step, «Не отменять» the
    typed reason; each then does what it does, as if no step was there."""
    await state.clear()
    raise SkipHandler


@feature.message(OrderFlow.photo, PHOTO, flags=needs(*MOVERS))
async def photo_sent(
    message: Message, ctx: Ctx, state: FSMContext, orders: OrderService, staff_service: StaffService
) -> None:
    data = await state.get_data()
    url = await _upload(message, ctx, orders)
    if url is None:
        return  # told why; the step still waits
    await state.clear()
    card = await orders.attach_photo(int(data["order_id"]), ctx.staff_id, url, str(data["to"]))
    if card is not None:
        await _put(ctx, card, staff_service, int(data["card_message"]))
    await ctx.send(_("📷 Фото загружено."))


@feature.message(Command("orders"), flags=needs(*ORDERS_VIEW))
@feature.callback_query(MenuCb.filter(F.open == "orders"), flags=needs(*ORDERS_VIEW))
async def show_orders(event: Message | CallbackQuery, ctx: Ctx, orders: OrderService) -> None:
    await _list(ctx, orders, tabs_for(ctx.role)[0], None)


@feature.callback_query(OrderListCb.filter(), flags=needs(*ORDERS_VIEW))
async def show_tab(query: CallbackQuery, callback_data: OrderListCb, ctx: Ctx, orders: OrderService) -> None:
    await _list(ctx, orders, callback_data.tab, callback_data.page)


async def _list(ctx: Ctx, orders: OrderService, tab: str, page: int | None) -> None:
    """A tab's page: a new message from /orders (`page` None), else the list edited in place."""
    try:
        found = await orders.list_tab(tab, ctx.role, ctx.staff_id, page or 0)
    except TabHidden:
        await ctx.tell(_("Этот список вам недоступен."))
        return
    except ApiError as error:
        await ctx.failed(error)
        return
    screen = view.list_screen(found, ctx.role, ctx.today())
    await (ctx.send(**screen) if page is None else ctx.show(**screen))


@feature.message(Command("order"), flags=needs(*ORDERS_VIEW))
@feature.message(StateFilter(None, OrderFlow.photo), F.text.regexp(ORDER_NUMBER), flags=needs(*ORDERS_VIEW))
async def open_order(message: Message, ctx: Ctx, orders: OrderService, staff_service: StaffService) -> None:
    """/order 122578, or just the number."""
    match = ORDER_NUMBER.match(ORDER_COMMAND.sub("", message.text or ""))
    if match is None:
        await ctx.send(_("Напишите номер заказа, например: /order 122578"))
        return
    await _open(ctx, int(match.group(1)), orders, staff_service)


@feature.callback_query(OrderCb.filter(F.action.in_({"o", "v", "b"})), flags=needs(*ORDERS_VIEW))
async def card_button(
    query: CallbackQuery, callback_data: OrderCb, ctx: Ctx, orders: OrderService, staff_service: StaffService
) -> None:
    """o: the card as a message of its own (from a list); v: refreshed; b: back from cancelling."""
    assert ctx.screen
    in_place = None if callback_data.action == "o" else ctx.screen.message_id
    await _open(ctx, callback_data.id, orders, staff_service, in_place)


async def _open(
    ctx: Ctx, order_id: int, orders: OrderService, staff_service: StaffService, message_id: int | None = None
) -> None:
    """The card as this person may see it, or a word why not."""
    try:
        card = await orders.card_for(order_id, ctx.role, ctx.staff_id)
    except ApiNotFound:
        await ctx.send(view.not_found(order_id))
    except OrderHidden:
        await ctx.send(_("Заказ №{number} вам недоступен.").format(number=order_id))
    except ApiError as error:
        await ctx.failed(error)
    else:
        await _put(ctx, card, staff_service, message_id)


async def _put(
    ctx: Ctx, card: OrderCard, staff_service: StaffService, message_id: int | None, offer: str | None = None
) -> None:
    """The card sent, or edited in place; `offer`: the status just reached, its photo asked for."""
    names = await staff_service.names({h.actor_id for h in card.handled if h.actor_id})
    screen = view.card_screen(card, names, ctx.role, ctx.tz, ctx.today(), offer)
    await (ctx.send(**screen) if message_id is None else ctx.edit(message_id, **screen))


@feature.callback_query(OrderCb.filter(F.action == "s"), flags=needs(*MOVERS))
async def set_status(
    query: CallbackQuery,
    callback_data: OrderCb,
    ctx: Ctx,
    state: FSMContext,
    orders: OrderService,
    staff_service: StaffService,
) -> None:
    assert ctx.screen
    card_message, result = ctx.screen.message_id, await _change(ctx, orders, callback_data)
    offer = callback_data.to if result.outcome is ChangeOutcome.CHANGED and callback_data.arg != "a" else None
    if offer in PHOTO_STEPS:  # changed first; the photo is offered after, for this card
        await state.set_state(OrderFlow.photo)
        await state.set_data({"order_id": callback_data.id, "to": offer, "card_message": card_message})
    await report(ctx, result, callback_data, staff_service, card_message, offer)


@feature.message(StateFilter(None), PHOTO, F.caption.regexp(ORDER_NUMBER).as_("number"), flags=needs(*MOVERS))
async def photo_with_number(
    message: Message, number: re.Match[str], ctx: Ctx, orders: OrderService, staff_service: StaffService
) -> None:
    """One step: a photo captioned with an order number assembles or delivers that order."""
    order_id = int(number.group(1))
    try:
        card, target = await orders.photo_target(order_id, ctx.role)
    except ApiNotFound:
        await ctx.send(view.not_found(order_id))
        return
    if target is None:
        await ctx.send(view.no_photo_step(card))
        return
    url = await _upload(message, ctx, orders)
    if url is None:
        return
    move = OrderCb(action="s", id=order_id, to=target, frm=card.order.status)
    result = await _change(ctx, orders, move, photo_comment(url))
    await ctx.send(_("📷 Фото загружено."))
    await report(ctx, result, move, staff_service, None)


async def _upload(message: Message, ctx: Ctx, orders: OrderService) -> str | None:
    """The photo fetched from Telegram and uploaded to cvety.kz; None after telling why not."""
    image = await received_image(message, ctx.bot, default_name="bouquet.jpg")
    if image is None:
        return None
    try:
        return await orders.upload_photo(image.content, image.filename, image.content_type)
    except ApiError as error:
        await ctx.failed(error, then=_("Фото не загружено: пришлите его ещё раз."))
        return None


@feature.callback_query(OrderCb.filter(F.action == "x"), flags=needs(*CANCELLERS))
async def cancel_ask(query: CallbackQuery, callback_data: OrderCb, ctx: Ctx) -> None:
    assert ctx.screen
    await ctx.show(**view.cancel_screen(ctx.screen.html_text or "", callback_data.id, callback_data.frm))


@feature.callback_query(OrderCb.filter((F.action == "r") & (F.arg == "other")), flags=needs(*CANCELLERS))
async def ask_reason(query: CallbackQuery, callback_data: OrderCb, ctx: Ctx, state: FSMContext) -> None:
    assert ctx.screen
    await state.set_state(OrderFlow.cancel_reason)
    await state.set_data(
        {"order_id": callback_data.id, "frm": callback_data.frm, "card_message": ctx.screen.message_id}
    )
    await ctx.send(view.reason_question(callback_data.id))


@feature.callback_query(
    OrderCb.filter((F.action == "r") & F.arg.in_(view.CANCEL_REASONS)), flags=needs(*CANCELLERS)
)
async def cancel_with_reason(
    query: CallbackQuery, callback_data: OrderCb, ctx: Ctx, orders: OrderService, staff_service: StaffService
) -> None:
    assert ctx.screen
    move = OrderCb(action="r", id=callback_data.id, to=S.CANCELLED, frm=callback_data.frm)
    reason = view.CANCEL_REASONS[callback_data.arg]  # the shop's language on the server, whatever one reads
    await report(ctx, await _change(ctx, orders, move, reason), move, staff_service, ctx.screen.message_id)


@typed(feature, OrderFlow.cancel_reason, read=cancel_reason, problem=view.reason_problem, need=CANCELLERS)
async def reason_typed(
    message: Message,
    value: str,
    ctx: Ctx,
    state: FSMContext,
    orders: OrderService,
    staff_service: StaffService,
) -> None:
    data = await state.get_data()
    await state.clear()
    move = OrderCb(action="r", id=int(data["order_id"]), to=S.CANCELLED, frm=str(data["frm"]))
    await ctx.send(_("⏳ Отменяю заказ №{number}…").format(number=move.id))
    await report(ctx, await _change(ctx, orders, move, value), move, staff_service, int(data["card_message"]))


async def _change(ctx: Ctx, orders: OrderService, move: OrderCb, comment: str | None = None) -> ChangeResult:
    return await orders.change_status(
        actor_id=ctx.staff_id,
        role=ctx.role,
        order_id=move.id,
        expected=move.frm,
        target=move.to,
        comment=comment,
    )


async def report(
    ctx: Ctx,
    result: ChangeResult,
    move: OrderCb,
    staff_service: StaffService,
    card_message: int | None,
    offer: str | None = None,
) -> None:
    """The card as it is now, and one line when the change did not simply happen."""
    mover = result.by.actor_id if result.by else None
    names = await staff_service.names({mover}) if mover else {}
    note = view.outcome_text(result, move.id, move.to, names.get(mover or 0))
    if result.outcome is ChangeOutcome.FORBIDDEN and ctx.query is not None:
        await ctx.toast(note, alert=True)
    elif move.arg == "a" and note:
        # A tap on an alert in the shop's group: the alert card follows the change by itself
        # (OrderService listener); what went wrong is told to the person, not to the group.
        try:
            await ctx.bot.send_message(ctx.staff_id, note)
        except TelegramAPIError as exc:
            log.info("could not tell %s privately: %s", ctx.staff_id, exc.message)
    elif move.arg != "a":
        if result.card is not None:
            await _put(ctx, result.card, staff_service, card_message, offer)
        if note:
            await ctx.send(note)


@feature.message(OrderFlow.photo, flags=needs())
@feature.message(OrderFlow.cancel_reason, flags=needs())
async def step_hint(message: Message, ctx: Ctx, state: FSMContext, raw_state: str | None) -> None:
    number = (await state.get_data()).get("order_id", "?")
    await ctx.send(view.waiting_text(raw_state == OrderFlow.photo.state, number))
