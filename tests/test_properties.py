"""Property-based tests for every parser of the bot: what people type, what the two APIs send, and
what comes back in callback data. Each parser either returns a value that keeps its invariants or
raises only its documented error; where a formatter exists, format → parse gives the value back.

Deterministic (derandomized, no example database): a failure found here is found on every run.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import string
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, User
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import services.models as models_module
from bot.config import QuietHours, SettingsError, load_settings
from handlers.orders import ORDER_NUMBER
from services import catalog, inventory, parsing, people, profile, showcase, staff
from services.alerts import AlertKind
from services.inventory import MAX_PRICE, MAX_STEMS, InputError, LineStatus
from services.models import (
    AllowedStatuses,
    ApiModel,
    BulkUpdateResult,
    Colleague,
    ColleagueList,
    CompositionItem,
    Customer,
    DeleteResult,
    Executor,
    Flower,
    FlowerDelivery,
    FlowerWriteOff,
    InventoryChange,
    InventoryUpdate,
    LowStockReport,
    Movement,
    Order,
    OrderHistoryEntry,
    OrderItem,
    Person,
    Product,
    Profile,
    Shop,
    ShopInfo,
    StatusChange,
    StockProduct,
    UploadResult,
    items_of,
)
from services.orders import Tab
from services.outbox import Outbox
from services.parsing import SHOP_TZ, Money, OrderStatus
from services.profile import InvalidInput, ProfileField, ShopField
from services.roles import Role
from services.showcase import ShowcaseInputError
from views.callbacks import (
    AlertsCb,
    CatalogCb,
    ColleagueCb,
    CustomerCb,
    FlowCb,
    InviteCb,
    LanguageCb,
    OrderCb,
    OrderListCb,
    ProfileCb,
    ShopCb,
    ShowcaseCb,
    StockCb,
    StocktakeCb,
)
from views.i18n import LANGUAGES, make_i18n
from views.inventory import WRITEOFF_REASONS
from views.orders import CANCEL_REASONS, format_day, format_money, format_slot
from views.showcase import ALBUM_MAX, ALBUM_REACH, Album, size_text, unpack_album

settings.register_profile(
    "cvety-properties",
    deadline=None,
    derandomize=True,
    database=None,
    max_examples=100,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PROFILE = settings.get_profile("cvety-properties")

T = TypeVar("T")
PHONE_RE = re.compile(r"\+7[67][0-9]{9}")

# --- shared strategies ---------------------------------------------------------------------------

# Digits other than 0-9 that `\d` and int() accept, and some that only str.isdigit() does.
UNICODE_DIGITS = "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹०१२३४५६७८९０１２３４５６７８９𝟎𝟏𝟐𝟗²³¹⁴₂①"
SPACES = " \u00a0\u2009\u202f\u200b\u200c\u2060\ufeff\t\n\r\x0b\x0c\u3000\u200e\u202a\u202c"
PUNCTUATION = "+-−–—.,()#№:;/xх×*₸$€₽&%'\"@_!?"
LETTERS = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВЕЁКМНОРСТУХЪЬКZTUSDEURabcdefnNoOIıſK"
MESSY_ALPHABET = string.digits * 3 + UNICODE_DIGITS + SPACES + PUNCTUATION + LETTERS

INTERESTING = [
    "",
    " ",
    "0",
    "1",
    "-1",
    "00",
    "12 990 ₸",
    "7&nbsp;500 ₸",
    "7&#160;500&nbsp;₸",
    "65 USD",
    "$65",
    "12,990",
    "12.990",
    "12.99",
    "1,234.50",
    "1.234,50",
    "1e9",
    "NaN",
    "inf",
    "-0",
    "9" * 40,
    "²",
    "٣",
    "+7 (777) 123-45-67",
    "8 777 123 45 67",
    "\u202a+7 777 123 4567\u202c",
    "24.10.2025",
    "24.10.2025 10:11:12",
    "24.10.2025 10:11",
    "00.00.0000",
    "0000-00-00",
    "-0001-11-30",
    "-0001-11-30T00:00:00+0500",
    "2025-09-26T14:59:39+0500",
    "2025-09-26T14:59:39+05:00",
    "2025-09-26T14:59:39Z",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00",
    "2025-W40-1",
    "20251024",
    "31.02.2025",
    "08:00-12:00",
    "20:00–24:00",
    "20:00-24:30",
    "до 10:00",
    "Как можно скорее",
    "asap",
    "in-transit",
    "IN_DELIVERY",
    "completed",
    "Y",
    "N",
    "true",
    "да",
    "/upload/a.jpg",
    "//cdn.cvety.kz/a.jpg",
    "https://cvety.kz/a.jpg",
    "data:image/png;base64,AAAA",
    "http://[::1",
    "http://[abc",
    "a:b",
    "Asia",
]

messy_text = st.text(alphabet=MESSY_ALPHABET, max_size=40)
any_text = st.one_of(st.text(max_size=60), messy_text, st.sampled_from(INTERESTING))
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    any_text,
)

# Every key the models read, taken from their source, so random objects do hit the mappings.
MODEL_KEYS = sorted(set(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', Path(models_module.__file__).read_text())))
json_keys = st.one_of(st.sampled_from(MODEL_KEYS), st.text(max_size=6))
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(json_keys, children, max_size=6)
    ),
    max_leaves=25,
)
json_objects = st.dictionaries(json_keys, json_values, max_size=14)
# The lenient parsers also meet Python values (from the sandbox, from the models' own fields).
lenient_inputs = st.one_of(
    json_values,
    st.decimals(min_value=-(10**20), max_value=10**20),
    st.sampled_from([Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity")]),
    st.floats(),
    st.dates(),
    st.datetimes(
        timezones=st.sampled_from(
            [None, UTC, SHOP_TZ, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12))]
        )
    ),
    st.binary(max_size=8),
)

OTHER_CURRENCIES = ["USD", "EUR", "RUB"]
grouping_spaces = st.sampled_from([" ", "\u00a0", "\u2009", "\u202f", "&nbsp;", "&#160;", ""])


@st.composite
def phone_spellings(draw: st.DrawFn) -> tuple[str, str]:
    """(a Kazakhstan number as +7XXXXXXXXXX, one way a person or a server spells it)."""
    national = draw(st.from_regex(r"[67][0-9]{9}", fullmatch=True))
    prefix = draw(st.sampled_from(["+7", "8", "7", "", "+ 7"]))
    cuts = draw(st.sampled_from([(3, 6, 8), (3, 6), (3,), (), (1, 4, 7), (3, 5, 7)]))
    parts = [national[a:b] for a, b in zip((0, *cuts), (*cuts, 10), strict=True)]
    if draw(st.booleans()):
        parts[0] = f"({parts[0]})"
    separator = draw(st.sampled_from([" ", "-", "", " - ", ".", "\u00a0", "  "]))
    after_prefix = draw(st.sampled_from([" ", "", "-"])) if prefix else ""
    padding = draw(st.sampled_from(["", " ", "\n", "\u200b", "\ufeff", "\u200e"]))
    text = padding + prefix + after_prefix + separator.join(parts) + padding.strip("\n")
    if draw(st.booleans()):  # copied from a phone's contacts: wrapped in bidi marks
        text = "\u202a" + text + "\u202c"
    return "+7" + national, text


def only_raises(
    error: type[BaseException] | tuple[type[BaseException], ...], call: Callable[[], T]
) -> T | None:
    """The call's result, or None when it raised `error`; anything else fails the test."""
    try:
        return call()
    except error:
        return None


