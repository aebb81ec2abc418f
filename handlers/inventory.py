"""Stock in Telegram: /stock, /lowstock, /history, and the /delivery and /writeoff flows
(with pasted supplier invoices). Every confirmed write goes through the outbox."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from handlers.errors import explain
from handlers.photos import received_image
from services.errors import ApiError
from services.inventory import (
    InputError,
    InventoryService,
    LineStatus,
    RecentChoices,
    clean_text,
    find_flowers,
    parse_invoice,
    parse_price,
    parse_quantity,
    suggest,
)
from services.models import Flower
from services.orders import OrderService
from services.outbox import Outbox, WriteKind, op_ids_in
from services.person import Person
from services.roles import Permission, Role, can
from services.staff import StaffService
from services.storage.errors import StorageError
from views.callbacks import FlowCb, StockCb
from views.inventory import (
    WRITEOFF_REASONS,
    cancel_only,
    confirm_keyboard,
    delivery_summary,
    fields_keyboard,
    flower_card,
    invoice_keyboard,
    invoice_table,
    low_stock_text,
    movement_line,
    outcome_line,
    outcome_message,
    pick_keyboard,
    problem_text,
    quantity_mark,
    reasons_keyboard,
    skip_keyboard,
    stock_page,
    writeoff_summary,
)
from views.render import cut, edit_or_send, esc

log = logging.getLogger(__name__)


class Delivery(StatesGroup):
    flower = State()
    quantity = State()
    price = State()
    supplier = State()
    confirm = State()
    invoice = State()


class WriteOff(StatesGroup):
    flower = State()
    quantity = State()
    reason = State()
    reason_text = State()
    photo = State()
    confirm = State()


PICK_STATES = {Delivery.flower.state, WriteOff.flower.state}


def get_router() -> Router:
    router = Router(name="inventory")

    # --- lookups -------------------------------------------------------------------------------

    @router.message(Command("stock"))
    async def stock(
        message: Message, command: CommandObject, role: Role, inventory: InventoryService, state: FSMContext
    ) -> None:
        if not can(role, Permission.STOCK_VIEW):
            await message.answer(_("Склад вам недоступен."))
            return
        query = " ".join((command.args or "").split())[:60]
        flowers = await inventory.search(query)
        await state.update_data(stock_query=query)
        await message.answer(**stock_page(flowers, query, 0, inventory.threshold))

    @router.callback_query(StockCb.filter(F.action == "p"))
    async def stock_more(
        query: CallbackQuery,
        callback_data: StockCb,
        role: Role,
        inventory: InventoryService,
        state: FSMContext,
        bot: Bot,
    ) -> None:
        if not can(role, Permission.STOCK_VIEW):
            await query.answer(_("Склад вам недоступен."))
            return
        await query.answer()
        if not isinstance(query.message, Message):
            return
        text = str((await state.get_data()).get("stock_query", ""))
        flowers = await inventory.search(text)
        await edit_or_send(
            bot, query.message, **stock_page(flowers, text, callback_data.page, inventory.threshold)
        )

    async def show_flower(
        chat_id: int,
        message_id: int | None,
        flower_id: str,
        bot: Bot,
        inventory: InventoryService,
        outbox: Outbox,
        staff_service: StaffService,
        settings: Settings,
        orders: OrderService,
    ) -> None:
        flower = await inventory.flower(flower_id)
        if flower is None:
            await bot.send_message(chat_id, _("Такого цветка больше нет в списке."))
            return
        movements = await inventory.history(flower.id, limit=8)
        names = await authors(movements, outbox, staff_service)
        card = flower_card(flower, movements, names, inventory.threshold, settings.tz, orders.today())
        if message_id is None:
            await bot.send_message(chat_id, **card)
        else:
            await edit_or_send(bot, chat_id=chat_id, message_id=message_id, **card)

    @router.callback_query(StockCb.filter(F.action.in_({"f", "r"})))
    async def flower_opened(
        query: CallbackQuery,
        callback_data: StockCb,
        role: Role,
        inventory: InventoryService,
        outbox: Outbox,
        staff_service: StaffService,
        settings: Settings,
        orders: OrderService,
        bot: Bot,
    ) -> None:
        if not can(role, Permission.STOCK_VIEW):
            await query.answer(_("Склад вам недоступен."))
            return
        await query.answer()
        if not isinstance(query.message, Message):
            return
        # from a list the card is a new message; its own «Обновить» (r) edits it in place
        in_place = callback_data.action == "r"
        await show_flower(
            query.message.chat.id,
            query.message.message_id if in_place else None,
            callback_data.id,
            bot,
            inventory,
            outbox,
            staff_service,
            settings,
            orders,
        )

    @router.message(Command("lowstock"))
    async def low_stock(message: Message, role: Role, inventory: InventoryService) -> None:
        if not can(role, Permission.STOCK_VIEW):
            await message.answer(_("Склад вам недоступен."))
            return
        await message.answer(low_stock_text(await inventory.low_stock()))

    @router.message(Command("history"))
    async def history(
        message: Message,
        command: CommandObject,
        role: Role,
        inventory: InventoryService,
        outbox: Outbox,
        staff_service: StaffService,
        settings: Settings,
        orders: OrderService,
    ) -> None:
        if not can(role, Permission.STOCK_VIEW):
            await message.answer(_("Склад вам недоступен."))
            return
        query = " ".join((command.args or "").split())[:60]
        flower: Flower | None = None
        if query:
            found = await inventory.search(query)
            if not found:
                await message.answer(_("Не нашёл «{query}». Попробуйте короче.").format(query=esc(query)))
                return
            flower = found[0]
        movements = await inventory.history(flower.id if flower else None, limit=20)
        names = await authors(movements, outbox, staff_service)
        title = _("🕓 <b>История</b>") + (f" · {esc(flower.name)}" if flower else "")
        if not movements:
            await message.answer(title + "\n\n" + _("Движений пока нет."))
            return
        lines = [title, ""] + [
            movement_line(m, names, settings.tz, orders.today(), with_flower=flower is None)
            for m in movements
        ]
        await message.answer("\n".join(lines))

    # --- starting the flows --------------------------------------------------------------------

    @router.message(Command("delivery"))
    async def delivery_start(
        message: Message,
        role: Role,
        staff: Person,
        state: FSMContext,
        recent: RecentChoices,
        inventory: InventoryService,
    ) -> None:
        if not can(role, Permission.STOCK_WRITE):
            await message.answer(_("Приход вам недоступен."))
            return
        await state.set_state(Delivery.flower)
        await state.set_data({"mode": "delivery"})
        await ask_flower(
            message,
            _(
                "➕ <b>Приход.</b> Какой цветок пришёл? Напишите название, например «роза 60».\n"
                "Можно вставить всю накладную: по строке на цветок — «Роза красная 60 50 120»."
            ),
            staff,
            recent,
            inventory,
        )

    @router.message(Command("writeoff"))
    async def writeoff_start(
        message: Message,
        role: Role,
        staff: Person,
        state: FSMContext,
        recent: RecentChoices,
        inventory: InventoryService,
    ) -> None:
        if not can(role, Permission.STOCK_WRITE):
            await message.answer(_("Списание вам недоступно."))
            return
        await state.set_state(WriteOff.flower)
        await state.set_data({"mode": "writeoff"})
        await ask_flower(
            message,
            _("➖ <b>Списание.</b> Какой цветок списать? Напишите название."),
            staff,
            recent,
            inventory,
        )

    @router.callback_query(StockCb.filter(F.action.in_({"d", "w"})))
    async def flow_from_card(
        query: CallbackQuery,
        callback_data: StockCb,
        role: Role,
        state: FSMContext,
        inventory: InventoryService,
        bot: Bot,
        staff: Person,
        recent: RecentChoices,
    ) -> None:
        if not can(role, Permission.STOCK_WRITE):
            await query.answer(_("Вам это недоступно."), show_alert=True)
            return
        await query.answer()
        if not isinstance(query.message, Message):
            return
        flower = await inventory.flower(callback_data.id)
        if flower is None:
            await query.message.answer(_("Такого цветка больше нет в списке."))
            return
        delivery = callback_data.action == "d"
        await state.set_state(Delivery.flower if delivery else WriteOff.flower)
        await state.set_data({"mode": "delivery" if delivery else "writeoff"})
        await picked(query.message, flower, state, staff, recent, inventory)

    async def ask_flower(
        message: Message, text: str, staff: Person, recent: RecentChoices, inventory: InventoryService
    ) -> None:
        recent_ids = await recent.flowers(staff.telegram_id)
        markup = cancel_only()
        if recent_ids:
            flowers = {f.id: f for f in await inventory.flowers()}
            known = [flowers[i] for i in recent_ids if i in flowers]
            if known:
                text += "\n" + _("Или выберите из недавних:")
                markup = pick_keyboard(known, inventory.threshold)
        await message.answer(text, reply_markup=markup)

    # --- picking the flower --------------------------------------------------------------------

    @router.message(StateFilter(*PICK_STATES), F.text)
    async def flower_typed(
        message: Message,
        state: FSMContext,
        inventory: InventoryService,
        staff: Person,
        recent: RecentChoices,
    ) -> None:
        text = message.text or ""
        if text.startswith("/"):
            await message.answer(_("Сейчас я жду название цветка. /cancel — выйти."))
            return
        data = await state.get_data()
        flowers = await inventory.flowers()
        if data.get("mode") == "delivery" and _looks_like_invoice(text):
            await show_invoice(message, text, flowers, state, inventory)
            return
        query = " ".join(text.split())[:60]
        found = find_flowers(query, flowers)
        if len(found) == 1:
            await picked(message, found[0], state, staff, recent, inventory)
            return
        if found:
            await message.answer(
                _("Нашёл несколько — выберите:"), reply_markup=pick_keyboard(found, inventory.threshold)
            )
            return
        close = suggest(query, flowers)
        if close:
            await message.answer(
                _("Не нашёл «{query}». Может быть, один из этих?").format(query=esc(query)),
                reply_markup=pick_keyboard(close, inventory.threshold),
            )
        else:
            await message.answer(
                _("Не нашёл «{query}». Напишите иначе, например «роза» или «эустома».").format(
                    query=esc(query)
                )
            )

    @router.callback_query(FlowCb.filter(F.action == "pick"))
    async def flower_chosen(
        query: CallbackQuery,
        callback_data: FlowCb,
        state: FSMContext,
        inventory: InventoryService,
        staff: Person,
        recent: RecentChoices,
        role: Role,
    ) -> None:
        if await state.get_state() not in PICK_STATES or not can(role, Permission.STOCK_WRITE):
            await query.answer(_("Эта кнопка устарела. Начните заново: /delivery или /writeoff."))
            return
        flower = await inventory.flower(callback_data.arg)
        if flower is None or not isinstance(query.message, Message):
            await query.answer(_("Такого цветка больше нет в списке."))
            return
        await query.answer()
        await picked(query.message, flower, state, staff, recent, inventory)

    async def picked(
        message: Message,
        flower: Flower,
        state: FSMContext,
        staff: Person,
        recent: RecentChoices,
        inventory: InventoryService,
    ) -> None:
        await recent.remember_flower(staff.telegram_id, flower.id)
        await state.update_data(flower_id=flower.id, flower_name=flower.name, stock=flower.quantity)
        data = await state.get_data()
        stock_line = _("На складе: {quantity}").format(
            quantity=quantity_mark(flower.quantity, inventory.threshold)
        )
        if data.get("mode") == "writeoff":
            if flower.quantity <= 0:
                await state.clear()
                await message.answer(
                    _("«{name}» нет на складе — списывать нечего.").format(name=esc(flower.name))
                )
                return
            await state.set_state(WriteOff.quantity)
            ask = _("Сколько стеблей списать?")
        else:
            await state.set_state(Delivery.quantity)
            ask = _("Сколько стеблей пришло?")
        await message.answer(
            f"🌸 <b>{esc(flower.name)}</b>\n{stock_line}\n\n{ask}", reply_markup=cancel_only()
        )

    # --- quantities, prices, suppliers, reasons ------------------------------------------------

    @router.message(StateFilter(Delivery.quantity, WriteOff.quantity), F.text)
    async def quantity_typed(
        message: Message, state: FSMContext, recent: RecentChoices, inventory: InventoryService
    ) -> None:
        try:
            quantity = parse_quantity(message.text)
        except InputError as error:
            await message.answer(problem_text(error, what="quantity") + "\n" + _("Сколько стеблей?"))
            return
        data = await state.get_data()
        if data.get("mode") == "writeoff":
            stock = int(data.get("stock", 0))
            if quantity > stock:
                await message.answer(
                    _(
                        "На складе только {stock} шт «{name}» — больше списать нельзя. Сколько списать?"
                    ).format(stock=stock, name=esc(data["flower_name"]))
                )
                return
            await state.update_data(quantity=quantity)
            if data.get("editing"):
                await confirm(message, state)
                return
            await state.set_state(WriteOff.reason)
            await message.answer(_("Почему списываем?"), reply_markup=reasons_keyboard())
            return
        await state.update_data(quantity=quantity)
        if data.get("editing"):
            await confirm(message, state)
            return
        await state.set_state(Delivery.price)
        await message.answer(_("Цена за стебель, ₸? Можно пропустить."), reply_markup=skip_keyboard())

    @router.message(Delivery.price, F.text)
    async def price_typed(message: Message, state: FSMContext, recent: RecentChoices) -> None:
        try:
            price = parse_price(message.text)
        except InputError as error:
            await message.answer(problem_text(error, what="price"), reply_markup=skip_keyboard())
            return
        await state.update_data(price=price)
        await after_price(message, state, recent)

    async def after_price(message: Message, state: FSMContext, recent: RecentChoices) -> None:
        if (await state.get_data()).get("editing"):
            await confirm(message, state)
            return
        await state.set_state(Delivery.supplier)
        suppliers = await recent.suppliers()
        options = [
            (f"🚚 {cut(name, 40)}", FlowCb(action="supplier", arg=str(i)).pack())
            for i, name in enumerate(suppliers)
        ]
        await message.answer(_("Поставщик? Можно пропустить."), reply_markup=skip_keyboard(options))

    @router.message(Delivery.supplier, F.text)
    async def supplier_typed(message: Message, state: FSMContext, recent: RecentChoices) -> None:
        try:
            supplier = clean_text(message.text, limit=120)
        except InputError as error:
            await message.answer(problem_text(error, what="text"))
            return
        await recent.remember_supplier(supplier)
        await state.update_data(supplier=supplier)
        await confirm(message, state)

    @router.callback_query(FlowCb.filter(F.action == "supplier"))
    async def supplier_chosen(
        query: CallbackQuery, callback_data: FlowCb, state: FSMContext, recent: RecentChoices
    ) -> None:
        suppliers = await recent.suppliers()
        index = int(callback_data.arg) if callback_data.arg.isascii() and callback_data.arg.isdigit() else -1
        if await state.get_state() != Delivery.supplier.state or not 0 <= index < len(suppliers):
            await query.answer(_("Эта кнопка устарела."))
            return
        await query.answer()
        await state.update_data(supplier=suppliers[index])
        if isinstance(query.message, Message):
            await confirm(query.message, state)

    @router.callback_query(FlowCb.filter(F.action == "skip"))
    async def skipped(query: CallbackQuery, state: FSMContext, recent: RecentChoices) -> None:
        current = await state.get_state()
        if current not in (
            Delivery.price.state,
            Delivery.supplier.state,
            WriteOff.photo.state,
        ) or not isinstance(query.message, Message):
            await query.answer(_("Эта кнопка устарела."))
            return
        await query.answer()
        if current == Delivery.price.state:
            await state.update_data(price=None)
            await after_price(query.message, state, recent)
        elif current == Delivery.supplier.state:
            await state.update_data(supplier=None)
            await confirm(query.message, state)
        else:
            await state.update_data(photo_url=None)
            await confirm(query.message, state)

    @router.callback_query(FlowCb.filter(F.action == "reason"))
    async def reason_chosen(query: CallbackQuery, callback_data: FlowCb, state: FSMContext) -> None:
        if await state.get_state() != WriteOff.reason.state or not isinstance(query.message, Message):
            await query.answer(_("Эта кнопка устарела."))
            return
        if callback_data.arg != "other" and callback_data.arg not in WRITEOFF_REASONS:
            await query.answer(_("Эта кнопка устарела."))
            return
        await query.answer()
        if callback_data.arg == "other":
            await state.set_state(WriteOff.reason_text)
            await query.message.answer(_("Напишите причину (до 500 символов)."), reply_markup=cancel_only())
            return
        label = WRITEOFF_REASONS[callback_data.arg]
        # the server keeps the shop's language; the person sees their own
        await state.update_data(reason=label, reason_label=_(label))
        await after_reason(query.message, state)

    @router.message(WriteOff.reason_text, F.text)
    async def reason_typed(message: Message, state: FSMContext) -> None:
        try:
            reason = clean_text(message.text)
        except InputError as error:
            await message.answer(problem_text(error, what="text"))
            return
        await state.update_data(reason=reason, reason_label=reason)
        await after_reason(message, state)

    async def after_reason(message: Message, state: FSMContext) -> None:
        if (await state.get_data()).get("editing"):
            await confirm(message, state)
            return
        await state.set_state(WriteOff.photo)
        await message.answer(_("Пришлите фото списанных цветов, если нужно."), reply_markup=skip_keyboard())

    @router.message(WriteOff.photo, F.photo | F.document)
    async def writeoff_photo(message: Message, state: FSMContext, bot: Bot, orders: OrderService) -> None:
        url = await upload_photo(message, bot, orders)
        if url is None:
            return
        await state.update_data(photo_url=url)
        await confirm(message, state)

    # --- confirming ----------------------------------------------------------------------------

    async def confirm(message: Message, state: FSMContext) -> None:
        data = await state.get_data()
        op_id = data.get("op") or Outbox.new_op_id()
        await state.update_data(op=op_id, editing=False)
        if data.get("mode") == "writeoff":
            await state.set_state(WriteOff.confirm)
            text = writeoff_summary(data)
        else:
            await state.set_state(Delivery.confirm)
            text = delivery_summary(data)
        await message.answer(text, reply_markup=confirm_keyboard(op_id))

    @router.callback_query(FlowCb.filter(F.action == "edit"))
    async def edit_chosen(query: CallbackQuery, state: FSMContext, bot: Bot) -> None:
        current = await state.get_state()
        if current not in (Delivery.confirm.state, WriteOff.confirm.state) or not isinstance(
            query.message, Message
        ):
            await query.answer(_("Эта кнопка устарела."))
            return
        await query.answer()
        if current == Delivery.confirm.state:
            fields = [
                ("quantity", _("Количество")),
                ("price", _("Цена")),
                ("supplier", _("Поставщик")),
                ("flower", _("Цветок")),
            ]
        else:
            fields = [("quantity", _("Количество")), ("reason", _("Причину")), ("flower", _("Цветок"))]
        await edit_or_send(
            bot, query.message, text=query.message.html_text or "", reply_markup=fields_keyboard(fields)
        )

    @router.callback_query(FlowCb.filter(F.action == "back"))
    async def edit_back(query: CallbackQuery, state: FSMContext, bot: Bot) -> None:
        current = await state.get_state()
        data = await state.get_data()
        if current not in (Delivery.confirm.state, WriteOff.confirm.state) or not isinstance(
            query.message, Message
        ):
            await query.answer(_("Эта кнопка устарела."))
            return
        await query.answer()
        await edit_or_send(
            bot,
            query.message,
            text=query.message.html_text or "",
            reply_markup=confirm_keyboard(str(data.get("op"))),
        )

    @router.callback_query(FlowCb.filter(F.action == "field"))
    async def field_chosen(
        query: CallbackQuery,
        callback_data: FlowCb,
        state: FSMContext,
        staff: Person,
        recent: RecentChoices,
        inventory: InventoryService,
    ) -> None:
        current = await state.get_state()
        if current not in (Delivery.confirm.state, WriteOff.confirm.state) or not isinstance(
            query.message, Message
        ):
            await query.answer(_("Эта кнопка устарела."))
            return
        await query.answer()
        delivery = current == Delivery.confirm.state
        await state.update_data(editing=True)
        field = callback_data.arg
        if field == "quantity":
            await state.set_state(Delivery.quantity if delivery else WriteOff.quantity)
            await query.message.answer(_("Сколько стеблей?"), reply_markup=cancel_only())
        elif field == "price" and delivery:
            await state.set_state(Delivery.price)
            await query.message.answer(
                _("Цена за стебель, ₸? Можно пропустить."), reply_markup=skip_keyboard()
            )
        elif field == "supplier" and delivery:
            await state.set_state(Delivery.supplier)
            await query.message.answer(_("Поставщик? Можно пропустить."), reply_markup=skip_keyboard())
        elif field == "reason" and not delivery:
            await state.set_state(WriteOff.reason)
            await query.message.answer(_("Почему списываем?"), reply_markup=reasons_keyboard())
        else:  # the flower: start over with what was typed kept where it still fits
            await state.update_data(editing=False, op=None)
            await state.set_state(Delivery.flower if delivery else WriteOff.flower)
            await ask_flower(query.message, _("Какой цветок?"), staff, recent, inventory)

    @router.callback_query(FlowCb.filter(F.action == "save"))
    async def save(
        query: CallbackQuery,
        callback_data: FlowCb,
        state: FSMContext,
        staff: Person,
        role: Role,
        outbox: Outbox,
        bot: Bot,
    ) -> None:
        current = await state.get_state()
        data = await state.get_data()
        if not can(role, Permission.STOCK_WRITE):
            await query.answer(_("Вам это недоступно."), show_alert=True)
            return
        if (
            current not in (Delivery.confirm.state, WriteOff.confirm.state, Delivery.invoice.state)
            or data.get("op") != callback_data.arg
        ):
            # a second tap after the flow ended, or a forged button: say what is true
            await query.answer(_("Уже сохранено или устарело."))
            return
        await query.answer(_("⏳ Сохраняю…"))
        if not isinstance(query.message, Message):
            await state.clear()
            return
        await edit_or_send(bot, query.message, text=query.message.html_text or "", reply_markup=None)
        chat_id = query.message.chat.id
        op_id = callback_data.arg
        # The flow ends only once the write is stored: if the database cannot take it, the
        # person gets «Сохранить» again instead of typing everything anew.
        if current == Delivery.invoice.state:
            if await save_invoice(chat_id, data, staff, outbox, bot):
                await forget_flow(state)
            return
        if current == Delivery.confirm.state:
            kind = WriteKind.FLOWER_DELIVERY
            payload = {
                "flower_id": data["flower_id"],
                "quantity": data["quantity"],
                "price": data.get("price"),
                "supplier": data.get("supplier"),
                "flower_name": data["flower_name"],
            }
        else:
            kind = WriteKind.FLOWER_WRITEOFF
            note = f"📷 {data['photo_url']}" if data.get("photo_url") else None
            payload = {
                "flower_id": data["flower_id"],
                "quantity": data["quantity"],
                "reason": data["reason"],
                "note": note,
                "flower_name": data["flower_name"],
            }
        try:
            outcome = await outbox.submit(
                kind, payload, created_by=staff.telegram_id, chat_id=chat_id, op_id=op_id
            )
        except StorageError as error:
            log.warning("%s %s not stored: %s %s", kind.value, op_id, type(error).__name__, error)
            await bot.send_message(
                chat_id,
                esc(explain(error)) + "\n" + _("На склад ничего не отправлено. Нажмите «Сохранить» ещё раз."),
                reply_markup=confirm_keyboard(op_id),
            )
            return
        if outcome.duplicate:  # a second tap while the first is being saved: the first finishes
            return
        await forget_flow(state)
        await bot.send_message(chat_id, **outcome_message(outcome))

    async def forget_flow(state: FSMContext) -> None:
        """The write is stored: a state left behind only answers «already saved» to a second tap."""
        try:
            await state.clear()
        except StorageError as error:
            log.warning("saved, but the flow state stays: %s %s", type(error).__name__, error)

    # --- invoices ------------------------------------------------------------------------------

    async def show_invoice(
        message: Message, text: str, flowers: list[Flower], state: FSMContext, inventory: InventoryService
    ) -> None:
        lines = parse_invoice(text, flowers)
        good = [line for line in lines if line.status is LineStatus.OK and line.flower is not None]
        op_id = Outbox.new_op_id()
        await state.set_state(Delivery.invoice)
        await state.update_data(
            op=op_id,
            invoice=[
                {
                    "flower_id": line.flower.id,
                    "flower_name": line.flower.name,
                    "quantity": line.quantity,
                    "price": line.price,
                }
                for line in good
                if line.flower is not None
            ],
        )
        if not good:
            await message.answer(
                invoice_table(lines) + "\n\n" + _("Пришлите исправленную накладную или /cancel.")
            )
            await state.set_state(Delivery.flower)
            return
        await message.answer(invoice_table(lines), reply_markup=invoice_keyboard(op_id))

    async def save_invoice(
        chat_id: int, data: dict[str, Any], staff: Person, outbox: Outbox, bot: Bot
    ) -> bool:
        """Each line through the outbox; True when the flow is done. False when the database
        stopped taking them (the lines stored so far are reported, «Сохранить» again stores the
        rest and skips those), or when a second tap found them all stored already."""
        results = []
        failure: StorageError | None = None
        for index, line in enumerate(data.get("invoice", [])):
            payload = {
                "flower_id": line["flower_id"],
                "quantity": line["quantity"],
                "price": line.get("price"),
                "flower_name": line["flower_name"],
                "note": "накладная",
            }
            try:
                outcome = await outbox.submit(
                    WriteKind.FLOWER_DELIVERY,
                    payload,
                    created_by=staff.telegram_id,
                    chat_id=chat_id,
                    op_id=f"{data['op']}{index:02x}"[:32],
                )
            except StorageError as error:
                log.warning(
                    "invoice %s line %s not stored: %s %s", data["op"], index, type(error).__name__, error
                )
                failure = error
                break
            results.append(outcome)
        lines = [outcome_line(o) for o in results if not o.duplicate]
        if failure is not None:
            rest = (
                _("Остальные строки не сохранены и на склад не отправлены. Нажмите «Сохранить» ещё раз.")
                if results
                else _("На склад ничего не отправлено. Нажмите «Сохранить» ещё раз.")
            )
            text = "\n".join([_("<b>Накладная:</b>"), *lines, esc(explain(failure)), rest])
            await bot.send_message(chat_id, text, reply_markup=invoice_keyboard(str(data["op"])))
            return False
        if not lines:  # a second tap while the first is being saved: the first finishes
            return False
        await bot.send_message(chat_id, "\n".join([_("<b>Накладная:</b>"), *lines]))
        return True

    # --- hints for messages that do not fit the step -------------------------------------------

    @router.message(StateFilter(Delivery.quantity, WriteOff.quantity))
    async def quantity_hint(message: Message) -> None:
        await message.answer(_("Жду количество числом, например 50. /cancel — выйти."))

    @router.message(StateFilter(Delivery.price, Delivery.supplier, WriteOff.reason_text, *PICK_STATES))
    async def text_hint(message: Message) -> None:
        await message.answer(_("Жду текст сообщением. /cancel — выйти."))

    @router.message(StateFilter(WriteOff.reason))
    async def reason_hint(message: Message) -> None:
        await message.answer(
            _("Выберите причину кнопкой выше. /cancel — выйти."), reply_markup=reasons_keyboard()
        )

    @router.message(WriteOff.photo)
    async def photo_hint(message: Message) -> None:
        await message.answer(_("Жду фото или нажмите «Пропустить»."), reply_markup=skip_keyboard())

    @router.message(StateFilter(Delivery.confirm, WriteOff.confirm, Delivery.invoice))
    async def confirm_hint(message: Message) -> None:
        await message.answer(_("Нажмите «Сохранить», «Изменить» или «Отмена» под сводкой выше."))

    @router.callback_query(FlowCb.filter(F.action == "cancel"))
    async def flow_cancel(query: CallbackQuery, state: FSMContext) -> None:
        await query.answer()
        if await state.get_state() is not None:
            await state.clear()
            if isinstance(query.message, Message):
                await query.message.answer(_("Отменено. Ничего не сохранено."))

    return router


def _looks_like_invoice(text: str) -> bool:
    """Several lines, or one line ending in a number after a name («Роза красная 60 50»)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        return True
    words = text.split()
    return len(words) >= 3 and words[-1].isdigit() and words[-2].isdigit()


async def authors(movements: list[Any], outbox: Outbox, staff_service: StaffService) -> dict[str, str]:
    """op id → name of who confirmed it, for the movements the bot wrote."""
    op_ids = {op for m in movements for op in op_ids_in(m.note)}
    if not op_ids:
        return {}
    by_op = await outbox.authors(op_ids)
    names = await staff_service.names(set(by_op.values()))
    return {op: names[person] for op, person in by_op.items() if person in names}


async def upload_photo(message: Message, bot: Bot, orders: OrderService) -> str | None:
    """A write-off photo to cvety.kz uploads; None after telling why not."""
    image = await received_image(message, bot, default_name="writeoff.jpg")
    if image is None:
        return None
    try:
        return await orders.upload_photo(image.content, image.filename, image.content_type)
    except ApiError as exc:
        await message.answer(
            esc(explain(exc)) + "\n" + _("Фото не загружено: пришлите его ещё раз или пропустите.")
        )
        return None
