"""Contract test: the real API clients (`services.cvety_api.CvetyApi`, `services.crm_api.CrmApi`)
against the sandbox (`sandbox/`), over real HTTP on 127.0.0.1.

Every end-to-end bot test runs the bot on these clients against the sandbox, so here every public
client method is called at least once and its *normalised* result is checked against the
sandbox's own state (`sandbox.state`), plus the failure kinds the bot relies on, produced by the
sandbox's fault injector.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from sandbox import RecordedRequest, Sandbox
from sandbox.app import placeholder_png
from sandbox.data import (
    COLLEAGUE_INACTIVE,
    COLLEAGUE_OWNER,
    CUSTOMER_REGULAR,
    FLOWER_INACTIVE,
    FLOWER_ROSE_RED,
    FLOWER_WHITE_LISIANTHUS,
    FLOWER_ZERO,
    MATERIAL_BOX_BIG,
    MATERIAL_RIBBON,
    ORDER_AP,
    ORDER_AP_KEYS,
    ORDER_DE,
    ORDER_F,
    ORDER_MISSING,
    ORDER_N,
    ORDER_N_HTML,
    ORDER_N_SPARSE,
    ORDER_PD_USD,
    PRODUCT_BROKEN_DATE,
    PRODUCT_ROSES,
    SHOP_ID,
)
from sandbox.state import STATUSES, status_code
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
from services.models import DeleteResult, Product

SLOW_READ = 0.3  # read timeout of the clients used in the fault cases (seconds)
CVETY = "/cvety/api/v2"
CRM = "/crm"


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
async def cvety(sandbox: Sandbox) -> AsyncIterator[CvetyApi]:
    async with make_http_client(sandbox.cvety_url) as client:
        yield CvetyApi(client, sandbox.token)


@pytest.fixture
async def crm(sandbox: Sandbox) -> AsyncIterator[CrmApi]:
    async with make_http_client(sandbox.crm_url) as client:
        yield CrmApi(client)


@pytest.fixture
async def slow_cvety(sandbox: Sandbox) -> AsyncIterator[CvetyApi]:
    async with make_http_client(sandbox.cvety_url, read_timeout=SLOW_READ) as client:
        yield CvetyApi(client, sandbox.token)


@pytest.fixture
async def slow_crm(sandbox: Sandbox) -> AsyncIterator[CrmApi]:
    async with make_http_client(sandbox.crm_url, read_timeout=SLOW_READ) as client:
        yield CrmApi(client)


@pytest.fixture
async def web() -> AsyncIterator[httpx.AsyncClient]:
    """A plain client, for what a person's phone would fetch (image URLs)."""
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def secret_free(error: ApiError, *secrets: str) -> ApiError:
    """The error, after checking that no secret appears anywhere a handler or a log could show."""
    texts = [
        str(error),
        repr(error),
        error.message,
        error.endpoint,
        str(getattr(error, "server_message", "") or ""),
        "".join(traceback.format_exception(error)),
    ]
    for secret in secrets:
        assert all(secret not in text for text in texts), f"{secret!r} leaked into {type(error).__name__}"
    return error


async def failure(sandbox: Sandbox, call: Awaitable[Any], kind: type[ApiError]) -> ApiError:
    """Awaits `call`, which must fail with `kind` (or a subclass of it) and keep the token out."""
    with pytest.raises(kind) as caught:
        await call
    return secret_free(caught.value, sandbox.token)


def requests_to(sandbox: Sandbox, method: str, path: str) -> list[RecordedRequest]:
    return [r for r in sandbox.requests if r.method == method and r.path == path]


# --- coverage guard ----------------------------------------------------------------------------


@pytest.mark.parametrize("client", [CvetyApi, CrmApi])
def test_every_public_client_method_is_exercised_here(client: type):
    """A new client method needs its contract test here: the bot's end-to-end tests stand on it."""
    source = Path(__file__).read_text(encoding="utf-8")
    public = [
        name
        for name, _ in inspect.getmembers(client, inspect.iscoroutinefunction)
        if not name.startswith("_")
    ]
    assert public and [name for name in public if f".{name}(" not in source] == []


# --- cvety.kz: orders --------------------------------------------------------------------------


async def test_orders_list_without_filter_is_every_order_normalised(cvety: CvetyApi, sandbox: Sandbox):
    state = sandbox.state

    page = await cvety.list_orders(limit=100)

    assert [o.id for o in page.items] == sorted(state.orders, reverse=True)  # newest first
    assert page.total == len(state.orders) and page.has_more is False and page.offset == 0
    assert "status" not in sandbox.requests[-1].query
    by_id = {o.id: o for o in page.items}
    for order_id, seeded in state.orders.items():
        order = by_id[order_id]
        # spec codes stay codes, unknown ones (TR, RO) pass through as they come
        assert order.status == seeded.status and order.number == str(order_id)
        assert order.amount == seeded.total and order.currency == seeded.currency
        assert order.status_name == STATUSES[seeded.status][1]
        assert order.created_at == seeded.created_at  # the same instant, "+05:00" read right
    usd = by_id[ORDER_PD_USD]
    assert (usd.amount, usd.currency, usd.amount_text) == (65, "USD", "65 USD")
    new = by_id[ORDER_N]
    assert new.is_paid is False and new.main_image_url.startswith(sandbox.origin + "/upload/")
    assert new.created_at is not None and new.created_at.utcoffset().total_seconds() == 5 * 3600
    assert new.delivery_slot is not None and new.delivery_slot.start == dtime(20)
    sparse = by_id[ORDER_N_SPARSE]  # leaves mainImage, executors and deliveryTime out entirely
    assert sparse.main_image_url is None and sparse.executors == [] and sparse.delivery_slot is None
    assert sparse.sender is None and sparse.recipient is None

    second = await cvety.list_orders(limit=5, offset=5)
    assert [o.id for o in second.items] == sorted(state.orders, reverse=True)[5:10]
    assert (second.limit, second.offset, second.has_more) == (5, 5, True)


