"""The bot as a real `cvety-bot run` process, for stops and crashes: SIGTERM as a deploy sends
it, SIGKILL as a power cut does. Its log is read as it comes, so tests wait for events in it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from sandbox import Sandbox
from tests.fake_telegram import FakeTelegram

STOPPED = "Polling stopped"  # aiogram's line once no update is taken any more


def bot_env(tg: FakeTelegram, sandbox: Sandbox, tmp_path: Any, **values: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BOT_", "CVETY_", "CRM_", "DEMO", "ALERT_", "WEBHOOK", "REDIS", "DATABASE"))
    }
    env.update(
        BOT_TOKEN=tg.token,
        TELEGRAM_API_URL=tg.base_url,
        CVETY_API_URL=sandbox.cvety_url,
        CVETY_API_TOKEN=sandbox.token,
        CRM_API_URL=sandbox.crm_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/bot.db",
        LOG_LEVEL="INFO",
    )
    env.update(values)
    return env


class BotProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, env: dict[str, str], *args: str) -> BotProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            *args,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def _read(self) -> None:
        assert self._process.stderr is not None
        async for raw in self._process.stderr:
            async with self._changed:
                self.lines.append(raw.decode(errors="replace").rstrip())
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    async def wait_for_log(self, text: str, timeout: float = 60.0) -> str:  # noqa: ASYNC109
        def found() -> str | None:
            return next((line for line in self.lines if text in line), None)

        async def wait() -> str:
            async with self._changed:
                await self._changed.wait_for(lambda: found() is not None or self._reader.done())
            line = found()
            assert line is not None, f"the bot ended without logging {text!r}:\n{self.log}"
            return line

        return await asyncio.wait_for(wait(), timeout)

    @property
    def running(self) -> bool:
        return self._process.returncode is None

    def signal(self, signum: int) -> None:
        self._process.send_signal(signum)

    async def wait(self, timeout: float = 60.0) -> int:  # noqa: ASYNC109
        code = await asyncio.wait_for(self._process.wait(), timeout)
        await asyncio.wait_for(self._reader, timeout)
        return code

    async def stop(self) -> int:
        """A normal stop (a deploy, `docker stop`)."""
        self.signal(signal.SIGTERM)
        return await self.wait()

    async def kill(self) -> None:
        """A crash: nothing runs after this."""
        self.signal(signal.SIGKILL)
        await self.wait()

    async def aclose(self) -> None:
        if self._process.returncode is None:
            await self.kill()
