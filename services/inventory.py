"""Stock: finding flowers the way people type them, checking typed quantities and prices,
reading supplier invoices pasted as text, and the stock lookups. Knows nothing of Telegram."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from services.crm_api import CrmApi
from services.models import Flower, LowStockReport, Movement, StockProduct
from services.outbox import Outbox, WriteKind, WriteOutcome, op_ids_in
from services.staff import StaffService
from services.storage.errors import StorageError
from services.storage.repositories import KeyValueStore

MAX_STEMS = 100_000
MAX_PRICE = 10_000_000
TEXT_MAX = 500
INVOICE_MAX_LINES = 50


class InputProblem(StrEnum):
    """Why a typed value was refused; the UI words it."""

    EMPTY = "empty"
    NOT_A_NUMBER = "not_a_number"
    FRACTION = "fraction"
    NOT_POSITIVE = "not_positive"
    TOO_BIG = "too_big"
    TOO_LONG = "too_long"


class InputError(ValueError):
    def __init__(self, problem: InputProblem, limit: int | None = None) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.limit = limit


_QUANTITY = re.compile(r"^\s*(\d+)\s*(?:шт\.?|штук[аи]?|pcs|дана)?\s*$", re.IGNORECASE)
_SIGNED_OR_DECIMAL = re.compile(r"^\s*[-+]?\d+(?:[.,]\d+)?(?:e[-+]?\d+)?\s*(?:шт\.?)?\s*$", re.IGNORECASE)


def parse_quantity(text: str | None, *, maximum: int = MAX_STEMS, allow_zero: bool = False) -> int:
    """Whole stems as a person types them: «50», «50 шт», « 50 ». Raises InputError."""
    if text is None or not text.strip():
        raise InputError(InputProblem.EMPTY)
    match = _QUANTITY.match(text)
    if match is None:
        if _SIGNED_OR_DECIMAL.match(text):
            stripped = text.strip()
            if stripped.startswith("-"):
                raise InputError(InputProblem.NOT_POSITIVE)
            if "e" in stripped.lower():
                raise InputError(InputProblem.TOO_BIG, maximum)
            raise InputError(InputProblem.FRACTION)
        raise InputError(InputProblem.NOT_A_NUMBER)
    digits = match.group(1)
    if len(digits) > 9:
        raise InputError(InputProblem.TOO_BIG, maximum)
    value = int(digits)
    if value == 0 and not allow_zero:
        raise InputError(InputProblem.NOT_POSITIVE)
    if value > maximum:
        raise InputError(InputProblem.TOO_BIG, maximum)
    return value


_PRICE = re.compile(r"^\s*(\d[\d\s\u00a0\u202f]*)\s*(?:₸|тг\.?|тенге|kzt)?\s*$", re.IGNORECASE)


def parse_price(text: str | None, *, maximum: int = MAX_PRICE) -> int:
    """Tenge as typed: «120», «1 200», «1200 ₸», «0». Raises InputError."""
    if text is None or not text.strip():
        raise InputError(InputProblem.EMPTY)
    match = _PRICE.match(text)
    if match is None:
        if _SIGNED_OR_DECIMAL.match(text):
            if text.strip().startswith("-"):
                raise InputError(InputProblem.NOT_POSITIVE)
            raise InputError(InputProblem.FRACTION)
        raise InputError(InputProblem.NOT_A_NUMBER)
    digits = re.sub(r"\D", "", match.group(1))
    if len(digits) > 12 or int(digits) > maximum:
        raise InputError(InputProblem.TOO_BIG, maximum)
    return int(digits)


def clean_text(text: str | None, *, limit: int = TEXT_MAX) -> str:
    """Free text (reason, note, supplier): trimmed, whitespace folded. Raises InputError."""
    value = " ".join((text or "").split())
    if not value:
        raise InputError(InputProblem.EMPTY)
    if len(value) > limit:
        raise InputError(InputProblem.TOO_LONG, limit)
    return value


# --- finding flowers -------------------------------------------------------------------------------


def normalize(text: str) -> str:
    return re.sub(r"[^\w]+", " ", text.casefold().replace("ё", "е")).strip()


def _tokens(text: str) -> list[str]:
    return normalize(text).split()


def word_score(query: str, name: str) -> int:
    """0 when some query word is missing from the name; else how well the words match.
    Every query word must start a word of the name, in any order («роза 60» → «Роза красная 60 см»)."""
    wanted = _tokens(query)
    words = _tokens(name)
    if not wanted:
        return 0
    score = 0
    for token in wanted:
        if token in words:
            score += 3
        elif any(word.startswith(token) for word in words):
            score += 2
        else:
            return 0
    return score


def match_score(query: str, name: str) -> int:
    """word_score, with shorter names first among equals (for ordering, not for ambiguity)."""
    score = word_score(query, name)
    if score == 0:
        return 0
    return score * 10 - min(max(len(_tokens(name)) - len(_tokens(query)), 0), 9)


def find_flowers(query: str, flowers: list[Flower]) -> list[Flower]:
    """Flowers matching what a person typed, best first."""
    scored = [(match_score(query, f.name) or match_score(query, f.name_en or ""), f) for f in flowers]
    return [f for s, f in sorted(scored, key=lambda p: (-p[0], p[1].name)) if s > 0]


def suggest(query: str, flowers: list[Flower], limit: int = 3) -> list[Flower]:
    """Close names for a line that matched nothing (typos: «ростки», «эустамо»)."""
    wanted = normalize(query)
    by_name = {normalize(f.name): f for f in flowers}
    close = difflib.get_close_matches(wanted, list(by_name), n=limit, cutoff=0.45)
    if not close:
        first = wanted.split()[0] if wanted.split() else ""
        close = [
            # a name of punctuation or emoji alone normalises to ""
            n
            for n in by_name
            if first and n and difflib.SequenceMatcher(None, first, n.split()[0]).ratio() > 0.6
        ]
    return [by_name[n] for n in close[:limit]]


def looks_like_invoice(text: str) -> bool:
    """Several lines, or one line ending in a number after a name («Роза красная 60 50»)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        return True
    words = text.split()
    return len(words) >= 3 and words[-1].isdigit() and words[-2].isdigit()


