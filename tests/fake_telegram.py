"""A fake Telegram Bot API server for end-to-end tests.

The real aiogram ``Bot`` talks to it over HTTP (``make_bot(fake)``); the test acts as people
(``send_message``, ``send_photo``, ``press_button`` …) and observes what the bot did
(``wait_for``, ``wait_for_message``, ``messages``, ``callback_answers``, ``errors``).

The fake rejects what Telegram rejects, with Telegram's descriptions, so aiogram raises the same
exception classes: invalid HTML, too long texts and captions, bad inline keyboards, edits that
change nothing, double-answered callback queries, unknown chats, blocked users. Every rejection
is recorded in ``fake.errors``: a test should end with ``assert fake.errors == []``.
Failures injected with ``fail_next`` are recorded in ``requests`` but not in ``errors``.

Photos sent by URL are taken as fetched, except the URLs in ``fake.unfetchable_urls`` (what
Telegram cannot download, e.g. a 127.0.0.1 address): sendPhoto and editMessageMedia answer
"failed to get HTTP URL content", sendMediaGroup "failed to send message #<position> with the
error message …", like Telegram; recorded in ``requests`` but not in ``errors``.

Flood limits are opt-in: ``FakeTelegram(flood_limits=True)`` answers 429 with ``retry_after``
like Telegram when sendMessage/sendPhoto/sendDocument/sendMediaGroup/copyMessage go beyond
20 a minute in a group (negative id), 3 in any 3 seconds in a private chat (a burst of 3, then
about 1 a second) or 30 a second overall. Those 429s are recorded in ``requests`` and counted in
``flood_hits`` but not put in ``errors``: meeting a flood limit is not a bug, ignoring the answer
is. ``max_sends_per_window`` tells how many sends reached a chat within any window. Time comes
from ``fake.clock`` (``time.monotonic`` by default): give it ``FakeClock().now`` and give the
bot's side the same clock's ``now``/``sleep`` to test pacing without waiting.

Webhooks: once the bot has called setWebhook, ``deliver_by_webhook(url)`` makes the fake push
updates the way Telegram does instead of answering getUpdates: each update POSTed to ``url``
(the proxy in front of the replicas, standing for the https address the bot registered) with the
secret header, up to ``connections`` at once (Telegram's max_connections: parts of one album
travel side by side), and an update not answered 200 is sent again after a short pause until it
is. ``webhook_attempts`` records (update_id, HTTP status or 0 for no answer) of every attempt.

Deliberate differences from Telegram (stricter, to catch escaping bugs):
  * a bare ``&`` (or an unknown entity such as ``&nbsp;``) in HTML is rejected; Telegram keeps it
    literally. Pass ``FakeTelegram(strict_ampersand=False)`` for Telegram's leniency.
  * numeric/named entities must end with ``;``.

Usage::

    async with FakeTelegram() as fake:
        bot = make_bot(fake)
        dp = Dispatcher(); dp.include_router(build_router())
        async with run_polling(dp, bot):
            await fake.send_message(42, "/start")
            msg = await fake.wait_for_message(42, text_contains="Привет")
        assert fake.errors == []
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import copy
import itertools
import json
import logging
import math
import mimetypes
import re
import struct
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import Update
from aiogram.utils.backoff import BackoffConfig
from aiohttp import web
from pydantic import ValidationError

__all__ = [
    "FAST_BACKOFF",
    "TINY_PNG",
    "ApiCall",
    "FakeClock",
    "FakeTelegram",
    "FastAiohttpSession",
    "HtmlParseError",
    "UploadedFile",
    "make_bot",
    "message_text",
    "parse_html",
    "run_polling",
]

log = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456:TEST-token"
BOT_ID = 123456

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_BUTTONS = 100
MAX_CALLBACK_ANSWER_LENGTH = 200

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CHAT_NOT_FOUND = "Bad Request: chat not found"
BLOCKED = "Forbidden: bot was blocked by the user"
BAD_MARKUP_JSON = "Bad Request: can't parse reply keyboard markup JSON object"
NOT_A_MEMBER = "Forbidden: bot is not a member of the {kind} chat"  # after leaveChat

# Flood limits (flood_limits=True): at most LIMIT successful sends in any PERIOD seconds
FLOOD_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument", "sendmediagroup", "copymessage"})
GROUP_FLOOD = (20, 60.0)
PRIVATE_FLOOD = (3, 3.0)  # a burst of 3, then about one a second
GLOBAL_FLOOD = (30, 1.0)

FAST_BACKOFF = BackoffConfig(min_delay=0.01, max_delay=0.05, factor=1.3, jitter=0)

# Params that arrive as JSON strings and are decoded in ApiCall.params.
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "allowed_updates",
        "commands",
        "entities",
        "caption_entities",
        "media",
        "scope",
        "link_preview_options",
        "reply_parameters",
        "message_ids",
        "menu_button",
        "rights",
        "results",
        "options",
        "permissions",
    }
)
# Telegram's default when allowed_updates was never given.
_NOT_DEFAULT_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_MEDIA_KEYS = ("photo", "document", "video", "audio", "animation", "voice", "video_note", "sticker")
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "web_app",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


# --------------------------------------------------------------------------------------------
# Telegram HTML
# --------------------------------------------------------------------------------------------


class HtmlParseError(ValueError):
    """Text is not valid Telegram HTML; str(e) is what follows "can't parse entities: "."""


_ENTITY_RE = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})|(lt|gt|amp|quot));")
_LENIENT_ENTITY_RE = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})|(lt|gt|amp|quot));?")
_TAG_NAME_RE = re.compile(r"[^\s>]*")
_ATTR_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")
_UNQUOTED_VALUE_RE = re.compile(r"[^\s>]*")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


@dataclass
class _OpenTag:
    name: str
    offset: int  # UTF-16 units
    attrs: dict[str, str]
    language: str | None = None


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def _decode_entity(text: str, pos: int, *, strict: bool) -> tuple[str, int] | None:
    m = (_ENTITY_RE if strict else _LENIENT_ENTITY_RE).match(text, pos)
    if m is None:
        return None
    dec, hexa, named = m.groups()
    if named:
        return _NAMED[named], m.end()
    code = int(dec) if dec else int(hexa, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), m.end()


def _decode_attr(value: str, *, strict: bool, text: str, at: int) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&":
            decoded = _decode_entity(value, i, strict=strict)
            if decoded is None:
                if strict:
                    raise HtmlParseError(_bare_amp(text, at + i))
                out.append("&")
                i += 1
                continue
            out.append(decoded[0])
            i = decoded[1]
            continue
        out.append(value[i])
        i += 1
    return "".join(out)


def _byte_offset(text: str, pos: int) -> int:
    return len(text[:pos].encode("utf-8"))


def _bare_amp(text: str, pos: int) -> str:
    return (
        f'Unescaped "&" at byte offset {_byte_offset(text, pos)}: '
        "only &lt; &gt; &amp; &quot; and &#...; are supported, write &amp;"
    )


def parse_html(text: str, *, strict_ampersand: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into (visible text, entities with UTF-16 offsets) like Telegram does.

    Raises HtmlParseError with a Telegram-like description for unsupported tags, unclosed or
    mis-nested tags, a bare ``<`` and (strict) a bare ``&``.
    """
    out: list[str] = []
    utf16 = 0
    stack: list[_OpenTag] = []
    entities: list[dict[str, Any]] = []
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "&":
            decoded = _decode_entity(text, i, strict=strict_ampersand)
            if decoded is None:
                if strict_ampersand:
                    raise HtmlParseError(_bare_amp(text, i))
                decoded = ("&", i + 1)
            out.append(decoded[0])
            utf16 += _utf16_len(decoded[0])
            i = decoded[1]
            continue
        if c != "<":
            out.append(c)
            utf16 += 2 if ord(c) > 0xFFFF else 1
            i += 1
            continue
        begin = i
        if i + 1 < n and text[i + 1] == "/":
            close = text.find(">", i + 2)
            if close == -1:
                raise HtmlParseError(f"Unclosed end tag at byte offset {_byte_offset(text, begin)}")
            if not stack:
                raise HtmlParseError(f"Unexpected end tag at byte offset {_byte_offset(text, begin)}")
            name = text[i + 2 : close].rstrip().lower()
            top = stack.pop()
            if name != top.name:
                raise HtmlParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                    f'expected "</{top.name}>", found "</{name}>"'
                )
            _close_tag(top, utf16, stack, entities)
            i = close + 1
            continue
        m = _TAG_NAME_RE.match(text, i + 1)
        assert m is not None
        name = m.group().lower()
        j = m.end()
        if j >= n and not name:
            raise HtmlParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        if name not in _TAG_TYPES:
            raise HtmlParseError(f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, begin)}')
        attrs: dict[str, str] = {}
        while True:
            while j < n and text[j].isspace():
                j += 1
            if j >= n:
                raise HtmlParseError(
                    f'Unclosed start tag "{name}" at byte offset {_byte_offset(text, begin)}'
                )
            if text[j] == ">":
                j += 1
                break
            am = _ATTR_NAME_RE.match(text, j)
            if am is None:
                raise HtmlParseError(
                    f'Empty attribute name in the tag "{name}" at byte offset {_byte_offset(text, j)}'
                )
            attr = am.group().lower()
            j = am.end()
            while j < n and text[j].isspace():
                j += 1
            if j < n and text[j] == "=":
                j += 1
                while j < n and text[j].isspace():
                    j += 1
                if j >= n:
                    raise HtmlParseError(
                        f'Unclosed start tag "{name}" at byte offset {_byte_offset(text, begin)}'
                    )
                if text[j] in "'\"":
                    end = text.find(text[j], j + 1)
                    if end == -1:
                        raise HtmlParseError(
                            f'Unclosed start tag "{name}" at byte offset {_byte_offset(text, begin)}'
                        )
                    raw, raw_at, j = text[j + 1 : end], j + 1, end + 1
                else:
                    vm = _UNQUOTED_VALUE_RE.match(text, j)
                    assert vm is not None
                    raw, raw_at, j = vm.group(), j, vm.end()
                attrs[attr] = _decode_attr(raw, strict=strict_ampersand, text=text, at=raw_at)
            elif name == "blockquote" and attr == "expandable":
                attrs[attr] = ""
            else:
                raise HtmlParseError(
                    f'Expected equal sign in declaration of an attribute of the tag "{name}" '
                    f"at byte offset {_byte_offset(text, begin)}"
                )
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise HtmlParseError('Tag "span" must have class "tg-spoiler"')
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            raise HtmlParseError('Tag "tg-emoji" must have attribute "emoji-id"')
        tag = _OpenTag(name, utf16, attrs)
        if name == "code" and attrs.get("class", "").startswith("language-"):
            tag.language = attrs["class"][len("language-") :]
        stack.append(tag)
        i = j
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _close_tag(tag: _OpenTag, end: int, stack: list[_OpenTag], entities: list[dict[str, Any]]) -> None:
    if tag.name == "code" and stack and stack[-1].name == "pre":
        if tag.language:
            stack[-1].language = tag.language
        return
    length = end - tag.offset
    if length <= 0:
        return
    entity: dict[str, Any] = {"type": _TAG_TYPES[tag.name], "offset": tag.offset, "length": length}
    if tag.name == "a":
        url = tag.attrs.get("href", "")
        if not url:
            return
        entity["url"] = url
    elif tag.name == "pre" and tag.language:
        entity["language"] = tag.language
    elif tag.name == "blockquote" and "expandable" in tag.attrs:
        entity["type"] = "expandable_blockquote"
    elif tag.name == "tg-emoji":
        entity["custom_emoji_id"] = tag.attrs["emoji-id"]
    entities.append(entity)


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\x00" + b"\xff\x00\x80" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


