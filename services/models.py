"""Typed, normalised views of what the two backends answer, whatever the variant.

Every model is built with `Model.from_api(raw, origin=...)` from one JSON object (after the
envelope is removed): the mapping from the servers' many spellings lives in `_fields`, the
fields themselves are plain, so tests and fakes can also build models directly by name.
Lists skip an item that cannot be read (logged as a warning) instead of failing whole.
"""

from __future__ import annotations

import html
import json
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.parsing import (
    DEFAULT_CURRENCY,
    DeliverySlot,
    Money,
    OrderStatus,
    absolute_url,
    decode_delivery_slot,
    known_status,
    normalize_status,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_int,
    parse_money,
    parse_phone,
    parse_price,
)

__all__ = [
    "AllowedStatuses",
    "BulkUpdateResult",
    "Colleague",
    "ColleagueList",
    "CompositionItem",
    "Customer",
    "DeleteResult",
    "DeliverySlot",
    "Executor",
    "Flower",
    "FlowerDelivery",
    "FlowerWriteOff",
    "InventoryChange",
    "InventoryUpdate",
    "LowStockProduct",
    "LowStockReport",
    "Money",
    "Movement",
    "Order",
    "OrderHistoryEntry",
    "OrderItem",
    "OrderStatus",
    "Page",
    "Person",
    "Product",
    "Profile",
    "Shop",
    "ShopInfo",
    "SocialLinks",
    "StatusChange",
    "StockProduct",
    "UploadResult",
    "error_summary",
    "items_of",
    "known_status",
]

log = logging.getLogger("services.api")

T = TypeVar("T")


# --- helpers -----------------------------------------------------------------------------------


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _pick(sources: Mapping[str, Any] | tuple[Mapping[str, Any], ...], *keys: str) -> Any:
    """The first present value of `keys`, looking through each source in turn: the first source
    wins when it has the field, later ones fill the gaps."""
    for source in sources if isinstance(sources, tuple) else (sources,):
        for key in keys:
            value = source.get(key)
            if _present(value):
                return value
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        # PHP sends names and addresses with entities (&quot;); the UI escapes them again itself.
        return html.unescape(value).strip() or None
    return None


def _int_id(value: Any) -> Any:
    """cvety ids come as ints or numeric strings. Garbage is passed on so validation rejects it."""
    parsed = parse_int(value)
    return parsed if parsed is not None else value


def _str_id(value: Any) -> Any:
    """CRM ids are strings (uuids, "rose-red"); numbers are accepted and turned into strings."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else value


def _texts(value: Any) -> list[str]:
    """A list of names from a list of strings/objects, a comma-separated string, or `false`."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return []
    names = (
        _text(_pick(item, "name", "title", "code")) if isinstance(item, dict) else _text(item)
        for item in value
    )
    return [name for name in names if name]


def error_summary(exc: Exception) -> str:
    """Why a value was refused, without the value itself (it may hold a customer's data)."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['type']}"
            for error in exc.errors(include_url=False, include_input=False, include_context=False)
        )
    return str(exc)


_LIST_KEYS = (
    "items",
    "data",
    "orders",
    "products",
    "customers",
    "shops",
    "flowers",
    "colleagues",
    "movements",
    "list",
    "results",
    "rows",
)


def _dict_of_objects(value: Any) -> bool:
    # PHP encodes an array keyed by id as an object: {"122578": {...}, "122579": {...}}
    return isinstance(value, dict) and bool(value) and all(isinstance(v, dict) for v in value.values())


def items_of(data: Any) -> tuple[list[Any], dict[str, Any]]:
    """The list inside a list answer, and the object around it (which may hold pagination)."""
    if data is None:
        return [], {}
    if isinstance(data, list):
        return data, {}
    if isinstance(data, dict):
        for key in _LIST_KEYS:
            value = data.get(key)
            if isinstance(value, list):
                return value, data
            if isinstance(value, dict) and _dict_of_objects(value):
                return list(value.values()), data
        if _dict_of_objects(data):
            return list(data.values()), {}
        if not data:
            return [], {}
    raise ValueError(f"expected a list, got {type(data).__name__}")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list. `has_more` is the server's word, else derived from `total`, else a
    guess: a full page probably has a next one (None when even that is unknown)."""

    items: list[T]
    total: int | None = None
    limit: int | None = None
    offset: int | None = None
    has_more: bool | None = None


