"""The shop's CRM API stand-in (FastAPI in production), mounted at `/crm`.

No authentication (any `Authorization` header is accepted). Errors as FastAPI gives them:
validation -> HTTP 422 `{"detail": [{"type", "loc": ["body", ...], "msg", "input"}]}`; the
service's own refusals (unknown id, not enough stock, a taken phone) -> HTTP **500** with
`{"detail": "404: Flower not found"}` / `{"detail": "400: Insufficient stock: 3 available"}`,
because the real service wraps its HTTPExceptions in a 500.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date
from typing import Any, Literal, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sandbox.responses import json_response, parse_bool, parse_int
from sandbox.state import (
    PROFILE_POSITIONS,
    Colleague,
    Flower,
    Movement,
    SandboxError,
    SandboxState,
    StockItem,
    normalize_kz_phone,
)

Position = Literal["owner", "senior", "florist", "assistant", "director", "manager", "seller", "courier"]
ProfilePosition = Literal["owner", "senior", "florist", "assistant"]
M = TypeVar("M", bound=BaseModel)


class Unprocessable(Exception):
    """A FastAPI-style 422."""

    def __init__(self, detail: list[dict[str, Any]]) -> None:
        super().__init__("validation error")
        self.detail = detail


def _phone(value: str | None) -> str | None:
    return None if value is None else normalize_kz_phone(value)


class FlowerDelivery(BaseModel):
    flower_id: str | int
    quantity: int = Field(gt=0)
    supplier: str | None = None
    price: float | None = Field(default=None, ge=0)
    delivery_date: date | None = None
    note: str | None = None


class FlowerWriteOff(BaseModel):
    flower_id: str | int
    quantity: int = Field(gt=0)
    reason: str = Field(min_length=1)
    note: str | None = None


class InventoryUpdate(BaseModel):
    product_id: str | int
    quantity: int = Field(ge=0)
    note: str | None = None


class BulkUpdate(BaseModel):
    updates: list[InventoryUpdate]


class InventoryMove(BaseModel):
    """Inventory delivery / write-off: the spec sends `flower_id`, products use `product_id`."""

    flower_id: str | int | None = None
    product_id: str | int | None = None
    quantity: int = Field(gt=0)
    supplier: str | None = None
    price: float | None = Field(default=None, ge=0)
    delivery_date: date | None = None
    reason: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _has_id(self) -> InventoryMove:
        if self.flower_id is None and self.product_id is None:
            raise ValueError("flower_id or product_id is required")
        return self

    @property
    def item_id(self) -> str | int:
        return self.product_id if self.product_id is not None else self.flower_id or ""


class ProfileUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=2, max_length=255)
    phone: str | None = None
    position: ProfilePosition | None = None
    bio: str | None = Field(default=None, max_length=1000)

    _check_phone = field_validator("phone")(_phone)


class SocialMedia(BaseModel):
    instagram: str | None = None
    whatsapp: str | None = None
    telegram: str | None = None


class ShopInfoUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=2, max_length=255)
    address: str | None = Field(default=None, max_length=500)
    phone: str | None = Field(default=None, max_length=50)
    working_hours: str | None = Field(default=None, max_length=255)
    city: str | None = Field(default=None, max_length=100)
    social_media: SocialMedia | None = None


class ColleagueIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    name: str = Field(min_length=2, max_length=255)
    phone: str
    position: Position = "florist"
    is_active: bool = Field(default=True, alias="isActive")

    _check_phone = field_validator("phone")(_phone)


class ColleaguePatch(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    name: str | None = Field(default=None, min_length=2, max_length=255)
    phone: str | None = None
    position: Position | None = None
    is_active: bool | None = Field(default=None, alias="isActive")

    _check_phone = field_validator("phone")(_phone)


async def _body(request: web.Request, model: type[M]) -> M:
    raw = await request.read()
    try:
        payload = json.loads(raw or b"null")
    except ValueError as exc:
        raise Unprocessable(
            [
                {
                    "type": "json_invalid",
                    "loc": ["body", 0],
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": str(exc)},
                }
            ]
        ) from exc
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        errors = json.loads(exc.json(include_url=False))
        raise Unprocessable([{**error, "loc": ["body", *error["loc"]]} for error in errors]) from exc


def _path_id(request: web.Request) -> int:
    text = request.match_info["colleague_id"]
    try:
        return int(text)
    except ValueError:
        raise Unprocessable(
            [
                {
                    "type": "int_parsing",
                    "loc": ["path", "colleague_id"],
                    "msg": "Input should be a valid integer, unable to parse string as an integer",
                    "input": text,
                }
            ]
        ) from None


def _stock_json(item: StockItem) -> dict[str, Any]:
    data: dict[str, Any] = {"id": item.id, "name": item.name, "quantity": item.quantity, "price": item.price}
    if isinstance(item, Flower):
        data["name_en"] = item.name_en
    else:
        data["unit"] = item.unit
    return data


def _movement_json(movement: Movement) -> dict[str, Any]:
    return {
        "id": movement.id,
        "flower_id": movement.item_id,
        "product_name": movement.product_name,
        "movement_type": movement.movement_type,
        "quantity": movement.quantity,
        "delivery_date": movement.delivery_date.isoformat() if movement.delivery_date else None,
        "supplier": movement.supplier,
        "price": movement.price,
        "reason": movement.reason,
        "note": movement.note,
        "order_id": movement.order_id,
        "created_at": movement.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _colleague_json(colleague: Colleague) -> dict[str, Any]:
    return {
        "id": colleague.id,
        "name": colleague.name,
        "phone": colleague.phone,
        "position": colleague.position,
        "isActive": colleague.is_active,
        "joinedDate": colleague.joined.isoformat(),
    }


class CrmApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.errors], client_max_size=32 * 1024 * 1024)
        r = app.router
        r.add_get("/api/flowers", self.flowers)
        r.add_get("/api/flowers/search", self.flower_search)
        r.add_post("/api/flowers/delivery", self.flower_delivery)
        r.add_post("/api/flowers/writeoff", self.flower_writeoff)
        r.add_post("/api/inventory/update", self.inventory_update)
        r.add_post("/api/inventory/bulk-update", self.inventory_bulk_update)
        r.add_get("/api/inventory/low-stock", self.low_stock)
        r.add_post("/api/inventory/delivery", self.inventory_delivery)
        r.add_post("/api/inventory/writeoff", self.inventory_writeoff)
        r.add_get("/api/inventory/history", self.history)
        r.add_get("/api/v2/profile", self.profile)
        r.add_put("/api/v2/profile", self.profile_update)
        r.add_get("/api/v2/shop-info", self.shop_info)
        r.add_put("/api/v2/shop-info", self.shop_info_update)
        r.add_get("/api/v2/colleagues", self.colleagues)
        r.add_post("/api/v2/colleagues", self.colleague_create)
        r.add_put("/api/v2/colleagues/{colleague_id}", self.colleague_update)
        r.add_patch("/api/v2/colleagues/{colleague_id}/toggle", self.colleague_toggle)
        r.add_delete("/api/v2/colleagues/{colleague_id}", self.colleague_delete)
        return app

    @web.middleware
    async def errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except Unprocessable as exc:
            return json_response({"detail": exc.detail}, 422)
        except SandboxError as exc:
            return json_response({"detail": f"{exc.status}: {exc.message}"}, 500)

    # ---- flowers ------------------------------------------------------------------------------

    def _active_flowers(self) -> list[Flower]:
        return sorted((f for f in self.state.flowers.values() if f.is_active), key=lambda f: f.name)

    async def flowers(self, request: web.Request) -> web.Response:
        return json_response(
            [
                {
                    "id": f.id,
                    "name": f.name,
                    "name_en": f.name_en,
                    "quantity": f.quantity,
                    "price": f.price,
                    "unit": "шт",
                    "is_active": True,
                }
                for f in self._active_flowers()
            ]
        )

    async def flower_search(self, request: web.Request) -> web.Response:
        query = request.query.get("q", "").strip().casefold()
        limit = parse_int(request.query.get("limit"), 20, minimum=1, maximum=100)
        found = [
            f for f in self._active_flowers() if query in f.name.casefold() or query in f.name_en.casefold()
        ]
        return json_response(
            [
                {"id": f.id, "name": f.name, "name_en": f.name_en, "quantity": f.quantity}
                for f in found[:limit]
            ]
        )

    async def flower_delivery(self, request: web.Request) -> web.Response:
        body = await _body(request, FlowerDelivery)
        flower = self.state.flower(body.flower_id)
        previous = self.state.receive(
            flower,
            body.quantity,
            supplier=body.supplier,
            price=body.price,
            delivery_date=body.delivery_date,
            note=body.note,
        )
        return json_response(
            {
                "success": True,
                "message": f"Поставка добавлена: {flower.name} +{body.quantity}",
                "flower_id": flower.id,
                "previous_quantity": previous,
                "added_quantity": body.quantity,
                "new_quantity": flower.quantity,
            }
        )

    async def flower_writeoff(self, request: web.Request) -> web.Response:
        body = await _body(request, FlowerWriteOff)
        flower = self.state.flower(body.flower_id)
        previous = self.state.write_off(flower, body.quantity, reason=body.reason, note=body.note)
        return json_response(
            {
                "success": True,
                "message": f"Списано: {flower.name} −{body.quantity}",
                "flower_id": flower.id,
                "previous_quantity": previous,
                "writeoff_quantity": body.quantity,
                "new_quantity": flower.quantity,
                "reason": body.reason,
            }
        )

    # ---- inventory ----------------------------------------------------------------------------

    async def inventory_update(self, request: web.Request) -> web.Response:
        body = await _body(request, InventoryUpdate)
        item = self.state.stock_item(body.product_id)
        previous = self.state.set_quantity(item, body.quantity, body.note)
        return json_response(
            {
                "success": True,
                "product_id": item.id,
                "old_quantity": previous,
                "new_quantity": item.quantity,
                "change": item.quantity - previous,
            }
        )

    async def inventory_bulk_update(self, request: web.Request) -> web.Response:
        body = await _body(request, BulkUpdate)
        updated: list[dict[str, Any]] = []
        errors: list[str] = []
        for update in body.updates:
            try:
                item = self.state.stock_item(update.product_id)
            except SandboxError as exc:
                errors.append(f"{update.product_id}: {exc.message}")
                continue
            previous = self.state.set_quantity(item, update.quantity, update.note)
            updated.append(
                {
                    "product_id": item.id,
                    "name": item.name,
                    "old_quantity": previous,
                    "new_quantity": item.quantity,
                }
            )
        return json_response(
            {"success": True, "updated_count": len(updated), "updated_products": updated, "errors": errors}
        )

    async def low_stock(self, request: web.Request) -> web.Response:
        threshold = parse_int(request.query.get("threshold"), 5)
        products = [
            _stock_json(m)
            for m in sorted(self.state.materials.values(), key=lambda m: m.id)
            if 0 < m.quantity <= threshold
        ]
        return json_response(
            {"success": True, "threshold": threshold, "count": len(products), "products": products}
        )

    async def inventory_delivery(self, request: web.Request) -> web.Response:
        body = await _body(request, InventoryMove)
        item = self.state.stock_item(body.item_id)
        self.state.receive(
            item,
            body.quantity,
            supplier=body.supplier,
            price=body.price,
            delivery_date=body.delivery_date,
            note=body.note,
        )
        return json_response(
            {
                "success": True,
                "message": f"Поставка принята: {item.name} +{body.quantity}",
                "product": _stock_json(item),
            }
        )

    async def inventory_writeoff(self, request: web.Request) -> web.Response:
        body = await _body(request, InventoryMove)
        item = self.state.stock_item(body.item_id)
        self.state.write_off(item, body.quantity, reason=body.reason or "Списание", note=body.note)
        return json_response(
            {
                "success": True,
                "message": f"Списано: {item.name} −{body.quantity}",
                "product": _stock_json(item),
            }
        )

    async def history(self, request: web.Request) -> web.Response:
        item_id = request.query.get("flower_id") or None
        limit = parse_int(request.query.get("limit"), 50, minimum=1, maximum=500)
        movements = [_movement_json(m) for m in self.state.history(item_id, limit)]
        return json_response({"success": True, "count": len(movements), "movements": movements})

    # ---- profile, shop info -------------------------------------------------------------------

    def _profile_json(self) -> dict[str, Any]:
        return {**self.state.profile, "can_edit": True, "positions": list(PROFILE_POSITIONS)}

    async def profile(self, request: web.Request) -> web.Response:
        return json_response({"success": True, "data": self._profile_json()})

    async def profile_update(self, request: web.Request) -> web.Response:
        body = await _body(request, ProfileUpdate)
        self.state.profile.update(body.model_dump(exclude_unset=True, exclude_none=True))
        return json_response({"success": True, "data": self._profile_json()})

    async def shop_info(self, request: web.Request) -> web.Response:
        return json_response({"success": True, "data": self.state.shop_info})

    async def shop_info_update(self, request: web.Request) -> web.Response:
        body = await _body(request, ShopInfoUpdate)
        changes = body.model_dump(exclude_unset=True)
        social = changes.pop("social_media", None)
        self.state.shop_info.update(changes)
        if social:
            self.state.shop_info["social_media"] = {**self.state.shop_info.get("social_media", {}), **social}
        return json_response({"success": True, "data": self.state.shop_info})

    # ---- colleagues ---------------------------------------------------------------------------

    async def colleagues(self, request: web.Request) -> web.Response:
        """Unfiltered: `{data: {items, position_stats, total}}`; filtered: `{data: [...]}` (both occur)."""
        is_active = parse_bool(request.query.get("isActive"))
        position = request.query.get("position", "").strip()
        everyone = sorted(self.state.colleagues.values(), key=lambda c: c.id)
        chosen = [
            c
            for c in everyone
            if (is_active is None or c.is_active == is_active) and (not position or c.position == position)
        ]
        limit = parse_int(request.query.get("limit"), 200, minimum=1, maximum=1000)
        offset = parse_int(request.query.get("offset"), 0)
        page = [_colleague_json(c) for c in chosen[offset : offset + limit]]
        if is_active is not None or position:
            return json_response({"success": True, "data": page})
        stats = dict(Counter(c.position for c in everyone))
        return json_response(
            {"success": True, "data": {"items": page, "position_stats": stats, "total": len(everyone)}}
        )

    async def colleague_create(self, request: web.Request) -> web.Response:
        body = await _body(request, ColleagueIn)
        self.state.check_phone_free(body.phone)
        colleague = Colleague(
            id=max(self.state.colleagues, default=0) + 1,
            name=body.name.strip(),
            phone=body.phone,
            position=body.position,
            is_active=body.is_active,
            joined=self.state.now().date(),
        )
        self.state.colleagues[colleague.id] = colleague
        return json_response({"success": True, "data": _colleague_json(colleague)}, 201)

    async def colleague_update(self, request: web.Request) -> web.Response:
        colleague = self.state.colleague(_path_id(request))
        body = await _body(request, ColleaguePatch)
        if body.phone is not None:
            self.state.check_phone_free(body.phone, except_id=colleague.id)
            colleague.phone = body.phone
        if body.name is not None:
            colleague.name = body.name.strip()
        if body.position is not None:
            colleague.position = body.position
        if body.is_active is not None:
            colleague.is_active = body.is_active
        return json_response({"success": True, "data": _colleague_json(colleague)})

    async def colleague_toggle(self, request: web.Request) -> web.Response:
        colleague = self.state.colleague(_path_id(request))
        colleague.is_active = not colleague.is_active
        return json_response({"success": True, "data": _colleague_json(colleague)})

    async def colleague_delete(self, request: web.Request) -> web.Response:
        colleague = self.state.colleague(_path_id(request))
        del self.state.colleagues[colleague.id]
        return json_response({"success": True, "data": {"id": colleague.id, "deleted": True}})
