"""Small helpers shared by both backends' routes."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


def json_response(payload: Any, status: int = 200) -> web.Response:
    """JSON in UTF-8 with the Russian left as it is (`ensure_ascii=False`), like both servers."""
    return web.Response(
        status=status,
        text=json.dumps(payload, ensure_ascii=False),
        content_type="application/json",
        charset="utf-8",
    )


def parse_bool(value: str | None) -> bool | None:
    """`true/1/yes/Y` -> True, `false/0/no/N` -> False, anything else (or nothing) -> None."""
    if value is None:
        return None
    text = value.strip().lower()
    if text in ("true", "1", "yes", "y", "on"):
        return True
    if text in ("false", "0", "no", "n", "off"):
        return False
    return None


def parse_int(value: str | None, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    """A query number, clamped; a missing or unreadable one gives `default`."""
    number = default
    if value:
        try:
            number = int(value)
        except ValueError:
            number = default
    number = max(minimum, number)
    return min(number, maximum) if maximum is not None else number
