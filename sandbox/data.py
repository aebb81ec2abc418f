"""The demo shop: a flower shop in Almaty on a busy day.

Everything is built relative to a moment `now` (Asia/Almaty), so the orders "for today" are for
today whenever the sandbox starts. Ids are fixed, so tests can name them (see the constants).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sandbox.state import (
    ALMATY,
    Colleague,
    Customer,
    Flower,
    HistoryEntry,
    Material,
    Order,
    OrderItem,
    Product,
    SandboxState,
)

SHOP_ID = 17008

# ---- ids tests may want ---------------------------------------------------------------------------
#: One seeded order in each status (all delivered today unless said otherwise).
ORDER_N = 122575  # new, not paid, slot 20–24
ORDER_N_TOMORROW = 122580  # new, tomorrow, long postcard with emoji
ORDER_N_HTML = 122582  # new, tomorrow, postcard with <b> and &
ORDER_N_SPARSE = 122586  # new, pickup, no date ("00.00.0000"), many fields missing
ORDER_PD = 122573  # paid, slot 12–16
ORDER_PD_ASAP = 122588  # paid three minutes ago, ASAP
ORDER_PD_USD = 122574  # paid in USD: "65 USD"
ORDER_AP = 122571  # accepted
ORDER_AP_KEYS = 122572  # accepted; allowed-statuses answers lowercase keys
ORDER_CO = 122569  # assembled, with a photo of the bouquet
ORDER_DE = 122578  # in delivery (the spec's example id)
ORDER_F = 122566  # finished this morning
ORDER_UN = 122562  # cancelled yesterday
ORDER_TR = 122565  # problem order (unknown code TR)
ORDER_RO = 122581  # to be reassembled (RO)
ORDER_MISSING = 122564  # a gap: no such order

CUSTOMER_REGULAR = 171690  # three orders

FLOWER_ROSE_RED = "rose-red"  # plenty
FLOWER_GYPSOPHILA = "gypsophila"
FLOWER_WHITE_ROSE = str(uuid.uuid5(uuid.NAMESPACE_URL, "cvety-sandbox/white-rose-50"))  # 4 stems
FLOWER_WHITE_LISIANTHUS = str(uuid.uuid5(uuid.NAMESPACE_URL, "cvety-sandbox/white-lisianthus"))  # 3
FLOWER_ZERO = str(uuid.uuid5(uuid.NAMESPACE_URL, "cvety-sandbox/chrysanthemum-antonov"))  # 0
FLOWER_INACTIVE = str(uuid.uuid5(uuid.NAMESPACE_URL, "cvety-sandbox/freesia"))  # not served

MATERIAL_RIBBON = 101  # 3 left: low stock
MATERIAL_BOX_BIG = 104  # 0 left: not "low", gone

PRODUCT_ROSES = 696885  # vitrina, 25 red roses
PRODUCT_BROKEN_DATE = 696874  # catalog, createdAt "-0001-11-30T00:00:00+0000"

COLLEAGUE_OWNER = 1
COLLEAGUE_INACTIVE = 7


def _flower_id(slug: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cvety-sandbox/{slug}"))


# (id or slug, name, name_en, quantity, price per stem)
_FLOWERS: list[tuple[str, str, str, int, int]] = [
    ("rose-red", "Роза красная 60 см", "Red rose 60 cm", 240, 650),
    ("red-rose-40", "Роза красная 40 см", "Red rose 40 cm", 85, 450),
    ("white-rose-50", "Роза белая 50 см", "White rose 50 cm", 4, 550),
    ("pink-rose-50", "Роза розовая 50 см", "Pink rose 50 cm", 120, 550),
    ("spray-rose-peony", "Роза кустовая пионовидная", "Peony spray rose", 35, 900),
    ("white-lisianthus", "Эустома белая", "White lisianthus", 3, 800),
    ("lilac-lisianthus", "Эустома сиреневая", "Lilac lisianthus", 25, 800),
    ("spray-chrysanthemum", "Хризантема кустовая", "Spray chrysanthemum", 60, 700),
    ("chrysanthemum-antonov", "Хризантема одноголовая «Антонов»", "Chrysanthemum Antonov", 0, 900),
    ("gypsophila", "Гипсофила", "Gypsophila", 18, 1200),
    ("pink-peony", "Пион розовый", "Pink peony", 5, 2500),
    ("white-peony", "Пион белый «Дюшес»", "White peony Duchesse", 0, 2700),
    ("yellow-tulip", "Тюльпан жёлтый", "Yellow tulip", 150, 400),
    ("red-tulip", "Тюльпан красный", "Red tulip", 1, 400),
    ("eucalyptus", "Эвкалипт", "Eucalyptus", 40, 600),
    ("pistacia", "Писташ", "Pistacia", 22, 500),
    ("alstroemeria", "Альстромерия", "Alstroemeria", 45, 600),
    ("blue-hydrangea", "Гортензия голубая", "Blue hydrangea", 7, 3500),
    ("matricaria", "Матрикария (ромашка)", "Matricaria", 2, 700),
    ("white-lily", "Лилия белая", "White lily", 30, 1500),
    ("freesia", "Фрезия", "Freesia", 12, 900),
]
_SLUG_IDS = {"rose-red": "rose-red", "gypsophila": "gypsophila"}


def fid(slug: str) -> str:
    """A seeded flower's id by its slug (`"white-rose-50"` -> its uuid; two keep their slugs)."""
    return _SLUG_IDS.get(slug) or _flower_id(slug)


