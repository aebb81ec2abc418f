"""A throwaway Redis for the suite: Debian's redis-server started on a free 127.0.0.1 port with its
files in a temp folder and no persistence, stopped at the end; or the server TEST_REDIS_URL names.
Tests get a flushed database (`redis_url`). A missing binary fails the run loudly: nothing is
skipped.

Outside pytest: `with running_redis() as server: ... server.url ...`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REDIS_BINARY = "redis-server"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One Redis: `url` is redis://127.0.0.1:PORT/0. `process` is None for an external server."""

    def __init__(
        self,
        port: int,
        *,
        process: subprocess.Popen[bytes] | None = None,
        root: Path | None = None,
        url: str | None = None,
    ) -> None:
        self.port = port
        self.process = process
        self.root = root
        self.url = url or f"redis://127.0.0.1:{port}/0"

    def flush_sync(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            client.flushdb()
        finally:
            client.close()


def _wait_ready(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    """Until the server answers PING (its own readiness signal), or it died, or the time ran out."""
    import redis

    deadline = time.monotonic() + timeout
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited ({process.returncode}): {_tail(log)}")
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server not ready after {timeout}s: {_tail(log)}") from None
                # a refused connect returns at once: block on the child for a moment instead
                try:
                    process.wait(0.02)
                except subprocess.TimeoutExpired:
                    pass
    finally:
        client.close()


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else ""


def start_redis(*, timeout: float = 20.0) -> RedisServer:
    """Start a throwaway redis-server (no RDB, no AOF, data dir in a temp folder). Raises
    RuntimeError with the reason when it cannot; stop it with `stop_redis`."""
    binary = shutil.which(REDIS_BINARY, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/bin")
    if binary is None:
        raise RuntimeError(
            "redis-server not found: these tests start a throwaway Redis themselves. Install it "
            "(`apt-get install -y redis-server`; `make test` does so when run as root) or point "
            "TEST_REDIS_URL at a throwaway server."
        )
    try:
        import redis  # noqa: F401
    except ImportError:
        raise RuntimeError("the redis package is not installed: pip install '.[dev]'") from None
    root = Path(tempfile.mkdtemp(prefix="cvety-redis-"))
    log = root / "log"
    for _attempt in range(5):  # another process may take the free port between probe and bind
        port = _free_port()
        command = [
            binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(root),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--logfile", str(log),
            "--protected-mode", "yes",
        ]  # fmt: skip
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        try:
            _wait_ready(port, process, log, timeout)
        except RuntimeError:
            process.kill()
            process.wait(10)
            if "Address already in use" in _tail(log):
                continue
            shutil.rmtree(root, ignore_errors=True)
            raise
        return RedisServer(port, process=process, root=root)
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError("redis-server found no free port in 5 tries")


def stop_redis(server: RedisServer) -> None:
    if server.process is not None:
        server.process.terminate()  # SIGTERM: redis exits at once, and with --save '' writes nothing
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(10)
    if server.root is not None:
        shutil.rmtree(server.root, ignore_errors=True)


@contextmanager
def running_redis() -> Iterator[RedisServer]:
    """A throwaway Redis for code outside pytest fixtures (or the external TEST_REDIS_URL one)."""
    external = os.environ.get("TEST_REDIS_URL")
    if external:
        from redis.connection import parse_url

        yield RedisServer(int(parse_url(external).get("port", 6379)), url=external)
        return
    server = start_redis()
    try:
        yield server
    finally:
        stop_redis(server)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """The session's Redis (one per pytest process, so one per xdist worker)."""
    try:
        with running_redis() as server:
            yield server
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture
async def redis_url(redis_server: RedisServer) -> AsyncIterator[str]:
    """The session's Redis with database 0 flushed before the test and after it."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_server.url)
    try:
        await client.flushdb()
        yield redis_server.url
        await client.flushdb()
    finally:
        await client.aclose()
