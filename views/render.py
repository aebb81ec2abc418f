"""Small rendering helpers shared by every view: escaping, cutting, buttons, a page of a list."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import TypeVar

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

T = TypeVar("T")

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


def button(text: str, data: str | CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data if isinstance(data, str) else data.pack())


def keyboard(*rows: list[InlineKeyboardButton] | None) -> InlineKeyboardMarkup:
    """Rows of buttons; an empty or None row is left out (a button shown only sometimes)."""
    return InlineKeyboardMarkup(inline_keyboard=[row for row in rows if row])


def page_of(items: Sequence[T], page: int, size: int) -> tuple[Sequence[T], int, int]:
    """The items on `page` (clamped to the pages there are), that page and how many pages."""
    pages = max(1, -(-len(items) // size))
    page = min(max(page, 0), pages - 1)
    return items[page * size : (page + 1) * size], page, pages


def pager(page: int, pages: int, make: Callable[[int], str | CallbackData]) -> list[InlineKeyboardButton]:
    """◀ 2/5 ▶ under a list: `make(page)` is the button data of another page; nothing for one page."""
    if pages <= 1:
        return []
    row = [button("◀", make(page - 1))] if page > 0 else []
    row.append(button(f"{page + 1}/{pages}", make(page)))
    if page < pages - 1:
        row.append(button("▶", make(page + 1)))
    return row