@pytest.mark.parametrize(
    ("asked", "code"),
    [
        ("N", "N"),
        ("PD", "PD"),
        ("AP", "AP"),
        ("CO", "CO"),
        ("DE", "DE"),
        ("F", "F"),
        ("UN", "UN"),
        ("TR", "TR"),
        ("RO", "RO"),
        ("in-transit", "DE"),
        ("accepted", "AP"),
        ("delivered", "F"),
    ],
)
async def test_orders_status_filter_is_applied_again_on_the_client(
    cvety: CvetyApi, sandbox: Sandbox, asked: str, code: str
):
    state = sandbox.state

    page = await cvety.list_orders(asked, limit=100)

    expected = sorted((i for i, o in state.orders.items() if o.status == code), reverse=True)
    assert expected and [o.id for o in page.items] == expected
    assert {o.status for o in page.items} == {code}
    sent = sandbox.requests[-1].query["status"]
    assert status_code(sent) == code  # the server reads the client's filter as the same status
    if code == "N":  # the server's "new" also returns the paid orders: only the client's filter helps
        assert page.total == sum(o.status in ("N", "PD") for o in state.orders.values()) > len(page.items)


async def test_detail_of_the_html_postcard_order(cvety: CvetyApi, sandbox: Sandbox):
    seeded = sandbox.state.orders[ORDER_N_HTML]

    order = await cvety.get_order(ORDER_N_HTML)

    # The postcard comes back verbatim, markup and all: escaping is the UI's job
    assert order.postcard_text == seeded.postcard == "Для <b>лучшей</b> мамы & бабушки! Ваши Жанар & Co <3"
    assert (order.id, order.number, order.status) == (ORDER_N_HTML, str(ORDER_N_HTML), "N")
    assert order.amount == seeded.total and order.delivery_price == seeded.delivery_price
    assert order.is_paid is False and order.pay_system == seeded.pay_system
    assert order.delivery_date == seeded.delivery_date
    assert order.delivery_slot is not None and order.delivery_slot.code == "3"  # the engine's code wins
    assert (order.delivery_slot.start, order.delivery_slot.end) == (dtime(16), dtime(20))
    assert order.recipient is not None and order.recipient.name == seeded.recipient_name
    assert order.recipient.phone == "+77272674490"
    assert order.sender is not None and order.sender.name == seeded.sender_name
    assert order.address == seeded.address
    assert [(i.name, i.quantity, i.price) for i in order.items] == [
        (line.name, line.amount, line.price) for line in seeded.items
    ]
    assert [i.id for i in order.items] == [line.id for line in seeded.items]
    assert order.tracking_url == f"{sandbox.origin}/track/{ORDER_N_HTML}"
    assert [h.status for h in order.history] == [h.status for h in seeded.history] == ["N"]
    assert order.history[0].user == seeded.history[0].user
    # "dd.mm.yyyy HH:MM:SS" without a zone is shop time (Almaty)
    assert order.history[0].at == seeded.history[0].at.replace(microsecond=0)


async def test_detail_of_the_sparse_order(cvety: CvetyApi, web: httpx.AsyncClient, sandbox: Sandbox):
    seeded = sandbox.state.orders[ORDER_N_SPARSE]

    order = await cvety.get_order(ORDER_N_SPARSE)

    assert order.status == "N" and order.amount == seeded.total
    assert order.sender is None and order.recipient is None
    assert order.address is None and order.city is None
    assert order.delivery_date is None  # "00.00.0000"
    assert order.delivery_slot is not None and order.delivery_slot.label_key == "text"
    assert order.delivery_slot.raw == "Самовывоз"
    assert order.delivery_price == 0 and order.main_image_url is None and order.executors == []
    assert order.postcard_text is None and order.comment is None and order.responsible_id is None
    assert len(order.items) == 1 and order.items[0].image_url.startswith(sandbox.origin + "/upload/")
    picture = await web.get(order.items[0].image_url)  # relative image paths resolve to real pictures
    assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")


