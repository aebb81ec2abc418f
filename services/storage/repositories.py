"""Small repositories over the bot's tables. Each call is its own short transaction and
returns plain data, so no transaction is ever held across a network call."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.person import Person
from services.storage.models import AuditRow, FsmRow, KeyValueRow, LeaseRow, OutboxRow, StaffRow, utcnow

Sessions = async_sessionmaker[AsyncSession]


def _person(row: StaffRow) -> Person:
    return Person(
        telegram_id=row.telegram_id,
        name=row.name,
        role=row.role,
        language=row.language,
        colleague_id=row.colleague_id,
        active=row.active,
        unreachable=row.unreachable,
        created_at=row.created_at,
    )


class StaffRepository:
    """Every update asks who its person is, so `get` answers from memory for `cache_seconds`.
    A write through this repository is seen at once; one by another process (a second replica,
    `cvety-bot staff`) within `cache_seconds`."""

    MAX_CACHED = 10_000  # strangers writing from many ids must not grow it without end

    def __init__(
        self, sessions: Sessions, *, cache_seconds: float = 0.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._sessions = sessions
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cached: dict[int, tuple[float, Person | None]] = {}
        self._writes = 0  # a read that overlapped a write must not cache what it read

    async def get(self, telegram_id: int) -> Person | None:
        now = self._clock()
        cached = self._cached.get(telegram_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        writes = self._writes
        async with self._sessions() as session:
            row = await session.get(StaffRow, telegram_id)
            person = _person(row) if row else None
        if self._cache_seconds > 0 and writes == self._writes:
            if len(self._cached) >= self.MAX_CACHED:
                self._cached.clear()
            self._cached[telegram_id] = (now + self._cache_seconds, person)
        return person

    def _changed(self, telegram_id: int) -> None:
        self._writes += 1
        self._cached.pop(telegram_id, None)

    async def list_all(self, *, include_inactive: bool = True) -> list[Person]:
        async with self._sessions() as session:
            query = select(StaffRow).order_by(StaffRow.created_at, StaffRow.telegram_id)
            if not include_inactive:
                query = query.where(StaffRow.active.is_(True))
            return [_person(r) for r in (await session.scalars(query)).all()]

    async def upsert(
        self,
        telegram_id: int,
        *,
        name: str | None = None,
        role: str | None = None,
        language: str | None = None,
        colleague_id: str | None = None,
        active: bool | None = None,
    ) -> tuple[Person | None, Person]:
        """Create or update; returns (before, after)."""
        async with self._sessions.begin() as session:
            row = await session.get(StaffRow, telegram_id)
            before = _person(row) if row else None
            if row is None:
                row = StaffRow(
                    telegram_id=telegram_id,
                    name=name or str(telegram_id),
                    role=role or "florist",
                    language=language or "ru",
                    colleague_id=colleague_id,
                    active=True if active is None else active,
                    unreachable=False,
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
                session.add(row)
            else:
                if name is not None:
                    row.name = name
                if role is not None:
                    row.role = role
                if language is not None:
                    row.language = language
                if colleague_id is not None:
                    row.colleague_id = colleague_id
                if active is not None:
                    row.active = active
                    row.unreachable = False if active else row.unreachable
            await session.flush()
            after = _person(row)
        self._changed(telegram_id)
        return before, after

    async def set_unreachable(self, telegram_id: int, unreachable: bool = True) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(StaffRow, telegram_id)
            if row is not None:
                row.unreachable = unreachable
        self._changed(telegram_id)

    async def remove(self, telegram_id: int) -> Person | None:
        async with self._sessions.begin() as session:
            row = await session.get(StaffRow, telegram_id)
            if row is None:
                return None
            before = _person(row)
            await session.delete(row)
        self._changed(telegram_id)
        return before


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor_id: int | None
    action: str
    target: str
    before: str | None
    after: str | None
    comment: str | None


class AuditLog:
    """Who did what to which thing, before → after, when."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def record(
        self,
        *,
        actor_id: int | None,
        action: str,
        target: str,
        before: str | None = None,
        after: str | None = None,
        comment: str | None = None,
    ) -> None:
        async with self._sessions.begin() as session:
            session.add(
                AuditRow(
                    at=utcnow(),
                    actor_id=actor_id,
                    action=action,
                    target=target,
                    before=before,
                    after=after,
                    comment=comment,
                )
            )

    async def for_target(self, target: str, *, limit: int = 50) -> list[AuditEntry]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(AuditRow).where(AuditRow.target == target).order_by(AuditRow.id.desc()).limit(limit)
            )
            return [_entry(r) for r in rows]

    async def by_actor(
        self, actor_id: int, *, action: str, after: str | None = None, limit: int = 500
    ) -> list[AuditEntry]:
        """What one person did, newest first (e.g. the orders a courier took into delivery)."""
        async with self._sessions() as session:
            query = select(AuditRow).where(AuditRow.actor_id == actor_id, AuditRow.action == action)
            if after is not None:
                query = query.where(AuditRow.after == after)
            rows = await session.scalars(query.order_by(AuditRow.id.desc()).limit(limit))
            return [_entry(r) for r in rows]


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        row.id, row.at, row.actor_id, row.action, row.target, row.before, row.after, row.comment
    )


