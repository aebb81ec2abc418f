"""The catalogue and customers at the counter: /catalog finds bouquets (showcase and made to
order) with their prices and composition; /customer finds a customer by phone or name and opens
their orders as the orders feature's cards."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
)
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from handlers.errors import explain
from services.catalog import (
    CUSTOMERS_SHOWN,
    PAGE_SIZE,
    CatalogService,
    QueryKind,
    clean_query,
    customer_stats,
    may_see_phones,
    parse_customer_query,
    too_short,
)
from services.errors import ApiError, ApiNotFound
from services.models import Customer, Order, Product
from services.orders import OrderService, may_view
from services.roles import Permission, Role, can
from views.callbacks import CatalogCb, CustomerCb, OrderCb
from views.i18n import N_
from views.orders import format_day, format_money, status_label
from views.render import cut, edit_or_send, esc, esc_attr

TITLE = 60
BUTTON_TITLE = 34
COMPOSITION_MAX = 25
NAME = 60

PRODUCTION_TIMES = {
    "short": N_("быстро"),
    "medium": N_("средний срок"),
    "long": N_("долго — заказывать заранее"),
}


class CatalogFlow(StatesGroup):
    query = State()  # waiting for what to search


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data)


def _pages(count: int) -> int:
    return max(1, -(-count // PAGE_SIZE))


def _nav(page: int, pages: int, make: Callable[[int], str]) -> list[InlineKeyboardButton]:
    nav = []
    if page > 0:
        nav.append(_button("◀", make(page - 1)))
    nav.append(_button(f"{page + 1}/{pages}", make(page)))
    if page < pages - 1:
        nav.append(_button("▶", make(page + 1)))
    return nav


# --- how products look ---------------------------------------------------------------------------


def price_text(product: Product) -> str:
    """The price as the shop shows it: the server's own text («7 500 ₸»), else formatted here."""
    text = product.price_text or ""
    if any(not (ch.isdigit() or ch.isspace() or ch in ".,") for ch in text):
        return text
    return format_money(product.price, product.currency)


def type_name(product: Product) -> str:
    if product.type == "vitrina":
        return _("витрина")
    if product.type == "catalog":
        return _("под заказ")
    return esc(product.type) if product.type else "—"  # HTML-ready: it came from the API


def availability(product: Product) -> str:
    if product.is_available is None:
        return ""
    if not product.is_available:
        return _("⛔ нет в наличии")
    return _("✅ в наличии") if product.type == "vitrina" else _("✅ можно заказать")


