"""Orders: which lists a person sees, which status changes they may make, and making them
exactly once. Knows nothing of Telegram."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from services.cvety_api import CvetyApi
from services.errors import ApiError, ApiNotFound, ApiRejected, ApiUnavailable, ApiUnknownOutcome
from services.models import AllowedStatuses, Order, OrderStatus
from services.roles import Permission, Role, can
from services.storage.repositories import AuditEntry, AuditLog, Leases

log = logging.getLogger(__name__)

S = OrderStatus
CLOSED_STATUSES = frozenset({S.FINISHED, S.CANCELLED, S.REFUNDED})
LIST_FETCH_LIMIT = 100  # the server's maximum page: one call serves every page of a tab
PAGE_SIZE = 8
AUDIT_ACTION = "order.status"
PHOTO_ACTION = "order.photo"  # a photo sent after the change it belongs to
# Statuses a photo belongs to: the bouquet when assembled, the handover when delivered.
PHOTO_STEPS = frozenset({OrderStatus.ASSEMBLED, OrderStatus.FINISHED})
REASON_MIN = 3
REASON_MAX = 500
LEASE_TTL = timedelta(seconds=60)  # longer than a change can take (two reads, a write, a re-read)
LEASE_WAIT = 10.0  # seconds another replica may hold an order before we give up
LEASE_RETRY = 0.1

# What each role may do (design.md); owners and seniors may also do whatever else the server allows.
_FLORIST_MOVES = {(S.NEW, S.ACCEPTED), (S.PAID, S.ACCEPTED), (S.ACCEPTED, S.ASSEMBLED)}
_COURIER_MOVES = {(S.ASSEMBLED, S.IN_DELIVERY), (S.IN_DELIVERY, S.FINISHED)}


def is_open(status: str) -> bool:
    """Not finished, cancelled or refunded; unknown codes (TR, RO, …) are mid-flow, so open."""
    return bool(status) and status not in CLOSED_STATUSES


def may_change(role: Role, current: str, target: str) -> bool:
    """Whether this role may move an order from `current` to `target` (the server decides too)."""
    if current == target or not target:
        return False
    if can(role, Permission.ORDERS_CANCEL_AND_OTHER):
        return True
    move = (current, target)
    if can(role, Permission.ORDERS_ACCEPT_ASSEMBLE) and move in _FLORIST_MOVES:
        return True
    return can(role, Permission.ORDERS_DELIVER) and move in _COURIER_MOVES


def may_view(role: Role, order: Order, *, took_it: bool = False) -> bool:
    if can(role, Permission.ORDERS_VIEW_ALL):
        return True
    if can(role, Permission.ORDERS_VIEW_OPEN):
        return is_open(order.status)
    if can(role, Permission.ORDERS_VIEW_COURIER):
        return order.status == S.ASSEMBLED or (order.status == S.IN_DELIVERY and took_it)
    return False


def actions_for(role: Role, allowed: AllowedStatuses) -> list[str]:
    """The buttons: the server's allowed statuses ∩ what the role may do, in the server's order."""
    return [code for code in allowed.allowed if may_change(role, allowed.current, code)]


class Tab(StrEnum):
    NEW = "n"  # N + PD
    ACCEPTED = "a"
    ASSEMBLED = "c"
    IN_DELIVERY = "d"
    TODAY = "t"
    TOMORROW = "m"
    READY = "r"  # courier: assembled, ready to go
    MINE = "y"  # courier: my deliveries


STAFF_TABS = (Tab.NEW, Tab.ACCEPTED, Tab.ASSEMBLED, Tab.IN_DELIVERY, Tab.TODAY, Tab.TOMORROW)
COURIER_TABS = (Tab.MINE, Tab.READY)  # /orders opens on the first: what a courier is carrying

_TAB_STATUSES: dict[Tab, frozenset[str]] = {
    Tab.NEW: frozenset({S.NEW, S.PAID}),
    Tab.ACCEPTED: frozenset({S.ACCEPTED}),
    Tab.ASSEMBLED: frozenset({S.ASSEMBLED}),
    Tab.IN_DELIVERY: frozenset({S.IN_DELIVERY}),
    Tab.READY: frozenset({S.ASSEMBLED}),
    Tab.MINE: frozenset({S.IN_DELIVERY}),
}
# A single status the server may filter by (it is re-filtered here anyway).
_SERVER_FILTER = {
    Tab.ACCEPTED: S.ACCEPTED,
    Tab.ASSEMBLED: S.ASSEMBLED,
    Tab.IN_DELIVERY: S.IN_DELIVERY,
    Tab.READY: S.ASSEMBLED,
    Tab.MINE: S.IN_DELIVERY,
}


class TabHidden(PermissionError):
    """A list this role does not get (a forged or stale tab button)."""


class OrderHidden(PermissionError):
    """An order this role may not see (someone else's delivery, a closed order for a florist)."""


class BadReason(ValueError):
    """A typed cancel reason that is too short or too long."""

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length


def cancel_reason(text: str) -> str:
    """A typed cancel reason, spaces tidied; BadReason when it says too little or too much."""
    reason = " ".join(text.split())
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise BadReason(len(reason))
    return reason


def tabs_for(role: Role) -> tuple[Tab, ...]:
    if can(role, Permission.ORDERS_VIEW_ALL) or can(role, Permission.ORDERS_VIEW_OPEN):
        return STAFF_TABS
    if can(role, Permission.ORDERS_VIEW_COURIER):
        return COURIER_TABS
    return ()


@dataclass(frozen=True)
class OrderListPage:
    tab: Tab
    orders: list[Order]  # this page
    page: int
    pages: int
    total: int


@dataclass(frozen=True)
class Handling:
    """Who moved an order to a status, and when (from the audit log)."""

    actor_id: int | None
    status: str
    at: datetime
    comment: str | None
    attached: bool = False  # a photo sent after the change, not a change


@dataclass(frozen=True)
class OrderCard:
    order: Order
    allowed: AllowedStatuses | None  # None when allowed-statuses failed: show the card without buttons
    handled: list[Handling] = field(default_factory=list)  # oldest first
    photo_url: str | None = None  # bouquet photo: the server's, else one the bot attached
    handover_url: str | None = None  # the delivery photo, when the courier sent one


class ChangeOutcome(StrEnum):
    CHANGED = "changed"
    ALREADY = "already"  # someone (or a double tap) was faster: the order is no longer where the button was
    REFUSED = "refused"  # the server said no
    UNKNOWN = "unknown"  # timed out and the re-read could not tell
    UNAVAILABLE = "unavailable"  # nothing happened: the server could not be reached
    FORBIDDEN = "forbidden"  # the role may not do this (a forged or stale button)
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class ChangeResult:
    outcome: ChangeOutcome
    card: OrderCard | None = None
    reason: str | None = None  # the server's message for REFUSED
    by: Handling | None = None  # for ALREADY: who moved it, if the bot knows


def slot_start(order: Order) -> time:
    slot = order.delivery_slot
    if slot is None:
        return time(23, 59)
    if slot.label_key == "asap":
        return time(0, 0)
    if slot.start is not None:
        return slot.start
    if slot.end is not None:
        return slot.end
    return time(23, 59)


def delivery_sort_key(order: Order) -> tuple[date, time, int]:
    """Nearest delivery first; orders without a date last."""
    return (order.delivery_date or date.max, slot_start(order), order.id)


class OrderService:
    def __init__(
        self,
        cvety: CvetyApi,
        audit: AuditLog,
        *,
        tz: ZoneInfo,
        now: Callable[[], datetime] | None = None,
        leases: Leases | None = None,
    ) -> None:
        self._cvety = cvety
        self._audit = audit
        self._leases = leases  # with several replicas: one change per order across all of them
        self._tz = tz
        self._now = now or (lambda: datetime.now(tz))
        # One change per order at a time in this process, so two taps cannot both get through.
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._listeners: list[Callable[[Order], Awaitable[None]]] = []

    def on_change(self, listener: Callable[[Order], Awaitable[None]]) -> None:
        """Called with the order as it is now after the bot changed it (or found it changed),
        e.g. to update the order's alert card in the shop's group."""
        self._listeners.append(listener)

    async def _changed(self, result: ChangeResult) -> ChangeResult:
        if result.card is not None and result.outcome in (ChangeOutcome.CHANGED, ChangeOutcome.ALREADY):
            for listener in self._listeners:
                try:
                    await listener(result.card.order)
                except Exception:  # a failed alert edit must not undo or hide the change itself
                    log.exception("order change listener failed for order %s", result.card.order.id)
        return result

    def today(self) -> date:
        return self._now().astimezone(self._tz).date()

    # --- lists ---------------------------------------------------------------------------------

    async def list_tab(self, code: Tab | str, role: Role, actor_id: int, page: int = 0) -> OrderListPage:
        """One API call per page shown: the newest orders, filtered and sorted here."""
        tab = next((t for t in tabs_for(role) if t == code), None)
        if tab is None:
            raise TabHidden(f"tab {code!r} is not for {role}")
        server_status = _SERVER_FILTER.get(tab)
        result = await self._cvety.list_orders(status=server_status, limit=LIST_FETCH_LIMIT)
        mine = await self._taken_by(actor_id) if tab is Tab.MINE else set()
        orders = [
            o for o in result.items if self._in_tab(o, tab, mine) and may_view(role, o, took_it=o.id in mine)
        ]
        orders.sort(key=delivery_sort_key)
        pages = max(1, -(-len(orders) // PAGE_SIZE))
        page = min(max(page, 0), pages - 1)
        return OrderListPage(tab, orders[page * PAGE_SIZE : (page + 1) * PAGE_SIZE], page, pages, len(orders))

    def _in_tab(self, order: Order, tab: Tab, mine: set[int]) -> bool:
        if tab is Tab.TODAY:
            return is_open(order.status) and order.delivery_date == self.today()
        if tab is Tab.TOMORROW:
            return is_open(order.status) and order.delivery_date == self.today() + timedelta(days=1)
        if tab is Tab.MINE:
            return order.status == S.IN_DELIVERY and order.id in mine
        return order.status in _TAB_STATUSES[tab]

    async def _taken_by(self, actor_id: int) -> set[int]:
        entries = await self._audit.by_actor(actor_id, action=AUDIT_ACTION, after=S.IN_DELIVERY)
        return {int(e.target.split(":", 1)[1]) for e in entries if e.target.startswith("order:")}

    async def took_it(self, order_id: int, actor_id: int) -> bool:
        return order_id in await self._taken_by(actor_id)

    # --- cards ---------------------------------------------------------------------------------

    async def card(self, order_id: int, *, handled: bool = True) -> OrderCard:
        """At most two calls and one read of the log, made together: the order, its allowed
        statuses and (unless `handled` is False) who moved it where."""
        detail, allowed_or_error, moves = await asyncio.gather(
            self._cvety.get_order(order_id),
            self._cvety.allowed_statuses(order_id),
            self.handling(order_id, photos=True) if handled else _no_moves(),
            return_exceptions=True,
        )
        if isinstance(detail, BaseException):
            raise detail
        if isinstance(moves, BaseException):
            raise moves
        allowed: AllowedStatuses | None
        if isinstance(allowed_or_error, ApiError):
            log.warning("allowed-statuses for order %s failed: %s", order_id, type(allowed_or_error).__name__)
            allowed = None
        elif isinstance(allowed_or_error, BaseException):
            raise allowed_or_error
        elif allowed_or_error.current and allowed_or_error.current != detail.status:
            # The two reads raced a change: trust neither for buttons.
            allowed = AllowedStatuses(order_id=order_id, current=detail.status, allowed=[])
        else:
            allowed = allowed_or_error
        return OrderCard(detail, allowed, moves, *_photos(detail, moves))

    async def _with_handled(self, card: OrderCard) -> OrderCard:
        """A card read with `handled=False`, completed for showing it to the person."""
        moves = await self.handling(card.order.id, photos=True)
        return OrderCard(card.order, card.allowed, moves, *_photos(card.order, moves))

    async def card_for(self, order_id: int, role: Role, actor_id: int) -> OrderCard:
        """The card as this person may see it; OrderHidden when they may not (checked every time)."""
        card = await self.card(order_id)
        took_it = card.order.status == S.IN_DELIVERY and await self.took_it(order_id, actor_id)
        if not may_view(role, card.order, took_it=took_it):
            raise OrderHidden(f"order {order_id} is not for {role}")
        return card

    async def handling(self, order_id: int, *, photos: bool = False) -> list[Handling]:
        """Who moved the order where, oldest first; with `photos`, the photos sent after a move too."""
        actions = (AUDIT_ACTION, PHOTO_ACTION) if photos else (AUDIT_ACTION,)
        entries = await self._audit.for_target(f"order:{order_id}", limit=20)
        return [_handling(e) for e in reversed(entries) if e.action in actions]

    # --- status changes ------------------------------------------------------------------------

    async def change_status(
        self,
        *,
        actor_id: int,
        role: Role,
        order_id: int,
        expected: str,
        target: str,
        comment: str | None = None,
    ) -> ChangeResult:
        """Move `order_id` from `expected` to `target` once, whatever the taps and the network do."""
        if not may_change(role, expected, target) or (target == S.CANCELLED and not comment):
            return ChangeResult(ChangeOutcome.FORBIDDEN)  # a cancel always says why
        return await self._changed(await self._change(actor_id, role, order_id, expected, target, comment))

    async def _change(
        self, actor_id: int, role: Role, order_id: int, expected: str, target: str, comment: str | None
    ) -> ChangeResult:
        lock = self._locks.get(order_id)
        if lock is None:
            lock = self._locks[order_id] = asyncio.Lock()
        async with lock, self._order_lease(order_id) as leased:
            if not leased:  # another replica kept the order busy too long: nothing was called
                return ChangeResult(ChangeOutcome.UNAVAILABLE)
            try:
                # The log is read only when this card is shown: after a change it is read again.
                before = await self.card(order_id, handled=False)
            except ApiNotFound:
                return ChangeResult(ChangeOutcome.NOT_FOUND)
            except (ApiUnavailable, ApiRejected):
                return ChangeResult(ChangeOutcome.UNAVAILABLE)
            current = before.order.status
            if current != expected:
                before = await self._with_handled(before)
                return ChangeResult(ChangeOutcome.ALREADY, before, by=self._last_move(before))
            if before.allowed is None:
                return ChangeResult(ChangeOutcome.UNAVAILABLE, await self._with_handled(before))
            if target not in before.allowed.allowed:
                return ChangeResult(ChangeOutcome.REFUSED, await self._with_handled(before))
            try:
                await self._cvety.change_status(order_id, target, comment)
            except ApiUnknownOutcome:
                return await self._settle_unknown(actor_id, order_id, expected, target, comment)
            except ApiRejected as exc:
                return ChangeResult(
                    ChangeOutcome.REFUSED, await self._card_or(before), reason=exc.server_message
                )
            except ApiUnavailable:
                return ChangeResult(ChangeOutcome.UNAVAILABLE, await self._with_handled(before))
            await self._record(actor_id, order_id, expected, target, comment)
            return ChangeResult(ChangeOutcome.CHANGED, await self._card_or(before, changed_to=target))

    @contextlib.asynccontextmanager
    async def _order_lease(self, order_id: int) -> AsyncIterator[bool]:
        """The order's lease in the database, so two replicas cannot change one order at once.
        Waits a little for the other replica to finish; the caller then re-reads the order."""
        if self._leases is None:
            yield True
            return
        name, owner = f"order:{order_id}", secrets.token_hex(8)
        deadline = asyncio.get_running_loop().time() + LEASE_WAIT
        while True:
            now = datetime.now(UTC)
            if await self._leases.acquire(name, owner, until=now + LEASE_TTL, now=now):
                break
            if asyncio.get_running_loop().time() >= deadline:
                yield False
                return
            await asyncio.sleep(LEASE_RETRY)
        try:
            yield True
        finally:
            await self._leases.release(name, owner)

    async def _settle_unknown(
        self, actor_id: int, order_id: int, expected: str, target: str, comment: str | None
    ) -> ChangeResult:
        """The write timed out: read what is true and report that."""
        try:
            after = await self.card(order_id)
        except ApiError:
            return ChangeResult(ChangeOutcome.UNKNOWN)
        if after.order.status == target:
            await self._record(actor_id, order_id, expected, target, comment)
            return ChangeResult(ChangeOutcome.CHANGED, await self._card_or(after))
        if after.order.status == expected:
            return ChangeResult(ChangeOutcome.UNAVAILABLE, after)
        return ChangeResult(ChangeOutcome.ALREADY, after, by=self._last_move(after))

    async def _record(
        self, actor_id: int, order_id: int, before: str, after: str, comment: str | None
    ) -> None:
        await self._audit.record(
            actor_id=actor_id,
            action=AUDIT_ACTION,
            target=f"order:{order_id}",
            before=before,
            after=after,
            comment=comment,
        )

    async def _card_or(self, fallback: OrderCard, changed_to: str | None = None) -> OrderCard:
        try:
            return await self.card(fallback.order.id)
        except ApiError:
            if changed_to is None:
                return await self._with_handled(fallback)
            order = fallback.order.model_copy(update={"status": changed_to})
            handled = await self.handling(order.id, photos=True)
            return OrderCard(order, None, handled, *_photos(order, handled))

    @staticmethod
    def _last_move(card: OrderCard) -> Handling | None:
        for entry in reversed(card.handled):
            if entry.status == card.order.status and not entry.attached:
                return entry
        return None

    # --- photos --------------------------------------------------------------------------------

    async def upload_photo(self, content: bytes, filename: str, content_type: str) -> str:
        """Upload a bouquet or delivery photo; the URL to put into the status comment."""
        result = await self._cvety.upload_images([(filename, content, content_type)])
        if not result.urls:
            raise ApiRejected("upload returned no URL", backend="cvety", endpoint="POST /uploads/images")
        return result.urls[0]

    async def photo_target(self, order_id: int, role: Role) -> tuple[OrderCard, str | None]:
        """The order and the step a photo of it would make now for this role (assembled or
        delivered), None when a photo makes none."""
        card = await self.card(order_id)
        actions = actions_for(role, card.allowed) if card.allowed else []
        return card, next((t for t in actions if t in PHOTO_STEPS), None)

    async def attach_photo(self, order_id: int, actor_id: int, url: str, status: str) -> OrderCard | None:
        """A photo sent after the person's own change to `status` (offered, not required), kept
        with the order's handling so its card shows it; the card re-read, None if that failed."""
        await self._audit.record(
            actor_id=actor_id,
            action=PHOTO_ACTION,
            target=f"order:{order_id}",
            after=status,
            comment=photo_comment(url),
        )
        try:
            return await self.card(order_id)
        except ApiError:
            return None


PHOTO_MARK = "📷 "


def photo_comment(url: str, text: str | None = None) -> str:
    return f"{text}\n{PHOTO_MARK}{url}" if text else f"{PHOTO_MARK}{url}"


def photo_url_in(comment: str | None) -> str | None:
    if not comment:
        return None
    for line in comment.splitlines():
        if line.startswith(PHOTO_MARK):
            return line.removeprefix(PHOTO_MARK).strip() or None
    return None


def _handling(entry: AuditEntry) -> Handling:
    return Handling(entry.actor_id, entry.after or "", entry.at, entry.comment, entry.action == PHOTO_ACTION)


async def _no_moves() -> list[Handling]:
    return []


def _photos(order: Order, handled: list[Handling]) -> tuple[str | None, str | None]:
    """The bouquet photo (the server's, else the newest kept with «assembled») and the handover's."""

    def newest(status: str) -> str | None:
        urls = [photo_url_in(e.comment) for e in handled if e.status == status]
        return next((url for url in reversed(urls) if url), None)

    return order.assembled_image_url or newest(S.ASSEMBLED), newest(S.FINISHED)