class KeyValueStore:
    """JSON values by key: scheduler watermarks, alert message ids and the like."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def get(self, key: str, default: Any = None) -> Any:
        async with self._sessions() as session:
            row = await session.get(KeyValueRow, key)
            return json.loads(row.value) if row else default

    async def set(self, key: str, value: Any) -> None:
        await self.set_many({key: value})

    async def set_many(self, values: dict[str, Any]) -> None:
        """Several keys in one transaction: all of them are written, or none."""
        async with self._sessions.begin() as session:
            for key, value in values.items():
                encoded = json.dumps(value, ensure_ascii=False, default=str)
                row = await session.get(KeyValueRow, key)
                if row is None:
                    session.add(KeyValueRow(key=key, value=encoded, updated_at=utcnow()))
                else:
                    row.value = encoded

    async def delete(self, key: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(KeyValueRow).where(KeyValueRow.key == key))

    async def add(self, key: str, value: Any) -> bool:
        """Write `key` only if nobody has: False when it exists. One insert, so of several replicas
        adding the same key at once exactly one gets True."""
        try:
            async with self._sessions.begin() as session:
                encoded = json.dumps(value, ensure_ascii=False, default=str)
                session.add(KeyValueRow(key=key, value=encoded, updated_at=utcnow()))
        except IntegrityError:
            return False
        return True

    async def with_prefix(self, prefix: str) -> dict[str, Any]:
        async with self._sessions() as session:
            rows = await session.scalars(select(KeyValueRow).where(KeyValueRow.key.startswith(prefix)))
            return {row.key: json.loads(row.value) for row in rows}

    async def delete_prefix(self, prefix: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(KeyValueRow).where(KeyValueRow.key.startswith(prefix)))


class FsmRepository:
    """Conversation state per key (string), for the bot's FSM storage adapter. With
    `only_writer` (a polling bot: the only replica) it remembers what it read and wrote, so only
    a person's first update after a start reads the table."""

    MAX_REMEMBERED = 10_000

    def __init__(self, sessions: Sessions, *, only_writer: bool = False) -> None:
        self._sessions = sessions
        self._known: dict[str, tuple[str | None, str]] | None = {} if only_writer else None
        self._writes = 0  # a read that overlapped a write must not remember what it read

    async def get(self, key: str) -> tuple[str | None, dict[str, Any]]:
        known = self._known.get(key) if self._known is not None else None
        if known is None:
            writes = self._writes
            async with self._sessions() as session:
                row = await session.get(FsmRow, key)
                known = (None, "{}") if row is None else (row.state, row.data or "{}")
            if writes == self._writes:
                self._remember(key, known)
        return known[0], json.loads(known[1])

    async def set_state(self, key: str, state: str | None) -> None:
        write = self._start_write(key)
        async with self._sessions.begin() as session:
            row = await session.get(FsmRow, key)
            data = "{}" if row is None else row.data or "{}"
            if row is None:
                if state is not None:
                    session.add(FsmRow(key=key, state=state, data="{}", updated_at=utcnow()))
            else:
                row.state = state
                if state is None and row.data in ("{}", ""):
                    await session.delete(row)
        self._written(write, key, (state, data))

    async def set_data(self, key: str, data: dict[str, Any]) -> None:
        encoded = json.dumps(data, ensure_ascii=False, default=str)
        write = self._start_write(key)
        async with self._sessions.begin() as session:
            row = await session.get(FsmRow, key)
            state = None if row is None else row.state
            if row is None:
                if data:
                    session.add(FsmRow(key=key, state=None, data=encoded, updated_at=utcnow()))
            else:
                row.data = encoded
                if not data and row.state is None:
                    await session.delete(row)
        self._written(write, key, (state, encoded))

    def _start_write(self, key: str) -> int:
        self._writes += 1
        if self._known is not None:
            self._known.pop(key, None)  # a write that fails leaves the next read to the table
        return self._writes

    def _written(self, write: int, key: str, value: tuple[str | None, str]) -> None:
        if write == self._writes:  # no other write came in between: this is what the table holds
            self._remember(key, value)

    def _remember(self, key: str, value: tuple[str | None, str]) -> None:
        if self._known is not None:
            if len(self._known) >= self.MAX_REMEMBERED:
                self._known.clear()
            self._known[key] = value


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: str
    kind: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    result: dict[str, Any] | None
    created_by: int | None
    chat_id: int | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: OutboxRow) -> OutboxEntry:
        return cls(
            id=row.id,
            kind=row.kind,
            payload=json.loads(row.payload),
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            result=json.loads(row.result) if row.result else None,
            created_by=row.created_by,
            chat_id=row.chat_id,
            created_at=row.created_at,
        )


