"""/shop: the shop's info from the CRM and the cvety.kz shop the API token serves; the owner edits
one field at a time (typed, checked, then saved with every other field kept)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from handlers.errors import explain
from services.errors import ApiError
from services.models import Shop
from services.profile import (
    InvalidInput,
    NotAllowed,
    ShopField,
    ShopOverview,
    ShopService,
    clean_shop_value,
)
from services.roles import Permission, Role, can
from views.callbacks import ShopCb
from views.i18n import N_
from views.inventory import button
from views.profile import problem_text
from views.render import cut, edit_or_send, esc, esc_attr

F_ = ShopField
EDIT_LABELS = {
    F_.NAME: N_("✏️ Изменить название"),
    F_.ADDRESS: N_("✏️ Изменить адрес"),
    F_.PHONE: N_("✏️ Изменить телефон"),
    F_.WORKING_HOURS: N_("✏️ Изменить часы работы"),
    F_.CITY: N_("✏️ Изменить город"),
    F_.INSTAGRAM: N_("✏️ Изменить Instagram"),
    F_.WHATSAPP: N_("✏️ Изменить WhatsApp"),
    F_.TELEGRAM: N_("✏️ Изменить Telegram"),
}
ASK = {
    F_.NAME: N_("Напишите название магазина — от 2 до 255 символов."),
    F_.ADDRESS: N_("Напишите адрес — от 5 до 500 символов."),
    F_.PHONE: N_("Напишите телефон магазина, например 8 727 378 88 88."),
    F_.WORKING_HOURS: N_("Напишите часы работы, например «Пн-Вс: 9:00-21:00» — от 3 до 100 символов."),
    F_.CITY: N_("Напишите город — от 2 до 100 символов."),
    F_.INSTAGRAM: N_("Пришлите ссылку на Instagram (https://…) или имя через @. «-» — убрать."),
    F_.WHATSAPP: N_("Пришлите номер WhatsApp или ссылку https://wa.me/… «-» — убрать."),
    F_.TELEGRAM: N_("Пришлите ссылку на Telegram (https://…) или имя через @. «-» — убрать."),
}
SHOWN_SHOPS = 3


class ShopEdit(StatesGroup):
    value = State()  # data: shop_field


# --- how it looks --------------------------------------------------------------------------------


def link(value: str | None) -> str:
    """A link that came from the API, safe in HTML; anything else as escaped text."""
    if not value:
        return "—"
    if value.lower().startswith(("https://", "http://")):
        return f'<a href="{esc_attr(value)}">{esc(cut(value, 60))}</a>'
    return esc(value)


def cvety_shop_line(shop: Shop) -> str:
    # a shop's name can be a phone number: shown as it is, in quotes
    return _("«{name}» (id {id}, код города {city})").format(
        name=esc(shop.name or "—"), id=shop.id, city=esc(shop.city or "—")
    )


def shop_text(overview: ShopOverview) -> str:
    info = overview.info
    dash = "—"
    lines = [
        _("🏪 <b>{name}</b>").format(name=esc(info.name) if info.name else _("Магазин")),
        "",
        _("Адрес: {address}").format(address=esc(info.address) if info.address else dash),
        _("Телефон: {phone}").format(phone=esc(info.phone) if info.phone else dash),
        _("Часы работы: {hours}").format(hours=esc(info.working_hours) if info.working_hours else dash),
        _("Город: {city}").format(city=esc(info.city) if info.city else dash),
        "",
        _("Instagram: {link}").format(link=link(info.social.instagram)),
        _("WhatsApp: {link}").format(link=link(info.social.whatsapp)),
        _("Telegram: {link}").format(link=link(info.social.telegram)),
        "",
    ]
    shops = overview.shops
    if shops is None:
        lines.append(_("cvety.kz: не удалось узнать магазин — сайт не ответил."))
    elif not shops:
        lines.append(_("cvety.kz: токен не привязан ни к одному магазину."))
    else:
        lines.append(_("Магазин на cvety.kz: {shop}").format(shop=cvety_shop_line(shops[0])))
        for other in shops[1:SHOWN_SHOPS]:
            lines.append("• " + cvety_shop_line(other))
        if len(shops) > SHOWN_SHOPS:
            lines.append(_("… и ещё {count}").format(count=len(shops) - SHOWN_SHOPS))
    return "\n".join(lines)


def shop_keyboard(role: Role) -> InlineKeyboardMarkup | None:
    if not can(role, Permission.SHOP_EDIT):
        return None
    buttons = [button(_(label), ShopCb(action="e", arg=field).pack()) for field, label in EDIT_LABELS.items()]
    return InlineKeyboardMarkup(inline_keyboard=[buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def cancel_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[button(_("↩️ Отмена"), ShopCb(action="x").pack())]])


# --- the router ----------------------------------------------------------------------------------


def get_router() -> Router:
    router = Router(name="shop")

    @router.message(Command("shop"))
    async def show(message: Message, role: Role, state: FSMContext, shops: ShopService) -> None:
        if not can(role, Permission.SHOP_VIEW):
            await message.answer(_("Информация о магазине вам недоступна."))
            return
        if await state.get_state() == ShopEdit.value.state:
            await state.clear()
        overview = await shops.overview()
        await message.answer(shop_text(overview), reply_markup=shop_keyboard(role))

    @router.callback_query(ShopCb.filter(F.action == "e"))
    async def edit(query: CallbackQuery, callback_data: ShopCb, role: Role, state: FSMContext) -> None:
        if not can(role, Permission.SHOP_EDIT):
            await query.answer(_("Данные магазина меняет только владелец."), show_alert=True)
            return
        try:
            field = ShopField(callback_data.arg)
        except ValueError:
            await query.answer(_("Эта кнопка устарела. Откройте раздел заново."))
            return
        await query.answer()
        await state.set_state(ShopEdit.value)
        await state.set_data({"shop_field": field.value})
        if isinstance(query.message, Message):
            await query.message.answer(_(ASK[field]), reply_markup=cancel_keyboard())

    @router.message(ShopEdit.value, F.text)
    async def typed(message: Message, state: FSMContext, role: Role, shops: ShopService) -> None:
        try:
            field = ShopField(str((await state.get_data()).get("shop_field")))
        except ValueError:
            await state.clear()
            await message.answer(_("Эта кнопка устарела. Откройте раздел заново."))
            return
        text = message.text or ""
        if text.startswith("/"):
            await message.answer(_("Сейчас я жду новое значение. /cancel — выйти."))
            return
        try:
            value = clean_shop_value(field, text)
        except InvalidInput as error:
            await message.answer(problem_text(error) + "\n" + _(ASK[field]), reply_markup=cancel_keyboard())
            return
        await state.clear()
        try:
            overview = await shops.save(role, field, value)
        except NotAllowed:
            await message.answer(_("Данные магазина меняет только владелец."))
            return
        except ApiError as error:
            await message.answer(esc(explain(error)) + "\n" + _("Данные магазина не изменены."))
            return
        await message.answer(
            _("✅ Сохранено.") + "\n\n" + shop_text(overview), reply_markup=shop_keyboard(role)
        )

    @router.callback_query(ShopCb.filter(F.action == "x"))
    async def leave(query: CallbackQuery, state: FSMContext, bot: Bot) -> None:
        await query.answer()
        if await state.get_state() == ShopEdit.value.state:
            await state.clear()
        if isinstance(query.message, Message):
            await edit_or_send(bot, query.message, text=_("Отменено. Ничего не сохранено."))

    @router.message(ShopEdit.value)
    async def hint(message: Message) -> None:
        await message.answer(_("Жду текст сообщением. /cancel — выйти."))

    return router
