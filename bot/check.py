"""`cvety-bot check`: are the settings valid, do Telegram and both APIs answer, is the database
reachable and at the migrations' head, and does Redis answer when REDIS_URL is set?"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

    _ = _translator()

    async def database() -> str:
        try:
            revision, heads = await database_revision(settings.database_url)
        except Exception as exc:
            raise RuntimeError(_("не отвечает: {reason}").format(reason=_describe(exc))) from exc
        head = ", ".join(heads)
        if revision is None:
            return _("база ещё пуста: `cvety-bot run` создаст таблицы при запуске")
        if revision == head:
            return _("схема актуальна: ревизия {revision}").format(revision=revision)
        if set(revision.split(", ")) <= set(known_revisions()):
            return _(
                "схема на ревизии {revision}, этот код ждёт {head}: `cvety-bot run` обновит её при запуске"
            ).format(revision=revision, head=head)
        raise RuntimeError(
            _(
                "схема новее этого кода (ревизия {revision}, код знает до {head}): "
                "обновите cvety-bot до версии, которая её знает"
            ).format(revision=revision, head=head)
        )

    async def redis() -> str:
        assert settings.redis_url is not None
        try:
            version = await redis_version(settings.redis_url)
        except Exception as exc:
            raise RuntimeError(_("не отвечает: {reason}").format(reason=_describe(exc))) from exc
        return _("отвечает (Redis {version})").format(version=version)

    async def invoice_photos() -> str:
        from services import ocr

        if not ocr.available():
            raise RuntimeError(
                _("Tesseract не установлен: фото накладных не читаются")
                + " (apt-get install tesseract-ocr tesseract-ocr-rus)"
            )
        return _("фото накладных читаются (Tesseract, языки {languages})").format(languages=ocr.languages())

    probes = [_run("telegram", telegram), _run("cvety.kz API", cvety), _run("CRM API", crm)]
    if settings.alert_chat_id is not None:
        probes.append(_run("alert chat", alert_chat))
    probes.append(_run(_("база данных"), database))
    if settings.redis_url:
        probes.append(_run("Redis", redis))
    probes.append(_run(_("фото накладных"), invoice_photos))
    try:
        results += await asyncio.gather(*probes)
    finally:
        await bot.session.close()
        await backends.aclose()
    hidden = settings.secrets()
    for result in results:  # a driver's message may quote the URL it was given
        for secret in hidden:
            result.detail = result.detail.replace(secret, "***")
    return results


def _translator() -> Any:
    from views.i18n import DEFAULT_LOCALE, make_i18n

    i18n = make_i18n()
    return lambda message: i18n.gettext(message, locale=DEFAULT_LOCALE)


def known_revisions() -> list[str]:
    from alembic.script import ScriptDirectory

    from services.storage.db import MIGRATIONS_DIR

    return [script.revision for script in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()]


async def database_revision(url: str) -> tuple[str | None, tuple[str, ...]]:
    """(the database's Alembic revision, None when it has none yet; the code's head revisions).
    Read only: a SQLite file that does not exist yet is not created."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import make_url

    from services.storage.db import MIGRATIONS_DIR, create_engine

    heads = tuple(sorted(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()))
    if _sqlite_file_missing(make_url(url)):
        return None, heads
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_heads()
            )
    finally:
        await engine.dispose()
    return (", ".join(sorted(current)) or None), heads


def _sqlite_file_missing(url: Any) -> bool:
    if url.get_backend_name() != "sqlite":
        return False
    database = url.database
    return not database or database == ":memory:" or not Path(database).expanduser().exists()


async def redis_version(url: str) -> str:
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        await client.ping()
        info = await client.info("server")
        return str(info.get("redis_version", "?"))
    finally:
        await client.aclose()
