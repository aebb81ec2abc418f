"""How stock looks in Telegram: flower lists and cards, low stock, history, flow screens."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from services.inventory import InputError, InputProblem, InvoiceLine, LineStatus, LowStock
from services.models import Flower, Movement
from services.outbox import WriteKind, WriteOutcome, WriteState, op_ids_in
from views.callbacks import FlowCb, StockCb
from views.i18n import N_
from views.orders import format_money
from views.render import cut, esc

STOCK_PAGE = 10
NAME = 60

MOVEMENT_NAMES = {
    "delivery": N_("приход"),
    "writeoff": N_("списание"),
    "write_off": N_("списание"),
    "order_usage": N_("в заказ"),
    "order_return": N_("возврат из заказа"),
    "adjustment": N_("пересчёт"),
    "inventory": N_("пересчёт"),
}
WRITEOFF_REASONS = {
    "wilted": N_("Увяли"),
    "broken": N_("Сломаны"),
    "supplier": N_("Брак поставщика"),
}


def button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data)


def quantity_mark(quantity: int, threshold: int) -> str:
    if quantity <= 0:
        return "❌ " + _("нет")
    if quantity <= threshold:
        return f"⚠️ {quantity}"
    return str(quantity)


def problem_text(error: InputError, *, what: str) -> str:
    """Why a typed value was refused, and what is expected instead."""
    problem = error.problem
    if what == "price":
        expected = _("Цена — целое число тенге от 0 до 10 000 000, например: 120")
    elif what == "count":
        expected = _("Нужно целое число стеблей от 0 до 100 000, например: 48")
    else:
        expected = _("Нужно целое число стеблей от 1 до 100 000, например: 50")
    if problem is InputProblem.EMPTY:
        return _("Пустое сообщение.") + " " + expected
    if problem is InputProblem.FRACTION:
        return _("Дробное число не подходит.") + " " + expected
    if problem is InputProblem.NOT_POSITIVE:
        return _("Число должно быть больше нуля.") + " " + expected
    if problem is InputProblem.TOO_BIG:
        return _("Слишком большое число.") + " " + expected
    if problem is InputProblem.TOO_LONG:
        return _("Слишком длинно: можно до {limit} символов.").format(limit=error.limit)
    return _("Это не число.") + " " + expected


# --- lookups ---------------------------------------------------------------------------------------


def stock_page(flowers: list[Flower], query: str, page: int, threshold: int) -> dict[str, Any]:
    pages = max(1, -(-len(flowers) // STOCK_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = flowers[page * STOCK_PAGE : (page + 1) * STOCK_PAGE]
    title = _("🌸 Склад") + (f" · «{esc(cut(query, 40))}»" if query else "")
    if not flowers:
        text = f"<b>{title}</b>\n\n" + _("Ничего не нашёл. Попробуйте короче: «роза 60», «эустома».")
        return {"text": text, "reply_markup": None}
    header = f"<b>{title}</b> · {len(flowers)}"
    if pages > 1:
        header += " · " + _("стр. {page} из {pages}").format(page=page + 1, pages=pages)
    rows = [header, ""]
    rows += [f"{esc(cut(f.name, NAME))} — {quantity_mark(f.quantity, threshold)}" for f in shown]
    keyboard = [
        [button(f"{cut(f.name, 40)} · {f.quantity}", StockCb(action="f", id=f.id).pack())] for f in shown
    ]
    if pages > 1:
        nav = []
        if page > 0:
            nav.append(button("◀", StockCb(action="p", page=page - 1).pack()))
        nav.append(button(f"{page + 1}/{pages}", StockCb(action="p", page=page).pack()))
        if page < pages - 1:
            nav.append(button("▶", StockCb(action="p", page=page + 1).pack()))
        keyboard.append(nav)
    return {"text": "\n".join(rows), "reply_markup": InlineKeyboardMarkup(inline_keyboard=keyboard)}


def movement_line(
    movement: Movement, names: dict[str, str], tz: ZoneInfo, today: date, *, with_flower: bool
) -> str:
    when = ""
    if movement.created_at is not None:
        local = movement.created_at.astimezone(tz)
        when = f"{local:%H:%M}" if local.date() == today else f"{local:%d.%m %H:%M}"
    kind = movement.movement_type or ""
    label = _(MOVEMENT_NAMES[kind]) if kind in MOVEMENT_NAMES else esc(kind or "—")
    quantity = movement.quantity or 0
    amount = (
        f"{quantity:+d}" if kind not in ("writeoff", "write_off", "order_usage") else f"{-abs(quantity):d}"
    )
    parts = [when, f"{label} {amount}"]
    if with_flower and movement.flower_name:
        parts.append(esc(cut(movement.flower_name, 40)))
    who = next((names[op] for op in op_ids_in(movement.note) if op in names), None)
    if who:
        parts.append(esc(who))
    if movement.reason:
        parts.append(esc(cut(movement.reason, 80)))
    note = " ".join(w for w in (movement.note or "").split() if not w.startswith("[op:"))
    if note:
        parts.append(f"«{esc(cut(note, 80))}»")
    return "• " + " · ".join(p for p in parts if p)


def flower_card(
    flower: Flower,
    movements: list[Movement],
    names: dict[str, str],
    threshold: int,
    tz: ZoneInfo,
    today: date,
) -> dict[str, Any]:
    lines = [
        f"🌸 <b>{esc(flower.name)}</b>",
        _("На складе: {quantity}").format(quantity=quantity_mark(flower.quantity, threshold)),
    ]
    if movements:
        lines += ["", _("Последние движения:")]
        lines += [movement_line(m, names, tz, today, with_flower=False) for m in movements[:8]]
    keyboard = [
        [
            button(_("➕ Приход"), StockCb(action="d", id=flower.id).pack()),
            button(_("➖ Списание"), StockCb(action="w", id=flower.id).pack()),
        ],
        [button(_("🔄 Обновить"), StockCb(action="r", id=flower.id).pack())],
    ]
    return {"text": "\n".join(lines), "reply_markup": InlineKeyboardMarkup(inline_keyboard=keyboard)}


def low_stock_text(low: LowStock) -> str:
    lines = [_("⚠️ <b>Мало на складе</b> (порог {threshold})").format(threshold=low.threshold)]
    if not low.flowers and not low.products:
        return lines[0] + "\n\n" + _("Всего хватает 👍")
    if low.flowers:
        lines += ["", "<b>" + _("Цветы:") + "</b>"]
        lines += [
            f"{quantity_mark(f.quantity, low.threshold)} — {esc(cut(f.name, NAME))}" for f in low.flowers
        ]
    if low.products:
        lines += ["", "<b>" + _("Материалы и товары:") + "</b>"]
        lines += [
            f"{quantity_mark(p.quantity or 0, low.threshold)} — {esc(cut(p.name or '—', NAME))}"
            for p in low.products
        ]
    return "\n".join(lines)


# --- flows -----------------------------------------------------------------------------------------


def pick_keyboard(flowers: list[Flower], threshold: int) -> InlineKeyboardMarkup:
    rows = [
        [
            button(
                f"{cut(f.name, 40)} · {quantity_mark(f.quantity, threshold)}",
                FlowCb(action="pick", arg=f.id).pack(),
            )
        ]
        for f in flowers[:8]
    ]
    rows.append([button(_("↩️ Отмена"), FlowCb(action="cancel").pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def skip_keyboard(extra: list[tuple[str, str]] | None = None) -> InlineKeyboardMarkup:
    rows = [[button(text, data)] for text, data in (extra or [])]
    rows.append([button(_("➡️ Пропустить"), FlowCb(action="skip").pack())])
    rows.append([button(_("↩️ Отмена"), FlowCb(action="cancel").pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def cancel_only() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[button(_("↩️ Отмена"), FlowCb(action="cancel").pack())]])


def reasons_keyboard() -> InlineKeyboardMarkup:
    rows = [
        [button(_(label), FlowCb(action="reason", arg=code).pack())]
        for code, label in WRITEOFF_REASONS.items()
    ]
    rows.append([button(_("✏️ Другое"), FlowCb(action="reason", arg="other").pack())])
    rows.append([button(_("↩️ Отмена"), FlowCb(action="cancel").pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def confirm_keyboard(op_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [button(_("✅ Сохранить"), FlowCb(action="save", arg=op_id).pack())],
            [
                button(_("✏️ Изменить"), FlowCb(action="edit").pack()),
                button(_("↩️ Отмена"), FlowCb(action="cancel").pack()),
            ],
        ]
    )


def fields_keyboard(fields: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    rows = [[button(label, FlowCb(action="field", arg=code).pack())] for code, label in fields]
    rows.append([button(_("↩️ Назад"), FlowCb(action="back").pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def delivery_summary(data: dict[str, Any]) -> str:
    lines = [
        _("<b>Приход — проверьте:</b>"),
        _("Цветок: {name}").format(name=esc(data["flower_name"])),
        _("Количество: {quantity} шт").format(quantity=data["quantity"]),
        _("Цена за стебель: {price}").format(
            price=esc(format_money(data["price"])) if data.get("price") is not None else "—"
        ),
        _("Поставщик: {supplier}").format(supplier=esc(data.get("supplier") or "—")),
    ]
    return "\n".join(lines)


def writeoff_summary(data: dict[str, Any]) -> str:
    lines = [
        _("<b>Списание — проверьте:</b>"),
        _("Цветок: {name}").format(name=esc(data["flower_name"])),
        _("Количество: {quantity} шт (на складе {stock})").format(
            quantity=data["quantity"], stock=data["stock"]
        ),
        _("Причина: {reason}").format(reason=esc(data.get("reason_label") or data["reason"])),
        _("Фото: {photo}").format(photo=_("есть") if data.get("photo_url") else "—"),
    ]
    return "\n".join(lines)


def invoice_table(lines: list[InvoiceLine]) -> str:
    rows = [_("<b>Накладная — проверьте:</b>"), ""]
    for number, line in enumerate(lines, 1):
        if line.status is LineStatus.OK and line.flower is not None:
            price = f" · {esc(format_money(line.price))}" if line.price is not None else ""
            rows.append(f"{number}. ✅ {esc(cut(line.flower.name, NAME))} — {line.quantity} шт{price}")
        elif line.status is LineStatus.AMBIGUOUS:
            options = ", ".join(esc(cut(f.name, 40)) for f in line.suggestions)
            rows.append(
                f"{number}. ❓ «{esc(cut(line.text, 60))}» — "
                + _("подходит несколько: {options}").format(options=options)
            )
        elif line.status is LineStatus.BAD_NUMBER:
            rows.append(f"{number}. ⚠️ «{esc(cut(line.text, 60))}» — " + _("нет количества"))
        else:
            hint = ", ".join(esc(cut(f.name, 40)) for f in line.suggestions)
            text = f"{number}. ⚠️ «{esc(cut(line.text, 60))}» — " + _("не нашёл")
            rows.append(text + (" (" + _("может быть: {names}").format(names=hint) + ")" if hint else ""))
    good = sum(1 for line in lines if line.status is LineStatus.OK)
    rows += ["", _("Будет сохранено строк: {good} из {total}.").format(good=good, total=len(lines))]
    if good < len(lines):
        rows.append(
            _(
                "Строки с ⚠️ и ❓ не сохранятся: исправьте их и пришлите накладную заново, "
                "или сохраните остальные."
            )
        )
    return "\n".join(rows)


def invoice_keyboard(op_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [button(_("✅ Сохранить найденные"), FlowCb(action="save", arg=op_id).pack())],
            [button(_("↩️ Отмена"), FlowCb(action="cancel").pack())],
        ]
    )


def again_keyboard(flower_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[button(_("➕ Ещё приход"), StockCb(action="d", id=flower_id).pack())]]
    )


def outcome_line(outcome: WriteOutcome) -> str:
    name = esc(outcome.payload.get("flower_name") or "?")
    quantity = outcome.payload.get("quantity")
    if outcome.state is WriteState.DONE:
        return "✅ " + _("{name}: +{quantity} сохранено").format(name=name, quantity=quantity)
    if outcome.state is WriteState.QUEUED:
        return "⏳ " + _("{name}: +{quantity} — отправлю, когда склад ответит").format(
            name=name, quantity=quantity
        )
    return "❌ " + _("{name}: склад отказал — {reason}").format(name=name, reason=esc(outcome.reason or "?"))


def outcome_message(outcome: WriteOutcome) -> dict[str, Any]:
    """What the person sees after «Сохранить» (or later, when the outbox finished)."""
    if outcome.kind is WriteKind.STOCK_SET:
        return {"text": stocktake_outcome_text(outcome)}
    name = esc(outcome.payload.get("flower_name") or "?")
    quantity = outcome.payload.get("quantity")
    delivery = outcome.kind is WriteKind.FLOWER_DELIVERY
    result = outcome.result or {}
    if outcome.state is WriteState.DONE:
        new_quantity = result.get("new_quantity")
        if delivery:
            text = _("✅ Приход сохранён: {name} +{quantity} шт.").format(name=name, quantity=quantity)
        else:
            text = _("✅ Списание сохранено: {name} −{quantity} шт.").format(name=name, quantity=quantity)
        if new_quantity is not None:
            text += "\n" + _("Теперь на складе: {quantity} шт.").format(quantity=new_quantity)
        if outcome.retried:
            text = _("Склад ответил.") + " " + text
    elif outcome.state is WriteState.QUEUED:
        text = _("💾 Сохранено, отправлю, когда склад ответит: {name} {sign}{quantity} шт.").format(
            name=name, sign="+" if delivery else "−", quantity=quantity
        )
    elif outcome.reason == "expired":
        text = _(
            "❌ Не удалось отправить за сутки: {name} {sign}{quantity} шт. На складе ничего не изменилось."
        ).format(name=name, sign="+" if delivery else "−", quantity=quantity)
    else:
        text = _("❌ Склад отказал: {reason}. {name} {sign}{quantity} шт не сохранено.").format(
            reason=esc(outcome.reason or "?"), name=name, sign="+" if delivery else "−", quantity=quantity
        )
    if delivery and outcome.state is not WriteState.FAILED:
        return {"text": text, "reply_markup": again_keyboard(str(outcome.payload.get("flower_id", "")))}
    return {"text": text}


def stocktake_outcome_text(outcome: WriteOutcome) -> str:
    count = len(outcome.payload.get("updates", []))
    if outcome.state is WriteState.QUEUED:
        return _("💾 Пересчёт сохранён, отправлю, когда склад ответит ({count} поз.).").format(count=count)
    if outcome.state is WriteState.FAILED:
        return _("❌ Склад отказал: {reason}. Пересчёт не сохранён.").format(
            reason=esc(outcome.reason or "?")
        )
    result = outcome.result or {}
    text = _("✅ Пересчёт сохранён: обновлено {count} поз.").format(count=result.get("updated_count", count))
    errors = [str(e) for e in result.get("errors") or []]
    if errors:
        text += "\n" + _("Не приняты:") + "\n" + "\n".join(f"• {esc(cut(e, 120))}" for e in errors[:10])
    if outcome.retried:
        text = _("Склад ответил.") + " " + text
    return text
