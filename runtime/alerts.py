"""The alert centre: turns what services/alerts.py decides into messages in the shop's group (and
in private for those who asked), all through the one Sender."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time
from functools import partial
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n

from runtime.sender import Sender
from services.alerts import (
    AlertCard,
    AlertCards,
    AlertKind,
    LowStockWatch,
    Nudge,
    NudgeLog,
    OrderWatch,
    QuietHours,
    Subscriptions,
    Summary,
    SummaryLog,
    daily_summary,
    due_nudges,
    missed_summaries,
)
from services.crm_api import CrmApi
from services.cvety_api import CvetyApi
from services.errors import ApiError
from services.models import Order, OrderStatus
from services.orders import AUDIT_ACTION, Handling, OrderService
from services.roles import Permission, can
from services.staff import StaffService
from services.storage.repositories import AuditLog, KeyValueStore
from views.alerts import (
    DIGEST_SIZE,
    digest_text,
    low_stock_alert,
    new_order_card,
    new_order_keyboard,
    nudge_text,
    summary_text,
)
from views.i18n import DEFAULT_LOCALE, pick_locale

log = logging.getLogger(__name__)
S = OrderStatus

# More new orders than this in one poll are folded into digests, so the group stays far below
# Telegram's ~20 messages a minute and every order still appears.
INDIVIDUAL_LIMIT = 5
ALERT_CHAT_KEY = "alerts.chat_id"  # set when the group migrated to a supergroup


class AlertSettings(Protocol):
    """What the alert centre reads of the bot's settings."""

    @property
    def tz(self) -> ZoneInfo: ...
    @property
    def alert_chat_id(self) -> int | None: ...
    @property
    def alert_thread_id(self) -> int | None: ...
    @property
    def low_stock_threshold(self) -> int: ...
    @property
    def quiet_hours(self) -> QuietHours | None: ...


@dataclass(frozen=True)
class AlertSources:
    """Where the alert centre reads the shop's day from, and where it remembers what it posted."""

    cvety: CvetyApi
    crm: CrmApi
    kv: KeyValueStore
    audit: AuditLog
    staff: StaffService
    orders: OrderService


