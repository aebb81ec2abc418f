"""What the shop's group must hear about: new orders, status changes, low stock, deadlines and
daily summaries — decided here, with the watermarks kept in the database, so every alert is
given once, across restarts too. Knows nothing of Telegram: it returns what to say."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from services.crm_api import CrmApi
from services.cvety_api import CvetyApi
from services.errors import ApiError
from services.models import Order, OrderStatus
from services.orders import delivery_sort_key, is_open, slot_start
from services.storage.repositories import KeyValueStore

log = logging.getLogger(__name__)
S = OrderStatus

ORDERS_KEY = "alerts.orders"
LOW_STOCK_KEY = "alerts.low_stock"
FETCH_LIMIT = 100
ASSEMBLE_NUDGE = timedelta(minutes=60)
DELIVER_NUDGE = timedelta(minutes=30)


class AlertKind(StrEnum):
    NEW_ORDERS = "new_orders"
    LOW_STOCK = "low_stock"
    DEADLINES = "deadlines"
    SUMMARY = "summary"


# --- new orders and status changes ---------------------------------------------------------------


@dataclass(frozen=True)
class StatusChangeSeen:
    order: Order
    before: str


@dataclass(frozen=True)
class OrdersPoll:
    first_start: bool
    new: list[Order] = field(default_factory=list)  # oldest first, with details
    changed: list[StatusChangeSeen] = field(default_factory=list)
    open_orders: list[Order] = field(default_factory=list)  # from the list call, for deadlines


class OrderWatch:
    """Remembers the highest order id seen, the orders still to be announced, and each open
    order's last status.

    New orders are moved into `pending` in the same write that moves the watermark, and leave it
    only once their card is posted: a crash can at worst post one card twice, never skip one."""

    def __init__(self, cvety: CvetyApi, kv: KeyValueStore) -> None:
        self._cvety = cvety
        self._kv = kv

    async def poll(self) -> OrdersPoll:
        page = await self._cvety.list_orders(limit=FETCH_LIMIT)
        orders = page.items
        state: dict[str, Any] | None = await self._kv.get(ORDERS_KEY)
        statuses = {o.id: o.status for o in orders}
        open_orders = [o for o in orders if is_open(o.status)]
        if state is None:
            top = max((o.id for o in orders), default=0)
            await self._kv.set(ORDERS_KEY, {"max_id": top, "statuses": _encode(statuses), "pending": []})
            log.info("alerts: first start, %s existing orders recorded, none replayed", len(orders))
            return OrdersPoll(first_start=True, open_orders=open_orders)
        max_id = int(state.get("max_id", 0))
        known = {int(k): v for k, v in state.get("statuses", {}).items()}
        fresh = [o.id for o in orders if o.id > max_id]
        pending = sorted({*map(int, state.get("pending", [])), *fresh})
        changed = [
            StatusChangeSeen(o, known[o.id])
            for o in orders
            if o.id in known and known[o.id] != o.status and o.id not in pending
        ]
        await self._kv.set(
            ORDERS_KEY,
            {"max_id": max([max_id, *fresh]), "statuses": _encode(statuses), "pending": pending},
        )
        by_id = {o.id: o for o in orders}
        details = await self._details([by_id.get(i) or Order(id=i, number=str(i)) for i in pending])
        return OrdersPoll(False, details, changed, open_orders)

    async def announced(self, posted: dict[int, AlertCard | None]) -> None:
        """These orders' cards are posted (or there is no group to post to): never announce them
        again. One write, right after the post, for the card and the watermark together: a crash
        can fall only between Telegram's answer and this write."""
        state = await self._kv.get(ORDERS_KEY)
        if state is None:
            return
        state["pending"] = [i for i in state.get("pending", []) if int(i) not in posted]
        values: dict[str, Any] = {ORDERS_KEY: state}
        for order_id, card in posted.items():
            if card is not None:
                values[AlertCards.key(order_id)] = card.encode()
        await self._kv.set_many(values)

    async def _details(self, orders: list[Order]) -> list[Order]:
        """Details for new orders only (address, slot, items); the list item if a detail fails."""
        results = await asyncio.gather(*(self._cvety.get_order(o.id) for o in orders), return_exceptions=True)
        detailed = []
        for order, result in zip(orders, results, strict=True):
            if isinstance(result, Order):
                detailed.append(result)
            else:
                log.warning("alerts: detail of new order %s failed: %s", order.id, type(result).__name__)
                detailed.append(order)
        return detailed

    async def note_status(self, order_id: int, status: str) -> None:
        """A change made in the bot: the next poll must not report it again."""
        state = await self._kv.get(ORDERS_KEY)
        if state is None:
            return
        state.setdefault("statuses", {})[str(order_id)] = status
        await self._kv.set(ORDERS_KEY, state)


