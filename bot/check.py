"""`cvety-bot check`: are the settings valid, and do Telegram and both APIs answer?"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import Settings, SettingsError

if TYPE_CHECKING:  # aiogram is imported only when a check runs
    from aiogram.client.session.base import BaseSession

CHECK_TIMEOUT = 25.0


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


async def _run(name: str, probe: Callable[[], Awaitable[str]]) -> CheckResult:
    try:
        detail = await asyncio.wait_for(probe(), CHECK_TIMEOUT)
        return CheckResult(name, True, detail)
    except TimeoutError:
        return CheckResult(name, False, f"no answer in {CHECK_TIMEOUT:.0f} s")
    except Exception as exc:
        return CheckResult(name, False, _describe(exc))


def _describe(exc: Exception) -> str:
    from services.errors import ApiError, ApiRejected

    if isinstance(exc, RuntimeError):  # e.g. why the bot cannot post in the alert chat
        return str(exc)
    detail: object = exc
    if isinstance(exc, ApiError):
        detail = (isinstance(exc, ApiRejected) and exc.server_message) or exc.message
    return f"{type(exc).__name__}: {detail}"


async def run_checks(settings: Settings, *, bot_session: BaseSession | None = None) -> list[CheckResult]:
    try:
        settings.require_bot()
    except SettingsError as exc:
        return [CheckResult("settings", False, problem) for problem in exc.problems]
    results = [CheckResult("settings", True, "demo mode (sandbox)" if settings.demo else "valid")]

    from bot.app import make_bot, open_backends
    from runtime.sender import Sender

    backends = await open_backends(settings)
    bot = make_bot(settings, bot_session)

    async def telegram() -> str:
        me = await bot.get_me()
        return f"@{me.username} (id {me.id})"

    async def cvety() -> str:
        shops = await backends.cvety.list_shops()
        if not shops:
            return "reachable, but the token serves no shop"
        return "; ".join(f"shop «{s.name}» (id {s.id}, city {s.city})" for s in shops[:3])

    async def crm() -> str:
        return f"shop info «{(await backends.crm.get_shop_info()).name}»"

    async def alert_chat() -> str:
        assert settings.alert_chat_id is not None
        ok, reason = await Sender(bot).can_post(settings.alert_chat_id, settings.alert_thread_id)
        if not ok:
            raise RuntimeError(reason)
        return f"the bot can post in {settings.alert_chat_id}"

    probes = [_run("telegram", telegram), _run("cvety.kz API", cvety), _run("CRM API", crm)]
    if settings.alert_chat_id is not None:
        probes.append(_run("alert chat", alert_chat))
    try:
        results += await asyncio.gather(*probes)
    finally:
        await bot.session.close()
        await backends.aclose()
    return results
