"""A person's CRM profile and the shop's info: what may be typed into each field, and saving one
changed field without losing the others. No aiogram here; handlers explain `InvalidInput` in
the person's language."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from services.crm_api import CrmApi
from services.cvety_api import CvetyApi
from services.errors import ApiError, ApiUnknownOutcome
from services.models import Profile, Shop, ShopInfo
from services.parsing import normalize_phone
from services.roles import Permission, Role, can
from services.storage.repositories import StaffRepository

log = logging.getLogger(__name__)

NAME_MIN, NAME_MAX = 2, 255
BIO_MAX = 1000
LINK_MAX = 500
# What a person types to empty an optional field (the bio, a social link).
CLEAR_MARKS = frozenset({"-", "—", "–"})
# The spec's positions; production also uses director, manager, seller, courier.
SPEC_POSITIONS = ("owner", "senior", "florist", "assistant")


class Problem(StrEnum):
    EMPTY = "empty"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    PHONE = "phone"
    LINK = "link"  # neither an https:// link nor a valid @handle
    WHATSAPP = "whatsapp"  # neither a phone nor a wa.me link
    POSITION = "position"


class InvalidInput(ValueError):
    """A typed value the field does not accept; `minimum`/`maximum` are the field's limits in
    characters and `length` what was typed, for a precise explanation."""

    def __init__(
        self,
        problem: Problem,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        length: int | None = None,
    ) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.minimum = minimum
        self.maximum = maximum
        self.length = length


class NotAllowed(Exception):
    """The person's role may not change this (a forged or stale button)."""


class ProfileField(StrEnum):
    NAME = "name"
    PHONE = "phone"
    BIO = "bio"
    POSITION = "position"


class ShopField(StrEnum):
    NAME = "name"
    ADDRESS = "address"
    PHONE = "phone"
    WORKING_HOURS = "working_hours"
    CITY = "city"
    INSTAGRAM = "instagram"
    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"


SOCIAL_FIELDS = frozenset({ShopField.INSTAGRAM, ShopField.WHATSAPP, ShopField.TELEGRAM})
# (minimum, maximum) characters of the shop's free-text fields, after folding whitespace.
SHOP_TEXT_LIMITS: dict[ShopField, tuple[int, int]] = {
    ShopField.NAME: (2, 255),
    ShopField.ADDRESS: (5, 500),
    ShopField.WORKING_HOURS: (3, 100),
    ShopField.CITY: (2, 100),
}
_HANDLES = {
    # Instagram: letters, digits, «.» and «_», up to 30, no dot at either end.
    ShopField.INSTAGRAM: (
        re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9._]{0,28}[A-Za-z0-9_])?"),
        "https://instagram.com/",
    ),
    # Telegram: 5–32 characters, a letter first.
    ShopField.TELEGRAM: (re.compile(r"[A-Za-z][A-Za-z0-9_]{4,31}"), "https://t.me/"),
}
_HOST = re.compile(r"(?:[\w-]+\.)+[^\W\d_]{2,}|(?:[\w-]+\.)+xn--[\w-]+", re.UNICODE)
_WA_ME = re.compile(r"(?:https?://)?(?:www\.)?wa\.me/\+?([0-9]{7,15})/?(\?\S*)?", re.IGNORECASE)


# --- validation ----------------------------------------------------------------------------------


def clean_line(text: str, minimum: int, maximum: int) -> str:
    """One line of text: trimmed, inner whitespace (line breaks too) folded to single spaces,
    `minimum`–`maximum` characters."""
    value = " ".join(text.split())
    if not value:
        raise InvalidInput(Problem.EMPTY, minimum=minimum, maximum=maximum, length=0)
    if len(value) < minimum:
        raise InvalidInput(Problem.TOO_SHORT, minimum=minimum, maximum=maximum, length=len(value))
    if len(value) > maximum:
        raise InvalidInput(Problem.TOO_LONG, minimum=minimum, maximum=maximum, length=len(value))
    return value


def clean_person_name(text: str) -> str:
    """A person's name: 2–255 characters, trimmed, whitespace folded."""
    return clean_line(text, NAME_MIN, NAME_MAX)


