"""Stock: /stock, /lowstock, /history, and the /delivery (or a pasted invoice) and /writeoff flows.
A delivery of a recent flower is a tap, a number and «Сохранить» (last time's price and supplier
stand on the summary); every confirmed write goes through the outbox once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from aiogram import F
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.context import Ctx, needs
from handlers.errors import explain
from handlers.feature import Feature
from handlers.forms import Step, typed
from handlers.photos import received_image
from services import inventory as stock
from services.errors import ApiError
from services.inventory import InventoryService, RecentChoices
from services.models import Flower, Movement
from services.orders import OrderService
from services.outbox import Outbox, WriteKind
from services.roles import Permission
from services.staff import StaffService
from services.storage.errors import StorageError
from views import inventory as view
from views.callbacks import FlowCb, MenuCb, StockCb
from views.i18n import N_
from views.render import esc

log = logging.getLogger(__name__)
P = Permission
feature = Feature("inventory")
get_router = feature.router
VIEW, WRITE = needs(P.STOCK_VIEW), needs(P.STOCK_WRITE)


class Flow(StatesGroup):
    """A delivery or a write-off being entered (which one: `mode` in the data)."""

    flower = State()
    quantity = State()
    price = State()  # of a delivery
    supplier = State()  # of a delivery
    reason = State()  # of a write-off
    reason_text = State()
    photo = State()
    confirm = State()
    invoice = State()  # a pasted delivery invoice


STEPS = {  # (flow, field of the summary) → the step that asks it again
    **{("delivery", f): getattr(Flow, f) for f in ("quantity", "price", "supplier", "flower")},
    **{("writeoff", f): getattr(Flow, f) for f in ("quantity", "reason", "flower")},
}
# the optional steps (a value given or skipped goes straight to the summary) → the field they fill
GIVEN = {Flow.price.state: "price", Flow.supplier.state: "supplier", Flow.photo.state: "photo_url"}
WAITS_FOR = {  # a message that fits no step is told what the step waits for (views.inventory.HINTS)
    Flow.quantity.state: "quantity",
    **{s.state: "text" for s in (Flow.flower, Flow.price, Flow.supplier, Flow.reason_text)},
    Flow.reason.state: "reason",
    Flow.photo.state: "photo",
    **{s.state: "confirm" for s in (Flow.confirm, Flow.invoice)},
}


def _step(
    state: State, read: Callable[[str], Any], what: str, waiting: str, **form: Any
) -> Callable[[Step], Step]:
    """A typed step: `read` the text, or refuse it in the words of `what` (view.problem_text)."""
    problem = partial(view.problem_text, what=what)
    return typed(feature, state, read=read, problem=problem, need=(P.STOCK_WRITE,), waiting=waiting, **form)


def _args(command: CommandObject | None) -> str:
    return " ".join(((command.args if command else None) or "").split())[:60]


def _flow(data: dict[str, Any]) -> str:
    return "writeoff" if data.get("mode") == "writeoff" else "delivery"


# --- lookups ---------------------------------------------------------------------------------------


@feature.message(Command("stock"), flags=VIEW)
@feature.callback_query(MenuCb.filter(F.open == "stock"), flags=VIEW)
@feature.callback_query(StockCb.filter(F.action == "p"), flags=VIEW)
async def show_stock(
    event: Message | CallbackQuery,
    ctx: Ctx,
    state: FSMContext,
    inventory: InventoryService,
    command: CommandObject | None = None,
    callback_data: MenuCb | StockCb | None = None,
) -> None:
    """/stock [search] or its button under /start; a page of the list (p) keeps the search."""
    if isinstance(callback_data, StockCb):
        query, page = str((await state.get_data()).get("stock_query", "")), callback_data.page
    else:
        query, page = _args(command), 0
        await state.update_data(stock_query=query)
    screen = view.stock_page(await inventory.search(query), query, page, inventory.threshold)
    await (ctx.show if isinstance(callback_data, StockCb) else ctx.send)(**screen)


async def _history(ctx: Ctx, movements: list[Movement], outbox: Outbox, staff: StaffService) -> view.History:
    names = await stock.authors(movements, outbox, staff)
    return view.History(movements, names, ctx.tz, ctx.today())


@feature.callback_query(StockCb.filter(F.action.in_({"f", "r"})), flags=VIEW)
async def flower_card(
    query: CallbackQuery,
    callback_data: StockCb,
    ctx: Ctx,
    inventory: InventoryService,
    outbox: Outbox,
    staff_service: StaffService,
) -> None:
    flower = await inventory.flower(callback_data.id)
    if flower is None:
        await ctx.send(_("Такого цветка больше нет в списке."))
        return
    history = await _history(ctx, await inventory.history(flower.id, limit=8), outbox, staff_service)
    # from a list the card is a new message; its own «Обновить» (r) refreshes it in place
    show = ctx.show if callback_data.action == "r" else ctx.send
    await show(**view.flower_card(flower, history, inventory.threshold))


@feature.message(Command("lowstock"), flags=VIEW)
async def low_stock(message: Message, ctx: Ctx, inventory: InventoryService) -> None:
    await ctx.send(view.low_stock_text(await inventory.low_stock()))


@feature.message(Command("history"), flags=VIEW)
async def history(
    message: Message,
    command: CommandObject,
    ctx: Ctx,
    inventory: InventoryService,
    outbox: Outbox,
    staff_service: StaffService,
) -> None:
    query = _args(command)
    found = await inventory.search(query) if query else []
    if query and not found:
        await ctx.send(_("Не нашёл «{query}». Попробуйте короче.").format(query=esc(query)))
        return
    flower = found[0] if found else None
    movements = await inventory.history(flower.id if flower else None, limit=20)
    await ctx.send(view.history_text(flower, await _history(ctx, movements, outbox, staff_service)))


# --- starting the flows: which flower --------------------------------------------------------------


@feature.message(Command("delivery", "writeoff"), flags=WRITE)
@feature.callback_query(MenuCb.filter(F.open.in_({"delivery", "writeoff"})), flags=WRITE)
async def start_flow(
    event: Message | CallbackQuery,
    ctx: Ctx,
    state: FSMContext,
    recent: RecentChoices,
    inventory: InventoryService,
    command: CommandObject | None = None,
) -> None:
    """/delivery or /writeoff, typed or tapped under /start."""
    if isinstance(event, CallbackQuery):
        await state.set_data({"mode": MenuCb.unpack(event.data or "").open})
    else:
        await state.set_data({"mode": command.command if command else ""})
    await _ask_flower(ctx, state, recent, inventory)


async def _ask_flower(
    ctx: Ctx, state: FSMContext, recent: RecentChoices, inventory: InventoryService
) -> None:
    """Type a name, or tap one of the person's recent flowers right in this first answer."""
    mode = _flow(await state.get_data())
    await state.set_state(Flow.flower)
    flowers = await inventory.of_ids(await recent.flowers(ctx.staff_id))
    await ctx.send(**view.ask_flower(mode, flowers, inventory.threshold))


