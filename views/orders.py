"""How orders look in Telegram: list pages, cards and their keyboards, what a status change came
to. Pure functions of data."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup, LinkPreviewOptions
from aiogram.utils.i18n import gettext as _

from services import orders as domain
from services.models import Order, OrderStatus
from services.orders import BadReason, ChangeOutcome, ChangeResult, Handling, OrderCard, OrderListPage, Tab
from services.parsing import DeliverySlot
from services.roles import Role
from views.callbacks import OrderCb, OrderListCb
from views.i18n import N_
from views.render import button, cut, esc, esc_attr, keyboard, pager

S = OrderStatus

STATUSES = {  # icon, name
    S.NEW: ("🆕", N_("Новый")),
    S.PAID: ("💳", N_("Оплачен")),
    S.ACCEPTED: ("✍️", N_("Принят")),
    S.ASSEMBLED: ("💐", N_("Собран")),
    S.IN_DELIVERY: ("🚚", N_("В доставке")),
    S.FINISHED: ("✅", N_("Завершён")),
    S.CANCELLED: ("✖️", N_("Отменён")),
    S.REFUNDED: ("↩️", N_("Возврат")),
}
MOVES = {  # the button that moves an order to a status, and the card's line for who did it
    S.PAID: (N_("💳 Оплачен"), N_("Оплата отмечена")),
    S.ACCEPTED: (N_("✍️ Принять"), N_("Принял(а)")),
    S.ASSEMBLED: (N_("💐 Собран"), N_("Собрал(а)")),
    S.IN_DELIVERY: (N_("🚚 Передать курьеру"), N_("Повёз(ла)")),
    S.FINISHED: (N_("✅ Доставлен"), N_("Доставил(а)")),
    S.CANCELLED: (N_("✖️ Отменить"), N_("Отменил(а)")),
    S.REFUNDED: (N_("↩️ Возврат"), None),
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
MAX_ITEMS, ITEM_NAME, ADDRESS, NAME, POSTCARD, COMMENT, NOTES = 15, 70, 250, 80, 900, 500, 400
# What the card asks for after the change a photo belongs to (nothing waits for it).
PHOTO_OFFERS = {
    S.ASSEMBLED: N_("📷 Пришлите фото собранного букета, если нужно."),
    S.FINISHED: N_("📷 Пришлите фото вручения, если нужно."),
}


def status_name(code: str, server_name: str | None = None) -> str:
    if code in STATUSES:
        return _(STATUSES[S(code)][1])
    if server_name:
        return _("Статус «{code}» ({name})").format(code=code, name=server_name)
    return _("Статус «{code}»").format(code=code or "?")


def status_label(code: str, server_name: str | None = None) -> str:
    icon = STATUSES[S(code)][0] if code in STATUSES else "❔"
    return f"{icon} {status_name(code, server_name)}"


def action_label(target: str, *, courier: bool) -> str:
    if target == S.IN_DELIVERY and courier:
        return _("🚚 Взять в доставку")
    return _(MOVES[S(target)][0]) if target in MOVES else _("Статус «{code}»").format(code=target)


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
    near = {0: N_("сегодня"), 1: N_("завтра"), -1: N_("вчера")}.get((day - today).days)
    return _(near) if near else f"{day:%d.%m.%Y}"


def format_moment(moment: datetime, tz: ZoneInfo, today: date) -> str:
    local = moment.astimezone(tz)
    return f"{format_day(local.date(), today)} {local:%H:%M}"


def short_address(address: str | None) -> str:
    if not address:
        return _("самовывоз / без адреса")
    text = address.replace("г. Алматы,", "").replace("Алматы,", "").strip(" ,")
    return cut(text, 32)


def list_screen(page: OrderListPage, role: Role, today: date) -> dict[str, Any]:
    title = _("📋 Заказы · {tab}").format(tab=_(TAB_NAMES[page.tab]))
    tabs = [
        button(("• " if tab is page.tab else "") + _(TAB_NAMES[tab]), OrderListCb(tab=tab, page=0))
        for tab in domain.tabs_for(role)
    ]
    lines, rows = [list_header(title, page.total, page.page, page.pages), ""], []
    for order in page.orders:
        number, address = order.number or order.id, short_address(order.address)
        label = " · ".join(x for x in (f"№{number}", format_slot(order.delivery_slot), address) if x)
        rows.append([button(label, OrderCb(action="o", id=order.id))])
        money, when = format_money(order.amount, order.currency), _when(order, today, " ")
        lines.append(f"<b>№{esc(number)}</b> · {esc(when)} · {esc(address)} · {esc(money)}")
    rows.append(pager(page.page, page.pages, lambda n: OrderListCb(tab=page.tab, page=n)))
    rows.extend(tabs[i : i + 3] for i in range(0, len(tabs), 3))
    if page.total == 0:
        return {"text": f"<b>{title}</b>\n\n" + _("Здесь пока пусто."), "reply_markup": keyboard(*rows)}
    lines += ["", _("Нажмите на заказ, чтобы открыть его.")]
    return {"text": "\n".join(lines), "reply_markup": keyboard(*rows)}


def list_header(title: str, count: int, page: int, pages: int) -> str:
    """«<b>title</b> · count», and the page when there is more than one."""
    header = f"<b>{title}</b> · {count}"
    if pages > 1:
        header += " · " + _("стр. {page} из {pages}").format(page=page + 1, pages=pages)
    return header


def _when(order: Order, today: date, between: str) -> str:
    return between.join(
        x for x in (format_day(order.delivery_date, today), format_slot(order.delivery_slot)) if x
    )


def map_links(order: Order) -> str:
    if not order.address:
        return ""
    city = "" if not order.city or order.city in order.address else f"{order.city}, "
    query = quote(city + order.address, safe="")
    maps = (("https://2gis.kz/almaty/search/", "2GIS"), ("https://yandex.kz/maps/?text=", _("Яндекс Карты")))
    return " · ".join(f'<a href="{esc_attr(site + query)}">{name}</a>' for site, name in maps)


def handling_line(entry: Handling, names: dict[int, str], tz: ZoneInfo, today: date) -> str:
    verb = MOVES[S(entry.status)][1] if entry.status in MOVES else None
    verb = _(verb) if verb else status_name(entry.status)
    who = names.get(entry.actor_id or 0) or _("кто-то")
    return f"{verb}: {esc(who)}, {format_moment(entry.at, tz, today)}"


def card_screen(
    card: OrderCard, names: dict[int, str], role: Role, tz: ZoneInfo, today: date, offer: str | None = None
) -> dict[str, Any]:
    """The card ready to send or edit; `offer`: the status just reached, whose photo is asked for."""
    order = card.order
    title = _("Заказ №{number}").format(number=esc(order.number or order.id))
    lines = [f"<b>{title}</b> · {esc(status_label(order.status, order.status_name))}"]
    lines.append(f"📅 {esc(_when(order, today, ', '))}")
    if order.address:
        lines += [f"📍 {esc(cut(order.address, ADDRESS))}", map_links(order)]
    else:
        lines.append("📍 " + _("самовывоз / без адреса"))
    for label, person in ((_("👤 Получатель"), order.recipient), (_("🙋 Отправитель"), order.sender)):
        parts = [cut(person.name or "", NAME), person.phone or ""] if person else []
        if any(parts):
            lines.append(f"{label}: " + ", ".join(esc(p) for p in parts if p))
    if order.items:
        lines += ["", "<b>" + _("Состав:") + "</b>"]
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
        lines += ["", "💌 " + _("Текст открытки:"), f"<pre>{esc(cut(order.postcard_text, POSTCARD))}</pre>"]
    for icon, label, text, limit in (
        ("💬", _("Комментарий клиента"), order.comment, COMMENT),
        ("📝", _("Заметки флориста"), order.notes, NOTES),
    ):
        if text:
            lines.append(f"{icon} {label}: {esc(cut(text, limit))}")
    moves = [entry for entry in card.handled if not entry.attached][-6:]
    if moves:
        lines += ["", *(handling_line(entry, names, tz, today) for entry in moves)]
    for url, label in ((card.photo_url, _("Фото букета")), (card.handover_url, _("Фото вручения"))):
        if url:
            lines.append(f'📷 <a href="{esc_attr(url)}">{label}</a>')
    if card.allowed is None:
        lines += ["", _("⚠️ Не удалось узнать, какие статусы доступны. Нажмите «Обновить».")]
    if offer in PHOTO_OFFERS:
        lines += ["", _(PHOTO_OFFERS[S(offer)])]
    text = "\n".join(lines)
    actions = domain.actions_for(role, card.allowed) if card.allowed else []
    keys = card_keyboard(card, actions, courier=role is Role.COURIER)
    return {"text": text, "reply_markup": keys, "link_preview_options": photo_preview(card.photo_url)}


def photo_preview(url: str | None) -> LinkPreviewOptions:
    """The bouquet's photo large above the text when there is one; no other link previewed."""
    if url:
        return LinkPreviewOptions(url=url, prefer_large_media=True, show_above_text=True)
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
        rows.append([button(action_label(target, courier=courier), data)])
    rows.append([button(_("🔄 Обновить"), OrderCb(action="v", id=order.id))])
    return keyboard(*rows)


