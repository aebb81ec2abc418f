"""Pure parsers for the values the two backends (and people) send us.

The lenient ones (`parse_*` except `parse_user_price`) never raise: server data is messy and one
odd field must not hide a whole order. The strict ones (`parse_user_price`, `normalize_phone`)
are for what a person typed and raise `ValueError` with a short reason.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

SHOP_TZ = ZoneInfo("Asia/Almaty")
DEFAULT_CURRENCY = "KZT"

# str.isspace() misses the zero-width ones, which do turn up in copied prices and phones.
_SPACES = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]+")
# Invisible marks that come along when a phone number is copied from contacts or a messenger
# ("\u202a+7 777 …\u202c"): zero-width characters and bidirectional controls.
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def _squeeze(text: str) -> str:
    return _SPACES.sub("", text)


def drop_invisible(text: str) -> str:
    """`text` without zero-width characters and bidirectional marks (see `_INVISIBLE`)."""
    return _INVISIBLE.sub("", text)


def _finite(number: float | Decimal) -> bool:
    return number.is_finite() if isinstance(number, Decimal) else math.isfinite(number)


# --- money -------------------------------------------------------------------------------------


class Money(BaseModel):
    """An amount in whole units of `currency`, so that 65 USD is never shown as 65 ₸."""

    model_config = ConfigDict(frozen=True)

    amount: int
    currency: str = DEFAULT_CURRENCY


_CURRENCY_ALIASES = {
    "₸": "KZT",
    "тг": "KZT",
    "тнг": "KZT",
    "тенге": "KZT",
    "kzt": "KZT",
    "$": "USD",
    "usd": "USD",
    "€": "EUR",
    "eur": "EUR",
    "₽": "RUB",
    "руб": "RUB",
    "р": "RUB",
    "rub": "RUB",
}


def _currency_code(text: str) -> str | None:
    """Currency code for a symbol or name; None when the text is not a currency at all."""
    key = _squeeze(text).strip(".").lower()
    if key in _CURRENCY_ALIASES:
        return _CURRENCY_ALIASES[key]
    if re.fullmatch(r"[a-z]{3}", key):
        return key.upper()
    return None


def _whole_units(number: Decimal) -> int | None:
    try:
        return int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except (InvalidOperation, OverflowError, ValueError):
        return None


def _valid_groups(token: str, separator: str) -> bool:
    head, *groups = token.split(separator)
    return 1 <= len(head) <= 3 and all(len(group) == 3 for group in groups)


def _parse_number_token(token: str) -> Decimal | None:
    """Digits with `.`/`,` used either as grouping or as the decimal mark.

    A single separator followed by exactly three digits is grouping ("12,990", "12.990"): prices
    in tenge have no thousandths, so "12.990" meaning 12.99 is the less likely reading.
    """
    token = token.rstrip(".,")
    dots, commas = token.count("."), token.count(",")
    try:
        if dots and commas:
            decimal_mark = "." if token.rfind(".") > token.rfind(",") else ","
            grouping = "," if decimal_mark == "." else "."
            whole, _, fraction = token.rpartition(decimal_mark)
            if decimal_mark in whole or not _valid_groups(whole, grouping):
                return None
            return Decimal(whole.replace(grouping, "") + "." + fraction)
        if dots or commas:
            separator = "." if dots else ","
            parts = token.split(separator)
            if len(parts) > 2 or len(parts[-1]) == 3:
                return Decimal(token.replace(separator, "")) if _valid_groups(token, separator) else None
            return Decimal(parts[0] + "." + parts[1])
        return Decimal(token)
    except InvalidOperation:
        return None


_MONEY_TEXT = re.compile(r"(?P<before>[^0-9+\-]*)(?P<number>[0-9][0-9.,]*)(?P<after>[^0-9]*)")


def parse_money(value: object, currency: object = None) -> Money | None:
    """Amount and currency from "12 990 ₸", "65 USD", "12990", 12990.0…; None for garbage.

    `currency` is the item's separate currency field, used when the text itself names none.
    """
    default = _currency_code(currency) if isinstance(currency, str) else None
    default = default or DEFAULT_CURRENCY
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Money(amount=value, currency=default) if value >= 0 else None
    if isinstance(value, float | Decimal):
        if not _finite(value) or value < 0:
            return None
        amount = _whole_units(Decimal(str(value)))
        return Money(amount=amount, currency=default) if amount is not None else None
    if not isinstance(value, str):
        return None
    text = _squeeze(html.unescape(value))
    match = _MONEY_TEXT.fullmatch(text)
    if match is None:
        return None
    before, after = match["before"], match["after"]
    if before and after:
        return None
    code = default
    if before or after:
        found = _currency_code(before or after)
        if found is None:
            return None
        code = found
    number = _parse_number_token(match["number"])
    amount = _whole_units(number) if number is not None else None
    return Money(amount=amount, currency=code) if amount is not None else None


def parse_price(value: object) -> int | None:
    """Whole tenge, or None (also for prices in another currency: see `parse_money`)."""
    money = parse_money(value)
    if money is None or money.currency != DEFAULT_CURRENCY:
        return None
    return money.amount


def parse_user_price(text: str) -> int:
    """Whole non-negative tenge from what a person typed ("25 000", "25000тг"); ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError("not text")
    squeezed = _squeeze(text).lower()
    if not squeezed:
        raise ValueError("empty")
    match = re.fullmatch(r"(?P<number>[0-9]+)(?P<currency>[^0-9]*)", squeezed)
    if match is None:
        if squeezed.startswith("-"):
            raise ValueError("negative")
        if re.fullmatch(r"[0-9]+[.,][0-9]*\D*", squeezed):
            raise ValueError("not a whole number")
        raise ValueError("not a number")
    if match["currency"] and _currency_code(match["currency"]) != DEFAULT_CURRENCY:
        raise ValueError("not a number of tenge")
    digits = match["number"].lstrip("0") or "0"
    if len(digits) > 15:
        raise ValueError("too large")
    return int(digits)