TINY_PNG: bytes = _png(2, 2)
"""A valid 2x2 PNG: what a test should send as a photo."""


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) when data looks like an image Telegram would accept, else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return int(w), int(h)
    if data.startswith(b"\xff\xd8\xff"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            seg_len = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(w), int(h)
            i += 2 + seg_len
        return (640, 480)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        w, h = struct.unpack("<HH", data[6:10])
        return int(w), int(h)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return (512, 512)
    if data[:2] == b"BM" and len(data) >= 26:
        w, h = struct.unpack("<ii", data[18:26])
        return abs(int(w)), abs(int(h))
    return None


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass
class UploadedFile:
    """A multipart file part of a request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class ApiCall:
    """One request the bot made. ``params`` holds strings as they arrived, JSON fields decoded."""

    index: int
    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile]
    time: float
    ok: bool | None = None  # None: still running (a long poll) or abandoned by the client
    result: Any = None
    error_code: int | None = None
    description: str | None = None
    injected: bool = False  # the failure came from fail_next (or unfetchable_urls)
    # messages this call created or changed: (chat_id, message_id, visible text at that moment)
    produced: list[tuple[int, int, str]] = field(default_factory=list)

    def param_int(self, key: str) -> int | None:
        value = self.params.get(key)
        if value is None:
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    @property
    def chat_id(self) -> int | str | None:
        value = self.params.get("chat_id")
        if value is None:
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            return str(value)

    def summary(self) -> str:
        parts = []
        for key in ("chat_id", "message_id", "callback_query_id", "text", "caption", "offset"):
            if key in self.params:
                value = str(self.params[key])
                parts.append(f"{key}={value[:70]!r}{'…' if len(value) > 70 else ''}")
        if "reply_markup" in self.params:
            parts.append("reply_markup=…")
        state = (
            "pending"
            if self.ok is None
            else "ok"
            if self.ok
            else f"ERROR {self.error_code} {self.description}"
        )
        return f"#{self.index} {self.method}({', '.join(parts)}) -> {state}"


class _ApiError(Exception):
    def __init__(self, error_code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters


class _FloodError(_ApiError):
    """A 429 from the fake's own flood limits: recorded in requests, not in errors."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


def _bad(description: str) -> _ApiError:
    return _ApiError(
        400, description if description.startswith("Bad Request") else f"Bad Request: {description}"
    )


@dataclass
class _Fault:
    error_code: int
    description: str
    parameters: dict[str, Any] | None
    times: int


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    kind: str  # photo | document | video | audio | animation | voice | sticker
    mime_type: str | None = None
    file_name: str | None = None
    width: int = 0
    height: int = 0
    photo_sizes: list[dict[str, Any]] | None = None  # the whole PhotoSize list this file belongs to


@dataclass
class _Message:
    data: dict[str, Any]  # Telegram-shaped Message
    from_bot: bool
    raw: str | None = None  # text/caption as the bot sent it (before HTML parsing)
    edited: bool = False
    deleted: bool = False


@dataclass
class _Chat:
    id: int
    type: str  # private | group | supergroup
    data: dict[str, Any]  # Telegram Chat object
    is_forum: bool = False
    bot_can_send: bool = True
    bot_kicked: bool = False
    bot_left: bool = False  # the bot left (leaveChat)
    blocked: bool = False
    topics: set[int] | None = None  # forum topic ids; None: any thread id exists
    messages: dict[int, _Message] = field(default_factory=dict)
    next_message_id: int = 1
    reply_keyboard: dict[str, Any] | None = None
    members: dict[int, str] = field(default_factory=dict)  # user id -> status


@dataclass
class _PendingCallback:
    id: str
    user_id: int
    chat_id: int | None
    created: float
    answered: bool = False
    expired: bool = False


def _flood_wait(times: list[float], limit: int, period: float, now: float) -> float:
    """Seconds until one more event fits "at most `limit` in any `period` seconds" (0: now)."""
    recent = [t for t in times if t + period > now]
    if len(recent) < limit:
        return 0.0
    return recent[-limit] + period - now


@dataclass
class HeldAnswer:
    """A call that Telegram carried out and whose answer is withheld (see hold_answer)."""

    method: str
    chat_id: int | None
    text_contains: str | None
    times: int
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    calls: list[ApiCall] = field(default_factory=list)

    def matches(self, call: ApiCall) -> bool:
        if self.chat_id is not None and call.chat_id != self.chat_id:
            return False
        return self.text_contains is None or self.text_contains in str(call.params.get("text", ""))

    async def wait(self, timeout: float = 30.0) -> ApiCall:  # noqa: ASYNC109
        await asyncio.wait_for(self.arrived.wait(), timeout)
        return self.calls[-1]

    def release(self) -> None:
        self.released.set()


def message_text(message: dict[str, Any]) -> str:
    """The visible text of a message: its text, or its caption, or ""."""
    return str(message.get("text") or message.get("caption") or "")


def _markup_buttons(markup: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not markup:
        return []
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------

_RUNNING: dict[str, FakeTelegram] = {}


class FakeTelegram:
    """A Telegram Bot API server on 127.0.0.1 with a random port. See the module docstring."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        strict_ampersand: bool = True,
        callback_query_ttl: float | None = 15.0,
        flood_limits: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.flood_limits = flood_limits
        self.clock = clock  # ApiCall.time, flood windows and callback query age
        self.flood_hits = 0
        self.strict_ampersand = strict_ampersand
        self.callback_query_ttl = callback_query_ttl
        self.bot_user: dict[str, Any] = {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Cvety Bot",
            "username": "cvety_test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.base_url = ""
        self.requests: list[ApiCall] = []
        self.errors: list[ApiCall] = []
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.commands: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] | None = None
        self.webhook_attempts: list[tuple[int, int]] = []
        self._pusher: asyncio.Task[None] | None = None
        self.users: dict[int, dict[str, Any]] = {}
        self.unfetchable_urls: set[str] = set()  # photo URLs Telegram cannot download

        self._chats: dict[int, _Chat] = {}
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._updates: list[dict[str, Any]] = []
        self._allowed_updates: set[str] | None = None
        self._callbacks: dict[str, _PendingCallback] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._held: list[HeldAnswer] = []
        self._sends: list[tuple[float, int]] = []  # (clock time, chat id) of successful FLOOD_METHODS
        self._cursor = 0
        self._update_ids = itertools.count(10_000)
        self._file_seq = itertools.count(1)
        self._callback_seq = itertools.count(1)
        self._poll_generation = 0
        self._closing = False
        self._updates_event = asyncio.Event()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, Callable[[ApiCall], Any]] = {
            "getme": lambda call: dict(self.bot_user),
            "logout": lambda call: True,
            "close": lambda call: True,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_my_commands,
            "deletemycommands": self._delete_my_commands,
            "getmycommands": self._get_my_commands,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "sendmediagroup": self._send_media_group,
            "sendlocation": self._send_location,
            "sendcontact": self._send_contact,
            "sendchataction": self._send_chat_action,
            "editmessagetext": self._edit_message_text,
            "editmessagecaption": self._edit_message_caption,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "editmessagemedia": self._edit_message_media,
            "deletemessage": self._delete_message,
            "deletemessages": self._delete_messages,
            "answercallbackquery": self._answer_callback_query,
            "getfile": self._get_file,
            "getchat": self._get_chat,
            "getchatmember": self._get_chat_member,
            "getchatadministrators": self._get_chat_administrators,
            "getchatmembercount": lambda call: len(self._chat(call).members) + 1,
            "copymessage": self._copy_message,
            "forwardmessage": self._forward_message,
            "pinchatmessage": self._pin_chat_message,
            "unpinchatmessage": lambda call: bool(self._chat(call)),
            "unpinallchatmessages": lambda call: bool(self._chat(call)),
            "setmydescription": lambda call: True,
            "setmyshortdescription": lambda call: True,
            "setmyname": lambda call: True,
            "setchatmenubutton": lambda call: True,
            "setmydefaultadministratorrights": lambda call: True,
            "leavechat": self._leave_chat,
        }

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, shutdown_timeout=0.05, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        _RUNNING[self.base_url] = self

    async def close(self) -> None:
        self._closing = True
        self._updates_event.set()
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
        _RUNNING.pop(self.base_url, None)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---------------------------------------------------------------- people and chats

    def user(
        self,
        user_id: int,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "ru",
        *,
        last_name: str | None = None,
    ) -> dict[str, Any]:
        """Build (or update) and remember a user; their private chat with the bot now exists."""
        assert user_id > 0, "user ids are positive"
        known = self.users.get(user_id)
        if known is None:
            known = {"id": user_id, "is_bot": False, "first_name": first_name or f"Tester{user_id}"}
            if language_code:
                known["language_code"] = language_code
            self.users[user_id] = known
        elif first_name:
            known["first_name"] = first_name
        if username:
            known["username"] = username
        if last_name:
            known["last_name"] = last_name
        chat_data = {"id": user_id, "type": "private", "first_name": known["first_name"]}
        for key in ("last_name", "username"):
            if key in known:
                chat_data[key] = known[key]
        chat = self._chats.get(user_id)
        if chat is None:
            self._chats[user_id] = _Chat(user_id, "private", chat_data)
        else:
            chat.data = chat_data
        return dict(known)

    def add_group(
        self,
        chat_id: int,
        title: str = "Цветы: магазин",
        *,
        bot_can_send: bool = True,
        is_forum: bool = False,
        chat_type: str | None = None,
        members: Iterable[int] | Mapping[int, str] = (),
        topics: Iterable[int] | None = None,
    ) -> dict[str, Any]:
        """Register a group the bot is in (an administrator when bot_can_send); returns the Chat.

        chat_type: "group" | "supergroup" (default: supergroup for -100… ids and forums).
        members: user ids (status "member") or {user id: status} (see set_member).
        topics: a forum's topic ids; sends to any other thread fail with "message thread not
        found" (None: every thread id exists)."""
        assert chat_id < 0, "group ids are negative"
        kind = chat_type or ("supergroup" if chat_id <= -1_000_000_000_000 or is_forum else "group")
        data: dict[str, Any] = {"id": chat_id, "type": kind, "title": title}
        if is_forum:
            data["is_forum"] = True
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = _Chat(chat_id, kind, data)
        chat.data, chat.type, chat.is_forum, chat.bot_can_send = data, kind, is_forum, bot_can_send
        chat.bot_kicked = False
        chat.bot_left = False
        chat.topics = set(topics) if topics is not None else None
        statuses = members if isinstance(members, Mapping) else dict.fromkeys(members, "member")
        for user_id, status in statuses.items():
            self.set_member(chat_id, user_id, status)
        return dict(data)

    def set_member(self, chat_id: int, user_id: int, status: str = "member") -> None:
        """status: creator | administrator | member | restricted | left | kicked."""
        self.user(user_id)
        self._chats[chat_id].members[user_id] = status

    def block(self, user_id: int) -> None:
        """The user blocked the bot: sends to them fail with 403."""
        self.user(user_id)
        self._chats[user_id].blocked = True

    def unblock(self, user_id: int) -> None:
        self._chats[user_id].blocked = False

    def kick_bot(self, chat_id: int) -> None:
        """The bot was removed from the group: sends there fail with 403."""
        self._chats[chat_id].bot_kicked = True

    def left_chats(self) -> list[int]:
        """Chats the bot left with leaveChat, in the order it left them."""
        return [int(c.chat_id) for c in self.calls("leaveChat") if c.ok and isinstance(c.chat_id, int)]

    def bot_status_changed(
        self,
        by: int,
        chat_id: int,
        *,
        new: str = "member",
        old: str = "left",
        title: str | None = None,
        chat_type: str | None = None,
    ) -> dict[str, Any]:
        """`by` changed the bot's status in the chat from `old` to `new` (member, administrator,
        restricted, left, kicked): the chat (a group, supergroup or chat_type="channel") is
        registered and the bot's membership follows; enqueues the my_chat_member update Telegram
        sends and returns it. E.g. someone adds the bot: ``bot_status_changed(user, -100123)``."""
        user = self.users.get(by) or self.user(by)
        chat = self._chats.get(chat_id)
        if chat is None:
            self.add_group(chat_id, title or f"Group {chat_id}", chat_type=chat_type)
            chat = self._chats[chat_id]
        elif title is not None:
            chat.data["title"] = title
        if chat_type is not None and chat.type != "private":
            chat.type = chat.data["type"] = chat_type
        if chat.type != "private":
            chat.members.setdefault(by, "member")
            chat.bot_kicked, chat.bot_left = new == "kicked", new == "left"
            chat.bot_can_send = new != "restricted"
        payload = {
            "chat": dict(chat.data),
            "from": dict(user),
            "date": int(time.time()),
            "old_chat_member": self._bot_member(chat, old),
            "new_chat_member": self._bot_member(chat, new),
        }
        return self._enqueue("my_chat_member", payload)

    def _bot_member(self, chat: _Chat, status: str) -> dict[str, Any]:
        """The bot as a complete ChatMember with this status."""
        if status == "administrator":
            return self._administrator(self.bot_user, chat)
        if status == "restricted":
            return self._restricted(self.bot_user)
        if status == "kicked":
            return {"status": "kicked", "user": dict(self.bot_user), "until_date": 0}
        assert status in ("member", "left"), f"unknown status {status!r}"
        return {"status": status, "user": dict(self.bot_user)}

    # ---------------------------------------------------------------- acting as people

    async def send_message(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """The user writes `text`; a /command gets a bot_command entity. Returns the Message.

        chat_id: default the user's private chat; a negative id is a group (registered on first
        use, or with add_group). chat_type "group"/"supergroup" sets that group's type."""
        fields: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            fields["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]
        return await self.send_custom(
            user_id, fields, chat_id=chat_id, chat_type=chat_type, reply_to_message_id=reply_to_message_id
        )

    async def send_photo(
        self,
        user_id: int,
        data: bytes = TINY_PNG,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        media_group_id: str | None = None,
        chat_type: str = "private",
    ) -> dict[str, Any]:
        """The user sends a photo; its bytes can be downloaded by the bot. Returns the Message."""
        size = _image_size(data) or (800, 600)
        stored = self._store_photo(data, size)
        fields: dict[str, Any] = {"photo": copy.deepcopy(stored.photo_sizes)}
        if caption:
            fields["caption"] = caption
        if media_group_id:
            fields["media_group_id"] = media_group_id
        return await self.send_custom(user_id, fields, chat_id=chat_id, chat_type=chat_type)

    async def send_document(
        self,
        user_id: int,
        data: bytes,
        *,
        file_name: str = "document.pdf",
        mime_type: str | None = None,
        caption: str | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
    ) -> dict[str, Any]:
        """The user sends a file as a document (e.g. a PDF, or an image sent "as file")."""
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        stored = self._store_file(data, "document", mime_type=mime, file_name=file_name)
        fields: dict[str, Any] = {"document": self._document_object(stored)}
        if caption:
            fields["caption"] = caption
        return await self.send_custom(user_id, fields, chat_id=chat_id, chat_type=chat_type)

    async def send_custom(
        self,
        user_id: int,
        fields: dict[str, Any],
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """The user sends a message with arbitrary content fields (contact, location, …)."""
        user = self.user(user_id) if user_id not in self.users else self.users[user_id]
        chat = self._user_chat(user_id, chat_id, chat_type)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat),
            "from": dict(user),
            "chat": dict(chat.data),
            "date": int(time.time()),
            **copy.deepcopy(fields),
        }
        if reply_to_message_id is not None:
            target = chat.messages.get(reply_to_message_id)
            assert target is not None, f"no message {reply_to_message_id} in chat {chat.id}"
            message["reply_to_message"] = self._public(target.data, nested=True)
        chat.messages[message["message_id"]] = _Message(message, from_bot=False)
        self._enqueue("message", message)
        return copy.deepcopy(message)

    async def press_button(
        self,
        user_id: int,
        *,
        text_contains: str,
        message: dict[str, Any] | None = None,
        chat_id: int | None = None,
    ) -> str:
        """Press the inline button whose text contains `text_contains` (in `message`, or in the
        newest bot message of the chat that has one). Returns the callback query id."""
        cid = chat_id if chat_id is not None else (message["chat"]["id"] if message else user_id)
        chat = self._chats.get(cid)
        assert chat is not None, f"chat {cid} does not exist"
        if message is not None:
            current = chat.messages.get(message["message_id"])
            assert current is not None and not current.deleted, f"message {message['message_id']} is gone"
            candidates = [current]
        else:
            candidates = [m for m in reversed(chat.messages.values()) if m.from_bot and not m.deleted]
        for stored in candidates:
            for button in _markup_buttons(stored.data.get("reply_markup")):
                if text_contains in button.get("text", ""):
                    assert "callback_data" in button, f"button {button} is not a callback button"
                    return self._enqueue_callback(user_id, chat, stored, button["callback_data"])
        available = [
            (m.data["message_id"], b.get("text"), b.get("callback_data") or b.get("url"))
            for m in candidates
            for b in _markup_buttons(m.data.get("reply_markup"))
        ]
        raise AssertionError(
            f"no inline button containing {text_contains!r} in chat {cid}; "
            f"available (message_id, text, data): {available}"
        )

    async def press_callback_data(self, user_id: int, data: str, *, message: dict[str, Any]) -> str:
        """A callback query with arbitrary (possibly forged) data on `message`."""
        chat = self._chats[message["chat"]["id"]]
        stored = chat.messages.get(message["message_id"])
        assert stored is not None, f"message {message['message_id']} does not exist"
        return self._enqueue_callback(user_id, chat, stored, data)

    async def press_on_inaccessible(self, user_id: int, data: str, *, chat_id: int, message_id: int) -> str:
        """A callback query on a message the bot can no longer access (e.g. older than 48 hours):
        Telegram sends an InaccessibleMessage (chat, message_id, date 0) instead of the message."""
        chat = self._chats[chat_id]
        user = self.users.get(user_id) or self.user(user_id)
        query_id = str(4_000_000_000_000_000 + next(self._callback_seq) * 7_919)
        query = {
            "id": query_id,
            "from": dict(user),
            "chat_instance": str(abs(chat.id) * 7_919 + 1_234_567),
            "message": {"chat": dict(chat.data), "message_id": message_id, "date": 0},
            "data": data,
        }
        self._callbacks[query_id] = _PendingCallback(query_id, user_id, chat.id, self.clock())
        self._enqueue("callback_query", query)
        return query_id

    def delete_message(self, chat_id: int, message_id: int) -> None:
        """Someone deleted the message (the person in private, an admin in a group): edits and
        deletes of it fail as in Telegram."""
        self._chats[chat_id].messages[message_id].deleted = True

    def expire_callback(self, query_id: str) -> None:
        """Make the callback query too old to answer."""
        self._callbacks[query_id].expired = True

    def enqueue_update(self, update_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Escape hatch: enqueue any update (validated by aiogram's Update model)."""
        return self._enqueue(update_type, payload)

    # ---------------------------------------------------------------- observing the bot

    async def wait_for(
        self,
        method: str | tuple[str, ...],
        predicate: Callable[[ApiCall], bool] | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - the API the tests use
        after: int | None = None,
    ) -> ApiCall:
        """The first finished call of `method` (index >= after; default: since the last user
        action) for which `predicate` holds. Failed calls match too: check ``call.ok``."""
        methods = {method.lower()} if isinstance(method, str) else {m.lower() for m in method}
        start = self._cursor if after is None else after

        def find() -> ApiCall | None:
            for call in self.requests[start:]:
                name = call.method.lower()
                if name not in methods or (call.ok is None and name != "getupdates"):
                    continue
                if predicate is None or predicate(call):
                    return call
            return None

        async with self._changed:
            try:
                async with asyncio.timeout(timeout):
                    await self._changed.wait_for(lambda: find() is not None)
            except TimeoutError:
                seen = [c.summary() for c in self.requests[start:] if c.method.lower() != "getupdates"]
                raise AssertionError(
                    f"no {'/'.join(sorted(methods))} call{' matching the predicate' if predicate else ''} "
                    f"within {timeout}s after #{start}; calls since then: "
                    + ("\n  " + "\n  ".join(seen) if seen else "none")
                ) from None
        found = find()
        assert found is not None
        return found

    async def wait_for_message(
        self,
        chat_id: int,
        *,
        text_contains: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
        after: int | None = None,
    ) -> dict[str, Any]:
        """A message the bot sent or edited in the chat (since the last user action) whose text or
        caption contains `text_contains`. Returns the message's current state (see messages())."""

        def matches(produced: tuple[int, int, str]) -> bool:
            cid, _, text = produced
            return cid == chat_id and (text_contains is None or text_contains in text)

        methods = (
            "sendMessage",
            "sendPhoto",
            "sendDocument",
            "sendMediaGroup",
            "sendLocation",
            "sendContact",
            "editMessageText",
            "editMessageCaption",
            "editMessageReplyMarkup",
            "editMessageMedia",
            "copyMessage",
            "forwardMessage",
        )
        call = await self.wait_for(
            methods, lambda c: bool(c.ok) and any(map(matches, c.produced)), timeout=timeout, after=after
        )
        _, mid, _ = next(p for p in call.produced if matches(p))
        return self._view(self._chats[chat_id].messages[mid])

    def messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages in the chat, oldest first, current state. Besides Telegram's
        fields: ``edited`` (bool) and ``raw`` (text/caption as the bot sent it)."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        return [self._view(m) for m in chat.messages.values() if m.from_bot and not m.deleted]

    def last_message(self, chat_id: int) -> dict[str, Any]:
        found = self.messages(chat_id)
        assert found, f"the bot has no messages in chat {chat_id}"
        return found[-1]

    def deleted_messages(self, chat_id: int) -> list[dict[str, Any]]:
        chat = self._chats.get(chat_id)
        return [self._view(m) for m in chat.messages.values() if m.deleted] if chat else []

    def reply_keyboard(self, chat_id: int) -> dict[str, Any] | None:
        """The reply keyboard the bot last set in the chat (None after remove_keyboard)."""
        chat = self._chats.get(chat_id)
        return copy.deepcopy(chat.reply_keyboard) if chat else None

    def buttons(self, message: dict[str, Any]) -> list[tuple[str, str]]:
        """(text, callback_data or url or other action) of each inline button, row by row."""
        result = []
        for button in _markup_buttons(message.get("reply_markup")):
            action = next((button[k] for k in _BUTTON_ACTIONS if k in button), "")
            result.append(
                (str(button.get("text", "")), action if isinstance(action, str) else json.dumps(action))
            )
        return result

    def file_bytes(self, file_id: str) -> bytes:
        return self._files[file_id].data

    def calls(self, method: str) -> list[ApiCall]:
        return [c for c in self.requests if c.method.lower() == method.lower()]

    def max_sends_per_window(self, chat_id: int, window: float = 60.0) -> int:
        """The most successful sends (sendMessage, sendPhoto, sendDocument, sendMediaGroup,
        copyMessage) that reached the chat within any `window` seconds of ``fake.clock``."""
        times = sorted(t for t, c in self._sends if c == chat_id)
        # a window starting at each send: [t, t + window), like the flood limits count
        return max((bisect.bisect_left(times, t + window) - i for i, t in enumerate(times)), default=0)

    @property
    def newest_unconfirmed_update(self) -> int | None:
        """The id of the newest update the bot may get and has not confirmed yet (a getUpdates
        with a higher offset confirms it); None when it has confirmed every one."""
        deliverable = self._deliverable(len(self._updates) or 1)
        return int(deliverable[-1]["update_id"]) if deliverable else None

    @property
    def cursor(self) -> int:
        """Index of the first call after the last user action (the default `after`)."""
        return self._cursor

    def fail_next(
        self,
        method: str,
        *,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` fail with this error (before any validation)."""
        parameters: dict[str, Any] = {}
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
        self._faults.setdefault(method.lower(), deque()).append(
            _Fault(error_code, description, parameters or None, times)
        )

    def hold_answer(
        self, method: str, *, chat_id: int | None = None, text_contains: str | None = None, times: int = 1
    ) -> HeldAnswer:
        """The next `times` successful calls of `method` (to `chat_id`) are done — a message is
        posted — but their answer is withheld until `release()`: the moment between Telegram
        doing a thing and the bot learning that it did (to stop or kill the bot right there)."""
        held = HeldAnswer(method.lower(), chat_id, text_contains, times)
        self._held.append(held)
        return held

    async def _hold_answer(self, method: str, call: ApiCall) -> None:
        for held in self._held:
            if held.method == method.lower() and held.times > 0 and held.matches(call):
                held.times -= 1
                held.calls.append(call)
                held.arrived.set()
                await held.released.wait()
                return

    # ---------------------------------------------------------------- HTTP

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _read_params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
        params: dict[str, Any] = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                for key, value in body.items():
                    params[key] = value if isinstance(value, str) else json.dumps(value)
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = UploadedFile(value.filename, value.content_type, value.file.read())
                    else:
                        params[key] = value
        for key in JSON_FIELDS & params.keys():
            with contextlib.suppress(ValueError, TypeError):
                params[key] = json.loads(params[key])
        return params, files

    async def _handle_api(self, request: web.Request) -> web.Response:
        params, files = await self._read_params(request)
        method = request.match_info["method"]
        call = ApiCall(len(self.requests), method, params, files, self.clock())
        self.requests.append(call)
        status, body = 200, {}
        try:
            if request.match_info["token"] != self.token:
                raise _ApiError(401, "Unauthorized")
            fault = self._take_fault(method)
            if fault is not None:
                call.injected = True
                raise _ApiError(fault.error_code, fault.description, fault.parameters)
            counted = call.chat_id if method.lower() in FLOOD_METHODS else None
            if isinstance(counted, int) and self.flood_limits:
                self._check_flood(counted, call.time)
            if method.lower() == "getupdates":
                await self._notify()
                result = await self._get_updates(call, request)
            else:
                handler = self._methods.get(method.lower())
                if handler is None:
                    raise _ApiError(404, "Not Found: method not found")
                result = handler(call)
                if isinstance(counted, int):
                    self._sends.append((call.time, counted))
            call.ok, call.result = True, result
            body = {"ok": True, "result": result}
            await self._hold_answer(method, call)
        except _ApiError as e:
            call.ok, call.error_code, call.description = False, e.error_code, e.description
            if not call.injected and not isinstance(e, _FloodError):
                self.errors.append(call)
            status = e.error_code
            body = {"ok": False, "error_code": e.error_code, "description": e.description}
            if e.parameters:
                body["parameters"] = e.parameters
        except asyncio.CancelledError:
            call.description = "abandoned by the client"
            raise
        except Exception as e:
            log.exception("fake telegram: %s failed", method)
            call.ok, call.error_code, call.description = False, 500, f"Internal Server Error: fake: {e!r}"
            self.errors.append(call)
            status, body = 500, {"ok": False, "error_code": 500, "description": call.description}
        await self._notify()
        return web.json_response(body, status=status)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    def _check_flood(self, chat_id: int, now: float) -> None:
        """Raise a 429 when this send would go beyond a limit, with Telegram's retry_after:
        whole seconds until the oldest send in the full window leaves it."""
        waits = [
            _flood_wait([t for t, _ in self._sends], *GLOBAL_FLOOD, now),
            _flood_wait(
                [t for t, c in self._sends if c == chat_id],
                *(GROUP_FLOOD if chat_id < 0 else PRIVATE_FLOOD),
                now,
            ),
        ]
        if max(waits) > 0:
            self.flood_hits += 1
            raise _FloodError(max(1, math.ceil(max(waits))))

    def _take_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method.lower())
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return fault

    # ---------------------------------------------------------------- updates

    def _enqueue(self, update_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), update_type: payload}
        try:
            Update.model_validate(update)
        except ValidationError as e:  # an invalid update would block aiogram's queue forever
            raise AssertionError(f"the fake built an invalid update: {e}") from e
        self._updates.append(update)
        self._updates_event.set()
        self._cursor = len(self.requests)
        return update

    def _enqueue_callback(self, user_id: int, chat: _Chat, stored: _Message, data: str) -> str:
        user = self.users.get(user_id) or self.user(user_id)
        query_id = str(4_000_000_000_000_000 + next(self._callback_seq) * 7_919)
        query = {
            "id": query_id,
            "from": dict(user),
            "chat_instance": str(abs(chat.id) * 7_919 + 1_234_567),
            "message": self._public(stored.data),
            "data": data,
        }
        self._callbacks[query_id] = _PendingCallback(query_id, user_id, chat.id, self.clock())
        self._enqueue("callback_query", query)
        return query_id

    def _deliverable(self, limit: int) -> list[dict[str, Any]]:
        result = []
        for update in self._updates:
            kind = next(k for k in update if k != "update_id")
            allowed = (
                kind not in _NOT_DEFAULT_UPDATES
                if self._allowed_updates is None
                else kind in self._allowed_updates
            )
            if allowed:
                result.append(update)
                if len(result) >= limit:
                    break
        return result

    async def _get_updates(self, call: ApiCall, request: web.Request) -> list[dict[str, Any]]:
        if self.webhook:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = call.param_int("offset") or 0
        limit = min(max(call.param_int("limit") or 100, 1), 100)
        timeout = max(call.param_int("timeout") or 0, 0)
        allowed = call.params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = set(allowed) if allowed else None
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_event.set()  # wake an older long poll: it ends (conflict or abandoned)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if generation != self._poll_generation:
                transport = request.transport
                if transport is None or transport.is_closing():
                    return []  # its client went away: nobody reads this answer
                raise _ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            ready = self._deliverable(limit)
            remaining = deadline - asyncio.get_running_loop().time()
            if ready or self._closing or remaining <= 0:
                return copy.deepcopy(ready)
            self._updates_event.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._updates_event.wait()

    def deliver_by_webhook(self, url: str, *, connections: int = 40, retry_after: float = 0.2) -> None:
        """Push updates to `url` from now on, as Telegram does for a bot with a webhook."""
        assert self._pusher is None, "already delivering"
        self._pusher = asyncio.create_task(self._push(url, connections, retry_after))

    def webhook_delivered(self) -> list[int]:
        """Update ids the webhook answered 200, in the order it answered."""
        return [update_id for update_id, status in self.webhook_attempts if status == 200]

    async def wait_webhook_delivered(self, count: int, timeout: float = 30.0) -> list[int]:  # noqa: ASYNC109
        """Once `count` updates in all were answered 200: their ids."""
        async with self._changed, asyncio.timeout(timeout):
            await self._changed.wait_for(lambda: len(self.webhook_delivered()) >= count)
        return self.webhook_delivered()

    async def _push(self, url: str, connections: int, retry_after: float) -> None:
        import aiohttp

        sending: set[int] = set()
        slots = asyncio.Semaphore(connections)
        timeout = aiohttp.ClientTimeout(total=60)

        async def push_one(http: aiohttp.ClientSession, update: dict[str, Any]) -> None:
            update_id = update["update_id"]
            headers = {"X-Telegram-Bot-Api-Secret-Token": str((self.webhook or {}).get("secret_token", ""))}
            try:
                async with slots:
                    try:
                        async with http.post(url, json=update, headers=headers) as answer:
                            status = answer.status
                    except (aiohttp.ClientError, TimeoutError):
                        status = 0  # no answer: a replica that died or a proxy that gave up
                self.webhook_attempts.append((update_id, status))
                if status == 200:
                    self._updates = [u for u in self._updates if u["update_id"] != update_id]
                    await self._notify()
                    return
                await asyncio.sleep(retry_after)  # Telegram waits before it sends an update again
            finally:
                sending.discard(update_id)
                self._updates_event.set()

        async with aiohttp.ClientSession(timeout=timeout) as http:
            tasks: set[asyncio.Task[None]] = set()
            while not self._closing:
                self._updates_event.clear()
                if self.webhook:
                    for update in self._deliverable(100):
                        if update["update_id"] not in sending:
                            sending.add(update["update_id"])
                            task = asyncio.create_task(push_one(http, copy.deepcopy(update)))
                            tasks.add(task)
                            task.add_done_callback(tasks.discard)
                await self._updates_event.wait()
            for task in list(tasks):
                task.cancel()

    def _set_webhook(self, call: ApiCall) -> bool:
        url = call.params.get("url") or ""
        self.webhook = dict(call.params) if url else None
        allowed = call.params.get("allowed_updates")
        if url and isinstance(allowed, list):
            self._allowed_updates = set(allowed) if allowed else None
        if url and call.params.get("drop_pending_updates") == "true":
            self._updates.clear()
        return True

    def _delete_webhook(self, call: ApiCall) -> bool:
        self.webhook = None
        if call.params.get("drop_pending_updates") == "true":
            self._updates.clear()
        return True

    def _get_webhook_info(self, call: ApiCall) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        return info

    # ---------------------------------------------------------------- commands

    @staticmethod
    def _scope_key(call: ApiCall) -> tuple[str, str | None]:
        scope = call.params.get("scope")
        if isinstance(scope, str) or (scope is not None and not isinstance(scope, dict)):
            raise _bad("can't parse BotCommandScope JSON object")
        scope = scope or {"type": "default"}
        key = str(scope.get("type", "default"))
        if "chat_id" in scope:
            key += f":{scope['chat_id']}"
        if "user_id" in scope:
            key += f":{scope['user_id']}"
        return key, call.params.get("language_code") or None

    def _set_my_commands(self, call: ApiCall) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict) or not re.fullmatch(
                r"[a-z0-9_]{1,32}", str(command.get("command"))
            ):
                raise _bad("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._scope_key(call)
        if commands:
            self.commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        else:
            self.commands.pop(key, None)
        return True

    def _delete_my_commands(self, call: ApiCall) -> bool:
        self.commands.pop(self._scope_key(call), None)
        return True

    def _get_my_commands(self, call: ApiCall) -> list[dict[str, Any]]:
        return copy.deepcopy(self.commands.get(self._scope_key(call), []))

    # ---------------------------------------------------------------- chats

    def _user_chat(self, user_id: int, chat_id: int | None, chat_type: str) -> _Chat:
        cid = user_id if chat_id is None else chat_id
        chat = self._chats.get(cid)
        if chat is None:
            assert cid < 0, f"a user cannot write in chat {cid}"
            kind = chat_type if chat_type in ("group", "supergroup") else None
            self.add_group(cid, f"Group {cid}", chat_type=kind)
            chat = self._chats[cid]
        if chat.type != "private":
            if chat_type in ("group", "supergroup") and chat_type != chat.type:
                # an explicit chat_type wins over the one guessed when the group was added
                chat.type = chat.data["type"] = chat_type
                if chat_type == "group":
                    chat.is_forum = False
                    chat.data.pop("is_forum", None)
            chat.members.setdefault(user_id, "member")
        return chat

    def _chat(self, call: ApiCall, key: str = "chat_id", *, sending: bool = False) -> _Chat:
        raw = call.params.get(key)
        if raw in (None, ""):
            raise _bad(f"{key} is empty")
        chat: _Chat | None
        try:
            chat = self._chats.get(int(raw))
        except (TypeError, ValueError):
            name = str(raw).removeprefix("@")
            chat = next((c for c in self._chats.values() if c.data.get("username") == name), None)
        if chat is None:
            raise _ApiError(400, CHAT_NOT_FOUND)
        if sending:
            if chat.type == "private" and chat.blocked:
                raise _ApiError(403, BLOCKED)
            if chat.type != "private" and chat.bot_kicked:
                raise _ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
            if chat.type != "private" and chat.bot_left:
                raise _ApiError(403, NOT_A_MEMBER.format(kind=chat.type))
        return chat

    def _check_rights(self, chat: _Chat, what: str) -> None:
        if chat.type != "private" and not chat.bot_can_send:
            raise _bad(f"not enough rights to send {what} to the chat")

    def _get_chat(self, call: ApiCall) -> dict[str, Any]:
        chat = self._chat(call)
        info = dict(chat.data)
        info.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return info

    def _member(self, chat: _Chat, user_id: int) -> dict[str, Any]:
        if user_id == BOT_ID:
            if chat.type == "private":
                return {"status": "member", "user": dict(self.bot_user)}
            if chat.bot_kicked:
                return {"status": "kicked", "user": dict(self.bot_user), "until_date": 0}
            if chat.bot_left:
                return {"status": "left", "user": dict(self.bot_user)}
            if chat.bot_can_send:
                return self._administrator(self.bot_user, chat)
            return self._restricted(self.bot_user)
        user = self.users.get(user_id)
        if user is None:
            raise _bad("user not found")
        if chat.type == "private":
            if user_id != chat.id:
                raise _bad("user not found")
            return {"status": "member", "user": dict(user)}
        status = chat.members.get(user_id, "left")
        if status == "administrator":
            return self._administrator(user, chat, can_be_edited=False)
        if status == "creator":
            return {"status": "creator", "user": dict(user), "is_anonymous": False}
        if status == "restricted":
            return self._restricted(user)
        if status == "kicked":
            return {"status": "kicked", "user": dict(user), "until_date": 0}
        return {"status": status, "user": dict(user)}

    @staticmethod
    def _administrator(user: dict[str, Any], chat: _Chat, *, can_be_edited: bool = False) -> dict[str, Any]:
        member: dict[str, Any] = {
            "status": "administrator",
            "user": dict(user),
            "can_be_edited": can_be_edited,
        }
        for right in (
            "is_anonymous",
            "can_restrict_members",
            "can_promote_members",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
        ):
            member[right] = False
        for right in (
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_change_info",
            "can_invite_users",
            "can_send_welcome_messages",
            "can_post_messages",
            "can_edit_messages",
            "can_pin_messages",
        ):
            member[right] = True
        if chat.is_forum:
            member["can_manage_topics"] = True
        return member

    @staticmethod
    def _restricted(user: dict[str, Any]) -> dict[str, Any]:
        member: dict[str, Any] = {
            "status": "restricted",
            "user": dict(user),
            "is_member": True,
            "until_date": 0,
        }
        for right in (
            "can_send_messages",
            "can_send_audios",
            "can_send_documents",
            "can_send_photos",
            "can_send_videos",
            "can_send_video_notes",
            "can_send_voice_notes",
            "can_send_polls",
            "can_send_other_messages",
            "can_add_web_page_previews",
            "can_react_to_messages",
            "can_edit_tag",
            "can_change_info",
            "can_invite_users",
            "can_pin_messages",
            "can_manage_topics",
        ):
            member[right] = False
        return member

    def _get_chat_member(self, call: ApiCall) -> dict[str, Any]:
        chat = self._chat(call)
        user_id = call.param_int("user_id")
        if user_id is None:
            raise _bad("user_id is empty" if "user_id" not in call.params else "invalid user_id specified")
        return self._member(chat, user_id)

    def _leave_chat(self, call: ApiCall) -> bool:
        chat = self._chat(call)
        if chat.type == "private":
            raise _bad("chat member status can't be changed in private chats")
        if chat.bot_left or chat.bot_kicked:
            raise _ApiError(403, NOT_A_MEMBER.format(kind=chat.type))
        chat.bot_left = True
        return True

    def _get_chat_administrators(self, call: ApiCall) -> list[dict[str, Any]]:
        chat = self._chat(call)
        if chat.type == "private":
            raise _bad("there are no administrators in the private chat")
        admins = [
            self._member(chat, uid)
            for uid, status in chat.members.items()
            if status in ("creator", "administrator")
        ]
        if chat.bot_can_send and not chat.bot_kicked and not chat.bot_left:
            admins.append(self._member(chat, BOT_ID))
        return admins

    # ---------------------------------------------------------------- text, markup, files

    def _parse_text(
        self, call: ApiCall, key: str, *, caption: bool, parse_mode_key: str = "parse_mode"
    ) -> tuple[str | None, list[dict[str, Any]]]:
        raw = call.params.get(key)
        return self._parse_value(
            raw,
            call.params.get(parse_mode_key),
            call.params.get("caption_entities" if caption else "entities"),
            caption=caption,
        )

    def _parse_value(
        self, raw: Any, parse_mode: Any, given_entities: Any, *, caption: bool
    ) -> tuple[str | None, list[dict[str, Any]]]:
        if raw is None or raw == "":
            if caption:
                return None, []
            raise _bad("message text is empty")
        raw = str(raw)
        mode = str(parse_mode or "").lower()
        if mode == "html":
            try:
                text, entities = parse_html(raw, strict_ampersand=self.strict_ampersand)
            except HtmlParseError as e:
                raise _bad(f"can't parse entities: {e}") from None
        elif mode in ("", "markdown", "markdownv2"):
            text = raw
            entities = given_entities if (isinstance(given_entities, list) and not mode) else []
        else:
            raise _bad("unsupported parse_mode")
        if not text.strip():
            if caption:
                return None, []
            raise _bad("message text is empty")
        if caption and len(text) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        if not caption and len(text) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        return text, entities

    def _parse_markup(self, call: ApiCall) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(inline keyboard, other reply markup) from the request's reply_markup."""
        markup = call.params.get("reply_markup")
        if markup is None:
            return None, None
        if not isinstance(markup, dict):
            raise _ApiError(400, BAD_MARKUP_JSON)
        markup = _strip_none(markup)
        if "inline_keyboard" in markup:
            return self._check_inline_keyboard(markup), None
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad('field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays')
            for row in rows:
                for button in row:
                    text = (
                        button
                        if isinstance(button, str)
                        else button.get("text")
                        if isinstance(button, dict)
                        else None
                    )
                    if not isinstance(text, str) or not text:
                        raise _bad('can\'t parse keyboard button: Field "text" must be of type String')
            return None, markup
        if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
            return None, markup
        raise _ApiError(400, BAD_MARKUP_JSON)

    @staticmethod
    def _check_inline_keyboard(markup: dict[str, Any]) -> dict[str, Any] | None:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays')
        count = 0
        for row in rows:
            for button in row:
                count += 1
                if not isinstance(button, dict):
                    raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
                if not isinstance(button.get("text"), str):
                    raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
                if not button["text"].strip():
                    raise _bad("BUTTON_TEXT_INVALID")
                if not any(k in button for k in _BUTTON_ACTIONS):
                    raise _bad(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    if (
                        not isinstance(data, str)
                        or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
                    ):
                        raise _bad("BUTTON_DATA_INVALID")
                if "url" in button:
                    url = button["url"]
                    if not isinstance(url, str) or not url:
                        raise _bad("BUTTON_URL_INVALID")
                    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
                    if scheme not in ("http", "https", "tg", "ton"):
                        raise _bad(f"inline keyboard button URL '{url}' is invalid: Unsupported URL protocol")
                    if scheme in ("http", "https") and not re.match(
                        r"https?://[^/\s?#]+\.[^/\s?#]+", url, re.I
                    ):
                        raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
        if count > MAX_BUTTONS:
            raise _bad("REPLY_MARKUP_TOO_LONG")
        return {"inline_keyboard": rows} if rows else None

    def _store_file(
        self,
        data: bytes,
        kind: str,
        *,
        mime_type: str | None = None,
        file_name: str | None = None,
        size: tuple[int, int] = (0, 0),
    ) -> _StoredFile:
        n = next(self._file_seq)
        prefix = {"photo": "AgACAgIAAxkBAAI", "document": "BQACAgIAAxkBAAI"}.get(kind, "CQACAgIAAxkBAAI")
        ext = {"photo": ".jpg"}.get(kind) or mimetypes.guess_extension(mime_type or "") or ".bin"
        if file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[1]
        folder = {"photo": "photos", "document": "documents"}.get(kind, kind + "s")
        stored = _StoredFile(
            file_id=f"{prefix}{n:06d}{kind[:3]}",
            file_unique_id=f"AQAD{n:06d}",
            file_path=f"{folder}/file_{n}{ext}",
            data=data,
            kind=kind,
            mime_type=mime_type or ("image/jpeg" if kind == "photo" else None),
            file_name=file_name,
            width=size[0],
            height=size[1],
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _store_photo(self, data: bytes, size: tuple[int, int]) -> _StoredFile:
        w, h = size
        scale = min(1.0, 90 / max(w, h, 1))
        small = self._store_file(data, "photo", size=(max(1, round(w * scale)), max(1, round(h * scale))))
        large = self._store_file(data, "photo", size=size)
        sizes = [
            {
                "file_id": f.file_id,
                "file_unique_id": f.file_unique_id,
                "file_size": len(data),
                "width": f.width,
                "height": f.height,
            }
            for f in (small, large)
        ]
        small.photo_sizes = large.photo_sizes = sizes
        return large

    @staticmethod
    def _document_object(stored: _StoredFile) -> dict[str, Any]:
        document: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
        }
        if stored.file_name:
            document["file_name"] = stored.file_name
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        return document

    def _input_file(self, call: ApiCall, value: Any, kind: str, field_name: str) -> _StoredFile:
        """A file the bot sends: attach:// upload, an upload under the field's name, a file_id or a URL."""
        upload: UploadedFile | None = None
        if isinstance(value, str) and value.startswith("attach://"):
            upload = call.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise _bad("wrong file identifier/HTTP URL specified")
        elif value is None and field_name in call.files:
            upload = call.files[field_name]
        if upload is not None:
            if kind == "photo":
                size = _image_size(upload.data)
                if size is None:
                    raise _bad("IMAGE_PROCESS_FAILED")
                return self._store_photo(upload.data, size)
            mime = upload.content_type
            if not mime or mime == "application/octet-stream":
                mime = mimetypes.guess_type(upload.filename or "")[0] or mime
            return self._store_file(upload.data, kind, mime_type=mime, file_name=upload.filename)
        if not isinstance(value, str) or not value:
            raise _bad(f"there is no {kind} in the request")
        if re.match(r"https?://", value):
            if value in self.unfetchable_urls:
                call.injected = True  # Telegram's answer to a URL, not a mistake of the bot
                raise _bad("failed to get HTTP URL content")
            if kind == "photo":
                return self._store_photo(b"", (800, 600))
            return self._store_file(b"", kind, file_name=value.rsplit("/", 1)[-1] or None)
        stored = self._files.get(value)
        if stored is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        if stored.kind != kind and not (kind == "document" and stored.kind != "photo"):
            raise _bad(f"can't use file of type {stored.kind.capitalize()} as {kind.capitalize()}")
        return stored

    def _media_fields(self, stored: _StoredFile) -> dict[str, Any]:
        if stored.kind == "photo":
            return {"photo": copy.deepcopy(stored.photo_sizes)}
        if stored.kind == "document":
            return {"document": self._document_object(stored)}
        obj = self._document_object(stored)
        if stored.kind in ("video", "animation"):
            obj.update({"width": 640, "height": 480, "duration": 1})
        elif stored.kind == "audio":
            obj["duration"] = 1
        return {stored.kind: obj}

    # ---------------------------------------------------------------- messages

    def _next_message_id(self, chat: _Chat) -> int:
        mid = chat.next_message_id
        chat.next_message_id += 1
        return mid

    @staticmethod
    def _public(data: dict[str, Any], *, nested: bool = False) -> dict[str, Any]:
        result = copy.deepcopy(data)
        if nested:
            result.pop("reply_to_message", None)
        return result

    def _view(self, stored: _Message) -> dict[str, Any]:
        view = copy.deepcopy(stored.data)
        view["edited"] = stored.edited
        view["raw"] = stored.raw
        if stored.deleted:
            view["deleted"] = True
        return view

    def _store_bot_message(
        self,
        call: ApiCall,
        chat: _Chat,
        fields: dict[str, Any],
        *,
        inline: dict[str, Any] | None = None,
        other_markup: dict[str, Any] | None = None,
        raw: str | None = None,
        reply_checked: bool = False,
    ) -> _Message:
        message: dict[str, Any] = {
            "message_id": 0,
            "from": dict(self.bot_user),
            "chat": dict(chat.data),
            "date": int(time.time()),
        }
        thread_id = self._thread(call, chat)
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if not reply_checked:
            reply = self._reply_target(call, chat)
            if reply is not None:
                message["reply_to_message"] = self._public(reply.data, nested=True)
        if call.params.get("protect_content") == "true":
            message["has_protected_content"] = True
        message.update(fields)
        if inline:
            message["reply_markup"] = inline
        message["message_id"] = self._next_message_id(chat)
        stored = _Message(message, from_bot=True, raw=raw)
        chat.messages[message["message_id"]] = stored
        if other_markup is not None:
            if "keyboard" in other_markup:
                chat.reply_keyboard = other_markup
            elif other_markup.get("remove_keyboard"):
                chat.reply_keyboard = None
        call.produced.append((chat.id, message["message_id"], message_text(message)))
        return stored

    def _reply_target(self, call: ApiCall, chat: _Chat) -> _Message | None:
        params = call.params.get("reply_parameters")
        target_id: int | None = None
        allow_missing = call.params.get("allow_sending_without_reply") == "true"
        if isinstance(params, dict) and params.get("message_id") is not None:
            target_id = int(params["message_id"])
            allow_missing = allow_missing or bool(params.get("allow_sending_without_reply"))
            if params.get("chat_id") not in (None, chat.id):
                target_chat = self._chats.get(int(params["chat_id"]))
                found = target_chat.messages.get(target_id) if target_chat else None
                if found is None and not allow_missing:
                    raise _bad("message to be replied not found")
                return found
        elif call.param_int("reply_to_message_id") is not None:
            target_id = call.param_int("reply_to_message_id")
        if target_id is None:
            return None
        target = chat.messages.get(target_id)
        if (target is None or target.deleted) and not allow_missing:
            raise _bad("message to be replied not found")
        return target if target is not None and not target.deleted else None

    def _send_message(self, call: ApiCall) -> dict[str, Any]:
        chat = self._chat(call, sending=True)
        self._check_rights(chat, "text messages")
        text, entities = self._parse_text(call, "text", caption=False)
        inline, other = self._parse_markup(call)
        fields: dict[str, Any] = {"text": text}
        if entities:
            fields["entities"] = entities
        if isinstance(call.params.get("link_preview_options"), dict):
            fields["link_preview_options"] = call.params["link_preview_options"]
        stored = self._store_bot_message(
            call, chat, fields, inline=inline, other_markup=other, raw=call.params.get("text")
        )
        return self._public(stored.data)

    def _caption_fields(self, call: ApiCall) -> tuple[dict[str, Any], str | None]:
        caption, entities = self._parse_text(call, "caption", caption=True)
        fields: dict[str, Any] = {}
        if caption:
            fields["caption"] = caption
            if entities:
                fields["caption_entities"] = entities
        return fields, call.params.get("caption")

    def _send_media(self, call: ApiCall, kind: str, what: str) -> dict[str, Any]:
        chat = self._chat(call, sending=True)
        self._check_rights(chat, what)
        caption_fields, raw = self._caption_fields(call)
        inline, other = self._parse_markup(call)
        stored_file = self._input_file(call, call.params.get(kind), kind, kind)
        fields = {**self._media_fields(stored_file), **caption_fields}
        stored = self._store_bot_message(call, chat, fields, inline=inline, other_markup=other, raw=raw)
        return self._public(stored.data)

    def _send_photo(self, call: ApiCall) -> dict[str, Any]:
        return self._send_media(call, "photo", "photos")

    def _send_document(self, call: ApiCall) -> dict[str, Any]:
        return self._send_media(call, "document", "documents")

    def _send_media_group(self, call: ApiCall) -> list[dict[str, Any]]:
        chat = self._chat(call, sending=True)
        self._check_rights(chat, "photos")
        media = call.params.get("media")
        if not isinstance(media, list):
            raise _bad("can't parse media JSON object")
        if not 2 <= len(media) <= 10:
            raise _bad("wrong number of media in the album: must be 2-10")
        kinds = {item.get("type") for item in media if isinstance(item, dict)}
        if len(kinds) > 1 and kinds & {"document", "audio"}:
            raise _bad("documents and audio files can't be mixed with other media types in an album")
        prepared: list[tuple[dict[str, Any], Any]] = []
        for item in media:
            if not isinstance(item, dict) or item.get("type") not in ("photo", "video", "document", "audio"):
                raise _bad("can't parse InputMedia JSON object")
            caption, entities = self._parse_value(
                item.get("caption"), item.get("parse_mode"), item.get("caption_entities"), caption=True
            )
            try:
                stored_file = self._input_file(call, item.get("media"), item["type"], "")
            except _ApiError:
                if not call.injected:
                    raise
                position = len(prepared) + 1  # an unfetchable URL: Telegram names the item
                raise _bad(
                    f'failed to send message #{position} with the error message "WEBPAGE_CURL_FAILED"'
                ) from None
            fields = self._media_fields(stored_file)
            if caption:
                fields["caption"] = caption
                if entities:
                    fields["caption_entities"] = entities
            prepared.append((fields, item.get("caption")))
        reply = self._reply_target(call, chat)
        group_id = str(13_000_000_000_000_000 + len(self.requests))
        result = []
        for fields, raw in prepared:
            fields["media_group_id"] = group_id
            if reply is not None:
                fields["reply_to_message"] = self._public(reply.data, nested=True)
            stored = self._store_bot_message(call, chat, fields, raw=raw, reply_checked=True)
            result.append(self._public(stored.data))
        return result

    def _send_location(self, call: ApiCall) -> dict[str, Any]:
        chat = self._chat(call, sending=True)
        self._check_rights(chat, "text messages")
        inline, other = self._parse_markup(call)
        try:
            location = {
                "latitude": float(call.params["latitude"]),
                "longitude": float(call.params["longitude"]),
            }
        except (KeyError, ValueError):
            raise _bad("wrong latitude/longitude specified") from None
        stored = self._store_bot_message(
            call, chat, {"location": location}, inline=inline, other_markup=other
        )
        return self._public(stored.data)

    def _send_contact(self, call: ApiCall) -> dict[str, Any]:
        chat = self._chat(call, sending=True)
        self._check_rights(chat, "text messages")
        inline, other = self._parse_markup(call)
        if not call.params.get("phone_number") or not call.params.get("first_name"):
            raise _bad("phone number or first name is empty")
        contact = {"phone_number": call.params["phone_number"], "first_name": call.params["first_name"]}
        if call.params.get("last_name"):
            contact["last_name"] = call.params["last_name"]
        stored = self._store_bot_message(call, chat, {"contact": contact}, inline=inline, other_markup=other)
        return self._public(stored.data)

    def _thread(self, call: ApiCall, chat: _Chat) -> int | None:
        """The request's message_thread_id, when it names a topic of this forum."""
        thread_id = call.param_int("message_thread_id")
        if thread_id is not None and (
            not chat.is_forum or (chat.topics is not None and thread_id not in chat.topics)
        ):
            raise _bad("message thread not found")
        return thread_id

    def _send_chat_action(self, call: ApiCall) -> bool:
        self._thread(call, self._chat(call, sending=True))
        if call.params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    # ---------------------------------------------------------------- edits

    def _edit_target(self, call: ApiCall) -> tuple[_Chat, _Message]:
        if call.params.get("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        chat = self._chat(call)
        message_id = call.param_int("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        stored = chat.messages.get(message_id)
        if stored is None or stored.deleted:
            raise _bad("message to edit not found")
        if not stored.from_bot:
            raise _bad("message can't be edited")
        return chat, stored

    def _inline_only(self, call: ApiCall) -> dict[str, Any] | None:
        inline, other = self._parse_markup(call)
        if other is not None:
            raise _bad("inline keyboard expected")
        return inline

    def _apply_edit(
        self, call: ApiCall, chat: _Chat, stored: _Message, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """changes: key -> new value (None removes the key). Raises "not modified"."""
        if all(stored.data.get(k) == v for k, v in changes.items()):
            raise _bad(NOT_MODIFIED)
        for key, value in changes.items():
            if value is None or value == []:
                stored.data.pop(key, None)
            else:
                stored.data[key] = value
        stored.data["edit_date"] = int(time.time())
        stored.edited = True
        call.produced.append((chat.id, stored.data["message_id"], message_text(stored.data)))
        return self._public(stored.data)

    def _edit_message_text(self, call: ApiCall) -> dict[str, Any]:
        chat, stored = self._edit_target(call)
        if "text" not in stored.data:
            raise _bad("there is no text in the message to edit")
        text, entities = self._parse_text(call, "text", caption=False)
        inline = self._inline_only(call)
        result = self._apply_edit(
            call, chat, stored, {"text": text, "entities": entities or None, "reply_markup": inline}
        )
        stored.raw = call.params.get("text")
        return result

    def _edit_message_caption(self, call: ApiCall) -> dict[str, Any]:
        chat, stored = self._edit_target(call)
        if not any(k in stored.data for k in _MEDIA_KEYS):
            raise _bad("there is no caption in the message to edit")
        caption, entities = self._parse_text(call, "caption", caption=True)
        inline = self._inline_only(call)
        result = self._apply_edit(
            call,
            chat,
            stored,
            {
                "caption": caption,
                "caption_entities": (entities or None) if caption else None,
                "reply_markup": inline,
            },
        )
        stored.raw = call.params.get("caption")
        return result

    def _edit_message_reply_markup(self, call: ApiCall) -> dict[str, Any]:
        chat, stored = self._edit_target(call)
        inline = self._inline_only(call)
        return self._apply_edit(call, chat, stored, {"reply_markup": inline or None})

    def _edit_message_media(self, call: ApiCall) -> dict[str, Any]:
        chat, stored = self._edit_target(call)
        if not any(k in stored.data for k in _MEDIA_KEYS):
            raise _bad("there is no media in the message to edit")
        media = call.params.get("media")
        if not isinstance(media, dict) or media.get("type") not in (
            "photo",
            "video",
            "document",
            "audio",
            "animation",
        ):
            raise _bad("can't parse InputMedia JSON object")
        caption, entities = self._parse_value(
            media.get("caption"), media.get("parse_mode"), media.get("caption_entities"), caption=True
        )
        inline = self._inline_only(call)
        stored_file = self._input_file(call, media.get("media"), str(media["type"]), "")
        changes: dict[str, Any] = dict.fromkeys(_MEDIA_KEYS)
        changes.update(self._media_fields(stored_file))
        changes.update(
            {
                "caption": caption,
                "caption_entities": (entities or None) if caption else None,
                "reply_markup": inline,
            }
        )
        result = self._apply_edit(call, chat, stored, changes)
        stored.raw = media.get("caption")
        return result

    def _delete_message(self, call: ApiCall) -> bool:
        chat = self._chat(call)
        message_id = call.param_int("message_id")
        stored = chat.messages.get(message_id) if message_id is not None else None
        if stored is None or stored.deleted:
            raise _bad("message to delete not found")
        stored.deleted = True
        return True

    def _delete_messages(self, call: ApiCall) -> bool:
        chat = self._chat(call)
        ids = call.params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _bad("message_ids must be a list of 1-100 identifiers")
        for message_id in ids:
            stored = chat.messages.get(int(message_id))
            if stored is not None:
                stored.deleted = True
        return True

    def _pin_chat_message(self, call: ApiCall) -> bool:
        chat = self._chat(call)
        message_id = call.param_int("message_id")
        stored = chat.messages.get(message_id) if message_id is not None else None
        if stored is None or stored.deleted:
            raise _bad("message to pin not found")
        return True

    def _copy_or_forward_source(self, call: ApiCall) -> _Message:
        source_chat = self._chat(call, "from_chat_id")
        message_id = call.param_int("message_id")
        stored = source_chat.messages.get(message_id) if message_id is not None else None
        if stored is None or stored.deleted:
            raise _bad(
                f"message to {'copy' if call.method.lower() == 'copymessage' else 'forward'} not found"
            )
        return stored

    def _content(self, data: dict[str, Any]) -> dict[str, Any]:
        keys = ("text", "entities", "caption", "caption_entities", "location", "contact", *_MEDIA_KEYS)
        return {k: copy.deepcopy(data[k]) for k in keys if k in data}

    def _copy_message(self, call: ApiCall) -> dict[str, Any]:
        source = self._copy_or_forward_source(call)
        chat = self._chat(call, sending=True)
        self._check_rights(chat, "text messages")
        fields = self._content(source.data)
        raw = source.raw
        if "caption" in call.params:
            caption_fields, raw = self._caption_fields(call)
            fields.pop("caption", None)
            fields.pop("caption_entities", None)
            fields.update(caption_fields)
        inline, other = self._parse_markup(call)
        if inline is None and other is None and "reply_markup" in source.data:
            inline = copy.deepcopy(source.data["reply_markup"])
        stored = self._store_bot_message(call, chat, fields, inline=inline, other_markup=other, raw=raw)
        return {"message_id": stored.data["message_id"]}

    def _forward_message(self, call: ApiCall) -> dict[str, Any]:
        source = self._copy_or_forward_source(call)
        chat = self._chat(call, sending=True)
        self._check_rights(chat, "text messages")
        fields = self._content(source.data)
        fields["forward_origin"] = {
            "type": "user",
            "sender_user": copy.deepcopy(source.data["from"]),
            "date": source.data["date"],
        }
        stored = self._store_bot_message(call, chat, fields, raw=source.raw)
        return self._public(stored.data)

    # ---------------------------------------------------------------- callbacks and files

    def _answer_callback_query(self, call: ApiCall) -> bool:
        query_id = str(call.params.get("callback_query_id") or "")
        query = self._callbacks.get(query_id)
        too_old = query is not None and (
            query.expired
            or (
                self.callback_query_ttl is not None and self.clock() - query.created > self.callback_query_ttl
            )
        )
        if query is None or query.answered or too_old:
            raise _bad(QUERY_TOO_OLD)
        if len(str(call.params.get("text") or "")) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad("MESSAGE_TOO_LONG")
        query.answered = True
        self.callback_answers[query_id] = dict(call.params)
        return True

    def _get_file(self, call: ApiCall) -> dict[str, Any]:
        stored = self._files.get(str(call.params.get("file_id") or ""))
        if stored is None:
            raise _bad("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }


# --------------------------------------------------------------------------------------------
# aiogram side
# --------------------------------------------------------------------------------------------


class FakeClock:
    """Virtual time for rate limits, shared by the fake and the code under test::

        clock = FakeClock(); fake.clock = clock.now
        sender = Sender(bot, clock=clock.now, sleep=clock.sleep)

    ``sleep`` returns at once, having moved time to the sleeper's deadline. Time only moves
    forward: sleepers that start in the same loop turn share the wait, like real sleeps; later
    ones add to it, so virtual time can run ahead of a real run but never behind."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.time = start
        self.sleeps: list[float] = []  # every sleep() asked for, in order

    def now(self) -> float:
        return self.time

    def advance(self, seconds: float) -> None:
        self.time += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        deadline = self.time + max(seconds, 0.0)
        await asyncio.sleep(0)  # let the others run (and start their own sleeps) first
        self.time = max(self.time, deadline)


class FastAiohttpSession(AiohttpSession):
    """AiohttpSession whose close() does not sleep 0.25 s (plain HTTP to 127.0.0.1: no TLS)."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def make_bot(fake: FakeTelegram, token: str | None = None) -> Bot:
    """A real aiogram Bot talking to the fake (HTML parse mode by default, like the app)."""
    assert fake.base_url, "start the fake first"
    session = FastAiohttpSession(api=TelegramAPIServer.from_base(fake.base_url, is_local=False))
    return Bot(token or fake.token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def _fake_for(bot: Bot) -> FakeTelegram:
    base = bot.session.api.base
    for url, fake in _RUNNING.items():
        if base.startswith(url + "/"):
            return fake
    raise AssertionError(f"no running FakeTelegram serves {base}")


@contextlib.asynccontextmanager
async def run_polling(
    dp: Dispatcher,
    bot: Bot,
    *,
    fake: FakeTelegram | None = None,
    polling_timeout: int = 10,
    startup_timeout: float = 5.0,
    **kwargs: Any,
) -> AsyncIterator[None]:
    """Poll in a background task while the block runs: entered once the first getUpdates has
    arrived (startup hooks and getMe done); on exit stops polling, awaits it, closes the session.
    Extra kwargs go to start_polling (workflow data, allowed_updates, …)."""
    fake = fake or _fake_for(bot)
    mark = len(fake.requests)
    kwargs.setdefault("backoff_config", FAST_BACKOFF)
    task = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, polling_timeout=polling_timeout, **kwargs)
    )
    waiter = asyncio.create_task(fake.wait_for("getUpdates", after=mark, timeout=startup_timeout))
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if not waiter.done():
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
        await bot.session.close()
        task.result()  # raises what stopped polling
        raise AssertionError("polling ended before the first getUpdates")
    if waiter.exception() is not None:
        await _stop(dp, task)
        await bot.session.close()
        waiter.result()
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):  # the block's own failure is the one to report
            await _stop(dp, task)
        await bot.session.close()
        raise
    await _stop(dp, task)
    await bot.session.close()


async def _stop(dp: Dispatcher, task: asyncio.Task[None]) -> None:
    if not task.done():
        with contextlib.suppress(RuntimeError):  # "Polling is not started": it already ended
            await dp.stop_polling()
    await task