def clean_phone(text: str) -> str:
    """A Kazakhstan number in any common spelling («8 777 123 45 67», «+7 (777) 123-45-67»,
    «7771234567») as +7XXXXXXXXXX."""
    try:
        return normalize_phone(text)
    except ValueError:
        raise InvalidInput(Problem.PHONE) from None


def clean_bio(text: str) -> str:
    """Up to 1000 characters, line breaks kept; «-» (or nothing) clears it: ""."""
    value = text.replace("\r\n", "\n").strip()
    if value in CLEAR_MARKS:
        return ""
    if len(value) > BIO_MAX:
        raise InvalidInput(Problem.TOO_LONG, maximum=BIO_MAX, length=len(value))
    return value


def clean_link(field: ShopField, text: str) -> str:
    """Instagram or Telegram: an https:// link as typed, or an @handle made into the profile link."""
    site = _HANDLES.get(field)
    if site is None:
        raise ValueError(f"{field} is not a link field")
    value = text.strip()
    if value.startswith("@"):
        pattern, base = site
        if not pattern.fullmatch(value[1:]):
            raise InvalidInput(Problem.LINK)
        return base + value[1:]
    if len(value) > LINK_MAX:
        raise InvalidInput(Problem.TOO_LONG, maximum=LINK_MAX, length=len(value))
    if not _is_https_link(value):
        raise InvalidInput(Problem.LINK)
    return value


def _is_https_link(value: str) -> bool:
    if value[:8].lower() != "https://" or any(ch.isspace() or not ch.isprintable() for ch in value):
        return False
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # a malformed port or IPv6 literal
        return False
    return port_ok and not parts.username and bool(_HOST.fullmatch(host))


def clean_whatsapp(text: str) -> str:
    """A phone (→ +7XXXXXXXXXX) or a wa.me link (→ https://wa.me/<digits>)."""
    value = text.strip()
    try:
        return normalize_phone(value)
    except ValueError:
        pass
    match = _WA_ME.fullmatch(value)
    if match is None:
        raise InvalidInput(Problem.WHATSAPP)
    return f"https://wa.me/{match[1]}{match[2] or ''}"


def clean_profile_value(field: ProfileField, text: str) -> str:
    """What a person typed for a profile field, ready to save (position is picked, not typed)."""
    if field is ProfileField.NAME:
        return clean_person_name(text)
    if field is ProfileField.PHONE:
        return clean_phone(text)
    if field is ProfileField.BIO:
        return clean_bio(text)
    raise InvalidInput(Problem.POSITION)


def clean_shop_value(field: ShopField, text: str) -> str | None:
    """What the owner typed for a shop field, ready to save; None clears a social link («-»)."""
    if field in SOCIAL_FIELDS and text.strip() in CLEAR_MARKS:
        return None
    if field is ShopField.PHONE:
        return clean_phone(text)
    if field is ShopField.WHATSAPP:
        return clean_whatsapp(text)
    if field in _HANDLES:
        return clean_link(field, text)
    minimum, maximum = SHOP_TEXT_LIMITS[field]
    return clean_line(text, minimum, maximum)


def may_edit_position(role: Role) -> bool:
    return role is Role.OWNER


def positions_of(profile: Profile) -> list[str]:
    """The positions the server offers, or the spec's when it sends none."""
    return list(profile.positions) or list(SPEC_POSITIONS)


# --- profile -------------------------------------------------------------------------------------


