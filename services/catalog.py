"""The shop's catalogue and its customers, as a florist at the counter needs them: bouquets found
the way people type them, and a customer found by a phone number in any spelling or part of a
name. Knows nothing of Telegram."""

from __future__ import annotations

import asyncio
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.cvety_api import CvetyApi
from services.inventory import match_score, normalize
from services.models import Customer, Order, OrderStatus, Product
from services.parsing import drop_invisible, normalize_phone
from services.roles import Permission, Role, can

PAGE_SIZE = 8
MIN_QUERY = 2  # letters or digits; one letter matches half the catalogue
QUERY_MAX = 60
MIN_PHONE_DIGITS = 5
PRODUCT_TYPES = ("vitrina", "catalog")
FETCH_LIMIT = 100  # the server's maximum page
SCAN_MAX = 500  # per type: a shop's catalogue is hundreds of bouquets, not thousands
CUSTOMERS_SHOWN = 8
ENDING_MAX = 3  # letters a Russian ending may add to a stem

_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-]+$")


def clean_query(text: str | None) -> str:
    """What a person typed, whitespace folded, invisible marks dropped, cut to a sane length."""
    return " ".join(drop_invisible(text or "").split())[:QUERY_MAX]


def too_short(query: str) -> bool:
    """Fewer than two letters or digits: too little to search by."""
    return len(normalize(query).replace(" ", "")) < MIN_QUERY


# --- products ------------------------------------------------------------------------------------


def _stem(token: str) -> str:
    """A Russian word without its ending, near enough: «розы» → «роз», «красные» → «красн»."""
    if token.isdigit() or len(token) <= 3:
        return token
    if len(token) == 4:
        return token[:3]
    return token[: max(3, len(token) - 2)]


def _soft_token(token: str, words: list[str]) -> int:
    """How a query word meets a title: 3 a word, 2 the start of one, 1 another form of it or a
    typo of it, 0 not at all."""
    if token in words:
        return 3
    if any(word.startswith(token) for word in words):
        return 2
    if token.isdigit():
        return 0
    stem = _stem(token)
    # another ending of the same word, not a longer word: «розами» for «розы», not «розовые»
    if any(
        (word.startswith(stem) and len(word) - len(stem) <= ENDING_MAX)
        or (len(word) >= 3 and token.startswith(word) and len(token) - len(word) <= ENDING_MAX)
        for word in words
    ):
        return 1
    if len(token) >= 4 and any(
        difflib.SequenceMatcher(None, token, word).ratio() >= 0.75 for word in words if not word.isdigit()
    ):
        return 1
    return 0


def product_score(query: str, title: str) -> int:
    """0: not this bouquet. Every query word must meet the title in any order; exact words and
    word starts (the stock matcher's rule) rank above other word forms and typos."""
    strict = match_score(query, title)
    if strict:
        return strict
    words = normalize(title).split()
    tokens = normalize(query).split()
    if not tokens or not words:
        return 0
    scores = [_soft_token(token, words) for token in tokens]
    return 0 if 0 in scores else sum(scores)


def rank_products(query: str, products: Iterable[Product]) -> list[Product]:
    """Matching bouquets, best first; among equals what can be sold now, the showcase first."""
    scored = [(product_score(query, p.title), p) for p in products]
    return [
        p
        for score, p in sorted(
            scored,
            key=lambda pair: (
                -pair[0],
                pair[1].is_available is False,
                pair[1].type != "vitrina",
                normalize(pair[1].title),
                pair[1].id,
            ),
        )
        if score > 0
    ]


def server_terms(query: str) -> list[str]:
    """What to ask the server for: its search is a plain substring, so besides the query as typed
    ask for the stem of its longest word («красные розы» → «красн»), which finds other word forms
    and any word order."""
    terms = [query]
    words = [w for w in normalize(query).split() if not w.isdigit()]
    if words:
        stem = _stem(max(words, key=len))
        if len(stem) >= MIN_QUERY and stem != query.casefold():
            terms.append(stem)
    return terms


# --- customers -----------------------------------------------------------------------------------


class QueryKind(StrEnum):
    PHONE = "phone"  # a whole number: +7XXXXXXXXXX
    DIGITS = "digits"  # a part of a number, at least MIN_PHONE_DIGITS digits
    NAME = "name"
    TOO_SHORT = "too_short"  # one letter, or nothing
    FEW_DIGITS = "few_digits"  # a number too short to tell customers apart


@dataclass(frozen=True)
class CustomerQuery:
    kind: QueryKind
    text: str
    phone: str | None = None
    needles: tuple[str, ...] = ()  # digit strings to look for in a phone number


def parse_customer_query(text: str | None) -> CustomerQuery:
    """A phone number in any spelling («8 701 …», «+7 (701) …», «701…», its last digits) or part
    of a name."""
    cleaned = clean_query(text)
    if _PHONE_LIKE.match(cleaned) and any(ch.isdigit() for ch in cleaned):
        try:
            return CustomerQuery(QueryKind.PHONE, cleaned, phone=normalize_phone(cleaned))
        except ValueError:
            pass
        digits = re.sub(r"\D", "", cleaned)
        if len(digits) < MIN_PHONE_DIGITS:
            return CustomerQuery(QueryKind.FEW_DIGITS, cleaned)
        needles = [digits]
        if digits.startswith("8") and len(digits) > MIN_PHONE_DIGITS:  # the trunk prefix for +7
            needles.append("7" + digits[1:])
        return CustomerQuery(QueryKind.DIGITS, cleaned, needles=tuple(needles))
    if too_short(cleaned):
        return CustomerQuery(QueryKind.TOO_SHORT, cleaned)
    return CustomerQuery(QueryKind.NAME, cleaned)


