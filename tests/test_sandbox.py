"""The sandbox serves both backends as the contract describes them, and injects faults.

Plain aiohttp client on purpose: these tests pin the server's answers, not the bot's clients.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest

from sandbox import Sandbox, SandboxState, start_sandbox
from sandbox.data import (
    COLLEAGUE_INACTIVE,
    FLOWER_INACTIVE,
    FLOWER_ROSE_RED,
    FLOWER_WHITE_LISIANTHUS,
    FLOWER_ZERO,
    MATERIAL_BOX_BIG,
    MATERIAL_RIBBON,
    ORDER_AP,
    ORDER_AP_KEYS,
    ORDER_DE,
    ORDER_MISSING,
    ORDER_N,
    ORDER_N_SPARSE,
    ORDER_PD_USD,
    PRODUCT_ROSES,
)
from sandbox.state import ALMATY

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    sb = await start_sandbox()
    yield sb
    await sb.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


async def cvety_get(http: aiohttp.ClientSession, sb: Sandbox, path: str, **query: str) -> tuple[int, Any]:
    async with http.get(sb.cvety_url + path, params={"access_token": sb.token, **query}) as response:
        return response.status, await response.json()


async def cvety_post(http: aiohttp.ClientSession, sb: Sandbox, path: str, **form: str) -> tuple[int, Any]:
    async with http.post(sb.cvety_url + path, params={"access_token": sb.token}, data=form) as response:
        return response.status, await response.json()


async def crm(http: aiohttp.ClientSession, sb: Sandbox, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    async with http.request(method, sb.crm_url + path, **kw) as response:
        return response.status, await response.json()


# ---- cvety.kz: orders ---------------------------------------------------------------------------


async def test_seeded_orders_cover_every_status_newest_first(sandbox, http):
    status, body = await cvety_get(http, sandbox, "/orders", limit="100")

    assert status == 200 and body["success"] is True
    orders = body["data"]
    assert {"N", "PD", "AP", "CO", "DE", "F", "UN", "TR"} <= {o["status_id"] for o in orders}
    ids = [o["id"] for o in orders]
    assert ids == sorted(ids, reverse=True) and 20 <= len(ids) <= 30
    assert body["pagination"] == {"total": len(ids), "limit": 100, "offset": 0, "hasMore": False}
    amounts = [o["paymentAmount"] for o in orders]
    assert "65 USD" in amounts
    assert any("\u00a0" in a for a in amounts) and any("\u202f" in a for a in amounts)
    assert all(o["createdAt"].endswith("+05:00") for o in orders)
    sparse = next(o for o in orders if o["id"] == ORDER_N_SPARSE)
    assert "mainImage" not in sparse and sparse["sender"] is None and sparse["deliveryDate"] is None


async def test_orders_are_for_today_and_tomorrow_relative_to_seeding():
    now = datetime(2025, 10, 24, 11, 30, tzinfo=ALMATY)
    state = SandboxState.seeded(now)

    dates = [o.delivery_date for o in state.orders.values() if o.delivery_date]
    assert dates.count(now.date()) >= 10
    assert dates.count(now.date() + timedelta(days=1)) >= 3
    assert all(o.created_at <= now for o in state.orders.values())


async def test_status_filter_and_paging(sandbox, http):
    _, new = await cvety_get(http, sandbox, "/orders", status="new", limit="100")
    _, by_code = await cvety_get(http, sandbox, "/orders", status="AP", limit="100")
    _, page = await cvety_get(http, sandbox, "/orders", limit="5", offset="5")

    assert {o["status_id"] for o in new["data"]} == {"N", "PD"}  # imperfect, like the real one
    assert {o["status_id"] for o in by_code["data"]} == {"AP"}
    assert len(page["data"]) == 5 and page["pagination"]["hasMore"] is True


async def test_order_detail_has_raw_and_unknown_id_is_404(sandbox, http):
    status, body = await cvety_get(http, sandbox, "/orders/detail", id=str(ORDER_PD_USD))
    missing_status, missing = await cvety_get(http, sandbox, "/orders/detail", id=str(ORDER_MISSING))

    raw = body["data"]["raw"]
    assert status == 200 and raw["price"] == "65" and raw["currency"] == "USD"
    assert raw["isPayed"] == "Y" and len(raw["deliveryDate"]) == 10 and raw["history"]
    assert raw["urls"]["status"].startswith(sandbox.origin)
    assert missing_status == 404
    assert missing == {"success": False, "error": {"code": "not_found", "message": "Order not found"}}


async def test_status_change_round_trip_and_refusal(sandbox, http):
    _, allowed = await cvety_get(http, sandbox, "/order/allowed-statuses", id=str(ORDER_AP))
    status, changed = await cvety_post(
        http, sandbox, "/order/change-status", id=str(ORDER_AP), statusId="CO", comment="Собрала, фото в чате"
    )
    _, detail = await cvety_get(http, sandbox, "/orders/detail", id=str(ORDER_AP))
    refused_status, refused = await cvety_post(
        http, sandbox, "/order/change-status", id=str(ORDER_AP), statusId="F"
    )

    assert allowed == {"status": True, "data": {"id": ORDER_AP, "current": "AP", "allowed": ["CO", "UN"]}}
    assert status == 200 and changed["status"] is True
    assert changed["data"]["oldStatus"] == "AP" and changed["data"]["newStatus"] == "CO"
    assert changed["data"]["changed"] is True and changed["data"]["changedAt"].endswith("+05:00")
    assert detail["data"]["status_id"] == "CO"
    assert detail["data"]["raw"]["history"][-1]["comment"] == "Собрала, фото в чате"
    assert refused_status == 200 and refused == {"status": False, "error": "Status transition not allowed"}


async def test_some_orders_answer_allowed_statuses_as_lowercase_keys(sandbox, http):
    _, body = await cvety_get(http, sandbox, "/order/allowed-statuses", id=str(ORDER_AP_KEYS))
    _, changed = await cvety_post(
        http, sandbox, "/order/change-status", id=str(ORDER_AP_KEYS), statusId="assembled"
    )

    assert body["data"]["current"] == "accepted" and body["data"]["allowed"] == ["assembled", "cancelled"]
    assert changed["data"]["newStatus"] == "CO"


async def test_cancelling_an_order_gives_its_flowers_back(sandbox, http):
    order = sandbox.state.orders[ORDER_N]
    before = {fid: sandbox.state.flowers[fid].quantity for fid in order.reserved}

    await cvety_post(
        http, sandbox, "/order/change-status", id=str(ORDER_N), statusId="UN", comment="Клиент отказался"
    )

    assert before and all(sandbox.state.flowers[fid].quantity > qty for fid, qty in before.items())
    some_flower = next(iter(before))
    _, history = await crm(http, sandbox, "GET", "/api/inventory/history", params={"flower_id": some_flower})
    assert history["movements"][0]["movement_type"] == "order_return"


async def test_new_order_arrives_with_next_id(sandbox, http):
    newest = max(sandbox.state.orders)
    async with http.post(sandbox.origin + "/_sandbox/new-order") as response:
        created = await response.json()

    _, body = await cvety_get(http, sandbox, "/orders", limit="1")
    assert created["data"]["id"] == body["data"][0]["id"] > newest
    assert body["data"][0]["status_id"] == "N"


# ---- cvety.kz: transport rules ------------------------------------------------------------------


async def test_content_type_on_get_is_refused(sandbox, http):
    async with http.get(
        sandbox.cvety_url + "/shop/list",
        params={"access_token": sandbox.token},
        headers={"Content-Type": "application/json"},
    ) as response:
        body = await response.json()

    assert response.status == 400
    assert body == {"success": False, "error": {"code": "bad_request", "message": "Content-Type not allowed"}}


async def test_missing_token_is_401_and_wrong_token_is_200_with_status_false(sandbox, http):
    async with http.get(sandbox.cvety_url + "/shop/list") as missing:
        assert missing.status == 401
    async with http.get(sandbox.cvety_url + "/shop/list", params={"access_token": "nope"}) as wrong:
        assert wrong.status == 200
        assert await wrong.json() == {"status": False, "error": "token_error", "message": "Bad Token!!!"}
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    async with http.get(sandbox.cvety_url + "/shop/list", headers=headers) as bearer:
        shops = (await bearer.json())["data"]
    assert shops[0] == {"id": 17008, "xml_id": "cvetykz", "name": "Cvety.kz", "city": "2"}
    assert any(shop["name"].startswith("+7") for shop in shops)


async def test_upload_answers_308_then_stores_and_serves_images(sandbox, http):
    form = aiohttp.FormData()
    form.add_field("file", PNG, filename="bouquet.png", content_type="image/png")
    async with http.post(
        sandbox.cvety_url + "/uploads/images",
        params={"access_token": sandbox.token},
        data=form,
        allow_redirects=False,
    ) as redirect:
        location = redirect.headers["Location"]
    assert redirect.status == 308
    assert location == f"/cvety/api/v2/uploads/images/?access_token={sandbox.token}"

    form = aiohttp.FormData()
    form.add_field("images[]", PNG, filename="a.png", content_type="image/png")
    form.add_field(
        "images[]", b"\xff\xd8\xff\xe0" + b"\x00" * 32, filename="b.jpg", content_type="image/jpeg"
    )
    async with http.post(sandbox.origin + location, data=form) as uploaded:
        urls = (await uploaded.json())["data"]["urls"]
    assert len(urls) == 2 and all(url.startswith(sandbox.origin + "/upload/bot/") for url in urls)
    async with http.get(urls[0]) as image:
        assert image.status == 200 and await image.read() == PNG

    form = aiohttp.FormData()
    form.add_field("file", b"%PDF-1.4", filename="invoice.pdf", content_type="application/pdf")
    async with http.post(sandbox.origin + location, data=form) as refused:
        assert refused.status == 400 and (await refused.json())["error"]["code"] == "invalid_file"


async def test_seeded_relative_images_are_served(sandbox, http):
    _, body = await cvety_get(http, sandbox, "/products/detail", id=str(PRODUCT_ROSES))
    async with http.get(sandbox.origin + body["data"]["image"]) as image:
        assert image.status == 200 and (await image.read()).startswith(b"\x89PNG")
    assert body["data"]["composition"][0]["id"] == FLOWER_ROSE_RED


# ---- cvety.kz: products, customers --------------------------------------------------------------


async def test_products_list_create_price_and_soft_delete(sandbox, http):
    _, vitrina = await cvety_get(http, sandbox, "/products", type="vitrina")
    assert vitrina["data"] and {p["type"] for p in vitrina["data"]} == {"vitrina"}
    _, everything = await cvety_get(http, sandbox, "/products", limit="100")
    assert "-0001-11-30T00:00:00+0000" in {p["createdAt"] for p in everything["data"]}

    params = {"access_token": sandbox.token}
    payload = {
        "id": "SKU-1",
        "title": "Букет «Тест»",
        "price": 25000,
        "ownerId": 17008,
        "images": ["/upload/x.png"],
    }
    async with http.post(sandbox.cvety_url + "/product/create", params=params, json=payload) as created:
        product = (await created.json())["data"]
    assert product["type"] == "vitrina" and product["price"] == "25 000 ₸"
    async with http.post(
        sandbox.cvety_url + "/product/price", params=params, json={"id": product["id"], "price": 27000}
    ):
        pass
    async with http.post(
        sandbox.cvety_url + "/product/update-status", params=params, json={"id": 1}
    ) as blocked:
        assert blocked.status == 405
    async with http.delete(
        sandbox.cvety_url + "/products/delete", params={**params, "id": str(product["id"])}
    ) as gone:
        assert await gone.json() == {"success": True, "data": {"id": product["id"], "deleted": True}}
    assert sandbox.state.products[product["id"]].price == 27000
    _, search = await cvety_get(http, sandbox, "/products", search="тест")
    assert search["data"] == []


async def test_customers_and_their_orders(sandbox, http):
    _, customers = await cvety_get(http, sandbox, "/customers/")
    first = customers["data"][0]
    _, orders = await cvety_get(http, sandbox, "/customers/orders.php", CUSTOMER_ID=str(first["id"]))
    async with http.get(
        sandbox.cvety_url + "/customers/with-stats/", params={"access_token": sandbox.token}
    ) as broken:
        assert broken.status == 500

    assert customers["status"] is True and customers["success"] is True
    assert first["ordersCount"] == len(orders["data"]) > 0
    assert {o["sender"]["name"] for o in orders["data"]} == {first["name"]}


# ---- faults -------------------------------------------------------------------------------------


async def test_fault_status_with_raw_body_and_times_expiry(sandbox, http):
    sandbox.faults.add("GET", "/cvety/api/v2/orders", status=502, body="<html>Bad Gateway</html>", times=1)

    async with http.get(sandbox.cvety_url + "/orders", params={"access_token": sandbox.token}) as first:
        assert first.status == 502 and await first.text() == "<html>Bad Gateway</html>"
    async with http.get(sandbox.cvety_url + "/orders", params={"access_token": sandbox.token}) as second:
        assert second.status == 200
    assert sandbox.faults.calls("GET", "/cvety/api/v2/orders") == 2


async def test_fault_malformed_body_and_default_error_bodies(sandbox, http):
    sandbox.faults.add("*", "/crm/api/flowers/search", body="[{not json")
    sandbox.faults.add("GET", "/crm/api/flowers", status=503)

    async with http.get(sandbox.crm_url + "/api/flowers/search") as broken:
        assert broken.status == 200 and await broken.text() == "[{not json"
    async with http.get(sandbox.crm_url + "/api/flowers") as unavailable:
        assert unavailable.status == 503 and "detail" in await unavailable.json()


async def test_fault_delay_then_normal_answer(sandbox, http):
    sandbox.faults.add("GET", "/crm/api/v2/profile", delay=0.02)
    started = time.perf_counter()

    status, body = await crm(http, sandbox, "GET", "/api/v2/profile")

    assert status == 200 and body["data"]["can_edit"] is True
    assert time.perf_counter() - started >= 0.02


async def test_fault_hang_until_released(sandbox, http):
    sandbox.faults.add("GET", "/cvety/api/v2/shop/list", hang=True)

    request = asyncio.create_task(cvety_get(http, sandbox, "/shop/list"))
    await sandbox.faults.wait_hanging()
    assert not request.done()
    sandbox.faults.release()

    status, body = await request
    assert status == 200 and body["success"] is True


async def test_fault_hang_times_the_client_out_and_close_is_still_fast(sandbox):
    sandbox.faults.add("*", "/crm/*", hang=True)
    timeout = aiohttp.ClientTimeout(total=0.1)
    async with aiohttp.ClientSession(timeout=timeout) as impatient:
        with pytest.raises(asyncio.TimeoutError):
            async with impatient.get(sandbox.crm_url + "/api/flowers"):
                pass

    async with aiohttp.ClientSession() as session:
        request = asyncio.create_task(session.get(sandbox.crm_url + "/api/v2/profile"))
        await sandbox.faults.wait_hanging()
        started = time.perf_counter()
        await sandbox.close()
        assert time.perf_counter() - started < 1
        with pytest.raises(aiohttp.ClientError):
            await request


async def test_fault_truncate_cuts_the_body(sandbox, http):
    sandbox.faults.add("GET", "/cvety/api/v2/orders", truncate=True)

    with pytest.raises(aiohttp.ClientPayloadError):
        await cvety_get(http, sandbox, "/orders")


async def test_fault_redirect_keeps_the_query(sandbox, http):
    sandbox.faults.add("GET", "/cvety/api/v2/shop/list", redirect_to="/cvety/api/v2/products")

    async with http.get(
        sandbox.cvety_url + "/shop/list", params={"access_token": sandbox.token}, allow_redirects=False
    ) as redirect:
        assert redirect.status == 308
        assert redirect.headers["Location"] == f"/cvety/api/v2/products?access_token={sandbox.token}"
    status, body = await cvety_get(http, sandbox, "/shop/list")
    assert status == 200 and body["data"][0]["title"]  # followed to the products


async def test_fault_apply_then_hang_applies_the_write(sandbox, http):
    sandbox.faults.add("POST", "/cvety/api/v2/order/change-status", apply_then_hang=True, times=1)

    request = asyncio.create_task(
        cvety_post(http, sandbox, "/order/change-status", id=str(ORDER_DE), statusId="F")
    )
    await sandbox.faults.wait_hanging()
    _, detail = await cvety_get(http, sandbox, "/orders/detail", id=str(ORDER_DE))
    assert detail["data"]["status_id"] == "F" and not request.done()
    sandbox.faults.release()

    status, body = await request
    assert status == 200 and body["data"]["newStatus"] == "F"
    assert sandbox.requests[-2].body == f"id={ORDER_DE}&statusId=F".encode()


# ---- CRM: stock ---------------------------------------------------------------------------------


async def test_flower_search_is_a_bare_array(sandbox, http):
    status, found = await crm(
        http, sandbox, "GET", "/api/flowers/search", params={"q": "ТЮЛЬПАН", "limit": "10"}
    )
    _, active = await crm(http, sandbox, "GET", "/api/flowers")

    assert status == 200 and {f["name"] for f in found} == {"Тюльпан жёлтый", "Тюльпан красный"}
    assert set(found[0]) == {"id", "name", "name_en", "quantity"}
    assert FLOWER_INACTIVE not in {f["id"] for f in active}
    assert {f["quantity"] for f in active if f["id"] == FLOWER_ZERO} == {0}


async def test_flower_delivery_and_writeoff_with_history(sandbox, http):
    path = "/api/flowers"
    status, delivered = await crm(
        http,
        sandbox,
        "POST",
        path + "/delivery",
        json={"flower_id": FLOWER_ROSE_RED, "quantity": 50, "supplier": "Rosaprima", "price": 300},
    )
    _, written_off = await crm(
        http,
        sandbox,
        "POST",
        path + "/writeoff",
        json={"flower_id": FLOWER_ROSE_RED, "quantity": 5, "reason": "Увядание", "note": "[op:ab12] сломаны"},
    )
    _, history = await crm(
        http, sandbox, "GET", "/api/inventory/history", params={"flower_id": FLOWER_ROSE_RED}
    )

    assert status == 200 and delivered["previous_quantity"] + 50 == delivered["new_quantity"]
    assert (
        written_off["new_quantity"] == delivered["new_quantity"] - 5 and written_off["reason"] == "Увядание"
    )
    newest = history["movements"][0]
    assert (
        newest["quantity"] == -5
        and newest["movement_type"] == "writeoff"
        and newest["note"] == "[op:ab12] сломаны"
    )
    assert history["movements"][1]["quantity"] == 50 and history["count"] == len(history["movements"])


async def test_writeoff_over_stock_is_a_500_with_detail(sandbox, http):
    status, body = await crm(
        http,
        sandbox,
        "POST",
        "/api/flowers/writeoff",
        json={"flower_id": FLOWER_WHITE_LISIANTHUS, "quantity": 10, "reason": "Увядание"},
    )
    missing_status, missing = await crm(
        http,
        sandbox,
        "POST",
        "/api/flowers/writeoff",
        json={"flower_id": "no-such", "quantity": 1, "reason": "x"},
    )
    invalid_status, invalid = await crm(
        http, sandbox, "POST", "/api/flowers/delivery", json={"flower_id": FLOWER_ROSE_RED, "quantity": 0}
    )

    assert (status, body) == (500, {"detail": "400: Insufficient stock: 3 available"})
    assert (missing_status, missing) == (500, {"detail": "404: Flower not found"})
    assert invalid_status == 422 and invalid["detail"][0]["loc"] == ["body", "quantity"]
    assert sandbox.state.flowers[FLOWER_WHITE_LISIANTHUS].quantity == 3


async def test_low_stock_threshold(sandbox, http):
    _, default = await crm(http, sandbox, "GET", "/api/inventory/low-stock")
    _, strict = await crm(http, sandbox, "GET", "/api/inventory/low-stock", params={"threshold": "2"})

    assert default["threshold"] == 5 and default["count"] == len(default["products"]) == 3
    assert MATERIAL_RIBBON in {p["id"] for p in default["products"]}
    assert MATERIAL_BOX_BIG not in {p["id"] for p in default["products"]}  # 0 is "out", not "low"
    assert [p["quantity"] for p in strict["products"]] == [2]


async def test_inventory_update_bulk_and_unknown_product(sandbox, http):
    _, updated = await crm(
        http, sandbox, "POST", "/api/inventory/update", json={"product_id": "102", "quantity": 90}
    )
    _, bulk = await crm(
        http,
        sandbox,
        "POST",
        "/api/inventory/bulk-update",
        json={"updates": [{"product_id": 101, "quantity": 10}, {"product_id": "999", "quantity": 1}]},
    )
    status, missing = await crm(
        http, sandbox, "POST", "/api/inventory/writeoff", json={"product_id": 999, "quantity": 1}
    )

    assert updated == {
        "success": True,
        "product_id": 102,
        "old_quantity": 120,
        "new_quantity": 90,
        "change": -30,
    }
    assert bulk["updated_count"] == 1 and len(bulk["errors"]) == 1
    assert (status, missing) == (500, {"detail": "404: Product not found"})


# ---- CRM: people --------------------------------------------------------------------------------


async def test_colleagues_come_in_both_shapes(sandbox, http):
    _, everyone = await crm(http, sandbox, "GET", "/api/v2/colleagues")
    _, inactive = await crm(http, sandbox, "GET", "/api/v2/colleagues", params={"isActive": "false"})
    _, florists = await crm(http, sandbox, "GET", "/api/v2/colleagues", params={"position": "florist"})

    assert len(everyone["data"]["items"]) == sum(everyone["data"]["position_stats"].values()) >= 8
    assert COLLEAGUE_INACTIVE in {c["id"] for c in inactive["data"]}
    assert all(c["isActive"] is False for c in inactive["data"])
    assert {c["position"] for c in florists["data"]} == {"florist"}


async def test_colleague_create_edit_toggle_delete(sandbox, http):
    new = {"name": "Жансая Омарова", "phone": "8 777 123 45 67", "position": "florist", "isActive": True}
    status, created = await crm(http, sandbox, "POST", "/api/v2/colleagues", json=new)
    colleague_id = created["data"]["id"]
    _, edited = await crm(
        http, sandbox, "PUT", f"/api/v2/colleagues/{colleague_id}", json={"position": "senior"}
    )
    _, toggled = await crm(http, sandbox, "PATCH", f"/api/v2/colleagues/{colleague_id}/toggle")
    _, deleted = await crm(http, sandbox, "DELETE", f"/api/v2/colleagues/{colleague_id}")
    missing_status, missing = await crm(http, sandbox, "DELETE", f"/api/v2/colleagues/{colleague_id}")
    invalid_status, _ = await crm(http, sandbox, "POST", "/api/v2/colleagues", json={**new, "phone": "12345"})

    assert status == 201 and created["data"]["phone"] == "+77771234567"
    assert edited["data"]["position"] == "senior" and toggled["data"]["isActive"] is False
    assert deleted == {"success": True, "data": {"id": colleague_id, "deleted": True}}
    assert (missing_status, missing) == (500, {"detail": "404: Colleague not found"})
    assert invalid_status == 422


async def test_profile_and_shop_info(sandbox, http):
    status, bad = await crm(http, sandbox, "PUT", "/api/v2/profile", json={"name": "А", "bio": "x" * 1001})
    _, good = await crm(
        http, sandbox, "PUT", "/api/v2/profile", json={"name": "Асель Т.", "position": "senior"}
    )
    _, shop = await crm(
        http, sandbox, "PUT", "/api/v2/shop-info", json={"social_media": {"telegram": "@cvety_kz"}}
    )

    assert status == 422 and {tuple(e["loc"]) for e in bad["detail"]} == {("body", "name"), ("body", "bio")}
    assert good["data"]["name"] == "Асель Т." and good["data"]["positions"] == [
        "owner",
        "senior",
        "florist",
        "assistant",
    ]
    assert shop["data"]["social_media"] == {
        "instagram": "https://instagram.com/cvety.kz",
        "whatsapp": "+77273788888",
        "telegram": "@cvety_kz",
    }


async def test_unknown_routes_answer_in_each_backends_style(sandbox, http):
    status, crm_body = await crm(http, sandbox, "GET", "/api/nothing")
    cvety_status, cvety_body = await cvety_get(http, sandbox, "/nothing")

    assert (status, crm_body) == (404, {"detail": "Not Found"})
    assert cvety_status == 404 and cvety_body["error"]["code"] == "not_found"


async def test_json_is_utf8_without_escapes(sandbox, http):
    async with http.get(sandbox.crm_url + "/api/v2/shop-info") as response:
        raw = await response.read()
    assert "Алматы".encode() in raw and json.loads(raw)["data"]["city"] == "Алматы"
