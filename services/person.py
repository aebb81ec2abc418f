"""A person of the shop's staff, as the bot knows them: the domain type every layer passes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Person:
    telegram_id: int
    name: str
    role: str  # a Role's value; one from an older version grants nothing (services.roles.can)
    language: str
    colleague_id: str | None
    active: bool
    unreachable: bool
    created_at: datetime