def _encode(statuses: dict[int, str]) -> dict[str, str]:
    return {str(k): v for k, v in statuses.items()}


@dataclass
class AlertCard:
    """Where an order's alert lives in the group: its own message, or a line of a digest."""

    message_id: int
    digest: list[int] = field(default_factory=list)  # every order of that digest message

    def encode(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "digest": self.digest}


class AlertCards:
    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv

    @staticmethod
    def key(order_id: int) -> str:
        return f"alert_card:{order_id}"

    async def get(self, order_id: int) -> AlertCard | None:
        raw = await self._kv.get(self.key(order_id))
        if raw is None:
            return None
        return AlertCard(int(raw["message_id"]), [int(i) for i in raw.get("digest", [])])


# --- low stock -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LowItem:
    key: str  # "flower:<id>" or "product:<id>"
    name: str
    quantity: int


@dataclass(frozen=True)
class LowStockPoll:
    first_start: bool
    newly_low: list[LowItem]
    all_low: list[LowItem]


class LowStockWatch:
    """Alert when an item becomes low; not again until it was restocked above the threshold."""

    def __init__(self, crm: CrmApi, kv: KeyValueStore, *, threshold: int) -> None:
        self._crm = crm
        self._kv = kv
        self.threshold = threshold

    async def current(self) -> list[LowItem]:
        report = await self._crm.low_stock(threshold=self.threshold)
        flowers = await self._crm.list_flowers()
        items = [
            LowItem(f"flower:{f.id}", f.name, f.quantity) for f in flowers if f.quantity <= self.threshold
        ]
        items += [
            LowItem(f"product:{p.id}", p.name or "?", p.quantity or 0)
            for p in report.products
            if (p.quantity or 0) <= self.threshold
        ]
        return sorted(items, key=lambda i: (i.quantity > 0, i.quantity, i.name))

    async def poll(self) -> LowStockPoll:
        """What became low since the last alert. Nothing is remembered here: the caller remembers
        the items once the alert is out (`remember`), so a stop in between repeats nothing and a
        crash loses nothing."""
        items = await self.current()
        previous = await self._kv.get(LOW_STOCK_KEY)
        if previous is None:
            await self.remember(items)
            return LowStockPoll(True, [], items)
        before = set(previous)
        return LowStockPoll(False, [i for i in items if i.key not in before], items)

    async def remember(self, items: list[LowItem]) -> None:
        await self._kv.set(LOW_STOCK_KEY, sorted(i.key for i in items))


# --- deadlines -----------------------------------------------------------------------------------


class Nudge(StrEnum):
    ASSEMBLE = "assemble"  # starts within the hour and is not assembled yet
    DELIVER = "deliver"  # assembled, starts within 30 minutes, not in delivery


def due_nudges(orders: list[Order], now: datetime, tz: ZoneInfo) -> list[tuple[Order, Nudge]]:
    """Orders that need a push right now (each is sent once: the caller remembers)."""
    local = now.astimezone(tz)
    found = []
    for order in sorted(orders, key=delivery_sort_key):
        if order.delivery_date != local.date() or order.delivery_slot is None:
            continue
        slot = order.delivery_slot
        if slot.label_key == "asap" or (slot.start is None and slot.end is None):
            continue
        starts = datetime.combine(local.date(), slot_start(order), tz)
        left = starts - local
        if left < -timedelta(hours=2):
            continue  # long past: a nudge now would only be noise
        if order.status in (S.NEW, S.PAID, S.ACCEPTED) and left <= ASSEMBLE_NUDGE:
            found.append((order, Nudge.ASSEMBLE))
        elif order.status == S.ASSEMBLED and left <= DELIVER_NUDGE:
            found.append((order, Nudge.DELIVER))
    return found


class NudgeLog:
    """Which nudges went out. Asked before sending and written after it, so a crash in between
    sends a nudge twice at worst, never skips one."""

    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv

    async def sent(self, order_id: int, nudge: Nudge) -> bool:
        return bool(await self._kv.get(self._key(order_id, nudge)))

    async def remember(self, order_id: int, nudge: Nudge) -> None:
        await self._kv.set(self._key(order_id, nudge), True)

    @staticmethod
    def _key(order_id: int, nudge: Nudge) -> str:
        return f"nudged:{order_id}:{nudge.value}"


# --- opening hours and summaries -----------------------------------------------------------------


class Summary(StrEnum):
    MORNING = "morning"
    EVENING = "evening"


SUMMARIES_KEY = "alerts.summaries"