async def test_allowed_statuses_as_codes_and_as_lowercase_keys(cvety: CvetyApi, sandbox: Sandbox):
    in_delivery = await cvety.allowed_statuses(ORDER_DE)
    keys = await cvety.allowed_statuses(ORDER_AP_KEYS)
    finished = await cvety.allowed_statuses(ORDER_F)

    assert (in_delivery.order_id, in_delivery.current) == (ORDER_DE, "DE")
    assert in_delivery.allowed == ["F", "TR", "RO"]
    assert sandbox.state.orders[ORDER_AP_KEYS].allowed_as_keys  # answered "accepted" / ["assembled", ...]
    assert (keys.order_id, keys.current, keys.allowed) == (ORDER_AP_KEYS, "AP", ["CO", "UN"])
    assert (finished.current, finished.allowed) == ("F", [])


async def test_change_status_happy_path(cvety: CvetyApi, sandbox: Sandbox):
    change = await cvety.change_status(ORDER_AP, "CO", comment="Собрала, фото в чате")
    by_key = await cvety.change_status(ORDER_AP_KEYS, "assembled")  # any spelling goes out as the code

    assert (change.order_id, change.old_status, change.new_status) == (ORDER_AP, "AP", "CO")
    assert change.changed is True
    assert change.changed_at == sandbox.state.orders[ORDER_AP].history[-1].at.replace(microsecond=0)
    assert change.changed_at is not None and change.changed_at.utcoffset().total_seconds() == 5 * 3600
    assert (by_key.old_status, by_key.new_status) == ("AP", "CO")
    sent = requests_to(sandbox, "POST", f"{CVETY}/order/change-status")
    assert [r.headers["Content-Type"] for r in sent] == ["application/x-www-form-urlencoded"] * 2
    assert parse_qs(sent[0].body.decode()) == {
        "id": [str(ORDER_AP)],
        "statusId": ["CO"],
        "comment": ["Собрала, фото в чате"],
    }
    assert parse_qs(sent[1].body.decode())["statusId"] == ["CO"]
    seeded = sandbox.state.orders[ORDER_AP]
    assert seeded.status == "CO" and seeded.history[-1].comment == "Собрала, фото в чате"
    reread = await cvety.get_order(ORDER_AP)
    assert reread.status == "CO" and reread.history[-1].status == "CO"
    assert (await cvety.allowed_statuses(ORDER_AP)).allowed == ["DE", "UN", "RO"]


async def test_refused_transition_is_rejected_with_the_servers_message(cvety: CvetyApi, sandbox: Sandbox):
    error = await failure(sandbox, cvety.change_status(ORDER_F, "N"), ApiRejected)

    assert not isinstance(error, ApiNotFound | ApiNotSupported)
    assert error.server_message == "Status transition not allowed" and str(error) == error.server_message
    assert error.status_code == 200  # the server refuses with a 200 and `status: false`
    assert sandbox.state.orders[ORDER_F].status == "F"


async def test_unknown_order_is_not_found_everywhere(cvety: CvetyApi, sandbox: Sandbox):
    assert ORDER_MISSING not in sandbox.state.orders

    for call in (
        cvety.get_order(ORDER_MISSING),
        cvety.allowed_statuses(ORDER_MISSING),
        cvety.change_status(ORDER_MISSING, "F"),
    ):
        error = await failure(sandbox, call, ApiNotFound)
        assert error.status_code == 404 and error.server_message == "Order not found"


# --- cvety.kz: products, shops, customers, uploads ---------------------------------------------


async def test_products_list_and_detail(cvety: CvetyApi, sandbox: Sandbox):
    products = sandbox.state.products

    vitrina = await cvety.list_products(type="vitrina")
    catalog = await cvety.list_products(type="catalog", limit=100)
    hidden = await cvety.list_products(is_available=False)
    found = await cvety.list_products(search="РОЗ", limit=100)
    detail = await cvety.get_product(PRODUCT_ROSES)
    broken = await cvety.get_product(PRODUCT_BROKEN_DATE)

    assert [p.id for p in vitrina.items] == sorted(
        (i for i, p in products.items() if p.type == "vitrina"), reverse=True
    )
    assert {p.type for p in vitrina.items} == {"vitrina"} and vitrina.has_more is False
    assert vitrina.total == len(vitrina.items)
    for product in vitrina.items + catalog.items:
        seeded = products[product.id]
        assert product.title == seeded.title and product.price == seeded.price  # "18&nbsp;500 ₸" too
        assert product.is_available is seeded.is_available
        assert product.images == [sandbox.origin + path for path in seeded.images]
    assert {p.type for p in catalog.items} == {"catalog"}
    with_size = next(p for p in catalog.items if products[p.id].width)
    sized = products[with_size.id]
    assert (with_size.width, with_size.height) == (sized.width, sized.height)  # from catalogWidth/Height
    assert [p.id for p in hidden.items] == [i for i, p in products.items() if not p.is_available]
    assert found.items and all("роз" in p.title.casefold() for p in found.items)
    assert requests_to(sandbox, "GET", f"{CVETY}/products")[3].query["search"] == "РОЗ"

    seeded = products[PRODUCT_ROSES]
    assert (detail.id, detail.title, detail.price) == (PRODUCT_ROSES, seeded.title, 24990)
    assert detail.currency == "KZT" and detail.price_text == "24 990 ₸"
    assert [(c.id, c.amount) for c in detail.composition] == [(FLOWER_ROSE_RED, 25)]
    assert detail.composition[0].name == sandbox.state.flowers[FLOWER_ROSE_RED].name
    assert detail.image_url == sandbox.origin + seeded.images[0] and len(detail.images) == 2
    assert detail.colors == ["red"] and detail.production_time == "short"
    assert detail.created_at == datetime.strptime(seeded.created_at, "%Y-%m-%dT%H:%M:%S%z")  # "+0500"
    assert broken.created_at is None and broken.type == "catalog"  # "-0001-11-30T00:00:00+0000"