@_step(Flow.flower, str, "text", N_("Сейчас я жду название цветка."))
async def flower_typed(
    message: Message,
    value: str,
    ctx: Ctx,
    state: FSMContext,
    inventory: InventoryService,
    recent: RecentChoices,
) -> None:
    flowers = await inventory.flowers()
    if _flow(await state.get_data()) == "delivery" and stock.looks_like_invoice(value):
        await _show_invoice(ctx, value, flowers, state)
        return
    query = " ".join(value.split())[:60]
    found = stock.find_flowers(query, flowers)
    if len(found) == 1:
        await _picked(ctx, found[0], state, recent, inventory.threshold)
        return
    close = found or stock.suggest(query, flowers)
    await ctx.send(**view.search_result(query, close, bool(found), inventory.threshold))


@feature.callback_query(StockCb.filter(F.action.in_({"d", "w"})), flags=WRITE)
@feature.callback_query(Flow.flower, FlowCb.filter(F.action == "pick"), flags=WRITE)
async def flower_chosen(
    query: CallbackQuery,
    callback_data: StockCb | FlowCb,
    ctx: Ctx,
    state: FSMContext,
    inventory: InventoryService,
    recent: RecentChoices,
) -> None:
    """A flower tapped in the flow, or «Приход» / «Списание» on its card: that flow, begun with it."""
    flower_id = callback_data.id if isinstance(callback_data, StockCb) else callback_data.arg
    flower = await inventory.flower(flower_id)
    if flower is None:
        await ctx.tell(_("Такого цветка больше нет в списке."))
        return
    if isinstance(callback_data, StockCb):
        await state.set_data({"mode": "delivery" if callback_data.action == "d" else "writeoff"})
    await _picked(ctx, flower, state, recent, inventory.threshold)


