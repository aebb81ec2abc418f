"""The one way out for every message the bot starts itself (alerts, notifications).

It keeps to Telegram's flood limits, retries what waiting can fix, follows a group's upgrade to a
supergroup, and turns every other refusal into None/False plus one log line: it never raises for
a Telegram-side failure (a wrong argument still raises). The limits, from
https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this: a group or channel
(negative id) `group_per_minute` in any 60 seconds, a private chat about `private_per_second`,
everything `global_per_second`; edits, limited apart and unpublished, get a second budget of the
same size per chat. Within one chat, messages and edits go out in the order handed over (FIFO): one
waiting out a `retry_after` holds back the rest, so an alert never overtakes its edit.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from aiogram import Bot
from aiogram import exceptions as tg
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.enums import ChatAction, ChatMemberStatus, ChatType
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response
from aiogram.types import InputFile, Message

__all__ = ["Sender", "SenderMiddleware"]

# Set while the Sender itself makes an API call, so SenderMiddleware does not count it twice.
_inside_sender: contextvars.ContextVar[bool] = contextvars.ContextVar("inside_sender", default=False)

log = logging.getLogger(__name__)

T = TypeVar("T")

GROUP_WINDOW = 60.0  # seconds: Telegram's group limit is "20 messages per minute"
MAX_BACKOFF = 30.0  # seconds between retries after a network or server error
# Refusals about what happened in Telegram (a chat that is gone, a message someone deleted), not bugs
GONE = ("chat not found", "message to edit not found")
# The calls that post or edit a message: what the flood limits count
_SENDS = {"sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup", "copyMessage", "forwardMessage"}
_EDITS = {"editMessageText", "editMessageReplyMarkup", "editMessageCaption", "editMessageMedia"}
REPLY_MAX_RETRIES = 2
REPLY_MAX_WAIT = 30  # seconds: a person waiting longer than this for a reply has given up


class _Window:
    """At most `limit` events in any `period` seconds: only the last `limit` event times matter,
    one more fits once the oldest of them is `period` old."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self._times: deque[float] = deque(maxlen=limit)

    def wait(self, now: float) -> float:
        """Seconds until one more event fits (0: it fits now)."""
        if len(self._times) < self.limit:
            return 0.0
        return max(0.0, self._times[0] + self.period - now)

    def take(self, now: float) -> None:
        self._times.append(now)


def _per_second(rate: float) -> _Window:
    limit = max(1, round(rate))  # 30/s → 30 in any second; 0.5/s → 1 in any 2 seconds
    return _Window(limit, limit / rate)


@dataclass(frozen=True)
class Limits:
    """Telegram's limits the sender keeps to; max_retries bounds the retries of one call,
    whatever made it retry (flood, network, 5xx)."""

    group_per_minute: int = 20
    private_per_second: float = 1.0
    global_per_second: float = 30.0
    max_retries: int = 3

    def __post_init__(self) -> None:
        if self.group_per_minute < 1 or self.private_per_second <= 0 or self.global_per_second <= 0:
            raise ValueError("limits must be positive")
        if self.max_retries < 0:
            raise ValueError("max_retries must not be negative")