@contextmanager
def russian() -> Iterator[None]:
    i18n = make_i18n()
    with i18n.context(), i18n.use_locale("ru"):
        yield


# === services/parsing.py ========================================================================


@settings(PROFILE, max_examples=140)
@given(lenient_inputs, st.one_of(st.none(), any_text, st.integers()))
@example("12 990 ₸", None)
@example(Decimal("sNaN"), "usd")
@example(1e308, None)
def test_parse_money_never_raises(value: object, currency: object) -> None:
    money = parsing.parse_money(value, currency)
    assert money is None or isinstance(money, Money)
    if money is not None:
        assert isinstance(money.amount, int) and money.amount >= 0
        assert re.fullmatch(r"[A-Z]{3}", money.currency)
    price = parsing.parse_price(value)
    assert price is None or (isinstance(price, int) and price >= 0)


@settings(PROFILE, max_examples=105)
@given(
    st.integers(min_value=0, max_value=10**15),
    st.sampled_from(["KZT", *OTHER_CURRENCIES]),
    grouping_spaces,
    st.sampled_from(["₸", "тг", "тенге", "KZT", "kzt"]),
)
def test_money_round_trips_through_the_formats(amount: int, currency: str, space: str, tenge: str) -> None:
    # as the bot shows it
    assert parsing.parse_money(format_money(amount, currency)) == Money(amount=amount, currency=currency)
    # as the API sends it: "12 990 ₸", "7&nbsp;500 ₸", "65 USD", a bare number with a currency field
    grouped = f"{amount:,}".replace(",", space)
    assert parsing.parse_money(f"{grouped} {tenge}") == Money(amount=amount, currency="KZT")
    assert parsing.parse_money(f"{grouped}{space}{currency}") == Money(amount=amount, currency=currency)
    assert parsing.parse_money(str(amount), currency) == Money(amount=amount, currency=currency)
    assert parsing.parse_money(amount, currency.lower()) == Money(amount=amount, currency=currency)
    assert parsing.parse_money(f"{amount}.00") == Money(amount=amount, currency="KZT")
    assert parsing.parse_price(f"{grouped} ₸") == amount
    assert parsing.parse_price(f"{amount} {currency}") == (amount if currency == "KZT" else None)


@settings(PROFILE, max_examples=140)
@given(st.one_of(any_text, st.text(alphabet=string.digits + " ₸тг.,-+", max_size=25)))
@example("²")
@example("0-")
@example("9" * 16)
def test_parse_user_price_raises_only_value_error(text: str) -> None:
    price = only_raises(ValueError, lambda: parsing.parse_user_price(text))
    assert price is None or (isinstance(price, int) and 0 <= price < 10**15)


@settings(PROFILE, max_examples=70)
@given(
    st.integers(min_value=0, max_value=10**14),
    grouping_spaces,
    st.sampled_from(["", "тг", " ₸", "₸", " kzt"]),
)
def test_user_price_round_trip(amount: int, space: str, tenge: str) -> None:
    if "&" in space:
        space = " "
    assert parsing.parse_user_price(f"{amount:,}".replace(",", space) + tenge) == amount
    assert parsing.parse_user_price(format_money(amount)) == amount


@settings(PROFILE, max_examples=105)
@given(lenient_inputs)
def test_parse_int_and_bool_never_raise(value: object) -> None:
    number = parsing.parse_int(value)
    assert number is None or (isinstance(number, int) and not isinstance(number, bool))
    flag = parsing.parse_bool(value)
    assert flag is None or isinstance(flag, bool)


@settings(PROFILE, max_examples=70)
@given(st.integers(min_value=-(10**29), max_value=10**29), grouping_spaces)
def test_parse_int_round_trip(number: int, space: str) -> None:
    if "&" in space:
        space = " "
    assert parsing.parse_int(number) == number
    assert parsing.parse_int(str(number)) == number
    assert parsing.parse_int(f" {number:,} ".replace(",", space)) == number
    assert parsing.parse_int(f"{number}.0") == number
    if abs(number) < 2**53:
        assert parsing.parse_int(float(number)) == number


@settings(PROFILE, max_examples=140)
@given(st.one_of(any_text, st.text(alphabet=string.digits + "+-() .\u00a0\u200b", max_size=20)))
def test_normalize_phone_raises_only_value_error(text: str) -> None:
    phone = only_raises(ValueError, lambda: parsing.normalize_phone(text))
    if phone is not None:
        assert PHONE_RE.fullmatch(phone)
        assert parsing.normalize_phone(phone) == phone  # idempotent


@settings(PROFILE, max_examples=140)
@given(phone_spellings())
@example(("+77771234567", "\u202a+7 777 123 4567\u202c"))  # copied from Android contacts
@example(("+77771234567", "+7 777 123 45 67\u200b"))
def test_every_phone_spelling_normalises_to_the_same_number(case: tuple[str, str]) -> None:
    expected, text = case
    assert parsing.normalize_phone(text) == expected
    assert parsing.parse_phone(text) == expected
    assert profile.clean_phone(text) == expected
    assert profile.clean_whatsapp(text) == expected
    query = catalog.parse_customer_query(text)
    assert query.kind is catalog.QueryKind.PHONE and query.phone == expected


@settings(PROFILE, max_examples=105)
@given(lenient_inputs)
def test_parse_phone_never_raises(value: object) -> None:
    phone = parsing.parse_phone(value)
    assert phone is None or (isinstance(phone, str) and phone == phone.strip() and phone)


