"""How stock looks in Telegram: flower lists and cards, low stock, history, and the screens of the
delivery, write-off and invoice flows (a flow's data is the dict its FSM state keeps)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from services.inventory import InputError, InputProblem, InvoiceLine, InvoiceSaved, LineStatus, LowStock
from services.invoice_photo import PRICE, QUANTITY, TotalCheck
from services.models import Flower, Movement
from services.outbox import WriteKind, WriteOutcome, WriteState, op_ids_in
from views.callbacks import FlowCb, StockCb
from views.i18n import N_
from views.orders import format_money
from views.render import button, cut, esc, keyboard, page_of, pager
from views.stocktake import stocktake_outcome_text

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
OUTGOING = ("writeoff", "write_off", "order_usage")
WRITEOFF_REASONS = {"wilted": N_("Увяли"), "broken": N_("Сломаны"), "supplier": N_("Брак поставщика")}
PROBLEMS = {
    InputProblem.EMPTY: N_("Пустое сообщение."),
    InputProblem.FRACTION: N_("Дробное число не подходит."),
    InputProblem.NOT_POSITIVE: N_("Число должно быть больше нуля."),
    InputProblem.TOO_BIG: N_("Слишком большое число."),
    InputProblem.NOT_A_NUMBER: N_("Это не число."),
}
EXPECTED = {
    "price": N_("Цена — целое число тенге от 0 до 10 000 000, например: 120"),
    "count": N_("Нужно целое число стеблей от 0 до 100 000, например: 48"),
    "quantity": N_("Нужно целое число стеблей от 1 до 100 000, например: 50"),
}
HINTS = {
    "quantity": N_("Жду количество числом, например 50. /cancel — выйти."),
    "text": N_("Жду текст сообщением. /cancel — выйти."),
    "reason": N_("Выберите причину кнопкой выше. /cancel — выйти."),
    "photo": N_("Жду фото или нажмите «Пропустить»."),
    "confirm": N_("Нажмите «Сохранить», «Изменить» или «Отмена» под сводкой выше."),
}
UNSAVED_LINES = N_(
    "Строки с ⚠️ и ❓ не сохранятся: исправьте их и пришлите накладную заново, или сохраните остальные."
)


def quantity_mark(quantity: int, threshold: int) -> str:
    if quantity <= 0:
        return "❌ " + _("нет")
    return f"⚠️ {quantity}" if quantity <= threshold else str(quantity)


def problem_text(error: InputError, *, what: str) -> str:
    """Why a typed value was refused (`what`: quantity, count, price or text), and what is expected."""
    if error.problem is InputProblem.TOO_LONG:
        return _("Слишком длинно: можно до {limit} символов.").format(limit=error.limit)
    expected = _(EXPECTED[what]) if what in EXPECTED else ""
    return f"{_(PROBLEMS[error.problem])} {expected}".strip()


# --- lookups ---------------------------------------------------------------------------------------


def stock_page(flowers: list[Flower], query: str, page: int, threshold: int) -> dict[str, Any]:
    title = _("🌸 Склад") + (f" · «{esc(cut(query, 40))}»" if query else "")
    if not flowers:
        text = f"<b>{title}</b>\n\n" + _("Ничего не нашёл. Попробуйте короче: «роза 60», «эустома».")
        return {"text": text, "reply_markup": None}
    shown, page, pages = page_of(flowers, page, STOCK_PAGE)
    header = f"<b>{title}</b> · {len(flowers)}"
    if pages > 1:
        header += " · " + _("стр. {page} из {pages}").format(page=page + 1, pages=pages)
    rows = [f"{esc(cut(f.name, NAME))} — {quantity_mark(f.quantity, threshold)}" for f in shown]
    buttons = [[button(f"{cut(f.name, 40)} · {f.quantity}", StockCb(action="f", id=f.id))] for f in shown]
    markup = keyboard(*buttons, pager(page, pages, lambda p: StockCb(action="p", page=p)))
    return {"text": "\n".join([header, "", *rows]), "reply_markup": markup}


@dataclass(frozen=True)
class History:
    """Movements with who confirmed them (op id → name), told in the shop's time."""

    movements: list[Movement]
    names: dict[str, str]
    tz: ZoneInfo
    today: date

    def lines(self, *, with_flower: bool) -> list[str]:
        return [self.line(m, with_flower=with_flower) for m in self.movements]

    def line(self, movement: Movement, *, with_flower: bool) -> str:
        when = ""
        if movement.created_at is not None:
            local = movement.created_at.astimezone(self.tz)
            when = local.strftime("%H:%M" if local.date() == self.today else "%d.%m %H:%M")
        kind = movement.movement_type or ""
        label = _(MOVEMENT_NAMES[kind]) if kind in MOVEMENT_NAMES else esc(kind or "—")
        quantity = movement.quantity or 0
        who = next((self.names[op] for op in op_ids_in(movement.note) if op in self.names), "")
        note = " ".join(w for w in (movement.note or "").split() if not w.startswith("[op:"))
        parts = [
            when,
            f"{label} {-abs(quantity):d}" if kind in OUTGOING else f"{label} {quantity:+d}",
            esc(cut(movement.flower_name or "", 40)) if with_flower else "",
            esc(who),
            esc(cut(movement.reason or "", 80)),
            f"«{esc(cut(note, 80))}»" if note else "",
        ]
        return "• " + " · ".join(p for p in parts if p)


