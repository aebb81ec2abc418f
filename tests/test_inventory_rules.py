"""Typed quantities, prices, fuzzy flower names and pasted invoices, without the bot."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.inventory import (
    InputError,
    InputProblem,
    LineStatus,
    clean_text,
    find_flowers,
    parse_invoice,
    parse_price,
    parse_quantity,
    suggest,
)
from services.models import Flower

FLOWERS = [
    Flower(id="r60", name="Роза красная 60 см", quantity=240),
    Flower(id="r40", name="Роза красная 40 см", quantity=85),
    Flower(id="w50", name="Роза белая 50 см", quantity=4),
    Flower(id="eu", name="Эустома белая", quantity=3),
    Flower(id="eu2", name="Эустома сиреневая", quantity=25),
    Flower(id="tu", name="Тюльпан жёлтый", quantity=150),
    Flower(id="ma", name="Матрикария (ромашка)", quantity=2),
]


@pytest.mark.parametrize(
    ("text", "value"), [("50", 50), ("50 шт", 50), (" 50 ", 50), ("50шт.", 50), ("100000", 100000)]
)
def test_quantities_people_type(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("abc", InputProblem.NOT_A_NUMBER),
        ("-5", InputProblem.NOT_POSITIVE),
        ("0", InputProblem.NOT_POSITIVE),
        ("1e9", InputProblem.TOO_BIG),
        ("10.5", InputProblem.FRACTION),
        ("10,5", InputProblem.FRACTION),
        ("", InputProblem.EMPTY),
        ("   ", InputProblem.EMPTY),
        (None, InputProblem.EMPTY),
        ("100001", InputProblem.TOO_BIG),
        ("99999999999999999999", InputProblem.TOO_BIG),
    ],
)
def test_bad_quantities(text, problem):
    with pytest.raises(InputError) as caught:
        parse_quantity(text)
    assert caught.value.problem is problem


def test_zero_is_a_count_in_a_stocktake():
    assert parse_quantity("0", allow_zero=True) == 0


@given(st.text(max_size=40))
def test_any_text_is_a_quantity_or_a_clear_refusal(text):
    try:
        value = parse_quantity(text)
    except InputError as error:
        assert isinstance(error.problem, InputProblem)
    else:
        assert 1 <= value <= 100_000


@pytest.mark.parametrize(
    ("text", "value"), [("120", 120), ("1 200", 1200), ("1200 ₸", 1200), ("0", 0), ("25 000 тг", 25000)]
)
def test_prices(text, value):
    assert parse_price(text) == value


@pytest.mark.parametrize("text", ["12.5", "-1", "дорого", "10000001", ""])
def test_bad_prices(text):
    with pytest.raises(InputError):
        parse_price(text)


def test_free_text_is_trimmed_and_limited():
    assert clean_text("  Цветочная \n база ") == "Цветочная база"
    with pytest.raises(InputError):
        clean_text("x" * 501)
    with pytest.raises(InputError):
        clean_text(" \n ")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("роза 60", ["r60"]),
        ("60 роза", ["r60"]),
        ("РОЗА КРАСНАЯ", ["r40", "r60"]),
        ("тюльпан желтый", ["tu"]),
        ("ромашка", ["ma"]),
        ("эуст бел", ["eu"]),
        ("бамбук", []),
    ],
)
def test_fuzzy_flower_search(query, expected):
    assert sorted(f.id for f in find_flowers(query, FLOWERS)) == expected


def test_typos_get_suggestions():
    assert [f.id for f in suggest("эустамо белая", FLOWERS)][:1] == ["eu"]


def test_invoice_lines():
    lines = parse_invoice(
        "Роза красная 60 50 120\nЭустома белая 30\n\nРостки бамбука 5\nроза 10\nТюльпан жёлтый\n"
        "  роза белая 50 см 7 шт 300 ₸",
        FLOWERS,
    )
    assert [
        (line.status, line.flower.id if line.flower else None, line.quantity, line.price) for line in lines
    ] == [
        (LineStatus.OK, "r60", 50, 120),
        (LineStatus.OK, "eu", 30, None),
        (LineStatus.UNMATCHED, None, None, None),
        (LineStatus.AMBIGUOUS, None, 10, None),
        (LineStatus.BAD_NUMBER, None, None, None),
        (LineStatus.OK, "w50", 7, 300),
    ]
    assert {f.id for f in lines[3].suggestions} <= {"r60", "r40", "w50"}