class Sender:
    """Sends and edits within Telegram's limits; None/False when Telegram would not take it.

    on_unreachable(chat_id): the user blocked the bot, or the bot was removed from the group
    (called with the id the caller used). on_migrated(old, new): a group became a supergroup;
    the sender already sends there, the callback is for remembering the new id for good.
    """

    def __init__(
        self,
        bot: Bot,
        *,
        on_unreachable: Callable[[int], Awaitable[None]] | None = None,
        on_migrated: Callable[[int, int], Awaitable[None]] | None = None,
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._bot = bot
        self._on_unreachable = on_unreachable
        self._on_migrated = on_migrated
        self._limits = limits
        self._clock = clock
        self._sleep = sleep
        self._global = _per_second(limits.global_per_second)
        self._global_turn = asyncio.Lock()
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)  # one call at a time: FIFO
        self._windows: dict[tuple[int, bool], _Window] = {}  # (chat, edit?): sends and edits apart
        self._migrations: dict[int, int] = {}

    # ------------------------------------------------------------------ sending

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> Message | None:
        """kwargs go to Bot.send_message as they are (message_thread_id, reply_markup, …)."""
        send = partial(self._bot.send_message, text=text, **kwargs)
        return await self._deliver("sendMessage", chat_id, send)

    async def send_photo(self, chat_id: int, photo: str | InputFile, **kwargs: Any) -> Message | None:
        """photo: a file_id, a URL or an InputFile (read again if the send is retried)."""
        return await self._deliver("sendPhoto", chat_id, partial(self._bot.send_photo, photo=photo, **kwargs))

    async def edit_message_text(self, chat_id: int, message_id: int, text: str, **kwargs: Any) -> bool:
        """True when the message shows `text` now (also when it already did); False when it
        could not be edited, e.g. someone deleted it (a warning, not an error)."""
        edit = partial(self._bot.edit_message_text, text, message_id=message_id, **kwargs)
        return await self._edit("editMessageText", chat_id, edit)

    async def edit_message_reply_markup(self, chat_id: int, message_id: int, **kwargs: Any) -> bool:
        """True when the message has the markup now (also when it already had)."""
        edit = partial(self._bot.edit_message_reply_markup, message_id=message_id, **kwargs)
        return await self._edit("editMessageReplyMarkup", chat_id, edit)

    # ------------------------------------------------------------------ migrated groups

    def resolve(self, chat_id: int) -> int:
        """The id to use now: the supergroup's id once a group was upgraded, else chat_id."""
        return self._migrations.get(chat_id, chat_id)

    def remember_migration(self, old: int, new: int) -> None:
        """From now on everything for `old` goes to `new` (e.g. restored from the database)."""
        if old == new:
            return
        for earlier, current in self._migrations.items():
            if current == old:  # a chain a → old → new: a goes straight to new
                self._migrations[earlier] = new
        self._migrations[old] = new

    # ------------------------------------------------------------------ checking a chat

    async def can_post(self, chat_id: int, thread_id: int | None = None) -> tuple[bool, str]:
        """Can the bot send to the chat (and to the forum topic `thread_id`)? (ok, why not).

        Asks getChat and getChatMember for the bot. A topic is probed with a "typing" chat
        action, the one harmless call that names a thread: the Bot API cannot look a topic up,
        and it may accept the probe for a topic deleted a moment ago (a send there then fails
        and is logged). Not rate limited: meant for start-up and `cvety-bot check`."""
        chat_id = self.resolve(chat_id)
        try:
            chat = await self._bot.get_chat(chat_id)
            member = await self._bot.get_chat_member(chat_id, self._bot.id)
            if chat.type == ChatType.PRIVATE:
                return True, ""
            if member.status in (ChatMemberStatus.LEFT, ChatMemberStatus.KICKED):
                return False, "the bot was removed from this chat"
            if getattr(member, "can_send_messages", True) is False:  # restricted
                return False, "the bot may not send messages here: make it an administrator"
            if chat.type == ChatType.CHANNEL and not getattr(member, "can_post_messages", False):
                return False, "the bot may not post in this channel: give it the right to post"
            members_muted = getattr(chat.permissions, "can_send_messages", None) is False
            if member.status == ChatMemberStatus.MEMBER and members_muted:
                return False, "members may not send messages here: make the bot an administrator"
            if thread_id is not None:
                if not chat.is_forum:
                    return False, f"this chat has no topics, so no topic {thread_id}"
                await self._bot.send_chat_action(chat_id, ChatAction.TYPING, message_thread_id=thread_id)
        except tg.TelegramMigrateToChat as e:
            if e.migrate_to_chat_id == chat_id:  # would ask again forever
                return False, f"Telegram refused: {e.message}"
            await self._migrated(chat_id, e.migrate_to_chat_id)
            return await self.can_post(e.migrate_to_chat_id, thread_id)
        except tg.TelegramForbiddenError:
            return False, "the bot is not in this chat (removed, or blocked by the user)"
        except tg.TelegramBadRequest as e:
            if "chat not found" in e.message.lower():
                return False, "chat not found: a wrong id, or the bot was never added to it"
            if "thread not found" in e.message.lower():
                return False, f"topic {thread_id} not found in this forum"
            return False, f"Telegram refused: {e.message}"
        except (tg.TelegramAPIError, tg.ClientDecodeError) as e:
            return False, f"Telegram did not answer properly: {e.message}"
        return True, ""

    # ------------------------------------------------------------------ the machinery

    async def _edit(self, what: str, chat_id: int, call: Callable[..., Awaitable[object]]) -> bool:
        async def attempt(chat_id: int) -> bool:
            try:
                await call(chat_id=chat_id)
            except tg.TelegramBadRequest as e:
                # Telegram's way of saying the message already is what we wanted
                if "message is not modified" not in e.message.lower():
                    raise
            return True

        return await self._deliver(what, chat_id, attempt, edit=True) is True

    async def _deliver(
        self, what: str, chat_id: int, call: Callable[..., Awaitable[T]], *, edit: bool = False
    ) -> T | None:
        """call(chat_id=the current id) within the limits, in the chat's turn."""
        token = _inside_sender.set(True)  # the calls made here skip SenderMiddleware
        try:
            async with self._locks[self.resolve(chat_id)]:
                return await self._attempt(what, chat_id, call, edit)
        finally:
            _inside_sender.reset(token)

    async def _attempt(
        self, what: str, chat_id: int, call: Callable[..., Awaitable[T]], edit: bool
    ) -> T | None:
        """call(chat_id=the current id), retried while waiting can help."""
        target = self.resolve(chat_id)  # the group may have migrated while we queued
        retries = 0
        migrated = False
        while True:
            await self._wait_for_slot(target, edit)
            try:
                return await call(chat_id=target)
            except tg.TelegramRetryAfter as e:
                delay, why = float(e.retry_after), f"flood limit, retry after {e.retry_after} s"
            except tg.TelegramMigrateToChat as e:
                if migrated:  # a supergroup cannot migrate again: something is off
                    log.error("%s to chat %s: migrated twice: %s", what, chat_id, e.message)
                    return None
                migrated = True
                await self._migrated(target, e.migrate_to_chat_id)
                target = e.migrate_to_chat_id
                continue
            except tg.TelegramForbiddenError as e:
                log.warning("%s to chat %s: unreachable: %s", what, chat_id, e.message)
                await self._notify(self._on_unreachable, chat_id)
                return None
            except (tg.TelegramBadRequest, tg.TelegramEntityTooLarge) as e:  # too large: "network", but final
                if any(gone in e.message.lower() for gone in GONE):
                    log.warning("%s to chat %s: %s", what, chat_id, e.message)
                else:  # our request was wrong (too long, bad HTML, bad keyboard, too large…)
                    log.error("%s to chat %s rejected: %s", what, chat_id, e.message)
                return None
            except (tg.TelegramNetworkError, tg.TelegramServerError) as e:
                # A timeout may hide a message that did arrive: a retry can duplicate it,
                # which beats losing an alert.
                delay, why = min(2.0**retries, MAX_BACKOFF), e.message
            except (tg.TelegramAPIError, tg.ClientDecodeError) as e:  # 401, 404, 409, garbage
                log.error("%s to chat %s failed: %s", what, chat_id, e.message)
                return None
            if retries >= self._limits.max_retries:
                log.warning("%s to chat %s: gave up after %d retries: %s", what, chat_id, retries, why)
                return None
            retries += 1
            await self._sleep(delay)

    async def _wait_for_slot(self, chat_id: int, edit: bool, *, pace_chat: bool = True) -> None:
        window = self._windows.get((chat_id, edit))
        if window is None:  # groups, supergroups and channels have negative ids
            group, private = self._limits.group_per_minute, self._limits.private_per_second
            window = _Window(group, GROUP_WINDOW) if chat_id < 0 else _per_second(private)
            self._windows[chat_id, edit] = window
        while True:
            if pace_chat:  # the chat's own pace first, outside the queue: it holds nobody else up
                while (delay := window.wait(self._clock())) > 0:
                    await self._sleep(delay)
            # The global slots go first come, first served (an asyncio lock wakes its waiters in
            # order): with 20 people at once nobody loses the race for a free slot again and again.
            async with self._global_turn:
                while (delay := self._global.wait(self._clock())) > 0:
                    await self._sleep(delay)
                now = self._clock()
                if pace_chat and window.wait(now) > 0:
                    continue  # another send to this chat came first: its pace again
                window.take(now)
                self._global.take(now)
                return

    async def _migrated(self, old: int, new: int) -> None:
        log.warning("chat %s was upgraded to the supergroup %s: sending there from now on", old, new)
        self.remember_migration(old, new)
        await self._notify(self._on_migrated, old, new)

    @staticmethod
    async def _notify(callback: Callable[..., Awaitable[None]] | None, *args: int) -> None:
        """Tell the application; its bug must not stop the message nor reach send_message's caller."""
        if callback is not None:
            try:
                await callback(*args)
            except Exception:
                name = getattr(callback, "__name__", "callback")
                log.exception("%s(%s) failed", name, ", ".join(map(str, args)))


