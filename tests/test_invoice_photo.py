"""The rules that turn the text lines read from a photo into delivery lines: which numbers are
doubtful, what the «Итого» line says and whether the lines add up. Tesseract itself: test_ocr.py."""

from __future__ import annotations

import pytest

from services import ocr
from services.invoice_photo import PRICE, QUANTITY, Total, check_total, parse_total, read_page, rows
from services.models import Flower

FLOWERS = [
    Flower(id="rose-red", name="Роза красная 60 см"),
    Flower(id="red-rose-40", name="Роза красная 40 см"),
    Flower(id="eucalyptus", name="Эвкалипт"),
    Flower(id="white-lily", name="Лилия белая"),
]
SURE, UNSURE = 96.0, ocr.DOUBTFUL_BELOW - 20


def line(*words: tuple[str, float] | str) -> ocr.OcrLine:
    return ocr.OcrLine(tuple(ocr.OcrWord(w, SURE) if isinstance(w, str) else ocr.OcrWord(*w) for w in words))


def page(*lines: ocr.OcrLine) -> ocr.OcrPage:
    return ocr.OcrPage(lines, mean_confidence=90.0, seconds=0.5)


def test_numbers_read_surely_are_not_asked_about():
    invoice = read_page(
        page(line("Роза", "красная", "60", "см", "50", "950"), line("Эвкалипт", "10", "600")), FLOWERS
    )
    assert [(r["flower_id"], r["quantity"], r["price"], r["doubt"]) for r in rows(invoice)] == [
        ("rose-red", 50, 950, []),
        ("eucalyptus", 10, 600, []),
    ]


def test_a_number_read_unsurely_is_doubtful_and_only_that_one():
    invoice = read_page(
        page(
            line("Роза", "красная", "60", "см", ("36", UNSURE), "950"),  # «30» blurred into «36»
            line("Эвкалипт", "10", ("690", UNSURE)),
            line("Лилия", "белая", ("19", UNSURE), ("1500", UNSURE)),
        ),
        FLOWERS,
    )
    assert [r["doubt"] for r in rows(invoice)] == [[QUANTITY], [PRICE], [QUANTITY, PRICE]]


def test_the_name_s_own_number_is_not_the_quantity():
    # «60» of «60 см» read unsurely is part of the name, not a number to ask about
    invoice = read_page(page(line("Роза", "красная", ("60", UNSURE), "см", "50", "950")), FLOWERS)
    assert rows(invoice)[0]["doubt"] == [] and rows(invoice)[0]["quantity"] == 50


def test_units_glued_to_numbers_keep_their_confidence():
    invoice = read_page(page(line("Эвкалипт", ("10шт", UNSURE), "600₸")), FLOWERS)
    assert rows(invoice)[0]["quantity"] == 10 and rows(invoice)[0]["doubt"] == [QUANTITY]


def test_the_form_around_the_table_is_not_a_line():
    invoice = read_page(
        page(
            line("Накладная", "№", "123", "от", "02.12.2026"),
            line("Наименование", "Кол-во", "Цена"),
            line("Роза", "красная", "60", "см", "50", "950"),
            line("Итого:", "50", "шт"),
            line("Отпустил", "______"),
        ),
        FLOWERS,
    )
    assert len(invoice.lines) == 1 and invoice.total == Total(quantity=50)


@pytest.mark.parametrize(
    ("text", "total"),
    [
        ("Итого: 115 шт", Total(quantity=115)),
        ("ИТОГО 115", Total(quantity=115)),
        ("Итого: 47 500 ₸", Total(amount=47_500)),
        ("Всего: 115 шт на сумму 47 500 тг", Total(quantity=115, amount=47_500)),
        ("Итого к оплате 47500", Total(amount=47_500)),
        ("Итого:", None),
        ("Роза красная 60 см 50 950", None),
    ],
)
def test_the_total_line(text, total):
    assert parse_total(text) == total


def test_lines_that_do_not_add_up_are_said_plainly():
    saved = [{"quantity": 50, "price": 950}, {"quantity": 10, "price": 600}]
    assert check_total(saved, Total(quantity=60, amount=53_500)) is None
    mismatch = check_total(saved, Total(quantity=115, amount=47_500))
    assert mismatch is not None and mismatch.quantity == (115, 60) and mismatch.amount == (47_500, 53_500)
    assert check_total(saved, None) is None
    # a sum cannot be checked when a line has no price
    assert check_total([{"quantity": 5, "price": None}], Total(amount=100)) is None


@pytest.mark.parametrize(
    ("text", "quantity", "price"),
    [
        ("Роза красная 60 см 60 950", 60, 950),  # the quantity repeats the size in the name
        ("Роза красная 60 см 6 500", 6, 500),  # or starts like it
        ("Роза красная 60 50", 50, None),  # the size, then the quantity, no price
    ],
)
def test_a_quantity_like_the_size_in_the_name_is_not_taken_for_it(text, quantity, price):
    from services.inventory import parse_invoice

    (line,) = parse_invoice(text, FLOWERS)
    assert (line.flower and line.flower.id, line.quantity, line.price) == ("rose-red", quantity, price)


def test_the_bot_starts_without_pillow_and_tesseract_loaded():
    """Read photos are rare: the libraries come with the first one, not into every bot's memory."""
    import subprocess
    import sys

    script = "import sys, bot.app; print('PIL' in sys.modules or 'pytesseract' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