# --- invoices --------------------------------------------------------------------------------------


class LineStatus(StrEnum):
    OK = "ok"
    UNMATCHED = "unmatched"
    AMBIGUOUS = "ambiguous"
    BAD_NUMBER = "bad_number"


@dataclass
class InvoiceLine:
    text: str
    status: LineStatus
    flower: Flower | None = None
    quantity: int | None = None
    price: int | None = None
    suggestions: list[Flower] = field(default_factory=list)


_NUMBER = re.compile(r"^\d{1,9}$")
# «Роза красная 60 см — 50 — 950», «Роза, 50, 950»: a lone dash, or a comma / semicolon / colon
# ending a word, only separates (a comma inside a number, «1,200», is left alone).
_SEPARATOR = re.compile(r"(?<!\S)[-–—](?!\S)|[,;:](?!\S)")


def parse_invoice(text: str, flowers: list[Flower]) -> list[InvoiceLine]:
    """One line per flower: «Роза красная 60 50 120» = name, quantity, price per stem (optional).
    A number may belong to the name (60 cm): the reading whose name matches best wins."""
    lines: list[InvoiceLine] = []
    for raw in text.splitlines():
        line = " ".join(raw.replace("\t", " ").split()).strip(" ,;-–—")
        if not line:
            continue
        lines.append(parse_invoice_line(line, flowers))
        if len(lines) >= INVOICE_MAX_LINES:
            break
    return lines


