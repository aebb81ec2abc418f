"""The outbox against the sandbox CRM: nothing lost, nothing counted twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from sandbox import data
from services.crm_api import CrmApi
from services.http import make_http_client
from services.outbox import Outbox, WriteKind, WriteState, op_mark
from services.storage.db import create_engine, make_sessionmaker, migrate
from services.storage.repositories import OutboxRepository

DELIVERY = "/crm/api/flowers/delivery"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
async def outbox(sandbox, tmp_path) -> AsyncIterator[tuple[Outbox, Clock]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/outbox.db")
    await migrate(engine)
    http = make_http_client(sandbox.crm_url, read_timeout=0.3)
    clock = Clock()
    yield Outbox(OutboxRepository(make_sessionmaker(engine)), CrmApi(http), now=clock), clock
    await http.aclose()
    await engine.dispose()


def movements_with(sandbox, op_id: str) -> int:
    return sum(1 for m in sandbox.state.movements if op_mark(op_id) in (m.note or ""))


def stock(sandbox, flower_id: str) -> int:
    return sandbox.state.flowers[flower_id].quantity


async def test_a_write_goes_through_at_once_with_its_mark_in_the_note(outbox, sandbox):
    box, _ = outbox
    before = stock(sandbox, data.FLOWER_ROSE_RED)
    outcome = await box.submit(
        WriteKind.FLOWER_DELIVERY,
        {"flower_id": data.FLOWER_ROSE_RED, "quantity": 50, "note": "утро"},
        created_by=1003,
        chat_id=1003,
    )
    assert outcome.state is WriteState.DONE and not outcome.retried
    assert stock(sandbox, data.FLOWER_ROSE_RED) == before + 50
    assert movements_with(sandbox, outcome.op_id) == 1
    assert outcome.payload["note"] == f"утро {op_mark(outcome.op_id)}"
    assert await box.pending() == []


async def test_crm_down_then_up_writes_exactly_once(outbox, sandbox):
    box, clock = outbox
    before = stock(sandbox, data.FLOWER_ROSE_RED)
    sandbox.faults.add("POST", DELIVERY, status=503, times=2)
    outcome = await box.submit(
        WriteKind.FLOWER_DELIVERY,
        {"flower_id": data.FLOWER_ROSE_RED, "quantity": 30},
        created_by=1003,
        chat_id=1003,
    )
    assert outcome.state is WriteState.QUEUED
    assert await box.retry_due() == []  # not due yet
    clock.advance(seconds=6)
    assert await box.retry_due() == []  # second failure: backs off further
    clock.advance(seconds=6)
    assert await box.retry_due() == []
    clock.advance(seconds=20)
    [done] = await box.retry_due()
    assert done.state is WriteState.DONE and done.retried and done.chat_id == 1003
    assert stock(sandbox, data.FLOWER_ROSE_RED) == before + 30
    assert movements_with(sandbox, outcome.op_id) == 1
    [again] = await box.retry_due()  # the person was not told yet (a crash came in between)
    assert again.op_id == done.op_id and again.state is WriteState.DONE
    assert movements_with(sandbox, outcome.op_id) == 1
    await box.told(done.op_id)
    clock.advance(minutes=30)
    assert await box.retry_due() == []


async def test_timeout_whose_write_landed_is_not_sent_again(outbox, sandbox):
    box, clock = outbox
    before = stock(sandbox, data.FLOWER_ROSE_RED)
    sandbox.faults.add("POST", DELIVERY, apply_then_hang=True, times=1)
    outcome = await box.submit(
        WriteKind.FLOWER_DELIVERY,
        {"flower_id": data.FLOWER_ROSE_RED, "quantity": 25},
        created_by=1003,
        chat_id=1003,
    )
    assert outcome.state is WriteState.QUEUED
    assert stock(sandbox, data.FLOWER_ROSE_RED) == before + 25
    clock.advance(seconds=5)
    [done] = await box.retry_due()
    assert done.state is WriteState.DONE and done.result and done.result["found_in_history"]
    assert sandbox.faults.calls("POST", DELIVERY) == 1
    assert stock(sandbox, data.FLOWER_ROSE_RED) == before + 25
    assert movements_with(sandbox, outcome.op_id) == 1


async def test_timeout_whose_write_did_not_land_is_sent_again_once(outbox, sandbox):
    box, clock = outbox
    before = stock(sandbox, data.FLOWER_ROSE_RED)
    sandbox.faults.add("POST", DELIVERY, hang=True, times=1)
    outcome = await box.submit(
        WriteKind.FLOWER_DELIVERY,
        {"flower_id": data.FLOWER_ROSE_RED, "quantity": 7},
        created_by=1003,
        chat_id=1003,
    )
    assert outcome.state is WriteState.QUEUED
    clock.advance(seconds=5)
    [done] = await box.retry_due()
    assert done.state is WriteState.DONE
    assert stock(sandbox, data.FLOWER_ROSE_RED) == before + 7
    assert movements_with(sandbox, outcome.op_id) == 1


async def test_refusal_is_final_and_writes_nothing(outbox, sandbox):
    box, clock = outbox
    outcome = await box.submit(
        WriteKind.FLOWER_WRITEOFF,
        {"flower_id": data.FLOWER_WHITE_LISIANTHUS, "quantity": 10, "reason": "Увяли"},
        created_by=1003,
        chat_id=1003,
    )
    assert outcome.state is WriteState.FAILED and "3 available" in (outcome.reason or "")
    assert stock(sandbox, data.FLOWER_WHITE_LISIANTHUS) == 3
    clock.advance(hours=1)
    assert await box.retry_due() == []


async def test_stock_set_is_resent_after_a_timeout(outbox, sandbox):
    box, clock = outbox
    sandbox.faults.add("POST", "/crm/api/inventory/update", hang=True, times=1)
    outcome = await box.submit(
        WriteKind.STOCK_SET,
        {"updates": [{"product_id": str(data.MATERIAL_RIBBON), "quantity": 12}]},
        created_by=1001,
        chat_id=1001,
    )
    assert outcome.state is WriteState.QUEUED
    clock.advance(seconds=5)
    [done] = await box.retry_due()
    assert done.state is WriteState.DONE


async def test_a_write_nobody_could_send_for_a_day_is_given_up(outbox, sandbox):
    box, clock = outbox
    sandbox.faults.add("POST", DELIVERY, status=503)
    await box.submit(
        WriteKind.FLOWER_DELIVERY,
        {"flower_id": data.FLOWER_ROSE_RED, "quantity": 1},
        created_by=1003,
        chat_id=1003,
    )
    clock.advance(hours=25)
    [failed] = await box.retry_due()
    assert failed.state is WriteState.FAILED and failed.reason == "expired"


async def test_the_same_confirmation_twice_writes_once(outbox, sandbox):
    box, _ = outbox
    before = stock(sandbox, data.FLOWER_ROSE_RED)
    payload = {"flower_id": data.FLOWER_ROSE_RED, "quantity": 11}
    op_id = box.new_op_id()
    first, second = await asyncio.gather(
        box.submit(WriteKind.FLOWER_DELIVERY, payload, created_by=1003, chat_id=1003, op_id=op_id),
        box.submit(WriteKind.FLOWER_DELIVERY, payload, created_by=1003, chat_id=1003, op_id=op_id),
    )
    third = await box.submit(WriteKind.FLOWER_DELIVERY, payload, created_by=1003, chat_id=1003, op_id=op_id)
    assert {first.state, second.state, third.state} <= {WriteState.DONE, WriteState.QUEUED}
    assert third.state is WriteState.DONE and third.duplicate
    assert first.duplicate != second.duplicate
    assert stock(sandbox, data.FLOWER_ROSE_RED) == before + 11
    assert sandbox.faults.calls("POST", DELIVERY) == 1