async def test_product_create_price_and_delete(cvety: CvetyApi, sandbox: Sandbox):
    created = await cvety.create_product(
        "SKU-CONTRACT-1", "Букет «Контракт»", 25000, SHOP_ID, images=["/upload/iblock/8a1/25-krasnyh-roz.png"]
    )
    assert isinstance(created, Product)
    stored = sandbox.state.products[created.id]
    assert (stored.sku, stored.owner_id, stored.title, stored.price) == (
        "SKU-CONTRACT-1",
        SHOP_ID,
        "Букет «Контракт»",
        25000,
    )
    assert (created.title, created.price, created.type, created.is_available) == (
        "Букет «Контракт»",
        25000,
        "vitrina",
        True,
    )
    assert created.images == [sandbox.origin + "/upload/iblock/8a1/25-krasnyh-roz.png"]

    repriced = await cvety.update_product_price(created.id, 27000)
    assert repriced["id"] == created.id and repriced["price"] == "27 000 ₸"
    assert stored.price == 27000 and (await cvety.get_product(created.id)).price == 27000

    deleted = await cvety.delete_product(created.id)
    assert deleted == DeleteResult(id=str(created.id), deleted=True)
    assert stored.deleted and (await cvety.get_product(created.id)).is_available is False
    assert (await cvety.list_products(search="Контракт")).items == []
    assert "Content-Type" not in requests_to(sandbox, "DELETE", f"{CVETY}/products/delete")[0].headers


async def test_the_two_documented_405s_are_not_supported(cvety: CvetyApi, sandbox: Sandbox):
    before = sandbox.state.products[PRODUCT_ROSES]

    for call in (
        cvety.update_product_status(PRODUCT_ROSES, False),
        cvety.update_product_properties(PRODUCT_ROSES, width="45", height="65"),
    ):
        error = await failure(sandbox, call, ApiNotSupported)
        assert isinstance(error, ApiRejected) and error.status_code == 405

    assert before.is_available and (before.width, before.height) == ("40", "60")


async def test_shops(cvety: CvetyApi, sandbox: Sandbox):
    shops = await cvety.list_shops()

    assert [(s.id, s.xml_id, s.name, s.city) for s in shops] == [
        (s["id"], s["xml_id"], s["name"], s["city"]) for s in sandbox.state.shops
    ]
    assert shops[0].id == SHOP_ID and any(s.name.startswith("+7") for s in shops)  # a phone as a name


async def test_customers_and_a_customers_orders(cvety: CvetyApi, sandbox: Sandbox):
    state = sandbox.state

    customers = await cvety.list_customers()
    orders = await cvety.customer_orders(CUSTOMER_REGULAR)

    assert [c.id for c in customers] == sorted(state.customers)
    by_id = {c.id: c for c in customers}
    for customer_id, seeded in state.customers.items():
        theirs = [o for o in state.orders.values() if o.customer_id == customer_id]
        customer = by_id[customer_id]
        assert customer.name == seeded.name and customer.phone
        if seeded.stats_style == "none":
            assert customer.orders_count is None and customer.total is None
        else:  # camelCase and snake_case stats read alike
            assert customer.orders_count == len(theirs)
            assert customer.total == sum(o.total for o in theirs if o.status != "UN" and o.currency == "KZT")
            assert (customer.last_order_at is None) is (not theirs)
    regular = state.customers[CUSTOMER_REGULAR]
    assert by_id[CUSTOMER_REGULAR].phone == "+77015552341" and by_id[CUSTOMER_REGULAR].orders_count == 3
    assert [o.id for o in orders] == sorted(
        (i for i, o in state.orders.items() if o.customer_id == CUSTOMER_REGULAR), reverse=True
    )
    assert {o.sender.name for o in orders if o.sender} == {regular.name} and len(orders) == 3
    assert sandbox.requests[-1].query["CUSTOMER_ID"] == str(CUSTOMER_REGULAR)


async def test_upload_goes_through_the_308_and_the_url_serves_the_picture(
    cvety: CvetyApi, web: httpx.AsyncClient, sandbox: Sandbox
):
    png = placeholder_png("contract-test", 16)

    uploaded = await cvety.upload_images([("bouquet.png", png, "image/png")])

    assert len(uploaded.urls) == 1 and uploaded.urls[0].startswith(sandbox.origin + "/upload/bot/")
    posts = [r for r in sandbox.requests if r.method == "POST" and r.path.startswith(f"{CVETY}/uploads/")]
    assert [(r.path, r.status) for r in posts] == [
        (f"{CVETY}/uploads/images", 308),
        (f"{CVETY}/uploads/images/", 200),  # re-sent as a POST
    ]
    assert all(r.query == {"access_token": sandbox.token} for r in posts)
    assert b'name="file"' in posts[1].body and png in posts[1].body
    fetched = await web.get(uploaded.urls[0])
    assert fetched.status_code == 200 and fetched.content == png
    assert fetched.headers["Content-Type"] == "image/png"

    several = await cvety.upload_images([("a.png", png, "image/png"), ("b.png", png, "image/png")])
    assert len(several.urls) == 2 and set(several.urls).isdisjoint(uploaded.urls)
    product = await cvety.create_product("SKU-PHOTO", "Букет с фото", 9900, SHOP_ID, images=uploaded.urls)
    assert isinstance(product, Product) and product.image_url == uploaded.urls[0]