@settings(PROFILE, max_examples=175)
@given(lenient_inputs)
@example("0001-01-01T00:00:00+14:00")
@example("9999-12-31T23:59:59-12:00")
@example(datetime(9999, 12, 31, 23, tzinfo=timezone(-timedelta(hours=12))))
def test_dates_never_raise(value: object) -> None:
    moment = parsing.parse_datetime(value)
    assert moment is None or (isinstance(moment, datetime) and moment.tzinfo is not None)
    day = parsing.parse_date(value)
    assert day is None or (type(day) is date and day.year >= 1899)


@settings(PROFILE, max_examples=105)
@given(
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9999, 12, 30)),
    st.sampled_from([UTC, SHOP_TZ, timezone(timedelta(hours=5)), timezone(timedelta(hours=-3, minutes=-30))]),
)
def test_datetimes_round_trip_in_every_server_format(naive: datetime, tz: timezone | ZoneInfo) -> None:
    naive = naive.replace(microsecond=0)
    aware = naive.replace(tzinfo=tz)
    for text in (aware.isoformat(), aware.strftime("%Y-%m-%dT%H:%M:%S%z")):
        parsed = parsing.parse_datetime(text)
        assert parsed == aware and parsed is not None and parsed.tzinfo == SHOP_TZ
    # naive and dd.mm.yyyy texts are shop time
    shop_time = naive.replace(tzinfo=SHOP_TZ)
    assert parsing.parse_datetime(naive.isoformat()) == shop_time
    assert parsing.parse_datetime(f"{naive:%d.%m.%Y %H:%M:%S}") == shop_time
    assert parsing.parse_datetime(f"{naive:%d.%m.%Y %H:%M}") == shop_time.replace(second=0)


@settings(PROFILE, max_examples=105)
@given(st.dates(min_value=date(1900, 1, 1)), st.dates(min_value=date(1900, 1, 1)))
def test_dates_round_trip(day: date, today: date) -> None:
    assert parsing.parse_date(day.isoformat()) == day
    assert parsing.parse_date(f"{day:%d.%m.%Y}") == day
    assert parsing.parse_date(f" {day:%d.%m.%Y} ") == day
    with russian():
        shown = format_day(day, today)
    if abs((day - today).days) > 1:  # «сегодня», «завтра», «вчера» are words
        assert parsing.parse_date(shown) == day


STATUS_SPELLINGS = {
    "N": ["N", "new", "NEW"],
    "PD": ["PD", "paid", "PAID"],
    "AP": ["AP", "accepted", "ACCEPTED", "confirmed"],
    "CO": ["CO", "assembled", "in_production", "IN_PRODUCTION", "AS"],
    "DE": ["DE", "in-transit", "in_delivery", "IN_DELIVERY", "ID"],
    "F": ["F", "completed", "delivered", "DELIVERED", "D"],
    "UN": ["UN", "cancelled", "CANCELLED", "C"],
    "RF": ["RF", "refunded"],
}


@settings(PROFILE, max_examples=105)
@given(
    st.one_of(lenient_inputs, st.sampled_from([s for ss in STATUS_SPELLINGS.values() for s in ss])),
    st.sampled_from(["", " ", "\n"]),
)
def test_statuses_never_raise_and_every_vocabulary_maps_to_the_spec(value: object, pad: str) -> None:
    code = parsing.normalize_status(value)
    assert isinstance(code, str) and code == code.strip()
    status = parsing.known_status(value)
    assert status is None or isinstance(status, OrderStatus)
    for canonical, spellings in STATUS_SPELLINGS.items():
        for spelling in spellings:
            assert parsing.normalize_status(pad + spelling + pad) == canonical
            assert parsing.known_status(spelling.lower()) == OrderStatus(canonical)


@settings(PROFILE, max_examples=70)
@given(st.text(alphabet=string.ascii_letters + string.digits + "_- ", max_size=12))
def test_normalize_status_is_idempotent_on_ascii_codes(text: str) -> None:
    code = parsing.normalize_status(text)
    assert parsing.normalize_status(code) == code


@settings(PROFILE, max_examples=105)
@given(
    lenient_inputs,
    st.one_of(st.none(), any_text, st.sampled_from(["https://cvety.kz", "http://127.0.0.1:8001/"])),
)
@example("http://[abc", None)
def test_urls_never_raise(path: object, origin: str | None) -> None:
    url = parsing.absolute_url(path, origin)
    assert url is None or (isinstance(url, str) and url)
    if isinstance(path, str):
        site = parsing.site_origin(path)
        assert site == "" or re.match(r"[A-Za-z][A-Za-z0-9+.\-]*://", site)
    if isinstance(path, str) and path.strip().startswith("/") and not path.strip().startswith("//"):
        if origin == "https://cvety.kz":
            assert url is not None and url.startswith("https://cvety.kz/")


@settings(PROFILE, max_examples=140)
@given(
    st.one_of(
        lenient_inputs, st.from_regex(r"\s*[0-9٣²]{1,2}[:.][0-9]{2}\s*[-–—]\s*[0-9]{1,2}[:.][0-9]{2}\s*")
    )
)
@example("20:00-24:30")
@example("1٩:00-2٣:00")
def test_delivery_slots_never_raise(code: object) -> None:
    slot = parsing.decode_delivery_slot(code)
    if slot is None:
        return
    assert slot.label_key in {"asap", "range", "by", "text"}
    assert slot.raw == slot.raw.strip() and slot.raw
    if slot.label_key == "range":
        assert slot.start is not None and slot.end is not None
    if slot.label_key == "by":
        assert slot.end is not None


slot_times = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@settings(PROFILE, max_examples=70)
@given(
    st.one_of(st.sampled_from(["0", "1", "2", "3", "4", "5"]), st.tuples(slot_times, slot_times), slot_times)
)
def test_delivery_slot_round_trips_through_its_label(source: str | tuple[time, time] | time) -> None:
    if isinstance(source, str):
        slot = parsing.decode_delivery_slot(source)
    elif isinstance(source, tuple):
        slot = parsing.DeliverySlot(None, source[0], source[1], "range", "x")
    else:
        slot = parsing.DeliverySlot(None, None, source, "by", "x")
    assert slot is not None
    with russian():
        shown = format_slot(slot)
    again = parsing.decode_delivery_slot(shown)
    assert again is not None
    assert (again.label_key, again.start, again.end) == (slot.label_key, slot.start, slot.end)


