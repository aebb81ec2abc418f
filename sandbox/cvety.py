"""The cvety.kz API v2 stand-in, mounted at `/cvety/api/v2`.

Authentication, as production answers it:
- no token at all (neither `?access_token=` nor `Authorization: Bearer`) -> HTTP 401
  `{"success": false, "error": {"code": "unauthorized", "message": "Access token required"}}`;
- a wrong token -> HTTP **200** `{"status": false, "error": "token_error", "message": "Bad Token!!!"}`.
A GET or DELETE that carries a `Content-Type` header is refused with HTTP 400
`{"success": false, "error": {"code": "bad_request", "message": "Content-Type not allowed"}}`.
`POST /uploads/images` answers 308 to `/uploads/images/` (before any token check, like the web
server in front of the real API): a client must re-send the POST there.
A refused status change is HTTP 200 with `{"status": false, "error": "Status transition not allowed"}`.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from aiohttp import web
from aiohttp.helpers import parse_mimetype
from aiohttp.multipart import parse_content_disposition
from aiohttp.typedefs import Handler

from sandbox.data import SHOP_ID
from sandbox.responses import json_response, parse_bool, parse_int
from sandbox.state import (
    ALMATY,
    LOWERCASE_KEYS,
    SLOTS,
    STATUSES,
    Customer,
    Order,
    Product,
    SandboxError,
    SandboxState,
    format_money,
    status_code,
)

MAX_UPLOAD = 10 * 1024 * 1024
UPLOAD_FIELDS = ("file", "file[]", "images", "images[]")
PUBLIC_ROUTES = frozenset({"uploads-redirect"})

#: Status filter values of `GET /orders` -> codes. Deliberately imperfect like the real one:
#: `new` also returns paid orders; a value it does not know filters nothing.
_FILTERS: dict[str, set[str]] = {"new": {"N", "PD"}}


def _error(status: int, code: str, message: str) -> web.Response:
    return json_response({"success": False, "error": {"code": code, "message": message}}, status)


def _status_error(status: int, message: str) -> web.Response:
    return json_response({"status": False, "error": message}, status)


def _sniff_image(data: bytes) -> tuple[str, str] | None:
    """(extension, MIME type) of a JPEG, PNG or WebP picture; None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg", "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png", "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp", "image/webp"
    return None


def parse_multipart(content_type: str, body: bytes) -> list[tuple[str, str | None, bytes]]:
    """(field name, file name, bytes) of each part. Reads the cached body, so it works after the
    recording middleware has read the request (aiohttp's own parser reads the stream)."""
    boundary = parse_mimetype(content_type).parameters.get("boundary", "")
    if not boundary:
        return []
    parts: list[tuple[str, str | None, bytes]] = []
    for chunk in body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        disposition = ""
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-disposition":
                disposition = value.strip()
        _, params = parse_content_disposition(disposition)
        parts.append((params.get("name", ""), params.get("filename"), data.removesuffix(b"\r\n")))
    return parts


async def _fields(request: web.Request) -> dict[str, Any] | None:
    """A POST's fields from JSON or a form; None when the JSON is unreadable."""
    if request.content_type == "application/json":
        try:
            payload = json.loads(await request.read() or b"{}")
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None
    return dict(await request.post())


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip().replace(" ", ""))
    except ValueError:
        return None