def cancel_screen(card_html: str, order_id: int, frm: str) -> dict[str, Any]:
    """The card with the question under it, and the reasons to pick from."""
    question = _("<b>Отменить заказ №{number}?</b> Выберите причину.").format(number=order_id)
    rows = [
        [button(_(label), OrderCb(action="r", id=order_id, to=S.CANCELLED, frm=frm, arg=code))]
        for code, label in [*CANCEL_REASONS.items(), ("other", N_("✏️ Другая причина"))]
    ]
    rows.append([button(_("↩️ Не отменять"), OrderCb(action="b", id=order_id))])
    return {"text": f"{card_html}\n\n{question}", "reply_markup": keyboard(*rows)}


def reason_question(order_id: int) -> str:
    return _("Напишите причину отмены заказа №{number} одним сообщением (до {limit} символов).").format(
        number=order_id, limit=domain.REASON_MAX
    )


def reason_problem(error: BadReason) -> str:
    if error.length < domain.REASON_MIN:
        return _("Причина слишком короткая. Напишите, почему отменяется заказ.")
    return _("Слишком длинно: {length} символов, можно до {limit}. Напишите короче.").format(
        length=error.length, limit=domain.REASON_MAX
    )


OUTCOMES = {  # what went wrong when it is the same whatever the order
    ChangeOutcome.UNKNOWN: N_(
        "Сервер не ответил вовремя, и проверить не удалось: "
        "неизвестно, сменился ли статус заказа №{number}. Нажмите «Обновить» через минуту."
    ),
    ChangeOutcome.UNAVAILABLE: N_(
        "Сервер заказов сейчас недоступен — статус заказа №{number} не изменён. Попробуйте ещё раз."
    ),
    ChangeOutcome.NOT_FOUND: N_("Заказ №{number} не найден."),
    ChangeOutcome.FORBIDDEN: N_("Вам нельзя так менять этот заказ."),
}