@settings(PROFILE, max_examples=70)
@given(
    st.one_of(
        st.binary(max_size=32),
        st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\0\0\0\0WEBP"]).flatmap(
            lambda magic: st.binary(max_size=16).map(lambda tail: magic + tail)
        ),
    )
)
def test_image_sniffing(content: bytes) -> None:
    kind = parsing.sniff_image_type(content)
    assert kind in {None, "image/jpeg", "image/png", "image/webp"}
    checked = only_raises(ShowcaseInputError, lambda: showcase.check_image(content))
    assert checked == kind


# === services/inventory.py ======================================================================

typed_numbers = st.one_of(
    any_text,
    st.text(alphabet=string.digits + " шт.ШТpcsдана₸тгenge-+.,e" + UNICODE_DIGITS, max_size=16),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
)


@settings(PROFILE, max_examples=140)
@given(st.one_of(st.none(), typed_numbers), st.integers(min_value=1, max_value=10**7), st.booleans())
@example("²", MAX_STEMS, False)
@example("1e5", MAX_STEMS, False)
def test_parse_quantity_raises_only_input_error(text: str | None, maximum: int, allow_zero: bool) -> None:
    quantity = only_raises(
        InputError, lambda: inventory.parse_quantity(text, maximum=maximum, allow_zero=allow_zero)
    )
    if quantity is not None:
        assert isinstance(quantity, int) and (0 if allow_zero else 1) <= quantity <= maximum


@settings(PROFILE, max_examples=70)
@given(
    st.integers(min_value=1, max_value=MAX_STEMS),
    st.sampled_from(["{}", " {} ", "{} шт", "{}шт.", "{} штук", "{} PCS"]),
)
def test_quantity_round_trip(quantity: int, spelling: str) -> None:
    assert inventory.parse_quantity(spelling.format(quantity)) == quantity


@settings(PROFILE, max_examples=140)
@given(st.one_of(st.none(), typed_numbers), st.integers(min_value=0, max_value=10**13))
@example("\u00a0", MAX_PRICE)
def test_parse_stock_price_raises_only_input_error(text: str | None, maximum: int) -> None:
    price = only_raises(InputError, lambda: inventory.parse_price(text, maximum=maximum))
    if price is not None:
        assert isinstance(price, int) and 0 <= price <= maximum


@settings(PROFILE, max_examples=70)
@given(
    st.integers(min_value=0, max_value=MAX_PRICE),
    st.sampled_from(["{}", "{} ₸", "{}тг", "{} тенге", "{} KZT"]),
)
def test_stock_price_round_trip(price: int, spelling: str) -> None:
    assert inventory.parse_price(spelling.format(price)) == price
    assert inventory.parse_price(format_money(price)) == price  # a price pasted from the bot's own text


@settings(PROFILE, max_examples=70)
@given(st.one_of(st.none(), any_text, st.text(max_size=600)), st.integers(min_value=1, max_value=600))
def test_clean_text(text: str | None, limit: int) -> None:
    cleaned = only_raises(InputError, lambda: inventory.clean_text(text, limit=limit))
    if cleaned is not None:
        assert cleaned and len(cleaned) <= limit and cleaned == " ".join(cleaned.split())
        assert inventory.clean_text(cleaned, limit=limit) == cleaned


INVOICE_FLOWERS = [
    Flower(id="r60", name="Роза красная 60 см", quantity=12),
    Flower(id="w50", name="Роза белая 50 см", quantity=3),
    Flower(id="eu", name="Эустома белая", quantity=0),
    Flower(id="ch", name="Хризантема кустовая", name_en="Spray chrysanthemum", quantity=40),
    Flower(id="tu", name="Тюльпан жёлтый", quantity=7),
    Flower(id="gy", name="Гипсофила", quantity=1),
]
flowers_lists = st.one_of(
    st.just(INVOICE_FLOWERS),
    st.lists(
        st.builds(
            Flower,
            id=st.text(min_size=1, max_size=8),
            name=st.one_of(messy_text, st.sampled_from(["", "🌹", "—", "Роза", "Роза красная 60 см"])),
            name_en=st.one_of(st.none(), messy_text),
            quantity=st.integers(min_value=-5, max_value=10**6),
        ),
        max_size=6,
    ).map(lambda extra: INVOICE_FLOWERS + extra),
)
invoice_lines = st.one_of(
    any_text,
    st.sampled_from([f.name for f in INVOICE_FLOWERS]).flatmap(
        lambda name: st.lists(
            st.sampled_from([name, "50", "950", "—", "-", ",", "шт", "₸", "0", "x", "٣", "²"]), max_size=6
        ).map(" ".join)
    ),
)


@settings(PROFILE, max_examples=105)
@given(st.lists(invoice_lines, max_size=60).map("\n".join), flowers_lists)
@example("эустома", [*INVOICE_FLOWERS, Flower(id="x", name="🌹")])  # an unmatched line, a nameless flower
@example("Роза красная 60 см — 50 — 950", INVOICE_FLOWERS)
def test_parse_invoice_never_raises_and_keeps_its_invariants(text: str, flowers: list[Flower]) -> None:
    lines = inventory.parse_invoice(text, flowers)
    assert len(lines) <= inventory.INVOICE_MAX_LINES
    assert len(lines) <= len([raw for raw in text.splitlines() if raw.strip()])
    for line in lines:
        assert line.text and line.text == line.text.strip()
        if line.status is LineStatus.OK:
            assert line.flower in flowers
        if line.status in (LineStatus.OK, LineStatus.AMBIGUOUS):
            assert line.quantity is not None and 1 <= line.quantity <= MAX_STEMS
            # a price per stem is optional; «0» is a typed price parse_price accepts
            assert line.price is None or 0 <= line.price <= MAX_PRICE
        else:
            assert line.quantity is None and line.price is None and line.flower is None
        if line.status is LineStatus.AMBIGUOUS:
            assert 2 <= len(line.suggestions) <= 3
        assert all(s in flowers for s in line.suggestions)


@settings(PROFILE, max_examples=50)
@given(
    st.integers(min_value=0, max_value=3 * inventory.INVOICE_MAX_LINES),
    st.sampled_from(["\n", "\n\n", "\r\n"]),
)
def test_invoice_reads_at_most_its_line_limit(count: int, newline: str) -> None:
    text = newline.join(f"Гипсофила {n + 1}" for n in range(count))
    lines = inventory.parse_invoice(text, INVOICE_FLOWERS)
    assert len(lines) == min(count, inventory.INVOICE_MAX_LINES)
    assert [line.quantity for line in lines] == list(range(1, len(lines) + 1))


