"""The real httpx clients against a real loopback server: request shapes on the wire, redirects,
and every failure kind, with the token kept out of every error and log line."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import socket
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from aiohttp import web

from services.crm_api import CrmApi
from services.cvety_api import CvetyApi
from services.errors import (
    ApiBadResponse,
    ApiError,
    ApiNotFound,
    ApiNotSupported,
    ApiRejected,
    ApiUnavailable,
    ApiUnknownOutcome,
)
from services.http import make_http_client
from tests.api_fault_server import (
    FaultServer,
    cut_off,
    hang_up,
    redirect,
    stall,
    text_reply,
)

TOKEN = "tok-SECRET-7f3a9c2e"
CRM_TOKEN = "crm-SECRET-41b8d0"
READ_TIMEOUT = 0.2

ORDER = {
    "id": 122578,
    "number": "122578",
    "status_id": "AP",
    "status_name": "Принят",
    "paymentAmount": "12 990 ₸",
    "mainImage": "/upload/iblock/1.jpg",
}


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


@pytest.fixture
async def server() -> AsyncIterator[FaultServer]:
    fault_server = FaultServer()
    await fault_server.start()
    yield fault_server
    await fault_server.stop()


@pytest.fixture
async def cvety_http(server: FaultServer) -> AsyncIterator[httpx.AsyncClient]:
    client = make_http_client(f"{server.url}/api/v2", connect_timeout=1.0, read_timeout=READ_TIMEOUT)
    yield client
    await client.aclose()


@pytest.fixture
def cvety(cvety_http: httpx.AsyncClient) -> CvetyApi:
    return CvetyApi(cvety_http, TOKEN)


@pytest.fixture
async def crm(server: FaultServer) -> AsyncIterator[CrmApi]:
    client = make_http_client(f"{server.url}/crm", connect_timeout=1.0, read_timeout=READ_TIMEOUT)
    yield CrmApi(client, CRM_TOKEN)
    await client.aclose()


def assert_secret_free(error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    if isinstance(error, ApiError):
        texts += [error.message, error.endpoint]
        assert "?" not in error.endpoint
    if isinstance(error, ApiRejected):
        texts.append(str(error.server_message))
    for record in caplog.records:
        texts.append(record.getMessage())
    for text in texts:
        assert TOKEN not in text
        assert CRM_TOKEN not in text
    # httpx exceptions carry the request (and its URL): none may hang off ours.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


# --- request shapes ----------------------------------------------------------------------------


async def test_get_sends_token_in_query_keeps_prefix_and_no_content_type(server, caplog):
    server.reply(
        "GET",
        "/api/v2/orders",
        {
            "success": True,
            "data": [ORDER],
            "pagination": {"total": 1, "limit": 10, "offset": 0, "hasMore": False},
        },
    )
    # Even a client with a default Content-Type must not send it on a GET.
    client = make_http_client(f"{server.url}/api/v2", read_timeout=READ_TIMEOUT)
    client.headers["Content-Type"] = "application/json"
    async with client:
        page = await CvetyApi(client, TOKEN).list_orders(limit=10)

    [seen] = server.seen
    assert seen.method == "GET"
    assert seen.path == "/api/v2/orders"
    assert seen.query["access_token"] == TOKEN
    assert seen.query["limit"] == "10" and seen.query["offset"] == "0"
    assert "status" not in seen.query
    assert "Content-Type" not in seen.headers
    assert "Authorization" not in seen.headers
    assert [order.id for order in page.items] == [122578]
    assert page.items[0].main_image_url == f"{server.url}/upload/iblock/1.jpg"
    assert (page.total, page.has_more) == (1, False)
    debug = [
        r.getMessage() for r in caplog.records if r.name == "services.api" and r.levelno == logging.DEBUG
    ]
    assert debug == [debug[0]] and "GET /api/v2/orders -> 200" in debug[0]
    assert all(TOKEN not in record.getMessage() for record in caplog.records)


async def test_list_orders_sends_the_spec_key_and_filters_again(server, cvety):
    other = {**ORDER, "id": 122579, "number": "122579", "status_id": "N"}
    server.reply("GET", "/api/v2/orders", {"success": True, "data": [ORDER, other]})
    page = await cvety.list_orders(status="AP", limit=2)
    assert server.seen[0].query["status"] == "accepted"
    assert [order.id for order in page.items] == [122578]
    assert page.has_more is True  # a full page and no pagination from the server


async def test_delete_sends_no_content_type(server, cvety):
    server.reply("DELETE", "/api/v2/products/delete", {"success": True, "data": {"id": 5, "deleted": True}})
    result = await cvety.delete_product(5)
    [seen] = server.seen
    assert seen.query["id"] == "5" and seen.query["access_token"] == TOKEN
    assert "Content-Type" not in seen.headers
    assert result.deleted is True and result.id == "5"


async def test_change_status_posts_form_fields(server, cvety):
    server.reply(
        "POST",
        "/api/v2/order/change-status",
        {
            "status": True,
            "data": {
                "id": 122578,
                "oldStatus": "PD",
                "newStatus": "AP",
                "changed": True,
                "changedAt": "2025-10-24T10:00:00+05:00",
            },
        },
    )
    change = await cvety.change_status(122578, "accepted", comment="Принято")
    [seen] = server.seen
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert seen.form == {"id": "122578", "statusId": "AP", "comment": "Принято"}
    assert seen.query["access_token"] == TOKEN
    assert (change.order_id, change.old_status, change.new_status, change.changed) == (
        122578,
        "PD",
        "AP",
        True,
    )


async def test_change_status_without_comment_sends_no_comment(server, cvety):
    server.reply(
        "POST", "/api/v2/order/change-status", {"status": True, "data": {"id": 1, "newStatus": "CO"}}
    )
    await cvety.change_status(1, "CO")
    assert server.seen[0].form == {"id": "1", "statusId": "CO"}


async def test_get_order_reads_detail_with_raw(server, cvety):
    server.reply(
        "GET",
        "/api/v2/orders/detail",
        {
            "success": True,
            "data": {"id": 122578, "raw": {"statusId": "DE", "price": "12990", "deliveryType": "2"}},
        },
    )
    order = await cvety.get_order(122578)
    assert server.seen[0].query["id"] == "122578"
    assert (order.status, order.amount, order.delivery_slot and order.delivery_slot.code) == (
        "DE",
        12990,
        "2",
    )


async def test_allowed_statuses(server, cvety):
    server.reply(
        "GET",
        "/api/v2/order/allowed-statuses",
        {"status": True, "data": {"id": 122578, "current": "DE", "allowed": ["f", "tr", "RO"]}},
    )
    allowed = await cvety.allowed_statuses(122578)
    assert (allowed.current, allowed.allowed) == ("DE", ["F", "TR", "RO"])


async def test_create_product_posts_json(server, cvety):
    server.reply(
        "POST",
        "/api/v2/product/create",
        {"success": True, "data": {"id": 700001, "title": "Новый букет", "price": "25 000 ₸"}},
    )
    product = await cvety.create_product(
        "SKU-123", "Новый букет", 25000, 17008, images=["https://cvety.kz/upload/a.jpg"]
    )
    [seen] = server.seen
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.json == {
        "id": "SKU-123",
        "title": "Новый букет",
        "price": 25000,
        "ownerId": 17008,
        "images": ["https://cvety.kz/upload/a.jpg"],
    }
    assert not isinstance(product, dict) and product.price == 25000


async def test_other_cvety_reads_hit_the_spec_paths(server, cvety):
    server.reply(
        "GET",
        "/api/v2/shop/list",
        {"success": True, "data": [{"id": 17008, "xml_id": "cvetykz", "name": "Cvety.kz", "city": "2"}]},
    )
    server.reply(
        "GET",
        "/api/v2/customers/",
        {
            "success": True,
            "status": True,
            "data": [{"id": "171690", "name": "Айгуль", "phone": "8 777 123 45 67", "ordersCount": "3"}],
        },
    )
    server.reply("GET", "/api/v2/customers/orders.php", {"success": True, "data": [ORDER]})
    server.reply("GET", "/api/v2/products", {"success": True, "data": [{"id": "696885", "title": "Розы"}]})
    server.reply("GET", "/api/v2/products/detail", {"success": True, "data": {"id": 696885, "title": "Розы"}})

    assert [shop.id for shop in await cvety.list_shops()] == [17008]
    assert [c.phone for c in await cvety.list_customers()] == ["+77771234567"]
    assert [o.id for o in await cvety.customer_orders(171690)] == [122578]
    products = await cvety.list_products(type="vitrina", is_available=True, search="роз", limit=5)
    assert [p.id for p in products.items] == [696885]
    assert (await cvety.get_product(696885)).title == "Розы"

    paths = [(seen.path, dict(seen.query)) for seen in server.seen]
    assert paths[1][0] == "/api/v2/customers/"
    assert paths[2][1]["CUSTOMER_ID"] == "171690"
    assert paths[3][1] == {
        "type": "vitrina",
        "isAvailable": "true",
        "search": "роз",
        "limit": "5",
        "offset": "0",
        "access_token": TOKEN,
    }
    assert paths[4][1]["id"] == "696885"


async def test_upload_one_image_as_file_field(server, cvety):
    server.reply("POST", "/api/v2/uploads/images", {"success": True, "data": {"urls": ["/upload/tmp/a.jpg"]}})
    result = await cvety.upload_images([("a.jpg", b"\xff\xd8jpeg-bytes", "image/jpeg")])
    [seen] = server.seen
    assert seen.headers["Content-Type"].startswith("multipart/form-data")
    assert [(p.name, p.filename, p.content_type, p.content) for p in seen.parts] == [
        ("file", "a.jpg", "image/jpeg", b"\xff\xd8jpeg-bytes")
    ]
    assert result.urls == [f"{server.url}/upload/tmp/a.jpg"]


async def test_upload_several_images_as_images_array(server, cvety):
    server.reply(
        "POST",
        "/api/v2/uploads/images",
        {"success": True, "urls": ["https://cdn/a.png", "https://cdn/b.webp"]},
    )
    result = await cvety.upload_images([("a.png", b"png", "image/png"), ("b.webp", b"webp", "image/webp")])
    assert [(p.name, p.filename) for p in server.seen[0].parts] == [
        ("images[]", "a.png"),
        ("images[]", "b.webp"),
    ]
    assert result.urls == ["https://cdn/a.png", "https://cdn/b.webp"]


async def test_upload_refuses_what_the_server_would(cvety, server):
    with pytest.raises(ValueError):
        await cvety.upload_images([("a.gif", b"gif", "image/gif")])
    with pytest.raises(ValueError):
        await cvety.upload_images([("a.jpg", b"x" * (10 * 1024 * 1024 + 1), "image/jpeg")])
    assert server.seen == []


async def test_crm_keeps_prefix_sends_bearer_and_json(server, crm):
    server.reply(
        "GET", "/crm/api/flowers/search", [{"id": "rose-red", "name": "Роза красная", "quantity": 40}]
    )
    server.reply(
        "POST",
        "/crm/api/flowers/delivery",
        {
            "success": True,
            "message": "ok",
            "flower_id": "rose-red",
            "previous_quantity": 40,
            "added_quantity": 100,
            "new_quantity": 140,
        },
    )
    flowers = await crm.search_flowers("роза", limit=5)
    delivery = await crm.flower_delivery("rose-red", 100, supplier="Цветочная база", price=120)

    search, post = server.seen
    assert search.path == "/crm/api/flowers/search"
    assert dict(search.query) == {"q": "роза", "limit": "5"}
    assert "Content-Type" not in search.headers
    assert search.headers["Authorization"] == f"Bearer {CRM_TOKEN}"
    assert post.headers["Content-Type"] == "application/json"
    assert post.json == {"flower_id": "rose-red", "quantity": 100, "supplier": "Цветочная база", "price": 120}
    assert [f.id for f in flowers] == ["rose-red"]
    assert (delivery.previous_quantity, delivery.new_quantity) == (40, 140)


async def test_crm_writes_send_the_spec_bodies(server, crm):
    server.reply(
        "POST",
        "/crm/api/flowers/writeoff",
        {"success": True, "flower_id": "rose-red", "writeoff_quantity": 10, "reason": "Некачественные"},
    )
    server.reply(
        "POST",
        "/crm/api/inventory/update",
        {"success": True, "product_id": "123", "old_quantity": 5, "new_quantity": 10, "change": 5},
    )
    server.reply(
        "POST",
        "/crm/api/inventory/bulk-update",
        {"success": True, "updated_count": 2, "updated_products": ["123", "124"], "errors": []},
    )
    server.reply(
        "POST",
        "/crm/api/v2/colleagues",
        {
            "success": True,
            "data": {
                "id": 7,
                "name": "John Doe",
                "phone": "+77771234567",
                "position": "florist",
                "isActive": True,
            },
        },
    )
    server.reply("PUT", "/crm/api/v2/colleagues/7", {"success": True, "data": {"id": 7, "isActive": False}})
    server.reply(
        "PATCH", "/crm/api/v2/colleagues/7/toggle", {"success": True, "data": {"id": 7, "isActive": True}}
    )
    server.reply("DELETE", "/crm/api/v2/colleagues/7", {"success": True, "data": {"id": 7, "deleted": True}})
    server.reply("PUT", "/crm/api/v2/profile", {"success": True, "data": {"id": 1, "name": "Новое имя"}})

    writeoff = await crm.flower_writeoff("rose-red", 10, "Некачественные", note="Повреждены")
    update = await crm.inventory_update("123", 10, note="Пополнение склада")
    bulk = await crm.inventory_bulk_update([("123", 15), ("124", 8)])
    colleague = await crm.create_colleague("John Doe", "+77771234567", "florist")
    updated = await crm.update_colleague("7", is_active=False)
    toggled = await crm.toggle_colleague("7")
    deleted = await crm.delete_colleague("7")
    profile = await crm.update_profile("Новое имя", "+77771234567", "senior", "Биография")

    bodies = [(seen.method, seen.path, seen.json if seen.body else None) for seen in server.seen]
    assert bodies == [
        (
            "POST",
            "/crm/api/flowers/writeoff",
            {"flower_id": "rose-red", "quantity": 10, "reason": "Некачественные", "note": "Повреждены"},
        ),
        (
            "POST",
            "/crm/api/inventory/update",
            {"product_id": "123", "quantity": 10, "note": "Пополнение склада"},
        ),
        (
            "POST",
            "/crm/api/inventory/bulk-update",
            {"updates": [{"product_id": "123", "quantity": 15}, {"product_id": "124", "quantity": 8}]},
        ),
        (
            "POST",
            "/crm/api/v2/colleagues",
            {"name": "John Doe", "phone": "+77771234567", "position": "florist", "isActive": True},
        ),
        ("PUT", "/crm/api/v2/colleagues/7", {"isActive": False}),
        ("PATCH", "/crm/api/v2/colleagues/7/toggle", {}),
        ("DELETE", "/crm/api/v2/colleagues/7", None),
        (
            "PUT",
            "/crm/api/v2/profile",
            {"name": "Новое имя", "phone": "+77771234567", "position": "senior", "bio": "Биография"},
        ),
    ]
    assert "Content-Type" not in server.seen[6].headers
    assert server.seen[5].headers["Content-Type"] == "application/json"
    assert (writeoff.writeoff_quantity, update.change, bulk.updated_count) == (10, 5, 2)
    assert (colleague.id, colleague.is_active, updated.is_active, toggled.is_active) == (
        "7",
        True,
        False,
        True,
    )
    assert deleted.deleted and profile.name == "Новое имя"


async def test_crm_reads(server, crm):
    server.reply(
        "GET",
        "/crm/api/inventory/low-stock",
        {
            "success": True,
            "threshold": 3,
            "count": 1,
            "products": [{"id": "p1", "name": "Тюльпан", "quantity": 2}],
        },
    )
    server.reply(
        "GET",
        "/crm/api/inventory/history",
        {
            "success": True,
            "count": 1,
            "movements": [{"id": 1, "flower_id": "rose-red", "product_name": "Роза", "quantity": -5}],
        },
    )
    server.reply(
        "GET",
        "/crm/api/v2/colleagues",
        {
            "success": True,
            "data": {
                "items": [{"id": "c1", "name": "Алия", "isActive": True}],
                "position_stats": {"florist": 1},
            },
        },
    )
    server.reply(
        "GET",
        "/crm/api/v2/shop-info",
        {
            "success": True,
            "data": {"name": "Цветы.kz", "social_media": {"instagram": "https://instagram.com/cvety.kz"}},
        },
    )
    server.reply("GET", "/crm/api/v2/profile", {"success": True, "data": {"id": 1, "name": "Администратор"}})

    assert [p.quantity for p in (await crm.low_stock(3)).products] == [2]
    assert [m.flower_name for m in await crm.history("rose-red", limit=10)] == ["Роза"]
    colleagues = await crm.list_colleagues(is_active=True, position="florist")
    assert [c.name for c in colleagues.items] == ["Алия"] and colleagues.position_stats == {"florist": 1}
    assert (await crm.get_shop_info()).social.instagram == "https://instagram.com/cvety.kz"
    assert (await crm.get_profile()).name == "Администратор"
    queries = [dict(seen.query) for seen in server.seen]
    assert queries[0] == {"threshold": "3"}
    assert queries[1] == {"flower_id": "rose-red", "limit": "10"}
    assert queries[2] == {"isActive": "true", "position": "florist", "limit": "200", "offset": "0"}


async def test_crm_without_token_sends_no_authorization(server):
    server.reply("GET", "/api/flowers", [])
    async with make_http_client(server.url) as client:
        assert await CrmApi(client).list_flowers() == []
    assert "Authorization" not in server.seen[0].headers


# --- redirects ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_post_redirect_is_resent_as_post_with_the_same_body(server, cvety, status, caplog):
    # The Location echoes the query string, token included, as real servers do.
    server.route(
        "POST", "/api/v2/product/create", redirect(status, f"/api/v2/product/create/?access_token={TOKEN}")
    )
    server.reply("POST", "/api/v2/product/create/", {"success": True, "data": {"id": 1, "title": "Букет"}})

    product = await cvety.create_product("SKU-1", "Букет", 100, 17008)

    first, second = server.seen
    assert (second.method, second.path) == ("POST", "/api/v2/product/create/")
    assert second.body == first.body and second.json["id"] == "SKU-1"
    assert second.headers["Content-Type"] == "application/json"
    assert second.query.getall("access_token") == [TOKEN]
    assert not isinstance(product, dict) and product.id == 1
    assert all(TOKEN not in record.getMessage() for record in caplog.records)


async def test_form_post_redirect_keeps_the_form(server, cvety):
    server.route("POST", "/api/v2/order/change-status", redirect(308, "/api/v2/order/change-status/"))
    server.reply(
        "POST", "/api/v2/order/change-status/", {"status": True, "data": {"id": 1, "newStatus": "AP"}}
    )
    await cvety.change_status(1, "AP", "ok")
    assert server.seen[1].form == {"id": "1", "statusId": "AP", "comment": "ok"}


async def test_endless_redirects_stop(server, cvety, caplog):
    server.route("POST", "/api/v2/product/price", redirect(308, "/api/v2/product/price"))
    with pytest.raises(ApiUnavailable) as caught:
        await cvety.update_product_price(1, 100)
    assert len(server.seen) == 4  # the request and three hops
    assert_secret_free(caught.value, caplog)


async def test_redirect_to_another_host_is_not_followed(server, cvety, caplog):
    server.route("GET", "/api/v2/shop/list", redirect(302, "http://elsewhere.invalid/api/v2/shop/list"))
    with pytest.raises(ApiUnavailable) as caught:
        await cvety.list_shops()
    assert len(server.seen) == 1
    assert_secret_free(caught.value, caplog)


# --- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_on_a_read_is_unavailable(server, cvety, caplog, status):
    server.reply("GET", "/api/v2/orders", {"error": "boom"}, status=status)
    with pytest.raises(ApiUnavailable) as caught:
        await cvety.list_orders()
    assert type(caught.value) is ApiUnavailable
    assert caught.value.backend == "cvety" and caught.value.endpoint == "GET /orders"
    assert [r.levelno for r in caplog.records if r.name == "services.api"][-1] == logging.WARNING
    assert_secret_free(caught.value, caplog)


async def test_503_on_a_write_is_unavailable_but_504_is_unknown(server, cvety, caplog):
    server.route("POST", "/api/v2/order/change-status", text_reply("<h1>busy</h1>", status=503))
    with pytest.raises(ApiUnavailable) as unavailable:
        await cvety.change_status(1, "AP")
    server.route("POST", "/api/v2/order/change-status", text_reply("<h1>gateway</h1>", status=504))
    with pytest.raises(ApiUnknownOutcome) as unknown:
        await cvety.change_status(1, "AP")
    assert_secret_free(unavailable.value, caplog)
    assert_secret_free(unknown.value, caplog)


async def test_404_is_not_found(server, cvety, caplog):
    server.reply(
        "GET",
        "/api/v2/orders/detail",
        {"success": False, "error": {"code": "not_found", "message": "Заказ не найден"}},
        status=404,
    )
    with pytest.raises(ApiNotFound) as caught:
        await cvety.get_order(1)
    assert caught.value.server_message == "Заказ не найден" and caught.value.status_code == 404
    assert_secret_free(caught.value, caplog)


async def test_405_is_not_supported(server, cvety, caplog):
    server.route("POST", "/api/v2/product/update-status", text_reply("Method Not Allowed", status=405))
    with pytest.raises(ApiNotSupported) as caught:
        await cvety.update_product_status(1, False)
    assert caught.value.endpoint == "POST /product/update-status"
    assert_secret_free(caught.value, caplog)


@pytest.mark.parametrize(
    ("detail", "kind", "message"),
    [
        ("404: Product not found", ApiNotFound, "Product not found"),
        ("400: Not enough stock", ApiRejected, "Not enough stock"),
    ],
)
async def test_crm_500_with_a_4xx_detail_is_a_refusal(server, crm, caplog, detail, kind, message):
    server.reply("POST", "/crm/api/inventory/update", {"detail": detail}, status=500)
    with pytest.raises(kind) as caught:
        await crm.inventory_update("nope", 3)
    assert type(caught.value) is kind
    assert caught.value.server_message == message
    assert_secret_free(caught.value, caplog)


async def test_status_false_with_http_200_is_rejected_with_the_server_message(server, cvety, caplog):
    server.reply(
        "GET", "/api/v2/orders", {"status": False, "error": "token_error", "message": "Bad Token!!!"}
    )
    with pytest.raises(ApiRejected) as caught:
        await cvety.list_orders()
    assert type(caught.value) is ApiRejected
    assert str(caught.value) == "Bad Token!!!" and caught.value.server_message == "Bad Token!!!"
    assert caught.value.status_code == 200
    assert_secret_free(caught.value, caplog)


async def test_success_false_with_error_object_is_rejected(server, crm, caplog):
    server.reply(
        "POST",
        "/crm/api/flowers/writeoff",
        {"success": False, "error": {"code": "insufficient", "message": "Недостаточно на складе"}},
    )
    with pytest.raises(ApiRejected) as caught:
        await crm.flower_writeoff("rose-red", 500, "Увядшие")
    assert caught.value.server_message == "Недостаточно на складе"
    assert_secret_free(caught.value, caplog)


async def test_a_server_echoing_the_token_is_redacted(server, cvety, caplog):
    server.reply(
        "GET",
        "/api/v2/shop/list",
        {"status": False, "message": f"Bad token {TOKEN} for access_token={TOKEN}"},
        status=401,
    )
    with pytest.raises(ApiRejected) as caught:
        await cvety.list_shops()
    assert caught.value.status_code == 401
    assert "Bad token ***" in str(caught.value)
    assert_secret_free(caught.value, caplog)


async def test_fastapi_validation_errors_are_rejected_with_their_messages(server, crm, caplog):
    server.reply(
        "POST",
        "/crm/api/flowers/delivery",
        {
            "detail": [
                {"loc": ["body", "quantity"], "msg": "Input should be greater than 0", "type": "greater_than"}
            ]
        },
        status=422,
    )
    with pytest.raises(ApiRejected) as caught:
        await crm.flower_delivery("rose-red", 0)
    assert caught.value.server_message == "Input should be greater than 0"
    assert_secret_free(caught.value, caplog)


async def test_429_is_unavailable_not_rejected(server, cvety, caplog):
    server.reply("GET", "/api/v2/orders", {"message": "slow down"}, status=429)
    with pytest.raises(ApiUnavailable) as caught:
        await cvety.list_orders()
    assert_secret_free(caught.value, caplog)


@pytest.mark.parametrize("body", ['{"success": true, "data": [', "<html><body>Fatal error</body></html>"])
async def test_2xx_that_is_not_json_is_a_bad_response(server, cvety, caplog, body):
    server.route("GET", "/api/v2/orders", text_reply(body, content_type="text/html"))
    with pytest.raises(ApiBadResponse) as caught:
        await cvety.list_orders()
    assert_secret_free(caught.value, caplog)


async def test_2xx_that_is_not_json_after_a_write_is_an_unknown_outcome(server, cvety, caplog):
    server.route("POST", "/api/v2/order/change-status", text_reply("<b>Warning</b>: headers already sent"))
    with pytest.raises(ApiUnknownOutcome) as caught:
        await cvety.change_status(1, "AP")
    assert_secret_free(caught.value, caplog)


async def test_2xx_of_the_wrong_shape(server, cvety, caplog):
    server.reply("GET", "/api/v2/orders/detail", {"success": True, "data": "nothing here"})
    server.reply("POST", "/api/v2/uploads/images", {"success": True, "data": {"saved": 1}})
    with pytest.raises(ApiBadResponse) as bad:
        await cvety.get_order(1)
    with pytest.raises(ApiUnknownOutcome) as unknown:
        await cvety.upload_images([("a.jpg", b"x", "image/jpeg")])
    assert_secret_free(bad.value, caplog)
    assert_secret_free(unknown.value, caplog)


async def test_one_bad_item_does_not_lose_the_list(server, cvety, caplog):
    server.reply("GET", "/api/v2/orders", {"success": True, "data": [ORDER, {"id": "not-a-number"}, "junk"]})
    page = await cvety.list_orders()
    assert [order.id for order in page.items] == [122578]
    warnings = [r for r in caplog.records if r.name == "services.api" and r.levelno == logging.WARNING]
    assert len(warnings) == 2


async def test_cut_off_body_on_a_read_is_unavailable(server, cvety, caplog):
    server.route("GET", "/api/v2/orders", cut_off(b'{"success": true, "da'))
    with pytest.raises(ApiUnavailable) as caught:
        await cvety.list_orders()
    assert_secret_free(caught.value, caplog)


async def test_cut_off_body_on_a_write_is_an_unknown_outcome(server, crm, caplog):
    server.route("POST", "/crm/api/flowers/delivery", cut_off(b'{"success": true, "new_q'))
    with pytest.raises(ApiUnknownOutcome) as caught:
        await crm.flower_delivery("rose-red", 10)
    assert_secret_free(caught.value, caplog)


async def test_slow_read_is_unavailable(server, cvety, caplog):
    server.route("GET", "/api/v2/orders", stall(server))
    with pytest.raises(ApiUnavailable) as caught:
        await cvety.list_orders()
    assert "ReadTimeout" in str(caught.value)
    assert_secret_free(caught.value, caplog)


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/api/v2/order/change-status"), ("DELETE", "/api/v2/products/delete")]
)
async def test_slow_write_is_an_unknown_outcome(server, cvety, caplog, method, path):
    server.route(method, path, stall(server))
    with pytest.raises(ApiUnknownOutcome) as caught:
        if method == "POST":
            await cvety.change_status(1, "AP")
        else:
            await cvety.delete_product(1)
    assert len(server.seen) == 1  # sent once, never retried behind the caller's back
    assert_secret_free(caught.value, caplog)


async def test_connection_dropped_without_answer(server, cvety, caplog):
    server.route("GET", "/api/v2/shop/list", hang_up(server))
    server.route("POST", "/api/v2/order/change-status", hang_up(server))
    with pytest.raises(ApiUnavailable) as read:
        await cvety.list_shops()
    with pytest.raises(ApiUnknownOutcome) as write:
        await cvety.change_status(1, "AP")
    assert_secret_free(read.value, caplog)
    assert_secret_free(write.value, caplog)


async def test_connection_refused_is_unavailable_even_for_a_write(caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with make_http_client(f"http://127.0.0.1:{port}/api/v2", connect_timeout=1.0) as client:
        api = CvetyApi(client, TOKEN)
        with pytest.raises(ApiUnavailable) as read:
            await api.list_orders()
        with pytest.raises(ApiUnavailable) as write:
            await api.change_status(1, "AP")
    assert type(read.value) is ApiUnavailable and type(write.value) is ApiUnavailable
    assert "ConnectError" in str(write.value)
    assert_secret_free(read.value, caplog)
    assert_secret_free(write.value, caplog)


# --- the bytes on the wire (services/aiohttp_transport.py) -------------------------------------


async def test_a_gzipped_answer_is_read(server, cvety):
    body = json.dumps({"success": True, "data": [ORDER], "pagination": {"total": 1}}).encode()

    async def gzipped(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=gzip.compress(body), headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
        )

    server.route("GET", "/api/v2/orders", gzipped)
    page = await cvety.list_orders()
    assert [order.id for order in page.items] == [122578]
    [seen] = server.seen
    assert "gzip" in seen.headers["Accept-Encoding"]
    assert seen.headers["User-Agent"].startswith("cvety-bot/")
    assert len(seen.headers.getall("User-Agent")) == 1


@asynccontextmanager
async def raw_server(answer: bytes) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A TCP server that reads one request and writes `answer`, whatever it is, then hangs up."""
    received: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(answer)
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield f"http://127.0.0.1:{port}/api/v2", received