class SenderMiddleware(BaseRequestMiddleware):
    """Replies handlers send directly (message.answer, a card's edit) meet the Sender's limiter
    too, and a short `retry_after` is waited out instead of surfacing as an error. A private reply
    answers what the person just did, and Telegram tolerates short bursts there: it is counted,
    not paced (a florist typing order numbers quickly must not wait a second each); groups and
    the global limit are paced as for alerts."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    async def __call__(
        self, make_request: NextRequestMiddlewareType[T], bot: Bot, method: TelegramMethod[T]
    ) -> Response[T]:
        chat_id = getattr(method, "chat_id", None)
        name = method.__api_method__
        if _inside_sender.get() or name not in _SENDS | _EDITS or not isinstance(chat_id, int):
            return await make_request(bot, method)
        retries = 0
        while True:
            target = self._sender.resolve(chat_id)
            await self._sender._wait_for_slot(target, name in _EDITS, pace_chat=target < 0)
            try:
                return await make_request(bot, method)
            except tg.TelegramRetryAfter as e:
                if retries >= REPLY_MAX_RETRIES or e.retry_after > REPLY_MAX_WAIT:
                    raise
                retries += 1
                log.warning("%s to chat %s: flood limit, retry after %s s", name, chat_id, e.retry_after)
                await self._sender._sleep(float(e.retry_after))


class KeepResponseModels(BaseRequestMiddleware):
    """aiogram checks every answer against the generic model `Response[T]`. Pydantic keeps
    generic models only weakly, so each garbage collection drops them and the next call builds
    the model again — about 10 ms of schema building, on most calls of a busy bot. Holding them
    here makes that once per kind of answer."""

    def __init__(self) -> None:
        self._kept: dict[Any, Any] = {}

    async def __call__(
        self, make_request: NextRequestMiddlewareType[T], bot: Bot, method: TelegramMethod[T]
    ) -> Response[T]:
        returning = method.__returning__
        if returning not in self._kept:
            self._kept[returning] = Response[returning]  # type: ignore[valid-type]
        return await make_request(bot, method)