# --- CRM: flowers and inventory ----------------------------------------------------------------


async def test_flowers_search_and_list(crm: CrmApi, sandbox: Sandbox):
    flowers = sandbox.state.flowers

    roses = await crm.search_flowers("роза")
    tulips = await crm.search_flowers("TULIP", limit=1)
    everything = await crm.list_flowers()

    assert roses and all("роза" in f.name.casefold() for f in roses)
    active = {i for i, f in flowers.items() if f.is_active}
    assert {f.id for f in roses} == {i for i in active if "роза" in flowers[i].name.casefold()}
    assert len(tulips) == 1 and "tulip" in (tulips[0].name_en or "").casefold()
    assert {f.id for f in everything} == active
    assert FLOWER_INACTIVE not in {f.id for f in everything}
    for flower in everything:
        assert (flower.name, flower.name_en, flower.quantity) == (
            flowers[flower.id].name,
            flowers[flower.id].name_en,
            flowers[flower.id].quantity,
        )
    assert {f.id: f.quantity for f in everything}[FLOWER_ZERO] == 0


async def test_flower_delivery_and_write_off_change_the_stock(crm: CrmApi, sandbox: Sandbox):
    rose = sandbox.state.flowers[FLOWER_ROSE_RED]
    lisianthus = sandbox.state.flowers[FLOWER_WHITE_LISIANTHUS]
    before = rose.quantity
    assert lisianthus.quantity == 3

    delivery = await crm.flower_delivery(
        FLOWER_ROSE_RED,
        12,
        supplier="Rosaprima",
        price=300,
        delivery_date=date(2025, 3, 7),
        note="Утренняя поставка",
    )
    writeoff = await crm.flower_writeoff(
        FLOWER_WHITE_LISIANTHUS, 1, "Брак", note="Сломаны при разгрузке [op:abcd]"
    )

    assert (delivery.flower_id, delivery.previous_quantity) == (FLOWER_ROSE_RED, before)
    assert (delivery.added_quantity, delivery.new_quantity) == (12, before + 12)
    assert rose.quantity == before + 12 and delivery.message
    assert (writeoff.flower_id, writeoff.previous_quantity, writeoff.writeoff_quantity) == (
        FLOWER_WHITE_LISIANTHUS,
        3,
        1,
    )
    assert writeoff.new_quantity == lisianthus.quantity == 2 and writeoff.reason == "Брак"
    listed = {f.id: f.quantity for f in await crm.list_flowers()}
    assert listed[FLOWER_ROSE_RED] == before + 12 and listed[FLOWER_WHITE_LISIANTHUS] == 2

    history = await crm.history(FLOWER_WHITE_LISIANTHUS)
    latest = history[0]  # newest first
    assert latest.note == "Сломаны при разгрузке [op:abcd]" and "[op:abcd]" in latest.note
    assert (latest.flower_id, latest.movement_type, latest.quantity, latest.reason) == (
        FLOWER_WHITE_LISIANTHUS,
        "writeoff",
        -1,
        "Брак",
    )
    assert latest.flower_name == lisianthus.name
    moved = sandbox.state.movements[-1]
    assert latest.id == str(moved.id) and latest.created_at == moved.created_at.replace(microsecond=0)  # "Z"
    assert {m.flower_id for m in history} == {FLOWER_WHITE_LISIANTHUS}
    rose_latest = (await crm.history(FLOWER_ROSE_RED, limit=1))[0]
    assert (rose_latest.movement_type, rose_latest.quantity, rose_latest.note) == (
        "delivery",
        12,
        "Утренняя поставка",
    )
    assert rose_latest.delivery_date == date(2025, 3, 7)
    assert len(await crm.history(limit=3)) == 3


async def test_write_off_over_stock_is_refused_with_the_stock_in_the_message(crm: CrmApi, sandbox: Sandbox):
    lisianthus = sandbox.state.flowers[FLOWER_WHITE_LISIANTHUS]

    error = await failure(sandbox, crm.flower_writeoff(FLOWER_WHITE_LISIANTHUS, 5, "Брак"), ApiRejected)
    empty = await failure(sandbox, crm.flower_writeoff(FLOWER_ZERO, 1, "Брак"), ApiRejected)
    unknown = await failure(sandbox, crm.flower_writeoff("no-such-flower", 1, "Брак"), ApiNotFound)

    # the CRM says "400: Insufficient stock: 3 available" inside an HTTP 500
    assert not isinstance(error, ApiNotFound) and error.status_code == 400
    assert error.server_message == "Insufficient stock: 3 available" and "3 available" in str(error)
    assert "0 available" in str(empty)
    assert unknown.status_code == 404 and unknown.server_message == "Flower not found"
    assert lisianthus.quantity == 3 and sandbox.state.flowers[FLOWER_ZERO].quantity == 0