def catalog_page(products: list[Product], query: str, page: int) -> dict[str, Any]:
    pages = _pages(len(products))
    page = min(max(page, 0), pages - 1)
    title = _("💐 Каталог") + f" · «{esc(cut(query, 40))}»"
    if not products:
        text = f"<b>{title}</b>\n\n" + _(
            "Ничего не нашёл. Попробуйте иначе: «пионы», «красные розы», «коробка»."
        )
        return {"text": text, "reply_markup": None}
    header = f"<b>{title}</b> · {len(products)}"
    if pages > 1:
        header += " · " + _("стр. {page} из {pages}").format(page=page + 1, pages=pages)
    shown = products[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    rows = [header, ""]
    for product in shown:
        parts = [f"<b>{esc(cut(product.title, TITLE))}</b>", esc(price_text(product)), type_name(product)]
        mark = availability(product)
        if mark:
            parts.append(mark)
        rows.append(" · ".join(parts))
    rows += ["", _("Нажмите на букет, чтобы открыть карточку с составом.")]
    keyboard = [
        [
            _button(
                f"{cut(p.title, BUTTON_TITLE)} · {price_text(p)}",
                CatalogCb(action="o", id=p.id).pack(),
            )
        ]
        for p in shown
    ]
    if pages > 1:
        keyboard.append(_nav(page, pages, lambda n: CatalogCb(action="p", page=n).pack()))
    return {"text": "\n".join(rows), "reply_markup": InlineKeyboardMarkup(inline_keyboard=keyboard)}


def product_card(product: Product) -> dict[str, Any]:
    rows = [f"💐 <b>{esc(cut(product.title, 200))}</b>"]
    kind = [type_name(product)]
    mark = availability(product)
    if mark:
        kind.append(mark)
    rows.append(" · ".join(kind))
    price = _("Цена: {price}").format(price=esc(price_text(product)))
    if product.discount:
        price += " · " + _("скидка {discount}%").format(discount=product.discount)
    rows.append(price)
    if product.width and product.height:
        rows.append(
            _("Размер: {width} × {height} см").format(width=esc(product.width), height=esc(product.height))
        )
    elif product.width or product.height:
        rows.append(_("Размер: {size} см").format(size=esc(product.width or product.height)))
    if product.production_time:
        label = PRODUCTION_TIMES.get(product.production_time)
        rows.append(
            _("Изготовление: {time}").format(time=_(label) if label else esc(product.production_time))
        )
    rows.append("")
    if product.composition:
        rows.append(_("<b>Состав:</b>"))
        for item in product.composition[:COMPOSITION_MAX]:
            name = esc(cut(item.name or item.id or "—", NAME))
            amount = _("{count} шт").format(count=item.amount) if item.amount is not None else ""
            rows.append(f"• {name} — {amount}" if amount else f"• {name}")
        if len(product.composition) > COMPOSITION_MAX:
            rows.append(_("…и ещё {count}").format(count=len(product.composition) - COMPOSITION_MAX))
    else:
        rows.append(_("Состав не указан."))
    photo = product.image_url
    if photo:
        rows += ["", f'<a href="{esc_attr(photo)}">' + _("📷 Фото") + "</a>"]
    preview = (
        LinkPreviewOptions(url=photo, prefer_large_media=True, show_above_text=True)
        if photo
        else LinkPreviewOptions(is_disabled=True)
    )
    return {"text": "\n".join(rows), "link_preview_options": preview}


# --- how customers look --------------------------------------------------------------------------


def _phone_tail(phone: str | None) -> str:
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return f"…{digits[-4:]}" if len(digits) >= 4 else ""


def customers_list(found: list[Customer], query: str, phones: bool) -> dict[str, Any]:
    shown = found[:CUSTOMERS_SHOWN]
    title = _("👥 Клиенты") + f" · «{esc(cut(query, 40))}»"
    rows = [f"<b>{title}</b> · {len(found)}", ""]
    for customer in shown:
        parts = [esc(cut(customer.name or _("без имени"), NAME))]
        if phones and customer.phone:
            parts.append(esc(customer.phone))
        if customer.orders_count is not None:
            parts.append(_("заказов: {count}").format(count=customer.orders_count))
        rows.append("• " + " · ".join(parts))
    rows.append("")
    if len(found) > len(shown):
        rows.append(
            _("Показаны первые {shown}. Уточните: полный номер или имя и фамилия.").format(shown=len(shown))
        )
    rows.append(_("Выберите клиента:"))
    keyboard = []
    for customer in shown:
        label = cut(customer.name or _("без имени"), 40)
        tail = _phone_tail(customer.phone) if phones else ""
        keyboard.append([_button(f"{label} {tail}".strip(), CustomerCb(action="o", id=customer.id).pack())])
    return {"text": "\n".join(rows), "reply_markup": InlineKeyboardMarkup(inline_keyboard=keyboard)}


def customer_card(
    customer: Customer, orders: list[Order], page: int, role: Role, tz: ZoneInfo, today: date
) -> dict[str, Any]:
    stats = customer_stats(customer, orders)
    name = esc(cut(customer.name or _("без имени"), 120))
    rows = [f"👤 <b>{name}</b>"]
    if customer.phone and may_see_phones(role):
        rows.append("📞 " + esc(customer.phone))
    summary = [_("Заказов: {count}").format(count=stats.orders)]
    if stats.total is not None:
        summary.append(_("на сумму {total}").format(total=format_money(stats.total)))
    if stats.last_order_at is not None:
        summary.append(
            _("последний: {day}").format(day=format_day(stats.last_order_at.astimezone(tz).date(), today))
        )
    rows.append(" · ".join(summary))
    rows.append("")
    if not orders:
        rows.append(_("Заказов в списке нет."))
        return {"text": "\n".join(rows), "reply_markup": None}
    pages = _pages(len(orders))
    page = min(max(page, 0), pages - 1)
    shown = orders[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    header = "<b>" + _("Заказы") + f"</b> · {len(orders)}"
    if pages > 1:
        header += " · " + _("стр. {page} из {pages}").format(page=page + 1, pages=pages)
    rows.append(header)
    keyboard: list[list[InlineKeyboardButton]] = []
    hidden = False
    for order in shown:
        number = order.number or str(order.id)
        label = status_label(order.status, order.status_name)
        when = format_day(order.delivery_date, today)
        if order.delivery_date is not None:
            when = _("доставка {day}").format(day=when)
        rows.append(
            f"№{esc(number)} · {esc(label)} · {esc(when)} · {esc(format_money(order.amount, order.currency))}"
        )
        if may_view(role, order):
            keyboard.append([_button(f"№{number} · {label}", OrderCb(action="o", id=order.id).pack())])
        else:
            hidden = True
    rows.append("")
    if keyboard:
        rows.append(_("Нажмите на заказ, чтобы открыть его."))
    if hidden:
        rows.append(_("Завершённые и отменённые заказы открывают владелец и старший флорист."))
    if pages > 1:
        keyboard.append(_nav(page, pages, lambda n: CustomerCb(action="p", id=customer.id, page=n).pack()))
    markup = InlineKeyboardMarkup(inline_keyboard=keyboard) if keyboard else None
    return {"text": "\n".join(rows), "reply_markup": markup}


# --- /catalog ------------------------------------------------------------------------------------


def get_router() -> Router:
    router = Router(name="catalog")

    async def show_results(message: Message, query: str, catalog: CatalogService, state: FSMContext) -> None:
        try:
            products = await catalog.search(query)
        except ApiError as exc:
            await message.answer(esc(explain(exc)))
            return
        await state.update_data(catalog_query=query)
        await message.answer(**catalog_page(products, query, 0))

    async def leave_step(state: FSMContext) -> None:
        # Only this feature's own step: a half-entered delivery elsewhere stays as it was.
        if await state.get_state() == CatalogFlow.query.state:
            await state.set_state(None)

    @router.message(Command("catalog"))
    async def catalog_command(
        message: Message, command: CommandObject, role: Role, catalog: CatalogService, state: FSMContext
    ) -> None:
        if not can(role, Permission.CATALOG_VIEW):
            await message.answer(_("Каталог вам недоступен."))
            return
        query = clean_query(command.args)
        if not query:
            await state.set_state(CatalogFlow.query)
            await message.answer(
                _("💐 Что ищем? Напишите название букета или цветка, например «пионы» или «красные розы».")
            )
            return
        if too_short(query):
            await state.set_state(CatalogFlow.query)
            await message.answer(_("Слишком коротко: напишите хотя бы две буквы, например «пионы»."))
            return
        await leave_step(state)
        await show_results(message, query, catalog, state)

    @router.message(CatalogFlow.query, F.text)
    async def catalog_query_typed(
        message: Message, role: Role, catalog: CatalogService, state: FSMContext
    ) -> None:
        if not can(role, Permission.CATALOG_VIEW):
            await state.set_state(None)
            await message.answer(_("Каталог вам недоступен."))
            return
        query = clean_query(message.text)
        if query.startswith("/"):
            await state.set_state(None)
            await message.answer(_("Поиск по каталогу закрыт. /help — что я умею."))
            return
        if too_short(query):
            await message.answer(
                _("Слишком коротко: напишите хотя бы две буквы, например «пионы». /cancel — не искать.")
            )
            return
        await state.set_state(None)
        await show_results(message, query, catalog, state)

    @router.message(CatalogFlow.query)
    async def catalog_query_hint(message: Message) -> None:
        await message.answer(_("Напишите название букета текстом, например «пионы». /cancel — не искать."))

    @router.callback_query(CatalogCb.filter(F.action == "p"))
    async def catalog_more(
        query: CallbackQuery,
        callback_data: CatalogCb,
        role: Role,
        catalog: CatalogService,
        state: FSMContext,
        bot: Bot,
    ) -> None:
        if not can(role, Permission.CATALOG_VIEW):
            await query.answer(_("Каталог вам недоступен."))
            return
        text = str((await state.get_data()).get("catalog_query") or "")
        if not text or too_short(text):
            await query.answer(
                _("Этот поиск устарел. Напишите /catalog и название ещё раз."), show_alert=True
            )
            return
        await query.answer()
        if not isinstance(query.message, Message):
            return
        try:
            products = await catalog.search(text)
        except ApiError as exc:
            await bot.send_message(query.message.chat.id, esc(explain(exc)))
            return
        await edit_or_send(bot, query.message, **catalog_page(products, text, callback_data.page))

    @router.callback_query(CatalogCb.filter(F.action == "o"))
    async def product_opened(
        query: CallbackQuery, callback_data: CatalogCb, role: Role, catalog: CatalogService, bot: Bot
    ) -> None:
        if not can(role, Permission.CATALOG_VIEW):
            await query.answer(_("Каталог вам недоступен."))
            return
        await query.answer()
        if not isinstance(query.message, Message):
            return
        chat_id = query.message.chat.id
        try:
            product = await catalog.product(callback_data.id)
        except ApiNotFound:
            await bot.send_message(chat_id, _("Этого букета больше нет в каталоге."))
            return
        except ApiError as exc:
            await bot.send_message(chat_id, esc(explain(exc)))
            return
        await bot.send_message(chat_id, **product_card(product))

    return router


# --- /customer -----------------------------------------------------------------------------------


def get_customer_router() -> Router:
    router = Router(name="customers")

    async def unavailable(bot: Bot, chat_id: int, exc: ApiError) -> None:
        await bot.send_message(chat_id, _("Не удалось загрузить клиентов.") + " " + esc(explain(exc)))

    @router.message(Command("customer"))
    async def customer_command(
        message: Message,
        command: CommandObject,
        role: Role,
        catalog: CatalogService,
        settings: Settings,
        orders: OrderService,
        bot: Bot,
    ) -> None:
        if not can(role, Permission.CATALOG_VIEW):
            await message.answer(_("Поиск клиентов вам недоступен."))
            return
        lookup = parse_customer_query(command.args)
        if not lookup.text:
            await message.answer(
                _(
                    "Напишите телефон или имя клиента, например: "
                    "/customer 8 701 555 23 41 или /customer Айгерим"
                )
            )
            return
        if lookup.kind is QueryKind.TOO_SHORT:
            await message.answer(
                _(
                    "Одной буквы мало — под неё подойдут почти все. Напишите часть имени (от двух букв) "
                    "или телефон, например: /customer Айгерим или /customer 52341"
                )
            )
            return
        if lookup.kind is QueryKind.FEW_DIGITS:
            await message.answer(
                _("Мало цифр. Напишите весь номер или хотя бы 5 последних цифр, например: /customer 52341")
            )
            return
        try:
            found = await catalog.find_customers(lookup)
        except ApiError as exc:
            await unavailable(bot, message.chat.id, exc)
            return
        if not found:
            await message.answer(
                _("Клиент «{query}» не найден. Проверьте номер или напишите часть имени.").format(
                    query=esc(cut(lookup.text, 40))
                )
            )
            return
        if len(found) > 1:
            await message.answer(**customers_list(found, lookup.text, may_see_phones(role)))
            return
        customer = found[0]
        try:
            history = await catalog.orders_of(customer.id)
        except ApiError as exc:
            await unavailable(bot, message.chat.id, exc)
            return
        await message.answer(**customer_card(customer, history, 0, role, settings.tz, orders.today()))

    @router.callback_query(CustomerCb.filter(F.action.in_({"o", "p"})))
    async def customer_opened(
        query: CallbackQuery,
        callback_data: CustomerCb,
        role: Role,
        catalog: CatalogService,
        settings: Settings,
        orders: OrderService,
        bot: Bot,
    ) -> None:
        if not can(role, Permission.CATALOG_VIEW):
            await query.answer(_("Поиск клиентов вам недоступен."))
            return
        await query.answer()
        if not isinstance(query.message, Message):
            return
        chat_id = query.message.chat.id
        try:
            customer, history = await catalog.customer_with_orders(callback_data.id)
        except ApiError as exc:
            await unavailable(bot, chat_id, exc)
            return
        if customer is None:
            await bot.send_message(chat_id, _("Этого клиента больше нет в списке."))
            return
        card = customer_card(customer, history, callback_data.page, role, settings.tz, orders.today())
        if callback_data.action == "o":  # from a list of matches: the card is a message of its own
            await bot.send_message(chat_id, **card)
            return
        await edit_or_send(bot, query.message, **card)

    return router
