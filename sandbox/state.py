"""All mutable demo data of the sandbox, and the rules the real servers apply to it.

The routes (`sandbox.cvety`, `sandbox.crm`) only parse requests and render answers in each
backend's shapes; what a write does to the shop (a status change, a delivery, a write-off, the
flowers an order reserves or gives back) happens here, so tests can also look at and change the
state directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

#: The shop's time zone. A fixed offset on purpose: Almaty has been UTC+5 since March 2024 and
#: an old tz database on the machine must not move "today".
ALMATY = timezone(timedelta(hours=5), "Asia/Almaty")

#: Status code -> (key the order list shows, Russian name the order list shows).
STATUSES: dict[str, tuple[str, str]] = {
    "N": ("new", "Новый"),
    "PD": ("paid", "Оплачен"),
    "AP": ("accepted", "Принят"),
    "CO": ("assembled", "Собран"),
    "DE": ("in-transit", "В доставке"),
    "F": ("completed", "Выполнен"),
    "UN": ("cancelled", "Не реализован"),
    "TR": ("problem", "Проблемный заказ"),
    "RO": ("reassembly", "Пересобрать"),
    "RF": ("refunded", "Возврат"),
}

#: What the server lets an order move to (`GET /order/allowed-statuses`).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "N": ("PD", "AP", "UN"),
    "PD": ("AP", "UN"),
    "AP": ("CO", "UN"),
    "CO": ("DE", "UN", "RO"),
    "DE": ("F", "TR", "RO"),
    "TR": ("DE", "UN"),
    "RO": ("AP",),
    "F": (),
    "UN": (),
    "RF": (),
}

#: The lowercase keys some orders answer `allowed-statuses` with; other codes come lowercased.
LOWERCASE_KEYS: dict[str, str] = {
    "N": "new",
    "PD": "paid",
    "AP": "accepted",
    "CO": "assembled",
    "DE": "in_delivery",
    "F": "delivered",
    "UN": "cancelled",
}

#: Other spellings of the codes (lowercased), as seen in production.
ALIASES: dict[str, str] = {
    "new": "N",
    "paid": "PD",
    "accepted": "AP",
    "confirmed": "AP",
    "assembled": "CO",
    "in_production": "CO",
    "as": "CO",
    "in-transit": "DE",
    "in_delivery": "DE",
    "id": "DE",
    "completed": "F",
    "delivered": "F",
    "finished": "F",
    "d": "F",
    "cancelled": "UN",
    "canceled": "UN",
    "c": "UN",
    "problem": "TR",
    "reassembly": "RO",
    "refunded": "RF",
}

#: Statuses in which an order holds the flowers of its bouquets.
HOLDS_FLOWERS = frozenset({"N", "PD", "AP", "CO", "DE", "TR", "RO"})

#: Delivery slot codes of the shop engine -> the time the order list shows.
SLOTS: dict[str, str] = {
    "0": "Как можно скорее",
    "1": "08:00-12:00",
    "2": "12:00-16:00",
    "3": "16:00-20:00",
    "4": "20:00-24:00",
    "5": "до 10:00",
}

COLLEAGUE_POSITIONS = ("owner", "senior", "florist", "assistant", "director", "manager", "seller", "courier")
PROFILE_POSITIONS = ("owner", "senior", "florist", "assistant")


def status_code(value: str) -> str | None:
    """The code for any spelling of a status (`"accepted"`, `"ap"`, `"AP"` -> `"AP"`), or None."""
    text = value.strip()
    if text.upper() in STATUSES:
        return text.upper()
    return ALIASES.get(text.lower())


def format_money(amount: int, currency: str = "KZT", space: str = " ") -> str:
    """`12990` -> `"12 990 ₸"`; `space` lets an order use a non-breaking or thin space."""
    if currency != "KZT":
        return f"{amount} {currency}"
    return f"{amount:,}".replace(",", space) + " ₸"


def _almaty_now() -> datetime:
    return datetime.now(ALMATY)


class SandboxError(Exception):
    """A refusal of the kind the real servers give; each backend renders it in its own shape."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(SandboxError):
    status = 404


class Refused(SandboxError):
    status = 400


@dataclass
class OrderItem:
    id: int
    product_id: int
    name: str
    amount: int
    price: int
    image: str | None = None


@dataclass
class HistoryEntry:
    status: str
    at: datetime
    user: str
    comment: str | None = None