class ProfileService:
    """GET/PUT /api/v2/profile, and the person's display name in the bot."""

    def __init__(self, crm: CrmApi, staff: StaffRepository) -> None:
        self._crm = crm
        self._staff = staff

    async def get(self) -> Profile:
        return await self._crm.get_profile()

    async def save(self, telegram_id: int, role: Role, field: ProfileField, value: str) -> Profile:
        """Change one field: re-read the profile (someone may have changed it meanwhile), PUT all
        four fields with the new value, rename the person in the bot when the name changed.
        Raises NotAllowed, InvalidInput (a position the server does not offer), ApiError."""
        if not can(role, Permission.PROFILE) or (
            field is ProfileField.POSITION and not may_edit_position(role)
        ):
            raise NotAllowed(field.value)
        current = await self._crm.get_profile()
        if field is ProfileField.POSITION and value not in positions_of(current):
            raise InvalidInput(Problem.POSITION)
        fields = {
            "name": current.name or "",
            "phone": current.phone or "",
            "position": current.position or "",
            "bio": current.bio or "",
            field.value: value,
        }
        try:
            updated = await self._crm.update_profile(**fields)
        except ApiUnknownOutcome:
            # The PUT may have landed: believe the server's current state, not the timeout.
            updated = await self._reread(field, value)
        if field is ProfileField.NAME:
            await self.rename(telegram_id, updated.name or value)
        return updated

    async def _reread(self, field: ProfileField, value: str) -> Profile:
        unknown = ApiUnknownOutcome("profile save timed out", backend="crm", endpoint="PUT /api/v2/profile")
        try:
            after = await self._crm.get_profile()
        except ApiError:
            raise unknown from None
        if (getattr(after, field.value) or "") != value:
            raise unknown
        return after

    async def rename(self, telegram_id: int, name: str) -> None:
        """The person's display name in the bot (lists, «who did it»), as the profile says."""
        member = await self._staff.get(telegram_id)
        if member is None or member.name == name:
            return  # only people the bot knows are renamed, never created here
        await self._staff.upsert(telegram_id, name=name)
        log.info("staff %s renamed from their profile", telegram_id)


# --- shop info -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShopOverview:
    info: ShopInfo
    shops: list[Shop] | None  # the cvety.kz shops the token serves; None when cvety.kz did not answer


def shop_payload(current: ShopInfo, field: ShopField, value: str | None) -> dict[str, Any]:
    """PUT body: every field the shop has now, with `field` changed (social links as one object)."""
    body: dict[str, Any] = {
        key: getattr(current, key)
        for key in ("name", "address", "phone", "working_hours", "city")
        if getattr(current, key) is not None
    }
    social: dict[str, Any] = current.social.model_dump()
    if field in SOCIAL_FIELDS:
        social[field.value] = value
    else:
        body[field.value] = value
    body["social_media"] = social
    return body


def shop_value(info: ShopInfo, field: ShopField) -> str | None:
    if field in SOCIAL_FIELDS:
        value: str | None = getattr(info.social, field.value)
    else:
        value = getattr(info, field.value)
    return value


class ShopService:
    """GET/PUT /api/v2/shop-info, and which cvety.kz shop the API token serves."""

    def __init__(self, crm: CrmApi, cvety: CvetyApi) -> None:
        self._crm = crm
        self._cvety = cvety

    async def overview(self) -> ShopOverview:
        """Shop info and the cvety.kz shop list, asked concurrently; only the info must answer."""
        shops = asyncio.create_task(self._shops())
        try:
            info = await self._crm.get_shop_info()
        except BaseException:
            shops.cancel()
            raise
        return ShopOverview(info, await shops)

    async def _shops(self) -> list[Shop] | None:
        try:
            return await self._cvety.list_shops()
        except ApiError as exc:
            log.warning("shop list unavailable: %s", type(exc).__name__)
            return None

    async def save(self, role: Role, field: ShopField, value: str | None) -> ShopOverview:
        """Change one field (owner only): re-read, PUT every field with the new value.
        Raises NotAllowed or ApiError; the shop list is fetched meanwhile for the card."""
        if not can(role, Permission.SHOP_EDIT):
            raise NotAllowed(field.value)
        shops = asyncio.create_task(self._shops())
        try:
            current = await self._crm.get_shop_info()
            try:
                info = await self._crm.update_shop_info(**shop_payload(current, field, value))
            except ApiUnknownOutcome:
                info = await self._reread(field, value)
        except BaseException:
            shops.cancel()
            raise
        return ShopOverview(info, await shops)

    async def _reread(self, field: ShopField, value: str | None) -> ShopInfo:
        unknown = ApiUnknownOutcome(
            "shop info save timed out", backend="crm", endpoint="PUT /api/v2/shop-info"
        )
        try:
            after = await self._crm.get_shop_info()
        except ApiError:
            raise unknown from None
        if shop_value(after, field) != value:
            raise unknown
        return after
