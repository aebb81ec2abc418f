"""/shop: the shop's info from the CRM and the cvety.kz shop the API token serves; the owner edits
one field at a time (typed, checked, then saved with every other field kept)."""

from __future__ import annotations

from functools import partial

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.context import Ctx, needs
from handlers.feature import Feature
from handlers.forms import typed
from services.errors import ApiError
from services.profile import NotAllowed, ShopField, ShopService, clean_shop_value
from services.roles import Permission
from views.callbacks import ShopCb
from views.i18n import N_
from views.profile import problem_text
from views.shop import ask_text, cancel_keyboard, saved_text, shop_keyboard, shop_text

P = Permission
feature = Feature("shop")
get_router = feature.router


class ShopEdit(StatesGroup):
    """One state per field, so the typed step knows what it reads and how to ask again."""

    name = State()
    address = State()
    phone = State()
    working_hours = State()
    city = State()
    instagram = State()
    whatsapp = State()
    telegram = State()


EDITING: dict[ShopField, State] = {field: getattr(ShopEdit, field.value) for field in ShopField}
FIELD_OF = {state.state: field for field, state in EDITING.items()}


@feature.message(Command("shop"), flags=needs(P.SHOP_VIEW))
async def show(message: Message, ctx: Ctx, state: FSMContext, shops: ShopService) -> None:
    if await state.get_state() in FIELD_OF:
        await state.clear()  # /shop again: start over from the card
    overview = await shops.overview()
    await ctx.send(shop_text(overview), reply_markup=shop_keyboard(ctx.role))


@feature.callback_query(ShopCb.filter(F.action == "e"), flags=needs(P.SHOP_EDIT))
async def edit(query: CallbackQuery, callback_data: ShopCb, ctx: Ctx, state: FSMContext) -> None:
    try:
        field = ShopField(callback_data.arg)
    except ValueError:
        await ctx.toast(_("Эта кнопка устарела. Откройте раздел заново."))
        return
    await state.set_state(EDITING[field])
    await ctx.send(ask_text(field), reply_markup=cancel_keyboard())


async def save_value(
    message: Message, value: str | None, ctx: Ctx, state: FSMContext, shops: ShopService
) -> None:
    field = FIELD_OF[str(await state.get_state())]
    await state.clear()
    try:
        overview = await shops.save(ctx.role, field, value)
    except NotAllowed:
        await ctx.send(_("Данные магазина меняет только владелец."))
        return
    except ApiError as error:
        await ctx.failed(error, then=_("Данные магазина не изменены."))
        return
    await ctx.send(saved_text(overview), reply_markup=shop_keyboard(ctx.role))


for _field, _state in EDITING.items():
    typed(
        feature,
        _state,
        read=partial(clean_shop_value, _field),
        problem=problem_text,
        again=partial(ask_text, _field),
        markup=cancel_keyboard,
        need=(P.SHOP_EDIT,),
        waiting=N_("Сейчас я жду новое значение."),
    )(save_value)


@feature.callback_query(ShopCb.filter(F.action == "x"), flags=needs())
async def leave(query: CallbackQuery, ctx: Ctx, state: FSMContext) -> None:
    if await state.get_state() in FIELD_OF:
        await state.clear()
    await ctx.show(_("Отменено. Ничего не сохранено."))


@feature.message(*EDITING.values(), flags=needs())
async def hint(message: Message, ctx: Ctx) -> None:
    await ctx.send(_("Жду текст сообщением. /cancel — выйти."))
