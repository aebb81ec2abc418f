"""The outbox: a stock write a person confirmed is stored before the API call and retried until
the CRM confirms or refuses it — never lost, never counted twice.

Each write carries an operation id that also goes into the movement's note (`[op:7f3a91c2]`), so
after a timeout the outbox can look in the history for its own movement before sending again.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError

from services.crm_api import CrmApi
from services.errors import ApiRejected, ApiUnavailable, ApiUnknownOutcome
from services.storage.errors import StorageError
from services.storage.repositories import AuditLog, OutboxEntry, OutboxRepository

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=5)
MAX_RETRY = timedelta(minutes=10)
CHECK_AFTER_TIMEOUT = timedelta(seconds=3)
GIVE_UP_AFTER = timedelta(hours=24)
# While the first attempt runs, the retry job must not pick the same write up.
IN_FLIGHT = timedelta(minutes=2)
HISTORY_LOOKBACK = 100


class WriteKind(StrEnum):
    FLOWER_DELIVERY = "flower_delivery"
    FLOWER_WRITEOFF = "flower_writeoff"
    STOCK_SET = "stock_set"  # absolute quantities (stocktake): safe to send again


class WriteState(StrEnum):
    DONE = "done"
    QUEUED = "queued"  # stored; will be sent when the CRM answers
    FAILED = "failed"  # refused by the CRM (or given up): nothing was written


@dataclass(frozen=True)
class WriteOutcome:
    op_id: str
    kind: WriteKind
    state: WriteState
    payload: dict[str, Any]
    result: dict[str, Any] | None = None
    reason: str | None = None
    chat_id: int | None = None
    created_by: int | None = None
    retried: bool = False  # finished by the retry job, not in the person's own request
    duplicate: bool = False  # this op id was already submitted: nothing new was done


_STATE_OF_STATUS = {
    "pending": WriteState.QUEUED,
    "checking": WriteState.QUEUED,
    "done": WriteState.DONE,
    "failed": WriteState.FAILED,
}


def op_mark(op_id: str) -> str:
    return f"[op:{op_id}]"


def with_mark(note: str | None, op_id: str) -> str:
    return f"{note} {op_mark(op_id)}" if note else op_mark(op_id)


class Outbox:
    def __init__(
        self,
        repository: OutboxRepository,
        crm: CrmApi,
        *,
        audit: AuditLog | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._repository = repository
        self._crm = crm
        self._audit = audit
        self._now = now or (lambda: datetime.now(UTC))
        self._retrying = asyncio.Lock()  # one retry pass at a time, or two passes could send one write twice

    @staticmethod
    def new_op_id() -> str:
        return secrets.token_hex(4)

    async def submit(
        self,
        kind: WriteKind,
        payload: dict[str, Any],
        *,
        created_by: int | None,
        chat_id: int | None,
        op_id: str | None = None,
    ) -> WriteOutcome:
        """Store the write, then try it once right away.

        `op_id` makes a confirmation idempotent: the confirm screen carries it, so a second tap
        on «Сохранить» finds the write already stored and does not send it again."""
        op_id = op_id or self.new_op_id()
        existing = await self._repository.get(op_id)
        if existing is not None:
            return _outcome(
                existing, _STATE_OF_STATUS[existing.status], reason=existing.last_error, duplicate=True
            )
        if kind is not WriteKind.STOCK_SET:
            payload = {**payload, "note": with_mark(payload.get("note"), op_id)}
        try:
            entry = await self._repository.add(
                op_id,
                kind.value,
                payload,
                created_by=created_by,
                chat_id=chat_id,
                next_attempt_at=self._now() + IN_FLIGHT,
                created_at=self._now(),
                # A crash during the first attempt leaves it unknown whether the CRM counted
                # it: whoever picks it up after the restart looks in the history first.
                status="pending" if kind is WriteKind.STOCK_SET else "checking",
            )
        except IntegrityError:  # the same confirmation, tapped twice at the same moment
            stored = await self._repository.get(op_id)
            assert stored is not None
            return _outcome(stored, _STATE_OF_STATUS[stored.status], reason=stored.last_error, duplicate=True)
        log.info("outbox %s: %s stored", op_id, kind.value)
        return await self._attempt(entry, retried=False, first=True)

    async def retry_due(self) -> list[WriteOutcome]:
        """One pass over the writes whose time has come; returns every finished write whose
        person has not been told yet (also those a crash kept from being told last time): the
        caller tells them and says so with `told`."""
        async with self._retrying:
            for entry in await self._repository.due(self._now()):
                await self._attempt(entry, retried=True)
            untold = await self._repository.untold()
        return [_outcome(e, _STATE_OF_STATUS[e.status], reason=e.last_error, retried=True) for e in untold]

    async def told(self, op_id: str) -> None:
        await self._repository.mark_told(op_id, self._now())

    async def resume(self) -> None:
        """At the start of the only replica: writes a stop cut off or a crash left half-done are
        retried at once, not when their in-flight time runs out (a stored write is first looked
        for in the history, so nothing is counted twice)."""
        count = await self._repository.due_now(self._now())
        if count:
            log.info("outbox: %s unfinished writes from before the restart, retrying now", count)

    async def pending(self) -> list[OutboxEntry]:
        return await self._repository.pending()

    async def authors(self, op_ids: set[str]) -> dict[str, int]:
        """Who confirmed each of these writes (for «who» in the stock history)."""
        found = {}
        for op_id in op_ids:
            entry = await self._repository.get(op_id)
            if entry is not None and entry.created_by is not None:
                found[op_id] = entry.created_by
        return found

    async def _attempt(self, entry: OutboxEntry, *, retried: bool, first: bool = False) -> WriteOutcome:
        kind = WriteKind(entry.kind)
        if self._now() - entry.created_at > GIVE_UP_AFTER:
            return await self._finish(entry, WriteState.FAILED, reason="expired", retried=retried)
        try:
            if entry.status == "checking" and not first:  # just stored: it cannot be there yet
                found = await self._find_in_history(entry)
                if found is not None:
                    log.info("outbox %s: found in history, not sent again", entry.id)
                    return await self._finish(entry, WriteState.DONE, result=found, retried=retried)
            result = await self._send(kind, entry.payload)
        except ApiUnknownOutcome:
            # It may have landed: look for our movement before sending again.
            status = "pending" if kind is WriteKind.STOCK_SET else "checking"
            return await self._later(entry, status, "unknown outcome", CHECK_AFTER_TIMEOUT, retried)
        except ApiRejected as exc:
            return await self._finish(
                entry, WriteState.FAILED, reason=exc.server_message or exc.message, retried=retried
            )
        except ApiUnavailable as exc:
            delay = min(FIRST_RETRY * 3**entry.attempts, MAX_RETRY)
            return await self._later(entry, entry.status, exc.message, delay, retried)
        return await self._finish(entry, WriteState.DONE, result=result, retried=retried)

    async def _send(self, kind: WriteKind, payload: dict[str, Any]) -> dict[str, Any]:
        if kind is WriteKind.FLOWER_DELIVERY:
            delivery = await self._crm.flower_delivery(
                payload["flower_id"],
                int(payload["quantity"]),
                supplier=payload.get("supplier"),
                price=payload.get("price"),
                note=payload.get("note"),
            )
            return delivery.model_dump(mode="json")
        if kind is WriteKind.FLOWER_WRITEOFF:
            writeoff = await self._crm.flower_writeoff(
                payload["flower_id"], int(payload["quantity"]), payload["reason"], note=payload.get("note")
            )
            return writeoff.model_dump(mode="json")
        updates = [(str(u["product_id"]), int(u["quantity"])) for u in payload["updates"]]
        if len(updates) == 1:
            single = await self._crm.inventory_update(updates[0][0], updates[0][1], note=payload.get("note"))
            return {"updated_count": 1, "updated_products": [single.model_dump(mode="json")], "errors": []}
        bulk = await self._crm.inventory_bulk_update(updates)
        return bulk.model_dump(mode="json")

    async def _find_in_history(self, entry: OutboxEntry) -> dict[str, Any] | None:
        mark = op_mark(entry.id)
        movements = await self._crm.history(flower_id=entry.payload.get("flower_id"), limit=HISTORY_LOOKBACK)
        for movement in movements:
            if movement.note and mark in movement.note:
                return {"found_in_history": True, "movement": movement.model_dump(mode="json")}
        return None

    async def _later(
        self, entry: OutboxEntry, status: str, error: str, delay: timedelta, retried: bool
    ) -> WriteOutcome:
        try:
            updated = await self._repository.update(
                entry.id, status=status, next_attempt_at=self._now() + delay, error=error
            )
        except StorageError as exc:  # the row stays as it was: still stored, due again later
            log.warning("outbox %s: %s; not rescheduled: %s %s", entry.id, error, type(exc).__name__, exc)
            return _outcome(entry, WriteState.QUEUED, retried=retried)
        log.warning("outbox %s: %s; next try in %ss", entry.id, error, int(delay.total_seconds()))
        return _outcome(updated, WriteState.QUEUED, retried=retried)

    async def _finish(
        self,
        entry: OutboxEntry,
        state: WriteState,
        *,
        result: dict[str, Any] | None = None,
        reason: str | None = None,
        retried: bool,
    ) -> WriteOutcome:
        status = "done" if state is WriteState.DONE else "failed"
        # in the person's own request the answer tells them; after a retry, the retry job does
        told_at = None if retried else self._now()
        try:
            updated = await self._repository.update(
                entry.id, status=status, error=reason, result=result, told_at=told_at
            )
        except StorageError as exc:
            # The CRM has answered, only the bot's database did not take the answer: the person
            # hears the truth, and the row, still unfinished, is looked up in the history when
            # it is due again — found there, it is not sent a second time.
            log.warning(
                "outbox %s: %s, but not recorded (%s %s); to be checked again",
                entry.id,
                status,
                type(exc).__name__,
                exc,
            )
            return _outcome(replace(entry, result=result), state, reason=reason, retried=retried)
        log.info("outbox %s: %s%s", entry.id, status, f" ({reason})" if reason else "")
        if state is WriteState.DONE and self._audit is not None:
            try:
                await _record(self._audit, updated)
            except StorageError as exc:
                log.warning("outbox %s: done, audit entry lost: %s %s", entry.id, type(exc).__name__, exc)
        return _outcome(updated, state, reason=reason, retried=retried)


async def _record(audit: AuditLog, entry: OutboxEntry) -> None:
    """Stock writes join the audit log once the CRM confirmed them: who, what, how many."""
    payload, result = entry.payload, entry.result or {}
    if entry.kind == WriteKind.STOCK_SET:
        for update in payload.get("updates", []):
            await audit.record(
                actor_id=entry.created_by,
                action="stock.set",
                target=f"stock:{update.get('product_id')}",
                after=str(update.get("quantity")),
                comment=op_mark(entry.id),
            )
        return
    sign = "+" if entry.kind == WriteKind.FLOWER_DELIVERY else "-"
    previous = result.get("previous_quantity")
    await audit.record(
        actor_id=entry.created_by,
        action=f"stock.{entry.kind}",
        target=f"flower:{payload.get('flower_id')}",
        before=None if previous is None else str(previous),
        after=str(result.get("new_quantity", f"{sign}{payload.get('quantity')}")),
        comment=op_mark(entry.id),
    )


def _outcome(
    entry: OutboxEntry,
    state: WriteState,
    *,
    reason: str | None = None,
    retried: bool = False,
    duplicate: bool = False,
) -> WriteOutcome:
    return WriteOutcome(
        op_id=entry.id,
        kind=WriteKind(entry.kind),
        state=state,
        payload=entry.payload,
        result=entry.result,
        reason=reason,
        chat_id=entry.chat_id,
        created_by=entry.created_by,
        retried=retried,
        duplicate=duplicate,
    )


def op_ids_in(note: str | None) -> list[str]:
    """The operation ids the bot wrote into a movement's note."""
    return re.findall(r"\[op:([0-9a-f]{4,32})\]", note or "")
