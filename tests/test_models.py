"""Each normaliser on every response variant of api/contract.md and the spec."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import httpx
import pytest

from services.http import ApiResponse, ApiTransport, make_http_client
from services.models import (
    AllowedStatuses,
    BulkUpdateResult,
    Colleague,
    ColleagueList,
    Customer,
    DeleteResult,
    Flower,
    FlowerDelivery,
    FlowerWriteOff,
    InventoryChange,
    InventoryUpdate,
    LowStockReport,
    Money,
    Movement,
    Order,
    Product,
    Profile,
    Shop,
    ShopInfo,
    StatusChange,
    UploadResult,
    items_of,
)

ORIGIN = "https://cvety.kz"
UTC5 = timezone(timedelta(hours=5))

LIST_ITEM: dict[str, Any] = {
    "id": 122578,
    "number": "122578",
    "status_id": "DE",
    "status_key": "in_delivery",
    "status_name": "В доставке",
    "paymentAmount": "12 990 ₸",
    "paymentStatus": "paid",
    "sender": {"name": "Алия", "phone": "8 777 123 45 67"},
    "recipient": {"name": "Дина", "phone": "+7 (701) 765-43-21"},
    "deliveryAddress": "г. Алматы, ул. Абая 150/230",
    "deliveryDate": "2025-10-24",
    "deliveryTime": "12:00-16:00",
    "deliveryCity": "Алматы",
    "createdAt": "2025-10-23T18:30:00+05:00",
    "mainImage": "/upload/iblock/main.jpg",
    "executors": [{"id": "15", "name": "Флорист Айгерим", "source": "crm"}],
    "items": [
        {
            "id": 696885,
            "productName": "Розы 25 шт",
            "amount": 1,
            "price": "12 990 ₸",
            "currency": "KZT",
            "productImage": "upload/iblock/rose.jpg",
        }
    ],
}

RAW_DETAIL: dict[str, Any] = {
    "statusId": "CO",
    "dateCreated": "24.10.2025",
    "price": "15990",
    "currency": "KZT",
    "senderName": "Ерлан",
    "senderPhone": "87001112233",
    "recipientName": "Сауле",
    "recipientPhone": "7019998877",
    "deliveryAddress": "ул. Сатпаева 1",
    "deliveryDate": "25.10.2025",
    "deliveryType": "5",
    "deliveryPrice": "2 000 ₸",
    "isPayed": "Y",
    "paySystem": "Kaspi",
    "postcardText": "С днём рождения!",
    "comment": "Позвонить заранее",
    "notes": "VIP",
    "responsibleId": "42",
    "basket": [{"productId": "696885", "name": "Розы 25 шт", "quantity": "1.0000", "price": "15990"}],
    "executors": [{"id": 16, "name": "Курьер Бахыт", "source": "cvety"}],
    "history": [
        {"status": "accepted", "timestamp": "24.10.2025 10:00:00", "user": "Айгерим"},
        {"status": "CO", "timestamp": "2025-10-24T12:00:00+0500", "user": {"name": "Бахыт"}},
    ],
    "urls": {"status": "/status/122578/abc"},
    "assembledImage": "/upload/assembled.jpg",
    "recipientPhoto": "https://cvety.kz/upload/recipient.jpg",
}


async def unwrap(body: Any, status: int = 200) -> ApiResponse:
    """The payload as the transport hands it to a model, from a canned body."""
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body))
    async with make_http_client("https://cvety.kz/api/v2", transport=transport) as client:
        return await ApiTransport(client, backend="cvety", token="t", auth="query").request("GET", "x")


# --- envelopes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {
            "success": True,
            "data": [LIST_ITEM],
            "pagination": {"total": 1, "limit": 20, "offset": 0, "hasMore": False},
        },
        {"status": True, "data": [LIST_ITEM]},
        {"success": True, "status": True, "data": [LIST_ITEM]},
        [LIST_ITEM],
        {"success": True, "data": {"items": [LIST_ITEM], "total": 1}},
        {"success": True, "data": {"122578": LIST_ITEM}},
    ],
)
async def test_order_list_in_every_envelope(body):
    response = await unwrap(body)
    page = Order.page_from_api(response.data, response.pagination, origin=ORIGIN, limit=20, offset=0)
    assert [order.id for order in page.items] == [122578]
    assert page.items[0].status == "DE"


async def test_pagination_from_the_envelope():
    response = await unwrap(
        {
            "success": True,
            "data": [LIST_ITEM],
            "pagination": {"total": 41, "limit": 1, "offset": 40, "hasMore": True},
        }
    )
    page = Order.page_from_api(response.data, response.pagination, limit=20, offset=0)
    assert (page.total, page.limit, page.offset, page.has_more) == (41, 1, 40, True)


def test_pagination_when_missing():
    assert Order.page_from_api([LIST_ITEM], limit=20, offset=0).has_more is False
    assert Order.page_from_api([LIST_ITEM], limit=1, offset=0).has_more is True
    assert Order.page_from_api({"items": [LIST_ITEM], "total": 3}, offset=1).has_more is True
    assert Order.page_from_api({"items": [LIST_ITEM], "total": 2}, offset=1).has_more is False
    assert Order.page_from_api([LIST_ITEM]).has_more is None


async def test_bare_object_with_success_flag_is_the_payload():
    response = await unwrap(
        {
            "success": True,
            "message": "ok",
            "flower_id": "rose-red",
            "previous_quantity": 40,
            "added_quantity": 10,
            "new_quantity": 50,
        }
    )
    assert FlowerDelivery.from_api(response.data).new_quantity == 50


def test_items_of_shapes():
    assert items_of([1]) == ([1], {})
    assert items_of(None) == ([], {})
    assert items_of({}) == ([], {})
    assert items_of({"movements": [1], "count": 1}) == ([1], {"movements": [1], "count": 1})
    assert items_of({"1": {"id": 1}, "2": {"id": 2}})[0] == [{"id": 1}, {"id": 2}]
    with pytest.raises(ValueError):
        items_of("text")
    with pytest.raises(ValueError):
        items_of({"id": 1, "name": "not a list"})


# --- orders ------------------------------------------------------------------------------------


def test_order_from_a_list_item():
    order = Order.from_api(LIST_ITEM, origin=ORIGIN)
    assert (order.id, order.number, order.status, order.status_name) == (122578, "122578", "DE", "В доставке")
    assert (order.amount, order.currency, order.amount_text) == (12990, "KZT", "12 990 ₸")
    assert order.money == Money(amount=12990, currency="KZT")
    assert (order.payment_status, order.is_paid) == ("paid", True)
    assert order.sender is not None and (order.sender.name, order.sender.phone) == ("Алия", "+77771234567")
    assert order.recipient is not None and order.recipient.phone == "+77017654321"
    assert (order.address, order.city) == ("г. Алматы, ул. Абая 150/230", "Алматы")
    assert order.delivery_date == date(2025, 10, 24)
    assert order.delivery_slot is not None and (order.delivery_slot.start, order.delivery_slot.end) == (
        time(12),
        time(16),
    )
    assert order.delivery_slot_raw == "12:00-16:00"
    assert order.created_at == datetime(2025, 10, 23, 18, 30, tzinfo=UTC5)
    assert order.main_image_url == "https://cvety.kz/upload/iblock/main.jpg"
    assert [(e.id, e.name, e.source) for e in order.executors] == [(15, "Флорист Айгерим", "crm")]
    [item] = order.items
    assert (item.id, item.name, item.quantity, item.price, item.currency) == (
        696885,
        "Розы 25 шт",
        1,
        12990,
        "KZT",
    )
    assert item.image_url == "https://cvety.kz/upload/iblock/rose.jpg"


def test_order_detail_merges_raw_under_the_top_level():
    order = Order.from_api({**LIST_ITEM, "raw": RAW_DETAIL}, origin=ORIGIN)
    # top-level fields win
    assert order.status == "DE"
    assert order.amount == 12990
    assert order.sender is not None and order.sender.name == "Алия"
    assert order.delivery_date == date(2025, 10, 24)
    assert [item.price for item in order.items] == [12990]
    assert [e.id for e in order.executors] == [15]
    # raw fills the gaps
    assert order.postcard_text == "С днём рождения!"
    # the engine's slot code beats the list item's display text of a slot
    assert (order.delivery_slot_raw, order.delivery_slot and order.delivery_slot.label_key) == ("5", "by")
    assert (order.comment, order.notes, order.responsible_id) == ("Позвонить заранее", "VIP", 42)
    assert order.delivery_price == 2000
    assert (order.is_paid, order.pay_system) == (True, "Kaspi")
    assert order.tracking_url == "https://cvety.kz/status/122578/abc"
    assert order.assembled_image_url == "https://cvety.kz/upload/assembled.jpg"
    assert order.recipient_photo_url == "https://cvety.kz/upload/recipient.jpg"
    assert [(h.status, h.user) for h in order.history] == [("AP", "Айгерим"), ("CO", "Бахыт")]
    assert order.history[0].at == datetime(2025, 10, 24, 10, tzinfo=UTC5)


def test_order_detail_from_raw_alone():
    order = Order.from_api({"id": "122578", "raw": RAW_DETAIL, "deliveryAddress": ""}, origin=ORIGIN)
    assert (order.id, order.number, order.status) == (122578, "122578", "CO")
    assert (order.amount, order.amount_text) == (15990, "15990")
    assert order.created_at == datetime(2025, 10, 24, tzinfo=UTC5)
    assert order.sender is not None and (order.sender.name, order.sender.phone) == ("Ерлан", "+77001112233")
    assert order.recipient is not None and order.recipient.phone == "+77019998877"
    assert order.address == "ул. Сатпаева 1"  # an empty top-level field does not hide raw's
    assert order.delivery_date == date(2025, 10, 25)
    assert order.delivery_slot is not None and order.delivery_slot.label_key == "by"
    [item] = order.items
    assert (item.id, item.name, item.quantity, item.price) == (696885, "Розы 25 шт", 1, 15990)
    assert [e.name for e in order.executors] == ["Курьер Бахыт"]


def test_order_with_almost_nothing():
    order = Order.from_api(
        {
            "id": 5,
            "sender": None,
            "items": None,
            "executors": None,
            "createdAt": None,
            "raw": None,
            "mainImage": "",
            "deliveryDate": "00.00.0000",
        }
    )
    assert (order.id, order.number, order.status, order.amount, order.currency) == (5, "5", "", None, "KZT")
    assert order.sender is None and order.recipient is None
    assert order.items == [] and order.executors == [] and order.history == []
    assert order.delivery_date is None and order.created_at is None and order.main_image_url is None
    assert order.delivery_slot is None and order.is_paid is None


def test_order_in_dollars_is_not_tenge():
    order = Order.from_api({**LIST_ITEM, "paymentAmount": "65 USD"})
    assert (order.amount, order.currency, order.amount_text) == (65, "USD", "65 USD")


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"status_id": "TR", "status_name": "Проблемный"}, "TR"),
        ({"status_id": "ro"}, "RO"),
        ({"status_key": "in_delivery"}, "DE"),
        ({"status": "cancelled"}, "UN"),
        ({"status": {"id": "D", "name": "Доставлен"}}, "F"),
        ({"statusId": "C"}, "UN"),
    ],
)
def test_order_status_spellings(fields, status):
    assert Order.from_api({"id": 1, **fields}).status == status


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("-0001-11-30T00:00:00+0500", None),
        ("00.00.0000", None),
        ("", None),
        ("2025-09-26T14:59:39+0500", datetime(2025, 9, 26, 14, 59, 39, tzinfo=UTC5)),
    ],
)
def test_order_created_at(value, expected):
    assert Order.from_api({"id": 1, "createdAt": value}).created_at == expected


def test_order_list_skips_an_unreadable_item_and_warns(caplog):
    caplog.set_level(logging.WARNING, logger="services.api")
    orders = Order.list_from_api(
        [LIST_ITEM, {"id": "abc"}, {"number": "1"}, None, "x", {**LIST_ITEM, "id": "122579"}]
    )
    assert [order.id for order in orders] == [122578, 122579]
    assert len([r for r in caplog.records if r.name == "services.api"]) == 4
    # the warning says where, not what (the value may be a customer's phone)
    assert all("abc" not in r.getMessage() for r in caplog.records)


def test_order_item_with_a_bad_nested_item_keeps_the_order():
    order = Order.from_api({"id": 1, "items": [{"productName": "Розы"}, "junk"], "executors": [7]})
    assert [item.name for item in order.items] == ["Розы"]
    assert order.executors == []


def test_order_with_a_nested_list_of_the_wrong_type_keeps_the_order():
    order = Order.from_api({"id": 1, "items": "none", "history": 5, "raw": {"basket": False}})
    assert (order.id, order.items, order.history) == (1, [], [])


def test_is_paid_from_the_payment_status():
    assert Order.from_api({"id": 1, "paymentStatus": "Оплачен"}).is_paid is True
    assert Order.from_api({"id": 1, "paymentStatus": "not_paid"}).is_paid is False
    assert Order.from_api({"id": 1, "paymentStatus": "partial"}).is_paid is None
    assert Order.from_api({"id": 1, "raw": {"isPayed": "N"}}).is_paid is False


# --- statuses ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed", "expected"),
    [
        (["F", "TR", "RO"], ["F", "TR", "RO"]),
        (["completed", "tr", "ro"], ["F", "TR", "RO"]),
        (["delivered", "F", "D"], ["F"]),
        ({"F": "Завершён", "TR": "Проблемный"}, ["F", "TR"]),
        ([{"code": "F", "name": "Завершён"}], ["F"]),
        (None, []),
    ],
)
def test_allowed_statuses(allowed, expected):
    result = AllowedStatuses.from_api({"id": "122578", "current": "in_delivery", "allowed": allowed})
    assert (result.order_id, result.current, result.allowed) == (122578, "DE", expected)


def test_status_change():
    change = StatusChange.from_api(
        {
            "id": 122578,
            "oldStatus": "accepted",
            "newStatus": "CO",
            "changed": True,
            "changedAt": "2025-10-24 12:00:00",
        }
    )
    assert (change.order_id, change.old_status, change.new_status, change.changed) == (
        122578,
        "AP",
        "CO",
        True,
    )
    assert change.changed_at == datetime(2025, 10, 24, 12, tzinfo=UTC5)
    assert StatusChange.from_api({}).changed is None


# --- products, shops, customers, uploads -------------------------------------------------------

PRODUCT_ITEM: dict[str, Any] = {
    "id": 696885,
    "title": "Букет &quot;Нежность&quot;",
    "price": "7 500 ₸",
    "isAvailable": True,
    "type": "vitrina",
    "image": "/upload/a.jpg",
    "images": ["/upload/a.jpg", "https://cdn/b.jpg"],
    "createdAt": "2025-09-26T14:59:39+0500",
    "width": "40",
    "height": "",
    "catalogWidth": "60",
    "catalogHeight": "70",
    "discount": "0",
    "video": None,
    "duration": None,
    "productionTime": "short",
    "composition": None,
    "colors": False,
}


def test_product_list_item():
    product = Product.from_api(PRODUCT_ITEM, origin=ORIGIN)
    assert (product.id, product.title, product.price, product.price_text) == (
        696885,
        'Букет "Нежность"',
        7500,
        "7 500 ₸",
    )
    assert (product.is_available, product.type) == (True, "vitrina")
    assert product.image_url == "https://cvety.kz/upload/a.jpg"
    assert product.images == ["https://cvety.kz/upload/a.jpg", "https://cdn/b.jpg"]
    assert product.created_at == datetime(2025, 9, 26, 14, 59, 39, tzinfo=UTC5)
    assert (product.width, product.height) == ("40", "70")  # an empty height falls back
    assert (product.discount, product.production_time) == (0, "short")
    assert product.composition == [] and product.colors == []


def test_catalog_product_uses_catalog_sizes_and_detail_composition():
    product = Product.from_api(
        {
            **PRODUCT_ITEM,
            "type": "catalog",
            "id": "700",
            "createdAt": "-0001-11-30T00:00:00+0500",
            "composition": [{"id": "11", "name": "Роза", "amount": "15"}, "junk"],
            "colors": ["red", {"name": "white"}],
            "discount": "10%",
            "price": "65 USD",
            "image": None,
        },
        origin=ORIGIN,
    )
    assert (product.id, product.width, product.height) == (700, "60", "70")
    assert product.created_at is None
    assert [(c.id, c.name, c.amount) for c in product.composition] == [("11", "Роза", 15)]
    assert product.colors == ["red", "white"]
    assert product.discount == 10
    assert (product.price, product.currency) == (65, "USD")
    assert product.image_url == "https://cvety.kz/upload/a.jpg"  # first of images


def test_product_with_nulls():
    product = Product.from_api({"id": 1, "price": None, "width": None, "images": None, "discount": None})
    assert (product.title, product.price, product.width, product.images, product.discount) == (
        "",
        None,
        None,
        [],
        0,
    )


def test_shop():
    [shop, phone_named] = Shop.list_from_api(
        [
            {"id": 17008, "xml_id": "cvetykz", "name": "Cvety.kz", "city": "2"},
            {"id": "17009", "name": 87771234567, "city": 2},
        ]
    )
    assert (shop.id, shop.xml_id, shop.name, shop.city) == (17008, "cvetykz", "Cvety.kz", "2")
    assert (phone_named.id, phone_named.name, phone_named.city) == (17009, "87771234567", "2")


@pytest.mark.parametrize(
    "stats",
    [
        {"ordersCount": 3, "totalSpent": "45 000 ₸", "lastOrderDate": "24.10.2025"},
        {"orders_count": "3", "total": 45000, "last_order": "2025-10-24"},
        {"order_count": 3, "total_amount": "45000", "last_order_date": "2025-10-24T00:00:00+05:00"},
        {"orders": [{}, {}, {}], "sum": 45000.0, "lastOrderDate": "24.10.2025 00:00"},
        {"stats": {"orders": 3, "sum": "45 000"}, "lastOrderDate": "24.10.2025"},
    ],
)
def test_customer_stats_spellings(stats):
    customer = Customer.from_api({"id": "171690", "name": "Айгуль", "phone": "+7 777 123 45 67", **stats})
    assert (customer.id, customer.name, customer.phone) == (171690, "Айгуль", "+77771234567")
    assert (customer.orders_count, customer.total) == (3, 45000)
    assert customer.last_order_at == datetime(2025, 10, 24, tzinfo=UTC5)


def test_customer_without_stats():
    customer = Customer.from_api({"id": 1})
    assert (customer.orders_count, customer.total, customer.last_order_at) == (None, None, None)


@pytest.mark.parametrize(
    ("body", "urls"),
    [
        (
            {"success": True, "data": {"urls": ["/upload/a.jpg", "/upload/b.jpg"]}},
            ["https://cvety.kz/upload/a.jpg", "https://cvety.kz/upload/b.jpg"],
        ),
        ({"success": True, "urls": ["https://cdn/a.jpg"]}, ["https://cdn/a.jpg"]),
        ({"success": True, "data": ["upload/a.jpg"]}, ["https://cvety.kz/upload/a.jpg"]),
        ({"success": True, "url": "/upload/a.jpg"}, ["https://cvety.kz/upload/a.jpg"]),
        ({"success": True, "data": {"url": "//cdn/a.jpg"}}, ["https://cdn/a.jpg"]),
        ({"success": True, "data": [{"url": "/a.jpg"}, {"url": "/a.jpg"}]}, ["https://cvety.kz/a.jpg"]),
    ],
)
def test_upload_result_shapes(body, urls):
    assert UploadResult.from_api(body, origin=ORIGIN).urls == urls


def test_upload_result_without_urls_is_an_error():
    with pytest.raises(ValueError):
        UploadResult.from_api({"success": True, "data": {"saved": 1}})


def test_delete_result():
    assert DeleteResult.from_api({"id": 5, "deleted": True}) == DeleteResult(id="5", deleted=True)
    assert DeleteResult.from_api({"success": True}).deleted is True
    assert DeleteResult.from_api({"id": "x", "deleted": False}).deleted is False


# --- CRM ---------------------------------------------------------------------------------------


async def test_flowers_from_a_bare_array():
    response = await unwrap(
        [
            {
                "id": "6f1c2e9a-0000-4000-8000-000000000001",
                "name": "Роза красная",
                "name_en": "Red rose",
                "quantity": 40,
            },
            {"id": "rose-red", "name": "Роза", "quantity": "12"},
            {"id": 7, "name": "Тюльпан", "quantity": None},
            {"id": "bad", "name": "Лилия", "quantity": "lots"},
            {"name": "no id"},
        ]
    )
    flowers = Flower.list_from_api(response.data)
    assert [(f.id, f.quantity) for f in flowers] == [
        ("6f1c2e9a-0000-4000-8000-000000000001", 40),
        ("rose-red", 12),
        ("7", 0),
    ]
    assert flowers[0].name_en == "Red rose" and flowers[1].name_en is None


def test_flower_delivery_and_writeoff():
    delivery = FlowerDelivery.from_api(
        {
            "success": True,
            "message": "Поставка добавлена",
            "flower_id": "rose-red",
            "previous_quantity": 40,
            "added_quantity": 100,
            "new_quantity": 140,
        }
    )
    assert (
        delivery.flower_id,
        delivery.previous_quantity,
        delivery.added_quantity,
        delivery.new_quantity,
        delivery.message,
    ) == ("rose-red", 40, 100, 140, "Поставка добавлена")
    writeoff = FlowerWriteOff.from_api(
        {
            "success": True,
            "flower_id": "rose-red",
            "previous_quantity": 140,
            "writeoff_quantity": 10,
            "new_quantity": 130,
            "reason": "Увядшие",
        }
    )
    assert (writeoff.writeoff_quantity, writeoff.new_quantity, writeoff.reason) == (10, 130, "Увядшие")


def test_inventory_results():
    update = InventoryUpdate.from_api(
        {"success": True, "product_id": 123, "old_quantity": 5, "new_quantity": 10, "change": 5}
    )
    assert (update.product_id, update.old_quantity, update.new_quantity, update.change) == ("123", 5, 10, 5)
    bulk = BulkUpdateResult.from_api(
        {
            "success": True,
            "updated_count": 2,
            "updated_products": ["123", {"product_id": "124", "new_quantity": 8}],
            "errors": ["125: not found"],
        }
    )
    assert bulk.updated_count == 2
    assert [(p.product_id, p.new_quantity) for p in bulk.updated_products] == [("123", None), ("124", 8)]
    assert bulk.errors == ["125: not found"]
    assert BulkUpdateResult.from_api({"updated_products": ["1"]}).updated_count == 1
    change = InventoryChange.from_api(
        {
            "success": True,
            "message": "ok",
            "product": {"id": 9, "name": "Роза", "quantity": 60, "price": "150"},
        }
    )
    assert change.product is not None and (
        change.product.id,
        change.product.quantity,
        change.product.price,
    ) == ("9", 60, 150)
    assert InventoryChange.from_api({"message": "ok", "product": {"name": "no id"}}).product is None


def test_low_stock_report():
    report = LowStockReport.from_api(
        {
            "success": True,
            "threshold": 5,
            "count": 2,
            "products": [
                {"id": "p1", "name": "Тюльпан", "quantity": 3, "price": 500},
                {"id": "p2", "name": "Роза", "quantity": "1"},
            ],
        }
    )
    assert (report.threshold, report.count) == (5, 2)
    assert [(p.id, p.quantity, p.price) for p in report.products] == [("p1", 3, 500), ("p2", 1, None)]
    bare = LowStockReport.from_api([{"id": "p1", "quantity": 2}])
    assert (bare.threshold, bare.count) == (None, 1)


async def test_history_in_both_shapes():
    contract = await unwrap(
        {
            "success": True,
            "count": 1,
            "movements": [
                {
                    "id": 17,
                    "flower_id": "rose-red",
                    "product_name": "Роза красная",
                    "quantity": 50,
                    "delivery_date": "2025-09-04",
                    "reason": "Поставка",
                    "note": None,
                    "created_at": "2025-09-04T10:00:00Z",
                }
            ],
        }
    )
    spec = await unwrap(
        {
            "success": True,
            "data": [
                {
                    "id": "mov_123",
                    "flower_id": "rose-red",
                    "flower_name": "Роза красная",
                    "movement_type": "delivery",
                    "quantity": 50,
                    "reason": "Поставка от поставщика",
                    "created_at": "2025-09-04T10:00:00Z",
                }
            ],
        }
    )
    [from_contract] = Movement.list_from_api(contract.data)
    [from_spec] = Movement.list_from_api(spec.data)
    assert (from_contract.id, from_contract.flower_name, from_contract.delivery_date) == (
        "17",
        "Роза красная",
        date(2025, 9, 4),
    )
    assert (from_spec.id, from_spec.flower_name, from_spec.movement_type) == (
        "mov_123",
        "Роза красная",
        "delivery",
    )
    for movement in (from_contract, from_spec):
        assert movement.created_at == datetime(2025, 9, 4, 15, tzinfo=UTC5)
        assert (movement.flower_id, movement.quantity) == ("rose-red", 50)


def test_profile():
    profile = Profile.from_api(
        {
            "id": 1,
            "name": "Администратор",
            "phone": "+7 (777) 000-00-01",
            "position": "owner",
            "bio": "Владелец",
            "avatar": None,
            "can_edit": True,
            "positions": ["owner", "senior", "florist", "assistant"],
        }
    )
    assert (profile.id, profile.phone, profile.can_edit, profile.avatar) == ("1", "+77770000001", True, None)
    assert profile.positions == ["owner", "senior", "florist", "assistant"]
    assert Profile.from_api({}).positions == []


def test_shop_info():
    info = ShopInfo.from_api(
        {
            "id": 1,
            "name": "Цветы.kz",
            "address": "г. Алматы, ул. Абая 150/230",
            "phone": "+7 (727) 378-88-88",
            "working_hours": "Пн-Вс: 9:00-21:00",
            "city": "Алматы",
            "social_media": {
                "instagram": "https://instagram.com/cvety.kz",
                "whatsapp": "+77273788888",
                "telegram": None,
            },
        }
    )
    assert (info.phone, info.working_hours) == ("+77273788888", "Пн-Вс: 9:00-21:00")
    assert (info.social.instagram, info.social.whatsapp, info.social.telegram) == (
        "https://instagram.com/cvety.kz",
        "+77273788888",
        None,
    )
    assert ShopInfo.from_api({"social_media": None}).social.instagram is None


COLLEAGUES = [
    {
        "id": 3,
        "name": "John Doe",
        "phone": "+7 (777) 123-45-67",
        "position": "florist",
        "isActive": True,
        "joinedDate": "2025-09-01",
    },
    {
        "id": "c-4",
        "name": "Алия",
        "phone": "87011234567",
        "position": "courier",
        "is_active": False,
        "created_at": "2025-09-02T09:00:00+05:00",
    },
    {"name": "no id"},
]


@pytest.mark.parametrize(
    "body",
    [
        {"success": True, "data": COLLEAGUES},
        {
            "success": True,
            "data": {"items": COLLEAGUES, "position_stats": {"florist": 1, "courier": "1", "x": "?"}},
        },
    ],
)
async def test_colleagues_as_list_or_items(body):
    colleagues = ColleagueList.from_api((await unwrap(body)).data)
    assert [(c.id, c.phone, c.is_active) for c in colleagues.items] == [
        ("3", "+77771234567", True),
        ("c-4", "+77011234567", False),
    ]
    assert colleagues.items[0].joined_at == datetime(2025, 9, 1, tzinfo=UTC5)
    assert colleagues.items[1].joined_at == datetime(2025, 9, 2, 9, tzinfo=UTC5)
    if isinstance(body["data"], dict):
        assert colleagues.position_stats == {"florist": 1, "courier": 1}
    else:
        assert colleagues.position_stats == {}


def test_colleague_write_answer():
    colleague = Colleague.from_api(
        {
            "id": 9,
            "name": "John Doe",
            "phone": "+77771234567",
            "position": "florist",
            "isActive": True,
            "joinedDate": "2025-09-04",
        }
    )
    assert (colleague.id, colleague.is_active, colleague.joined_at) == (
        "9",
        True,
        datetime(2025, 9, 4, tzinfo=UTC5),
    )
    with pytest.raises(ValueError):
        Colleague.from_api({"name": "no id"})


def test_an_order_read_again_unchanged_is_the_same_model_and_a_changed_one_is_new():
    from services.models import Order

    raw = {"id": 990001, "number": "990001", "status_id": "N", "paymentAmount": "12 990 ₸"}
    first = Order.from_api(dict(raw), origin="https://cvety.kz")
    assert Order.from_api(dict(raw), origin="https://cvety.kz") is first  # built once
    changed = Order.from_api({**raw, "status_id": "AP"}, origin="https://cvety.kz")
    assert changed is not first and changed.status == "AP" and first.status == "N"
    assert Order.from_api(dict(raw), origin=None) is not first  # image paths depend on the origin


def test_remembered_orders_are_bounded():
    from services.models import Order

    for i in range(Order.REMEMBER + 50):
        Order.from_api({"id": 800000 + i, "number": str(i), "status_id": "N"})
    assert len(Order._remembered) == Order.REMEMBER
