"""Logging: one line per event on stderr, with every secret redacted from every record."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from urllib.parse import quote

_GENERIC_PATTERNS = [
    # a token in a query string, whichever backend it belongs to
    re.compile(r"(access_token=)[^&\s\"']+", re.IGNORECASE),
    re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+"),
    # Bot API URLs carry the token in the path: /bot123456:AA…/sendMessage
    re.compile(r"(/bot)\d+:[A-Za-z0-9_-]+"),
]
MASK = "***"


class RedactingFilter(logging.Filter):
    """Replaces secrets in the message, its arguments and the traceback of every record.

    Attach it to the handler (not a logger): handler filters see records from every logger,
    including httpx, aiohttp and aiogram, which may print URLs with tokens.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        long_enough = [secret for secret in secrets if len(secret) >= 4]
        variants = {v for secret in long_enough for v in (secret, quote(secret, safe=""), quote(secret))}
        # longest first, so a token is not half-masked by one of its own prefixes
        self._secrets = sorted(variants, key=lambda v: (-len(v), v))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        for pattern in _GENERIC_PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + MASK, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_HANDLER_NAME = "cvety-bot"


class _OneLineFormatter(logging.Formatter):
    """Keeps one event on one line: tracebacks are folded with ' | '."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "").replace("\n", " | ")


def setup_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Configure the root logger; called again, it replaces its own handler."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.name == _HANDLER_NAME]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RedactingFilter(secrets))
    handler.setFormatter(_OneLineFormatter(_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request URL at INFO, query string (and token) included; the others chatter
    for name in ("httpx", "httpcore", "aiosqlite", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
