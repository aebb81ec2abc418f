"""How orders look in Telegram: list pages, cards and their keyboards. Pure functions of data."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from aiogram.utils.i18n import gettext as _

from services.models import Order, OrderStatus
from services.orders import Handling, OrderCard, OrderListPage, Tab
from services.parsing import DeliverySlot
from views.callbacks import OrderCb, OrderListCb
from views.i18n import N_
from views.render import cut, esc, esc_attr

S = OrderStatus

STATUS_NAMES = {
    S.NEW: N_("Новый"),
    S.PAID: N_("Оплачен"),
    S.ACCEPTED: N_("Принят"),
    S.ASSEMBLED: N_("Собран"),
    S.IN_DELIVERY: N_("В доставке"),
    S.FINISHED: N_("Завершён"),
    S.CANCELLED: N_("Отменён"),
    S.REFUNDED: N_("Возврат"),
}
STATUS_ICONS = {
    S.NEW: "🆕",
    S.PAID: "💳",
    S.ACCEPTED: "✍️",
    S.ASSEMBLED: "💐",
    S.IN_DELIVERY: "🚚",
    S.FINISHED: "✅",
    S.CANCELLED: "✖️",
    S.REFUNDED: "↩️",
}
# Verbs on the buttons, by target status
ACTION_LABELS = {
    S.PAID: N_("💳 Оплачен"),
    S.ACCEPTED: N_("✍️ Принять"),
    S.ASSEMBLED: N_("💐 Собран"),
    S.IN_DELIVERY: N_("🚚 Передать курьеру"),
    S.FINISHED: N_("✅ Доставлен"),
    S.CANCELLED: N_("✖️ Отменить"),
    S.REFUNDED: N_("↩️ Возврат"),
}
TAB_NAMES = {
    Tab.NEW: N_("Новые"),
    Tab.ACCEPTED: N_("Приняты"),
    Tab.ASSEMBLED: N_("Собраны"),
    Tab.IN_DELIVERY: N_("В доставке"),
    Tab.TODAY: N_("Сегодня"),
    Tab.TOMORROW: N_("Завтра"),
    Tab.READY: N_("Готовы к доставке"),
    Tab.MINE: N_("Мои доставки"),
}
CANCEL_REASONS = {
    "client": N_("Клиент отказался"),
    "flowers": N_("Нет нужных цветов"),
    "unreachable": N_("Не дозвонились до получателя"),
    "duplicate": N_("Дубль заказа"),
}
# Budgets keep a card far below Telegram's 4096 characters whatever the customer typed.
MAX_ITEMS = 15
ITEM_NAME = 70
ADDRESS = 250
NAME = 80
POSTCARD = 900
COMMENT = 500
NOTES = 400


def status_name(code: str, server_name: str | None = None) -> str:
    try:
        return _(STATUS_NAMES[S(code)])
    except ValueError:
        if server_name:
            return _("Статус «{code}» ({name})").format(code=code, name=server_name)
        return _("Статус «{code}»").format(code=code or "?")


def status_label(code: str, server_name: str | None = None) -> str:
    try:
        icon = STATUS_ICONS[S(code)]
    except ValueError:
        icon = "❔"
    return f"{icon} {status_name(code, server_name)}"


def action_label(target: str, *, courier: bool) -> str:
    if target == S.IN_DELIVERY and courier:
        return _("🚚 Взять в доставку")
    try:
        return _(ACTION_LABELS[S(target)])
    except (ValueError, KeyError):
        return _("Статус «{code}»").format(code=target)


def format_money(amount: int | None, currency: str | None = "KZT") -> str:
    if amount is None:
        return "—"
    digits = f"{amount:,}".replace(",", "\u00a0")
    return f"{digits}\u00a0₸" if (currency or "KZT") == "KZT" else f"{digits}\u00a0{currency}"


def format_slot(slot: DeliverySlot | None) -> str:
    if slot is None:
        return ""
    if slot.label_key == "asap":
        return _("как можно скорее")
    if slot.label_key == "by" and slot.end is not None:
        return _("до {time}").format(time=f"{slot.end:%H:%M}")
    if slot.label_key == "range" and slot.start is not None and slot.end is not None:
        end = "24:00" if slot.end.hour == 0 and slot.end.minute == 0 else f"{slot.end:%H:%M}"
        return f"{slot.start:%H:%M}–{end}"
    return cut(slot.raw, 40)


def format_day(day: date | None, today: date) -> str:
    if day is None:
        return _("дата не указана")
    delta = (day - today).days
    if delta == 0:
        return _("сегодня")
    if delta == 1:
        return _("завтра")
    if delta == -1:
        return _("вчера")
    return f"{day:%d.%m.%Y}"


def format_moment(moment: datetime, tz: ZoneInfo, today: date) -> str:
    local = moment.astimezone(tz)
    return f"{format_day(local.date(), today)} {local:%H:%M}"


def short_address(address: str | None) -> str:
    if not address:
        return _("самовывоз / без адреса")
    text = address.replace("г. Алматы,", "").replace("Алматы,", "").strip(" ,")
    return cut(text, 32)


# --- lists ---------------------------------------------------------------------------------------


def list_text(page: OrderListPage, today: date) -> str:
    title = _("📋 Заказы · {tab}").format(tab=_(TAB_NAMES[page.tab]))
    if page.total == 0:
        return f"<b>{title}</b>\n\n" + _("Здесь пока пусто.")
    header = f"<b>{title}</b> · {page.total}"
    if page.pages > 1:
        header += " · " + _("стр. {page} из {pages}").format(page=page.page + 1, pages=page.pages)
    rows = [header, ""]
    for order in page.orders:
        when = " ".join(
            x for x in (format_day(order.delivery_date, today), format_slot(order.delivery_slot)) if x
        )
        rows.append(
            f"<b>№{esc(order.number or order.id)}</b> · {esc(when)} · {esc(short_address(order.address))}"
            f" · {esc(format_money(order.amount, order.currency))}"
        )
    rows.append("")
    rows.append(_("Нажмите на заказ, чтобы открыть его."))
    return "\n".join(rows)


def list_keyboard(page: OrderListPage, tabs: tuple[Tab, ...], today: date) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    for order in page.orders:
        slot = format_slot(order.delivery_slot)
        label = f"№{order.number or order.id} · {slot}" if slot else f"№{order.number or order.id}"
        label += f" · {short_address(order.address)}"
        rows.append([InlineKeyboardButton(text=label, callback_data=OrderCb(action="o", id=order.id).pack())])
    if page.pages > 1:
        nav = []
        if page.page > 0:
            nav.append(_button("◀", OrderListCb(tab=page.tab, page=page.page - 1).pack()))
        nav.append(_button(f"{page.page + 1}/{page.pages}", OrderListCb(tab=page.tab, page=page.page).pack()))
        if page.page < page.pages - 1:
            nav.append(_button("▶", OrderListCb(tab=page.tab, page=page.page + 1).pack()))
        rows.append(nav)
    tab_buttons = [
        _button(("• " if tab is page.tab else "") + _(TAB_NAMES[tab]), OrderListCb(tab=tab, page=0).pack())
        for tab in tabs
    ]
    rows.extend(tab_buttons[i : i + 3] for i in range(0, len(tab_buttons), 3))
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data)


# --- cards ---------------------------------------------------------------------------------------


def map_links(order: Order) -> str:
    if not order.address:
        return ""
    query = (
        order.address if not order.city or order.city in order.address else f"{order.city}, {order.address}"
    )
    two_gis = "https://2gis.kz/almaty/search/" + quote(query, safe="")
    yandex = "https://yandex.kz/maps/?text=" + quote(query, safe="")
    yandex_name = _("Яндекс Карты")
    return f'<a href="{esc_attr(two_gis)}">2GIS</a> · <a href="{esc_attr(yandex)}">{yandex_name}</a>'


def person_line(label: str, name: str | None, phone: str | None) -> str | None:
    if not name and not phone:
        return None
    parts = [esc(cut(name, NAME)) if name else "", esc(phone) if phone else ""]
    return f"{label}: " + ", ".join(p for p in parts if p)


HANDLING_VERBS = {
    S.PAID: N_("Оплата отмечена"),
    S.ACCEPTED: N_("Принял(а)"),
    S.ASSEMBLED: N_("Собрал(а)"),
    S.IN_DELIVERY: N_("Повёз(ла)"),
    S.FINISHED: N_("Доставил(а)"),
    S.CANCELLED: N_("Отменил(а)"),
}


def handling_line(entry: Handling, names: dict[int, str], tz: ZoneInfo, today: date) -> str:
    try:
        verb = _(HANDLING_VERBS[S(entry.status)])
    except (ValueError, KeyError):
        verb = status_name(entry.status)
    who = names.get(entry.actor_id or 0) or _("кто-то")
    return f"{verb}: {esc(who)}, {format_moment(entry.at, tz, today)}"


def card_text(card: OrderCard, names: dict[int, str], tz: ZoneInfo, today: date) -> str:
    order = card.order
    title = _("Заказ №{number}").format(number=esc(order.number or order.id))
    lines = [f"<b>{title}</b> · {esc(status_label(order.status, order.status_name))}"]
    when = ", ".join(
        x for x in (format_day(order.delivery_date, today), format_slot(order.delivery_slot)) if x
    )
    lines.append(f"📅 {esc(when)}")
    if order.address:
        lines.append(f"📍 {esc(cut(order.address, ADDRESS))}")
        lines.append(map_links(order))
    else:
        lines.append("📍 " + _("самовывоз / без адреса"))
    for label, person in ((_("👤 Получатель"), order.recipient), (_("🙋 Отправитель"), order.sender)):
        if person is not None:
            line = person_line(label, person.name, person.phone)
            if line:
                lines.append(line)
    if order.items:
        lines.append("")
        lines.append("<b>" + _("Состав:") + "</b>")
        for item in order.items[:MAX_ITEMS]:
            lines.append(f"• {esc(cut(item.name or '—', ITEM_NAME))} × {item.quantity or 1}")
        if len(order.items) > MAX_ITEMS:
            lines.append(_("… и ещё {count}").format(count=len(order.items) - MAX_ITEMS))
    lines.append("")
    payment = _("оплачен") if order.is_paid else (_("не оплачен") if order.is_paid is False else "")
    if not payment and order.payment_status:
        payment = cut(order.payment_status, 40)
    money = format_money(order.amount, order.currency)
    lines.append(f"💰 {esc(money)}" + (f" · {esc(payment)}" if payment else ""))
    if order.postcard_text:
        lines.append("")
        lines.append("💌 " + _("Текст открытки:"))
        lines.append(f"<pre>{esc(cut(order.postcard_text, POSTCARD))}</pre>")
    if order.comment:
        label = _("Комментарий клиента")
        lines.append(f"💬 {label}: {esc(cut(order.comment, COMMENT))}")
    if order.notes:
        label = _("Заметки флориста")
        lines.append(f"📝 {label}: {esc(cut(order.notes, NOTES))}")
    if card.handled:
        lines.append("")
        lines.extend(handling_line(entry, names, tz, today) for entry in card.handled[-6:])
    if card.photo_url:
        photo = _("Фото букета")
        lines.append(f'📷 <a href="{esc_attr(card.photo_url)}">{photo}</a>')
    if card.allowed is None:
        lines.append("")
        lines.append(_("⚠️ Не удалось узнать, какие статусы доступны. Нажмите «Обновить»."))
    return "\n".join(lines)


def card_preview(card: OrderCard) -> LinkPreviewOptions:
    """The bouquet photo above the card, when there is one."""
    if card.photo_url:
        return LinkPreviewOptions(url=card.photo_url, prefer_large_media=True, show_above_text=True)
    return LinkPreviewOptions(is_disabled=True)


def card_keyboard(card: OrderCard, actions: list[str], *, courier: bool) -> InlineKeyboardMarkup:
    order = card.order
    rows = []
    for target in actions:
        action = "x" if target == S.CANCELLED else "s"
        try:
            data = OrderCb(action=action, id=order.id, to=target, frm=order.status).pack()
        except ValueError:  # a code the server made up that cannot travel in a button (":", > 64 bytes)
            continue
        rows.append([_button(action_label(target, courier=courier), data)])
    rows.append([_button(_("🔄 Обновить"), OrderCb(action="v", id=order.id).pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def cancel_keyboard(order_id: int, frm: str) -> InlineKeyboardMarkup:
    def reason(code: str) -> str:
        return OrderCb(action="r", id=order_id, to=S.CANCELLED, frm=frm, arg=code).pack()

    rows = [[_button(_(label), reason(code))] for code, label in CANCEL_REASONS.items()]
    rows.append([_button(_("✏️ Другая причина"), reason("other"))])
    rows.append([_button(_("↩️ Не отменять"), OrderCb(action="b", id=order_id).pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def photo_keyboard(order_id: int, target: str, frm: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(_("➡️ Без фото"), OrderCb(action="n", id=order_id, to=target, frm=frm).pack())],
            [_button(_("↩️ Отмена"), OrderCb(action="b", id=order_id, arg="p").pack())],
        ]
    )