@pytest.mark.parametrize("answer", [b"HTTP/1.1 ok fine\r\n\r\n", b"\x16\x03\x01 not http at all\r\n\r\n"])
async def test_an_answer_that_is_not_http(answer, caplog):
    async with raw_server(answer) as (url, received):
        async with make_http_client(url, read_timeout=READ_TIMEOUT) as client:
            api = CvetyApi(client, TOKEN)
            with pytest.raises(ApiUnavailable) as read:
                await api.list_shops()
            with pytest.raises(ApiUnknownOutcome) as write:  # it arrived: the server may have acted
                await api.change_status(1, "AP")
    assert len(received) == 2
    assert_secret_free(read.value, caplog)
    assert_secret_free(write.value, caplog)


async def test_a_connect_timeout_on_a_write_is_unavailable_not_unknown(caplog):
    # A listener that accepts nothing: once its queue is full, the next handshake gets no answer.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                fillers.append(filler)
            async with make_http_client(f"http://127.0.0.1:{port}/api/v2", connect_timeout=0.2) as client:
                with pytest.raises(ApiUnavailable) as write:
                    await CvetyApi(client, TOKEN).change_status(1, "AP")
        finally:
            for filler in fillers:
                filler.close()
    assert type(write.value) is ApiUnavailable  # nothing was sent: safe to send again
    assert "ConnectTimeout" in str(write.value)
    assert_secret_free(write.value, caplog)
