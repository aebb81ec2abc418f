"""Scheduled jobs: module-level functions; what they need is passed in when they are added."""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any

from aiogram.utils.i18n import I18n
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from runtime.alerts import AlertCenter
from runtime.inflight import InFlight
from runtime.sender import Sender
from services.errors import ApiError
from services.outbox import Outbox
from services.staff import StaffService
from services.storage.errors import StorageError
from services.storage.repositories import Housekeeping, Leases
from views.i18n import pick_locale
from views.inventory import outcome_message

log = logging.getLogger(__name__)

OUTBOX_RETRY_SECONDS = 10
LEASE_TTL = timedelta(seconds=45)  # a dead leader is replaced within this; renewed by every job run


class SchedulerLease:
    """With several replicas, exactly one runs the jobs: whoever holds the lease in the database
    (a second replica retrying the outbox could otherwise send one write twice)."""

    NAME = "scheduler"

    def __init__(
        self, leases: Leases, *, ttl: float | None = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._leases = leases
        self._ttl = LEASE_TTL if ttl is None else timedelta(seconds=ttl)
        self._clock = clock or (lambda: datetime.now(UTC))
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.held = False

    async def hold(self) -> bool:
        now = self._clock()
        held = await self._leases.acquire(self.NAME, self.owner, until=now + self._ttl, now=now)
        if held != self.held:
            log.info("scheduled jobs: this replica %s them", "runs" if held else "no longer runs")
        self.held = held
        return held

    async def take_over(self) -> None:
        """Long polling allows one poller per bot, so a polling process is the only replica: a
        lease left by a predecessor that crashed is its own at once, not after the TTL."""
        now = self._clock()
        await self._leases.take(self.NAME, self.owner, until=now + self._ttl)
        self.held = True

    async def release(self) -> None:
        if self.held:
            await self._leases.release(self.NAME, self.owner)
            self.held = False


class Leader:
    """Runs a job only in the replica that holds the lease, in sight of the stop: a deploy lets a
    running job finish instead of cutting it between «posted» and «remembered»."""

    def __init__(self, lease: SchedulerLease, in_flight: InFlight) -> None:
        self.lease = lease
        self.in_flight = in_flight

    async def run(self, job: Callable[..., Awaitable[None]], *args: Any) -> None:
        with self.in_flight.track(f"job {job.__name__}"):
            try:
                if await self.lease.hold():
                    await job(*args)
            except StorageError as exc:  # locked, full or gone: what was not written runs again next time
                log.warning("%s skipped: the bot's database failed: %s", job.__name__, exc.message)


# Who tells a person how their write ended: the sender, the translations, their language.
OutboxTell = tuple[Sender, I18n, StaffService]


async def retry_outbox(outbox: Outbox, sender: Sender, i18n: I18n, staff: StaffService) -> None:
    """Send what the CRM could not take before, and tell each person how it ended."""
    for outcome in await outbox.retry_due():
        if outcome.chat_id is not None:
            member = await staff.get(outcome.created_by) if outcome.created_by else None
            with i18n.context(), i18n.use_locale(pick_locale(member.language if member else None)):
                message = outcome_message(outcome)
            await sender.send_message(outcome.chat_id, **message)
        await outbox.told(outcome.op_id)  # a crash before this tells them twice, never not at all


def _alert_job(name: str, what: str, work: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """work(center, ...) as the job `name`: an API failure skips it with one line; the next run retries."""

    async def job(center: AlertCenter, *args: Any) -> None:
        try:
            await work(center, *args)
        except ApiError as exc:
            log.warning("%s skipped: %s %s", what, type(exc).__name__, exc.message)

    job.__name__ = job.__qualname__ = name
    return job


# new orders once, living cards, deadline nudges
poll_new_orders = _alert_job("poll_new_orders", "new-order poll", AlertCenter.poll_orders)
poll_low_stock = _alert_job("poll_low_stock", "low-stock poll", AlertCenter.poll_low_stock)
morning_summary = _alert_job("morning_summary", "morning summary", AlertCenter.morning)
evening_summary = _alert_job("evening_summary", "daily summary", AlertCenter.evening)
missed_summary = _alert_job("missed_summary", "missed summary", AlertCenter.catch_up)  # (opening, closing)


def schedule(
    scheduler: AsyncIOScheduler, leader: Leader, job: Callable[..., Awaitable[None]], *args: Any, **when: Any
) -> None:
    """`job(*args)` on the trigger `when` names (APScheduler's), run by the leader only; the job's
    name is its id, so a restart replaces it rather than adding a second one."""
    scheduler.add_job(leader.run, id=job.__name__, replace_existing=True, args=[job, *args], **when)


@dataclass(frozen=True)
class AlertTimes:
    """How often the alert polls run (0 switches one off) and the shop's hours for the summaries."""

    new_order_seconds: int
    low_stock_seconds: int
    opening: time
    closing: time


def add_alert_jobs(
    scheduler: AsyncIOScheduler, center: AlertCenter, leader: Leader, times: AlertTimes, now: datetime
) -> None:
    """The first polls run at start, and a summary missed while the bot was down at once."""
    every = partial(schedule, scheduler, leader)
    if times.new_order_seconds > 0:
        every(poll_new_orders, center, trigger="interval", seconds=times.new_order_seconds, next_run_time=now)
    if times.low_stock_seconds > 0:
        every(poll_low_stock, center, trigger="interval", seconds=times.low_stock_seconds, next_run_time=now)
    every(missed_summary, center, times.opening, times.closing, trigger="date", run_date=now)
    every(morning_summary, center, trigger="cron", hour=times.opening.hour, minute=times.opening.minute)
    every(evening_summary, center, trigger="cron", hour=times.closing.hour, minute=times.closing.minute)


KEEP_ALERT_STATE = timedelta(days=30)
KEEP_OUTBOX = timedelta(days=90)  # finished writes; `who did it` in /history needs them a while


async def housekeeping(store: Housekeeping) -> None:
    removed = await store.sweep(datetime.now(UTC), keep_alerts=KEEP_ALERT_STATE, keep_outbox=KEEP_OUTBOX)
    log.info("housekeeping: %s", ", ".join(f"{name} {count}" for name, count in removed.items()))


def build_scheduler(timezone: str) -> AsyncIOScheduler:
    """Created inside the running loop (start hook), never at import time."""
    return AsyncIOScheduler(timezone=timezone, job_defaults={"coalesce": True, "max_instances": 1})


def add_jobs(
    scheduler: AsyncIOScheduler, leader: Leader, outbox: Outbox, tell: OutboxTell, store: Housekeeping
) -> None:
    every = partial(schedule, scheduler, leader)
    now = datetime.now(UTC)
    # what a restart left unfinished goes out at once
    every(retry_outbox, outbox, *tell, trigger="interval", seconds=OUTBOX_RETRY_SECONDS, next_run_time=now)
    every(housekeeping, store, trigger="cron", hour=4, minute=30)