async def test_inventory_update_bulk_update_and_low_stock(crm: CrmApi, sandbox: Sandbox):
    materials = sandbox.state.materials
    expected = sorted(i for i, m in materials.items() if 0 < m.quantity <= 5)
    assert MATERIAL_RIBBON in expected and MATERIAL_BOX_BIG not in expected  # 3 left / none left

    low = await crm.low_stock()
    update = await crm.inventory_update(str(MATERIAL_RIBBON), 10, note="Пересчёт")
    bulk = await crm.inventory_bulk_update([(str(MATERIAL_RIBBON), 4), ("102", 50), ("no-such", 1)])
    low_after = await crm.low_stock(threshold=4)

    assert low.threshold == 5
    assert requests_to(sandbox, "GET", f"{CRM}/api/inventory/low-stock")[0].query["threshold"] == "5"
    assert [p.id for p in low.products] == [str(i) for i in expected]
    assert low.count == len(low.products) and str(MATERIAL_BOX_BIG) not in {p.id for p in low.products}
    ribbon = next(p for p in low.products if p.id == str(MATERIAL_RIBBON))
    assert (ribbon.name, ribbon.quantity, ribbon.price) == (materials[MATERIAL_RIBBON].name, 3, 1200)

    assert (update.product_id, update.old_quantity, update.new_quantity, update.change) == (
        str(MATERIAL_RIBBON),
        3,
        10,
        7,
    )
    assert bulk.updated_count == 2 and bulk.errors == ["no-such: Product not found"]
    assert [(u.product_id, u.old_quantity, u.new_quantity) for u in bulk.updated_products] == [
        (str(MATERIAL_RIBBON), 10, 4),
        ("102", 120, 50),
    ]
    assert materials[MATERIAL_RIBBON].quantity == 4 and materials[102].quantity == 50
    assert low_after.threshold == 4
    assert {p.id: p.quantity for p in low_after.products} == {
        str(i): m.quantity for i, m in materials.items() if 0 < m.quantity <= 4
    }


async def test_inventory_delivery_and_write_off(crm: CrmApi, sandbox: Sandbox):
    ribbon = sandbox.state.materials[MATERIAL_RIBBON]

    delivery = await crm.inventory_delivery(
        str(MATERIAL_RIBBON), 5, supplier="Упаковка.kz", price=1000, note="[op:ef01]"
    )
    writeoff = await crm.inventory_writeoff(str(MATERIAL_RIBBON), 2, "Использовано в работе")
    too_much = await failure(sandbox, crm.inventory_writeoff(str(MATERIAL_RIBBON), 99, "Брак"), ApiRejected)
    flower = await crm.inventory_delivery(FLOWER_ROSE_RED, 1)  # the inventory endpoints take flowers too

    assert delivery.product is not None and delivery.message
    assert (delivery.product.id, delivery.product.name, delivery.product.quantity) == (
        str(MATERIAL_RIBBON),
        ribbon.name,
        8,
    )
    assert writeoff.product is not None and writeoff.product.quantity == 6 == ribbon.quantity
    assert not isinstance(too_much, ApiNotFound) and "6 available" in str(too_much)
    assert flower.product is not None and flower.product.id == FLOWER_ROSE_RED
    moves = await crm.history(str(MATERIAL_RIBBON), limit=2)
    assert [(m.movement_type, m.quantity) for m in moves] == [("writeoff", -2), ("delivery", 5)]
    assert moves[1].note == "[op:ef01]"


async def test_unknown_inventory_product_is_not_found(crm: CrmApi, sandbox: Sandbox):
    before = [m.quantity for m in sandbox.state.materials.values()]

    for call in (
        crm.inventory_update("no-such-product", 1),
        crm.inventory_delivery("no-such-product", 1),
        crm.inventory_writeoff("no-such-product", 1, "Брак"),
    ):
        # the CRM says "404: Product not found" inside an HTTP 500
        error = await failure(sandbox, call, ApiNotFound)
        assert error.status_code == 404 and error.server_message == "Product not found"

    assert [m.quantity for m in sandbox.state.materials.values()] == before


# --- CRM: profile, shop info, colleagues -------------------------------------------------------


async def test_profile_get_and_put(crm: CrmApi, sandbox: Sandbox):
    profile = await crm.get_profile()

    assert profile.id == "1" and profile.name == sandbox.state.profile["name"]
    assert profile.phone == "+77012345678"  # stored as "+7 (701) 234-56-78"
    assert profile.position == "owner" and profile.bio == sandbox.state.profile["bio"]
    assert profile.can_edit is True and profile.positions == ["owner", "senior", "florist", "assistant"]
    assert profile.avatar is None

    updated = await crm.update_profile("Асель Т.", "8 701 234 56 79", "senior", bio="Люблю пионы")
    assert (updated.name, updated.phone, updated.position, updated.bio) == (
        "Асель Т.",
        "+77012345679",
        "senior",
        "Люблю пионы",
    )
    assert sandbox.state.profile["phone"] == "+77012345679" and sandbox.state.profile["name"] == "Асель Т."
    assert (await crm.get_profile()).position == "senior"


