"""/stocktake as it looks: one flower at a time, the differences to check, what was saved."""

from __future__ import annotations

from typing import Any

from aiogram.utils.i18n import gettext as _

from services.inventory import stocktake_differences
from services.outbox import WriteOutcome, WriteState
from views.callbacks import StocktakeCb
from views.render import button, cut, esc, keyboard

MAX_DIFF_LINES = 60


def count_question(data: dict[str, Any]) -> dict[str, Any]:
    item = data["items"][data["index"]]
    text = _("{number}/{total}: <b>{name}</b> — в системе {quantity}. Сколько по факту?").format(
        number=data["index"] + 1, total=len(data["items"]), name=esc(item["name"]), quantity=item["quantity"]
    )
    same = _("✅ Без изменений ({quantity})").format(quantity=item["quantity"])
    markup = keyboard(
        [button(same, StocktakeCb(action="same"))],
        [button(_("⏹ Закончить и проверить"), StocktakeCb(action="finish"))],
        [button(_("↩️ Отмена"), StocktakeCb(action="cancel"))],
    )
    return {"text": text, "reply_markup": markup}


def review(data: dict[str, Any]) -> dict[str, Any]:
    """The differences to send; with none there is nothing to send and no button."""
    items, counted = data["items"], data.get("counted", {})
    diffs = stocktake_differences(items, counted)
    lines = [
        _("<b>Пересчёт — проверьте расхождения</b>"),
        _("Посчитано позиций: {counted} из {total}.").format(counted=len(counted), total=len(items)),
        "",
    ]
    if not diffs:
        return {"text": "\n".join([*lines, _("Расхождений нет — всё сходится 👍")])}
    for item, quantity in diffs[:MAX_DIFF_LINES]:
        delta = quantity - item["quantity"]
        lines.append(f"{esc(cut(item['name'], 50))}: {item['quantity']} → <b>{quantity}</b> ({delta:+d})")
    if len(diffs) > MAX_DIFF_LINES:
        lines.append(_("… и ещё {count}").format(count=len(diffs) - MAX_DIFF_LINES))
    markup = keyboard(
        [button(_("✅ Отправить"), StocktakeCb(action="send", arg=data["op"]))],
        [button(_("↩️ Отмена"), StocktakeCb(action="cancel"))],
    )
    return {"text": "\n".join(lines), "reply_markup": markup}


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
