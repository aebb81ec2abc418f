"""Small rendering helpers shared by the routers."""

from __future__ import annotations

import html

TELEGRAM_TEXT_LIMIT = 4096


def esc(value: object) -> str:
    """HTML-escape anything that came from a person or an API before it goes into a message."""
    return html.escape("" if value is None else str(value), quote=False)


def cut(text: str, limit: int) -> str:
    """Cut plain text to `limit` characters with «…» (escape after cutting, never before)."""
    text = text.strip()
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"
