"""/catalog and /customer as they look: a page of bouquets found, a bouquet's card with its
composition, the customers found, and a customer's card with their orders."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _

from services.catalog import (
    CUSTOMERS_SHOWN,
    PAGE_SIZE,
    CustomerQuery,
    QueryKind,
    customer_stats,
    may_see_phones,
)
from services.models import Customer, Order, Product
from services.orders import may_view
from services.roles import Role
from views.callbacks import CatalogCb, CustomerCb, OrderCb
from views.i18n import N_
from views.orders import format_day, format_money, list_header, photo_preview, status_label
from views.render import button, cut, esc, esc_attr, keyboard, page_of, pager

TITLE = 60
BUTTON_TITLE = 34
COMPOSITION_MAX = 25
NAME = 60
QUERY_SHOWN = 40

PRODUCT_TYPES = {"vitrina": N_("витрина"), "catalog": N_("под заказ")}
PRODUCTION_TIMES = {
    "short": N_("быстро"),
    "medium": N_("средний срок"),
    "long": N_("долго — заказывать заранее"),
}


def _searched(title: str, query: str) -> str:
    return title + f" · «{esc(cut(query, QUERY_SHOWN))}»"


def price_text(product: Product) -> str:
    """The price as the shop shows it: the server's own text («7 500 ₸»), else formatted here."""
    text = product.price_text or ""
    if any(not (ch.isdigit() or ch.isspace() or ch in ".,") for ch in text):
        return text
    return format_money(product.price, product.currency)


def type_name(product: Product) -> str:
    label = PRODUCT_TYPES.get(product.type or "")
    if label:
        return _(label)
    return esc(product.type) if product.type else "—"  # HTML-ready: it came from the API


def _kind(product: Product) -> list[str]:
    """Showcase or made to order, and whether it can be had now."""
    if product.is_available is None:
        return [type_name(product)]
    if not product.is_available:
        return [type_name(product), _("⛔ нет в наличии")]
    return [type_name(product), _("✅ в наличии") if product.type == "vitrina" else _("✅ можно заказать")]


def ask_query(typed: bool) -> str:
    """What /catalog asks for: what to search, or more than was `typed`."""
    if typed:
        return _("Слишком коротко: напишите хотя бы две буквы, например «пионы». /cancel — не искать.")
    return _("💐 Что ищем? Напишите название букета или цветка, например «пионы» или «красные розы».")


def catalog_page(products: list[Product], query: str, page: int) -> dict[str, Any]:
    title = _searched(_("💐 Каталог"), query)
    if not products:
        text = _("Ничего не нашёл. Попробуйте иначе: «пионы», «красные розы», «коробка».")
        return {"text": f"<b>{title}</b>\n\n{text}", "reply_markup": None}
    shown, page, pages = page_of(products, page, PAGE_SIZE)
    rows = [list_header(title, len(products), page, pages), ""]
    rows += [" · ".join([f"<b>{esc(cut(p.title, TITLE))}</b>", esc(price_text(p)), *_kind(p)]) for p in shown]
    rows += ["", _("Нажмите на букет, чтобы открыть карточку с составом.")]
    buttons = [
        [button(f"{cut(p.title, BUTTON_TITLE)} · {price_text(p)}", CatalogCb(action="o", id=p.id))]
        for p in shown
    ]
    nav = pager(page, pages, lambda n: CatalogCb(action="p", page=n))
    return {"text": "\n".join(rows), "reply_markup": keyboard(*buttons, nav)}


def _size(product: Product) -> str | None:
    if product.width and product.height:
        return _("Размер: {width} × {height} см").format(width=esc(product.width), height=esc(product.height))
    if product.width or product.height:
        return _("Размер: {size} см").format(size=esc(product.width or product.height))
    return None


def _composition(product: Product) -> list[str]:
    if not product.composition:
        return [_("Состав не указан.")]
    rows = [_("<b>Состав:</b>")]
    for item in product.composition[:COMPOSITION_MAX]:
        name = esc(cut(item.name or item.id or "—", NAME))
        amount = "" if item.amount is None else " — " + _("{count} шт").format(count=item.amount)
        rows.append(f"• {name}{amount}")
    if len(product.composition) > COMPOSITION_MAX:
        rows.append(_("…и ещё {count}").format(count=len(product.composition) - COMPOSITION_MAX))
    return rows


def product_card(product: Product) -> dict[str, Any]:
    price = _("Цена: {price}").format(price=esc(price_text(product)))
    if product.discount:
        price += " · " + _("скидка {discount}%").format(discount=product.discount)
    rows = [f"💐 <b>{esc(cut(product.title, 200))}</b>", " · ".join(_kind(product)), price, _size(product)]
    if product.production_time:
        label = PRODUCTION_TIMES.get(product.production_time)
        time = _(label) if label else esc(product.production_time)
        rows.append(_("Изготовление: {time}").format(time=time))
    rows += ["", *_composition(product)]
    if product.image_url:
        rows += ["", f'<a href="{esc_attr(product.image_url)}">' + _("📷 Фото") + "</a>"]
    return {
        "text": "\n".join(r for r in rows if r is not None),
        "link_preview_options": photo_preview(product.image_url),
    }