def parse_invoice_line(line: str, flowers: list[Flower]) -> InvoiceLine:
    separated = _SEPARATOR.sub(" ", line)
    words = re.sub(r"(?<=\d)\s*(?:шт\.?|штук[аи]?|₸|тг\.?)(?=\s|$)", "", separated, flags=re.I).split()
    numbers = 0
    while numbers < len(words) and _NUMBER.match(words[len(words) - 1 - numbers]):
        numbers += 1
    if numbers == 0 or numbers == len(words):
        return InvoiceLine(line, LineStatus.BAD_NUMBER)
    best: InvoiceLine | None = None
    best_key: tuple[int, int] = (-1, -1)
    for with_price in (True, False):
        taken = 2 if with_price else 1
        if numbers < taken or numbers - taken > 2:
            continue
        name = " ".join(words[: len(words) - taken])
        values = words[len(words) - taken :]
        candidates = find_flowers(name, flowers)
        if not candidates:
            continue
        top = word_score(name, candidates[0].name)
        tied = [c for c in candidates if word_score(name, c.name) == top]
        key = (1 if len(tied) == 1 else 0, top)
        if best is not None and best.flower is not None and tied == [best.flower]:
            # «Роза розовая 50 см 50 650»: the quantity repeating the size matches the name once
            # more, yet it is the same flower: the reading with the price stands
            continue
        if key <= best_key:
            continue
        try:
            quantity = parse_quantity(values[0])
            price = parse_price(values[1]) if with_price else None
        except InputError:
            continue
        best_key = key
        if len(tied) == 1:
            best = InvoiceLine(line, LineStatus.OK, tied[0], quantity, price)
        else:
            best = InvoiceLine(line, LineStatus.AMBIGUOUS, None, quantity, price, tied[:3])
    if best is not None:
        return best
    name = " ".join(words[: len(words) - 1])
    return InvoiceLine(line, LineStatus.UNMATCHED, suggestions=suggest(name, flowers))


def invoice_rows(lines: list[InvoiceLine]) -> list[dict[str, Any]]:
    """The lines that will be saved, as they wait in the flow for «Сохранить»."""
    return [
        {
            "flower_id": line.flower.id,
            "flower_name": line.flower.name,
            "quantity": line.quantity,
            "price": line.price,
        }
        for line in lines
        if line.status is LineStatus.OK and line.flower is not None
    ]


@dataclass
class InvoiceSaved:
    outcomes: list[WriteOutcome]  # the lines stored, in order (duplicates of a second tap included)
    failure: StorageError | None = None  # why the rest was not stored


async def submit_invoice(
    outbox: Outbox,
    rows: list[dict[str, Any]],
    op_id: str,
    *,
    created_by: int,
    chat_id: int,
    note: str = "накладная",
) -> InvoiceSaved:
    """Each line through the outbox under its own op id, so «Сохранить» again after the database
    stopped taking them stores the rest and skips the lines stored already."""
    saved = InvoiceSaved([])
    for index, row in enumerate(rows):
        payload = {k: v for k, v in row.items() if k != "doubt"} | {"note": note}
        try:
            outcome = await outbox.submit(
                WriteKind.FLOWER_DELIVERY,
                payload,
                created_by=created_by,
                chat_id=chat_id,
                op_id=f"{op_id}{index:02x}"[:32],
            )
        except StorageError as error:
            saved.failure = error
            break
        saved.outcomes.append(outcome)
    return saved


def write_of(draft: dict[str, Any]) -> tuple[WriteKind, dict[str, Any]]:
    """The outbox write of a confirmed delivery or write-off (as the flow keeps it)."""
    common = {
        "flower_id": draft["flower_id"],
        "quantity": draft["quantity"],
        "flower_name": draft["flower_name"],
    }
    if draft.get("mode") == "writeoff":
        note = f"📷 {draft['photo_url']}" if draft.get("photo_url") else None
        return WriteKind.FLOWER_WRITEOFF, {**common, "reason": draft["reason"], "note": note}
    return WriteKind.FLOWER_DELIVERY, {
        **common,
        "price": draft.get("price"),
        "supplier": draft.get("supplier"),
    }


