"""/stocktake (owners and seniors): walk through the flowers, type what is really there, review
the differences, send them as one bulk update through the outbox."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from services.inventory import InputError, InventoryService, normalize, parse_quantity
from services.outbox import Outbox, WriteKind
from services.person import Person
from services.roles import Permission, Role, can
from views.callbacks import StocktakeCb
from views.inventory import button, outcome_message, problem_text
from views.render import cut, edit_or_send, esc

MAX_DIFF_LINES = 60


class Stocktake(StatesGroup):
    counting = State()
    review = State()


def counting_keyboard(item: dict[str, Any]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                button(
                    _("✅ Без изменений ({quantity})").format(quantity=item["quantity"]),
                    StocktakeCb(action="same").pack(),
                )
            ],
            [button(_("⏹ Закончить и проверить"), StocktakeCb(action="finish").pack())],
            [button(_("↩️ Отмена"), StocktakeCb(action="cancel").pack())],
        ]
    )


def differences(data: dict[str, Any]) -> list[tuple[dict[str, Any], int]]:
    counted: dict[str, int] = data.get("counted", {})
    return [
        (item, counted[item["id"]])
        for item in data["items"]
        if item["id"] in counted and counted[item["id"]] != item["quantity"]
    ]


def review_text(data: dict[str, Any]) -> str:
    diffs = differences(data)
    counted = len(data.get("counted", {}))
    lines = [
        _("<b>Пересчёт — проверьте расхождения</b>"),
        _("Посчитано позиций: {counted} из {total}.").format(counted=counted, total=len(data["items"])),
    ]
    if not diffs:
        lines += ["", _("Расхождений нет — всё сходится 👍")]
        return "\n".join(lines)
    lines.append("")
    for item, quantity in diffs[:MAX_DIFF_LINES]:
        delta = quantity - item["quantity"]
        lines.append(f"{esc(cut(item['name'], 50))}: {item['quantity']} → <b>{quantity}</b> ({delta:+d})")
    if len(diffs) > MAX_DIFF_LINES:
        lines.append(_("… и ещё {count}").format(count=len(diffs) - MAX_DIFF_LINES))
    return "\n".join(lines)


def get_router() -> Router:
    router = Router(name="stocktake")

    @router.message(Command("stocktake"))
    async def start(message: Message, role: Role, state: FSMContext, inventory: InventoryService) -> None:
        if not can(role, Permission.STOCKTAKE):
            await message.answer(_("Пересчёт доступен владельцу и старшему флористу."))
            return
        flowers = sorted(await inventory.flowers(), key=lambda f: normalize(f.name))
        if not flowers:
            await message.answer(_("На складе нет ни одного цветка — нечего пересчитывать."))
            return
        await state.set_state(Stocktake.counting)
        await state.set_data(
            {
                "items": [{"id": f.id, "name": f.name, "quantity": f.quantity} for f in flowers],
                "index": 0,
                "counted": {},
                "op": Outbox.new_op_id(),
            }
        )
        await message.answer(
            _("📋 <b>Пересчёт цветов.</b> Я называю цветок — вы пишете, сколько стеблей на самом деле.")
        )
        await ask(message, await state.get_data())

    async def ask(message: Message, data: dict[str, Any]) -> None:
        item = data["items"][data["index"]]
        text = _("{number}/{total}: <b>{name}</b> — в системе {quantity}. Сколько по факту?").format(
            number=data["index"] + 1,
            total=len(data["items"]),
            name=esc(item["name"]),
            quantity=item["quantity"],
        )
        await message.answer(text, reply_markup=counting_keyboard(item))

    async def record(message: Message, state: FSMContext, quantity: int | None) -> None:
        data = await state.get_data()
        item = data["items"][data["index"]]
        counted = dict(data.get("counted", {}))
        counted[item["id"]] = item["quantity"] if quantity is None else quantity
        index = data["index"] + 1
        await state.update_data(counted=counted, index=index)
        data = await state.get_data()
        if index >= len(data["items"]):
            await review(message, state)
        else:
            await ask(message, data)

    @router.message(Stocktake.counting, F.text)
    async def counted(message: Message, state: FSMContext) -> None:
        try:
            quantity = parse_quantity(message.text, allow_zero=True)
        except InputError as error:
            await message.answer(problem_text(error, what="count"))
            return
        await record(message, state, quantity)

    @router.message(Stocktake.counting)
    async def counting_hint(message: Message) -> None:
        await message.answer(_("Жду количество числом или «Без изменений». /cancel — выйти без сохранения."))

    @router.callback_query(StocktakeCb.filter(F.action == "same"))
    async def same(query: CallbackQuery, state: FSMContext) -> None:
        if await state.get_state() != Stocktake.counting.state or not isinstance(query.message, Message):
            await query.answer(_("Эта кнопка устарела."))
            return
        await query.answer()
        await record(query.message, state, None)

    @router.callback_query(StocktakeCb.filter(F.action == "finish"))
    async def finish(query: CallbackQuery, state: FSMContext) -> None:
        if await state.get_state() != Stocktake.counting.state or not isinstance(query.message, Message):
            await query.answer(_("Эта кнопка устарела."))
            return
        await query.answer()
        await review(query.message, state)

    async def review(message: Message, state: FSMContext) -> None:
        data = await state.get_data()
        if not differences(data):
            await state.clear()
            await message.answer(review_text(data))
            return
        await state.set_state(Stocktake.review)
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[
                [button(_("✅ Отправить"), StocktakeCb(action="send", arg=data["op"]).pack())],
                [button(_("↩️ Отмена"), StocktakeCb(action="cancel").pack())],
            ]
        )
        await message.answer(review_text(data), reply_markup=keyboard)

    @router.message(Stocktake.review)
    async def review_hint(message: Message) -> None:
        await message.answer(_("Нажмите «Отправить» или «Отмена» под списком расхождений."))

    @router.callback_query(StocktakeCb.filter(F.action == "send"))
    async def send(
        query: CallbackQuery,
        callback_data: StocktakeCb,
        state: FSMContext,
        role: Role,
        staff: Person,
        outbox: Outbox,
        bot: Bot,
    ) -> None:
        data = await state.get_data()
        if not can(role, Permission.STOCKTAKE):
            await query.answer(_("Пересчёт доступен владельцу и старшему флористу."), show_alert=True)
            return
        if await state.get_state() != Stocktake.review.state or data.get("op") != callback_data.arg:
            await query.answer(_("Уже сохранено или устарело."))
            return
        await query.answer(_("⏳ Сохраняю…"))
        await state.clear()
        if not isinstance(query.message, Message):
            return
        await edit_or_send(bot, query.message, text=query.message.html_text or "", reply_markup=None)
        updates = [{"product_id": item["id"], "quantity": quantity} for item, quantity in differences(data)]
        outcome = await outbox.submit(
            WriteKind.STOCK_SET,
            {"updates": updates, "note": "пересчёт"},
            created_by=staff.telegram_id,
            chat_id=query.message.chat.id,
            op_id=callback_data.arg,
        )
        if not outcome.duplicate:
            await bot.send_message(query.message.chat.id, **outcome_message(outcome))

    @router.callback_query(StocktakeCb.filter(F.action == "cancel"))
    async def cancel(query: CallbackQuery, state: FSMContext) -> None:
        await query.answer()
        if await state.get_state() in (Stocktake.counting.state, Stocktake.review.state):
            await state.clear()
            if isinstance(query.message, Message):
                await query.message.answer(_("Пересчёт отменён. Ничего не сохранено."))

    return router
