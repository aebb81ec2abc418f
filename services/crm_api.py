"""The shop's CRM API (FastAPI): flowers, inventory, profile, shop info, colleagues.

Paths are relative to CRM_API_URL, which may itself carry a prefix (http://host/crm). A token,
when configured, goes in `Authorization: Bearer`.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

import httpx

from services.http import ApiTransport
from services.models import (
    BulkUpdateResult,
    Colleague,
    ColleagueList,
    DeleteResult,
    Flower,
    FlowerDelivery,
    FlowerWriteOff,
    InventoryChange,
    InventoryUpdate,
    LowStockReport,
    Movement,
    Profile,
    ShopInfo,
)
from services.parsing import site_origin

# Our snake_case names → the colleague API's field names.
_COLLEAGUE_FIELDS = {"is_active": "isActive"}


def _without_none(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def _colleague_path(colleague_id: str) -> str:
    # quoted so that an id can never step out of /api/v2/colleagues/
    return f"api/v2/colleagues/{quote(str(colleague_id), safe='')}"


class CrmApi:
    def __init__(self, client: httpx.AsyncClient, token: str | None = None) -> None:
        self._http = ApiTransport(client, backend="crm", token=token, auth="bearer")
        self._origin = site_origin(str(client.base_url)) or None

    # --- flowers -------------------------------------------------------------------------------

    async def search_flowers(self, q: str, limit: int = 20) -> list[Flower]:
        response = await self._http.request("GET", "api/flowers/search", params={"q": q, "limit": limit})
        return response.parse(Flower.list_from_api)

    async def list_flowers(self) -> list[Flower]:
        response = await self._http.request("GET", "api/flowers")
        return response.parse(Flower.list_from_api)

    async def flower_delivery(
        self,
        flower_id: str,
        quantity: int,
        supplier: str | None = None,
        price: int | None = None,
        delivery_date: date | None = None,
        note: str | None = None,
    ) -> FlowerDelivery:
        """May raise ApiUnknownOutcome: check the stock or history before entering it again."""
        body = _without_none(
            flower_id=flower_id,
            quantity=quantity,
            supplier=supplier,
            price=price,
            delivery_date=delivery_date.isoformat() if delivery_date else None,
            note=note,
        )
        response = await self._http.request("POST", "api/flowers/delivery", json=body)
        return response.parse(FlowerDelivery.from_api)

    async def flower_writeoff(
        self, flower_id: str, quantity: int, reason: str, note: str | None = None
    ) -> FlowerWriteOff:
        """Refused (ApiRejected) when the stock is smaller than `quantity`."""
        body = _without_none(flower_id=flower_id, quantity=quantity, reason=reason, note=note)
        response = await self._http.request("POST", "api/flowers/writeoff", json=body)
        return response.parse(FlowerWriteOff.from_api)

    # --- inventory -----------------------------------------------------------------------------

    async def inventory_update(
        self, product_id: str, quantity: int, note: str | None = None
    ) -> InventoryUpdate:
        body = _without_none(product_id=product_id, quantity=quantity, note=note)
        response = await self._http.request("POST", "api/inventory/update", json=body)
        return response.parse(InventoryUpdate.from_api)

    async def inventory_bulk_update(self, updates: list[tuple[str, int]]) -> BulkUpdateResult:
        body = {
            "updates": [{"product_id": product_id, "quantity": quantity} for product_id, quantity in updates]
        }
        response = await self._http.request("POST", "api/inventory/bulk-update", json=body)
        return response.parse(BulkUpdateResult.from_api)

    async def low_stock(self, threshold: int = 5) -> LowStockReport:
        response = await self._http.request("GET", "api/inventory/low-stock", params={"threshold": threshold})
        return response.parse(LowStockReport.from_api)

    async def inventory_delivery(
        self,
        flower_id: str,
        quantity: int,
        supplier: str | None = None,
        price: int | None = None,
        note: str | None = None,
    ) -> InventoryChange:
        body = _without_none(
            flower_id=flower_id, quantity=quantity, supplier=supplier, price=price, note=note
        )
        response = await self._http.request("POST", "api/inventory/delivery", json=body)
        return response.parse(InventoryChange.from_api)

    async def inventory_writeoff(
        self, flower_id: str, quantity: int, reason: str, note: str | None = None
    ) -> InventoryChange:
        body = _without_none(flower_id=flower_id, quantity=quantity, reason=reason, note=note)
        response = await self._http.request("POST", "api/inventory/writeoff", json=body)
        return response.parse(InventoryChange.from_api)

    async def history(self, flower_id: str | None = None, limit: int = 50) -> list[Movement]:
        """Stock movements, newest first."""
        response = await self._http.request(
            "GET", "api/inventory/history", params={"flower_id": flower_id, "limit": limit}
        )
        return response.parse(Movement.list_from_api)

    # --- profile and shop ----------------------------------------------------------------------

    async def get_profile(self) -> Profile:
        response = await self._http.request("GET", "api/v2/profile")
        return response.parse(lambda data: Profile.from_api(data, origin=self._origin))

    async def update_profile(self, name: str, phone: str, position: str, bio: str | None = None) -> Profile:
        body = _without_none(name=name, phone=phone, position=position, bio=bio)
        response = await self._http.request("PUT", "api/v2/profile", json=body)
        return response.parse(lambda data: Profile.from_api(data, origin=self._origin))

    async def get_shop_info(self) -> ShopInfo:
        response = await self._http.request("GET", "api/v2/shop-info")
        return response.parse(ShopInfo.from_api)

    async def update_shop_info(self, **fields: Any) -> ShopInfo:
        """Fields as the API names them: name, address, phone, working_hours, city, social_media."""
        response = await self._http.request("PUT", "api/v2/shop-info", json=fields)
        return response.parse(ShopInfo.from_api)

    # --- colleagues ----------------------------------------------------------------------------

    async def list_colleagues(
        self,
        is_active: bool | None = None,
        position: str | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> ColleagueList:
        params = {
            "isActive": None if is_active is None else str(is_active).lower(),
            "position": position,
            "limit": limit,
            "offset": offset,
        }
        response = await self._http.request("GET", "api/v2/colleagues", params=params)
        return response.parse(ColleagueList.from_api)

    async def create_colleague(
        self, name: str, phone: str, position: str, is_active: bool = True
    ) -> Colleague:
        body = {"name": name, "phone": phone, "position": position, "isActive": is_active}
        response = await self._http.request("POST", "api/v2/colleagues", json=body)
        return response.parse(Colleague.from_api)

    async def update_colleague(self, colleague_id: str, **fields: Any) -> Colleague:
        """Fields: name, phone, position, is_active (sent as isActive)."""
        body = {_COLLEAGUE_FIELDS.get(key, key): value for key, value in fields.items()}
        response = await self._http.request("PUT", _colleague_path(colleague_id), json=body)
        return response.parse(Colleague.from_api)

    async def toggle_colleague(self, colleague_id: str) -> Colleague:
        # An empty JSON body: PATCH carries a Content-Type like every write.
        response = await self._http.request("PATCH", f"{_colleague_path(colleague_id)}/toggle", json={})
        return response.parse(Colleague.from_api)

    async def delete_colleague(self, colleague_id: str) -> DeleteResult:
        response = await self._http.request("DELETE", _colleague_path(colleague_id))
        if response.data is None:
            return DeleteResult(id=str(colleague_id), deleted=True)
        return response.parse(DeleteResult.from_api)