_MATERIALS: list[tuple[int, str, int, int, str]] = [
    (101, "Лента атласная красная, 25 мм", 3, 1200, "рулон"),
    (102, "Крафт-бумага", 120, 150, "лист"),
    (103, "Коробка шляпная малая", 2, 2500, "шт"),
    (104, "Коробка шляпная большая", 0, 3500, "шт"),
    (105, "Плёнка матовая пудровая", 45, 200, "лист"),
    (106, "Открытка «С днём рождения»", 5, 300, "шт"),
    (107, "Флористическая губка Oasis", 12, 700, "шт"),
]


_PRODUCT_TIME = "%Y-%m-%dT%H:%M:%S%z"  # 2025-09-26T14:59:39+0500


def _img(name: str) -> str:
    return f"/upload/iblock/{name}.png"


_Recipe = list[tuple[str, int]]
# (id, title, price, type, image names, days old (-1: the server's nonsense date), width, height,
#  production time, recipe (flower slug, stems), colors)
_PRODUCTS: list[
    tuple[int, str, int, str, list[str], int, str | None, str | None, str | None, _Recipe, list[str] | None]
] = [
    (696885, "25 красных роз 60 см", 24990, "vitrina", ["8a1/25-krasnyh-roz", "8a1/25-krasnyh-roz-2"], 1,
     "40", "60", "short", [("rose-red", 25)], ["red"]),
    (696884, "Букет «Нежность»: белые розы и эустома", 18500, "vitrina", ["c42/nezhnost"], 2,
     "35", "45", "short", [("white-rose-50", 7), ("white-lisianthus", 5), ("eucalyptus", 3)],
     ["white", "green"]),
    (696883, "Шляпная коробка с пионовидными розами", 21000, "vitrina", ["d07/shlyapnaya-korobka"], 3,
     "25", "30", "short", [("spray-rose-peony", 9), ("eucalyptus", 2)], ["pink", "white"]),
    (696882, "Тюльпаны жёлтые, 15 шт", 9500, "vitrina", ["e15/tyulpany-zheltye"], 1,
     "30", "40", "short", [("yellow-tulip", 15)], ["yellow"]),
    (696881, "Букет «Облако» из гипсофилы", 12990, "vitrina", ["f3b/oblako"], 4,
     "45", "50", None, [("gypsophila", 5)], ["white"]),
    (696880, "Монобукет из эустомы", 7500, "vitrina", ["a90/monobuket-eustoma"], 0,
     "", "", "short", [("lilac-lisianthus", 9)], None),
    (696879, "101 красная роза 40 см", 79990, "catalog", ["b11/101-roza"], 30,
     "70", "50", "long", [("red-rose-40", 101)], ["red"]),
    (696878, "Пионы розовые, 9 шт", 27000, "catalog", ["b22/piony-rozovye"], 21,
     "35", "40", "medium", [("pink-peony", 9)], ["pink"]),
    (696877, "Корзина «Солнечное утро»", 32500, "catalog", ["b33/korzina-solnechnoe-utro"], 45,
     "45", "35", "medium", [("spray-chrysanthemum", 7), ("alstroemeria", 9), ("yellow-tulip", 11)], None),
    (696876, "Букет невесты «Классика»", 35000, "catalog", ["b44/buket-nevesty"], 60,
     None, None, "long", [("white-rose-50", 15), ("white-lisianthus", 6)], None),
    (696875, "Хризантемы кустовые «Осень»", 8900, "catalog", ["b55/hrizantemy-osen"], 12,
     "30", "45", "short", [("spray-chrysanthemum", 5)], ["orange", "yellow"]),
    (696874, "Композиция «Гортензия и розы»", 29900, "catalog", ["b66/gortenziya-i-rozy"], -1,
     None, None, None, [("blue-hydrangea", 3), ("pink-rose-50", 11)], None),
]