@settings(PROFILE, max_examples=105)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(INVOICE_FLOWERS),
            st.sampled_from([str.lower, str.upper, lambda s: s, lambda s: s.replace("ё", "е")]),
            st.integers(min_value=1, max_value=MAX_STEMS),
            st.one_of(st.none(), st.integers(min_value=1, max_value=1_000_000)),
            st.sampled_from([" ", "  ", "\t", " — ", " - ", " – ", ", ", "; ", ": "]),
            st.sampled_from(["", " шт", "шт", " шт."]),
            st.sampled_from(["", " ₸", "₸", " тг", "тг."]),
        ),
        min_size=1,
        max_size=inventory.INVOICE_MAX_LINES,
    )
)
@example([(INVOICE_FLOWERS[0], str, 50, 950, " — ", "", "")])  # «Роза красная 60 см — 50 — 950»
def test_invoice_round_trip(
    rows: list[tuple[Flower, Callable[[str], str], int, int | None, str, str, str]],
) -> None:
    text = "\n".join(
        spell(flower.name) + sep + f"{quantity}{pcs}" + (f"{sep}{price}{tenge}" if price is not None else "")
        for flower, spell, quantity, price, sep, pcs, tenge in rows
    )
    lines = inventory.parse_invoice(text, INVOICE_FLOWERS)
    assert [(line.status, line.flower, line.quantity, line.price) for line in lines] == [
        (LineStatus.OK, flower, quantity, price) for flower, _, quantity, price, *_ in rows
    ]


@settings(PROFILE, max_examples=70)
@given(any_text, flowers_lists)
def test_flower_search_never_raises(query: str, flowers: list[Flower]) -> None:
    found = inventory.find_flowers(query, flowers)
    assert all(f in flowers for f in found)
    assert all(inventory.word_score(query, f.name) >= 0 for f in flowers)
    assert len(inventory.suggest(query, flowers)) <= 3


# === services/catalog.py, people.py, staff.py, profile.py =======================================


@settings(PROFILE, max_examples=140)
@given(st.one_of(st.none(), any_text, st.text(alphabet=string.digits + "+-() 8", max_size=20)))
def test_customer_query_never_raises(text: str | None) -> None:
    query = catalog.parse_customer_query(text)
    assert len(query.text) <= catalog.QUERY_MAX and query.text == catalog.clean_query(query.text)
    if query.kind is catalog.QueryKind.PHONE:
        assert query.phone is not None and PHONE_RE.fullmatch(query.phone)
    if query.kind is catalog.QueryKind.DIGITS:
        assert query.needles and all(len(n) >= catalog.MIN_PHONE_DIGITS for n in query.needles)
    terms = catalog.server_terms(query.text)
    assert terms[0] == query.text
    customer = Customer(id=1, name=text, phone=text)
    assert catalog.customer_score(query, customer) >= 0
    assert catalog.product_score(query.text, text or "") >= 0


@settings(PROFILE, max_examples=70)
@given(st.one_of(st.none(), any_text), st.sampled_from(people.POSITIONS), st.sampled_from(["", " ", "\t"]))
def test_positions(text: str | None, position: str, pad: str) -> None:
    role = people.role_of_position(text)
    assert role is None or isinstance(role, Role)
    cleaned = only_raises(ValueError, lambda: people.clean_position(text or ""))
    assert cleaned is None or cleaned in people.POSITIONS
    assert people.clean_position(pad + position.upper() + pad) == position
    assert people.role_of_position(position.title()) is people.POSITION_ROLES[position]


@settings(PROFILE, max_examples=105)
@given(st.one_of(any_text, st.text(max_size=300)))
def test_names(text: str) -> None:
    name = only_raises(ValueError, lambda: staff.clean_name(text))
    if name is not None:
        assert 2 <= len(name) <= 255 and staff.clean_name(name) == name
    person = only_raises(InvalidInput, lambda: profile.clean_person_name(text))
    assert person == name  # the two name rules agree


whatsapp_inputs = st.one_of(
    any_text,
    st.from_regex(r"(https?://)?(www\.)?wa\.me/\+?[0-9٣٧]{5,16}/?(\?text=[a-z]{0,5})?", fullmatch=True),
)


@settings(PROFILE, max_examples=140)
@given(
    st.sampled_from(list(ShopField)),
    st.one_of(any_text, whatsapp_inputs, st.from_regex(r"@[A-Za-z0-9._]{0,33}", fullmatch=True)),
)
@example(ShopField.WHATSAPP, "wa.me/٧٧٧١٢٣٤٥٦٧")
@example(ShopField.INSTAGRAM, "https://[::1]:99999/x")
def test_shop_values_raise_only_invalid_input(field: ShopField, text: str) -> None:
    value = only_raises(InvalidInput, lambda: profile.clean_shop_value(field, text))
    if value is None:
        return
    if field is ShopField.PHONE:
        assert PHONE_RE.fullmatch(value)
    elif field is ShopField.WHATSAPP:
        assert PHONE_RE.fullmatch(value) or re.fullmatch(r"https://wa\.me/[0-9]{7,15}(\?\S*)?", value)
    elif field in (ShopField.INSTAGRAM, ShopField.TELEGRAM):
        assert value.startswith("https://") and not any(ch.isspace() for ch in value)
        assert profile.clean_shop_value(field, value) == value  # a saved link is accepted again
    else:
        minimum, maximum = profile.SHOP_TEXT_LIMITS[field]
        assert minimum <= len(value) <= maximum


@settings(PROFILE, max_examples=105)
@given(st.sampled_from(list(ProfileField)), st.one_of(any_text, st.text(max_size=1100)))
def test_profile_values_raise_only_invalid_input(field: ProfileField, text: str) -> None:
    value = only_raises(InvalidInput, lambda: profile.clean_profile_value(field, text))
    if value is None:
        return
    assert field is not ProfileField.POSITION
    if field is ProfileField.PHONE:
        assert PHONE_RE.fullmatch(value)
    if field is ProfileField.BIO:
        assert len(value) <= profile.BIO_MAX and profile.clean_bio(value) == value


# === services/showcase.py =======================================================================


@settings(PROFILE, max_examples=140)
@given(st.one_of(st.none(), typed_numbers, st.text(alphabet=string.digits + ".,-−– ₸тг$", max_size=16)))
@example("²")
def test_bouquet_price_raises_only_its_error(text: str | None) -> None:
    price = only_raises(ShowcaseInputError, lambda: showcase.parse_bouquet_price(text))
    assert price is None or 1 <= price <= showcase.MAX_PRICE


