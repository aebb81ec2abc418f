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


class ProfileCb(CallbackData, prefix="pf"):
    """/profile: action e = edit field `arg` (name, phone, bio, position), p = pick position `arg`,
    c = clear the bio, x = leave editing."""

    action: str
    arg: str = ""


class ShopCb(CallbackData, prefix="sh"):
    """/shop: action e = edit field `arg`, x = leave editing."""

    action: str
    arg: str = ""


class LanguageCb(CallbackData, prefix="lg"):
    code: str


class ColleagueCb(CallbackData, prefix="cl"):
    """/staff. action: l = list (arg «a.<position>» active or «all.<position>», position may be empty; page),
    o = open card (id), e = edit field (id, arg), p = pick position while adding/editing (arg),
    t = toggle active (id), d = ask to delete (id), D = delete confirmed (id), r = set bot role (id, arg),
    n = add a colleague, s = save the new colleague (arg: draft id), x = leave the flow."""

    action: str
    id: str = ""
    arg: str = ""
    page: int = 0


class InviteCb(CallbackData, prefix="iv"):
    """Invitations. action: r = make a link for role `arg` (id: optional colleague), l = list open
    ones, v = revoke code `arg`."""

    action: str
    arg: str = ""
    id: str = ""


class ShowcaseCb(CallbackData, prefix="vt"):
    """/vitrina. action: p = list page (page), o = open bouquet (id), f = flip one-card view to
    page, r = refresh card (id), s = sold / take down (id), S = confirmed (id), c = change price
    (id), z = change size (id), a = add a bouquet, t = take recent title number `arg`,
    n = skip an optional step, k = save the new bouquet (arg: draft id), x = leave the flow."""

    action: str
    id: int = 0
    page: int = 0
    arg: str = ""


class CatalogCb(CallbackData, prefix="ct"):
    """/catalog. action: p = page of the last search (page), o = open product (id)."""

    action: str
    id: int = 0
    page: int = 0


class CustomerCb(CallbackData, prefix="cu"):
    """/customer. action: o = open customer (id), p = page of their orders (id, page)."""

    action: str
    id: int = 0
    page: int = 0


class MenuCb(CallbackData, prefix="mn"):
    """A main-action button of /start: `open` is the command it stands for (orders, delivery, …);
    the feature owning that command handles it as if the command was typed."""

    open: str