class OutboxRepository:
    """Writes people confirmed, kept until the API has confirmed or refused them."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def add(
        self,
        op_id: str,
        kind: str,
        payload: dict[str, Any],
        *,
        created_by: int | None,
        chat_id: int | None,
        next_attempt_at: datetime,
        created_at: datetime | None = None,
        status: str = "pending",
    ) -> OutboxEntry:
        async with self._sessions.begin() as session:
            row = OutboxRow(
                id=op_id,
                kind=kind,
                payload=json.dumps(payload, ensure_ascii=False, default=str),
                status=status,
                attempts=0,
                next_attempt_at=next_attempt_at,
                created_by=created_by,
                chat_id=chat_id,
                created_at=created_at or utcnow(),
                updated_at=utcnow(),
            )
            session.add(row)
            await session.flush()
            return OutboxEntry.from_row(row)

    async def get(self, op_id: str) -> OutboxEntry | None:
        async with self._sessions() as session:
            row = await session.get(OutboxRow, op_id)
            return OutboxEntry.from_row(row) if row else None

    async def due(self, now: datetime, limit: int = 20) -> list[OutboxEntry]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(OutboxRow)
                .where(OutboxRow.status.in_(("pending", "checking")), OutboxRow.next_attempt_at <= now)
                .order_by(OutboxRow.next_attempt_at)
                .limit(limit)
            )
            return [OutboxEntry.from_row(r) for r in rows]

    async def untold(self, limit: int = 20) -> list[OutboxEntry]:
        """Finished writes whose person has not heard how they ended."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(OutboxRow)
                .where(OutboxRow.status.in_(("done", "failed")), OutboxRow.told_at.is_(None))
                .order_by(OutboxRow.updated_at)
                .limit(limit)
            )
            return [OutboxEntry.from_row(r) for r in rows]

    async def mark_told(self, op_id: str, at: datetime) -> None:
        async with self._sessions.begin() as session:
            await session.execute(update(OutboxRow).where(OutboxRow.id == op_id).values(told_at=at))

    async def due_now(self, now: datetime) -> int:
        """Every unfinished write is due at once (after a restart nothing of it is in flight)."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(OutboxRow)
                .where(OutboxRow.status.in_(("pending", "checking")), OutboxRow.next_attempt_at > now)
                .values(next_attempt_at=now)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    async def pending(self) -> list[OutboxEntry]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(OutboxRow)
                .where(OutboxRow.status.in_(("pending", "checking")))
                .order_by(OutboxRow.created_at)
            )
            return [OutboxEntry.from_row(r) for r in rows]

    async def update(
        self,
        op_id: str,
        *,
        status: str,
        next_attempt_at: datetime | None = None,
        error: str | None = None,
        result: dict[str, Any] | None = None,
        attempted: bool = True,
        told_at: datetime | None = None,
    ) -> OutboxEntry:
        async with self._sessions.begin() as session:
            row = await session.get(OutboxRow, op_id)
            if row is None:
                raise KeyError(op_id)
            row.status = status
            if told_at is not None:
                row.told_at = told_at
            if attempted:
                row.attempts += 1
            if next_attempt_at is not None:
                row.next_attempt_at = next_attempt_at
            row.last_error = error
            if result is not None:
                row.result = json.dumps(result, ensure_ascii=False, default=str)
            await session.flush()
            return OutboxEntry.from_row(row)


class Leases:
    """A named lease in the database: whoever holds it (and renews it in time) does the work."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def acquire(self, name: str, owner: str, *, until: datetime, now: datetime) -> bool:
        """Take or renew the lease; False while someone else holds an unexpired one."""
        try:
            async with self._sessions.begin() as session:
                result = await session.execute(
                    update(LeaseRow)
                    .where(LeaseRow.name == name, or_(LeaseRow.owner == owner, LeaseRow.until < now))
                    .values(owner=owner, until=until)
                )
                if getattr(result, "rowcount", 0):
                    return True
                if await session.get(LeaseRow, name) is not None:
                    return False
                session.add(LeaseRow(name=name, owner=owner, until=until))
        except IntegrityError:  # another replica inserted it at the same moment
            return False
        return True

    async def release(self, name: str, owner: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.owner == owner))

    async def take(self, name: str, owner: str, *, until: datetime) -> None:
        """Hold the lease whoever held it: for the one who knows it is alone."""
        async with self._sessions.begin() as session:
            await session.execute(delete(LeaseRow).where(LeaseRow.name == name))
            session.add(LeaseRow(name=name, owner=owner, until=until))


class Housekeeping:
    """Forget what no longer matters, so a bot that runs for years stays small."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def sweep(self, now: datetime, *, keep_alerts: timedelta, keep_outbox: timedelta) -> dict[str, int]:
        """Old per-order alert state (cards, nudges) and finished outbox writes; pending writes and
        the audit log are kept."""
        removed = {}
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(KeyValueRow).where(
                    or_(
                        KeyValueRow.key.like("alert_card:%"),
                        KeyValueRow.key.like("nudged:%"),
                        KeyValueRow.key.like("album:%"),
                    ),
                    KeyValueRow.updated_at < now - keep_alerts,
                )
            )
            removed["alert_state"] = int(getattr(result, "rowcount", 0) or 0)
            result = await session.execute(
                delete(OutboxRow).where(
                    OutboxRow.status.in_(("done", "failed")), OutboxRow.updated_at < now - keep_outbox
                )
            )
            removed["outbox"] = int(getattr(result, "rowcount", 0) or 0)
        return removed