async def _picked(ctx: Ctx, flower: Flower, state: FSMContext, recent: RecentChoices, threshold: int) -> None:
    await recent.remember_flower(ctx.staff_id, flower.id)
    data = await state.get_data()
    writeoff = _flow(data) == "writeoff"
    if writeoff and flower.quantity <= 0:
        await state.clear()
        await ctx.send(_("«{name}» нет на складе — списывать нечего.").format(name=esc(flower.name)))
        return
    picked: dict[str, Any] = {"flower_id": flower.id, "flower_name": flower.name, "stock": flower.quantity}
    if not writeoff and "price" not in data:  # a price or supplier typed before a new flower stays
        picked["price"], picked["supplier"] = await recent.delivery_defaults(flower.id)
    await state.update_data(picked)
    await state.set_state(Flow.quantity)
    await ctx.send(**view.ask_quantity(flower, writeoff, threshold))


# --- the values ------------------------------------------------------------------------------------


@_step(
    Flow.quantity,
    stock.parse_quantity,
    "quantity",
    N_("Сейчас я жду количество стеблей."),
    again=lambda: _("Сколько стеблей?"),
)
async def quantity_typed(message: Message, value: int, ctx: Ctx, state: FSMContext) -> None:
    data = await state.get_data()
    writeoff = _flow(data) == "writeoff"
    if writeoff and value > int(data.get("stock", 0)):
        await ctx.send(view.over_stock(data))
    elif not writeoff or data.get("editing"):
        await _confirm(ctx, state, {"quantity": value})
    else:
        await state.update_data(quantity=value)
        await state.set_state(Flow.reason)
        await ctx.send(**view.ask_field("reason"))


@_step(
    Flow.price,
    stock.parse_price,
    "price",
    N_("Сейчас я жду цену числом."),
    markup=lambda: view.ask_field("price")["reply_markup"],
)
@_step(Flow.supplier, partial(stock.clean_text, limit=120), "text", N_("Сейчас я жду название поставщика."))
async def value_typed(message: Message, value: int | str, ctx: Ctx, state: FSMContext) -> None:
    await _given(ctx, state, value)


@feature.callback_query(Flow.supplier, FlowCb.filter(F.action == "supplier"), flags=WRITE)
async def supplier_chosen(
    query: CallbackQuery, callback_data: FlowCb, ctx: Ctx, state: FSMContext, recent: RecentChoices
) -> None:
    suppliers = await recent.suppliers()
    index = int(callback_data.arg) if callback_data.arg.isascii() and callback_data.arg.isdigit() else -1
    if not 0 <= index < len(suppliers):
        await ctx.toast(_("Эта кнопка устарела."))
        return
    await _given(ctx, state, suppliers[index])


@feature.callback_query(StateFilter(*GIVEN), FlowCb.filter(F.action == "skip"), flags=WRITE)
async def skipped(query: CallbackQuery, ctx: Ctx, state: FSMContext) -> None:
    await _given(ctx, state, None)


@feature.message(Flow.photo, F.photo | F.document, flags=WRITE)
async def writeoff_photo(message: Message, ctx: Ctx, state: FSMContext, orders: OrderService) -> None:
    image = await received_image(message, ctx.bot, default_name="writeoff.jpg")
    if image is None:
        return
    try:
        url = await orders.upload_photo(image.content, image.filename, image.content_type)
    except ApiError as error:
        await ctx.failed(error, then=_("Фото не загружено: пришлите его ещё раз или пропустите."))
        return
    await _given(ctx, state, url)