@dataclass
class Order:
    id: int
    status: str
    created_at: datetime
    items: list[OrderItem]
    sender_name: str | None = None
    sender_phone: str | None = None
    recipient_name: str | None = None
    recipient_phone: str | None = None
    address: str | None = None
    city: str | None = "Алматы"
    delivery_date: date | None = None
    slot: str = "2"  # engine slot code "0".."5" or free text
    delivery_price: int = 0
    currency: str = "KZT"
    paid: bool = False
    pay_system: str = "Kaspi Pay"
    postcard: str = ""
    comment: str = ""
    notes: str = ""
    responsible_id: int | None = None
    customer_id: int | None = None
    executors: list[dict[str, Any]] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    main_image: str | None = None
    assembled_image: str | None = None
    recipient_photo: str | None = None
    #: This order answers allowed-statuses with lowercase keys instead of codes.
    allowed_as_keys: bool = False
    #: The space in `paymentAmount` (" ", "\u00a0" or "\u202f").
    amount_space: str = " "
    #: Print the engine's delivery date as ISO instead of dd.mm.yyyy.
    iso_raw_date: bool = False
    #: List fields this order leaves out of its JSON entirely.
    hidden: frozenset[str] = frozenset()
    #: Stems this order holds on the CRM: flower id -> quantity.
    reserved: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(item.price * item.amount for item in self.items) + self.delivery_price


@dataclass
class Product:
    """A bouquet on cvety.kz: `vitrina` is ready on the showcase, `catalog` is made to order."""

    id: int
    title: str
    price: int
    type: str
    images: list[str]
    created_at: str  # printed as the server prints it, nonsense included
    is_available: bool = True
    width: str | None = None
    height: str | None = None
    production_time: str | None = None
    composition: list[tuple[str, int]] = field(default_factory=list)  # (flower id, stems)
    colors: list[str] | None = None  # None is printed as `false`
    sku: str | None = None
    owner_id: int = 17008
    price_text: str | None = None  # a literal price string instead of the formatted one
    deleted: bool = False
    discount: int = 0  # per cent, printed as a string ("0") as the server does


@dataclass
class Flower:
    id: str
    name: str
    name_en: str
    quantity: int
    price: int
    is_active: bool = True


@dataclass
class Material:
    """A CRM inventory product that is not a flower: ribbon, paper, boxes, cards."""

    id: int
    name: str
    quantity: int
    price: int
    unit: str = "шт"


StockItem = Flower | Material


@dataclass
class Movement:
    id: int
    item_id: str
    product_name: str
    movement_type: str  # delivery | writeoff | adjustment | order_usage | order_return
    quantity: int  # signed: stock in > 0, stock out < 0
    created_at: datetime
    reason: str | None = None
    note: str | None = None
    delivery_date: date | None = None
    supplier: str | None = None
    price: float | None = None
    order_id: int | None = None


@dataclass
class Colleague:
    id: int
    name: str
    phone: str
    position: str
    is_active: bool
    joined: date


@dataclass
class Customer:
    id: int
    name: str
    phone: str
    #: How this customer's stats are spelled: "camel", "snake" or "none" (all occur).
    stats_style: str = "camel"


