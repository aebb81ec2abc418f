"""How alerts look: new-order cards that live, digests, low stock, nudges, summaries."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from services.alerts import AlertKind, DailySummary, LowItem, Nudge
from services.models import Order, OrderStatus
from services.orders import Handling
from views.callbacks import AlertsCb, OrderCb
from views.i18n import N_
from views.orders import format_day, format_moment, format_money, format_slot, short_address, status_label
from views.render import button, cut, esc, keyboard

S = OrderStatus
ITEMS = 6
DIGEST_SIZE = 15
ENDED: dict[str, str] = {S.FINISHED: N_("✅ Заказ выполнен."), S.CANCELLED: N_("✖️ Заказ отменён.")}

ALERT_NAMES = {
    AlertKind.NEW_ORDERS: N_("Новые заказы"),
    AlertKind.LOW_STOCK: N_("Мало на складе"),
    AlertKind.DEADLINES: N_("Сроки доставки"),
    AlertKind.SUMMARY: N_("Итоги дня"),
}


def _when(order: Order, today: date) -> str:
    return ", ".join(filter(None, (format_day(order.delivery_date, today), format_slot(order.delivery_slot))))


def new_order_card(
    order: Order, today: date, tz: ZoneInfo, last: Handling | None = None, who: str | None = None
) -> str:
    lines = [
        _("🔔 <b>Новый заказ №{number}</b>").format(number=esc(order.number or order.id)),
        f"📅 {esc(_when(order, today))}",
        f"📍 {esc(cut(order.address, 200)) if order.address else _('самовывоз / без адреса')}",
    ]
    lines += [f"• {esc(cut(item.name or '—', 60))} × {item.quantity or 1}" for item in order.items[:ITEMS]]
    if len(order.items) > ITEMS:
        lines.append(_("… и ещё {count}").format(count=len(order.items) - ITEMS))
    lines += [f"💰 {esc(format_money(order.amount, order.currency))}", ""]
    status = _("Статус: {status}").format(status=esc(status_label(order.status, order.status_name)))
    if last is not None:
        status += " — " + (esc(who) if who else _("вне бота")) + ", " + format_moment(last.at, tz, today)
    lines.append(status)
    if order.status in ENDED:
        lines.append(_(ENDED[order.status]))
    return "\n".join(lines)


def new_order_keyboard(order: Order) -> InlineKeyboardMarkup | None:
    if order.status not in (S.NEW, S.PAID):
        return None
    return keyboard(
        [button(_("✍️ Принять"), OrderCb(action="s", id=order.id, to=S.ACCEPTED, frm=order.status, arg="a"))]
    )


def new_order_alert(
    order: Order, today: date, tz: ZoneInfo, last: Handling | None = None, who: str | None = None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The group's card of the order and its button."""
    return new_order_card(order, today, tz, last, who), new_order_keyboard(order)


def digest_text(orders: list[Order], today: date) -> str:
    lines = [_("🔔 <b>Новые заказы: {count}</b>").format(count=len(orders)), ""]
    for order in orders:
        parts = [
            f"№{order.number or order.id}",
            _when(order, today),
            short_address(order.address),
            format_money(order.amount, order.currency),
            status_label(order.status, order.status_name),
        ]
        lines.append(esc(" · ".join(parts)))
    lines += ["", _("Откройте заказ: пришлите боту его номер.")]
    return "\n".join(lines)


def low_stock_alert(items: list[LowItem], threshold: int, *, morning: bool = False) -> str:
    title = (
        _("☀️ <b>Доброе утро! Что заканчивается</b> (порог {threshold})")
        if morning
        else _("⚠️ <b>Заканчивается на складе</b> (порог {threshold})")
    ).format(threshold=threshold)
    if not items:
        return title + "\n\n" + _("Всего хватает 👍")
    lines = [title, ""]
    for item in items:
        mark = "❌ " + _("нет") if item.quantity <= 0 else f"⚠️ {item.quantity}"
        lines.append(f"{mark} — {esc(cut(item.name, 60))}")
    return "\n".join(lines)


def nudge_text(order: Order, nudge: Nudge, today: date) -> str:
    text = (
        _("⏰ Заказ №{number} ({when}) ещё не собран, а доставка меньше чем через час.")
        if nudge is Nudge.ASSEMBLE
        else _("⏰ Заказ №{number} ({when}) собран, но его ещё никто не повёз — до доставки меньше 30 минут.")
    )
    return text.format(number=esc(order.number or order.id), when=esc(_when(order, today)))


def summary_text(summary: DailySummary) -> str:
    lines = [
        _("🌙 <b>Итоги дня {day}</b>").format(day=f"{summary.day:%d.%m.%Y}"),
        _("Выполнено заказов: {count}").format(count=len(summary.finished)),
        _("Отменено: {count}").format(count=len(summary.cancelled)),
        _("Выручка: {amount}").format(amount=esc(format_money(summary.revenue))),
        _("Приходы: {count} ({stems} шт)").format(count=summary.deliveries, stems=summary.delivered_stems),
        _("Списания: {count} ({stems} шт)").format(count=summary.writeoffs, stems=summary.written_off_stems),
    ]
    return "\n".join(lines)


def _marked(kinds: set[AlertKind]) -> list[tuple[AlertKind, str]]:
    """Each kind of alert, ✅ when the person gets it in private."""
    return [(kind, ("✅ " if kind in kinds else "▫️ ") + _(label)) for kind, label in ALERT_NAMES.items()]


def subscriptions_text(kinds: set[AlertKind]) -> str:
    lines = [
        _("🔔 <b>Уведомления в личку</b>"),
        _("Отметьте, что присылать вам лично (в группу магазина приходит всё):"),
        "",
    ]
    return "\n".join(lines + [text for _kind, text in _marked(kinds)])


def subscriptions_keyboard(kinds: set[AlertKind]) -> InlineKeyboardMarkup:
    return keyboard(*([button(text, AlertsCb(kind=kind.value))] for kind, text in _marked(kinds)))