async def _given(ctx: Ctx, state: FSMContext, value: int | str | None) -> None:
    """The value of an optional step (GIVEN), typed, tapped, uploaded or skipped (None)."""
    await _confirm(ctx, state, {GIVEN[str(await state.get_state())]: value})


@feature.callback_query(
    Flow.reason,
    FlowCb.filter((F.action == "reason") & F.arg.in_({*view.WRITEOFF_REASONS, "other"})),
    flags=WRITE,
)
async def reason_chosen(query: CallbackQuery, callback_data: FlowCb, ctx: Ctx, state: FSMContext) -> None:
    if callback_data.arg == "other":
        await state.set_state(Flow.reason_text)
        await ctx.send(**view.ask_field("other"))
        return
    label = view.WRITEOFF_REASONS[callback_data.arg]
    await _reason(ctx, state, label, _(label))  # the server keeps the shop's language, the person sees theirs


@_step(Flow.reason_text, stock.clean_text, "text", N_("Сейчас я жду причину текстом."))
async def reason_typed(message: Message, value: str, ctx: Ctx, state: FSMContext) -> None:
    await _reason(ctx, state, value, value)


async def _reason(ctx: Ctx, state: FSMContext, reason: str, label: str) -> None:
    data = await state.update_data(reason=reason, reason_label=label)
    if data.get("editing"):
        await _confirm(ctx, state)
        return
    await state.set_state(Flow.photo)
    await ctx.send(_("Пришлите фото списанных цветов, если нужно."), reply_markup=view.skip_keyboard())


# --- the summary: change a value, save once --------------------------------------------------------


async def _confirm(
    ctx: Ctx, state: FSMContext, values: dict[str, Any] | None = None, fields: bool = False
) -> None:
    """The one check before saving, with `values` just given; `fields`: what can be changed, listed."""
    data = await state.get_data()
    data = await state.update_data(values or {}, op=data.get("op") or Outbox.new_op_id(), editing=False)
    await state.set_state(Flow.confirm)
    await ctx.show(**view.summary(data, fields=fields))


@feature.callback_query(Flow.confirm, FlowCb.filter(F.action == "edit"), flags=WRITE)
@feature.callback_query(StateFilter(Flow.confirm, *GIVEN), FlowCb.filter(F.action == "back"), flags=WRITE)
async def back_to_summary(query: CallbackQuery, callback_data: FlowCb, ctx: Ctx, state: FSMContext) -> None:
    await _confirm(ctx, state, fields=callback_data.action == "edit")


@feature.callback_query(Flow.confirm, FlowCb.filter(F.action == "field"), flags=WRITE)
async def field_chosen(
    query: CallbackQuery,
    callback_data: FlowCb,
    ctx: Ctx,
    state: FSMContext,
    recent: RecentChoices,
    inventory: InventoryService,
) -> None:
    step = STEPS.get((_flow(await state.get_data()), callback_data.arg))
    if step is None:
        await ctx.toast(_("Эта кнопка устарела."))
        return
    if step is Flow.flower:  # another flower: what was typed is kept where it still fits
        await state.update_data(op=None)
        await _ask_flower(ctx, state, recent, inventory)
        return
    await state.set_state(step)
    await state.update_data(editing=True)
    await ctx.show(**view.ask_field(callback_data.arg, await recent.suppliers()))


