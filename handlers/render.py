"""Small rendering helpers shared by the routers."""

from __future__ import annotations

import html
import logging
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import Message

log = logging.getLogger(__name__)

TELEGRAM_TEXT_LIMIT = 4096


def esc(value: object) -> str:
    """HTML-escape anything that came from a person or an API before it goes into a message."""
    return html.escape("" if value is None else str(value), quote=False)


def cut(text: str, limit: int) -> str:
    """Cut plain text to `limit` characters with «…» (escape after cutting, never before)."""
    text = text.strip()
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def esc_attr(value: object) -> str:
    """Escape a value for an HTML attribute (a link's href)."""
    return html.escape("" if value is None else str(value), quote=True)


async def edit_or_send(
    bot: Bot,
    message: Message | None = None,
    *,
    chat_id: int | None = None,
    message_id: int | None = None,
    text: str,
    **kwargs: Any,
) -> None:
    """Edit a message in place; «not modified» is success, and a message that can no longer be
    edited is replaced by a new one, so the person always sees the current state."""
    if message is not None:
        chat_id, message_id = message.chat.id, message.message_id
    assert chat_id is not None
    if message_id is not None:
        try:
            await bot.edit_message_text(text=text, chat_id=chat_id, message_id=message_id, **kwargs)
            return
        except TelegramBadRequest as exc:
            if "message is not modified" in exc.message:
                return
            log.info(
                "could not edit message %s in %s (%s): sending a new one", message_id, chat_id, exc.message
            )
    await bot.send_message(chat_id, text, **kwargs)
