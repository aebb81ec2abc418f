"""aiogram FSM storage in the bot's database: a half-entered delivery survives a restart."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, KeyBuilder, StateType, StorageKey

from services.storage.repositories import FsmRepository


class SqlStorage(BaseStorage):
    def __init__(self, repository: FsmRepository, key_builder: KeyBuilder | None = None) -> None:
        self._repository = repository
        self._keys = key_builder or DefaultKeyBuilder(with_bot_id=True, with_destiny=True)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._repository.set_state(self._keys.build(key), value)

    async def get_state(self, key: StorageKey) -> str | None:
        state, _ = await self._repository.get(self._keys.build(key))
        return state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._repository.set_data(self._keys.build(key), dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        _, data = await self._repository.get(self._keys.build(key))
        return data

    async def close(self) -> None:
        """The engine belongs to the application, which disposes of it."""
