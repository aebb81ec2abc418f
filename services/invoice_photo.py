"""A photographed paper invoice read into delivery lines: the text Tesseract read (services/ocr.py)
goes through the same parser as a pasted invoice, and each quantity and price keeps the
confidence it was read with, so a doubtful digit is asked about instead of saved. An «Итого» line
is read too, to say plainly when the lines do not add up. Knows nothing of Telegram."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from services import ocr
from services.inventory import INVOICE_MAX_LINES, InvoiceLine, LineStatus, parse_invoice_line
from services.models import Flower

QUANTITY, PRICE = "quantity", "price"
# Lines that are the form around the table, not flowers: «Накладная № 12 от 02.12.2026»,
# «Наименование Кол-во Цена», «Поставщик: …», signatures.
_NOT_A_LINE = re.compile(
    r"^\s*(накладная|товарная|наименование|№\s*п|поставщик|получатель|покупатель|дата|"
    r"отпустил|принял|подпись|м\.?\s*п\.?)",
    re.IGNORECASE,
)
_TOTAL = re.compile(r"^\s*(итого|всего|total)\b[\s:.]*(?P<rest>.*)$", re.IGNORECASE)
_STEMS = re.compile(r"(?P<n>\d[\d\s]*)\s*(шт|штук)", re.IGNORECASE)
_MONEY = re.compile(r"(?P<n>\d{1,3}(?:[\s ]\d{3})+|\d+)\s*(₸|тг|тенге)?", re.IGNORECASE)


@dataclass(frozen=True)
class Total:
    """What the invoice's «Итого» line says: stems, a sum in tenge, or both."""

    quantity: int | None = None
    amount: int | None = None


def parse_total(text: str) -> Total | None:
    """«Итого: 115 шт», «Итого 47 500 ₸», «Всего: 115 шт на сумму 47 500»; None if not a total."""
    match = _TOTAL.match(text)
    if match is None:
        return None
    rest = match["rest"]
    quantity = amount = None
    stems = _STEMS.search(rest)
    if stems:
        quantity = int(re.sub(r"\D", "", stems["n"]))
        rest = rest[: stems.start()] + " " + rest[stems.end() :]
    numbers = [m for m in _MONEY.finditer(rest) if m["n"].strip()]
    if numbers:
        value = int(re.sub(r"\D", "", numbers[-1]["n"]))
        if quantity is None and not numbers[-1].group(2) and len(numbers) == 1 and value < 10_000:
            quantity = value  # «Итого: 115» without a unit: stems (a sum would say ₸ or be large)
        else:
            amount = value
    return Total(quantity, amount) if quantity is not None or amount is not None else None


@dataclass
class PhotoInvoice:
    lines: list[InvoiceLine]
    doubts: list[frozenset[str]]  # per line: QUANTITY / PRICE read with low confidence
    total: Total | None = None
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)  # the form around the table


def read_page(page: ocr.OcrPage, flowers: list[Flower]) -> PhotoInvoice:
    """The invoice in the text lines of a photo, with what was read doubtfully."""
    invoice = PhotoInvoice([], [], seconds=page.seconds)
    for ocr_line in page.lines:
        text = " ".join(ocr_line.text.replace("|", " ").split()).strip(" ,;-–—_")
        if not text:
            continue
        total = parse_total(text)
        if total is not None:
            invoice.total = total
            continue
        if _NOT_A_LINE.match(text) or not any(ch.isdigit() for ch in text):
            invoice.skipped.append(text)
            continue
        line = parse_invoice_line(text, flowers)
        invoice.lines.append(line)
        invoice.doubts.append(_doubts(line, ocr_line))
        if len(invoice.lines) >= INVOICE_MAX_LINES:
            break
    return invoice


def _doubts(line: InvoiceLine, ocr_line: ocr.OcrLine) -> frozenset[str]:
    """The numbers the parser took are the last numeric words of the line: price last (when
    there is one), the quantity before it. Each is doubtful when its word was read unsurely."""
    numeric = [w for w in ocr_line.words if re.sub(r"[^\d]", "", w.text) and _digits_only(w.text)]
    wanted = ([(PRICE, line.price)] if line.price is not None else []) + [(QUANTITY, line.quantity)]
    doubtful = set()
    for (name, value), word in zip(wanted, reversed(numeric), strict=False):
        if value is not None and word.confidence < ocr.DOUBTFUL_BELOW:
            doubtful.add(name)
    if line.quantity is not None and len(numeric) < len(wanted):
        doubtful.add(QUANTITY)  # the numbers came out of words that were not read as numbers
    return frozenset(doubtful)


def _digits_only(word: str) -> bool:
    """A number as printed, maybe with its unit glued on: «50», «50шт», «950₸», «950,»."""
    return re.fullmatch(r"\d+(шт\.?|₸|тг\.?)?[.,;:]?", word, flags=re.IGNORECASE) is not None


def rows(invoice: PhotoInvoice) -> list[dict[str, Any]]:
    """The lines that will be saved, with the numbers still to be confirmed under "doubt"."""
    return [
        {
            "flower_id": line.flower.id,
            "flower_name": line.flower.name,
            "quantity": line.quantity,
            "price": line.price,
            "doubt": [name for name in (QUANTITY, PRICE) if name in doubt],  # asked in this order
        }
        for line, doubt in zip(invoice.lines, invoice.doubts, strict=True)
        if line.status is LineStatus.OK and line.flower is not None
    ]


@dataclass(frozen=True)
class TotalCheck:
    """The lines against the invoice's total: None in a field means it agrees or is not printed."""

    quantity: tuple[int, int] | None = None  # (printed, the lines' sum) when they differ
    amount: tuple[int, int] | None = None


def check_total(saved_rows: list[dict[str, Any]], total: Total | None) -> TotalCheck | None:
    """Do the lines add up to the printed total? None when there is no total or they agree."""
    if total is None:
        return None
    stems = sum(int(r["quantity"] or 0) for r in saved_rows)
    quantity = (total.quantity, stems) if total.quantity is not None and total.quantity != stems else None
    amount = None
    if total.amount is not None and all(r.get("price") is not None for r in saved_rows):
        money = sum(int(r["quantity"] or 0) * int(r["price"]) for r in saved_rows)
        amount = (total.amount, money) if total.amount != money else None
    return TotalCheck(quantity, amount) if quantity or amount else None


class InvoiceReader:
    """Reads photos off the event loop, at most `at_once` at a time: on 2 cores the bot keeps
    answering everyone else while a photo is read."""

    def __init__(self, read: Callable[[bytes], ocr.OcrPage] = ocr.read_image, *, at_once: int = 1) -> None:
        self._read = read
        self._turns = asyncio.Semaphore(at_once)

    @staticmethod
    def available() -> bool:
        return ocr.available()

    async def read(self, content: bytes, flowers: list[Flower]) -> PhotoInvoice:
        """Raises ocr.UnreadablePhoto saying why a photo cannot be read."""
        async with self._turns:
            page = await asyncio.to_thread(self._read, content)
        return read_page(page, flowers)