class CvetyApi:
    def __init__(self, state: SandboxState, token: str) -> None:
        self.state = state
        self.token = token

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard], client_max_size=32 * 1024 * 1024)
        r = app.router
        r.add_get("/orders", self.orders)
        r.add_get("/orders/detail", self.order_detail)
        r.add_get("/order/allowed-statuses", self.allowed_statuses)
        r.add_post("/order/change-status", self.change_status)
        r.add_post("/uploads/images", self.upload_redirect, name="uploads-redirect")
        r.add_post("/uploads/images/", self.upload)
        r.add_get("/products", self.products)
        r.add_get("/products/detail", self.product_detail)
        r.add_post("/product/create", self.product_create)
        r.add_post("/product/price", self.product_price)
        r.add_post("/product/update-status", self.not_allowed)
        r.add_post("/product/properties", self.not_allowed)
        r.add_delete("/products/delete", self.product_delete)
        r.add_get("/shop/list", self.shops)
        r.add_get("/customers/", self.customers)
        r.add_get("/customers/orders.php", self.customer_orders)
        r.add_get("/customers/with-stats/", self.customers_with_stats)
        return app

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method in ("GET", "HEAD", "DELETE") and "Content-Type" in request.headers:
            return _error(400, "bad_request", "Content-Type not allowed")
        if request.match_info.route.name not in PUBLIC_ROUTES:
            token = request.query.get("access_token", "")
            authorization = request.headers.get("Authorization", "")
            if not token and authorization.lower().startswith("bearer "):
                token = authorization[7:].strip()
            if not token:
                return _error(401, "unauthorized", "Access token required")
            if token != self.token:
                return json_response({"status": False, "error": "token_error", "message": "Bad Token!!!"})
        try:
            return await handler(request)
        except SandboxError as exc:
            code = "not_found" if exc.status == 404 else "bad_request"
            return _error(exc.status, code, exc.message)

    # ---- rendering ----------------------------------------------------------------------------

    def order_item(self, order: Order) -> dict[str, Any]:
        key, name = STATUSES.get(order.status, (order.status.lower(), f"Статус {order.status}"))
        has_recipient = order.recipient_name or order.recipient_phone
        item: dict[str, Any] = {
            "id": order.id,
            "number": str(order.id),
            "status_id": order.status,
            "status_key": key,
            "status_name": name,
            "paymentAmount": format_money(order.total, order.currency, order.amount_space),
            "paymentStatus": "paid" if order.paid else "not_paid",
            "sender": {"name": order.sender_name, "phone": order.sender_phone} if order.sender_name else None,
            "recipient": {"name": order.recipient_name, "phone": order.recipient_phone}
            if has_recipient
            else None,
            "deliveryAddress": order.address,
            "deliveryDate": order.delivery_date.isoformat() if order.delivery_date else None,
            "deliveryTime": SLOTS.get(order.slot, order.slot),
            "deliveryCity": order.city,
            "createdAt": order.created_at.isoformat(timespec="seconds"),
            "mainImage": order.main_image,
            "executors": order.executors,
            "items": [
                {
                    "id": line.id,
                    "productName": line.name,
                    "amount": line.amount,
                    "price": line.price,
                    "currency": order.currency,
                    "productImage": line.image,
                }
                for line in order.items
            ],
        }
        for hidden in order.hidden:
            item.pop(hidden, None)
        return item

    def order_raw(self, order: Order, origin: str) -> dict[str, Any]:
        if order.delivery_date is None:
            delivery_date = "00.00.0000"
        elif order.iso_raw_date:
            delivery_date = order.delivery_date.isoformat()
        else:
            delivery_date = order.delivery_date.strftime("%d.%m.%Y")
        history = []
        for entry in order.history:
            row = {
                "status": entry.status,
                "timestamp": entry.at.strftime("%d.%m.%Y %H:%M:%S"),
                "user": entry.user,
            }
            if entry.comment:
                row["comment"] = entry.comment
            history.append(row)
        return {
            "statusId": order.status,
            "dateCreated": order.created_at.strftime("%d.%m.%Y"),
            "price": str(order.total),
            "currency": order.currency,
            "senderName": order.sender_name or "",
            "senderPhone": order.sender_phone or "",
            "recipientName": order.recipient_name or "",
            "recipientPhone": order.recipient_phone or "",
            "deliveryAddress": order.address or "",
            "deliveryDate": delivery_date,
            "deliveryType": order.slot,
            "deliveryPrice": str(order.delivery_price),
            "isPayed": "Y" if order.paid else "N",
            "paySystem": order.pay_system,
            "postcardText": order.postcard,
            "comment": order.comment,
            "notes": order.notes,
            "responsibleId": order.responsible_id,
            "basket": [
                {
                    "id": str(line.id),
                    "productId": str(line.product_id),
                    "name": line.name,
                    "quantity": str(line.amount),
                    "price": f"{line.price}.00",
                }
                for line in order.items
            ],
            "executors": order.executors,
            "history": history,
            "urls": {"status": f"{origin}/track/{order.id}"},
            "assembledImage": order.assembled_image,
            "recipientPhoto": order.recipient_photo,
        }

    def product_item(self, product: Product, *, detail: bool = False) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": product.id,
            "title": product.title,
            "price": product.price_text or format_money(product.price),
            "isAvailable": product.is_available and not product.deleted,
            "type": product.type,
            "image": product.images[0] if product.images else None,
            "images": product.images,
            "createdAt": product.created_at,
            "width": product.width if product.type == "vitrina" else "",
            "height": product.height if product.type == "vitrina" else "",
            "discount": str(product.discount),
            "video": None,
            "duration": None,
            "productionTime": product.production_time,
            "composition": None,
            "colors": product.colors or False,
        }
        if product.type == "catalog":
            item["catalogWidth"] = product.width
            item["catalogHeight"] = product.height
        if detail:
            item["composition"] = [
                {"id": flower_id, "name": self._flower_name(flower_id), "amount": stems}
                for flower_id, stems in product.composition
            ]
            item["sku"] = product.sku
            item["ownerId"] = product.owner_id
        return item

    def _flower_name(self, flower_id: str) -> str:
        flower = self.state.flowers.get(flower_id)
        return flower.name if flower else flower_id

    def customer_item(self, customer: Customer) -> dict[str, Any]:
        orders = [o for o in self.state.orders.values() if o.customer_id == customer.id]
        spent = sum(o.total for o in orders if o.status != "UN" and o.currency == "KZT")
        last = max((o.created_at for o in orders), default=None)
        item: dict[str, Any] = {"id": customer.id, "name": customer.name, "phone": customer.phone}
        if customer.stats_style == "camel":
            item["ordersCount"] = len(orders)
            item["totalSpent"] = spent
            item["lastOrderDate"] = last.strftime("%d.%m.%Y") if last else None
        elif customer.stats_style == "snake":
            item["orders_count"] = str(len(orders))
            item["total_amount"] = format_money(spent)
            item["last_order_at"] = last.isoformat(timespec="seconds") if last else None
        return item

    # ---- orders -------------------------------------------------------------------------------

    def _status_codes(self, value: str) -> set[str] | None:
        codes: set[str] = set()
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if part.lower() in _FILTERS:
                codes |= _FILTERS[part.lower()]
                continue
            code = status_code(part)
            if code is None:
                return None  # the real server ignores what it does not know
            codes.add(code)
        return codes or None

    async def orders(self, request: web.Request) -> web.Response:
        codes = self._status_codes(request.query.get("status", ""))
        orders = sorted(self.state.orders.values(), key=lambda o: o.id, reverse=True)
        if codes is not None:
            orders = [o for o in orders if o.status in codes]
        limit = parse_int(request.query.get("limit"), 20, minimum=1, maximum=100)
        offset = parse_int(request.query.get("offset"), 0)
        page = orders[offset : offset + limit]
        return json_response(
            {
                "success": True,
                "data": [self.order_item(o) for o in page],
                "pagination": {
                    "total": len(orders),
                    "limit": limit,
                    "offset": offset,
                    "hasMore": offset + len(page) < len(orders),
                },
            }
        )

    async def order_detail(self, request: web.Request) -> web.Response:
        order_id = _int(request.query.get("id", ""))
        if order_id is None:
            return _error(400, "bad_request", "Parameter id is required")
        order = self.state.order(order_id)
        data = self.order_item(order)
        data["raw"] = self.order_raw(order, _origin(request))
        return json_response({"success": True, "data": data})

    async def allowed_statuses(self, request: web.Request) -> web.Response:
        order_id = _int(request.query.get("id", ""))
        if order_id is None:
            return _status_error(400, "Parameter id is required")
        order = self.state.orders.get(order_id)
        if order is None:
            return _status_error(404, "Order not found")
        allowed = self.state.allowed(order)
        current = order.status
        if order.allowed_as_keys:
            allowed = [LOWERCASE_KEYS.get(code, code.lower()) for code in allowed]
            current = LOWERCASE_KEYS.get(current, current.lower())
        return json_response(
            {"status": True, "data": {"id": order.id, "current": current, "allowed": allowed}}
        )

    async def change_status(self, request: web.Request) -> web.Response:
        fields = await _fields(request)
        if fields is None:
            return _status_error(400, "Invalid request body")
        order_id = _int(fields.get("id", ""))
        target = str(fields.get("statusId") or "").strip()
        if order_id is None or not target:
            return _status_error(400, "Parameters id and statusId are required")
        if order_id not in self.state.orders:
            return _status_error(404, "Order not found")
        if status_code(target) is None:
            return _status_error(400, f"Unknown status: {target}")
        try:
            old = self.state.change_status(order_id, target, str(fields.get("comment") or ""))
        except SandboxError as exc:
            return _status_error(200, exc.message)
        order = self.state.orders[order_id]
        return json_response(
            {
                "status": True,
                "data": {
                    "id": order_id,
                    "oldStatus": old,
                    "newStatus": order.status,
                    "changed": True,
                    "changedAt": order.history[-1].at.isoformat(timespec="seconds"),
                },
            }
        )

    # ---- uploads ------------------------------------------------------------------------------

    async def upload_redirect(self, request: web.Request) -> web.Response:
        location = request.path + "/"
        if request.query_string:
            location += "?" + request.query_string
        return web.Response(status=308, headers={"Location": location})

    async def upload(self, request: web.Request) -> web.Response:
        if request.content_type != "multipart/form-data":
            return _error(400, "bad_request", "multipart/form-data expected")
        parts = parse_multipart(request.headers.get("Content-Type", ""), await request.read())
        files = [(name, data) for field, name, data in parts if field in UPLOAD_FIELDS and name is not None]
        if not files:
            return _error(400, "no_file", "No file uploaded (field file or images[])")
        kinds: list[tuple[str, str]] = []
        for name, data in files:
            if len(data) > MAX_UPLOAD:
                return _error(413, "file_too_large", f"{name}: file is larger than 10 MB")
            kind = _sniff_image(data)
            if kind is None:
                return _error(400, "invalid_file", f"{name}: only JPEG, PNG and WebP images are allowed")
            kinds.append(kind)
        month = datetime.now(ALMATY).strftime("%Y-%m")
        urls = []
        for (_, data), (extension, mime) in zip(files, kinds, strict=True):
            path = f"/upload/bot/{month}/{uuid.uuid4().hex[:16]}.{extension}"
            self.state.uploads[path] = (data, mime)
            urls.append(_origin(request) + path)
        return json_response({"success": True, "data": {"urls": urls}})

    # ---- products -----------------------------------------------------------------------------

    async def products(self, request: web.Request) -> web.Response:
        kind = request.query.get("type", "")
        available = parse_bool(request.query.get("isAvailable"))
        search = request.query.get("search", "").strip().casefold()
        products = [
            p
            for p in sorted(self.state.products.values(), key=lambda p: p.id, reverse=True)
            if not p.deleted
            and (not kind or p.type == kind)
            and (available is None or p.is_available == available)
            and (not search or search in p.title.casefold())
        ]
        limit = parse_int(request.query.get("limit"), 20, minimum=1, maximum=100)
        offset = parse_int(request.query.get("offset"), 0)
        page = products[offset : offset + limit]
        return json_response(
            {
                "success": True,
                "data": [self.product_item(p) for p in page],
                "pagination": {
                    "total": len(products),
                    "limit": limit,
                    "offset": offset,
                    "hasMore": offset + len(page) < len(products),
                },
            }
        )

    def _product(self, value: Any) -> Product | web.Response:
        product_id = _int(value)
        if product_id is None:
            return _error(400, "bad_request", "Parameter id is required")
        product = self.state.products.get(product_id)
        if product is None:
            return _error(404, "not_found", "Product not found")
        return product

    async def product_detail(self, request: web.Request) -> web.Response:
        product = self._product(request.query.get("id", ""))
        if isinstance(product, web.Response):
            return product
        return json_response({"success": True, "data": self.product_item(product, detail=True)})

    async def product_create(self, request: web.Request) -> web.Response:
        fields = await _fields(request)
        if fields is None:
            return _error(400, "bad_request", "Invalid JSON")
        title = str(fields.get("title") or "").strip()
        price = _int(fields.get("price", ""))
        if not title:
            return _error(400, "validation_error", "title is required")
        if price is None or price <= 0:
            return _error(400, "validation_error", "price must be a positive number")
        images = fields.get("images") or ([fields["image"]] if fields.get("image") else [])
        if not isinstance(images, list) or not all(isinstance(url, str) for url in images):
            return _error(400, "validation_error", "images must be a list of URLs")
        kind = str(fields.get("type") or "vitrina")
        if kind not in ("vitrina", "catalog"):
            return _error(400, "validation_error", "type must be vitrina or catalog")
        now = datetime.now(ALMATY)
        product = Product(
            id=max(self.state.products, default=696000) + 1,
            title=title,
            price=price,
            type=kind,
            images=list(images),
            created_at=now.strftime("%Y-%m-%dT%H:%M:%S%z"),
            width=str(fields.get("width") or ""),
            height=str(fields.get("height") or ""),
            sku=str(fields["id"]) if fields.get("id") else None,
            owner_id=_int(fields.get("ownerId", "")) or SHOP_ID,
        )
        self.state.products[product.id] = product
        return json_response({"success": True, "data": self.product_item(product, detail=True)})

    async def product_price(self, request: web.Request) -> web.Response:
        fields = await _fields(request)
        if fields is None:
            return _error(400, "bad_request", "Invalid JSON")
        product = self._product(fields.get("id", ""))
        if isinstance(product, web.Response):
            return product
        price = _int(fields.get("price", ""))
        if price is None or price <= 0:
            return _error(400, "validation_error", "price must be a positive number")
        product.price = price
        product.price_text = None
        return json_response({"success": True, "data": self.product_item(product)})

    async def not_allowed(self, request: web.Request) -> web.Response:
        return _error(405, "method_not_allowed", "Method Not Allowed")

    async def product_delete(self, request: web.Request) -> web.Response:
        product = self._product(request.query.get("id", ""))
        if isinstance(product, web.Response):
            return product
        product.deleted = True
        return json_response({"success": True, "data": {"id": product.id, "deleted": True}})

    # ---- shops, customers ---------------------------------------------------------------------

    async def shops(self, request: web.Request) -> web.Response:
        return json_response({"success": True, "data": self.state.shops})

    async def customers(self, request: web.Request) -> web.Response:
        customers = sorted(self.state.customers.values(), key=lambda c: c.id)
        return json_response(
            {"success": True, "status": True, "data": [self.customer_item(c) for c in customers]}
        )

    async def customer_orders(self, request: web.Request) -> web.Response:
        customer_id = _int(request.query.get("CUSTOMER_ID", ""))
        if customer_id is None:
            return _error(400, "bad_request", "CUSTOMER_ID is required")
        orders = sorted(
            (o for o in self.state.orders.values() if o.customer_id == customer_id),
            key=lambda o: o.id,
            reverse=True,
        )
        return json_response({"success": True, "data": [self.order_item(o) for o in orders]})

    async def customers_with_stats(self, request: web.Request) -> web.Response:
        return web.Response(
            status=500,
            text="<html><body><h1>500 Internal Server Error</h1></body></html>",
            content_type="text/html",
        )


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"
