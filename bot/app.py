"""Composition root: builds the bot, the dispatcher, the HTTP clients, the database and the
services once, hands them to handlers as workflow data, and closes them on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as clock_time
from typing import Any

import httpx
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from handlers import get_routers
from handlers.access import AccessMiddleware
from handlers.commands import set_bot_commands
from handlers.context import ContextMiddleware
from runtime.alerts import AlertCenter, AlertSources
from runtime.fsm_storage import SqlStorage
from runtime.inflight import STOP_TIMEOUT, InFlight, InFlightMiddleware
from runtime.jobs import AlertTimes, Leader, SchedulerLease, add_alert_jobs, add_jobs, build_scheduler
from runtime.sender import Sender, SenderMiddleware
from services.alerts import opening_hours
from services.catalog import CatalogService
from services.crm_api import CrmApi
from services.cvety_api import CvetyApi
from services.errors import ApiError
from services.http import make_http_client
from services.inventory import InventoryService, RecentChoices
from services.orders import OrderService
from services.outbox import Outbox
from services.people import ColleagueService, InviteService
from services.profile import ProfileService, ShopService
from services.showcase import ShowcaseService
from services.staff import StaffService
from services.storage.db import create_engine, make_sessionmaker, migrate
from services.storage.repositories import (
    AuditLog,
    FsmRepository,
    Housekeeping,
    KeyValueStore,
    Leases,
    OutboxRepository,
    StaffRepository,
)
from views.i18n import make_i18n

log = logging.getLogger(__name__)


@dataclass
class Backends:
    """Where the two APIs are, after DEMO has been resolved to the in-process sandbox."""

    cvety_url: str
    cvety_token: str
    crm_url: str
    crm_token: str | None
    sandbox: Any = None  # sandbox.Sandbox when DEMO=1
    demo_orders: asyncio.Task[None] | None = None

    async def aclose(self) -> None:
        if self.demo_orders is not None:
            self.demo_orders.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.demo_orders
        if self.sandbox is not None:
            await self.sandbox.close()


DEMO_NEW_ORDER_EVERY = 900.0


async def _demo_orders(running: Any) -> None:
    """In demo mode a new order arrives now and then, so trainees see the shop move."""
    while True:
        await asyncio.sleep(DEMO_NEW_ORDER_EVERY)
        order = running.state.new_order()
        log.info("DEMO: new order %s arrived in the sandbox", order.id)


async def resolve_backends(settings: Settings) -> Backends:
    if settings.demo:
        from sandbox import start_sandbox

        running = await start_sandbox(record_requests=False)
        log.warning("DEMO mode: using the built-in sandbox with demo data at %s", running.origin)
        backends = Backends(running.cvety_url, running.token, running.crm_url, None, running)
        backends.demo_orders = asyncio.create_task(_demo_orders(running))
        return backends
    assert settings.cvety_api_token is not None and settings.crm_api_url is not None  # require_bot()
    crm_token = settings.crm_api_token.get_secret_value() if settings.crm_api_token else None
    return Backends(
        settings.cvety_api_url, settings.cvety_api_token.get_secret_value(), settings.crm_api_url, crm_token
    )


def make_bot(settings: Settings, session: BaseSession | None = None) -> Bot:
    assert settings.bot_token is not None
    if session is None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url, is_local=False))
    return Bot(
        settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


def make_fsm_storage(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> BaseStorage:
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(settings.redis_url)
    return SqlStorage(FsmRepository(sessions))


@dataclass
class Application:
    settings: Settings
    bot: Bot
    dp: Dispatcher
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    backends: Backends
    cvety_http: httpx.AsyncClient
    crm_http: httpx.AsyncClient
    cvety: CvetyApi
    crm: CrmApi
    staff: StaffService
    audit: AuditLog
    kv: KeyValueStore
    orders: OrderService
    inventory: InventoryService
    outbox: Outbox
    alerts: AlertCenter
    sender: Sender
    i18n: I18n
    in_flight: InFlight
    leader: Leader
    _closed: bool = field(default=False, repr=False)

    @property
    def allowed_updates(self) -> list[str]:
        """Updates the handlers use, plus buttons: strangers' callbacks must reach the access
        middleware even before any feature registers a callback handler."""
        return sorted({*self.dp.resolve_used_update_types(), "message", "callback_query"})

    async def drain(self, seconds: float = STOP_TIMEOUT) -> list[str]:
        """Let updates being handled and jobs running finish (a half-sent reply, a status change,
        a card posted but not yet remembered) before the connections close under them; returns
        what was still running when the time ran out."""
        # the poller's tasks, some maybe not yet as far as the in-flight tracking
        handling = getattr(self.dp, "_handle_update_tasks", ())
        return await self.in_flight.wait(seconds, also=list(handling))

    async def stop(self, seconds: float = STOP_TIMEOUT) -> None:
        """A clean stop, once updates no longer come in: no job starts any more, what runs
        finishes (bounded, and the log says what was cut off), then the scheduler lease goes so
        another replica takes the jobs over at once."""
        scheduler = self.dp.workflow_data.pop("scheduler", None)
        if scheduler is not None:
            scheduler.pause()
        running = self.in_flight.running()
        if running:
            log.info("stop: finishing %s", ", ".join(running))
        cut_off = await self.drain(seconds)
        if cut_off:
            log.warning("stop: still running after %ss, cut off: %s", int(seconds), ", ".join(cut_off))
        if scheduler is not None:
            scheduler.shutdown(wait=False)  # cancels what still runs: only what was cut off
        await self.leader.lease.release()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.stop()
        for close in (
            self.dp.storage.close,
            self.bot.session.close,
            self.cvety_http.aclose,
            self.crm_http.aclose,
            self.backends.aclose,
            self.engine.dispose,
        ):
            try:
                await close()
            except Exception:
                log.warning("error while closing %s", close, exc_info=True)


async def build_application(
    settings: Settings,
    *,
    bot_session: BaseSession | None = None,
    api_read_timeout: float = 20.0,
    start_scheduler: bool = True,
    sender_time: tuple[Callable[[], float], Callable[[float], Awaitable[None]]] | None = None,
) -> Application:
    """Everything the bot needs, with the database migrated and OWNER_IDS ensured.

    `api_read_timeout` is the contract's 20 s and `start_scheduler` on: tests shorten the one to
    exercise timeouts and switch the other off to call the jobs themselves; `sender_time` (clock,
    sleep) lets them run the sender's rate limits on virtual time."""
    engine = create_engine(settings.database_url)
    await migrate(engine)
    sessions = make_sessionmaker(engine)
    audit = AuditLog(sessions)
    staff = StaffService(StaffRepository(sessions), audit)
    await staff.ensure_owners(settings.owner_ids)

    backends = await resolve_backends(settings)
    cvety_http = make_http_client(backends.cvety_url, read_timeout=api_read_timeout)
    crm_http = make_http_client(backends.crm_url, read_timeout=api_read_timeout)
    cvety = CvetyApi(cvety_http, backends.cvety_token)
    crm = CrmApi(crm_http, backends.crm_token)
    kv = KeyValueStore(sessions)
    # An order's lease in the database matters only when replicas share it (webhook mode); a
    # polling bot is the only one, and a lease left by a crash would block the order for its TTL.
    order_leases = Leases(sessions) if settings.webhook_url else None
    orders = OrderService(cvety, audit, tz=settings.tz, leases=order_leases)
    inventory = InventoryService(crm, threshold=settings.low_stock_threshold)
    outbox = Outbox(OutboxRepository(sessions), crm, audit=audit)
    i18n = make_i18n()

    bot = make_bot(settings, bot_session)
    staff_repository = StaffRepository(sessions)

    async def migrated(old: int, new: int) -> None:
        await alerts.chat_migrated(old, new)

    clock, sleep = sender_time or (time.monotonic, asyncio.sleep)
    sender = Sender(
        bot, on_unreachable=staff_repository.set_unreachable, on_migrated=migrated, clock=clock, sleep=sleep
    )
    bot.session.middleware(SenderMiddleware(sender))
    alerts = AlertCenter(settings, sender, i18n, AlertSources(cvety, crm, kv, audit, staff, orders))
    orders.on_change(alerts.refresh)
    dp = Dispatcher(
        storage=make_fsm_storage(settings, sessions),
        settings=settings,
        demo=settings.demo,
        cvety=cvety,
        crm=crm,
        staff_service=staff,
        orders=orders,
        inventory=inventory,
        outbox=outbox,
        recent=RecentChoices(kv),
        subscriptions=alerts.subscriptions,
        colleagues=ColleagueService(crm, staff, sessions, audit),
        invites=InviteService(sessions, staff, audit),
        profiles=ProfileService(crm, staff_repository),
        shops=ShopService(crm, cvety),
        catalog=CatalogService(cvety),
        showcase=ShowcaseService(cvety, kv, tz=settings.tz),
        sender=sender,
        audit=audit,
        kv=kv,
        i18n=i18n,
        alert_chat_id=lambda: alerts.chat_id,  # the shop's group now (a migrated group has a new id)
    )
    in_flight = InFlight()
    dp.update.outer_middleware(InFlightMiddleware(in_flight))
    dp.update.outer_middleware(AccessMiddleware(staff, i18n))
    context = ContextMiddleware(settings.tz, orders.today)
    dp.message.middleware(context)
    dp.callback_query.middleware(context)
    dp.include_routers(*get_routers())

    async def on_startup(bot: Bot) -> None:
        try:
            await set_bot_commands(bot, i18n)
        except Exception as exc:  # the menu is a convenience: never a reason not to start
            log.warning("could not set the command menu: %s", exc)

    leader = Leader(SchedulerLease(Leases(sessions)), in_flight)

    async def start_jobs(bot: Bot) -> None:
        await alerts.load()
        await alerts.check_chat()
        if not start_scheduler:
            return
        if settings.webhook_url is None:  # the only replica
            await leader.lease.take_over()
            await outbox.resume()
        opening, closing = await shop_hours(crm)
        scheduler = build_scheduler(settings.timezone)
        add_jobs(scheduler, leader, outbox, (sender, i18n, staff), Housekeeping(sessions))
        times = AlertTimes(settings.new_order_poll_seconds, settings.low_stock_poll_seconds, opening, closing)
        add_alert_jobs(scheduler, alerts, leader, times, datetime.now(settings.tz))
        scheduler.start()
        dp["scheduler"] = scheduler

    dp.startup.register(on_startup)
    dp.startup.register(start_jobs)
    application = Application(
        settings=settings,
        bot=bot,
        dp=dp,
        engine=engine,
        sessions=sessions,
        backends=backends,
        cvety_http=cvety_http,
        crm_http=crm_http,
        cvety=cvety,
        crm=crm,
        staff=staff,
        audit=audit,
        kv=kv,
        orders=orders,
        inventory=inventory,
        outbox=outbox,
        alerts=alerts,
        sender=sender,
        i18n=i18n,
        in_flight=in_flight,
        leader=leader,
    )
    dp.shutdown.register(application.stop)  # before aiogram closes the bot's session
    return application


async def shop_hours(crm: CrmApi) -> tuple[clock_time, clock_time]:
    """Opening and closing time from the shop's info (for the morning and evening summaries)."""
    try:
        info = await crm.get_shop_info()
    except ApiError as exc:
        log.warning(
            "shop hours unknown (%s): summaries at %s and %s", type(exc).__name__, *opening_hours(None)
        )
        return opening_hours(None)
    return opening_hours(info.working_hours)


async def run_polling(settings: Settings) -> None:
    """Long polling until SIGTERM / SIGINT (aiogram stops taking updates on either), then the
    clean stop."""
    app = await build_application(settings)
    try:
        if settings.demo:
            log.warning("DEMO mode is on: orders, stock and colleagues are demo data")
        await app.bot.delete_webhook(drop_pending_updates=False)
        # The poller's next request confirms the updates it got, so a stop repeats none of them.
        await app.dp.start_polling(app.bot, allowed_updates=app.allowed_updates, close_bot_session=False)
    finally:
        await app.aclose()
