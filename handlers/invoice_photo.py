"""A photographed paper invoice as a delivery: a photo in /delivery (or sent with the caption
«накладная» / «приход») is read, shown as the same review table as a pasted invoice, and every
number read unsurely is asked about before «Сохранить» appears. Saving is the pasted invoice's."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from functools import partial
from typing import Any

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.context import Ctx, needs
from handlers.feature import Feature
from handlers.forms import Step, typed
from handlers.inventory import Flow
from handlers.photos import received_image
from services import invoice_photo
from services.errors import ApiError
from services.inventory import InventoryService, parse_price, parse_quantity
from services.invoice_photo import PRICE, QUANTITY, InvoiceReader
from services.ocr import UnreadablePhoto
from services.roles import Permission
from views import inventory as view
from views.callbacks import FlowCb
from views.i18n import N_

log = logging.getLogger(__name__)
feature = Feature("invoice_photo")
get_router = feature.router
WRITE = needs(Permission.STOCK_WRITE)
PHOTO = F.photo | F.document
CAPTION = r"(?i)^\s*(накладная|приход)\b"


class Fix(StatesGroup):
    """One doubtful number of the invoice being typed (which: `fixing` in the data)."""

    quantity = State()
    price = State()


@feature.message(Flow.flower, PHOTO, flags=WRITE)
async def photo_in_delivery(
    message: Message, ctx: Ctx, state: FSMContext, inventory: InventoryService, invoices: InvoiceReader
) -> None:
    if (await state.get_data()).get("mode") == "writeoff":
        await ctx.send(_("Фото накладной читается в /delivery. Для списания напишите название цветка."))
        return
    await _read(message, ctx, state, inventory, invoices)


@feature.message(StateFilter(None), PHOTO, F.caption.regexp(CAPTION), flags=WRITE)
async def photo_with_caption(
    message: Message, ctx: Ctx, state: FSMContext, inventory: InventoryService, invoices: InvoiceReader
) -> None:
    await state.set_data({"mode": "delivery"})
    await state.set_state(Flow.flower)  # what the photo cannot give, the person types as in /delivery
    await _read(message, ctx, state, inventory, invoices)


async def _read(
    message: Message, ctx: Ctx, state: FSMContext, inventory: InventoryService, invoices: InvoiceReader
) -> None:
    document = message.document
    if document is not None and not (document.mime_type or "").startswith("image/"):
        await ctx.send(view.unreadable_photo("not_an_image"))  # a PDF, a spreadsheet: say what works
        return
    if not invoices.available():
        await ctx.send(_("Чтение фото накладных сейчас недоступно. Вставьте текст накладной сообщением."))
        return
    image = await received_image(message, ctx.bot, default_name="invoice.jpg")
    if image is None:
        return
    try:
        flowers = await inventory.flowers()
    except ApiError as error:
        await ctx.failed(error, then=_("Пришлите фото ещё раз чуть позже."))
        return
    reading = await ctx.send(_("⏳ Читаю накладную…"))
    try:
        invoice = await invoices.read(image.content, flowers)
    except UnreadablePhoto as unreadable:
        log.info("invoice photo unreadable: %s", unreadable.reason)
        await ctx.edit(reading.message_id, view.unreadable_photo(unreadable.reason))
        return
    log.info("invoice photo read in %.1f s: %d lines", invoice.seconds, len(invoice.lines))
    rows = invoice_photo.rows(invoice)
    if not rows:
        await ctx.edit(reading.message_id, view.no_invoice_lines())
        return
    skipped = [
        {"text": line.text, "status": line.status.value, "suggestions": [f.name for f in line.suggestions]}
        for line in invoice.lines
        if line.flower is None or line.status is not invoice_photo.LineStatus.OK
    ]
    total = invoice.total
    await state.set_state(Flow.invoice)
    await state.update_data(
        op=secrets.token_hex(4),
        invoice=rows,
        photo=True,
        skipped=skipped,
        total=[total.quantity, total.amount] if total else None,
    )
    await _table(ctx, state, reading.message_id)


async def _table(ctx: Ctx, state: FSMContext, message_id: int | None = None) -> None:
    data = await state.get_data()
    total = data.get("total")
    check = invoice_photo.check_total(data["invoice"], invoice_photo.Total(*total) if total else None)
    screen = view.photo_invoice(data["invoice"], data.get("skipped", []), check, data["op"])
    if message_id is None:
        await ctx.send(**screen)
    else:
        await ctx.edit(message_id, **screen)


def _row_of(data: dict[str, Any], arg: str) -> tuple[int, list[str]] | None:
    """The line a «❓» button means, when it is this invoice's and still doubtful."""
    op, _, rest = arg.partition(".")
    index, _, field = rest.partition(".")
    rows = data.get("invoice") or []
    if op != data.get("op") or not index.isdigit() or int(index) >= len(rows):
        return None
    doubt = list(rows[int(index)].get("doubt") or [])
    if not doubt or (field and field not in doubt):
        return None
    return int(index), [field] if field else doubt


