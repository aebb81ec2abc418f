"""Colleagues (the CRM's staff list), invitations into the bot, and who may change whom.
Knows nothing of Telegram."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update

from services.crm_api import CrmApi
from services.models import Colleague, ColleagueList
from services.parsing import normalize_phone
from services.person import Person
from services.roles import Permission, Role, can, can_manage
from services.staff import StaffService, clean_name
from services.storage.models import InviteRow, utcnow
from services.storage.repositories import AuditLog, Sessions

log = logging.getLogger(__name__)

# Both vocabularies the server uses, and the bot role each one means.
POSITION_ROLES: dict[str, Role] = {
    "owner": Role.OWNER,
    "director": Role.OWNER,
    "senior": Role.SENIOR,
    "manager": Role.SENIOR,
    "florist": Role.FLORIST,
    "seller": Role.FLORIST,
    "assistant": Role.ASSISTANT,
    "courier": Role.COURIER,
}
POSITIONS = tuple(POSITION_ROLES)
OWNER_POSITIONS = frozenset({"owner", "director"})
INVITE_TTL = timedelta(hours=24)


def role_of_position(position: str | None) -> Role | None:
    return POSITION_ROLES.get((position or "").strip().lower())


def clean_position(value: str) -> str:
    position = value.strip().lower()
    if position not in POSITION_ROLES:
        raise ValueError(f"unknown position {value!r}")
    return position


class Refusal(StrEnum):
    """Why a colleague change is not allowed; the UI words it."""

    NOT_ALLOWED = "not_allowed"  # the role may not manage colleagues at all
    OWNER_PROTECTED = "owner_protected"  # a senior touching an owner
    NO_OWNER_PROMOTION = "no_owner_promotion"  # a senior making someone an owner
    ROLES_OWNER_ONLY = "roles_owner_only"  # anyone but an owner changing a role in the bot


class ColleagueGone(LookupError):
    """The colleague a button names is no longer in the CRM (or not connected to the bot)."""


class PeopleError(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal


def check_manage(actor: Role, target_position: str | None, new_position: str | None = None) -> None:
    """Raise PeopleError unless `actor` may change a colleague in `target_position`
    (and, when given, move them to `new_position`)."""
    if not can(actor, Permission.COLLEAGUES_MANAGE):
        raise PeopleError(Refusal.NOT_ALLOWED)
    target_role = role_of_position(target_position)
    if target_role is not None and not can_manage(actor, target_role):
        raise PeopleError(Refusal.OWNER_PROTECTED)
    if new_position is not None and new_position in OWNER_POSITIONS and actor is not Role.OWNER:
        raise PeopleError(Refusal.NO_OWNER_PROMOTION)


def allowed_position(actor: Role, value: str) -> str:
    """The position `actor` may give a colleague; ValueError for none such, PeopleError when it
    is not theirs to give (only an owner makes owners)."""
    position = clean_position(value)
    check_manage(actor, None, position)
    return position


def positions_to_give(actor: Role) -> list[str]:
    return [p for p in POSITIONS if actor is Role.OWNER or p not in OWNER_POSITIONS]


def roles_to_give(actor: Role) -> list[Role]:
    """The bot roles `actor` may invite with: an owner only by an owner."""
    return [r for r in Role if actor is Role.OWNER or r is not Role.OWNER]


def may_give_roles(actor: Role) -> bool:
    """Changing a connected person's role in the bot is the owner's alone."""
    return actor is Role.OWNER


@dataclass(frozen=True)
class ColleagueView:
    colleague: Colleague
    member: Person | None  # connected to the bot as this person


class ColleagueService:
    def __init__(self, crm: CrmApi, staff: StaffService, sessions: Sessions, audit: AuditLog) -> None:
        self._crm = crm
        self._staff = staff
        self._sessions = sessions
        self._audit = audit

    async def list(self, *, only_active: bool, position: str | None = None) -> ColleagueList:
        """One call; filtered again here, as the server's filters are not to be trusted blindly.
        ValueError for a position there is none of."""
        position = clean_position(position) if position else None
        result = await self._crm.list_colleagues(is_active=True if only_active else None, position=position)
        items = [
            c
            for c in result.items
            if (c.is_active or not only_active) and (position is None or c.position == position)
        ]
        return ColleagueList(items=items, position_stats=result.position_stats)

    async def view(self, colleague_id: str) -> ColleagueView | None:
        everyone = await self._crm.list_colleagues()
        for colleague in everyone.items:
            if colleague.id == colleague_id:
                return ColleagueView(colleague, await self.member_of(colleague_id))
        return None

    async def editable(self, actor: Role, colleague_id: str) -> ColleagueView:
        """The colleague `actor` is about to change: ColleagueGone when gone, PeopleError when
        not theirs to change (a senior and an owner)."""
        current = await self.view(colleague_id)
        if current is None:
            raise ColleagueGone(colleague_id)
        check_manage(actor, current.colleague.position)
        return current

    async def member_of(self, colleague_id: str) -> Person | None:
        for member in await self._staff.list_all():
            if member.colleague_id == colleague_id:
                return member
        return None

    async def create(self, actor: Person, role: Role, name: str, phone: str, position: str) -> Colleague:
        check_manage(role, None, position)
        colleague = await self._crm.create_colleague(
            clean_name(name), normalize_phone(phone), clean_position(position)
        )
        await self._audit.record(
            actor_id=actor.telegram_id,
            action="colleague.add",
            target=f"colleague:{colleague.id}",
            after=f"{colleague.name}/{colleague.position}",
        )
        return colleague

    async def edit(self, actor: Person, role: Role, colleague_id: str, field: str, value: str) -> Colleague:
        current = await self.view(colleague_id)
        if current is None:
            raise ColleagueGone(colleague_id)
        old = current.colleague
        if field == "name":
            fields = {"name": clean_name(value)}
        elif field == "phone":
            fields = {"phone": normalize_phone(value)}
        elif field == "position":
            fields = {"position": clean_position(value)}
        else:
            raise ValueError(f"unknown field {field}")
        check_manage(role, old.position, fields.get("position"))
        updated = await self._crm.update_colleague(
            colleague_id,
            name=fields.get("name", old.name),
            phone=fields.get("phone", old.phone),
            position=fields.get("position", old.position),
            isActive=old.is_active,
        )
        await self._audit.record(
            actor_id=actor.telegram_id,
            action=f"colleague.{field}",
            target=f"colleague:{colleague_id}",
            before=str(getattr(old, field)),
            after=str(getattr(updated, field)),
        )
        member = await self.member_of(colleague_id)
        if member is not None and field == "name" and updated.name:
            await self._staff.rename(member.telegram_id, updated.name)
        return updated

    async def toggle(self, actor: Person, role: Role, colleague_id: str) -> Colleague:
        current = await self.editable(role, colleague_id)
        updated = await self._crm.toggle_colleague(colleague_id)
        await self._audit.record(
            actor_id=actor.telegram_id,
            action="colleague.toggle",
            target=f"colleague:{colleague_id}",
            before=str(current.colleague.is_active),
            after=str(updated.is_active),
        )
        if not updated.is_active:
            await self._revoke_access(colleague_id, actor)
        return updated

    async def delete(self, actor: Person, role: Role, colleague_id: str) -> Colleague:
        """The colleague as they were; ColleagueGone when already gone."""
        current = await self.editable(role, colleague_id)
        await self._crm.delete_colleague(colleague_id)
        await self._audit.record(
            actor_id=actor.telegram_id,
            action="colleague.delete",
            target=f"colleague:{colleague_id}",
            before=current.colleague.name,
        )
        await self._revoke_access(colleague_id, actor)
        return current.colleague

    async def _revoke_access(self, colleague_id: str, actor: Person) -> None:
        """A deactivated or deleted colleague loses the bot at once (their next tap is refused)."""
        member = await self.member_of(colleague_id)
        if member is not None and member.active:
            await self._staff.deactivate(member.telegram_id, actor_id=actor.telegram_id)
        async with self._sessions.begin() as session:
            await session.execute(
                update(InviteRow)
                .where(
                    InviteRow.colleague_id == colleague_id,
                    InviteRow.used_by.is_(None),
                    InviteRow.revoked_at.is_(None),
                )
                .values(revoked_at=utcnow())
            )

    async def bot_member(self, actor: Role, colleague_id: str) -> Person:
        """The person connected to the bot as this colleague, whose role `actor` is about to
        change: PeopleError unless an owner, ColleagueGone when nobody is connected."""
        if not may_give_roles(actor):
            raise PeopleError(Refusal.ROLES_OWNER_ONLY)
        member = await self.member_of(colleague_id)
        if member is None:
            raise ColleagueGone(colleague_id)
        return member

    async def set_role(self, actor: Person, role: Role, colleague_id: str, new_role: str) -> Person:
        """Owners change a person's role in the bot; it applies to their next tap. ValueError
        for a role there is none of."""
        member = await self.bot_member(role, colleague_id)
        return await self._staff.change_role(member.telegram_id, Role(new_role), actor_id=actor.telegram_id)


# --- invitations ---------------------------------------------------------------------------------


class InviteProblem(StrEnum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Invite:
    code: str
    role: Role
    name: str | None
    colleague_id: str | None
    created_by: int
    expires_at: datetime


@dataclass(frozen=True)
class Accepted:
    member: Person
    invite: Invite


class InviteService:
    def __init__(
        self,
        sessions: Sessions,
        staff: StaffService,
        audit: AuditLog,
        *,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._sessions = sessions
        self._staff = staff
        self._audit = audit
        self.clock = now or (lambda: datetime.now(UTC))

    async def create(
        self, actor: Person, actor_role: Role, role: Role | str, *, colleague: Colleague | None = None
    ) -> Invite:
        """A one-time link for `role` (ValueError for a role there is none of)."""
        role = Role(role)
        if not can(actor_role, Permission.COLLEAGUES_MANAGE):
            raise PeopleError(Refusal.NOT_ALLOWED)
        if role not in roles_to_give(actor_role):
            raise PeopleError(Refusal.NO_OWNER_PROMOTION)
        if colleague is not None:
            check_manage(actor_role, colleague.position)
        code = secrets.token_urlsafe(18)  # 24 characters of [A-Za-z0-9_-]: unguessable, fits /start
        invite = Invite(
            code,
            role,
            colleague.name if colleague else None,
            colleague.id if colleague else None,
            actor.telegram_id,
            self.clock() + INVITE_TTL,
        )
        async with self._sessions.begin() as session:
            session.add(
                InviteRow(
                    code=code,
                    role=role.value,
                    name=invite.name,
                    colleague_id=invite.colleague_id,
                    created_by=actor.telegram_id,
                    created_at=self.clock(),
                    expires_at=invite.expires_at,
                )
            )
        await self._audit.record(
            actor_id=actor.telegram_id, action="invite.create", target=f"invite:{code[:6]}", after=role.value
        )
        return invite

    async def open_invites(self) -> list[Invite]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(InviteRow)
                .where(
                    InviteRow.used_by.is_(None),
                    InviteRow.revoked_at.is_(None),
                    InviteRow.expires_at > self.clock(),
                )
                .order_by(InviteRow.created_at)
            )
            return [_invite(r) for r in rows]

    async def revoke(self, actor: Person, actor_role: Role, code: str) -> bool:
        if not can(actor_role, Permission.COLLEAGUES_MANAGE):
            raise PeopleError(Refusal.NOT_ALLOWED)
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(InviteRow)
                .where(InviteRow.code == code, InviteRow.used_by.is_(None), InviteRow.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )
            revoked = bool(getattr(result, "rowcount", 0))
        if revoked:
            await self._audit.record(
                actor_id=actor.telegram_id, action="invite.revoke", target=f"invite:{code[:6]}"
            )
        return revoked

    async def accept(self, code: str, telegram_id: int, telegram_name: str) -> Accepted | InviteProblem:
        """Use the invitation once: the one UPDATE that marks it used decides who got it."""
        now = self.clock()
        async with self._sessions.begin() as session:
            row = await session.get(InviteRow, code)
            if row is None:
                return InviteProblem.UNKNOWN
            if row.revoked_at is not None:
                return InviteProblem.REVOKED
            if row.used_by is not None:
                return InviteProblem.USED
            if row.expires_at <= now:
                return InviteProblem.EXPIRED
            result = await session.execute(
                update(InviteRow)
                .where(InviteRow.code == code, InviteRow.used_by.is_(None))
                .values(used_by=telegram_id, used_at=now)
            )
            if not getattr(result, "rowcount", 0):
                return InviteProblem.USED
            invite = _invite(row)
        name = invite.name or telegram_name
        try:
            name = clean_name(name)
        except ValueError:
            name = f"{telegram_name or 'Сотрудник'} {telegram_id}"[:255]
        member = await self._staff.add(
            telegram_id, role=invite.role.value, name=name, actor_id=invite.created_by
        )
        if invite.colleague_id:
            member = await self._staff.link_colleague(telegram_id, invite.colleague_id)
        return Accepted(member, invite)


def _invite(row: InviteRow) -> Invite:
    return Invite(row.code, Role(row.role), row.name, row.colleague_id, row.created_by, row.expires_at)
