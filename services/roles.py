"""Who may do what (design.md, «Roles»). The only place that answers permission questions."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    SENIOR = "senior"
    FLORIST = "florist"
    ASSISTANT = "assistant"
    COURIER = "courier"


class Permission(StrEnum):
    ORDERS_VIEW_ALL = "orders_view_all"
    ORDERS_VIEW_OPEN = "orders_view_open"
    ORDERS_VIEW_COURIER = "orders_view_courier"  # assembled + own deliveries
    ORDERS_ACCEPT_ASSEMBLE = "orders_accept_assemble"
    ORDERS_DELIVER = "orders_deliver"
    ORDERS_CANCEL_AND_OTHER = "orders_cancel_and_other"
    STOCK_VIEW = "stock_view"
    STOCK_WRITE = "stock_write"  # deliveries and write-offs
    STOCKTAKE = "stocktake"
    COLLEAGUES_VIEW = "colleagues_view"
    COLLEAGUES_MANAGE = "colleagues_manage"
    PROFILE = "profile"
    SHOP_VIEW = "shop_view"
    SHOP_EDIT = "shop_edit"
    ALERTS_RECEIVE = "alerts_receive"
    ALERTS_OPT_IN = "alerts_opt_in"
    CATALOG_VIEW = "catalog_view"
    SHOWCASE_EDIT = "showcase_edit"


P = Permission
_EVERYONE = {P.PROFILE, P.SHOP_VIEW}
_STOCK = {P.STOCK_VIEW, P.STOCK_WRITE, P.CATALOG_VIEW}
_MANAGERS = (
    _EVERYONE
    | _STOCK
    | {
        P.ORDERS_VIEW_ALL,
        P.ORDERS_ACCEPT_ASSEMBLE,
        P.ORDERS_DELIVER,
        P.ORDERS_CANCEL_AND_OTHER,
        P.STOCKTAKE,
        P.COLLEAGUES_VIEW,
        P.COLLEAGUES_MANAGE,
        P.ALERTS_RECEIVE,
        P.SHOWCASE_EDIT,
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(_MANAGERS | {P.SHOP_EDIT}),
    Role.SENIOR: frozenset(_MANAGERS),
    Role.FLORIST: frozenset(
        _EVERYONE | _STOCK | {P.ORDERS_VIEW_OPEN, P.ORDERS_ACCEPT_ASSEMBLE, P.ALERTS_OPT_IN, P.SHOWCASE_EDIT}
    ),
    Role.ASSISTANT: frozenset(_EVERYONE | _STOCK | {P.ORDERS_VIEW_OPEN}),
    Role.COURIER: frozenset(_EVERYONE | {P.ORDERS_VIEW_COURIER, P.ORDERS_DELIVER}),
}


def parse_role(value: str) -> Role:
    """A role from its name; raises ValueError naming the valid ones."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        valid = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {value!r}; expected one of: {valid}") from None


def can(role: Role | str, permission: Permission) -> bool:
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False  # a role from an older version or a typo in the database grants nothing


def can_manage(actor: Role | str, target: Role | str) -> bool:
    """A senior manages everyone but owners and cannot make owners; an owner manages all."""
    if not can(actor, P.COLLEAGUES_MANAGE):
        return False
    return Role(actor) is Role.OWNER or Role(target) is not Role.OWNER