def flower_card(flower: Flower, history: History, threshold: int) -> dict[str, Any]:
    lines = [
        f"🌸 <b>{esc(flower.name)}</b>",
        _("На складе: {quantity}").format(quantity=quantity_mark(flower.quantity, threshold)),
    ]
    if history.movements:
        lines += ["", _("Последние движения:"), *history.lines(with_flower=False)[:8]]
    markup = keyboard(
        [
            button(_("➕ Приход"), StockCb(action="d", id=flower.id)),
            button(_("➖ Списание"), StockCb(action="w", id=flower.id)),
        ],
        [button(_("🔄 Обновить"), StockCb(action="r", id=flower.id))],
    )
    return {"text": "\n".join(lines), "reply_markup": markup}


def history_text(flower: Flower | None, history: History) -> str:
    title = _("🕓 <b>История</b>") + (f" · {esc(flower.name)}" if flower else "")
    if not history.movements:
        return title + "\n\n" + _("Движений пока нет.")
    return "\n".join([title, "", *history.lines(with_flower=flower is None)])


def low_stock_text(low: LowStock) -> str:
    lines = [_("⚠️ <b>Мало на складе</b> (порог {threshold})").format(threshold=low.threshold)]
    if not low.flowers and not low.products:
        return lines[0] + "\n\n" + _("Всего хватает 👍")
    sections = [
        (_("Цветы:"), [(f.quantity, f.name) for f in low.flowers]),
        (_("Материалы и товары:"), [(p.quantity or 0, p.name or "—") for p in low.products]),
    ]
    for title, items in sections:
        if items:
            lines += ["", f"<b>{title}</b>"]
            lines += [f"{quantity_mark(q, low.threshold)} — {esc(cut(name, NAME))}" for q, name in items]
    return "\n".join(lines)


# --- flows -----------------------------------------------------------------------------------------


def _cancel() -> InlineKeyboardButton:
    return button(_("↩️ Отмена"), FlowCb(action="cancel"))


def pick_keyboard(flowers: list[Flower], threshold: int) -> InlineKeyboardMarkup:
    rows = []
    for f in flowers[:8]:
        label = f"{cut(f.name, 40)} · {quantity_mark(f.quantity, threshold)}"
        rows.append([button(label, FlowCb(action="pick", arg=f.id))])
    return keyboard(*rows, [_cancel()])


