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
