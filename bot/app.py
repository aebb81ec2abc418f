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
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from handlers import get_routers
from handlers.access import AccessMiddleware
from handlers.commands import set_bot_commands
from handlers.context import ContextMiddleware
from runtime import counters
from runtime.alerts import AlertCenter, AlertSources
from runtime.fsm_storage import SqlStorage
from runtime.inflight import STOP_TIMEOUT, InFlight, InFlightMiddleware
from runtime.jobs import AlertTimes, Leader, SchedulerLease, add_alert_jobs, add_jobs, build_scheduler
from runtime.sender import KeepResponseModels, Sender, SenderMiddleware
from services.alerts import opening_hours
from services.catalog import CatalogService
from services.crm_api import CrmApi
from services.cvety_api import CvetyApi
from services.errors import ApiError
from services.http import make_http_client
from services.inventory import InventoryService, RecentChoices
from services.invoice_photo import InvoiceReader
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
    """Both APIs' clients, after DEMO has been resolved to the in-process sandbox."""

    cvety: CvetyApi
    crm: CrmApi
    http: tuple[httpx.AsyncClient, ...]
    sandbox: Any = None  # sandbox.Sandbox when DEMO=1
    demo_orders: asyncio.Task[None] | None = None

    async def aclose(self) -> None:
        await close_all(*(client.aclose for client in self.http))
        if self.demo_orders is not None:
            self.demo_orders.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.demo_orders
        if self.sandbox is not None:
            await self.sandbox.close()


async def close_all(*closers: Callable[[], Awaitable[Any]]) -> None:
    """Each close is tried whatever the one before it did."""
    for close in closers:
        try:
            await close()
        except Exception:
            log.warning("error while closing %s", close, exc_info=True)


DEMO_NEW_ORDER_EVERY = 900.0
# Who a person is, read on every update, is kept this long: a colleague deactivated on another
# replica or with `cvety-bot staff remove` is refused within it (on this replica at once).
STAFF_CACHE_SECONDS = 5.0


async def _demo_orders(running: Any) -> None:
    """In demo mode a new order arrives now and then, so trainees see the shop move."""
    while True:
        await asyncio.sleep(DEMO_NEW_ORDER_EVERY)
        log.info("DEMO: new order %s arrived in the sandbox", running.state.new_order().id)


async def open_backends(settings: Settings, read_timeout: float = 20.0) -> Backends:
    sandbox = demo_orders = None
    if settings.demo:
        from sandbox import start_sandbox

        sandbox = await start_sandbox(record_requests=False)
        log.warning("DEMO mode: using the built-in sandbox with demo data at %s", sandbox.origin)
        demo_orders = asyncio.create_task(_demo_orders(sandbox))
        cvety_url, cvety_token, crm_url = sandbox.cvety_url, sandbox.token, sandbox.crm_url
        crm_token: str | None = None
    else:
        assert settings.cvety_api_token is not None and settings.crm_api_url is not None  # require_bot()
        cvety_url, cvety_token = settings.cvety_api_url, settings.cvety_api_token.get_secret_value()
        crm_url = settings.crm_api_url
        crm_token = settings.crm_api_token.get_secret_value() if settings.crm_api_token else None
    cvety_http = make_http_client(cvety_url, read_timeout=read_timeout)
    crm_http = make_http_client(crm_url, read_timeout=read_timeout)
    apis = CvetyApi(cvety_http, cvety_token), CrmApi(crm_http, crm_token)
    return Backends(*apis, (cvety_http, crm_http), sandbox, demo_orders)