# --- numbers and flags -------------------------------------------------------------------------


def parse_int(value: object) -> int | None:
    """Lenient whole number: 12, "12", " 1 200 ", "12.0", 12.0; None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        if not _finite(value) or value != int(value):
            return None
        return int(value)
    if not isinstance(value, str):
        return None
    match = re.fullmatch(r"([+-]?[0-9]{1,30})(?:\.0*)?", _squeeze(value))
    return int(match[1]) if match else None


_TRUE = {"y", "yes", "true", "1", "on", "да"}
_FALSE = {"n", "no", "false", "0", "off", "нет"}


def parse_bool(value: object) -> bool | None:
    """True/False from "Y"/"N", "1"/"0", 1/0, "true"/"false", booleans; None when unclear."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return {1: True, 0: False}.get(value)
    if isinstance(value, str):
        key = value.strip().lower()
        if key in _TRUE:
            return True
        if key in _FALSE:
            return False
    return None


# --- phones ------------------------------------------------------------------------------------


def normalize_phone(text: str) -> str:
    """A Kazakhstan number in any common spelling as +7XXXXXXXXXX; ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError("not text")
    stripped = drop_invisible(text).strip()
    if not stripped:
        raise ValueError("empty")
    if not re.fullmatch(r"\+?[0-9\s().\-]+", stripped):
        raise ValueError("unexpected characters")
    digits = re.sub(r"[^0-9]", "", stripped)
    if stripped.startswith("+"):
        if len(digits) != 11 or digits[0] != "7":
            raise ValueError("not a Kazakhstan number")
        national = digits[1:]
    elif len(digits) == 11 and digits[0] in "78":
        national = digits[1:]
    elif len(digits) == 10:
        national = digits
    else:
        raise ValueError("wrong length")
    # +7 is shared with Russia; Kazakhstan's numbers are +7 6xx and +7 7xx.
    if national[0] not in "67":
        raise ValueError("not a Kazakhstan number")
    return "+7" + national


def parse_phone(value: object) -> str | None:
    """Server phone: normalised when possible, else the stripped original; None when empty."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return normalize_phone(value)
    except ValueError:
        return value.strip()


# --- dates -------------------------------------------------------------------------------------

_DATETIME_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y")
# "0000-00-00", "00.00.0000" and "-0001-11-30" are PHP's ways of saying "no date".
_MIN_YEAR = 1900


def _naive_or_aware(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def parse_datetime(value: object, tz: ZoneInfo = SHOP_TZ) -> datetime | None:
    """Aware datetime in `tz` from ISO (with +05:00, +0500, Z or naive = shop time) or
    dd.mm.yyyy[ HH:MM[:SS]]; None for empty, zero and nonsense dates."""
    if isinstance(value, datetime):
        moment: datetime | None = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    elif isinstance(value, str):
        moment = _naive_or_aware(value.strip())
    else:
        return None
    if moment is None or moment.year < _MIN_YEAR:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=tz)
    try:
        return moment.astimezone(tz)
    except (OverflowError, ValueError):
        return None


