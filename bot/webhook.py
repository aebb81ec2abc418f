"""Webhook mode: Telegram posts updates to WEBHOOK_URL; the bot listens behind a reverse proxy.
This is what several replicas need (long polling allows one poller per bot).

Besides the webhook path it serves, for the proxy / load balancer in front of the replicas:
- `GET /healthz`: the process is up (200, always, until the listener closes);
- `GET /readyz`: this replica can do its work — the database answers `SELECT 1`, Redis answers
  PING when REDIS_URL is set, the Bot API answers getMe — 200, or 503 naming what failed. The
  body names checks and exception types only: never a token, a URL or a password."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiogram.client.session.base import BaseSession
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from sqlalchemy import text

from bot.app import Application, build_application
from bot.config import Settings

log = logging.getLogger(__name__)

READY_TIMEOUT = 3.0  # each readiness check answers within this, or counts as down
TELEGRAM_CHECK_EVERY = 5.0  # getMe at most this often, however often the balancer polls /readyz
# On a stop, /readyz answers 503 first; the listener stays open until the balancer has seen that
# UNREADY_ANSWERS times in a row (haproxy's `fall 3`, Kubernetes' failureThreshold 3), at most
# STOP_GRACE seconds — and not at all when nothing polled /readyz within the last STOP_GRACE
# seconds (a single replica, nginx without active checks): then nobody needs to be told.
UNREADY_ANSWERS = 3
STOP_GRACE = 5.0


def webhook_secret(bot_token: str) -> str:
    """The header Telegram sends with every update, derived from the token so it needs no setting
    of its own, and cannot be guessed without the token (A-Z, a-z, 0-9, _ and - only)."""
    return hashlib.sha256(f"cvety-bot webhook {bot_token}".encode()).hexdigest()[:64]


class Readiness:
    """What /readyz answers. The database and Redis are asked on every poll (one round trip on
    127.0.0.1 or the shop's network); the Bot API at most every `telegram_check_every` seconds —
    a balancer polling every second must not turn into a getMe a second per replica — and
    concurrent polls share one getMe."""

    def __init__(
        self,
        app: Application,
        *,
        timeout: float = READY_TIMEOUT,
        telegram_check_every: float = TELEGRAM_CHECK_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.timeout = timeout
        self.telegram_check_every = telegram_check_every
        self.stopping = asyncio.Event()
        self.unready_answers = 0  # 503s answered since the stop began
        self._clock = clock
        self._last_poll: float | None = None
        self._answered = asyncio.Event()
        self._telegram: tuple[float, str] | None = None  # (checked at, "ok" or why not)
        self._telegram_lock = asyncio.Lock()
        self._failing: dict[str, str] = {}
        self._details: dict[str, str] = {}  # check → the full reason, for the log only
        settings = app.settings
        self._secrets = settings.secrets()

    async def checks(self) -> dict[str, str]:
        """Check name → "ok", or a short reason (an exception type, a timeout) it is not."""
        probes: dict[str, Callable[[], Awaitable[Any]]] = {"database": self._database}
        if self.app.settings.redis_url:
            probes["redis"] = self._redis
        names = list(probes)
        results = await asyncio.gather(*(self._probe(name, probes[name]) for name in names))
        answers = dict(zip(names, results, strict=True))
        answers["telegram"] = await self._telegram_cached()
        self._log_changes(answers)
        return answers

    async def _probe(self, name: str, probe: Callable[[], Awaitable[Any]]) -> str:
        try:
            await asyncio.wait_for(probe(), self.timeout)
        except TimeoutError:
            self._details[name] = answer = f"no answer in {self.timeout:g} s"
            return answer
        except Exception as exc:
            self._details[name] = f"{type(exc).__name__}: {exc}"
            return type(exc).__name__
        return "ok"

    async def _database(self) -> None:
        async with self.app.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def _redis(self) -> None:
        redis = getattr(self.app.dp.storage, "redis", None)  # aiogram's RedisStorage
        if redis is None:
            raise RuntimeError("REDIS_URL is set but the FSM storage is not Redis")
        await redis.ping()

    async def _telegram_cached(self) -> str:
        async with self._telegram_lock:  # polls arriving together wait for one getMe
            now = self._clock()
            if self._telegram is None or now - self._telegram[0] >= self.telegram_check_every:
                answer = await self._probe("telegram", self._get_me)
                self._telegram = (self._clock(), answer)
            return self._telegram[1]

    async def _get_me(self) -> None:
        await self.app.bot.get_me(request_timeout=max(1, int(self.timeout)))

    def _log_changes(self, answers: dict[str, str]) -> None:
        """One line when a check starts or stops failing, not one per poll (redacted)."""
        failing = {name: answer for name, answer in answers.items() if answer != "ok"}
        for name in failing.keys() - self._failing.keys():
            log.warning("not ready: %s: %s", name, self._redact(self._details.get(name, failing[name])))
        for name in self._failing.keys() - failing.keys():
            log.info("ready again: %s answers", name)
        self._failing = failing

    def _redact(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, "***")
        return value[:300]

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        self._last_poll = self._clock()
        if not self.stopping.is_set():
            checks = await self.checks()
            failed = [name for name, answer in checks.items() if answer != "ok"]
            if not self.stopping.is_set():  # (a stop may have begun during the checks)
                if failed:
                    body = {"status": "unready", "failed": failed, "checks": checks}
                    return web.json_response(body, status=503)
                return web.json_response({"status": "ready", "checks": checks})
        self.unready_answers += 1
        if self.unready_answers >= UNREADY_ANSWERS:
            self._answered.set()
        return web.json_response({"status": "stopping"}, status=503)

    async def stop_taking(self, grace: float) -> None:
        """From now on /readyz answers 503; returns once a balancer that polls it has seen that
        UNREADY_ANSWERS times (it stopped sending here), after `grace` seconds at most, or at once
        when nothing polled /readyz lately. Updates that still come meanwhile are handled."""
        self.stopping.set()
        polled = self._last_poll is not None and self._clock() - self._last_poll < grace
        if not polled:
            return
        log.info("stopping: /readyz answers 503, waiting for the balancer to notice")
        try:
            await asyncio.wait_for(self._answered.wait(), grace)
        except TimeoutError:
            log.info("stopping: %s s passed, closing the listener", grace)


@dataclass
class RunningWebhook:
    app: Application
    runner: web.AppRunner
    port: int
    readiness: Readiness
    stop_grace: float = STOP_GRACE

    async def close(self) -> None:
        """The same clean stop as polling: no new updates (Telegram keeps what it could not
        deliver and sends it again), the updates and jobs in hand finish, then everything closes.
        /readyz turns 503 *before* the listener closes (Readiness.stop_taking): the balancer
        takes this replica out while it still answers, so no update meets a closed port."""
        await self.readiness.stop_taking(self.stop_grace)
        for site in list(self.runner.sites):
            await site.stop()
        await self.app.stop()
        await self.runner.cleanup()  # emits the dispatcher's shutdown, closes the handler
        await self.app.aclose()


async def start_webhook(
    settings: Settings,
    *,
    host: str,
    port: int,
    bot_session: BaseSession | None = None,
    start_scheduler: bool = True,
    stop_grace: float = STOP_GRACE,
) -> RunningWebhook:
    assert settings.webhook_url is not None and settings.bot_token is not None
    app = await build_application(settings, bot_session=bot_session, start_scheduler=start_scheduler)
    secret = webhook_secret(settings.bot_token.get_secret_value())
    path = urlsplit(settings.webhook_url).path or "/"
    web_app = web.Application()
    # Answered only once handled (handle_in_background=False; aiogram's default answers 200 at
    # once and handles afterwards): an update cut off by a crash or a kill got no 200, so
    # Telegram sends it again, to whichever replica the proxy picks (the handlers take a repeat
    # as one: status changes re-read, writes carry op ids). The cost: Telegram waits for the
    # handler, and keeps at most max_connections updates in flight per bot.
    SimpleRequestHandler(
        dispatcher=app.dp, bot=app.bot, secret_token=secret, handle_in_background=False
    ).register(web_app, path=path)
    readiness = Readiness(app)
    web_app.router.add_get("/healthz", readiness.healthz)
    web_app.router.add_get("/readyz", readiness.readyz)
    setup_application(web_app, app.dp, bot=app.bot)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()  # emits the dispatcher's startup
    await app.bot.set_webhook(settings.webhook_url, secret_token=secret, allowed_updates=app.allowed_updates)
    log.info("webhook set: %s", settings.webhook_url)
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    log.info("listening on %s:%s%s (and /healthz, /readyz)", host, bound, path)  # updates are taken
    return RunningWebhook(app, runner, bound, readiness, stop_grace)


async def run_webhook(settings: Settings, *, host: str, port: int) -> None:
    running = await start_webhook(settings, host=host, port=port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await stopping.wait()
        log.info("stopping: no new updates, finishing the ones in hand")
    finally:
        await running.close()