def make_bot(settings: Settings, session: BaseSession | None = None) -> Bot:
    assert settings.bot_token is not None
    if session is None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url, is_local=False))
    return Bot(
        settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


@dataclass
class Application:
    settings: Settings
    bot: Bot
    dp: Dispatcher
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    backends: Backends
    staff: StaffService
    audit: AuditLog
    kv: KeyValueStore
    outbox: Outbox
    alerts: AlertCenter
    sender: Sender
    i18n: I18n
    leader: Leader
    _closed: bool = field(default=False, repr=False)

    @property
    def cvety(self) -> CvetyApi:
        return self.backends.cvety

    @property
    def crm(self) -> CrmApi:
        return self.backends.crm

    @property
    def allowed_updates(self) -> list[str]:
        """Updates the handlers use, plus buttons: strangers' callbacks must reach the access
        middleware even before any feature registers a callback handler."""
        return sorted({*self.dp.resolve_used_update_types(), "message", "callback_query"})

    async def drain(self, seconds: float = STOP_TIMEOUT) -> list[str]:
        """Let updates and jobs in hand finish (a half-sent reply, a card posted but not yet
        remembered) before the connections close under them; returns what was cut off."""
        # the poller's tasks, some maybe not yet as far as the in-flight tracking
        handling = getattr(self.dp, "_handle_update_tasks", ())
        return await self.leader.in_flight.wait(seconds, also=list(handling))

    async def stop(self, seconds: float = STOP_TIMEOUT) -> None:
        """Once updates no longer come in: no job starts, what runs finishes (bounded), then the
        scheduler lease goes so another replica takes the jobs over at once."""
        scheduler = self.dp.workflow_data.pop("scheduler", None)
        if scheduler is not None:
            scheduler.pause()
        running = self.leader.in_flight.running()
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
        await close_all(
            self.dp.storage.close, self.bot.session.close, self.backends.aclose, self.engine.dispose
        )


def fsm_storage(
    redis_url: str | None, sessions: async_sessionmaker[AsyncSession], *, only_replica: bool
) -> BaseStorage:
    """Where half-entered flows live: Redis when REDIS_URL is set, else the bot's database. Both
    key by bot and person alike, so bots sharing one Redis (staging, production) keep apart. The
    only replica keeps what it read and wrote in memory too."""
    if redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        keys = DefaultKeyBuilder(with_bot_id=True, with_destiny=True)
        return RedisStorage.from_url(redis_url, key_builder=keys)
    return SqlStorage(FsmRepository(sessions, only_writer=only_replica))


async def build_application(
    settings: Settings,
    *,
    bot_session: BaseSession | None = None,
    api_read_timeout: float = 20.0,
    start_scheduler: bool = True,
    sender_time: tuple[Callable[[], float], Callable[[float], Awaitable[None]]] | None = None,
) -> Application:
    """Everything the bot needs, with the database migrated and OWNER_IDS ensured. Tests shorten
    `api_read_timeout` (the contract's 20 s) to exercise timeouts, switch `start_scheduler` off to call
    the jobs themselves, and run the sender's rate limits on virtual time with `sender_time`."""
    engine = create_engine(settings.database_url)
    await migrate(engine)
    sessions = make_sessionmaker(engine)
    audit = AuditLog(sessions)
    staff_repository = StaffRepository(sessions, cache_seconds=STAFF_CACHE_SECONDS)
    staff = StaffService(staff_repository, audit)
    await staff.ensure_owners(settings.owner_ids)

    backends = await open_backends(settings, api_read_timeout)
    cvety, crm = backends.cvety, backends.crm
    kv = KeyValueStore(sessions)
    # An order's lease in the database matters only when replicas share it (webhook mode); a
    # polling bot is the only one, and a lease left by a crash would block the order for its TTL.
    order_leases = Leases(sessions) if settings.webhook_url else None
    orders = OrderService(cvety, audit, tz=settings.tz, leases=order_leases)
    outbox = Outbox(OutboxRepository(sessions), crm, audit=audit)
    i18n = make_i18n()

    bot = make_bot(settings, bot_session)
    clock, sleep = sender_time or (time.monotonic, asyncio.sleep)
    sender = Sender(
        bot,
        on_unreachable=staff_repository.set_unreachable,
        on_migrated=lambda old, new: alerts.chat_migrated(old, new),
        clock=clock,
        sleep=sleep,
    )
    bot.session.middleware(KeepResponseModels())
    bot.session.middleware(SenderMiddleware(sender))
    alerts = AlertCenter(settings, sender, i18n, AlertSources(cvety, crm, kv, audit, staff, orders))
    orders.on_change(alerts.refresh)
    storage = fsm_storage(settings.redis_url, sessions, only_replica=settings.webhook_url is None)
    dp = Dispatcher(
        storage=storage,
        demo=settings.demo,
        cvety=cvety,
        staff_service=staff,
        orders=orders,
        inventory=InventoryService(crm, threshold=settings.low_stock_threshold),
        invoices=InvoiceReader(),
        outbox=outbox,
        recent=RecentChoices(kv),
        subscriptions=alerts.subscriptions,
        colleagues=ColleagueService(crm, staff, sessions, audit),
        invites=InviteService(sessions, staff, audit),
        profiles=ProfileService(crm, staff_repository),
        shops=ShopService(crm, cvety),
        catalog=CatalogService(cvety),
        showcase=ShowcaseService(cvety, kv, tz=settings.tz),
        i18n=i18n,
        alert_chat_id=lambda: alerts.chat_id,  # the shop's group now (a migrated group has a new id)
    )
    if counters.enabled():  # LOG_LEVEL=DEBUG: SQL, API and Bot API calls per update
        counters.install(dp, engine, backends.http, bot)
    leader = Leader(SchedulerLease(Leases(sessions), ttl=settings.scheduler_lease_seconds), InFlight())
    dp.update.outer_middleware(InFlightMiddleware(leader.in_flight))
    dp.update.outer_middleware(AccessMiddleware(staff, i18n))
    context = ContextMiddleware(settings.tz, orders.today)
    dp.message.middleware(context)
    dp.callback_query.middleware(context)
    dp.include_routers(*get_routers())

    @dp.startup()
    async def start_jobs(bot: Bot) -> None:
        try:
            await set_bot_commands(bot, i18n)
        except Exception as exc:  # the menu is a convenience: never a reason not to start
            log.warning("could not set the command menu: %s", exc)
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

    application = Application(
        settings, bot, dp, engine, sessions, backends, staff, audit, kv, outbox, alerts, sender, i18n, leader
    )
    dp.shutdown.register(application.stop)  # before aiogram closes the bot's session
    return application


async def shop_hours(crm: CrmApi) -> tuple[clock_time, clock_time]:
    """Opening and closing time from the shop's info (for the morning and evening summaries)."""
    try:
        return opening_hours((await crm.get_shop_info()).working_hours)
    except ApiError as exc:
        log.warning(
            "shop hours unknown (%s): summaries at %s and %s", type(exc).__name__, *opening_hours(None)
        )
        return opening_hours(None)


async def run_polling(settings: Settings) -> None:
    """Long polling until SIGTERM / SIGINT (aiogram stops taking updates on either), then a clean stop."""
    app = await build_application(settings)
    try:
        if settings.demo:
            log.warning("DEMO mode is on: orders, stock and colleagues are demo data")
        await app.bot.delete_webhook(drop_pending_updates=False)
        # The poller's next request confirms the updates it got, so a stop repeats none of them.
        await app.dp.start_polling(app.bot, allowed_updates=app.allowed_updates, close_bot_session=False)
    finally:
        await app.aclose()
