"""Photos people send (a bouquet, a delivery, wilted stems): fetched from Telegram and checked
before anything is uploaded anywhere."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiogram import Bot
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from services.cvety_api import MAX_IMAGE_BYTES
from services.parsing import sniff_image_type

log = logging.getLogger(__name__)

MAX_PHOTO_BYTES = MAX_IMAGE_BYTES  # what /uploads/images accepts


@dataclass(frozen=True)
class ReceivedImage:
    content: bytes
    filename: str
    content_type: str


async def received_image(message: Message, bot: Bot, *, default_name: str) -> ReceivedImage | None:
    """The image in the message (a photo, or a document that really is a JPEG/PNG/WebP, at most
    10 MB); None after telling the person why not."""
    if message.photo:
        file = message.photo[-1]
        file_id, size, name = file.file_id, file.file_size, default_name
    elif message.document and (message.document.mime_type or "").startswith("image/"):
        document = message.document
        file_id, size, name = document.file_id, document.file_size, document.file_name or default_name
    else:
        await message.answer(_("Это не фото. Пришлите изображение JPEG, PNG или WebP."))
        return None
    if size is not None and size > MAX_PHOTO_BYTES:
        await message.answer(_("Фото больше 10 МБ. Пришлите снимок поменьше."))
        return None
    try:
        downloaded = await bot.download(file_id)
    except Exception as exc:
        log.warning("photo download failed: %s", type(exc).__name__)
        await message.answer(_("Не удалось получить фото от Telegram. Пришлите ещё раз."))
        return None
    content = downloaded.read() if downloaded is not None else b""
    if len(content) > MAX_PHOTO_BYTES:
        await message.answer(_("Фото больше 10 МБ. Пришлите снимок поменьше."))
        return None
    content_type = sniff_image_type(content)
    if content_type is None:  # the name or the declared type says nothing about what is inside
        await message.answer(_("Это не фото. Пришлите изображение JPEG, PNG или WebP."))
        return None
    return ReceivedImage(content, name, content_type)
