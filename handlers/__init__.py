"""One router per feature, built fresh for every Dispatcher."""

from __future__ import annotations

from aiogram import Router

from handlers import alerts, errors, fallback, inventory, orders, start, stocktake


def get_routers() -> list[Router]:
    return [
        start.get_router(),
        orders.get_router(),
        inventory.get_router(),
        stocktake.get_router(),
        alerts.get_router(),
        fallback.get_router(),
        errors.get_router(),
    ]
