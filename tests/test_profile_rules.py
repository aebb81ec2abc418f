"""What may be typed into the profile and shop fields (services/profile.py): pure rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.models import ShopInfo, SocialLinks
from services.profile import (
    InvalidInput,
    Problem,
    ProfileField,
    ShopField,
    clean_bio,
    clean_link,
    clean_person_name,
    clean_phone,
    clean_profile_value,
    clean_shop_value,
    clean_whatsapp,
    may_edit_position,
    shop_payload,
)
from services.roles import Role


def problem(call, *args) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        call(*args)
    return caught.value


# --- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "saved"),
    [
        ("Айгуль", "Айгуль"),
        ("  Айгуль   Сапарова \n", "Айгуль Сапарова"),
        ("Ян", "Ян"),
        ("a" * 255, "a" * 255),
        ("Дана\tКим", "Дана Ким"),
    ],
)
def test_names_are_trimmed_and_folded(typed, saved):
    assert clean_person_name(typed) == saved


def test_names_too_short_too_long_or_empty():
    short = problem(clean_person_name, " А ")
    assert short.problem is Problem.TOO_SHORT and (short.minimum, short.maximum) == (2, 255)
    long = problem(clean_person_name, "a" * 256)
    assert long.problem is Problem.TOO_LONG and long.length == 256
    assert problem(clean_person_name, "   \n ").problem is Problem.EMPTY


# --- phones --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "8 777 123 45 67",
        "+7 (777) 123-45-67",
        "7771234567",
        "87771234567",
        "77771234567",
        "+77771234567",
        " 8(777)123-45-67 ",
        "8.777.123.45.67",
    ],
)
def test_every_common_spelling_of_a_kazakhstan_number(typed):
    assert clean_phone(typed) == "+77771234567"


def test_landlines_and_6xx_numbers():
    assert clean_phone("8 727 378 88 88") == "+77273788888"
    assert clean_phone("+7 600 000 00 00") == "+76000000000"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "777 123 45",  # too short
        "8 777 123 45 678",  # too long
        "+7 495 123 45 67",  # Moscow: +7 but not Kazakhstan
        "+1 777 123 4567",
        "+8 777 123 45 67",
        "9 777 123 45 67",
        "звоните 87771234567",
        "8-777-123-45-6x",
        "８７７７１２３４５６７",  # full-width digits
    ],
)
def test_phones_that_are_refused(typed):
    assert problem(clean_phone, typed).problem is Problem.PHONE


# --- bio -----------------------------------------------------------------------------------------


def test_bio_up_to_1000_characters():
    assert clean_bio("б" * 1000) == "б" * 1000
    refused = problem(clean_bio, "б" * 1001)
    assert refused.problem is Problem.TOO_LONG and refused.length == 1001 and refused.maximum == 1000


def test_bio_keeps_lines_and_a_dash_clears_it():
    assert clean_bio("  Люблю пионы.\r\nИ эвкалипт.  ") == "Люблю пионы.\nИ эвкалипт."
    assert clean_bio("-") == "" and clean_bio(" — ") == "" and clean_bio("") == ""
    assert clean_bio("- пионы") == "- пионы"


def test_profile_fields_dispatch_and_position_is_never_typed():
    assert clean_profile_value(ProfileField.PHONE, "8 701 234 56 78") == "+77012345678"
    assert clean_profile_value(ProfileField.NAME, " Асель  Т ") == "Асель Т"
    assert clean_profile_value(ProfileField.BIO, "-") == ""
    assert problem(clean_profile_value, ProfileField.POSITION, "owner").problem is Problem.POSITION


def test_only_the_owner_changes_positions():
    assert may_edit_position(Role.OWNER)
    assert not any(may_edit_position(r) for r in (Role.SENIOR, Role.FLORIST, Role.ASSISTANT, Role.COURIER))


# --- links and handles ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "typed", "saved"),
    [
        (ShopField.INSTAGRAM, "@cvety.kz", "https://instagram.com/cvety.kz"),
        (ShopField.INSTAGRAM, " @cvety_kz ", "https://instagram.com/cvety_kz"),
        (ShopField.INSTAGRAM, "https://instagram.com/cvety.kz", "https://instagram.com/cvety.kz"),
        (
            ShopField.INSTAGRAM,
            "https://www.instagram.com/cvety.kz/?hl=ru",
            "https://www.instagram.com/cvety.kz/?hl=ru",
        ),
        (ShopField.INSTAGRAM, "HTTPS://taplink.cc/cvety", "HTTPS://taplink.cc/cvety"),
        (ShopField.TELEGRAM, "@cvety_almaty", "https://t.me/cvety_almaty"),
        (ShopField.TELEGRAM, "https://t.me/cvety_almaty", "https://t.me/cvety_almaty"),
        (ShopField.TELEGRAM, "https://цветы.kz/tg", "https://цветы.kz/tg"),
    ],
)
def test_links_and_handles_are_accepted(field, typed, saved):
    assert clean_link(field, typed) == saved
    assert clean_shop_value(field, typed) == saved


@pytest.mark.parametrize(
    ("field", "typed"),
    [
        (ShopField.INSTAGRAM, "cvety.kz"),  # neither a link nor an @handle
        (ShopField.INSTAGRAM, "instagram.com/cvety.kz"),
        (ShopField.INSTAGRAM, "http://instagram.com/cvety.kz"),  # not https
        (ShopField.INSTAGRAM, "@"),
        (ShopField.INSTAGRAM, "@.cvety"),
        (ShopField.INSTAGRAM, "@cvety kz"),
        (ShopField.INSTAGRAM, "@" + "a" * 31),
        (ShopField.INSTAGRAM, "https://"),
        (ShopField.INSTAGRAM, "https://localhost/x"),
        (ShopField.INSTAGRAM, "https://instagram.com/cvety kz"),
        (ShopField.INSTAGRAM, "https://user:pass@evil.example.com/"),
        (ShopField.INSTAGRAM, "https://[::1/"),
        (ShopField.INSTAGRAM, "https://instagram.com:99999/"),
        (ShopField.INSTAGRAM, "javascript:alert(1)"),
        (ShopField.INSTAGRAM, '<a href="x">'),
        (ShopField.TELEGRAM, "@abc"),  # Telegram handles have 5–32 characters
        (ShopField.TELEGRAM, "@1cvety"),
        (ShopField.TELEGRAM, "@cvety.kz"),
        (ShopField.TELEGRAM, "t.me/cvety_almaty"),
    ],
)
def test_other_text_is_refused_as_a_link(field, typed):
    assert problem(clean_link, field, typed).problem is Problem.LINK


def test_a_very_long_link_is_refused_with_its_length():
    refused = problem(clean_link, ShopField.TELEGRAM, "https://t.me/" + "a" * 500)
    assert refused.problem is Problem.TOO_LONG and refused.length == 513


def test_clean_link_is_only_for_link_fields():
    with pytest.raises(ValueError):
        clean_link(ShopField.CITY, "@almaty")


@pytest.mark.parametrize(
    ("typed", "saved"),
    [
        ("8 727 378 88 88", "+77273788888"),
        ("+7 (777) 123-45-67", "+77771234567"),
        ("https://wa.me/77273788888", "https://wa.me/77273788888"),
        ("wa.me/+77273788888", "https://wa.me/77273788888"),
        ("http://www.wa.me/77273788888?text=Здравствуйте", "https://wa.me/77273788888?text=Здравствуйте"),
    ],
)
def test_whatsapp_is_a_phone_or_a_wa_me_link(typed, saved):
    assert clean_whatsapp(typed) == saved


@pytest.mark.parametrize(
    "typed", ["@cvety", "https://instagram.com/cvety", "wa.me/", "https://wa.me/abc", "напишите нам", "123"]
)
def test_whatsapp_refuses_anything_else(typed):
    assert problem(clean_whatsapp, typed).problem is Problem.WHATSAPP


def test_a_dash_clears_a_social_link_but_not_a_required_field():
    for field in (ShopField.INSTAGRAM, ShopField.WHATSAPP, ShopField.TELEGRAM):
        assert clean_shop_value(field, " - ") is None
    assert problem(clean_shop_value, ShopField.CITY, "-").problem is Problem.TOO_SHORT


# --- shop text fields ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "minimum", "maximum"),
    [
        (ShopField.NAME, 2, 255),
        (ShopField.ADDRESS, 5, 500),
        (ShopField.WORKING_HOURS, 3, 100),
        (ShopField.CITY, 2, 100),
    ],
)
def test_shop_text_limits(field, minimum, maximum):
    assert clean_shop_value(field, "ы" * minimum) == "ы" * minimum
    assert clean_shop_value(field, "ы" * maximum) == "ы" * maximum
    assert problem(clean_shop_value, field, "ы" * (minimum - 1)).problem is Problem.TOO_SHORT
    too_long = problem(clean_shop_value, field, "ы" * (maximum + 1))
    assert too_long.problem is Problem.TOO_LONG and too_long.length == maximum + 1


def test_shop_phone_and_folding():
    assert clean_shop_value(ShopField.PHONE, "8 (727) 378-88-88") == "+77273788888"
    assert problem(clean_shop_value, ShopField.PHONE, "378-88-88").problem is Problem.PHONE
    assert clean_shop_value(ShopField.ADDRESS, " г. Алматы,\n пр. Абая  150 ") == "г. Алматы, пр. Абая 150"


def test_shop_payload_keeps_every_other_field():
    current = ShopInfo(
        id="1",
        name="Цветы.kz",
        address="г. Алматы, пр. Абая 150/230",
        phone="+77273788888",
        working_hours="Пн-Вс: 9:00-21:00",
        city=None,
        social=SocialLinks(instagram="https://instagram.com/cvety.kz", whatsapp="+77273788888"),
    )
    body = shop_payload(current, ShopField.PHONE, "+77771234567")
    assert body == {
        "name": "Цветы.kz",
        "address": "г. Алматы, пр. Абая 150/230",
        "phone": "+77771234567",
        "working_hours": "Пн-Вс: 9:00-21:00",
        "social_media": {
            "instagram": "https://instagram.com/cvety.kz",
            "whatsapp": "+77273788888",
            "telegram": None,
        },
    }
    social = shop_payload(current, ShopField.TELEGRAM, "https://t.me/cvety_almaty")["social_media"]
    assert social["telegram"] == "https://t.me/cvety_almaty" and social["instagram"].endswith("cvety.kz")
    assert shop_payload(current, ShopField.INSTAGRAM, None)["social_media"]["instagram"] is None


# --- nothing but ValueError, whatever is typed ---------------------------------------------------

TYPED = st.text() | st.from_regex(r"[@+()\-\s0-9a-z./:?=_]{0,40}", fullmatch=True)


@given(TYPED)
def test_random_text_only_ever_raises_value_error(text):
    calls: list[tuple[Callable[..., str | None], tuple[object, ...]]] = [
        (clean_person_name, (text,)),
        (clean_phone, (text,)),
        (clean_bio, (text,)),
        (clean_whatsapp, (text,)),
        *((clean_profile_value, (field, text)) for field in ProfileField),
        *((clean_shop_value, (field, text)) for field in ShopField),
        (clean_link, (ShopField.INSTAGRAM, "https://" + text)),
        (clean_link, (ShopField.TELEGRAM, "@" + text)),
    ]
    for function, args in calls:
        try:
            result = function(*args)
        except ValueError:
            continue
        assert result is None or isinstance(result, str)


@given(st.text())
def test_accepted_values_are_stable(text):
    """Cleaning a cleaned value changes nothing (so a re-read after a timeout compares equal)."""
    for field in ShopField:
        try:
            once = clean_shop_value(field, text)
        except InvalidInput:
            continue
        if once is not None:
            assert clean_shop_value(field, once) == once