def lookup_problem(lookup: CustomerQuery) -> str | None:
    """Why a /customer query cannot be searched yet, with an example of one that can."""
    if not lookup.text:
        return _(
            "Напишите телефон или имя клиента, например: /customer 8 701 555 23 41 или /customer Айгерим"
        )
    if lookup.kind is QueryKind.TOO_SHORT:
        return _(
            "Одной буквы мало — под неё подойдут почти все. Напишите часть имени (от двух букв) "
            "или телефон, например: /customer Айгерим или /customer 52341"
        )
    if lookup.kind is QueryKind.FEW_DIGITS:
        return _("Мало цифр. Напишите весь номер или хотя бы 5 последних цифр, например: /customer 52341")
    return None


def _name(customer: Customer, limit: int) -> str:
    return cut(customer.name or _("без имени"), limit)


def _phone_tail(phone: str | None) -> str:
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return f"…{digits[-4:]}" if len(digits) >= 4 else ""


def customers_found(found: list[Customer], query: str, phones: bool) -> dict[str, Any]:
    """The customers a query matched (none: not found); `phones`: may this person see them."""
    if not found:
        text = _("Клиент «{query}» не найден. Проверьте номер или напишите часть имени.")
        return {"text": text.format(query=esc(cut(query, QUERY_SHOWN)))}
    shown = found[:CUSTOMERS_SHOWN]
    rows, buttons = [list_header(_searched(_("👥 Клиенты"), query), len(found), 0, 1), ""], []
    for customer in shown:
        parts = [esc(_name(customer, NAME))]
        if phones and customer.phone:
            parts.append(esc(customer.phone))
        if customer.orders_count is not None:
            parts.append(_("заказов: {count}").format(count=customer.orders_count))
        rows.append("• " + " · ".join(parts))
        label = f"{_name(customer, 40)} {_phone_tail(customer.phone) if phones else ''}".strip()
        buttons.append([button(label, CustomerCb(action="o", id=customer.id))])
    rows.append("")
    if len(found) > len(shown):
        rows.append(
            _("Показаны первые {shown}. Уточните: полный номер или имя и фамилия.").format(shown=len(shown))
        )
    rows.append(_("Выберите клиента:"))
    return {"text": "\n".join(rows), "reply_markup": keyboard(*buttons)}


def _summary(customer: Customer, orders: list[Order], tz: ZoneInfo, today: date) -> str:
    stats = customer_stats(customer, orders)
    summary = [_("Заказов: {count}").format(count=stats.orders)]
    if stats.total is not None:
        summary.append(_("на сумму {total}").format(total=format_money(stats.total)))
    if stats.last_order_at is not None:
        day = format_day(stats.last_order_at.astimezone(tz).date(), today)
        summary.append(_("последний: {day}").format(day=day))
    return " · ".join(summary)


def customer_card(
    customer: Customer, orders: list[Order], page: int, role: Role, tz: ZoneInfo, today: date
) -> dict[str, Any]:
    """A customer and a page of their orders; the ones this role may open are buttons."""
    rows = [f"👤 <b>{esc(_name(customer, 120))}</b>"]
    if customer.phone and may_see_phones(role):
        rows.append("📞 " + esc(customer.phone))
    rows += [_summary(customer, orders, tz, today), ""]
    if not orders:
        return {"text": "\n".join([*rows, _("Заказов в списке нет.")]), "reply_markup": None}
    shown, page, pages = page_of(orders, page, PAGE_SIZE)
    rows.append(list_header(_("Заказы"), len(orders), page, pages))
    buttons = []
    for order in shown:
        when = format_day(order.delivery_date, today)
        if order.delivery_date is not None:
            when = _("доставка {day}").format(day=when)
        number, label = order.number or order.id, status_label(order.status, order.status_name)
        money = format_money(order.amount, order.currency)
        rows.append(f"№{esc(number)} · {esc(label)} · {esc(when)} · {esc(money)}")
        if may_view(role, order):
            buttons.append([button(f"№{number} · {label}", OrderCb(action="o", id=order.id))])
    rows.append("")
    if buttons:
        rows.append(_("Нажмите на заказ, чтобы открыть его."))
    if len(buttons) < len(shown):
        rows.append(_("Завершённые и отменённые заказы открывают владелец и старший флорист."))
    markup = keyboard(*buttons, pager(page, pages, lambda n: CustomerCb(action="p", id=customer.id, page=n)))
    return {"text": "\n".join(rows), "reply_markup": markup if markup.inline_keyboard else None}