class SummaryLog:
    """The day each summary last went out: a summary is given once a day. The scheduled run skips
    a day already done, and a start after its time (the bot was down or restarting at opening)
    gives the one that was missed."""

    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv

    async def days(self) -> dict[Summary, date | None] | None:
        """The day each summary last went out; None before the very first start."""
        raw: dict[str, str] | None = await self._kv.get(SUMMARIES_KEY)
        if raw is None:
            return None
        return {s: date.fromisoformat(raw[s.value]) if raw.get(s.value) else None for s in Summary}

    async def remember(self, day: date, *summaries: Summary) -> None:
        raw: dict[str, str] = await self._kv.get(SUMMARIES_KEY) or {}
        await self._kv.set(SUMMARIES_KEY, {**raw, **{s.value: day.isoformat() for s in summaries}})


def missed_summaries(
    now: datetime, opening: time, closing: time, sent: dict[Summary, date | None]
) -> list[Summary]:
    """Summaries whose time has come today and that did not go out: the morning one until
    closing time (later it is news nobody needs), the evening one until midnight."""
    today, moment = now.date(), now.time()
    missed = []
    if opening <= moment < closing and (sent[Summary.MORNING] or date.min) < today:
        missed.append(Summary.MORNING)
    if moment >= closing and (sent[Summary.EVENING] or date.min) < today:
        missed.append(Summary.EVENING)
    return missed


_HOURS = re.compile(r"(\d{1,2})[:.](\d{2})\s*[-–—]\s*(\d{1,2})[:.](\d{2})")
DEFAULT_OPENING = time(9, 0)
DEFAULT_CLOSING = time(21, 0)


def opening_hours(text: str | None) -> tuple[time, time]:
    """«Пн-Вс: 9:00-21:00» → (09:00, 21:00); the shop's usual day when it cannot be read."""
    match = _HOURS.search(text or "")
    if match is None:
        return DEFAULT_OPENING, DEFAULT_CLOSING
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        return DEFAULT_OPENING, DEFAULT_CLOSING
    return time(h1, m1), time(h2, m2)


@dataclass(frozen=True)
class DailySummary:
    day: date
    finished: list[Order]
    cancelled: list[Order]
    revenue: int
    deliveries: int  # movements
    delivered_stems: int
    writeoffs: int
    written_off_stems: int


async def daily_summary(cvety: CvetyApi, crm: CrmApi, day: date, tz: ZoneInfo) -> DailySummary:
    """Orders finished and cancelled today (by delivery date), revenue, stock movements today."""
    page = await cvety.list_orders(limit=FETCH_LIMIT)
    today = [o for o in page.items if o.delivery_date == day]
    finished = [o for o in today if o.status == S.FINISHED]
    cancelled = [o for o in today if o.status == S.CANCELLED]
    revenue = sum(o.amount or 0 for o in finished if (o.currency or "KZT") == "KZT")
    deliveries = writeoffs = delivered = written_off = 0
    try:
        movements = await crm.history(limit=200)
    except ApiError as exc:
        log.warning("summary: stock history unavailable: %s", type(exc).__name__)
        movements = []
    for movement in movements:
        if movement.created_at is None or movement.created_at.astimezone(tz).date() != day:
            continue
        quantity = abs(movement.quantity or 0)
        if movement.movement_type == "delivery":
            deliveries += 1
            delivered += quantity
        elif movement.movement_type in ("writeoff", "write_off"):
            writeoffs += 1
            written_off += quantity
    return DailySummary(day, finished, cancelled, revenue, deliveries, delivered, writeoffs, written_off)


# --- subscriptions -------------------------------------------------------------------------------


class Subscriptions:
    """Which alerts a person also wants in private (owners, seniors, florists)."""

    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv

    async def of(self, user_id: int) -> set[AlertKind]:
        return {
            AlertKind(k)
            for k in await self._kv.get(f"alert_subs:{user_id}", [])
            if k in AlertKind._value2member_map_
        }

    async def toggle(self, user_id: int, kind: AlertKind) -> set[AlertKind]:
        kinds = await self.of(user_id)
        kinds ^= {kind}
        await self._kv.set(f"alert_subs:{user_id}", sorted(k.value for k in kinds))
        subscribers = set(await self._kv.get("alert_subscribers", []))
        if kinds:
            subscribers.add(user_id)
        else:
            subscribers.discard(user_id)
        await self._kv.set("alert_subscribers", sorted(subscribers))
        return kinds

    async def subscribers(self, kind: AlertKind) -> list[int]:
        found = []
        for user_id in await self._kv.get("alert_subscribers", []):
            if kind in await self.of(int(user_id)):
                found.append(int(user_id))
        return found


Clock = Callable[[], datetime]


class QuietHours:
    """A daily window such as 22:00-08:00 (may cross midnight)."""

    def __init__(self, start: time, end: time) -> None:
        self.start = start
        self.end = end

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def __repr__(self) -> str:
        return f"QuietHours({self})"
