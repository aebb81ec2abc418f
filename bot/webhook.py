"""Webhook mode: Telegram posts updates to WEBHOOK_URL; the bot listens behind a reverse proxy.
This is what several replicas need (long polling allows one poller per bot)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiogram.client.session.base import BaseSession
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.app import Application, build_application
from bot.config import Settings

log = logging.getLogger(__name__)


def webhook_secret(bot_token: str) -> str:
    """The header Telegram sends with every update, derived from the token so it needs no setting
    of its own, and cannot be guessed without the token (A-Z, a-z, 0-9, _ and - only)."""
    return hashlib.sha256(f"cvety-bot webhook {bot_token}".encode()).hexdigest()[:64]


@dataclass
class RunningWebhook:
    app: Application
    runner: web.AppRunner
    port: int

    async def close(self) -> None:
        """The same clean stop as polling: no new updates (Telegram keeps what it could not
        deliver and sends it again), the updates and jobs in hand finish, then everything closes."""
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
) -> RunningWebhook:
    assert settings.webhook_url is not None and settings.bot_token is not None
    app = await build_application(settings, bot_session=bot_session, start_scheduler=start_scheduler)
    secret = webhook_secret(settings.bot_token.get_secret_value())
    path = urlsplit(settings.webhook_url).path or "/"
    web_app = web.Application()
    # Answered only once handled: an update cut off by a crash got no 200, so Telegram sends it
    # again (the handlers take a repeat as one: status changes re-read, writes carry op ids).
    SimpleRequestHandler(
        dispatcher=app.dp, bot=app.bot, secret_token=secret, handle_in_background=False
    ).register(web_app, path=path)
    setup_application(web_app, app.dp, bot=app.bot)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()  # emits the dispatcher's startup
    await app.bot.set_webhook(settings.webhook_url, secret_token=secret, allowed_updates=app.allowed_updates)
    log.info("webhook set: %s", settings.webhook_url)
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    log.info("listening on %s:%s%s", host, bound, path)  # from here on updates are taken
    return RunningWebhook(app, runner, bound)


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
