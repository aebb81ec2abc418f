"""cvety.kz API v2: orders, statuses, products, shops, customers, uploads.

Paths are relative to CVETY_API_URL (which ends in /api/v2); the token goes in the query string
as the specification says. Every method returns normalised models from `services.models` and
raises only `services.errors`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from services.http import ApiTransport
from services.models import (
    AllowedStatuses,
    Customer,
    DeleteResult,
    Order,
    Page,
    Product,
    Shop,
    StatusChange,
    UploadResult,
)
from services.parsing import normalize_status
from services.parsing import site_origin as origin_of_url

MAX_IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})

# The spec filters orders by key (`status=accepted`); our callers speak in codes.
_STATUS_FILTER_KEYS = {
    "N": "new",
    "PD": "paid",
    "AP": "accepted",
    "CO": "assembled",
    "DE": "in_delivery",
    "F": "completed",
    "UN": "cancelled",
    "RF": "refunded",
}


def _flag(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


class CvetyApi:
    def __init__(self, client: httpx.AsyncClient, token: str, *, site_origin: str | None = None) -> None:
        self._http = ApiTransport(client, backend="cvety", token=token, auth="query")
        # Images are served by the site (https://cvety.kz/upload/...), not under /api/v2.
        self.site_origin = site_origin if site_origin is not None else _origin_of(client)

    # --- orders --------------------------------------------------------------------------------

    async def list_orders(self, status: str | None = None, limit: int = 20, offset: int = 0) -> Page[Order]:
        """A page of orders, newest first as the server sends them. The server's status filter is
        unreliable, so the page is filtered again here (`total`/`has_more` stay the server's)."""
        wanted = normalize_status(status) if status else None
        params = {
            "status": _STATUS_FILTER_KEYS.get(wanted, status) if wanted else None,
            "limit": limit,
            "offset": offset,
        }
        response = await self._http.request("GET", "orders", params=params)
        page = response.parse(
            lambda data: Order.page_from_api(
                data, response.pagination, origin=self.site_origin, limit=limit, offset=offset
            )
        )
        if wanted is None:
            return page
        return dataclasses.replace(page, items=[order for order in page.items if order.status == wanted])

    async def get_order(self, order_id: int) -> Order:
        response = await self._http.request("GET", "orders/detail", params={"id": order_id})
        return response.parse(lambda data: Order.from_api(data, origin=self.site_origin))

    async def allowed_statuses(self, order_id: int) -> AllowedStatuses:
        response = await self._http.request("GET", "order/allowed-statuses", params={"id": order_id})
        return response.parse(AllowedStatuses.from_api)

    async def change_status(
        self, order_id: int, status_code: str, comment: str | None = None
    ) -> StatusChange:
        """May raise ApiUnknownOutcome: re-read the order before telling anyone anything."""
        form = {"id": str(order_id), "statusId": normalize_status(status_code)}
        if comment:
            form["comment"] = comment
        response = await self._http.request("POST", "order/change-status", data=form)
        return response.parse(StatusChange.from_api)

    # --- products ------------------------------------------------------------------------------

    async def list_products(
        self,
        type: str | None = None,
        is_available: bool | None = None,
        search: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> Page[Product]:
        params = {
            "type": type,
            "isAvailable": _flag(is_available),
            "search": search or None,
            "limit": limit,
            "offset": offset,
        }
        response = await self._http.request("GET", "products", params=params)
        return response.parse(
            lambda data: Product.page_from_api(
                data, response.pagination, origin=self.site_origin, limit=limit, offset=offset
            )
        )

    async def get_product(self, product_id: int) -> Product:
        response = await self._http.request("GET", "products/detail", params={"id": product_id})
        return response.parse(lambda data: Product.from_api(data, origin=self.site_origin))

    async def create_product(
        self,
        sku: str,
        title: str,
        price: int,
        owner_id: int,
        images: list[str] | None = None,
        **extra: Any,
    ) -> Product | dict[str, Any]:
        """The created product, or the server's raw answer when it is not a product (the endpoint
        is marked "needs setup" in the spec and its answer is undocumented)."""
        body: dict[str, Any] = {"id": sku, "title": title, "price": price, "ownerId": owner_id, **extra}
        if images:
            body["images"] = images
        response = await self._http.request("POST", "product/create", json=body)
        try:
            return Product.from_api(response.data, origin=self.site_origin)
        except ValueError:
            return response.data if isinstance(response.data, dict) else {"result": response.data}

    async def update_product_price(self, product_id: int, price: int) -> dict[str, Any]:
        return await self._product_write("product/price", {"id": product_id, "price": price})

    async def update_product_status(self, product_id: int, is_available: bool) -> dict[str, Any]:
        """The spec records 405 for this endpoint: expect ApiNotSupported."""
        body = {"id": product_id, "isAvailable": is_available}
        return await self._product_write("product/update-status", body)

    async def update_product_properties(self, product_id: int, **properties: Any) -> dict[str, Any]:
        """E.g. width=, height=. The spec records 405 for this endpoint: expect ApiNotSupported."""
        return await self._product_write("product/properties", {"id": product_id, **properties})

    async def _product_write(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._http.request("POST", path, json=body)
        return response.data if isinstance(response.data, dict) else {}

    async def delete_product(self, product_id: int) -> DeleteResult:
        """Soft delete: the product is deactivated."""
        response = await self._http.request("DELETE", "products/delete", params={"id": product_id})
        if response.data is None:
            return DeleteResult(id=str(product_id), deleted=True)
        return response.parse(DeleteResult.from_api)

    # --- shops and customers -------------------------------------------------------------------

    async def list_shops(self) -> list[Shop]:
        response = await self._http.request("GET", "shop/list")
        return response.parse(Shop.list_from_api)

    async def list_customers(self, limit: int | None = None, offset: int | None = None) -> list[Customer]:
        # The trailing slash is the server's own spelling of this path.
        response = await self._http.request("GET", "customers/", params={"limit": limit, "offset": offset})
        return response.parse(Customer.list_from_api)

    async def customer_orders(self, customer_id: int) -> list[Order]:
        response = await self._http.request(
            "GET", "customers/orders.php", params={"CUSTOMER_ID": customer_id}
        )
        return response.parse(lambda data: Order.list_from_api(data, origin=self.site_origin))

    # --- uploads -------------------------------------------------------------------------------

    async def upload_images(self, files: list[tuple[str, bytes, str]]) -> UploadResult:
        """Upload (filename, bytes, content type) images; JPEG/PNG/WebP up to 10 MB each.

        One file goes as `file` (the spec's field); several go as repeated `images[]`, which the
        server also accepts: PHP keeps only the last of several parts that share a name without [].
        """
        if not files:
            raise ValueError("no images to upload")
        for name, content, content_type in files:
            if content_type not in IMAGE_TYPES:
                raise ValueError(f"{name}: only JPEG, PNG or WebP images")
            if len(content) > MAX_IMAGE_BYTES:
                raise ValueError(f"{name}: larger than 10 MB")
        field_name = "file" if len(files) == 1 else "images[]"
        parts = [(field_name, file) for file in files]
        response = await self._http.request("POST", "uploads/images", files=parts)
        return response.parse(
            lambda body: UploadResult.from_api(body, origin=self.site_origin), whole_body=True
        )


def _origin_of(client: httpx.AsyncClient) -> str | None:
    return origin_of_url(str(client.base_url)) or None
