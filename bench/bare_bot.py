"""The baseline of `bench.speed`: a bare aiogram 3 bot with nothing but aiogram's defaults.

Long polling, the session aiogram makes by default (AiohttpSession on
`TelegramAPIServer.from_base(TELEGRAM_API_URL, is_local=False)`), HTML parse mode like the real
bot. /start or /orders → a static text with one inline button; the button → the callback answered
and the message edited to another static text with the button again. No database, no APIs, no
middlewares. Env: BOT_TOKEN, TELEGRAM_API_URL, LOG_LEVEL (default WARNING). Run:
`.venv/bin/python -m bench.bare_bot` (`bench.speed` starts it itself).
"""

from __future__ import annotations

import asyncio
import logging
import os

from aiogram import Bot, Dispatcher, F
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

REPLY = "📋 <b>Заказы</b> · Новые"
EDITED = "✍️ <b>Принят</b>"
BUTTON = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Принять", callback_data="press")]])

dp = Dispatcher()


@dp.message(Command("start", "orders"))
async def reply(message: Message) -> None:
    await message.answer(REPLY, reply_markup=BUTTON)


@dp.callback_query(F.data == "press")
async def press(query: CallbackQuery) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(EDITED, reply_markup=BUTTON)


async def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING").upper())
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"], is_local=False))
    bot = Bot(
        os.environ["BOT_TOKEN"], session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML)
    )
    await dp.start_polling(bot)  # aiogram stops on SIGTERM/SIGINT itself


if __name__ == "__main__":
    asyncio.run(main())
