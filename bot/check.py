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

    if isinstance(exc, ApiRejected) and exc.server_message:
        return f"{type(exc).__name__}: {exc.server_message}"
    if isinstance(exc, ApiError):
        return f"{type(exc).__name__}: {exc.message}"
    if isinstance(exc, RuntimeError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


async def run_checks(settings: Settings, *, bot_session: BaseSession | None = None) -> list[CheckResult]:
    try:
        settings.require_bot()
    except SettingsError as exc:
        return [CheckResult("settings", False, problem) for problem in exc.problems]
    results = [CheckResult("settings", True, "demo mode (sandbox)" if settings.demo else "valid")]

    from bot.app import make_bot, resolve_backends
    from services.crm_api import CrmApi
    from services.cvety_api import CvetyApi
    from services.http import make_http_client

    backends = await resolve_backends(settings)
    bot = make_bot(settings, bot_session)
    cvety_http = make_http_client(backends.cvety_url)
    crm_http = make_http_client(backends.crm_url)
    try:

        async def telegram() -> str:
            me = await bot.get_me()
            return f"@{me.username} (id {me.id})"

        async def cvety() -> str:
            shops = await CvetyApi(cvety_http, backends.cvety_token).list_shops()
            if not shops:
                return "reachable, but the token serves no shop"
            return "; ".join(f"shop «{s.name}» (id {s.id}, city {s.city})" for s in shops[:3])

        async def crm() -> str:
            info = await CrmApi(crm_http, backends.crm_token).get_shop_info()
            return f"shop info «{info.name}»"

        async def alert_chat() -> str:
            from runtime.sender import Sender

            assert settings.alert_chat_id is not None
            ok, reason = await Sender(bot).can_post(settings.alert_chat_id, settings.alert_thread_id)
            if not ok:
                raise RuntimeError(reason)
            return f"the bot can post in {settings.alert_chat_id}"

        probes = [_run("telegram", telegram), _run("cvety.kz API", cvety), _run("CRM API", crm)]
        if settings.alert_chat_id is not None:
            probes.append(_run("alert chat", alert_chat))
        results += await asyncio.gather(*probes)
    finally:
        await bot.session.close()
        await cvety_http.aclose()
        await crm_http.aclose()
        await backends.aclose()
    return results
