"""Every callback-data shape of the bot, in one place. Ids and short codes only: Telegram allows
64 bytes. Whatever arrives here may be forged: handlers re-check everything on the server side."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class OrderListCb(CallbackData, prefix="ol"):
    tab: str
    page: int = 0


class OrderCb(CallbackData, prefix="o"):
    """An action on an order card.

    action: o = open as a new message (from a list), v = refresh in place,
    s = set status `to` (button made when the order was in `frm`),
    x = cancel: show reasons, r = cancel with reason `arg`, b = back to the card,
    n = go on without a photo.
    """

    action: str
    id: int
    to: str = ""
    frm: str = ""
    arg: str = ""


class StockCb(CallbackData, prefix="st"):
    """Stock lookups. action: p = list page, f = open a flower card, r = refresh it in place,
    d = delivery of this flower, w = write-off of this flower."""

    action: str
    page: int = 0
    id: str = ""


class FlowCb(CallbackData, prefix="fl"):
    """A step of the delivery / write-off / invoice flows. The flow itself lives in FSM state,
    so a button from an older flow is refused."""

    action: str  # pick, skip, supplier, reason, save, edit, field, again, cancel
    arg: str = ""


class StocktakeCb(CallbackData, prefix="tk"):
    action: str  # same, finish, send, cancel, kind
    arg: str = ""


class AlertsCb(CallbackData, prefix="al"):
    """/alerts: toggle one kind of private alert."""

    kind: str