@settings(PROFILE, max_examples=70)
@given(st.integers(min_value=1, max_value=showcase.MAX_PRICE), st.sampled_from([" ", ".", ",", "\u00a0", ""]))
def test_bouquet_price_round_trip(price: int, grouping: str) -> None:
    assert showcase.parse_bouquet_price(format_money(price)) == price
    assert showcase.parse_bouquet_price(f"{price:,}".replace(",", grouping) + " ₸") == price
    assert showcase.parse_bouquet_price(f"{price}тг") == price


@settings(PROFILE, max_examples=105)
@given(
    st.one_of(
        st.none(), any_text, st.from_regex(r"[0-9٣]{1,5} ?[x×хХ*/]? ?[0-9]{1,5} ?(см|cm)?", fullmatch=True)
    )
)
def test_size_and_title_raise_only_their_error(text: str | None) -> None:
    size = only_raises(ShowcaseInputError, lambda: showcase.parse_size(text))
    if size is not None:
        assert all(isinstance(v, int) and 0 < v <= showcase.SIZE_MAX_CM for v in size)
    title = only_raises(ShowcaseInputError, lambda: showcase.clean_title(text))
    assert title is None or 0 < len(title) <= showcase.TITLE_MAX


@settings(PROFILE, max_examples=70)
@given(
    st.integers(min_value=1, max_value=showcase.SIZE_MAX_CM),
    st.integers(min_value=1, max_value=showcase.SIZE_MAX_CM),
    st.sampled_from(["{}x{}", "{}×{}", "{} на {}", "{} {}", "{}х{} см", "{}*{}cm"]),
)
def test_size_round_trip(width: int, height: int, spelling: str) -> None:
    assert showcase.parse_size(spelling.format(width, height)) == (width, height)
    with russian():
        shown = size_text(width, height)
    assert shown is not None and showcase.parse_size(shown) == (width, height)


@settings(PROFILE, max_examples=70)
@given(
    json_values,
    st.one_of(st.none(), st.datetimes(timezones=st.sampled_from([None, UTC, SHOP_TZ]))),
    st.dates(),
)
@example({"id": "²"}, None, date(2025, 1, 1))
def test_showcase_answers_never_raise(answer: Any, created: datetime | None, today: date) -> None:
    found = showcase._id_in(answer)
    assert found is None or isinstance(found, int)
    days = showcase.days_on_showcase(Product(id=1, created_at=created), today)
    assert days is None or days >= 0


# === handlers: order numbers, callback data =====================================================


@settings(PROFILE, max_examples=140)
@given(st.one_of(any_text, st.from_regex(r"\s*(№|#|n|N)?\s*[0-9٣]{1,12}\s*", fullmatch=True)))
def test_order_number_never_breaks(text: str) -> None:
    match = ORDER_NUMBER.match(text)
    if match is not None:
        number = int(match.group(1))
        assert 0 <= number < 10**9


@settings(PROFILE, max_examples=70)
@given(
    st.integers(min_value=0, max_value=10**9 - 1),
    st.sampled_from(["{}", "#{}", "№{}", "№ {}", " {} ", "N{}", "n {}"]),
)
def test_order_number_round_trip(number: int, spelling: str) -> None:
    match = ORDER_NUMBER.match(spelling.format(number))
    assert match is not None and int(match.group(1)) == number


CALLBACK_CLASSES: list[type[CallbackData]] = [
    OrderListCb,
    OrderCb,
    StockCb,
    FlowCb,
    StocktakeCb,
    AlertsCb,
    ProfileCb,
    ShopCb,
    LanguageCb,
    ColleagueCb,
    InviteCb,
    ShowcaseCb,
    CatalogCb,
    CustomerCb,
]
part_text = st.one_of(
    st.text(alphabet=MESSY_ALPHABET.replace(":", ""), max_size=12),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.sampled_from(["", "0", "-1", "1_000", " 1", "1.0", "²", "٣", "None", "true", "9" * 30]),
)


@st.composite
def forged_callback_data(draw: st.DrawFn) -> tuple[type[CallbackData], str]:
    cls = draw(st.sampled_from(CALLBACK_CLASSES))
    count = len(cls.model_fields) + draw(st.sampled_from([0, 0, 0, -1, 1]))
    prefix = draw(
        st.sampled_from([cls.__prefix__, cls.__prefix__, *[c.__prefix__ for c in CALLBACK_CLASSES], ""])
    )
    parts = draw(st.lists(part_text, min_size=max(count, 0), max_size=max(count, 0)))
    return cls, ":".join([prefix, *parts])


@settings(PROFILE, max_examples=175)
@given(st.one_of(st.tuples(st.sampled_from(CALLBACK_CLASSES), st.text(max_size=80)), forged_callback_data()))
def test_forged_callback_data_is_refused_cleanly(case: tuple[type[CallbackData], str]) -> None:
    cls, data = case
    # aiogram's unpack raises TypeError (wrong count) or ValueError (prefix, pydantic validation)
    unpacked = only_raises((TypeError, ValueError), lambda: cls.unpack(data))
    assert unpacked is None or isinstance(unpacked, cls)
    # … and its filter, which is what handlers see, turns both into "not this button"
    query = CallbackQuery(
        id="1", from_user=User(id=1, is_bot=False, first_name="x"), chat_instance="c", data=data or "-"
    )
    result = asyncio.run(cls.filter()(query))
    assert result is False or isinstance(result["callback_data"], cls)


# What the bot itself puts into buttons (see handlers/*_views.py): ids, short codes, small pages.
order_ids = st.integers(min_value=1, max_value=2**63 - 1)
small_ids = st.integers(min_value=1, max_value=2**31 - 1)
pages = st.integers(min_value=0, max_value=10_000)
crm_ids = st.one_of(st.uuids().map(str), st.from_regex(r"[a-z0-9][a-z0-9-]{0,35}", fullmatch=True))
op_ids = st.builds(Outbox.new_op_id)
statuses = st.one_of(st.sampled_from(list(OrderStatus)), st.sampled_from(["TR", "RO", "RD", "KC", "CA"]))
invite_codes = st.from_regex(r"[A-Za-z0-9_-]{24}", fullmatch=True)
positions = st.sampled_from(people.POSITIONS)


@st.composite
def albums(draw: st.DrawFn) -> Album:
    first = draw(st.integers(min_value=1, max_value=2**31 - 1 - ALBUM_REACH))
    steps = draw(st.lists(st.integers(min_value=1, max_value=3), max_size=ALBUM_MAX - 1))
    ids = [first]
    for step in steps:
        ids.append(ids[-1] + step)
    return Album(message_ids=tuple(ids))