class AlertCenter:
    def __init__(
        self,
        settings: AlertSettings,
        sender: Sender,
        i18n: I18n,
        sources: AlertSources,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._settings = settings
        self._sender = sender
        self._i18n = i18n
        self._cvety, self._crm, self._kv = sources.cvety, sources.crm, sources.kv
        self._audit, self._staff, self._orders = sources.audit, sources.staff, sources.orders
        self.clock = now or (lambda: datetime.now(settings.tz))  # replaceable: tests move time
        kv = sources.kv
        self.watch = OrderWatch(sources.cvety, kv)
        self.cards = AlertCards(kv)
        self.low = LowStockWatch(sources.crm, kv, threshold=settings.low_stock_threshold)
        self.nudges = NudgeLog(kv)
        self.summaries = SummaryLog(kv)
        self.subscriptions = Subscriptions(kv)
        self._chat_id: int | None = settings.alert_chat_id

    # --- plumbing ------------------------------------------------------------------------------

    async def load(self) -> None:
        """The alert chat's current id (a group that became a supergroup has a new one)."""
        migrated = await self._kv.get(ALERT_CHAT_KEY)
        if migrated is not None and self._settings.alert_chat_id is not None:
            self._chat_id = int(migrated)
            self._sender.remember_migration(self._settings.alert_chat_id, self._chat_id)

    async def chat_migrated(self, old: int, new: int) -> None:
        if old == self._chat_id:
            self._chat_id = new
            await self._kv.set(ALERT_CHAT_KEY, new)
            log.warning("alert chat %s became supergroup %s: using the new id", old, new)

    @property
    def chat_id(self) -> int | None:
        return self._chat_id

    def today(self) -> Any:
        return self.clock().astimezone(self._settings.tz).date()

    @contextmanager
    def _language(self, locale: str = DEFAULT_LOCALE) -> Iterator[None]:
        with self._i18n.context(), self._i18n.use_locale(locale):
            yield

    def _group_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"disable_notification": self.quiet()}
        if self._settings.alert_thread_id is not None:
            kwargs["message_thread_id"] = self._settings.alert_thread_id
        return kwargs

    def quiet(self) -> bool:
        hours = self._settings.quiet_hours
        return hours is not None and hours.contains(self.clock().astimezone(self._settings.tz).time())

    async def _to_group(self, text: str, **kwargs: Any) -> int | None:
        if self._chat_id is None:
            return None
        message = await self._sender.send_message(self._chat_id, text, **self._group_kwargs(), **kwargs)
        return message.message_id if message is not None else None

    async def _to_people(self, user_ids: list[int], render: Callable[[], str], **kwargs: Any) -> None:
        for user_id in user_ids:
            member = await self._staff.get_active(user_id)
            if member is None or member.unreachable:
                continue
            with self._language(pick_locale(member.language)):
                text = render()
            await self._sender.send_message(user_id, text, disable_notification=self.quiet(), **kwargs)

    async def _subscribed(self, kind: AlertKind) -> list[int]:
        """Subscribers whose role still allows alerts (a florist made courier stops getting them)."""
        allowed = []
        for user_id in await self.subscriptions.subscribers(kind):
            member = await self._staff.get_active(user_id)
            if member is not None and (
                can(member.role, Permission.ALERTS_RECEIVE) or can(member.role, Permission.ALERTS_OPT_IN)
            ):
                allowed.append(user_id)
        return allowed

    async def check_chat(self) -> None:
        """Say clearly in the log, at start, whether alerts can reach the group."""
        if self._chat_id is None:
            log.warning("ALERT_CHAT_ID is not set: new-order and low-stock alerts go to subscribers only")
            return
        ok, reason = await self._sender.can_post(self._chat_id, self._settings.alert_thread_id)
        if ok:
            log.info("alert chat %s: the bot can post there", self._chat_id)
        else:
            log.warning("alert chat %s: the bot cannot post there: %s", self._chat_id, reason)

    # --- new orders and living cards -----------------------------------------------------------

    async def poll_orders(self) -> None:
        poll = await self.watch.poll()
        if not poll.first_start:
            await self._announce(poll.new)
            for change in poll.changed:
                await self.refresh(change.order)
        await self._nudge(poll.open_orders)

    async def _announce(self, orders: list[Order]) -> None:
        if not orders:
            return
        today = self.today()
        if len(orders) <= INDIVIDUAL_LIMIT:
            for order in orders:
                with self._language():
                    text, keyboard = (
                        new_order_card(order, today, self._settings.tz),
                        new_order_keyboard(order),
                    )
                message_id = await self._to_group(text, reply_markup=keyboard)
                if message_id is not None or self._chat_id is None:
                    card = AlertCard(message_id) if message_id is not None else None
                    await self.watch.announced({order.id: card})
        else:
            for start in range(0, len(orders), DIGEST_SIZE):
                chunk = orders[start : start + DIGEST_SIZE]
                with self._language():
                    text = digest_text(chunk, today)
                message_id = await self._to_group(text)
                if message_id is not None or self._chat_id is None:
                    ids = [o.id for o in chunk]
                    card = AlertCard(message_id, ids) if message_id is not None else None
                    await self.watch.announced(dict.fromkeys(ids, card))
        subscribers = await self._subscribed(AlertKind.NEW_ORDERS)
        if subscribers:
            if len(orders) <= INDIVIDUAL_LIMIT:
                for order in orders:
                    await self._to_people(
                        subscribers, partial(new_order_card, order, today, self._settings.tz)
                    )
            else:
                await self._to_people(subscribers, lambda: digest_text(orders[:50], today))

    async def refresh(self, order: Order) -> None:
        """Edit the order's alert to show where it is now, who moved it and when."""
        await self.watch.note_status(order.id, order.status)
        card = await self.cards.get(order.id)
        if card is None or self._chat_id is None:
            return
        today = self.today()
        if card.digest:
            try:
                page = await self._cvety.list_orders(limit=100)
            except ApiError as exc:
                log.warning("digest refresh skipped: %s", type(exc).__name__)
                return
            by_id = {o.id: o for o in page.items}
            by_id[order.id] = order
            orders = [by_id[i] for i in card.digest if i in by_id]
            with self._language():
                text = digest_text(orders, today)
            await self._sender.edit_message_text(self._chat_id, card.message_id, text)
            return
        last = await self._last_move(order)
        who = None
        if last is not None and last.actor_id is not None:
            who = (await self._staff.names({last.actor_id})).get(last.actor_id)
        with self._language():
            text = new_order_card(order, today, self._settings.tz, last, who)
            keyboard = new_order_keyboard(order)
        await self._sender.edit_message_text(self._chat_id, card.message_id, text, reply_markup=keyboard)

    async def _last_move(self, order: Order) -> Handling | None:
        for entry in reversed(await self._orders.handling(order.id)):
            if entry.status == order.status:
                return entry
        for event in reversed(order.history):
            if event.status == order.status and event.at is not None:
                return Handling(None, order.status, event.at, None)
        if order.status in (S.NEW, S.PAID):
            return None
        return Handling(None, order.status, self.clock(), None)  # seen by the poll, changed outside the bot

    # --- deadlines -----------------------------------------------------------------------------

    async def _nudge(self, open_orders: list[Order]) -> None:
        today = self.today()
        for order, nudge in due_nudges(open_orders, self.clock(), self._settings.tz):
            if await self.nudges.sent(order.id, nudge):
                continue
            with self._language():
                text = nudge_text(order, nudge, today)
            await self._to_group(text)
            people = set(await self._subscribed(AlertKind.DEADLINES))
            if nudge is Nudge.ASSEMBLE:
                taker = await self._taken_by(order.id)
                if taker is not None:
                    people.add(taker)
            else:  # couriers may not sit in the shop's group: each gets the push in private
                people |= {
                    m.telegram_id for m in await self._staff.list_all() if m.role == "courier" and m.active
                }
            await self._to_people(sorted(people), partial(nudge_text, order, nudge, today))
            await self.nudges.remember(order.id, nudge)

    async def _taken_by(self, order_id: int) -> int | None:
        for entry in await self._audit.for_target(f"order:{order_id}"):
            if entry.action == AUDIT_ACTION and entry.after == S.ACCEPTED:
                return entry.actor_id
        return None

    # --- stock ---------------------------------------------------------------------------------

    async def poll_low_stock(self) -> None:
        poll = await self.low.poll()
        if poll.first_start:
            return
        if not poll.newly_low:
            await self.low.remember(poll.all_low)  # what was restocked may alert again later
            return
        threshold = self.low.threshold
        with self._language():
            text = low_stock_alert(poll.newly_low, threshold)
        await self._to_group(text)
        subscribers = await self._subscribed(AlertKind.LOW_STOCK)
        await self._to_people(subscribers, lambda: low_stock_alert(poll.newly_low, threshold))
        await self.low.remember(poll.all_low)

    async def catch_up(self, opening: time, closing: time) -> None:
        """At start: the summary whose time came while the bot was down or restarting."""
        sent = await self.summaries.days()
        now = self.clock().astimezone(self._settings.tz)
        if sent is None:  # the very first start: no summary of a day the bot did not see
            due = missed_summaries(now, opening, closing, dict.fromkeys(Summary))
            await self.summaries.remember(now.date(), *due)
            return
        for summary in missed_summaries(now, opening, closing, sent):
            log.info("the %s summary was due while the bot was down: giving it now", summary.value)
            await (self.morning() if summary is Summary.MORNING else self.evening())

    async def _summary_given(self, summary: Summary) -> bool:
        sent = await self.summaries.days() or {}
        return sent.get(summary) == self.today()

    async def morning(self) -> None:
        """At opening: everything that is low (also what was already low at the first start)."""
        if await self._summary_given(Summary.MORNING):
            return
        items = await self.low.current()
        threshold = self.low.threshold
        with self._language():
            text = low_stock_alert(items, threshold, morning=True)
        await self._to_group(text)
        subscribers = await self._subscribed(AlertKind.LOW_STOCK)
        await self._to_people(subscribers, lambda: low_stock_alert(items, threshold, morning=True))
        await self.summaries.remember(self.today(), Summary.MORNING)

    async def evening(self) -> None:
        """At closing: the day in numbers."""
        if await self._summary_given(Summary.EVENING):
            return
        summary = await daily_summary(self._cvety, self._crm, self.today(), self._settings.tz)
        with self._language():
            text = summary_text(summary)
        await self._to_group(text)
        subscribers = await self._subscribed(AlertKind.SUMMARY)
        await self._to_people(subscribers, lambda: summary_text(summary))
        await self.summaries.remember(self.today(), Summary.EVENING)