async def test_profile_with_a_one_letter_name_is_a_422(crm: CrmApi, sandbox: Sandbox):
    error = await failure(sandbox, crm.update_profile("А", "+7 701 234 56 78", "owner"), ApiRejected)

    assert not isinstance(error, ApiNotFound) and error.status_code == 422
    assert "at least 2 characters" in str(error)
    assert sandbox.state.profile["name"] == "Асель Туребекова"


async def test_shop_info_get_and_put(crm: CrmApi, sandbox: Sandbox):
    info = await crm.get_shop_info()

    seeded = sandbox.state.shop_info
    assert (info.name, info.address, info.working_hours, info.city) == (
        seeded["name"],
        seeded["address"],
        seeded["working_hours"],
        seeded["city"],
    )
    assert info.phone == "+77273788888"
    assert info.social.instagram == "https://instagram.com/cvety.kz" and info.social.telegram is None

    updated = await crm.update_shop_info(
        working_hours="Пн-Вс: 8:00-22:00", social_media={"telegram": "@cvetykz"}
    )
    assert updated.working_hours == "Пн-Вс: 8:00-22:00" and updated.social.telegram == "@cvetykz"
    assert updated.social.instagram == "https://instagram.com/cvety.kz"  # the rest is kept
    assert updated.name == info.name and sandbox.state.shop_info["working_hours"] == "Пн-Вс: 8:00-22:00"


async def test_colleagues_in_both_shapes(crm: CrmApi, sandbox: Sandbox):
    colleagues = sandbox.state.colleagues

    everyone = await crm.list_colleagues()  # {data: {items, position_stats, total}}
    inactive = await crm.list_colleagues(is_active=False)  # {data: [...]}
    couriers = await crm.list_colleagues(position="courier")

    assert [c.id for c in everyone.items] == [str(i) for i in sorted(colleagues)]
    assert everyone.position_stats == dict(Counter(c.position for c in colleagues.values()))
    owner = everyone.items[0]
    assert (owner.id, owner.position, owner.is_active) == (str(COLLEAGUE_OWNER), "owner", True)
    assert owner.phone == "+77012345678" and owner.joined_at is not None
    assert owner.joined_at.date() == colleagues[COLLEAGUE_OWNER].joined
    assert {c.id for c in inactive.items} == {str(i) for i, c in colleagues.items() if not c.is_active}
    assert str(COLLEAGUE_INACTIVE) in {c.id for c in inactive.items} and inactive.position_stats == {}
    assert all(c.is_active is False for c in inactive.items)
    assert {c.id for c in couriers.items} == {
        str(i) for i, c in colleagues.items() if c.position == "courier"
    }
    assert requests_to(sandbox, "GET", f"{CRM}/api/v2/colleagues")[1].query["isActive"] == "false"


async def test_colleague_create_update_toggle_delete(crm: CrmApi, sandbox: Sandbox):
    colleagues = sandbox.state.colleagues

    created = await crm.create_colleague("Жанна Омарова", "8 777 123 45 00", "florist")
    assert int(created.id) == max(colleagues)
    assert (created.name, created.phone, created.position, created.is_active) == (
        "Жанна Омарова",
        "+77771234500",
        "florist",
        True,
    )
    assert created.joined_at is not None
    stored = colleagues[int(created.id)]

    updated = await crm.update_colleague(created.id, name="Жанна О.", position="senior", is_active=False)
    assert (updated.name, updated.position, updated.is_active) == ("Жанна О.", "senior", False)
    assert (stored.name, stored.position, stored.is_active) == ("Жанна О.", "senior", False)
    put = requests_to(sandbox, "PUT", f"{CRM}/api/v2/colleagues/{created.id}")[0]
    assert json.loads(put.body) == {"name": "Жанна О.", "position": "senior", "isActive": False}

    toggled = await crm.toggle_colleague(created.id)
    assert toggled.is_active is True and stored.is_active is True

    deleted = await crm.delete_colleague(created.id)
    assert deleted == DeleteResult(id=created.id, deleted=True)
    assert int(created.id) not in colleagues

    duplicate = crm.create_colleague("Двойник", "+7 701 234 56 78", "florist")  # the owner's phone
    taken = await failure(sandbox, duplicate, ApiRejected)
    assert not isinstance(taken, ApiNotFound) and "already exists" in str(taken)


async def test_unknown_colleague_is_not_found(crm: CrmApi, sandbox: Sandbox):
    assert 999 not in sandbox.state.colleagues

    for call in (
        crm.update_colleague("999", name="Кто-то"),
        crm.toggle_colleague("999"),
        crm.delete_colleague("999"),
    ):
        error = await failure(sandbox, call, ApiNotFound)
        assert error.server_message == "Colleague not found"


# --- faults ------------------------------------------------------------------------------------