def ask_flower(mode: str, recent: list[Flower], threshold: int) -> dict[str, Any]:
    """The first answer of /delivery or /writeoff: type a name, or tap one of the recent flowers."""
    if mode == "writeoff":
        text = _("➖ <b>Списание.</b> Какой цветок списать? Напишите название.")
    else:
        text = _(
            "➕ <b>Приход.</b> Какой цветок пришёл? Напишите название, например «роза 60».\n"
            "Можно вставить всю накладную: по строке на цветок — «Роза красная 60 50 120»."
        )
    if recent:
        text += "\n" + _("Или выберите из недавних:")
    return {"text": text, "reply_markup": pick_keyboard(recent, threshold)}  # with none: just «Отмена»


def search_result(query: str, flowers: list[Flower], found: bool, threshold: int) -> dict[str, Any]:
    """Several flowers matched (`found`), or none did and these are close, or nothing is."""
    if found:
        return {"text": _("Нашёл несколько — выберите:"), "reply_markup": pick_keyboard(flowers, threshold)}
    if flowers:
        text = _("Не нашёл «{query}». Может быть, один из этих?").format(query=esc(query))
        return {"text": text, "reply_markup": pick_keyboard(flowers, threshold)}
    text = _("Не нашёл «{query}». Напишите иначе, например «роза» или «эустома».").format(query=esc(query))
    return {"text": text}


def ask_quantity(flower: Flower, writeoff: bool, threshold: int) -> dict[str, Any]:
    stock = _("На складе: {quantity}").format(quantity=quantity_mark(flower.quantity, threshold))
    ask = _("Сколько стеблей списать?") if writeoff else _("Сколько стеблей пришло?")
    return {"text": f"🌸 <b>{esc(flower.name)}</b>\n{stock}\n\n{ask}", "reply_markup": keyboard([_cancel()])}


def over_stock(data: dict[str, Any]) -> str:
    return _("На складе только {stock} шт «{name}» — больше списать нельзя. Сколько списать?").format(
        stock=data.get("stock", 0), name=esc(data["flower_name"])
    )