valid_callbacks: st.SearchStrategy[CallbackData] = st.one_of(
    st.builds(OrderListCb, tab=st.sampled_from(list(Tab)), page=pages),
    st.builds(OrderCb, action=st.sampled_from("ov"), id=order_ids),
    st.builds(
        OrderCb,
        action=st.sampled_from("sxn"),
        id=order_ids,
        to=statuses,
        frm=statuses,
        arg=st.sampled_from(["", "a"]),
    ),
    st.builds(
        OrderCb,
        action=st.just("r"),
        id=order_ids,
        to=st.just(OrderStatus.CANCELLED),
        frm=statuses,
        arg=st.sampled_from([*CANCEL_REASONS, "other"]),
    ),
    st.builds(OrderCb, action=st.just("b"), id=order_ids, arg=st.sampled_from(["", "p"])),
    st.builds(StockCb, action=st.just("p"), page=pages),
    st.builds(StockCb, action=st.sampled_from("frdw"), id=crm_ids),
    st.builds(FlowCb, action=st.sampled_from(["skip", "edit", "back", "cancel"])),
    st.builds(FlowCb, action=st.just("pick"), arg=crm_ids),
    st.builds(FlowCb, action=st.just("supplier"), arg=st.integers(min_value=0, max_value=9).map(str)),
    st.builds(FlowCb, action=st.just("reason"), arg=st.sampled_from([*WRITEOFF_REASONS, "other"])),
    st.builds(FlowCb, action=st.just("save"), arg=op_ids),
    st.builds(
        FlowCb,
        action=st.just("field"),
        arg=st.sampled_from(["quantity", "price", "supplier", "note", "reason"]),
    ),
    st.builds(StocktakeCb, action=st.sampled_from(["same", "finish", "cancel"])),
    st.builds(StocktakeCb, action=st.just("send"), arg=op_ids),
    st.builds(AlertsCb, kind=st.sampled_from([k.value for k in AlertKind])),
    st.builds(ProfileCb, action=st.sampled_from("ec"), arg=st.sampled_from([f.value for f in ProfileField])),
    st.builds(ProfileCb, action=st.just("p"), arg=positions),
    st.builds(ProfileCb, action=st.just("x")),
    st.builds(ShopCb, action=st.just("e"), arg=st.sampled_from([f.value for f in ShopField])),
    st.builds(ShopCb, action=st.just("x")),
    st.builds(LanguageCb, code=st.sampled_from(LANGUAGES)),
    st.builds(ColleagueCb, action=st.sampled_from("snx")),
    st.builds(
        ColleagueCb,
        action=st.just("l"),
        arg=st.builds(
            lambda scope, p: f"{scope}.{p}", st.sampled_from(["a", "all"]), st.one_of(st.just(""), positions)
        ),
        page=pages,
    ),
    st.builds(ColleagueCb, action=st.sampled_from("otdDR"), id=crm_ids),
    st.builds(
        ColleagueCb, action=st.just("e"), id=crm_ids, arg=st.sampled_from(["name", "phone", "position"])
    ),
    st.builds(ColleagueCb, action=st.just("p"), id=st.one_of(st.just(""), crm_ids), arg=positions),
    st.builds(ColleagueCb, action=st.just("r"), id=crm_ids, arg=st.sampled_from([r.value for r in Role])),
    st.builds(InviteCb, action=st.sampled_from("l")),
    st.builds(InviteCb, action=st.just("c"), id=crm_ids),
    st.builds(
        InviteCb,
        action=st.just("r"),
        arg=st.sampled_from([r.value for r in Role]),
        id=st.one_of(st.just(""), crm_ids),
    ),
    st.builds(InviteCb, action=st.just("v"), arg=invite_codes),
    st.builds(ShowcaseCb, action=st.sampled_from("pf"), page=pages, arg=albums().map(Album.pack)),
    st.builds(ShowcaseCb, action=st.sampled_from("orsScz"), id=small_ids),
    st.builds(ShowcaseCb, action=st.sampled_from("anx")),
    st.builds(ShowcaseCb, action=st.just("t"), arg=st.integers(min_value=0, max_value=5).map(str)),
    st.builds(ShowcaseCb, action=st.just("k"), arg=st.builds(lambda: showcase.new_draft_ids()[0])),
    st.builds(CatalogCb, action=st.just("o"), id=small_ids),
    st.builds(CatalogCb, action=st.just("p"), page=pages),
    st.builds(CustomerCb, action=st.just("o"), id=small_ids),
    st.builds(CustomerCb, action=st.just("p"), id=small_ids, page=pages),
)


@settings(PROFILE, max_examples=210)
@given(valid_callbacks)
def test_callback_data_round_trips_within_64_bytes(callback: CallbackData) -> None:
    packed = callback.pack()  # raises ValueError beyond 64 bytes or with a «:» in a value
    assert len(packed.encode()) <= 64
    assert type(callback).unpack(packed) == callback


@settings(PROFILE, max_examples=105)
@given(albums(), st.integers(min_value=1, max_value=ALBUM_REACH - ALBUM_MAX * 3))
def test_album_round_trips_through_a_button(album: Album, gap: int) -> None:
    list_message_id = album.message_ids[-1] + gap
    assert unpack_album(album.pack(), list_message_id) == list(album.message_ids)


@settings(PROFILE, max_examples=105)
@given(
    st.one_of(part_text, st.text(alphabet="0123456789.-²³٣", max_size=30)),
    st.integers(min_value=0, max_value=2**31),
)
@example("²", 100)
@example("1.²", 100)
def test_forged_album_never_raises(packed: str, list_message_id: int) -> None:
    ids = unpack_album(packed, list_message_id)
    assert all(list_message_id - ALBUM_REACH < i < list_message_id for i in ids)
    assert len(ids) <= ALBUM_MAX


# === services/models.py =========================================================================

MODELS: list[type[ApiModel]] = [
    Person,
    Executor,
    OrderItem,
    OrderHistoryEntry,
    Order,
    AllowedStatuses,
    StatusChange,
    CompositionItem,
    Product,
    Shop,
    Customer,
    UploadResult,
    DeleteResult,
    Flower,
    FlowerDelivery,
    FlowerWriteOff,
    InventoryUpdate,
    BulkUpdateResult,
    StockProduct,
    LowStockReport,
    InventoryChange,
    Movement,
    Profile,
    ShopInfo,
    Colleague,
    ColleagueList,
]
origins = st.sampled_from([None, "https://cvety.kz", "http://127.0.0.1:8001"])


