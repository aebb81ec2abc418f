"""/stocktake (owners and seniors): walk through the flowers, type what is really there, review
the differences, send them as one bulk update through the outbox."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from aiogram import F
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.context import Ctx, needs
from handlers.feature import Feature
from handlers.forms import typed
from services.inventory import InventoryService, normalize, parse_quantity, stocktake_differences
from services.outbox import Outbox, WriteKind
from services.roles import Permission
from services.storage.errors import StorageError
from views.callbacks import StocktakeCb
from views.i18n import N_
from views.inventory import outcome_message, problem_text
from views.stocktake import count_question, review

log = logging.getLogger(__name__)
feature = Feature("stocktake")
get_router = feature.router
COUNTING = needs(Permission.STOCKTAKE)


class Stocktake(StatesGroup):
    counting = State()
    review = State()


@feature.message(Command("stocktake"), flags=COUNTING)
async def start(message: Message, ctx: Ctx, state: FSMContext, inventory: InventoryService) -> None:
    flowers = sorted(await inventory.flowers(), key=lambda f: normalize(f.name))
    if not flowers:
        await ctx.send(_("На складе нет ни одного цветка — нечего пересчитывать."))
        return
    await state.set_state(Stocktake.counting)
    items = [{"id": f.id, "name": f.name, "quantity": f.quantity} for f in flowers]
    await state.set_data({"items": items, "index": 0, "counted": {}, "op": Outbox.new_op_id()})
    await ctx.send(
        _("📋 <b>Пересчёт цветов.</b> Я называю цветок — вы пишете, сколько стеблей на самом деле.")
    )
    await ctx.send(**count_question(await state.get_data()))


@typed(
    feature,
    Stocktake.counting,
    read=partial(parse_quantity, allow_zero=True),
    problem=partial(problem_text, what="count"),
    need=(Permission.STOCKTAKE,),
    waiting=N_("Сейчас я жду количество стеблей."),
)
async def counted(message: Message, value: int, ctx: Ctx, state: FSMContext) -> None:
    await _record(ctx, state, value)


@feature.callback_query(Stocktake.counting, StocktakeCb.filter(F.action == "same"), flags=COUNTING)
async def same(query: CallbackQuery, ctx: Ctx, state: FSMContext) -> None:
    await _record(ctx, state, None)


@feature.callback_query(Stocktake.counting, StocktakeCb.filter(F.action == "finish"), flags=COUNTING)
async def finish(query: CallbackQuery, ctx: Ctx, state: FSMContext) -> None:
    await _review(ctx, state, await state.get_data())


async def _record(ctx: Ctx, state: FSMContext, quantity: int | None) -> None:
    """This flower counted (None: as the system has it), then the next one or the review."""
    data = await state.get_data()
    item = data["items"][data["index"]]
    counted = {**data.get("counted", {}), item["id"]: item["quantity"] if quantity is None else quantity}
    data = await state.update_data(counted=counted, index=data["index"] + 1)
    if data["index"] >= len(data["items"]):
        await _review(ctx, state, data)
    else:
        await ctx.send(**count_question(data))


async def _review(ctx: Ctx, state: FSMContext, data: dict[str, Any]) -> None:
    if stocktake_differences(data["items"], data.get("counted", {})):
        await state.set_state(Stocktake.review)
    else:  # nothing to send
        await state.clear()
    await ctx.send(**review(data))


@feature.callback_query(StocktakeCb.filter(F.action == "send"), flags=COUNTING)
async def send(
    query: CallbackQuery, callback_data: StocktakeCb, ctx: Ctx, state: FSMContext, outbox: Outbox
) -> None:
    data = await state.get_data()
    if await state.get_state() != Stocktake.review.state or data.get("op") != callback_data.arg:
        await ctx.toast(_("Уже сохранено или устарело."))
        return
    await ctx.toast(_("⏳ Сохраняю…"))
    assert ctx.screen is not None
    await ctx.show(ctx.screen.html_text, reply_markup=None)
    differences = stocktake_differences(data["items"], data.get("counted", {}))
    updates = [{"product_id": item["id"], "quantity": quantity} for item, quantity in differences]
    payload = {"updates": updates, "note": "пересчёт"}
    # The count ends only once the write is stored: a database that cannot take it leaves
    # «Отправить» to press again, never an hour of counting to type anew.
    try:
        outcome = await outbox.submit(
            WriteKind.STOCK_SET,
            payload,
            created_by=ctx.staff_id,
            chat_id=ctx.chat_id,
            op_id=callback_data.arg,
        )
    except StorageError as error:
        log.warning("stocktake %s not stored: %s %s", callback_data.arg, type(error).__name__, error)
        then = _("На склад ничего не отправлено. Нажмите «Отправить» ещё раз.")
        await ctx.failed(error, then=then, reply_markup=review(data)["reply_markup"])
        return
    if outcome.duplicate:  # a second tap while the first is being saved: the first tells
        return
    try:
        await state.clear()
    except StorageError as error:  # stored: a state left behind only answers «already saved»
        log.warning("stocktake saved, but its state stays: %s %s", type(error).__name__, error)
    await ctx.send(**outcome_message(outcome))


@feature.callback_query(StateFilter(Stocktake), StocktakeCb.filter(F.action == "cancel"), flags=needs())
async def cancel(query: CallbackQuery, ctx: Ctx, state: FSMContext) -> None:
    await state.clear()
    await ctx.send(_("Пересчёт отменён. Ничего не сохранено."))


@feature.message(StateFilter(Stocktake), flags=needs())
async def hint(message: Message, ctx: Ctx, state: FSMContext) -> None:
    if await state.get_state() == Stocktake.review.state:
        await ctx.send(_("Нажмите «Отправить» или «Отмена» под списком расхождений."))
    else:
        await ctx.send(_("Жду количество числом или «Без изменений». /cancel — выйти без сохранения."))