def parse_date(value: object, tz: ZoneInfo = SHOP_TZ) -> date | None:
    """A calendar date from yyyy-mm-dd, dd.mm.yyyy or any datetime `parse_datetime` accepts
    (taken in the shop's time zone); None otherwise."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value if value.year >= _MIN_YEAR else None
    if isinstance(value, str):
        text = value.strip()
        # A bare date must not be shifted by a time zone conversion.
        for parse in (date.fromisoformat, lambda s: datetime.strptime(s, "%d.%m.%Y").date()):
            try:
                day = parse(text)
            except ValueError:
                continue
            return day if day.year >= _MIN_YEAR else None
    moment = parse_datetime(value, tz)
    return moment.date() if moment is not None else None


# --- order statuses ----------------------------------------------------------------------------


class OrderStatus(StrEnum):
    NEW = "N"
    PAID = "PD"
    ACCEPTED = "AP"
    ASSEMBLED = "CO"
    IN_DELIVERY = "DE"
    FINISHED = "F"
    CANCELLED = "UN"
    REFUNDED = "RF"


# Keys are lower-case with "-" read as "_". Beware: "D" is finished but "DE" in delivery,
# "C" cancelled but "CO" assembled, and "completed" is finished, not the spec's "CO".
_STATUS_ALIASES = {
    "n": "N",
    "new": "N",
    "pd": "PD",
    "paid": "PD",
    "ap": "AP",
    "accepted": "AP",
    "confirmed": "AP",
    "co": "CO",
    "as": "CO",
    "assembled": "CO",
    "in_production": "CO",
    "de": "DE",
    "id": "DE",
    "in_delivery": "DE",
    "in_transit": "DE",
    "f": "F",
    "d": "F",
    "finished": "F",
    "completed": "F",
    "delivered": "F",
    "un": "UN",
    "c": "UN",
    "cancelled": "UN",
    "canceled": "UN",
    "rf": "RF",
    "refunded": "RF",
}


def normalize_status(value: object) -> str:
    """The spec's code for any spelling in the contract; unknown codes stripped and upper-cased."""
    if value is None or isinstance(value, bool):
        return ""
    text = str(value).strip()
    return _STATUS_ALIASES.get(text.lower().replace("-", "_"), text.upper())


def known_status(code: object) -> OrderStatus | None:
    normalized = normalize_status(code)
    return OrderStatus(normalized) if normalized in OrderStatus._value2member_map_ else None


# --- images ------------------------------------------------------------------------------------


def site_origin(url: str) -> str:
    """scheme://host[:port] of a URL: cvety.kz serves images from its site, not from /api/v2."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # "http://[abc": a malformed IPv6 literal
        return ""
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}" if parts.scheme and host else ""


def absolute_url(path: object, origin: str | None) -> str | None:
    """An image URL the person's phone can open: relative paths get the site origin."""
    if not isinstance(path, str) or not path.strip():
        return None
    path = path.strip()
    if path.startswith("//"):
        return "https:" + path
    if re.match(r"[A-Za-z][A-Za-z0-9+.\-]*://", path) or path.startswith("data:") or not origin:
        return path
    return origin.rstrip("/") + "/" + path.lstrip("/")


# --- delivery slots ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliverySlot:
    """A decoded delivery time. `label_key` tells the UI how to word it: "asap", "range"
    (start–end; an `end` of 00:00 means midnight), "by" (before `end`) or "text" (show `raw`)."""

    code: str | None
    start: time | None
    end: time | None
    label_key: str
    raw: str


_SLOT_CODES: dict[str, tuple[time | None, time | None, str]] = {
    "0": (None, None, "asap"),
    "1": (time(8), time(12), "range"),
    "2": (time(12), time(16), "range"),
    "3": (time(16), time(20), "range"),
    "4": (time(20), time(0), "range"),
    "5": (None, time(10), "by"),
}
_TIME_RANGE = re.compile(r"([01]?\d|2[0-3])[:.]([0-5]\d)\s*[-–—]\s*([01]?\d|2[0-4])[:.]([0-5]\d)")
# How the list items spell the codes' meaning ("до 10:00", "Как можно скорее"): read, never shown.
_BY_TIME = re.compile(r"(?:до|by)\s*([01]?\d|2[0-3])[:.]([0-5]\d)", re.IGNORECASE)
_ASAP_TEXTS = frozenset({"как можно скорее", "asap"})


def decode_delivery_slot(code: object) -> DeliverySlot | None:
    """The shop engine's `deliveryType` slot code ("0"…"5") or free text; None when empty."""
    if isinstance(code, int) and not isinstance(code, bool):
        code = str(code)
    if not isinstance(code, str) or not code.strip():
        return None
    raw = code.strip()
    if raw in _SLOT_CODES:
        start, end, label_key = _SLOT_CODES[raw]
        return DeliverySlot(code=raw, start=start, end=end, label_key=label_key, raw=raw)
    match = _TIME_RANGE.fullmatch(raw)
    if match:
        h1, m1, h2, m2 = (int(group) for group in match.groups())
        if h2 == 24 and m2:
            return DeliverySlot(code=None, start=None, end=None, label_key="text", raw=raw)
        return DeliverySlot(code=None, start=time(h1, m1), end=time(h2 % 24, m2), label_key="range", raw=raw)
    by_time = _BY_TIME.fullmatch(raw)
    if by_time:
        return DeliverySlot(
            code=None, start=None, end=time(int(by_time[1]), int(by_time[2])), label_key="by", raw=raw
        )
    if raw.lower() in _ASAP_TEXTS:
        return DeliverySlot(code=None, start=None, end=None, label_key="asap", raw=raw)
    # An unknown number is still a code (worth keeping), but only its text can be shown.
    return DeliverySlot(code=raw if raw.isdigit() else None, start=None, end=None, label_key="text", raw=raw)


def sniff_image_type(content: bytes) -> str | None:
    """The MIME type of a JPEG, PNG or WebP image by its magic bytes; None for anything else
    (a file's name or declared type says nothing about what is inside)."""
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(content) >= 12 and content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return None