def outcome_text(result: ChangeResult, order_id: int, target: str, mover: str | None) -> str | None:
    """The one line that tells the person what happened (None when the edited card says it all)."""
    if result.outcome is ChangeOutcome.ALREADY:
        order = result.card.order if result.card else None
        status = status_name(order.status if order else "", order.status_name if order else None)
        if mover:
            text = _("Заказ №{number} уже «{status}» — это сделал(а) {who}. Карточка обновлена.")
        else:
            text = _("Заказ №{number} уже «{status}». Карточка обновлена.")
        return text.format(number=order_id, status=status, who=esc(mover))
    if result.outcome is ChangeOutcome.REFUSED:
        if result.reason:
            text = _("Сервер не разрешил сменить статус заказа №{number}: {reason}")
        else:
            text = _("Сейчас заказ №{number} нельзя перевести в «{status}». Карточка обновлена.")
        return text.format(number=order_id, reason=esc(result.reason), status=status_name(target))
    known = OUTCOMES.get(result.outcome)
    return _(known).format(number=order_id) if known else None


def no_photo_step(card: OrderCard) -> str:
    """A captioned photo of an order it makes no step for (not assembled or delivered by this role)."""
    text, order = _("К заказу №{number} сейчас нельзя приложить фото: он «{status}»."), card.order
    return text.format(number=order.id, status=status_name(order.status, order.status_name))


def waiting_text(photo: bool, order_id: object) -> str:
    """What a step waits for when something else came: the photo, or the typed cancel reason."""
    if photo:
        return _("Жду фото к заказу №{number}, если нужно. /cancel — без фото.").format(number=order_id)
    return _("Напишите причину отмены текстом или /cancel, чтобы не отменять заказ.")


def not_found(order_id: int) -> str:
    return _(OUTCOMES[ChangeOutcome.NOT_FOUND]).format(number=order_id)