_CUSTOMERS: list[tuple[int, str, str, str]] = [
    (171690, "Айгерим Нурланова", "+7 701 555 23 41", "camel"),
    (171702, "Данияр Ахметов", "+77071234567", "snake"),
    (171715, "Мадина Жумабаева", "8 (705) 333-22-11", "camel"),
    (171733, "Ольга Петренко", "+7 (777) 210-45-87", "none"),
    (171740, "Emily Johnson", "+1 415 555 0134", "snake"),
    (171758, "Тимур Оспанов", "+7 747 118 90 02", "camel"),
    (171761, "Жанар Абдрахманова", "+7 702 640 17 73", "snake"),
    (171777, "Сергей Ли", "87017778899", "camel"),
    (171790, "Камила Есенова", "+7 778 000 12 12", "camel"),
]

_COLLEAGUES: list[tuple[int, str, str, str, bool, date]] = [
    (1, "Асель Туребекова", "+7 701 234 56 78", "owner", True, date(2019, 3, 1)),
    (2, "Гульнара Искакова", "8 (702) 555-12-34", "senior", True, date(2020, 8, 15)),
    (3, "Мария Ким", "+77051112233", "florist", True, date(2022, 2, 7)),
    (4, "Айдана Серикова", "7 747 908 11 22", "florist", True, date(2023, 9, 1)),
    (5, "Дина Ахметова", "+7 (777) 321-65-40", "assistant", True, date(2024, 4, 10)),
    (6, "Ерлан Жаксылыков", "87015556677", "courier", True, date(2023, 5, 20)),
    (7, "Нурлан Абенов", "+7 707 444 33 22", "courier", False, date(2021, 11, 3)),
    (8, "Светлана Павлова", "+7 700 123 45 67", "seller", False, date(2020, 1, 12)),
    (9, "Бауыржан Омаров", "+77022223344", "manager", True, date(2024, 10, 1)),
]

_FLORIST = {"id": 3, "name": "Мария Ким", "source": "crm"}
_FLORIST_2 = {"id": 4, "name": "Айдана Серикова", "source": "crm"}
_COURIER = {"id": 6, "name": "Ерлан Жаксылыков", "source": "crm"}
_COURIER_OUTSIDE = {"id": 90412, "name": "Яндекс Доставка", "source": "cvety"}

_HAPPY_PATH = ("N", "PD", "AP", "CO", "DE", "F")
_PATHS: dict[str, tuple[str, ...]] = {
    "N": ("N",),
    "PD": ("N", "PD"),
    "AP": ("N", "PD", "AP"),
    "CO": ("N", "PD", "AP", "CO"),
    "DE": ("N", "PD", "AP", "CO", "DE"),
    "F": _HAPPY_PATH,
    "UN": ("N", "UN"),
    "TR": ("N", "PD", "AP", "CO", "DE", "TR"),
    "RO": ("N", "PD", "AP", "CO", "RO"),
}
_WHO = {
    "N": "Клиент (сайт)",
    "PD": "Kaspi Pay",
    "AP": "Гульнара Искакова",
    "CO": "Мария Ким",
    "DE": "Ерлан Жаксылыков",
    "F": "Ерлан Жаксылыков",
    "UN": "Гульнара Искакова",
    "TR": "Ерлан Жаксылыков",
    "RO": "Асель Туребекова",
}


@dataclass(frozen=True)
class _Line:
    product_id: int
    amount: int = 1


def seed(state: SandboxState, now: datetime | None = None) -> SandboxState:
    """Fills `state` with the demo shop; a naive `now` is read as Almaty wall-clock time."""
    now = now or state.now()
    now = now.replace(tzinfo=ALMATY) if now.tzinfo is None else now.astimezone(ALMATY)
    now = now.replace(microsecond=0)
    _seed_stock(state, now)
    _seed_products(state, now)
    _seed_people(state)
    _seed_orders(state, now)
    return state


