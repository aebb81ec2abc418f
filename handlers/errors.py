"""Last line of defence: any failure becomes a message to the person and one log line."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from handlers.feature import Feature
from services.errors import ApiError, ApiRejected, ApiUnavailable, ApiUnknownOutcome
from services.storage.errors import StorageBusy, StorageError, StorageFull
from views.i18n import DEFAULT_LOCALE
from views.render import esc

log = logging.getLogger(__name__)

feature = Feature("errors")
get_router = feature.router


def explain(error: Exception) -> str:
    """A short Russian explanation of an API or database failure for the person who caused it."""
    if isinstance(error, StorageError):
        return explain_storage(error)
    if isinstance(error, ApiUnknownOutcome):
        return _("Сервер не ответил вовремя, и неизвестно, сохранилось ли изменение. Проверьте и повторите.")
    if isinstance(error, ApiUnavailable):
        return _("Сервер магазина сейчас недоступен. Попробуйте через минуту.")
    if isinstance(error, ApiRejected):
        if error.server_message:
            return _("Сервер отказал: {reason}").format(reason=error.server_message[:300])
        return _("Сервер отказал в запросе.")
    return _("Что-то пошло не так. Попробуйте ещё раз.")


def explain_storage(error: StorageError) -> str:
    """The bot's own database failed: what was being saved was not, and what to do."""
    if isinstance(error, StorageFull):
        return _(
            "Не удалось сохранить: на сервере бота закончилось место. Ничего не сохранено. "
            "Сообщите владельцу и попробуйте ещё раз, когда место освободится."
        )
    if isinstance(error, StorageBusy):
        return _("База данных бота занята, ничего не сохранено. Попробуйте ещё раз через минуту.")
    return _("База данных бота сейчас недоступна, ничего не сохранено. Попробуйте ещё раз через минуту.")


# Errors are no person's action: no `needs` (the update may come from anyone, even mid-refusal).
@feature.on("error", ExceptionTypeFilter(ApiError, StorageError))
async def known_failure(event: ErrorEvent, bot: Bot, i18n: I18n, locale: str = DEFAULT_LOCALE) -> None:
    error = event.exception
    what = "database" if isinstance(error, StorageError) else "API"
    log.warning("%s failure in update %s: %s %s", what, event.update.update_id, type(error).__name__, error)
    await _tell(event, bot, i18n, locale)


@feature.on("error")
async def any_error(event: ErrorEvent, bot: Bot, i18n: I18n, locale: str = DEFAULT_LOCALE) -> None:
    log.error("unhandled error in update %s", event.update.update_id, exc_info=event.exception)
    await _tell(event, bot, i18n, locale)


async def _tell(event: ErrorEvent, bot: Bot, i18n: I18n, locale: str) -> None:
    # Errors are handled outside the access middleware, so its language context is gone.
    with i18n.context(), i18n.use_locale(locale):
        text = explain(event.exception)
    update = event.update
    try:
        if update.callback_query is not None:
            message = update.callback_query.message
            if message is not None:
                await bot.send_message(message.chat.id, esc(text))
        elif update.message is not None:
            await bot.send_message(update.message.chat.id, esc(text))
    except Exception:
        log.warning("could not tell the person about the error", exc_info=True)
