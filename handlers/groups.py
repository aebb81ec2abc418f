"""The shop's bot stays in the shop: added to a group or channel by someone who is not staff, it
leaves (the shop's group excepted); the rest of its membership changes are only logged."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiogram import Bot, F
from aiogram.exceptions import TelegramAPIError, TelegramMigrateToChat
from aiogram.filters import JOIN_TRANSITION, ChatMemberUpdatedFilter
from aiogram.types import Chat, ChatMemberUpdated, User

from handlers.feature import Feature
from services.person import Person

log = logging.getLogger(__name__)

feature = Feature("groups")
get_router = feature.router

SUPERGROUP_IDS_FROM = -1_000_000_000_000  # supergroup and channel ids are -100…; basic groups above


def _who(user: User) -> str:
    name = " ".join(p for p in (user.first_name, user.last_name) if p)
    return f"{user.id} ({name}{f' @{user.username}' if user.username else ''})"


def _where(chat: Chat) -> str:
    return f"{chat.type} {chat.id} «{chat.title or ''}»"


async def is_alert_chat(chat_id: int, bot: Bot, alert_chat_id: int | None) -> bool:
    """The shop's group, also when it has just become this supergroup: Telegram adds the bot to
    the new supergroup before any send tells the alert centre the new id."""
    if alert_chat_id is None:
        return False
    if chat_id == alert_chat_id:
        return True
    if alert_chat_id <= SUPERGROUP_IDS_FROM or chat_id > SUPERGROUP_IDS_FROM:
        return False  # only a basic group migrates, and only to a supergroup
    try:
        await bot.get_chat(alert_chat_id)
    except TelegramMigrateToChat as exc:
        return exc.migrate_to_chat_id == chat_id
    except TelegramAPIError:
        return False
    return False


# The bot's own membership: no ctx (strangers add bots too, and who did decides), so no `needs`.
STRANGERS = {"stranger": True}
IN_CHATS = F.chat.type.in_({"group", "supergroup", "channel"})


@feature.on("my_chat_member", IN_CHATS, ChatMemberUpdatedFilter(JOIN_TRANSITION), flags=STRANGERS)
async def bot_added(
    event: ChatMemberUpdated,
    bot: Bot,
    alert_chat_id: Callable[[], int | None],
    staff: Person | None = None,
) -> None:
    chat, who = event.chat, event.from_user
    if await is_alert_chat(chat.id, bot, alert_chat_id()):
        log.info("%s added the bot to the shop's group %s", _who(who), _where(chat))
        return
    if staff is not None:
        log.info("staff %s added the bot to %s: staying", _who(who), _where(chat))
        return
    log.warning("%s, not staff, added the bot to %s: leaving", _who(who), _where(chat))
    try:
        await bot.leave_chat(chat.id)
    except TelegramAPIError as exc:
        log.warning("could not leave %s: %s", _where(chat), exc.message)


@feature.on("my_chat_member", IN_CHATS, flags=STRANGERS)
async def bot_status_changed(event: ChatMemberUpdated) -> None:
    log.info(
        "the bot's status in %s changed from %s to %s by %s",
        _where(event.chat),
        event.old_chat_member.status,
        event.new_chat_member.status,
        _who(event.from_user),
    )