def _seed_stock(state: SandboxState, now: datetime) -> None:
    for slug, name, name_en, quantity, price in _FLOWERS:
        flower_id = fid(slug)
        active = slug != "freesia"
        state.flowers[flower_id] = Flower(flower_id, name, name_en, quantity, price, is_active=active)
    for material_id, name, quantity, price, unit in _MATERIALS:
        state.materials[material_id] = Material(material_id, name, quantity, price, unit)

    two_days_ago = now - timedelta(days=2)
    delivery_morning = two_days_ago.replace(hour=7, minute=40, second=0)
    suppliers = ["Цветочная база «Алматы»", "Rosaprima, Эквадор", "Royal FloraHolland"]
    for index, flower in enumerate(state.flowers.values()):
        if not flower.is_active:
            continue
        bought = 50 if flower.price < 1000 else 20
        state.add_movement(
            flower,
            "delivery",
            bought,
            at=delivery_morning + timedelta(minutes=index),
            reason=f"Поставка: {suppliers[index % 3]}",
            note="Еженедельная поставка" if index % 4 == 0 else None,
            delivery_date=delivery_morning.date(),
            supplier=suppliers[index % 3],
            price=round(flower.price * 0.45),
        )
    yesterday_evening = (now - timedelta(days=1)).replace(hour=20, minute=15, second=0)
    writeoffs = [
        ("white-rose-50", 6, "Увядание", "Стояли на витрине с понедельника"),
        ("red-tulip", 9, "Сломаны при транспортировке", None),
        ("white-peony", 4, "Увядание", "Раскрылись, не продать"),
        ("matricaria", 5, "Брак поставщика", "Фото отправлено поставщику"),
    ]
    for index, (slug, stems, reason, note) in enumerate(writeoffs):
        state.add_movement(
            state.flowers[fid(slug)],
            "writeoff",
            -stems,
            at=yesterday_evening + timedelta(minutes=3 * index),
            reason=reason,
            note=note,
        )
    state.add_movement(
        state.materials[102], "delivery", 100, at=delivery_morning, reason="Поставка: Упаковка.kz",
        delivery_date=delivery_morning.date(), supplier="Упаковка.kz", price=120,
    )
    state.add_movement(
        state.materials[101], "writeoff", -2, at=yesterday_evening, reason="Использовано в работе",
    )


def _seed_products(state: SandboxState, now: datetime) -> None:
    for pid, title, price, kind, images, days, width, height, production, recipe, colors in _PRODUCTS:
        created = "-0001-11-30T00:00:00+0000"
        if days >= 0:
            # the first second of that day: «on the showcase N days» whatever the time of day
            # (an hour after midnight in Almaty, "3 hours earlier" was a day more)
            added = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0)
            created = added.strftime(_PRODUCT_TIME)
        paths = [_img(name) for name in images]
        state.placeholder_images.update(paths)
        state.products[pid] = Product(
            id=pid,
            title=title,
            price=price,
            type=kind,
            images=paths,
            created_at=created,
            is_available=pid != 696881,
            width=width,
            height=height,
            production_time=production,
            composition=[(fid(slug), stems) for slug, stems in recipe],
            colors=colors,
            sku=f"CV-{pid}",
            price_text="18&nbsp;500 ₸" if pid == 696884 else None,
        )


def _seed_people(state: SandboxState) -> None:
    for customer_id, name, phone, style in _CUSTOMERS:
        state.customers[customer_id] = Customer(customer_id, name, phone, style)
    for colleague_id, name, phone, position, active, joined in _COLLEAGUES:
        state.colleagues[colleague_id] = Colleague(colleague_id, name, phone, position, active, joined)
    state.profile = {
        "id": 1,
        "name": "Асель Туребекова",
        "phone": "+7 (701) 234-56-78",
        "position": "owner",
        "bio": "Владелец магазина. Собираю букеты с 2015 года, люблю пионы и эвкалипт.",
        "avatar": None,
    }
    state.shop_info = {
        "id": 1,
        "name": "Цветы.kz — Самал",
        "address": "г. Алматы, пр. Абая 150/230",
        "phone": "+7 (727) 378-88-88",
        "working_hours": "Пн-Вс: 9:00-21:00",
        "city": "Алматы",
        "social_media": {
            "instagram": "https://instagram.com/cvety.kz",
            "whatsapp": "+77273788888",
            "telegram": None,
        },
    }
    state.shops = [
        {"id": SHOP_ID, "xml_id": "cvetykz", "name": "Cvety.kz", "city": "2"},
        {"id": 17215, "xml_id": "samal-flowers", "name": "Цветы на Самале", "city": "2"},
        {"id": 18342, "xml_id": "shop18342", "name": "+7 707 123 45 67", "city": "2"},
        {"id": 18901, "xml_id": "astana-roses", "name": "Розы Астана", "city": "1"},
    ]


