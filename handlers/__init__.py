"""One router per feature, built fresh for every Dispatcher."""

from __future__ import annotations

from aiogram import Router

from handlers import (
    alerts,
    catalog,
    colleagues,
    errors,
    fallback,
    groups,
    inventory,
    invoice_photo,
    language,
    orders,
    profile,
    shop,
    showcase,
    start,
    stocktake,
)


def get_routers() -> list[Router]:
    return [
        colleagues.get_start_router(),  # /start <invitation>, before the plain /start
        start.get_router(),
        invoice_photo.get_router(),  # a photo in /delivery, before any other photo handler
        orders.get_router(),
        inventory.get_router(),
        stocktake.get_router(),
        alerts.get_router(),
        colleagues.get_router(),
        profile.get_router(),
        shop.get_router(),
        language.get_router(),
        catalog.get_router(),
        catalog.get_customer_router(),
        showcase.get_router(),
        groups.get_router(),
        fallback.get_router(),
        errors.get_router(),
    ]