@dataclass
class SandboxState:
    orders: dict[int, Order] = field(default_factory=dict)
    products: dict[int, Product] = field(default_factory=dict)
    flowers: dict[str, Flower] = field(default_factory=dict)
    materials: dict[int, Material] = field(default_factory=dict)
    movements: list[Movement] = field(default_factory=list)
    colleagues: dict[int, Colleague] = field(default_factory=dict)
    customers: dict[int, Customer] = field(default_factory=dict)
    shops: list[dict[str, Any]] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)
    shop_info: dict[str, Any] = field(default_factory=dict)
    #: Served at `GET /upload/...`: path -> (bytes, content type).
    uploads: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    #: Seeded image paths, served as generated placeholder pictures.
    placeholder_images: set[str] = field(default_factory=set)
    clock: Callable[[], datetime] = _almaty_now
    #: How many orders `new_order()` has made (picks the next template).
    made_orders: int = 0

    @classmethod
    def seeded(cls, now: datetime | None = None) -> SandboxState:
        """The demo shop on a busy day; "today" and "tomorrow" are relative to `now` in Almaty
        (default: the current time; a naive `now` is Almaty wall-clock time). Writes made later
        are stamped with `clock()` (replaceable)."""
        from sandbox.data import seed

        return seed(cls(), now)

    def now(self) -> datetime:
        return self.clock().astimezone(ALMATY)

    # ---- orders -------------------------------------------------------------------------------

    def order(self, order_id: int) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise NotFound("Order not found")
        return order

    def allowed(self, order: Order) -> list[str]:
        return list(TRANSITIONS.get(order.status, ()))

    def change_status(self, order_id: int, target: str, comment: str = "", user: str = "API") -> str:
        """Moves an order along the transition table; returns the old code."""
        order = self.order(order_id)
        code = status_code(target)
        if code is None:
            raise Refused(f"Unknown status: {target}")
        if code not in TRANSITIONS.get(order.status, ()):
            raise Refused("Status transition not allowed")
        old = order.status
        order.status = code
        order.history.append(HistoryEntry(code, self.now(), user, comment or None))
        if code not in HOLDS_FLOWERS and code != "F":
            self.release_flowers(order)
        return old

    def add_order(self, order: Order) -> Order:
        """A new order arrives: it takes the flowers of its bouquets' recipes from the stock."""
        self.orders[order.id] = order
        if order.status in HOLDS_FLOWERS:
            self.reserve_flowers(order)
        return order

    def new_order(self) -> Order:
        """A believable new order with the next id, as if a customer had just paid on the site."""
        from sandbox.data import make_new_order

        return make_new_order(self)

    def next_order_id(self) -> int:
        return max(self.orders, default=122560) + 1

    def reserve_flowers(self, order: Order) -> None:
        for item in order.items:
            product = self.products.get(item.product_id)
            if product is None:
                continue
            for flower_id, stems in product.composition:
                flower = self.flowers.get(flower_id)
                if flower is None:
                    continue
                taken = min(stems * item.amount, flower.quantity)
                if taken <= 0:
                    continue
                flower.quantity -= taken
                order.reserved[flower_id] = order.reserved.get(flower_id, 0) + taken
                self.add_movement(
                    flower, "order_usage", -taken, reason=f"Заказ №{order.id}", order_id=order.id
                )

    def release_flowers(self, order: Order) -> None:
        for flower_id, stems in order.reserved.items():
            flower = self.flowers.get(flower_id)
            if flower is None:
                continue
            flower.quantity += stems
            self.add_movement(
                flower, "order_return", stems, reason=f"Отмена заказа №{order.id}", order_id=order.id
            )
        order.reserved.clear()

    # ---- stock --------------------------------------------------------------------------------

    def flower(self, flower_id: str | int) -> Flower:
        flower = self.flowers.get(str(flower_id))
        if flower is None or not flower.is_active:
            raise NotFound("Flower not found")
        return flower

    def stock_item(self, item_id: str | int) -> StockItem:
        """A CRM inventory product, or a flower (the inventory endpoints take flower ids too)."""
        text = str(item_id).strip()
        if text.isdigit() and int(text) in self.materials:
            return self.materials[int(text)]
        flower = self.flowers.get(text)
        if flower is None or not flower.is_active:
            raise NotFound("Product not found")
        return flower

    def add_movement(
        self,
        item: StockItem,
        movement_type: str,
        quantity: int,
        *,
        at: datetime | None = None,
        reason: str | None = None,
        note: str | None = None,
        delivery_date: date | None = None,
        supplier: str | None = None,
        price: float | None = None,
        order_id: int | None = None,
    ) -> Movement:
        movement = Movement(
            id=max((m.id for m in self.movements), default=5000) + 1,
            item_id=str(item.id),
            product_name=item.name,
            movement_type=movement_type,
            quantity=quantity,
            created_at=at or self.now(),
            reason=reason,
            note=note,
            delivery_date=delivery_date,
            supplier=supplier,
            price=price,
            order_id=order_id,
        )
        self.movements.append(movement)
        return movement

    def receive(
        self,
        item: StockItem,
        quantity: int,
        *,
        supplier: str | None = None,
        price: float | None = None,
        delivery_date: date | None = None,
        note: str | None = None,
    ) -> int:
        """Stock in; returns the previous quantity."""
        previous = item.quantity
        item.quantity += quantity
        reason = f"Поставка: {supplier}" if supplier else "Поставка"
        self.add_movement(
            item,
            "delivery",
            quantity,
            reason=reason,
            note=note,
            delivery_date=delivery_date or self.now().date(),
            supplier=supplier,
            price=price,
        )
        return previous

    def write_off(self, item: StockItem, quantity: int, *, reason: str, note: str | None = None) -> int:
        """Stock out, refused beyond what is there; returns the previous quantity."""
        if item.quantity < quantity:
            raise Refused(f"Insufficient stock: {item.quantity} available")
        previous = item.quantity
        item.quantity -= quantity
        self.add_movement(item, "writeoff", -quantity, reason=reason, note=note)
        return previous

    def set_quantity(self, item: StockItem, quantity: int, note: str | None = None) -> int:
        """Stocktake: the counted quantity replaces the stored one; returns the previous quantity."""
        previous = item.quantity
        item.quantity = quantity
        self.add_movement(item, "adjustment", quantity - previous, reason="Инвентаризация", note=note)
        return previous

    def history(self, item_id: str | None = None, limit: int = 50) -> list[Movement]:
        movements = [m for m in self.movements if item_id is None or m.item_id == item_id]
        movements.sort(key=lambda m: (m.created_at, m.id), reverse=True)
        return movements[:limit]

    # ---- colleagues ---------------------------------------------------------------------------

    def colleague(self, colleague_id: int) -> Colleague:
        colleague = self.colleagues.get(colleague_id)
        if colleague is None:
            raise NotFound("Colleague not found")
        return colleague

    def check_phone_free(self, phone: str, except_id: int | None = None) -> None:
        for colleague in self.colleagues.values():
            if colleague.id != except_id and _digits(colleague.phone)[-10:] == _digits(phone)[-10:]:
                raise Refused("Colleague with this phone already exists")


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def normalize_kz_phone(text: str) -> str:
    """`8 777 123 45 67`, `+7 (777) 123-45-67`, `7771234567` -> `+77771234567`; ValueError otherwise."""
    digits = _digits(text)
    if len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
    if len(digits) != 10 or digits[0] != "7":
        raise ValueError("Phone must be a Kazakhstan number like +7 777 123 45 67")
    return "+7" + digits