def _order(
    state: SandboxState,
    now: datetime,
    order_id: int,
    status: str,
    *,
    hours_ago: float,
    day: int | None,
    lines: list[_Line],
    customer: int | None,
    recipient: tuple[str | None, str | None],
    address: str | None,
    slot: str = "2",
    delivery_price: int = 2000,
    paid: bool = True,
    pay_system: str = "Kaspi Pay",
    postcard: str = "",
    comment: str = "",
    notes: str = "",
    executors: list[dict[str, Any]] | None = None,
    assembled: bool = False,
    delivered_photo: bool = False,
    main_image: bool = True,
    city: str | None = "Алматы",
    currency: str = "KZT",
    amount_space: str = " ",
    allowed_as_keys: bool = False,
    iso_raw_date: bool = False,
    hidden: frozenset[str] = frozenset(),
) -> None:
    created = now - timedelta(hours=hours_ago)
    items: list[OrderItem] = []
    for index, line in enumerate(lines):
        product = state.products[line.product_id]
        items.append(
            OrderItem(
                id=order_id * 10 + index,
                product_id=product.id,
                name=product.title,
                amount=line.amount,
                price=product.price,
                image=product.images[0] if product.images else None,
            )
        )
    sender = state.customers.get(customer) if customer else None
    path = [code for code in _PATHS[status] if paid or code != "PD"]
    history = [
        HistoryEntry(code, created + (now - created) * step / len(path), _WHO[code])
        for step, code in enumerate(path)
    ]
    assembled_image = f"/upload/bot/assembled/{order_id}.png" if assembled else None
    recipient_photo = f"/upload/bot/delivered/{order_id}.png" if delivered_photo else None
    for image in (assembled_image, recipient_photo):
        if image:
            state.placeholder_images.add(image)
    order = Order(
        id=order_id,
        status=status,
        created_at=created.replace(microsecond=0),
        items=items,
        sender_name=sender.name if sender else None,
        sender_phone=sender.phone if sender else None,
        recipient_name=recipient[0],
        recipient_phone=recipient[1],
        address=address,
        delivery_date=(now + timedelta(days=day)).date() if day is not None else None,
        slot=slot,
        delivery_price=delivery_price,
        paid=paid,
        pay_system=pay_system,
        postcard=postcard,
        comment=comment,
        notes=notes,
        responsible_id=2 if status != "N" else None,
        customer_id=customer,
        executors=list(executors or []),
        history=history,
        main_image=items[0].image if main_image and items else None,
        assembled_image=assembled_image,
        recipient_photo=recipient_photo,
        city=city,
        currency=currency,
        amount_space=amount_space,
        allowed_as_keys=allowed_as_keys,
        iso_raw_date=iso_raw_date,
        hidden=hidden,
    )
    state.orders[order_id] = order
    if status in ("N", "PD", "AP", "CO", "DE", "TR", "RO"):
        _hold_seeded(state, order)


def _hold_seeded(state: SandboxState, order: Order) -> None:
    """Seeded stock is what is left after the open orders took their flowers: record, don't take."""
    for item in order.items:
        for flower_id, stems in state.products[item.product_id].composition:
            taken = stems * item.amount
            order.reserved[flower_id] = order.reserved.get(flower_id, 0) + taken
            state.add_movement(
                state.flowers[flower_id],
                "order_usage",
                -taken,
                at=order.created_at,
                reason=f"Заказ №{order.id}",
                order_id=order.id,
            )