def _phone_digits(phone: str | None) -> str:
    if not phone:
        return ""
    try:
        return normalize_phone(phone)[1:]  # 7XXXXXXXXXX
    except ValueError:
        return re.sub(r"\D", "", phone)


def customer_score(query: CustomerQuery, customer: Customer) -> int:
    """0: not this customer; higher is a better match."""
    if query.kind is QueryKind.PHONE:
        return 100 if query.phone and _phone_digits(customer.phone) == query.phone[1:] else 0
    if query.kind is QueryKind.DIGITS:
        digits = _phone_digits(customer.phone)
        if not digits:
            return 0
        if any(digits.endswith(n) for n in query.needles):
            return 3
        return 2 if any(n in digits for n in query.needles) else 0
    if query.kind is not QueryKind.NAME:
        return 0
    name = normalize(customer.name or "")
    tokens = normalize(query.text).split()
    if not tokens or not name:
        return 0
    digits = _phone_digits(customer.phone)
    for token in tokens:
        if token in name:
            continue
        if token.isdigit() and len(token) >= 4 and token in digits:
            continue
        return 0
    return max(match_score(query.text, customer.name or ""), 1)


def find_customers(query: CustomerQuery, customers: Iterable[Customer]) -> list[Customer]:
    scored = [(customer_score(query, c), c) for c in customers]
    return [
        c
        for score, c in sorted(scored, key=lambda p: (-p[0], normalize(p[1].name or ""), p[1].id))
        if score > 0
    ]


@dataclass(frozen=True)
class CustomerStats:
    orders: int
    total: int | None  # tenge, cancelled orders left out
    last_order_at: datetime | None


def customer_stats(customer: Customer, orders: list[Order]) -> CustomerStats:
    """The server's figures where it sent them (their names vary, some customers have none),
    else counted from the orders."""
    counted_total = sum(
        o.amount or 0
        for o in orders
        if o.status not in (OrderStatus.CANCELLED, OrderStatus.REFUNDED) and o.currency == "KZT"
    )
    created = [o.created_at for o in orders if o.created_at is not None]
    return CustomerStats(
        orders=customer.orders_count if customer.orders_count is not None else len(orders),
        total=customer.total if customer.total is not None else (counted_total if orders else None),
        last_order_at=customer.last_order_at or (max(created) if created else None),
    )


def may_see_phones(role: Role) -> bool:
    """Customers' phone numbers are for the people who see orders in full."""
    return can(role, Permission.ORDERS_VIEW_ALL) or can(role, Permission.ORDERS_VIEW_OPEN)


# --- the service ---------------------------------------------------------------------------------


class CatalogService:
    def __init__(self, cvety: CvetyApi) -> None:
        self._cvety = cvety

    async def search(self, query: str) -> list[Product]:
        """Bouquets of both kinds matching `query`, best first. The server's search narrows the
        lists; the matching and order are decided here. When the server finds nothing we accept
        (a typo, «ё» for «е»), the whole catalogue is read and matched here."""
        terms = server_terms(query)
        found = await asyncio.gather(*(self._collect(t, term) for term in terms for t in PRODUCT_TYPES))
        ranked = rank_products(query, _unique(p for batch in found for p in batch))
        if ranked:
            return ranked
        everything = await asyncio.gather(*(self._collect(t, None) for t in PRODUCT_TYPES))
        return rank_products(query, _unique(p for batch in everything for p in batch))

    async def _collect(self, product_type: str, search: str | None) -> list[Product]:
        products: list[Product] = []
        offset = 0
        while offset < SCAN_MAX:
            page = await self._cvety.list_products(
                type=product_type, search=search, limit=FETCH_LIMIT, offset=offset
            )
            products.extend(page.items)
            if not page.has_more or not page.items:
                break
            offset += len(page.items)
        return products

    async def product(self, product_id: int) -> Product:
        """With its composition (lists leave it out); ApiNotFound when there is no such bouquet."""
        return await self._cvety.get_product(product_id)

    async def find_customers(self, query: CustomerQuery) -> list[Customer]:
        """One call: the server has no search for customers, so they are matched here."""
        return find_customers(query, await self._cvety.list_customers())

    async def customer(self, customer_id: int) -> Customer | None:
        for customer in await self._cvety.list_customers():
            if customer.id == customer_id:
                return customer
        return None

    async def customer_with_orders(self, customer_id: int) -> tuple[Customer | None, list[Order]]:
        """The customer and their orders, newest first (two calls at once)."""
        customer, orders = await asyncio.gather(
            self.customer(customer_id), self._cvety.customer_orders(customer_id)
        )
        return customer, sorted(orders, key=lambda o: o.id, reverse=True)

    async def orders_of(self, customer_id: int) -> list[Order]:
        return sorted(await self._cvety.customer_orders(customer_id), key=lambda o: o.id, reverse=True)


def _unique(products: Iterable[Product]) -> list[Product]:
    seen: dict[int, Product] = {}
    for product in products:
        seen.setdefault(product.id, product)
    return list(seen.values())