def stocktake_differences(
    items: list[dict[str, Any]], counted: dict[str, int]
) -> list[tuple[dict[str, Any], int]]:
    """The counted items whose real quantity differs from the system's, with that quantity."""
    return [
        (item, counted[item["id"]])
        for item in items
        if counted.get(item["id"], item["quantity"]) != item["quantity"]
    ]


async def authors(movements: list[Movement], outbox: Outbox, staff: StaffService) -> dict[str, str]:
    """op id → name of who confirmed it, for the movements the bot wrote."""
    op_ids = {op for m in movements for op in op_ids_in(m.note)}
    if not op_ids:
        return {}
    by_op = await outbox.authors(op_ids)
    names = await staff.names(set(by_op.values()))
    return {op: names[person] for op, person in by_op.items() if person in names}


# --- lookups ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LowStock:
    flowers: list[Flower]  # at or below the threshold, out of stock first
    products: list[StockProduct]
    threshold: int


class InventoryService:
    def __init__(self, crm: CrmApi, *, threshold: int) -> None:
        self._crm = crm
        self.threshold = threshold

    async def flowers(self) -> list[Flower]:
        return await self._crm.list_flowers()

    async def search(self, query: str) -> list[Flower]:
        """One call: the active flowers, matched here (the server only does substrings)."""
        flowers = await self._crm.list_flowers()
        if not query.strip():
            return sorted(flowers, key=lambda f: normalize(f.name))
        return find_flowers(query, flowers)

    async def flower(self, flower_id: str) -> Flower | None:
        for flower in await self._crm.list_flowers():
            if flower.id == flower_id:
                return flower
        return None

    async def of_ids(self, flower_ids: list[str]) -> list[Flower]:
        """These flowers in this order, those still in the list."""
        if not flower_ids:
            return []
        flowers = {f.id: f for f in await self._crm.list_flowers()}
        return [flowers[i] for i in flower_ids if i in flowers]

    async def history(self, flower_id: str | None = None, limit: int = 20) -> list[Movement]:
        return await self._crm.history(flower_id=flower_id, limit=limit)

    async def low_stock(self) -> LowStock:
        report: LowStockReport = await self._crm.low_stock(threshold=self.threshold)
        flowers = [f for f in await self._crm.list_flowers() if f.quantity <= self.threshold]
        flowers.sort(key=lambda f: (f.quantity > 0, f.quantity, normalize(f.name)))
        products = sorted(report.products, key=lambda p: (p.quantity, p.name))
        return LowStock(flowers, products, self.threshold)


RECENT_FLOWERS = 6
RECENT_SUPPLIERS = 5


class RecentChoices:
    """What a person picked lately, offered as buttons next time (wet hands type little)."""

    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv

    async def flowers(self, user_id: int) -> list[str]:
        return list(await self._kv.get(f"recent_flowers:{user_id}", []))

    async def remember_flower(self, user_id: int, flower_id: str) -> None:
        recent = [f for f in await self.flowers(user_id) if f != flower_id]
        await self._kv.set(f"recent_flowers:{user_id}", [flower_id, *recent][:RECENT_FLOWERS])

    async def suppliers(self) -> list[str]:
        return list(await self._kv.get("recent_suppliers", []))

    async def remember_supplier(self, name: str) -> None:
        recent = [s for s in await self.suppliers() if s.casefold() != name.casefold()]
        await self._kv.set("recent_suppliers", [name, *recent][:RECENT_SUPPLIERS])

    async def delivery_defaults(self, flower_id: str) -> tuple[int | None, str | None]:
        """The price this flower came at last time and the supplier used last: a delivery is
        mostly the same as the one before, so the summary offers them, changed in one tap."""
        price = await self._kv.get(f"last_price:{flower_id}")
        suppliers = await self.suppliers()
        return (price if isinstance(price, int) else None), (suppliers[0] if suppliers else None)

    async def remember_delivery(self, flower_id: str, price: int | None, supplier: str | None) -> None:
        if price is not None:
            await self._kv.set(f"last_price:{flower_id}", price)
        if supplier:
            await self.remember_supplier(supplier)