def _seed_orders(state: SandboxState, now: datetime) -> None:
    o = _order
    s, n = state, now
    o(s, n, 122561, "F", hours_ago=52, day=-1, slot="2", lines=[_Line(696878)], customer=171715,
      recipient=("Сауле Жумабаева", "+7 701 902 33 10"), address="мкр. Самал-2, д. 58, кв. 14",
      postcard="Мамочка, с днём рождения! Ты у нас самая лучшая ❤️", executors=[_FLORIST, _COURIER],
      assembled=True, delivered_photo=True)
    o(s, n, 122562, "UN", hours_ago=40, day=-1, slot="3", lines=[_Line(696879)], customer=171702,
      recipient=("Алина", "+7 705 771 20 20"), address="пр. Аль-Фараби 77/8, БЦ «Esentai Tower», 12 этаж",
      paid=False, pay_system="Карта (CloudPayments)", comment="Клиент не оплатил, отмена по звонку",
      notes="Дозвонились в 18:40, клиент передумал")
    o(s, n, 122563, "F", hours_ago=30, day=-1, slot="1", lines=[_Line(696885)], customer=171777,
      recipient=("Елена Ли", "+7 777 654 32 10"), address="ул. Толе би 59, офис 305",
      postcard="С годовщиной! 10 лет вместе 💍", executors=[_FLORIST_2, _COURIER_OUTSIDE],
      hidden=frozenset({"paymentStatus", "items"}))
    o(s, n, 122565, "TR", hours_ago=20, day=0, slot="1", lines=[_Line(696883)], customer=171758,
      recipient=("Гаухар", "+7 702 118 44 56"), address="мкр. Орбита-3, д. 12, кв. 45",
      comment="Получатель не отвечает, в домофоне никого", notes="Курьер ждёт у подъезда с 10:15",
      executors=[_FLORIST, _COURIER], assembled=True)
    o(s, n, 122566, "F", hours_ago=19, day=0, slot="5", lines=[_Line(696882, 2)], customer=171761,
      recipient=("Коллектив ТОО «Алма Трейд»", "+7 727 250 11 22"), address="ул. Кабанбай батыра 120, офис 4",
      postcard="Дорогие коллеги! Поздравляем с профессиональным праздником! 🌷",
      executors=[_FLORIST_2, _COURIER],
      assembled=True, delivered_photo=True, comment="Доставить строго до 10:00, вручить секретарю")
    o(s, n, 122567, "DE", hours_ago=18, day=0, slot="1", lines=[_Line(696880)], customer=171690,
      recipient=("Айгуль Сериковна", "+7 701 377 81 90"), address="ул. Жандосова 140, кв. 8",
      postcard="Выздоравливайте скорее! 🍊", executors=[_FLORIST, _COURIER], assembled=True,
      amount_space="\u00a0")
    o(s, n, 122568, "DE", hours_ago=17, day=0, slot="2", lines=[_Line(696885), _Line(696882)],
      customer=171702,
      recipient=("Дана", "+7 747 552 19 03"), address="мкр. Аксай-4, д. 87, кв. 29",
      postcard="Просто так 🙂", comment="Сюрприз! Не говорить, от кого",
      executors=[_FLORIST_2, _COURIER_OUTSIDE], assembled=True)
    o(s, n, 122569, "CO", hours_ago=16, day=0, slot="2", lines=[_Line(696884)], customer=171715,
      recipient=("Зарина Абенова", "+7 771 400 50 60"), address="пр. Достык 240, кв. 17",
      postcard="Зарина, поздравляю с защитой диплома! 🎓", executors=[_FLORIST], assembled=True,
      amount_space="\u202f")
    o(s, n, 122570, "CO", hours_ago=15, day=0, slot="3", lines=[_Line(696877)], customer=171733,
      recipient=("Ирина Васильевна", "8 701 112 23 34"), address="мкр. Коктем-1, д. 15, кв. 6",
      postcard="С юбилеем! Здоровья и долгих лет 🌻", executors=[_FLORIST_2], assembled=False,
      comment="Позвонить получателю за час")
    o(s, n, 122571, "AP", hours_ago=12, day=0, slot="3", lines=[_Line(696885, 2)], customer=171777,
      recipient=("Ксения", "+7 707 989 01 23"), address="ул. Розыбакиева 247, ЖК «Розыбакиева», кв. 112",
      postcard="Люблю тебя! Твой С.", executors=[_FLORIST])
    o(s, n, 122572, "AP", hours_ago=10, day=0, slot="4", lines=[_Line(696875)], customer=171758,
      recipient=("Асем", "+7 705 640 33 12"), address="ул. Гагарина 135/4, кв. 51",
      paid=False, pay_system="Наличные курьеру", comment="Оплата наличными при получении, сдача с 20 000",
      allowed_as_keys=True)
    o(s, n, 122573, "PD", hours_ago=9.5, day=0, slot="2", lines=[_Line(696882)], customer=171761,
      recipient=("Меруерт", "+7 778 212 90 90"), address="ул. Тимирязева 42, Almaty Towers, кв. 88",
      postcard="Прости меня 🙏", comment="Позвонить перед доставкой", amount_space="\u00a0")
    o(s, n, 122574, "PD", hours_ago=9, day=0, slot="3", lines=[_Line(696881)], customer=171740,
      recipient=("Дина Ахметжанова", "+7 701 505 60 70"), address="пр. Абая 150/230",
      pay_system="PayPal", postcard="Happy birthday, sister! Miss you so much 💐 — Emily",
      currency="USD", delivery_price=5, comment="Заказ из-за рубежа, получатель не знает о доставке")
    o(s, n, 122575, "N", hours_ago=8, day=0, slot="4", lines=[_Line(696883)], customer=171702,
      recipient=("Алия Бекова", "+7 702 300 40 50"), address="мкр. Алмагуль, д. 9а, кв. 71",
      paid=False, pay_system="Kaspi Pay", postcard="С 8 Марта! 🌷")
    o(s, n, 122576, "N", hours_ago=7, day=0, slot="к 18:30, позвонить заранее", lines=[_Line(696880, 3)],
      customer=171690, recipient=("Учителя школы-гимназии №159", "+7 727 330 15 90"),
      address="ул. Утепова 19, школа-гимназия №159, учительская", paid=False,
      postcard="Спасибо за ваш труд! Родители 5 «Б» класса", notes="Три одинаковых букета")
    o(s, n, 122577, "AP", hours_ago=6, day=1, slot="1", lines=[_Line(696878)], customer=171733,
      recipient=("Ольга Петренко", "+7 (777) 210-45-87"), address="ул. Сатпаева 30а, кв. 12",
      postcard="", comment="Самой себе 😊 Оставить у консьержа", executors=[_FLORIST_2])
    o(s, n, 122578, "DE", hours_ago=5.5, day=0, slot="3", lines=[_Line(696884)], customer=171715,
      recipient=("Гульмира", "+7 705 118 22 33"), address="ул. Панфилова 98, кафе «Чайхана», 2 этаж",
      postcard="С днём рождения, подруга! 🎉", executors=[_FLORIST, _COURIER], assembled=True,
      comment="Вручить в кафе, там празднуют")
    o(s, n, 122579, "PD", hours_ago=5, day=1, slot="2", lines=[_Line(696885)], customer=171758,
      recipient=("Айжан", "+7 777 441 00 19"), address="мкр. Самал-1, д. 21, кв. 3",
      postcard="Айжан, выходи за меня! 💍")
    o(s, n, 122580, "N", hours_ago=4, day=1, slot="2", lines=[_Line(696878), _Line(696882)], customer=171715,
      recipient=("Айгерим Сейткали", "+7 701 234 90 12"), address="ул. Байзакова 280, кв. 64",
      paid=False,
      postcard=(
          "Дорогая Айгерим! Поздравляю тебя с днём рождения! Пусть каждый день будет наполнен радостью, "
          "теплом и любовью, а все мечты сбываются легко и вовремя. Ты самый светлый человек, которого я "
          "знаю 🌷🌷🌷 Спасибо, что ты всегда рядом — и в радости, и когда трудно. Обнимаю крепко-крепко, "
          "твоя Мадина 💐✨"
      ))
    o(s, n, 122581, "RO", hours_ago=3.5, day=0, slot="3", lines=[_Line(696883)], customer=171761,
      recipient=("Лаура", "+7 747 623 71 71"), address="ул. Жарокова 217, кв. 9",
      comment="Клиент попросил заменить розы на пионовидные", executors=[_FLORIST], assembled=True)
    o(s, n, 122582, "N", hours_ago=3, day=1, slot="3", lines=[_Line(696877)], customer=171761,
      recipient=("Бабушка Роза", "+7 727 267 44 90"), address="мкр. Орбита-1, д. 7, кв. 30",
      paid=False, postcard="Для <b>лучшей</b> мамы & бабушки! Ваши Жанар & Co <3")
    o(s, n, 122583, "PD", hours_ago=2.5, day=3, slot="1", lines=[_Line(696876)], customer=171777,
      recipient=("Невеста: Алина Ким", "+7 701 888 77 66"), address="Ресторан «Дастархан», пр. Райымбека 160",
      postcard="", comment="Свадьба в субботу, букет невесты + бутоньерка",
      notes="Бутоньерку собрать в тон, без доплаты")
    o(s, n, 122584, "N", hours_ago=2, day=5, slot="2", lines=[_Line(696879)], customer=171702,
      recipient=("Мадина", "+7 702 333 12 45"), address="мкр. Mega Park, ул. Макатаева 127, кв. 210",
      paid=False, postcard="Спустя пять лет — всё так же люблю тебя ❤️", iso_raw_date=True)
    o(s, n, 122585, "UN", hours_ago=1.5, day=0, slot="2", lines=[_Line(696885)], customer=171758,
      recipient=("Тест", "+7 700 000 00 00"), address="тест", paid=False,
      comment="Дубль заказа 122579", notes="Отменён менеджером")
    o(s, n, 122586, "N", hours_ago=1, day=None, slot="Самовывоз", lines=[_Line(696875)], customer=None,
      recipient=(None, None), address=None, delivery_price=0, paid=False, pay_system="Наличные",
      main_image=False, city=None, hidden=frozenset({"mainImage", "executors", "deliveryTime"}))
    o(s, n, 122587, "N", hours_ago=0.1, day=0, slot="0", lines=[_Line(696882), _Line(696883)],
      customer=171690,
      recipient=("Айгерим Нурланова", "+7 701 555 23 41"), address="пр. Абая 150/230, кв. 230",
      paid=False, postcard="Себе любимой 💐")
    o(s, n, 122588, "PD", hours_ago=0.05, day=0, lines=[_Line(696884)], customer=171740,
      recipient=("Дина Ахметжанова", "+7 701 505 60 70"), address="пр. Абая 150/230",
      postcard="Sorry I'm late 🙈 Love, Emily", pay_system="PayPal", slot="0", comment="Как можно скорее!")
    state.orders[122574].items[0].price = 60  # paid from abroad: 60 + 5 USD