def _api_objects_for(model: type[ApiModel]) -> st.SearchStrategy[Any]:
    """Random JSON whose keys are mostly the ones this model (and its nested models) reads."""
    own = sorted(
        set(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', inspect.getsource(model))) | set(model.model_fields)
    )
    keys = st.one_of(st.sampled_from(own), st.sampled_from(own), json_keys)
    values = st.recursive(
        json_scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=3), st.dictionaries(keys, children, max_size=5)
        ),
        max_leaves=15,
    )
    return st.one_of(st.dictionaries(keys, values, max_size=10), values)


API_OBJECTS = {model: _api_objects_for(model) for model in MODELS}


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
@settings(PROFILE, max_examples=25)
@given(data=st.data(), origin=origins)
def test_models_validate_or_raise_value_error(
    model: type[ApiModel], data: st.DataObject, origin: str | None
) -> None:
    raw = data.draw(API_OBJECTS[model], label="raw")
    # from_api: ValueError (pydantic's ValidationError is one) when unusable, never anything else
    built = only_raises(ValueError, lambda: model.from_api(raw, origin=origin))
    assert built is None or isinstance(built, model)
    optional = model.optional_from_api(raw, origin=origin)
    assert optional is None or isinstance(optional, model)
    listed = only_raises(ValueError, lambda: model.list_from_api(raw, origin=origin))
    assert listed is None or all(isinstance(item, model) for item in listed)
    page = only_raises(
        ValueError, lambda: model.page_from_api(raw, _dict_or_none(raw), origin=origin, limit=8)
    )
    assert page is None or all(isinstance(item, model) for item in page.items)


def _dict_or_none(raw: Any) -> dict[str, Any] | None:
    return (
        raw.get("pagination") if isinstance(raw, dict) and isinstance(raw.get("pagination"), dict) else None
    )


@settings(PROFILE, max_examples=70)
@given(json_values)
def test_items_of_raises_only_value_error(data: Any) -> None:
    found = only_raises(ValueError, lambda: items_of(data))
    if found is not None:
        items, around = found
        assert isinstance(items, list) and isinstance(around, dict)


@st.composite
def api_orders(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A realistic order in one of the servers' spellings, and what the model must read from it."""
    order_id = draw(st.integers(min_value=1, max_value=10**9))
    amount = draw(st.integers(min_value=0, max_value=10**9))
    day = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)))
    canonical = draw(st.sampled_from(list(STATUS_SPELLINGS)))
    space = draw(grouping_spaces)
    national = draw(st.from_regex(r"7[0-9]{9}", fullmatch=True))
    engine = draw(st.booleans())  # the detail answer's `raw` object, or the list item
    raw: dict[str, Any]
    if engine:
        raw = {
            "id": str(order_id),
            "raw": {
                "statusId": draw(st.sampled_from(STATUS_SPELLINGS[canonical])),
                "price": str(amount),
                "deliveryDate": draw(st.sampled_from([f"{day:%d.%m.%Y}", day.isoformat()])),
                "recipientPhone": f"8 {national[:3]} {national[3:6]} {national[6:8]} {national[8:]}",
            },
        }
    else:
        raw = {
            "id": order_id,
            "number": str(order_id),
            "status_id": draw(st.sampled_from(STATUS_SPELLINGS[canonical])),
            "paymentAmount": f"{amount:,}".replace(",", space) + " ₸",
            "deliveryDate": draw(st.sampled_from([f"{day:%d.%m.%Y}", day.isoformat()])),
            "recipient": {
                "name": "Алия",
                "phone": f"+7 ({national[:3]}) {national[3:6]}-{national[6:8]}-{national[8:]}",
            },
        }
    noise = draw(
        st.dictionaries(
            st.sampled_from(["comment", "executors", "items", "history", "createdAt", "mainImage"]),
            json_values,
            max_size=3,
        )
    )
    raw.update(noise)
    expected = {
        "id": order_id,
        "status": canonical,
        "amount": amount,
        "delivery_date": day,
        "phone": "+7" + national,
    }
    return raw, expected


@settings(PROFILE, max_examples=70)
@given(api_orders())
def test_order_normalisation(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    raw, expected = case
    order = Order.from_api(raw, origin="https://cvety.kz")
    assert order.id == expected["id"] and order.number == str(expected["id"])
    assert order.status == expected["status"]
    assert order.amount == expected["amount"] and order.currency == "KZT"
    assert order.delivery_date == expected["delivery_date"]
    assert order.recipient is not None and order.recipient.phone == expected["phone"]
    assert isinstance(order, BaseModel)


# === bot/config.py ==============================================================================

SETTINGS_FIELDS = [
    "timezone",
    "quiet_hours",
    "owner_ids",
    "log_level",
    "database_url",
    "bot_token",
    "telegram_api_url",
    "cvety_api_url",
    "crm_api_url",
    "webhook_url",
    "alert_chat_id",
    "new_order_poll_seconds",
    "low_stock_threshold",
    "demo",
]
setting_values = st.one_of(
    any_text,
    st.text(min_size=250, max_size=300),
    st.sampled_from(
        ["Asia", "America", "Etc", "posix", "right", "Asia/Almaty", "UTC", "../x", "22:00-08:00"]
    ),
)


@settings(PROFILE, max_examples=105)
@given(st.dictionaries(st.sampled_from(SETTINGS_FIELDS), setting_values, max_size=4))
@example({"timezone": "Asia"})
@example({"timezone": "a" * 300})
def test_settings_raise_only_settings_error(values: dict[str, str]) -> None:
    loaded = only_raises(SettingsError, lambda: load_settings(_env_file=None, **values))
    if loaded is not None:
        assert isinstance(loaded.tz, ZoneInfo)


@settings(PROFILE, max_examples=50)
@given(slot_times, slot_times, st.sampled_from(["{}", " {} ", "{}"]))
def test_quiet_hours_round_trip(start: time, end: time, spelling: str) -> None:
    hours = QuietHours(start, end)
    loaded = load_settings(_env_file=None, quiet_hours=spelling.format(str(hours)))
    assert loaded.quiet_hours is not None
    assert (loaded.quiet_hours.start, loaded.quiet_hours.end) == (start, end)


@pytest.mark.parametrize("owner_ids", ["1, 2;3", " 42 "])
def test_owner_ids_still_parse(owner_ids: str) -> None:
    assert load_settings(_env_file=None, owner_ids=owner_ids).owner_ids in ([1, 2, 3], [42])