async def test_a_get_that_hangs_is_unavailable(slow_cvety: CvetyApi, slow_crm: CrmApi, sandbox: Sandbox):
    sandbox.faults.add("GET", f"{CVETY}/orders", hang=True)
    sandbox.faults.add("GET", f"{CRM}/api/flowers", hang=True)
    started = time.perf_counter()

    results = await asyncio.gather(slow_cvety.list_orders(), slow_crm.list_flowers(), return_exceptions=True)

    assert time.perf_counter() - started < 2  # the read timeout, not the server, ended the wait
    for error in results:
        assert type(error) is ApiUnavailable, error  # not "bad response", not "unknown outcome"
        secret_free(error, sandbox.token)
    assert sandbox.faults.calls("GET", f"{CVETY}/orders") == 1  # no retries piled onto a hung server


async def test_a_status_change_that_hangs_after_applying_is_an_unknown_outcome(
    slow_cvety: CvetyApi, cvety: CvetyApi, sandbox: Sandbox
):
    sandbox.faults.add("POST", f"{CVETY}/order/change-status", apply_then_hang=True, times=1)

    error = await failure(sandbox, slow_cvety.change_status(ORDER_DE, "F"), ApiUnknownOutcome)

    assert "POST /order/change-status" in error.endpoint
    assert sandbox.faults.calls("POST", f"{CVETY}/order/change-status") == 1  # a write is never retried
    assert sandbox.state.orders[ORDER_DE].status == "F"  # it did happen on the server
    reread = await cvety.get_order(ORDER_DE)  # which a re-read shows
    assert reread.status == "F" and reread.history[-1].status == "F"
    assert (await cvety.allowed_statuses(ORDER_DE)).allowed == []


async def test_a_write_whose_answer_is_cut_off_is_an_unknown_outcome(crm: CrmApi, sandbox: Sandbox):
    sandbox.faults.add("POST", f"{CRM}/api/flowers/delivery", truncate=True, times=1)
    rose = sandbox.state.flowers[FLOWER_ROSE_RED]
    before = rose.quantity

    await failure(sandbox, crm.flower_delivery(FLOWER_ROSE_RED, 7), ApiUnknownOutcome)

    assert rose.quantity == before + 7
    assert (await crm.history(FLOWER_ROSE_RED, limit=1))[0].quantity == 7


async def test_an_html_500_page_is_unavailable(cvety: CvetyApi, crm: CrmApi, sandbox: Sandbox):
    page = "<html><body><h1>500 Internal Server Error</h1><p>nginx</p></body></html>"
    sandbox.faults.add("GET", f"{CVETY}/orders", status=500, body=page, content_type="text/html")
    sandbox.faults.add("GET", f"{CRM}/api/v2/profile", status=500, body=page, content_type="text/html")

    for call in (cvety.list_orders(), crm.get_profile()):
        error = await failure(sandbox, call, ApiUnavailable)
        assert type(error) is ApiUnavailable and str(error) == "HTTP 500"


async def test_malformed_json_on_a_get_is_a_bad_response(cvety: CvetyApi, crm: CrmApi, sandbox: Sandbox):
    sandbox.faults.add("GET", f"{CRM}/api/flowers/search", body="[{not json")
    sandbox.faults.add("GET", f"{CVETY}/shop/list", body='{"success": true, "data": [{"id": 17')

    for call in (crm.search_flowers("роза"), cvety.list_shops()):
        error = await failure(sandbox, call, ApiBadResponse)
        assert "not JSON" in str(error)


async def test_the_token_never_appears_in_an_error(cvety: CvetyApi, sandbox: Sandbox):
    token = sandbox.token
    echo = f"bad request to /orders?access_token={token}&id=1 (token {token})"
    sandbox.faults.add(
        "GET",
        f"{CVETY}/orders",
        status=400,
        body=f'{{"success": false, "error": {{"code": "x", "message": "{echo}"}}}}',
    )
    sandbox.faults.add("GET", f"{CVETY}/shop/list", status=500, body=f'{{"detail": "{echo}"}}', times=1)
    sandbox.faults.add("GET", f"{CVETY}/customers/", body=f'{{"status": false, "error": "{echo}"}}')
    sandbox.faults.add("GET", f"{CVETY}/products", redirect_to="http://203.0.113.7/steal")
    sandbox.faults.add("GET", f"{CVETY}/orders/detail", redirect_to=f"{CVETY}/orders/detail")

    errors = [
        await failure(sandbox, cvety.list_orders(), ApiRejected),
        await failure(sandbox, cvety.list_shops(), ApiUnavailable),
        await failure(sandbox, cvety.list_customers(), ApiRejected),
        await failure(sandbox, cvety.list_products(), ApiUnavailable),  # never follows it off the host
        await failure(sandbox, cvety.get_order(ORDER_N), ApiUnavailable),  # a redirect loop
    ]
    assert "***" in str(errors[0]) and "***" in str(errors[2])  # the echo was redacted, not dropped
    assert [str(e) for e in errors[3:]] == ["redirected elsewhere", "too many redirects"]
    assert not requests_to(sandbox, "GET", "/steal")

    async with make_http_client(sandbox.cvety_url) as client:  # a wrong token: HTTP 200, status false
        wrong = CvetyApi(client, "wrong-token-123")
        bad_token = await failure(sandbox, wrong.list_shops(), ApiRejected)
    assert str(secret_free(bad_token, "wrong-token-123")) == "Bad Token!!!"
