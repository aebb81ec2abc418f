"""The order rules alone: who may move an order where, which tabs and orders a role sees."""

from __future__ import annotations

from datetime import date, time

import pytest

from services.models import AllowedStatuses, Order
from services.orders import (
    COURIER_TABS,
    STAFF_TABS,
    actions_for,
    delivery_sort_key,
    is_open,
    may_change,
    may_view,
    photo_comment,
    photo_url_in,
    tabs_for,
)
from services.parsing import decode_delivery_slot
from services.roles import Role

R = Role
HAPPY_PATH = [("N", "PD"), ("N", "AP"), ("PD", "AP"), ("AP", "CO"), ("CO", "DE"), ("DE", "F")]
EXPECTED = {
    R.OWNER: {"N>PD", "N>AP", "PD>AP", "AP>CO", "CO>DE", "DE>F"},
    R.SENIOR: {"N>PD", "N>AP", "PD>AP", "AP>CO", "CO>DE", "DE>F"},
    R.FLORIST: {"N>AP", "PD>AP", "AP>CO"},
    R.ASSISTANT: set(),
    R.COURIER: {"CO>DE", "DE>F"},
}


@pytest.mark.parametrize("role", list(Role))
def test_transition_table_of_design_md(role):
    allowed = {f"{a}>{b}" for a, b in HAPPY_PATH if may_change(role, a, b)}
    assert allowed == EXPECTED[role]


@pytest.mark.parametrize("role", list(Role))
def test_cancel_and_unknown_codes_only_for_owners_and_seniors(role):
    managers = role in (R.OWNER, R.SENIOR)
    assert may_change(role, "AP", "UN") is managers
    assert may_change(role, "DE", "TR") is managers
    assert may_change(role, "TR", "DE") is managers


def test_no_move_to_the_same_or_an_empty_status():
    assert not may_change(R.OWNER, "AP", "AP")
    assert not may_change(R.OWNER, "AP", "")


def test_buttons_are_server_allowed_intersected_with_the_role():
    allowed = AllowedStatuses(order_id=1, current="CO", allowed=["DE", "UN", "RO"])
    assert actions_for(R.COURIER, allowed) == ["DE"]
    assert actions_for(R.FLORIST, allowed) == []
    assert actions_for(R.OWNER, allowed) == ["DE", "UN", "RO"]
    # the role may, but the server does not allow it now: no button
    assert actions_for(R.FLORIST, AllowedStatuses(order_id=1, current="N", allowed=["UN"])) == []


def order(status: str, **fields) -> Order:
    return Order(id=fields.pop("id", 1), number="1", status=status, **fields)


def test_open_means_not_closed_and_unknown_codes_are_open():
    assert all(is_open(s) for s in ("N", "PD", "AP", "CO", "DE", "TR", "RO"))
    assert not any(is_open(s) for s in ("F", "UN", "RF", ""))


def test_who_sees_which_order():
    assert may_view(R.OWNER, order("F"))
    assert may_view(R.FLORIST, order("AP")) and not may_view(R.FLORIST, order("F"))
    assert may_view(R.COURIER, order("CO"))
    assert not may_view(R.COURIER, order("DE")) and may_view(R.COURIER, order("DE"), took_it=True)
    assert not may_view(R.COURIER, order("N"))


def test_tabs_by_role():
    assert tabs_for(R.FLORIST) == STAFF_TABS == tabs_for(R.OWNER) == tabs_for(R.ASSISTANT)
    assert tabs_for(R.COURIER) == COURIER_TABS


def test_nearest_delivery_first():
    today = date(2026, 3, 8)
    orders = [
        order("CO", id=1, delivery_date=today, delivery_slot=decode_delivery_slot("3")),
        order("CO", id=2, delivery_date=None),
        order("CO", id=3, delivery_date=today, delivery_slot=decode_delivery_slot("0")),
        order("CO", id=4, delivery_date=today, delivery_slot=decode_delivery_slot("1")),
        order("CO", id=5, delivery_date=date(2026, 3, 7), delivery_slot=decode_delivery_slot("4")),
    ]
    assert [o.id for o in sorted(orders, key=delivery_sort_key)] == [5, 3, 4, 1, 2]
    assert delivery_sort_key(orders[0])[1] == time(16)


def test_photo_url_round_trips_through_the_comment():
    assert photo_url_in(photo_comment("https://x/upload/a.jpg")) == "https://x/upload/a.jpg"
    assert photo_url_in(photo_comment("https://x/a.png", "Собран")) == "https://x/a.png"
    assert photo_url_in("Клиент отказался") is None and photo_url_in(None) is None


def test_a_status_code_that_cannot_travel_in_a_button_leaves_only_the_others():
    from services.models import Order
    from services.orders import OrderCard
    from views.i18n import make_i18n
    from views.orders import card_keyboard

    weird = "В:ОБРАБОТКЕ-У-МЕНЕДЖЕРА-МАГАЗИНА"  # a separator, and far over 64 bytes packed
    i18n = make_i18n()
    with i18n.context(), i18n.use_locale("ru"):
        odd = card_keyboard(OrderCard(Order(id=1, number="1", status=weird), None), ["AP"], courier=False)
        fine = card_keyboard(OrderCard(Order(id=1, number="1", status="N"), None), ["AP"], courier=False)
    assert [row[0].text for row in odd.inline_keyboard] == ["🔄 Обновить"]
    assert len(fine.inline_keyboard) == 2


def test_a_typed_cancel_reason_is_tidied_and_bounded():
    from services.orders import REASON_MAX, BadReason, cancel_reason

    assert cancel_reason("  Получатель   переехал \n") == "Получатель переехал"
    for text in ("а", "  ab  ", "x" * (REASON_MAX + 1)):
        with pytest.raises(BadReason):
            cancel_reason(text)


def test_a_courier_opens_orders_on_their_own_deliveries():
    from services.orders import Tab

    assert tabs_for(R.COURIER)[0] is Tab.MINE and Tab.READY in tabs_for(R.COURIER)


async def test_a_cancel_without_a_reason_is_forbidden_before_any_call():
    from zoneinfo import ZoneInfo

    from services.orders import ChangeOutcome, OrderService

    orders = OrderService(None, None, tz=ZoneInfo("Asia/Almaty"))  # type: ignore[arg-type]  # never called
    result = await orders.change_status(actor_id=1, role=R.OWNER, order_id=1, expected="AP", target="UN")
    assert result.outcome is ChangeOutcome.FORBIDDEN