def skip_keyboard(label: str | None = None, *extra: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    """An optional step: `extra` choices, then «skip» (`label`); a step opened from the summary
    goes «Назад» to it, the photo step of a write-off can be left with «Отмена»."""
    back = button(_("↩️ Назад"), FlowCb(action="back")) if label else _cancel()
    return keyboard(*extra, [button(label or _("➡️ Пропустить"), FlowCb(action="skip"))], [back])


def reasons_keyboard() -> InlineKeyboardMarkup:
    rows = [[button(_(label), FlowCb(action="reason", arg=code))] for code, label in WRITEOFF_REASONS.items()]
    return keyboard(*rows, [button(_("✏️ Другое"), FlowCb(action="reason", arg="other"))], [_cancel()])


def ask_field(field: str, suppliers: list[str] | None = None) -> dict[str, Any]:
    """A value asked (again, from the summary): quantity, price, supplier, reason or another one."""
    if field == "other":
        return {"text": _("Напишите причину (до 500 символов)."), "reply_markup": keyboard([_cancel()])}
    if field == "price":
        return {"text": _("Цена за стебель, ₸?"), "reply_markup": skip_keyboard(_("🚫 Без цены"))}
    if field == "supplier":
        choices = [
            [button(f"🚚 {cut(s, 40)}", FlowCb(action="supplier", arg=str(i)))]
            for i, s in enumerate(suppliers or [])
        ]
        markup = skip_keyboard(_("🚫 Без поставщика"), *choices)
        return {"text": _("Поставщик? Выберите или напишите."), "reply_markup": markup}
    if field == "reason":
        return {"text": _("Почему списываем?"), "reply_markup": reasons_keyboard()}
    return {"text": _("Сколько стеблей?"), "reply_markup": keyboard([_cancel()])}


def hint(kind: str) -> dict[str, Any]:
    """What a message that does not fit the step is told (and the step's buttons again)."""
    markup = {"reason": reasons_keyboard, "photo": skip_keyboard}.get(kind)
    return {"text": _(HINTS[kind]), "reply_markup": markup() if markup else None}


def summary(data: dict[str, Any], *, fields: bool = False) -> dict[str, Any]:
    """The one check before saving. A delivery shows its price and supplier (last time's, if any)
    to change in one tap; «Изменить» (`fields`) lists everything that can be changed."""
    delivery = data.get("mode") != "writeoff"
    flower = _("Цветок: {name}").format(name=esc(data["flower_name"]))
    if delivery:
        price = esc(format_money(data["price"])) if data.get("price") is not None else "—"
        lines = [
            _("<b>Приход — проверьте:</b>"),
            flower,
            _("Количество: {quantity} шт").format(quantity=data["quantity"]),
            _("Цена за стебель: {price}").format(price=price),
            _("Поставщик: {supplier}").format(supplier=esc(data.get("supplier") or "—")),
        ]
        changes = [("price", _("💰 Цена")), ("supplier", _("🚚 Поставщик"))]
    else:
        lines = [
            _("<b>Списание — проверьте:</b>"),
            flower,
            _("Количество: {quantity} шт (на складе {stock})").format(
                quantity=data["quantity"], stock=data["stock"]
            ),
            _("Причина: {reason}").format(reason=esc(data.get("reason_label") or data["reason"])),
            _("Фото: {photo}").format(photo=_("есть") if data.get("photo_url") else "—"),
        ]
        changes = [("reason", _("Причину"))]
    if fields:
        every = [("quantity", _("Количество")), *changes, ("flower", _("Цветок"))]
        rows = [[button(label, FlowCb(action="field", arg=code))] for code, label in every]
        markup = keyboard(*rows, [button(_("↩️ Назад"), FlowCb(action="back"))])
    else:
        markup = keyboard(
            [button(_("✅ Сохранить"), FlowCb(action="save", arg=str(data.get("op"))))],
            [button(label, FlowCb(action="field", arg=code)) for code, label in changes if delivery],
            [button(_("✏️ Изменить"), FlowCb(action="edit")), _cancel()],
        )
    return {"text": "\n".join(lines), "reply_markup": markup}


def invoice_table(lines: list[InvoiceLine]) -> str:
    rows = [_("<b>Накладная — проверьте:</b>"), ""]
    for number, line in enumerate(lines, 1):
        names = ", ".join(esc(cut(f.name, 40)) for f in line.suggestions)
        if line.status is LineStatus.OK and line.flower is not None:
            price = f" · {esc(format_money(line.price))}" if line.price is not None else ""
            rows.append(f"{number}. ✅ {esc(cut(line.flower.name, NAME))} — {line.quantity} шт{price}")
            continue
        if line.status is LineStatus.AMBIGUOUS:
            mark, why = "❓", _("подходит несколько: {options}").format(options=names)
        elif line.status is LineStatus.BAD_NUMBER:
            mark, why = "⚠️", _("нет количества")
        else:
            maybe = " (" + _("может быть: {names}").format(names=names) + ")" if names else ""
            mark, why = "⚠️", _("не нашёл") + maybe
        rows.append(f"{number}. {mark} «{esc(cut(line.text, 60))}» — {why}")
    good = sum(1 for line in lines if line.status is LineStatus.OK)
    rows += ["", _("Будет сохранено строк: {good} из {total}.").format(good=good, total=len(lines))]
    return "\n".join(rows + ([_(UNSAVED_LINES)] if good < len(lines) else []))


def invoice_keyboard(op_id: str) -> InlineKeyboardMarkup:
    return keyboard([button(_("✅ Сохранить найденные"), FlowCb(action="save", arg=op_id))], [_cancel()])


def skipped_line(text: str, status: str, suggestions: list[str]) -> str:
    """An invoice line that will not be saved, and why."""
    names = ", ".join(esc(cut(name, 40)) for name in suggestions)
    if status == LineStatus.AMBIGUOUS:
        return "❓ «" + esc(cut(text, 60)) + "» — " + _("подходит несколько: {options}").format(options=names)
    if status == LineStatus.BAD_NUMBER:
        return "⚠️ «" + esc(cut(text, 60)) + "» — " + _("нет количества")
    maybe = " (" + _("может быть: {names}").format(names=names) + ")" if names else ""
    return "⚠️ «" + esc(cut(text, 60)) + "» — " + _("не нашёл") + maybe


def _photo_row(number: int, row: dict[str, Any]) -> str:
    doubt = set(row.get("doubt", ()))
    quantity = f"{row['quantity']}{'❓' if QUANTITY in doubt else ''}"
    price = ""
    if row.get("price") is not None:
        price = f" · {esc(format_money(row['price']))}{'❓' if PRICE in doubt else ''}"
    mark = "❓" if doubt else "✅"
    return f"{number}. {mark} {esc(cut(row['flower_name'], NAME))} — {quantity} шт{price}"


def photo_invoice(
    rows: list[dict[str, Any]], skipped: list[dict[str, Any]], check: TotalCheck | None, op_id: str
) -> dict[str, Any]:
    """The invoice read from a photo: ✅ lines, ❓ numbers to confirm, what will not be saved, and
    whether the lines add up to the printed total. «Сохранить» only once nothing is doubtful."""
    lines = [_("<b>Накладная с фото — проверьте:</b>"), ""]
    lines += [_photo_row(number, row) for number, row in enumerate(rows, 1)]
    lines += [skipped_line(item["text"], item["status"], item.get("suggestions", [])) for item in skipped]
    if check is not None and check.quantity is not None:
        lines += [
            "",
            _("⚠️ Не сходится: в накладной итого {printed} шт, в строках {counted} шт.").format(
                printed=check.quantity[0], counted=check.quantity[1]
            ),
        ]
    if check is not None and check.amount is not None:
        lines += [
            "",
            _("⚠️ Не сходится: в накладной итого {printed}, в строках {counted}.").format(
                printed=esc(format_money(check.amount[0])), counted=esc(format_money(check.amount[1]))
            ),
        ]
    doubtful = [number for number, row in enumerate(rows, 1) if row.get("doubt")]
    buttons = []
    if doubtful:
        lines += ["", _("Числа с ❓ прочитаны неуверенно: нажмите строку и проверьте число.")]
        for number in doubtful:
            row = rows[number - 1]
            label = f"❓ {number}. {cut(row['flower_name'], 24)} — {row['quantity']}"
            buttons.append([button(label, FlowCb(action="fix", arg=f"{op_id}.{number - 1}"))])
    else:
        lines += [
            "",
            _("Будет сохранено строк: {good} из {total}.").format(
                good=len(rows), total=len(rows) + len(skipped)
            ),
        ]
        buttons.append([button(_("✅ Сохранить"), FlowCb(action="save", arg=op_id))])
    if skipped:
        lines.append(_(UNSAVED_LINES))
    return {"text": "\n".join(lines), "reply_markup": keyboard(*buttons, [_cancel()])}


def ask_invoice_number(row: dict[str, Any], number: int, field: str, op_id: str) -> dict[str, Any]:
    """One doubtful number of a photographed invoice: type the right one, or confirm it."""
    name = esc(cut(row["flower_name"], NAME))
    if field == QUANTITY:
        text = _("Строка {number}, {name}: сколько штук? Прочитано: {value}. Введите число.").format(
            number=number, name=name, value=row["quantity"]
        )
    else:
        text = _("Строка {number}, {name}: какая цена за штуку? Прочитано: {value}. Введите число.").format(
            number=number, name=name, value=esc(format_money(row["price"]))
        )
    value = row["quantity"] if field == QUANTITY else row["price"]
    ok = button(
        _("✓ {value} — верно").format(value=value),
        FlowCb(action="fixok", arg=f"{op_id}.{number - 1}.{field}"),
    )
    return {"text": text, "reply_markup": keyboard([ok], [_cancel()])}


PHOTO_ADVICE = N_(
    "Сфотографируйте накладную целиком, ровно сверху и при хорошем свете — или вставьте её текст сообщением."
)
UNREADABLE = {
    "not_an_image": N_("Это не фото."),
    "too_large": N_("Фото слишком большое."),
    "too_dark": N_("Фото слишком тёмное."),
    "blurred": N_("Фото размыто."),
    "no_text": N_("На фото не видно текста накладной."),
    "unavailable": N_("Не получилось прочитать фото."),
}


def unreadable_photo(reason: str) -> str:
    return (
        _(UNREADABLE.get(reason, UNREADABLE["unavailable"]))
        + " "
        + _(PHOTO_ADVICE)
        + "\n"
        + _("/cancel — выйти.")
    )


def no_invoice_lines() -> str:
    return _("На фото не нашлось строк накладной (цветок, количество, цена).") + " " + _(PHOTO_ADVICE)


def invoice_outcome(saved: InvoiceSaved, failure: str, op_id: str) -> dict[str, Any]:
    """What the lines stored now came to; with a `failure` (explained), «Сохранить» again."""
    lines = [_("<b>Накладная:</b>"), *(outcome_line(o) for o in saved.outcomes if not o.duplicate)]
    if not failure:
        return {"text": "\n".join(lines)}
    if saved.outcomes:
        rest = _("Остальные строки не сохранены и на склад не отправлены. Нажмите «Сохранить» ещё раз.")
    else:
        rest = _("На склад ничего не отправлено. Нажмите «Сохранить» ещё раз.")
    return {"text": "\n".join([*lines, esc(failure), rest]), "reply_markup": invoice_keyboard(op_id)}


def outcome_line(outcome: WriteOutcome) -> str:
    said = {
        "name": esc(outcome.payload.get("flower_name") or "?"),
        "quantity": outcome.payload.get("quantity"),
    }
    if outcome.state is WriteState.DONE:
        return "✅ " + _("{name}: +{quantity} сохранено").format(**said)
    if outcome.state is WriteState.QUEUED:
        return "⏳ " + _("{name}: +{quantity} — отправлю, когда склад ответит").format(**said)
    return "❌ " + _("{name}: склад отказал — {reason}").format(reason=esc(outcome.reason or "?"), **said)


def outcome_message(outcome: WriteOutcome) -> dict[str, Any]:
    """What the person sees after «Сохранить» (or later, when the outbox finished)."""
    if outcome.kind is WriteKind.STOCK_SET:
        return {"text": stocktake_outcome_text(outcome)}
    delivery = outcome.kind is WriteKind.FLOWER_DELIVERY
    said = {
        "name": esc(outcome.payload.get("flower_name") or "?"),
        "quantity": outcome.payload.get("quantity"),
        "sign": "+" if delivery else "−",
    }
    if outcome.state is WriteState.DONE:
        if delivery:
            text = _("✅ Приход сохранён: {name} +{quantity} шт.").format(**said)
        else:
            text = _("✅ Списание сохранено: {name} −{quantity} шт.").format(**said)
        new_quantity = (outcome.result or {}).get("new_quantity")
        if new_quantity is not None:
            text += "\n" + _("Теперь на складе: {quantity} шт.").format(quantity=new_quantity)
        if outcome.retried:
            text = _("Склад ответил.") + " " + text
    elif outcome.state is WriteState.QUEUED:
        text = _("💾 Сохранено, отправлю, когда склад ответит: {name} {sign}{quantity} шт.").format(**said)
    elif outcome.reason == "expired":
        text = _(
            "❌ Не удалось отправить за сутки: {name} {sign}{quantity} шт. На складе ничего не изменилось."
        ).format(**said)
    else:
        text = _("❌ Склад отказал: {reason}. {name} {sign}{quantity} шт не сохранено.").format(
            reason=esc(outcome.reason or "?"), **said
        )
    if delivery and outcome.state is not WriteState.FAILED:
        again = button(_("➕ Ещё приход"), StockCb(action="d", id=str(outcome.payload.get("flower_id", ""))))
        return {"text": text, "reply_markup": keyboard([again])}
    return {"text": text}
