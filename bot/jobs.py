"""Scheduled jobs: module-level functions; what they need is passed in when they are added."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.utils.i18n import I18n
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.i18n import pick_locale
from handlers.inventory import outcome_message
from services.outbox import Outbox
from services.staff import StaffService

log = logging.getLogger(__name__)

OUTBOX_RETRY_SECONDS = 10


async def retry_outbox(outbox: Outbox, bot: Bot, i18n: I18n, staff: StaffService) -> None:
    """Send what the CRM could not take before, and tell each person how it ended."""
    for outcome in await outbox.retry_due():
        if outcome.chat_id is None:
            continue
        member = await staff.get(outcome.created_by) if outcome.created_by else None
        with i18n.context(), i18n.use_locale(pick_locale(member.language if member else None)):
            message = outcome_message(outcome)
        try:
            await bot.send_message(outcome.chat_id, **message)
        except TelegramAPIError as exc:
            log.warning("could not tell chat %s about outbox %s: %s", outcome.chat_id, outcome.op_id, exc)


def build_scheduler(timezone: str) -> AsyncIOScheduler:
    """Created inside the running loop (start hook), never at import time."""
    return AsyncIOScheduler(timezone=timezone, job_defaults={"coalesce": True, "max_instances": 1})


def add_jobs(
    scheduler: AsyncIOScheduler, *, outbox: Outbox, bot: Bot, i18n: I18n, staff: StaffService
) -> None:
    scheduler.add_job(
        retry_outbox,
        "interval",
        seconds=OUTBOX_RETRY_SECONDS,
        id="retry_outbox",
        replace_existing=True,
        args=[outbox, bot, i18n, staff],
    )
