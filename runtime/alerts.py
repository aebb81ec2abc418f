"""The alert centre: turns what services/alerts.py decides into messages in the shop's group (and
in private for those who asked), all through the one Sender."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import partial
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n

from runtime.sender import Sender
from services import alerts as rules
from services.alerts import AlertCard, AlertKind, Nudge, QuietHours, Summary
from services.crm_api import CrmApi
from services.cvety_api import CvetyApi
from services.errors import ApiError
from services.models import Order, OrderStatus
from services.orders import AUDIT_ACTION, Handling, OrderService
from services.roles import Permission, can
from services.staff import StaffService
from services.storage.repositories import AuditLog, KeyValueStore
from views import alerts as view
from views.i18n import DEFAULT_LOCALE, pick_locale

log = logging.getLogger(__name__)
S = OrderStatus
T = TypeVar("T")

# More new orders than this in one poll are folded into digests, so the group stays far below
# Telegram's ~20 messages a minute and every order still appears.
INDIVIDUAL_LIMIT = 5
ALERT_CHAT_KEY = "alerts.chat_id"  # set when the group migrated to a supergroup
ALERT_RIGHTS = (Permission.ALERTS_RECEIVE, Permission.ALERTS_OPT_IN)


class AlertSettings(Protocol):
    """What the alert centre reads of the bot's settings."""

    alert_chat_id: int | None
    alert_thread_id: int | None
    low_stock_threshold: int
    quiet_hours: QuietHours | None

    @property
    def tz(self) -> ZoneInfo: ...


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
    def __init__(self, settings: AlertSettings, sender: Sender, i18n: I18n, sources: AlertSources) -> None:
        self._settings = settings
        self._sender = sender
        self._i18n = i18n
        self._cvety, self._crm, self._kv = sources.cvety, sources.crm, sources.kv
        self._audit, self._staff, self._orders = sources.audit, sources.staff, sources.orders
        self.clock: Callable[[], datetime] = lambda: datetime.now(settings.tz)  # tests move time
        self.watch = rules.OrderWatch(sources.cvety, sources.kv)
        self.cards = rules.AlertCards(sources.kv)
        self.low = rules.LowStockWatch(sources.crm, sources.kv, threshold=settings.low_stock_threshold)
        self.nudges = rules.NudgeLog(sources.kv)
        self.summaries = rules.SummaryLog(sources.kv)
        self.subscriptions = rules.Subscriptions(sources.kv)
        self.chat_id: int | None = settings.alert_chat_id  # the group's id now (read only outside)

    # --- plumbing ------------------------------------------------------------------------------

    async def load(self) -> None:
        """The alert chat's current id (a group that became a supergroup has a new one)."""
        migrated = await self._kv.get(ALERT_CHAT_KEY)
        if migrated is not None and self._settings.alert_chat_id is not None:
            self.chat_id = int(migrated)
            self._sender.remember_migration(self._settings.alert_chat_id, self.chat_id)

    async def chat_migrated(self, old: int, new: int) -> None:
        if old == self.chat_id:
            self.chat_id = new
            await self._kv.set(ALERT_CHAT_KEY, new)
            log.warning("alert chat %s became supergroup %s: using the new id", old, new)

    def today(self) -> date:
        return self.clock().astimezone(self._settings.tz).date()

    def quiet(self) -> bool:
        hours = self._settings.quiet_hours
        return hours is not None and hours.contains(self.clock().astimezone(self._settings.tz).time())

    def _say(self, render: Callable[[], T], locale: str = DEFAULT_LOCALE) -> T:
        """render() in `locale` (the group's language by default)."""
        with self._i18n.context(), self._i18n.use_locale(locale):
            return render()

    async def _to_group(self, text: str, **kwargs: Any) -> int | None:
        if self.chat_id is None:
            return None
        thread, quiet = self._settings.alert_thread_id, self.quiet()  # no thread: None, left out
        message = await self._sender.send_message(
            self.chat_id, text, message_thread_id=thread, disable_notification=quiet, **kwargs
        )
        return message.message_id if message is not None else None

    async def _to_people(self, user_ids: Iterable[int], render: Callable[[], str]) -> None:
        for user_id in user_ids:
            member = await self._staff.get_active(user_id)
            if member is not None and not member.unreachable:
                text = self._say(render, pick_locale(member.language))
                await self._sender.send_message(user_id, text, disable_notification=self.quiet())

    async def _subscribed(self, kind: AlertKind) -> list[int]:
        """Subscribers whose role still allows alerts (a florist made courier stops getting them)."""
        members = [
            await self._staff.get_active(user_id) for user_id in await self.subscriptions.subscribers(kind)
        ]
        return [m.telegram_id for m in members if m is not None and any(can(m.role, p) for p in ALERT_RIGHTS)]

    async def _tell(self, render: Callable[[], str], kind: AlertKind, also: Iterable[int] = ()) -> None:
        """The group, then in private who subscribed to `kind` (and `also`), each in their language."""
        people = sorted({*await self._subscribed(kind), *also})
        await self._to_group(self._say(render))
        await self._to_people(people, render)

    async def check_chat(self) -> None:
        """Say clearly in the log, at start, whether alerts can reach the group."""
        if self.chat_id is None:
            log.warning("ALERT_CHAT_ID is not set: new-order and low-stock alerts go to subscribers only")
            return
        ok, reason = await self._sender.can_post(self.chat_id, self._settings.alert_thread_id)
        if ok:
            log.info("alert chat %s: the bot can post there", self.chat_id)
        else:
            log.warning("alert chat %s: the bot cannot post there: %s", self.chat_id, reason)

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
        today, tz = self.today(), self._settings.tz
        single = len(orders) <= INDIVIDUAL_LIMIT  # a card each, with the button to take it
        size = 1 if single else view.DIGEST_SIZE
        for chunk in [orders[start : start + size] for start in range(0, len(orders), size)]:
            if single:
                text, keyboard = self._say(partial(view.new_order_alert, chunk[0], today, tz))
            else:
                text, keyboard = self._say(partial(view.digest_text, chunk, today)), None
            message_id = await self._to_group(text, reply_markup=keyboard)
            if message_id is not None or self.chat_id is None:
                ids = [o.id for o in chunk]
                card = AlertCard(message_id, [] if single else ids) if message_id is not None else None
                await self.watch.announced(dict.fromkeys(ids, card))
        subscribers = await self._subscribed(AlertKind.NEW_ORDERS)
        if single:
            for order in orders:
                await self._to_people(subscribers, partial(view.new_order_card, order, today, tz))
        else:
            await self._to_people(subscribers, partial(view.digest_text, orders[:50], today))

    async def refresh(self, order: Order) -> None:
        """Edit the order's alert to show where it is now, who moved it and when."""
        await self.watch.note_status(order.id, order.status)
        if self.chat_id is None:
            return
        card = await self.cards.get(order.id)
        if card is None:
            return
        today, tz = self.today(), self._settings.tz
        if not card.digest:
            last = await self._last_move(order)
            who = None
            if last is not None and last.actor_id is not None:
                who = (await self._staff.names({last.actor_id})).get(last.actor_id)
            text, keyboard = self._say(partial(view.new_order_alert, order, today, tz, last, who))
        else:
            try:
                page = await self._cvety.list_orders(limit=100)
            except ApiError as exc:
                log.warning("digest refresh skipped: %s", type(exc).__name__)
                return
            by_id = {o.id: o for o in page.items} | {order.id: order}
            orders = [by_id[i] for i in card.digest if i in by_id]
            text, keyboard = self._say(partial(view.digest_text, orders, today)), None
        await self._sender.edit_message_text(self.chat_id, card.message_id, text, reply_markup=keyboard)

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
        for order, nudge in rules.due_nudges(open_orders, self.clock(), self._settings.tz):
            if await self.nudges.sent(order.id, nudge):
                continue
            if nudge is Nudge.ASSEMBLE:
                also = await self._taken_by(order.id)
            else:  # couriers may not sit in the shop's group: each gets the push in private
                also = [
                    m.telegram_id for m in await self._staff.list_all() if m.role == "courier" and m.active
                ]
            await self._tell(partial(view.nudge_text, order, nudge, today), AlertKind.DEADLINES, also)
            await self.nudges.remember(order.id, nudge)

    async def _taken_by(self, order_id: int) -> list[int]:
        """The florist who accepted the order in the bot, if one did."""
        for entry in await self._audit.for_target(f"order:{order_id}"):
            if entry.action == AUDIT_ACTION and entry.after == S.ACCEPTED:
                return [] if entry.actor_id is None else [entry.actor_id]
        return []

    # --- stock and summaries -------------------------------------------------------------------

    async def poll_low_stock(self) -> None:
        poll = await self.low.poll()
        if poll.first_start:
            return
        if poll.newly_low:
            await self._tell(
                partial(view.low_stock_alert, poll.newly_low, self.low.threshold), AlertKind.LOW_STOCK
            )
        await self.low.remember(poll.all_low)  # what was restocked may alert again later

    async def catch_up(self, opening: time, closing: time) -> None:
        """At start: the summary whose time came while the bot was down or restarting."""
        sent = await self.summaries.days()
        now = self.clock().astimezone(self._settings.tz)
        if sent is None:  # the very first start: no summary of a day the bot did not see
            due = rules.missed_summaries(now, opening, closing, dict.fromkeys(Summary))
            await self.summaries.remember(now.date(), *due)
            return
        for summary in rules.missed_summaries(now, opening, closing, sent):
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
        await self._tell(
            partial(view.low_stock_alert, items, self.low.threshold, morning=True), AlertKind.LOW_STOCK
        )
        await self.summaries.remember(self.today(), Summary.MORNING)

    async def evening(self) -> None:
        """At closing: the day in numbers."""
        if await self._summary_given(Summary.EVENING):
            return
        summary = await rules.daily_summary(self._cvety, self._crm, self.today(), self._settings.tz)
        await self._tell(partial(view.summary_text, summary), AlertKind.SUMMARY)
        await self.summaries.remember(self.today(), Summary.EVENING)