# Templates for orders that arrive while the sandbox runs: (customer, recipient, phone, address,
# product, slot, postcard).
_NEW_ORDERS: list[tuple[int, str, str, str, int, str, str]] = [
    (171690, "Гульнара", "+7 701 640 12 12", "мкр. Самал-3, д. 9, кв. 41", 696885, "3",
     "С днём рождения! 🎂"),
    (171702, "Асель", "+7 707 208 30 30", "ул. Манаса 34/1, кв. 77", 696880, "0",
     "Спасибо за всё ✨"),
    (171733, "Наталья Ким", "8 705 777 66 55", "пр. Назарбаева 223, кв. 5", 696882, "2",
     "С праздником весны! 🌷"),
    (171758, "Карина", "+77473332211", "ул. Навои 310, ЖК «Orion», кв. 140", 696884, "4",
     "Ты — моё солнце ☀️"),
    (171777, "Жанна Маратовна", "+7 777 900 80 70", "ул. Шевченко 165б, офис 12", 696883, "1",
     "Поздравляем с повышением! Коллеги"),
]


def make_new_order(state: SandboxState) -> Order:
    """A fresh order in status N with the next id, reserving its flowers like the real system."""
    now = state.now().replace(microsecond=0)
    customer_id, name, phone, address, product_id, slot, postcard = _NEW_ORDERS[
        state.made_orders % len(_NEW_ORDERS)
    ]
    state.made_orders += 1
    order_id = state.next_order_id()
    product = state.products[product_id]
    customer = state.customers[customer_id]
    order = Order(
        id=order_id,
        status="N",
        created_at=now,
        items=[OrderItem(order_id * 10, product.id, product.title, 1, product.price, product.images[0])],
        sender_name=customer.name,
        sender_phone=customer.phone,
        recipient_name=name,
        recipient_phone=phone,
        address=address,
        delivery_date=(now + timedelta(days=1 if now.hour >= 19 else 0)).date(),
        slot=slot,
        delivery_price=2000,
        paid=False,
        postcard=postcard,
        customer_id=customer_id,
        history=[HistoryEntry("N", now, "Клиент (сайт)")],
        main_image=product.images[0],
    )
    return state.add_order(order)