@feature.callback_query(FlowCb.filter(F.action == "save"), flags=WRITE)
async def save(
    query: CallbackQuery,
    callback_data: FlowCb,
    ctx: Ctx,
    state: FSMContext,
    outbox: Outbox,
    recent: RecentChoices,
) -> None:
    current = await state.get_state()
    data = await state.get_data()
    if current not in (Flow.confirm.state, Flow.invoice.state) or data.get("op") != callback_data.arg:
        # a second tap after the flow ended, or a forged button: say what is true
        await ctx.toast(_("Уже сохранено или устарело."))
        return
    if any(row.get("doubt") for row in data.get("invoice") or []):  # a stale or forged «Сохранить»
        await ctx.toast(_("Сначала проверьте числа с ❓."), alert=True)
        return
    await ctx.toast(_("⏳ Сохраняю…"))
    assert ctx.screen is not None
    await ctx.show(ctx.screen.html_text, reply_markup=None)
    # The flow ends only once the write is stored: if the database cannot take it, the
    # person gets «Сохранить» again instead of typing everything anew.
    if current == Flow.invoice.state:
        saved = await _save_invoice(ctx, data, outbox)
    else:
        saved = await _save_one(ctx, data, outbox, recent)
    if saved is None:
        return
    try:  # stored: a state left behind only answers «already saved» to a second tap
        await state.clear()
    except StorageError as error:
        log.warning("saved, but the flow state stays: %s %s", type(error).__name__, error)
    await ctx.send(**saved)  # after the flow is gone: what the person does next starts afresh


async def _save_one(
    ctx: Ctx, data: dict[str, Any], outbox: Outbox, recent: RecentChoices
) -> dict[str, Any] | None:
    """The outcome to tell once stored; None when the flow stays (told why) or is being saved."""
    kind, payload = stock.write_of(data)
    try:
        outcome = await outbox.submit(
            kind, payload, created_by=ctx.staff_id, chat_id=ctx.chat_id, op_id=data["op"]
        )
    except StorageError as error:
        log.warning("%s %s not stored: %s %s", kind.value, data["op"], type(error).__name__, error)
        then = _("На склад ничего не отправлено. Нажмите «Сохранить» ещё раз.")
        await ctx.failed(error, then=then, reply_markup=view.summary(data)["reply_markup"])
        return None
    if outcome.duplicate:  # a second tap while the first is being saved: the first finishes
        return None
    if kind is WriteKind.FLOWER_DELIVERY:
        await recent.remember_delivery(data["flower_id"], data.get("price"), data.get("supplier"))
    return view.outcome_message(outcome)


async def _show_invoice(ctx: Ctx, text: str, flowers: list[Flower], state: FSMContext) -> None:
    lines = stock.parse_invoice(text, flowers)
    rows = stock.invoice_rows(lines)
    if not rows:
        await ctx.send(view.invoice_table(lines) + "\n\n" + _("Пришлите исправленную накладную или /cancel."))
        return
    op_id = Outbox.new_op_id()
    await state.set_state(Flow.invoice)
    await state.update_data(op=op_id, invoice=rows)
    await ctx.send(view.invoice_table(lines), reply_markup=view.invoice_keyboard(op_id))


async def _save_invoice(ctx: Ctx, data: dict[str, Any], outbox: Outbox) -> dict[str, Any] | None:
    """What the lines came to, once all are stored; None when the database stopped taking them
    (those stored are told, «Сохранить» again stores the rest), or a second tap found them saving."""
    op_id = str(data["op"])
    note = "фото накладной" if data.get("photo") else "накладная"
    saved = await stock.submit_invoice(
        outbox, data.get("invoice", []), op_id, created_by=ctx.staff_id, chat_id=ctx.chat_id, note=note
    )
    if saved.failure is None:
        return None if all(o.duplicate for o in saved.outcomes) else view.invoice_outcome(saved, "", op_id)
    failure, stored = saved.failure, len(saved.outcomes)
    log.warning("invoice %s not stored after %d lines: %s %s", op_id, stored, type(failure).__name__, failure)
    await ctx.send(**view.invoice_outcome(saved, explain(failure), op_id))
    return None


# --- leaving, and messages that fit no step --------------------------------------------------------


@feature.callback_query(FlowCb.filter(F.action == "cancel"), flags=needs())
async def flow_cancel(query: CallbackQuery, ctx: Ctx, state: FSMContext) -> None:
    if await state.get_state() is not None:
        await state.clear()
        await ctx.send(_("Отменено. Ничего не сохранено."))


@feature.message(StateFilter(*WAITS_FOR), flags=needs())
async def hint(message: Message, ctx: Ctx, state: FSMContext) -> None:
    await ctx.send(**view.hint(WAITS_FOR[str(await state.get_state())]))