class ApiModel(BaseModel):
    model_config = ConfigDict(frozen=True)
    # How many built models to keep by the JSON they came from (0: none). A list read again
    # brings mostly the same objects, and the models are frozen: an unchanged one is reused.
    REMEMBER: ClassVar[int] = 0
    _remembered: ClassVar[OrderedDict[tuple[str | None, str], Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._remembered = OrderedDict()

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        return raw

    @classmethod
    def from_api(cls, raw: Any, *, origin: str | None = None) -> Self:
        """Build from one JSON object; ValueError (or pydantic's ValidationError) if unusable."""
        if not isinstance(raw, dict):
            raise ValueError(f"{cls.__name__}: expected an object, got {type(raw).__name__}")
        if not cls.REMEMBER:
            return cls.model_validate(cls._fields(raw, origin))
        key = (origin, json.dumps(raw, ensure_ascii=False, default=str))
        model: Self | None = cls._remembered.get(key)
        if model is None:
            model = cls.model_validate(cls._fields(raw, origin))
            cls._remembered[key] = model
            if len(cls._remembered) > cls.REMEMBER:
                cls._remembered.popitem(last=False)
        else:
            cls._remembered.move_to_end(key)
        return model

    @classmethod
    def optional_from_api(cls, raw: Any, *, origin: str | None = None) -> Self | None:
        """For a nested object that is nice to have: None (and a warning) instead of an error."""
        if not _present(raw):
            return None
        try:
            return cls.from_api(raw, origin=origin)
        except ValueError as exc:
            log.warning("ignoring an unreadable %s: %s", cls.__name__, error_summary(exc))
            return None

    @classmethod
    def list_from_api(cls, data: Any, *, origin: str | None = None) -> list[Self]:
        items, _ = items_of(data)
        return cls._each(items, origin)

    @classmethod
    def _nested(cls, value: Any, origin: str | None) -> list[Self]:
        """A list inside another object: an unreadable one is dropped, not the whole object."""
        try:
            items, _ = items_of(value)
        except ValueError as exc:
            log.warning("ignoring an unreadable list of %s: %s", cls.__name__, error_summary(exc))
            return []
        return cls._each(items, origin)

    @classmethod
    def _each(cls, items: list[Any], origin: str | None) -> list[Self]:
        result = []
        for index, item in enumerate(items):
            try:
                result.append(cls.from_api(item, origin=origin))
            except ValueError as exc:
                log.warning("skipping %s #%d of %d: %s", cls.__name__, index, len(items), error_summary(exc))
        return result

    @classmethod
    def page_from_api(
        cls,
        data: Any,
        pagination: Mapping[str, Any] | None = None,
        *,
        origin: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> Page[Self]:
        raw_items, around = items_of(data)
        meta = {**around, **_obj(around.get("pagination")), **(pagination or {})}
        total = parse_int(_pick(meta, "total", "totalCount", "total_count"))
        server_limit, server_offset = parse_int(meta.get("limit")), parse_int(meta.get("offset"))
        limit = server_limit if server_limit is not None else limit
        offset = server_offset if server_offset is not None else offset
        has_more = parse_bool(_pick(meta, "hasMore", "has_more", "hasNext"))
        if has_more is None and total is not None:
            has_more = (offset or 0) + len(raw_items) < total
        elif has_more is None and limit:
            has_more = len(raw_items) >= limit
        return Page(cls._each(raw_items, origin), total=total, limit=limit, offset=offset, has_more=has_more)


# --- orders ------------------------------------------------------------------------------------


class Person(ApiModel):
    name: str | None = None
    phone: str | None = None

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        return {
            "name": _text(_pick(raw, "name", "fullName", "NAME")),
            "phone": parse_phone(_pick(raw, "phone", "PHONE")),
        }

    @classmethod
    def from_parts(cls, name: Any, phone: Any) -> Person | None:
        person = cls(name=_text(name), phone=parse_phone(phone))
        return person if person.name or person.phone else None


class Executor(ApiModel):
    id: int | None = None
    name: str | None = None
    source: str | None = None

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        return {
            "id": parse_int(_pick(raw, "id", "ID", "userId")),
            "name": _text(_pick(raw, "name", "NAME", "fullName")),
            "source": _text(raw.get("source")),
        }


class OrderItem(ApiModel):
    id: int | None = None
    name: str | None = None
    quantity: int | None = None
    price: int | None = None
    currency: str = DEFAULT_CURRENCY
    image_url: str | None = None

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        money = parse_money(_pick(raw, "price", "PRICE"), _pick(raw, "currency", "CURRENCY"))
        return {
            # `items` carry `id`; the shop engine's basket rows have their own id and `productId`
            "id": parse_int(_pick(raw, "productId", "product_id", "PRODUCT_ID", "id", "ID")),
            "name": _text(_pick(raw, "productName", "name", "title", "NAME")),
            "quantity": parse_int(_pick(raw, "amount", "quantity", "QUANTITY", "count")),
            "price": money.amount if money else None,
            "currency": money.currency if money else DEFAULT_CURRENCY,
            "image_url": absolute_url(_pick(raw, "productImage", "image", "img", "picture"), origin),
        }


class OrderHistoryEntry(ApiModel):
    status: str = ""
    at: datetime | None = None
    user: str | None = None

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        user = _pick(raw, "user", "userName", "user_name")
        return {
            "status": normalize_status(_pick(raw, "status", "statusId", "status_id")),
            "at": parse_datetime(_pick(raw, "timestamp", "date", "createdAt", "at")),
            "user": _text(_pick(user, "name", "login", "id") if isinstance(user, dict) else user),
        }


_PAID_WORDS = {
    "paid": True,
    "оплачен": True,
    "оплачено": True,
    "unpaid": False,
    "not_paid": False,
    "не оплачен": False,
    "не оплачено": False,
}


def _person(top: dict[str, Any], engine: dict[str, Any], role: str) -> Person | None:
    """`sender {name, phone}` in a list item; `senderName`/`senderPhone` in the engine's object."""
    nested, engine_nested = _obj(top.get(role)), _obj(engine.get(role))
    return Person.from_parts(
        _pick(nested, "name") or _pick(engine, f"{role}Name") or _pick(engine_nested, "name"),
        _pick(nested, "phone") or _pick(engine, f"{role}Phone") or _pick(engine_nested, "phone"),
    )


def _status_code(value: Any) -> Any:
    # A status may come as {"id": "AP", "name": "Принят"}
    return _pick(value, "id", "code", "key") if isinstance(value, dict) else value


class Order(ApiModel):
    REMEMBER = 300  # three lists of 100: /orders pages through tabs of one shop's newest orders

    id: int
    number: str
    status: str = ""
    status_name: str | None = None
    amount: int | None = None
    currency: str = DEFAULT_CURRENCY
    amount_text: str | None = None
    payment_status: str | None = None
    pay_system: str | None = None
    is_paid: bool | None = None
    sender: Person | None = None
    recipient: Person | None = None
    address: str | None = None
    city: str | None = None
    delivery_date: date | None = None
    delivery_slot: DeliverySlot | None = None
    delivery_slot_raw: str | None = None
    delivery_price: int | None = None
    created_at: datetime | None = None
    main_image_url: str | None = None
    assembled_image_url: str | None = None
    recipient_photo_url: str | None = None
    executors: list[Executor] = Field(default_factory=list)
    items: list[OrderItem] = Field(default_factory=list)
    postcard_text: str | None = None
    comment: str | None = None
    notes: str | None = None
    responsible_id: int | None = None
    tracking_url: str | None = None
    history: list[OrderHistoryEntry] = Field(default_factory=list)

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        # Detail answers carry the shop engine's own object in `raw`: the list-item fields at the
        # top win when present, `raw` fills the gaps.
        engine = _obj(raw.get("raw"))
        src = (raw, engine)
        order_id = _int_id(_pick(src, "id", "ID"))
        amount_value = _pick(src, "paymentAmount", "payment_amount", "price", "PRICE")
        money = parse_money(amount_value, _pick(src, "currency", "CURRENCY"))
        currency = money.currency if money else DEFAULT_CURRENCY
        payment_status = _text(_pick(src, "paymentStatus", "payment_status"))
        is_paid = parse_bool(_pick(src, "isPaid", "is_paid", "isPayed", "payed", "PAYED"))
        if is_paid is None and payment_status:
            is_paid = parse_bool(payment_status)
            if is_paid is None:
                is_paid = _PAID_WORDS.get(payment_status.lower())
        # The engine's slot code says more than the list item's display text of it.
        slot_raw = _text(_pick(src, "deliveryType") or _pick(src, "deliveryTime", "delivery_time"))
        return {
            "id": order_id,
            "number": _text(_pick(src, "number", "accountNumber", "ACCOUNT_NUMBER")) or _text(order_id),
            "status": normalize_status(
                _status_code(_pick(src, "status_id", "statusId", "STATUS_ID", "status", "status_key"))
            ),
            "status_name": _text(_pick(src, "status_name", "statusName")),
            "amount": money.amount if money else None,
            "currency": currency,
            "amount_text": _text(amount_value),
            "payment_status": payment_status,
            "pay_system": _text(_pick(src, "paySystem", "pay_system")),
            "is_paid": is_paid,
            "sender": _person(raw, engine, "sender"),
            "recipient": _person(raw, engine, "recipient"),
            "address": _text(_pick(src, "deliveryAddress", "delivery_address", "address")),
            "city": _text(_pick(src, "deliveryCity", "delivery_city", "city")),
            "delivery_date": parse_date(_pick(src, "deliveryDate", "delivery_date")),
            "delivery_slot": decode_delivery_slot(slot_raw),
            "delivery_slot_raw": slot_raw,
            "delivery_price": parse_price(_pick(src, "deliveryPrice", "delivery_price")),
            "created_at": parse_datetime(_pick(src, "createdAt", "created_at", "dateCreated", "DATE_INSERT")),
            "main_image_url": absolute_url(_pick(src, "mainImage", "main_image", "image"), origin),
            "assembled_image_url": absolute_url(_pick(src, "assembledImage", "assembled_image"), origin),
            "recipient_photo_url": absolute_url(_pick(src, "recipientPhoto", "recipient_photo"), origin),
            "executors": Executor._nested(_pick(src, "executors"), origin),
            "items": OrderItem._nested(_pick(src, "items", "basket"), origin),
            "postcard_text": _text(_pick(src, "postcardText", "postcard_text", "postcard")),
            "comment": _text(_pick(src, "comment", "userDescription")),
            "notes": _text(_pick(src, "notes", "note")),
            "responsible_id": parse_int(_pick(src, "responsibleId", "responsible_id")),
            "tracking_url": absolute_url(
                _pick((_obj(raw.get("urls")), _obj(engine.get("urls"))), "status")
                or _pick(src, "trackingUrl", "tracking_url"),
                origin,
            ),
            "history": OrderHistoryEntry._nested(_pick(src, "history"), origin),
        }

    @property
    def money(self) -> Money | None:
        return Money(amount=self.amount, currency=self.currency) if self.amount is not None else None


class AllowedStatuses(ApiModel):
    order_id: int | None = None
    current: str = ""
    allowed: list[str] = Field(default_factory=list)

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        allowed_raw = raw.get("allowed")
        if isinstance(allowed_raw, dict):  # {"F": "Завершён", ...}
            allowed_raw = list(allowed_raw)
        allowed: list[str] = []
        for value in allowed_raw if isinstance(allowed_raw, list) else []:
            code = normalize_status(_status_code(value))
            if code and code not in allowed:
                allowed.append(code)
        return {
            "order_id": parse_int(_pick(raw, "id", "orderId", "order_id")),
            "current": normalize_status(_status_code(_pick(raw, "current", "status"))),
            "allowed": allowed,
        }


class StatusChange(ApiModel):
    order_id: int | None = None
    old_status: str = ""
    new_status: str = ""
    changed: bool | None = None
    changed_at: datetime | None = None

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        return {
            "order_id": parse_int(_pick(raw, "id", "orderId", "order_id")),
            "old_status": normalize_status(_pick(raw, "oldStatus", "old_status")),
            "new_status": normalize_status(_pick(raw, "newStatus", "new_status", "statusId")),
            "changed": parse_bool(raw.get("changed")),
            "changed_at": parse_datetime(_pick(raw, "changedAt", "changed_at")),
        }


# --- products, shops, customers, uploads -------------------------------------------------------


class CompositionItem(ApiModel):
    id: str | None = None  # a flower id: a number, a uuid or a slug such as "rose-red"
    name: str | None = None
    amount: int | None = None

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        return {
            "id": _text(_pick(raw, "id", "flowerId", "flower_id")),
            "name": _text(_pick(raw, "name", "title")),
            "amount": parse_int(_pick(raw, "amount", "quantity", "count")),
        }


def _image_list(value: Any, origin: str | None) -> list[str]:
    urls = []
    for item in value if isinstance(value, list) else []:
        url = absolute_url(_pick(item, "url", "src", "path") if isinstance(item, dict) else item, origin)
        if url and url not in urls:
            urls.append(url)
    return urls


class Product(ApiModel):
    id: int
    title: str = ""
    price: int | None = None
    currency: str = DEFAULT_CURRENCY
    price_text: str | None = None
    is_available: bool | None = None
    type: str | None = None
    image_url: str | None = None
    images: list[str] = Field(default_factory=list)
    video_url: str | None = None
    created_at: datetime | None = None
    width: str | None = None
    height: str | None = None
    discount: int = 0
    production_time: str | None = None
    composition: list[CompositionItem] = Field(default_factory=list)
    colors: list[str] = Field(default_factory=list)

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        product_type = _text(raw.get("type"))
        product_type = product_type.lower() if product_type else None
        # Made-to-order bouquets keep their size in catalogWidth/catalogHeight.
        size_keys = (("catalogWidth", "width"), ("catalogHeight", "height"))
        if product_type != "catalog":
            size_keys = (("width", "catalogWidth"), ("height", "catalogHeight"))
        money = parse_money(raw.get("price"), raw.get("currency"))
        images = _image_list(raw.get("images"), origin)
        discount = raw.get("discount")
        return {
            "id": _int_id(_pick(raw, "id", "ID")),
            "title": _text(_pick(raw, "title", "name", "NAME")) or "",
            "price": money.amount if money else None,
            "currency": money.currency if money else DEFAULT_CURRENCY,
            "price_text": _text(raw.get("price")),
            "is_available": parse_bool(_pick(raw, "isAvailable", "is_available", "available")),
            "type": product_type,
            "image_url": absolute_url(_pick(raw, "image", "mainImage"), origin) or next(iter(images), None),
            "images": images,
            "video_url": absolute_url(raw.get("video"), origin),
            "created_at": parse_datetime(_pick(raw, "createdAt", "created_at")),
            "width": _text(_pick(raw, *size_keys[0])),
            "height": _text(_pick(raw, *size_keys[1])),
            "discount": parse_int(discount.rstrip("% ") if isinstance(discount, str) else discount) or 0,
            "production_time": _text(_pick(raw, "productionTime", "production_time")),
            "composition": CompositionItem._nested(raw.get("composition"), origin),
            "colors": _texts(raw.get("colors")),
        }


class Shop(ApiModel):
    id: int
    xml_id: str | None = None
    name: str = ""
    city: str = ""  # a city id such as "2"

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        return {
            "id": _int_id(_pick(raw, "id", "ID")),
            "xml_id": _text(_pick(raw, "xml_id", "xmlId", "XML_ID")),
            "name": _text(_pick(raw, "name", "NAME")) or "",
            "city": _text(raw.get("city")) or "",
        }


class Customer(ApiModel):
    id: int
    name: str | None = None
    phone: str | None = None
    orders_count: int | None = None
    total: int | None = None
    last_order_at: datetime | None = None

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        src = (raw, _obj(raw.get("stats")))
        orders = _pick(src, "ordersCount", "orders_count", "order_count", "orderCount", "orders")
        return {
            "id": _int_id(_pick(raw, "id", "ID")),
            "name": _text(_pick(raw, "name", "fullName", "NAME")),
            "phone": parse_phone(_pick(raw, "phone", "PHONE")),
            "orders_count": len(orders) if isinstance(orders, list) else parse_int(orders),
            "total": parse_price(
                _pick(src, "totalSpent", "total_spent", "total", "total_amount", "totalAmount", "sum")
            ),
            "last_order_at": parse_datetime(
                _pick(
                    src,
                    "lastOrderDate",
                    "last_order",
                    "last_order_date",
                    "lastOrder",
                    "lastOrderAt",
                    "last_order_at",
                )
            ),
        }


def _urls_in(value: Any, depth: int = 0) -> list[Any]:
    if depth > 3:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [url for item in value for url in _urls_in(item, depth + 1)]
    if isinstance(value, dict):
        for key in ("urls", "url", "files", "images", "data", "src", "path"):
            found = _urls_in(value.get(key), depth + 1)
            if found:
                return found
    return []


class UploadResult(ApiModel):
    urls: list[str] = Field(default_factory=list)

    @classmethod
    def from_api(cls, raw: Any, *, origin: str | None = None) -> Self:
        """From the whole answer: URLs under `data.urls`, top-level `urls`, `url`, or a bare list."""
        urls: list[str] = []
        for candidate in _urls_in(raw):
            url = absolute_url(candidate, origin)
            if url and url not in urls:
                urls.append(url)
        if not urls:
            raise ValueError("no image URL in the answer")
        return cls(urls=urls)


class DeleteResult(ApiModel):
    id: str | None = None
    deleted: bool = True

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        # The envelope already said success; only an explicit `deleted: false` says otherwise.
        return {"id": _text(raw.get("id")), "deleted": parse_bool(raw.get("deleted")) is not False}


# --- CRM: flowers and inventory ----------------------------------------------------------------


class Flower(ApiModel):
    id: str
    name: str = ""
    name_en: str | None = None
    quantity: int = 0

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        quantity = raw.get("quantity")
        return {
            "id": _str_id(raw.get("id")),
            "name": _text(raw.get("name")) or "",
            "name_en": _text(raw.get("name_en")),
            # missing is 0 stems; a quantity that is not a number rejects the item
            "quantity": 0 if quantity is None else _int_id(quantity),
        }


class FlowerDelivery(ApiModel):
    flower_id: str | None = None
    previous_quantity: int | None = None
    added_quantity: int | None = None
    new_quantity: int | None = None
    message: str | None = None

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        return {
            "flower_id": _text(raw.get("flower_id")),
            "previous_quantity": parse_int(raw.get("previous_quantity")),
            "added_quantity": parse_int(_pick(raw, "added_quantity", "quantity")),
            "new_quantity": parse_int(raw.get("new_quantity")),
            "message": _text(raw.get("message")),
        }


class FlowerWriteOff(ApiModel):
    flower_id: str | None = None
    previous_quantity: int | None = None
    writeoff_quantity: int | None = None
    new_quantity: int | None = None
    reason: str | None = None
    message: str | None = None

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        return {
            "flower_id": _text(raw.get("flower_id")),
            "previous_quantity": parse_int(raw.get("previous_quantity")),
            "writeoff_quantity": parse_int(_pick(raw, "writeoff_quantity", "quantity")),
            "new_quantity": parse_int(raw.get("new_quantity")),
            "reason": _text(raw.get("reason")),
            "message": _text(raw.get("message")),
        }


class InventoryUpdate(ApiModel):
    product_id: str | None = None
    old_quantity: int | None = None
    new_quantity: int | None = None
    change: int | None = None

    @classmethod
    def from_api(cls, raw: Any, *, origin: str | None = None) -> Self:
        if isinstance(raw, str | int) and not isinstance(raw, bool):  # a bare product id
            return cls(product_id=str(raw))
        return super().from_api(raw, origin=origin)

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        return {
            "product_id": _text(_pick(raw, "product_id", "productId", "id")),
            "old_quantity": parse_int(_pick(raw, "old_quantity", "previous_quantity")),
            "new_quantity": parse_int(_pick(raw, "new_quantity", "quantity")),
            "change": parse_int(raw.get("change")),
        }


class BulkUpdateResult(ApiModel):
    updated_count: int = 0
    updated_products: list[InventoryUpdate] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        updated = InventoryUpdate._nested(raw.get("updated_products"), origin)
        count = parse_int(raw.get("updated_count"))
        errors = raw.get("errors")
        return {
            "updated_count": len(updated) if count is None else count,
            "updated_products": updated,
            "errors": [str(e) for e in errors] if isinstance(errors, list) else [],
        }


class StockProduct(ApiModel):
    id: str
    name: str | None = None
    quantity: int | None = None
    price: int | None = None

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        return {
            "id": _str_id(_pick(raw, "id", "product_id", "flower_id")),
            "name": _text(_pick(raw, "name", "title")),
            "quantity": parse_int(raw.get("quantity")),
            "price": parse_price(raw.get("price")),
        }


LowStockProduct = StockProduct


class LowStockReport(ApiModel):
    threshold: int | None = None
    count: int = 0
    products: list[StockProduct] = Field(default_factory=list)

    @classmethod
    def from_api(cls, raw: Any, *, origin: str | None = None) -> Self:
        if isinstance(raw, list):  # the products alone
            raw = {"products": raw}
        return super().from_api(raw, origin=origin)

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        products = StockProduct._nested(_pick(raw, "products", "items"), origin)
        count = parse_int(raw.get("count"))
        return {
            "threshold": parse_int(raw.get("threshold")),
            "count": len(products) if count is None else count,
            "products": products,
        }


class InventoryChange(ApiModel):
    """Result of /api/inventory/delivery and /api/inventory/writeoff."""

    message: str | None = None
    product: StockProduct | None = None

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        return {
            "message": _text(raw.get("message")),
            "product": StockProduct.optional_from_api(raw.get("product")),
        }


class Movement(ApiModel):
    id: str | None = None
    flower_id: str | None = None
    flower_name: str | None = None
    movement_type: str | None = None
    quantity: int | None = None
    reason: str | None = None
    note: str | None = None
    created_at: datetime | None = None
    delivery_date: date | None = None

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        return {
            "id": _text(raw.get("id")),
            "flower_id": _text(_pick(raw, "flower_id", "product_id")),
            "flower_name": _text(_pick(raw, "flower_name", "product_name", "name")),
            "movement_type": _text(_pick(raw, "movement_type", "type")),
            "quantity": parse_int(raw.get("quantity")),
            "reason": _text(raw.get("reason")),
            "note": _text(raw.get("note")),
            "created_at": parse_datetime(raw.get("created_at")),
            "delivery_date": parse_date(raw.get("delivery_date")),
        }


# --- CRM: profile, shop info, colleagues -------------------------------------------------------


class Profile(ApiModel):
    id: str | None = None
    name: str | None = None
    phone: str | None = None
    position: str | None = None
    bio: str | None = None
    avatar: str | None = None
    can_edit: bool | None = None
    positions: list[str] = Field(default_factory=list)

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        return {
            "id": _text(raw.get("id")),
            "name": _text(raw.get("name")),
            "phone": parse_phone(raw.get("phone")),
            "position": _text(raw.get("position")),
            "bio": _text(raw.get("bio")),
            "avatar": absolute_url(raw.get("avatar"), origin),
            "can_edit": parse_bool(_pick(raw, "can_edit", "canEdit")),
            "positions": _texts(raw.get("positions")),
        }


class SocialLinks(ApiModel):
    instagram: str | None = None
    whatsapp: str | None = None
    telegram: str | None = None


class ShopInfo(ApiModel):
    id: str | None = None
    name: str | None = None
    address: str | None = None
    phone: str | None = None
    working_hours: str | None = None
    city: str | None = None
    social: SocialLinks = Field(default_factory=SocialLinks)

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        social = _obj(_pick(raw, "social_media", "socialMedia", "social"))
        return {
            "id": _text(raw.get("id")),
            "name": _text(raw.get("name")),
            "address": _text(raw.get("address")),
            "phone": parse_phone(raw.get("phone")),
            "working_hours": _text(_pick(raw, "working_hours", "workingHours")),
            "city": _text(raw.get("city")),
            "social": SocialLinks(
                instagram=_text(social.get("instagram")),
                whatsapp=_text(social.get("whatsapp")),
                telegram=_text(social.get("telegram")),
            ),
        }


class Colleague(ApiModel):
    id: str
    name: str | None = None
    phone: str | None = None
    position: str | None = None
    is_active: bool | None = None
    joined_at: datetime | None = None

    @classmethod
    def _fields(cls, raw: dict[str, Any], origin: str | None) -> dict[str, Any]:
        return {
            "id": _str_id(raw.get("id")),
            "name": _text(raw.get("name")),
            "phone": parse_phone(raw.get("phone")),
            "position": _text(raw.get("position")),
            "is_active": parse_bool(_pick(raw, "isActive", "is_active")),
            "joined_at": parse_datetime(
                _pick(raw, "joinedDate", "joined_date", "joinedAt", "created_at", "createdAt")
            ),
        }


class ColleagueList(ApiModel):
    items: list[Colleague] = Field(default_factory=list)
    position_stats: dict[str, int] = Field(default_factory=dict)

    @classmethod
    def from_api(cls, raw: Any, *, origin: str | None = None) -> Self:
        items, around = items_of(raw)
        stats = _obj(_pick(around, "position_stats", "positionStats"))
        counted = {str(name): parse_int(count) for name, count in stats.items()}
        return cls(
            items=Colleague._each(items, origin),
            position_stats={name: count for name, count in counted.items() if count is not None},
        )
