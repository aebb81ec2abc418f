"""The people the bot knows: who they are, their role, their language."""

from __future__ import annotations

import logging

from services.person import Person
from services.roles import Role, parse_role
from services.storage.repositories import AuditLog, StaffRepository

log = logging.getLogger(__name__)

LANGUAGES = ("ru", "kk", "en")
NAME_MAX = 255


def clean_name(value: str) -> str:
    """A person's name as typed: trimmed, inner whitespace folded, 2–255 characters."""
    name = " ".join(value.split())
    if len(name) < 2:
        raise ValueError("name must have at least 2 characters")
    if len(name) > NAME_MAX:
        raise ValueError(f"name must have at most {NAME_MAX} characters")
    return name


class StaffService:
    def __init__(self, repository: StaffRepository, audit: AuditLog) -> None:
        self._staff = repository
        self._audit = audit

    async def get_active(self, telegram_id: int) -> Person | None:
        """The staff member allowed to use the bot right now, or None."""
        member = await self._staff.get(telegram_id)
        if member is None or not member.active:
            return None
        return member

    async def get(self, telegram_id: int) -> Person | None:
        return await self._staff.get(telegram_id)

    async def names(self, telegram_ids: set[int]) -> dict[int, str]:
        """Display names of the given people (those the bot knows)."""
        found = {}
        for telegram_id in telegram_ids:
            member = await self._staff.get(telegram_id)
            if member is not None:
                found[telegram_id] = member.name
        return found

    async def list_all(self) -> list[Person]:
        return await self._staff.list_all()

    async def add(
        self,
        telegram_id: int,
        *,
        role: str,
        name: str,
        language: str | None = None,
        actor_id: int | None = None,
    ) -> Person:
        """Add a person or update an existing one (re-activating them)."""
        if telegram_id <= 0:
            raise ValueError("a Telegram user id is a positive number")
        checked_role = parse_role(role)
        checked_name = clean_name(name)
        if language is not None and language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        before, after = await self._staff.upsert(
            telegram_id, name=checked_name, role=checked_role.value, language=language, active=True
        )
        await self._audit.record(
            actor_id=actor_id,
            action="staff.add" if before is None else "staff.update",
            target=f"staff:{telegram_id}",
            before=f"{before.role}/{'active' if before.active else 'inactive'}" if before else None,
            after=f"{after.role}/active",
        )
        return after

    async def remove(self, telegram_id: int, *, actor_id: int | None = None) -> Person | None:
        removed = await self._staff.remove(telegram_id)
        if removed is not None:
            await self._audit.record(
                actor_id=actor_id, action="staff.remove", target=f"staff:{telegram_id}", before=removed.role
            )
        return removed

    async def set_reachable(self, telegram_id: int) -> None:
        await self._staff.set_unreachable(telegram_id, False)

    async def rename(self, telegram_id: int, name: str) -> Person:
        _, after = await self._staff.upsert(telegram_id, name=clean_name(name))
        return after

    async def link_colleague(self, telegram_id: int, colleague_id: str) -> Person:
        _, after = await self._staff.upsert(telegram_id, colleague_id=colleague_id)
        return after

    async def deactivate(self, telegram_id: int, *, actor_id: int | None = None) -> None:
        """No more access: the next message or tap from this person is refused."""
        before, _ = await self._staff.upsert(telegram_id, active=False)
        await self._audit.record(
            actor_id=actor_id,
            action="staff.deactivate",
            target=f"staff:{telegram_id}",
            before=before.role if before else None,
        )

    async def change_role(self, telegram_id: int, role: Role, *, actor_id: int | None = None) -> Person:
        member = await self._staff.get(telegram_id)
        if member is None:
            raise LookupError(telegram_id)
        _, after = await self._staff.upsert(telegram_id, role=role.value)
        await self._audit.record(
            actor_id=actor_id,
            action="staff.role",
            target=f"staff:{telegram_id}",
            before=member.role,
            after=role.value,
        )
        return after

    async def set_language(self, telegram_id: int, language: str) -> Person:
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        _, after = await self._staff.upsert(telegram_id, language=language)
        return after

    async def ensure_owners(self, owner_ids: list[int]) -> None:
        """Make every OWNER_IDS person an active owner; keep names and languages they already have."""
        for telegram_id in owner_ids:
            member = await self._staff.get(telegram_id)
            if member is not None and member.active and member.role == Role.OWNER:
                continue
            name = member.name if member else f"Владелец {telegram_id}"
            await self.add(telegram_id, role=Role.OWNER.value, name=name)
            log.info("owner ensured from OWNER_IDS: %s", telegram_id)
