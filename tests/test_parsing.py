"""Each parser on every variant of api/contract.md and the spec, plus properties: random input
never raises (lenient parsers) or raises only ValueError (strict ones), and values round-trip."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.models import OrderStatus as ExportedOrderStatus
from services.parsing import (
    DeliverySlot,
    Money,
    OrderStatus,
    absolute_url,
    decode_delivery_slot,
    known_status,
    normalize_phone,
    normalize_status,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_int,
    parse_money,
    parse_phone,
    parse_price,
    parse_user_price,
    site_origin,
)

ALMATY = ZoneInfo("Asia/Almaty")
UTC5 = timezone(timedelta(hours=5))
SPACES = [" ", "\u00a0", "\u2009", "\u202f", "&nbsp;", "&#160;", ""]

# --- prices ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12 990 ₸", 12990),
        ("7 500 ₸", 7500),
        ("7\u00a0500\u00a0₸", 7500),
        ("7\u2009500 ₸", 7500),
        ("7\u202f500\u202f₸", 7500),
        ("7&nbsp;500&nbsp;₸", 7500),
        ("7 500 &#8376;", 7500),
        ("12990", 12990),
        (12990, 12990),
        (12990.0, 12990),
        ("12990.00", 12990),
        ("25 000 тг", 25000),
        ("25000тг.", 25000),
        ("25 000 KZT", 25000),
        ("12,990", 12990),
        ("1.234.567", 1234567),
        ("12 990,50", 12991),
        ("0", 0),
        (Decimal("150"), 150),
    ],
)
def test_parse_price(value, expected):
    assert parse_price(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "abc",
        "₸",
        "-500",
        "-500 ₸",
        True,
        False,
        float("nan"),
        float("inf"),
        -1,
        "12 990 ₸ / шт",
        "от 5000",
        "00.00.0000",
        "1e9",
        [],
        {},
        "65 USD",
        "$65",
        "1,2,3",
    ],
)
def test_parse_price_garbage_or_foreign_is_none(value):
    assert parse_price(value) is None


def test_parse_money_keeps_the_currency():
    assert parse_money("65 USD") == Money(amount=65, currency="USD")
    assert parse_money("$65") == Money(amount=65, currency="USD")
    assert parse_money("12 990 ₸") == Money(amount=12990, currency="KZT")
    assert parse_money("12990") == Money(amount=12990, currency="KZT")
    # an item's separate currency field applies when the text names none
    assert parse_money("65", "USD") == Money(amount=65, currency="USD")
    assert parse_money(65, "usd") == Money(amount=65, currency="USD")
    assert parse_money("12 990 ₸", "USD") == Money(amount=12990, currency="KZT")
    assert parse_money("junk") is None


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.decimals()))
def test_parse_money_and_price_never_raise(value):
    parse_money(value)
    parse_price(value)


@given(
    st.integers(min_value=0, max_value=10**12),
    st.sampled_from(SPACES),
    st.sampled_from(["₸", " ₸", "тг", ""]),
)
def test_formatted_prices_parse_back(amount, space, currency):
    text = f"{amount:,}".replace(",", space) + currency
    assert parse_price(text) == amount


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("25000", 25000),
        ("25 000", 25000),
        ("25 000 ₸", 25000),
        ("25000тг", 25000),
        (" 0 ", 0),
        ("25\u00a0000", 25000),
        ("25 000 тенге", 25000),
    ],
)
def test_parse_user_price(text, expected):
    assert parse_user_price(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("  ", "empty"),
        ("25000.50", "not a whole number"),
        ("25,5", "not a whole number"),
        ("-100", "negative"),
        ("1e9", "not a number"),
        ("abc", "not a number"),
        ("65 USD", "not a number of tenge"),
        ("9" * 40, "too large"),
    ],
)
def test_parse_user_price_refuses_with_a_reason(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_user_price(text)


@given(st.text())
def test_parse_user_price_raises_only_value_error(text):
    try:
        assert parse_user_price(text) >= 0
    except ValueError:
        pass


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from([" ", "\u00a0", "\u202f", ""]))
def test_typed_prices_parse_back(amount, space):
    assert parse_user_price(f"{amount:,}".replace(",", space) + " ₸") == amount


# --- numbers and flags -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12, 12),
        ("12", 12),
        (" 1 200 ", 1200),
        ("12.0", 12),
        (12.0, 12),
        ("-5", -5),
        ("1.0000", 1),
        ("12.5", None),
        (12.5, None),
        ("abc", None),
        ("", None),
        (None, None),
        (True, None),
        ([], None),
        (float("nan"), None),
    ],
)
def test_parse_int(value, expected):
    assert parse_int(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Y", True),
        ("N", False),
        ("y", True),
        ("1", True),
        ("0", False),
        (1, True),
        (0, False),
        (True, True),
        (False, False),
        ("true", True),
        ("false", False),
        ("TRUE", True),
        ("maybe", None),
        (None, None),
        (2, None),
        ("", None),
    ],
)
def test_parse_bool(value, expected):
    assert parse_bool(value) is expected


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.decimals()))
def test_lenient_numbers_never_raise(value):
    parse_int(value)
    parse_bool(value)


# --- phones ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "8 777 123 45 67",
        "+7 (777) 123-45-67",
        "7771234567",
        "87771234567",
        "+77771234567",
        "77771234567",
        "8-777-123-45-67",
        " +7 777 123 4567 ",
        "8\u00a0777\u00a0123\u00a045\u00a067",
    ],
)
def test_normalize_phone_spellings(text):
    assert normalize_phone(text) == "+77771234567"


def test_normalize_phone_landline():
    assert normalize_phone("8(727)378-88-88") == "+77273788888"
    assert normalize_phone("+7 (727) 378-88-88") == "+77273788888"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "777123456",
        "877712345678",
        "+8 777 123 45 67",
        "+1 555 123 4567",
        "+998 90 123 45 67",
        "+7 495 123 45 67",
        "8 777 abc 45 67",
        "phone",
        "7-777-123-45-67-8",
        "+7+7771234567",
        "tel:87771234567",
    ],
)
def test_normalize_phone_refuses(text):
    with pytest.raises(ValueError):
        normalize_phone(text)


@given(st.text())
def test_normalize_phone_raises_only_value_error(text):
    try:
        result = normalize_phone(text)
    except ValueError:
        return
    assert len(result) == 12 and result.startswith("+7") and result[1:].isdigit()


@given(
    st.from_regex(r"[67][0-9]{9}", fullmatch=True),
    st.sampled_from(
        ["+7 ({a}) {b}-{c}-{d}", "8 {a} {b} {c} {d}", "{a}{b}{c}{d}", "8({a}){b}-{c}-{d}", "+7{a}{b}{c}{d}"]
    ),
)
def test_normalised_phones_round_trip(national, spelling):
    text = spelling.format(a=national[:3], b=national[3:6], c=national[6:8], d=national[8:])
    normalised = normalize_phone(text)
    assert normalised == "+7" + national
    assert normalize_phone(normalised) == normalised


def test_parse_phone_is_lenient():
    assert parse_phone("+7 (777) 000-00-01") == "+77770000001"
    assert parse_phone(87771234567) == "+77771234567"
    assert parse_phone(" Cvety.kz ") == "Cvety.kz"
    assert parse_phone("") is None
    assert parse_phone(None) is None
    assert parse_phone({"x": 1}) is None


@given(st.one_of(st.none(), st.integers(), st.text(), st.booleans()))
def test_parse_phone_never_raises(value):
    parse_phone(value)


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-09-26T14:59:39+0500", datetime(2025, 9, 26, 14, 59, 39, tzinfo=UTC5)),
        ("2025-09-26T14:59:39+05:00", datetime(2025, 9, 26, 14, 59, 39, tzinfo=UTC5)),
        ("2025-09-04T10:00:00Z", datetime(2025, 9, 4, 15, 0, tzinfo=UTC5)),
        ("2025-09-26T14:59:39", datetime(2025, 9, 26, 14, 59, 39, tzinfo=UTC5)),
        ("2025-09-26 14:59:39", datetime(2025, 9, 26, 14, 59, 39, tzinfo=UTC5)),
        ("24.10.2025", datetime(2025, 10, 24, tzinfo=UTC5)),
        ("24.10.2025 14:30:05", datetime(2025, 10, 24, 14, 30, 5, tzinfo=UTC5)),
        ("24.10.2025 14:30", datetime(2025, 10, 24, 14, 30, tzinfo=UTC5)),
        ("2025-10-24", datetime(2025, 10, 24, tzinfo=UTC5)),
        (date(2025, 10, 24), datetime(2025, 10, 24, tzinfo=UTC5)),
    ],
)
def test_parse_datetime(value, expected):
    parsed = parse_datetime(value)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == timedelta(hours=5)


@pytest.mark.parametrize(
    "value",
    [
        "00.00.0000",
        "00.00.0000 00:00:00",
        "-0001-11-30T00:00:00+0500",
        "-0001-11-30",
        "0000-00-00",
        "0000-00-00 00:00:00",
        "0001-01-01",
        "",
        "   ",
        "garbage",
        "31.02.2025",
        None,
        1700000000,
        [],
        True,
    ],
)
def test_parse_datetime_nonsense_is_none(value):
    assert parse_datetime(value) is None
    assert parse_date(value) is None


def test_parse_datetime_other_time_zone():
    assert parse_datetime("2025-01-01 12:00", tz=ZoneInfo("UTC")) == datetime(
        2025, 1, 1, 12, tzinfo=ZoneInfo("UTC")
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-09-04", date(2025, 9, 4)),
        ("24.10.2025", date(2025, 10, 24)),
        ("2025-09-26T14:59:39+0500", date(2025, 9, 26)),
        # a late evening in UTC is already the next day in the shop
        ("2025-09-04T20:00:00Z", date(2025, 9, 5)),
        (date(2025, 9, 4), date(2025, 9, 4)),
    ],
)
def test_parse_date(value, expected):
    assert parse_date(value) == expected


@given(st.one_of(st.text(), st.none(), st.integers(), st.floats(), st.dates(), st.datetimes()))
def test_date_parsers_never_raise(value):
    result = parse_datetime(value)
    assert result is None or result.tzinfo is not None
    parse_date(value)


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)))
def test_datetimes_round_trip(moment):
    moment = moment.replace(microsecond=0)
    aware = moment.replace(tzinfo=ALMATY)
    assert parse_datetime(moment.isoformat()) == aware
    assert parse_datetime(aware.isoformat()) == aware
    assert parse_datetime(moment.strftime("%d.%m.%Y %H:%M:%S")) == aware
    assert parse_date(moment.strftime("%d.%m.%Y")) == moment.date()


# --- statuses ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spellings", "code"),
    [
        (["N", "n", "new", "NEW"], "N"),
        (["PD", "paid", "PAID"], "PD"),
        (["AP", "accepted", "ACCEPTED", "confirmed"], "AP"),
        (["CO", "assembled", "in_production", "IN_PRODUCTION", "AS", "as"], "CO"),
        (["DE", "in-transit", "in_delivery", "IN_DELIVERY", "ID"], "DE"),
        (["F", "completed", "delivered", "DELIVERED", "D"], "F"),
        (["UN", "cancelled", "CANCELLED", "C"], "UN"),
        (["RF", "refunded"], "RF"),
    ],
)
def test_normalize_status_every_vocabulary(spellings, code):
    assert {normalize_status(spelling) for spelling in spellings} == {code}
    assert known_status(spellings[-1]) is OrderStatus(code)


def test_normalize_status_unknown_and_empty():
    assert normalize_status("tr") == "TR"
    assert normalize_status(" RO ") == "RO"
    assert normalize_status("KC") == "KC"
    assert normalize_status("") == ""
    assert normalize_status(None) == ""
    assert known_status("TR") is None
    assert known_status(None) is None


def test_order_status_enum():
    assert [s.value for s in OrderStatus] == ["N", "PD", "AP", "CO", "DE", "F", "UN", "RF"]
    assert OrderStatus.ASSEMBLED == "CO" and OrderStatus.CANCELLED == "UN"
    assert ExportedOrderStatus is OrderStatus


@given(st.one_of(st.text(), st.none(), st.integers()))
def test_normalize_status_never_raises(value):
    assert normalize_status(normalize_status(value)) == normalize_status(value)


# --- images and slots --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/upload/iblock/a.jpg", "https://cvety.kz/upload/iblock/a.jpg"),
        ("upload/iblock/a.jpg", "https://cvety.kz/upload/iblock/a.jpg"),
        ("https://cdn.cvety.kz/a.jpg", "https://cdn.cvety.kz/a.jpg"),
        ("http://old.cvety.kz/a.jpg", "http://old.cvety.kz/a.jpg"),
        ("//cdn.cvety.kz/a.jpg", "https://cdn.cvety.kz/a.jpg"),
        ("", None),
        ("  ", None),
        (None, None),
        (False, None),
    ],
)
def test_absolute_url(path, expected):
    assert absolute_url(path, "https://cvety.kz") == expected


def test_site_origin_drops_the_api_path():
    assert site_origin("https://cvety.kz/api/v2") == "https://cvety.kz"
    assert site_origin("http://127.0.0.1:8001/crm/") == "http://127.0.0.1:8001"
    assert site_origin("not a url") == ""


@pytest.mark.parametrize(
    ("code", "start", "end", "label_key"),
    [
        ("0", None, None, "asap"),
        ("1", time(8), time(12), "range"),
        ("2", time(12), time(16), "range"),
        ("3", time(16), time(20), "range"),
        ("4", time(20), time(0), "range"),
        ("5", None, time(10), "by"),
        (3, time(16), time(20), "range"),
        ("14:00-16:00", time(14), time(16), "range"),
        ("22:00–24:00", time(22), time(0), "range"),
        ("08:00-12:00", time(8), time(12), "range"),
        ("до 10:00", None, time(10), "by"),
        ("Как можно скорее", None, None, "asap"),
    ],
)
def test_decode_delivery_slot(code, start, end, label_key):
    slot = decode_delivery_slot(code)
    assert slot is not None
    assert (slot.start, slot.end, slot.label_key) == (start, end, label_key)
    assert slot.raw == str(code)


def test_decode_delivery_slot_keeps_other_values_as_text():
    assert decode_delivery_slot("7") == DeliverySlot(
        code="7", start=None, end=None, label_key="text", raw="7"
    )
    assert decode_delivery_slot(" до обеда ") == DeliverySlot(
        code=None, start=None, end=None, label_key="text", raw="до обеда"
    )
    assert decode_delivery_slot("") is None
    assert decode_delivery_slot(None) is None


@given(st.one_of(st.text(), st.none(), st.integers(), st.booleans()))
def test_slots_and_urls_never_raise(value):
    decode_delivery_slot(value)
    absolute_url(value, "https://cvety.kz")