@feature.callback_query(Flow.invoice, FlowCb.filter(F.action == "fix"), flags=WRITE)
async def fix_line(query: CallbackQuery, callback_data: FlowCb, ctx: Ctx, state: FSMContext) -> None:
    found = _row_of(await state.get_data(), callback_data.arg)
    if found is None:
        await ctx.toast(_("Уже проверено или устарело."))
        return
    index, doubt = found
    await _ask(ctx, state, index, doubt[0])


async def _ask(ctx: Ctx, state: FSMContext, index: int, field: str) -> None:
    data = await state.get_data()
    await state.set_state(Fix.quantity if field == QUANTITY else Fix.price)
    await state.update_data(fixing=index)
    await ctx.send(**view.ask_invoice_number(data["invoice"][index], index + 1, field, data["op"]))


@feature.callback_query(StateFilter(Fix), FlowCb.filter(F.action == "fixok"), flags=WRITE)
async def number_confirmed(query: CallbackQuery, callback_data: FlowCb, ctx: Ctx, state: FSMContext) -> None:
    data = await state.get_data()
    found = _row_of(data, callback_data.arg)
    if found is None or found[0] != data.get("fixing"):
        await ctx.toast(_("Уже проверено или устарело."))
        return
    await ctx.toast()
    await _settled(ctx, state, found[0], found[1][0], None)


def _step(state: State, read: Callable[[str], int], what: str) -> Callable[[Step], Step]:
    problem = partial(view.problem_text, what=what)
    need = (Permission.STOCK_WRITE,)
    return typed(feature, state, read=read, problem=problem, need=need, waiting=N_("Сейчас я жду число."))


@_step(Fix.quantity, parse_quantity, "quantity")
async def quantity_typed(message: Message, value: int, ctx: Ctx, state: FSMContext) -> None:
    await _settled(ctx, state, (await state.get_data())["fixing"], QUANTITY, value)


@_step(Fix.price, parse_price, "price")
async def price_typed(message: Message, value: int, ctx: Ctx, state: FSMContext) -> None:
    await _settled(ctx, state, (await state.get_data())["fixing"], PRICE, value)


async def _settled(ctx: Ctx, state: FSMContext, index: int, field: str, value: int | None) -> None:
    """The person confirmed (value None) or corrected one number; the next doubtful number of
    that line is asked, else the table comes back."""
    data = await state.get_data()
    rows = [dict(row) for row in data["invoice"]]
    row = rows[index]
    if value is not None:
        row[field] = value
    row["doubt"] = [d for d in row.get("doubt", []) if d != field]
    await state.update_data(invoice=rows, fixing=None)
    if row["doubt"]:
        await _ask(ctx, state, index, row["doubt"][0])
        return
    await state.set_state(Flow.invoice)
    await _table(ctx, state)
