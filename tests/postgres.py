"""A throwaway PostgreSQL for the suite: Debian's server binaries started on a free port with
their data in a temp folder (stopped at the end), or the server TEST_POSTGRES_URL names; a fresh
migrated database per test. Missing binaries fail the run loudly: nothing is skipped."""

from __future__ import annotations

import asyncio
import glob
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from services.storage.db import create_engine, migrate

PG_BINARIES = "/usr/lib/postgresql/*/bin"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PgServer:
    """A PostgreSQL for this session: a throwaway cluster (initdb into a temp dir, pg_ctl on a
    free port, removed at the end), or the one TEST_POSTGRES_URL names — there a restart is
    emulated by terminating the test database's connections, and «down» by refusing them."""

    def __init__(self, url: str, *, bin_dir: Path | None = None, root: Path | None = None) -> None:
        self.url = url
        self.bin_dir = bin_dir
        self.root = root
        self.port = make_url(url).port
        self.template: str | None = None

    @property
    def owned(self) -> bool:
        return self.bin_dir is not None

    def url_for(self, database: str) -> str:
        return make_url(self.url).set(database=database).render_as_string(hide_password=False)

    def _pg_ctl_args(self, *args: str) -> list[str]:
        assert self.bin_dir is not None and self.root is not None
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        command = [
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.root / "data"),
            "-l",
            str(self.root / "log"),
            "-o",
            options,
            "-w",
            *args,
        ]
        if os.geteuid() == 0:  # initdb and the server refuse to run as root
            return ["su", "postgres", "-c", shlex.join(command)]
        return command

    def ctl_sync(self, *args: str) -> None:
        done = subprocess.run(self._pg_ctl_args(*args), capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            log = (self.root / "log").read_text() if self.root and (self.root / "log").exists() else ""
            pytest.fail(f"pg_ctl {' '.join(args)} failed: {done.stdout}{done.stderr}\n{log[-2000:]}")

    async def ctl(self, *args: str) -> None:
        process = await asyncio.create_subprocess_exec(
            *self._pg_ctl_args(*args), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, f"pg_ctl {' '.join(args)}: {output.decode()}"

    async def admin(self, *statements: str) -> None:
        engine = create_async_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                for statement in statements:
                    await connection.execute(text(statement))
        finally:
            await engine.dispose()

    async def restart(self, database: str) -> None:
        if self.owned:
            await self.ctl("restart", "-m", "fast")
        else:
            await self.admin(_terminate(database))

    async def stop(self, database: str) -> None:
        if self.owned:
            await self.ctl("stop", "-m", "fast")
        else:
            await self.admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false', _terminate(database))

    async def start(self, database: str) -> None:
        if self.owned:
            await self.ctl("start")
        else:
            await self.admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')

    async def is_up(self) -> bool:
        try:
            await self.admin("SELECT 1")
        except Exception:
            return False
        return True


def _terminate(database: str) -> str:
    return (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        pytest.fail("asyncpg is not installed: pip install '.[postgres]' (`make test` installs it)")
    external = os.environ.get("TEST_POSTGRES_URL")
    if external:
        server = PgServer(external)
        yield server
        if server.template:
            asyncio.run(server.admin(f'DROP DATABASE IF EXISTS "{server.template}" WITH (FORCE)'))
        return
    found = sorted(glob.glob(f"{PG_BINARIES}/postgres"))
    if not found:
        pytest.fail(
            f"PostgreSQL server binaries not found ({PG_BINARIES}/postgres): these tests start a "
            "throwaway server themselves. Install it (`apt-get install -y postgresql`; `make test` "
            "does so when run as root) or point TEST_POSTGRES_URL at a throwaway server."
        )
    bin_dir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="cvety-pg-"))
    if os.geteuid() == 0:
        try:
            shutil.chown(root, "postgres")
        except (LookupError, PermissionError) as exc:
            pytest.fail(f"as root, the server must run as user postgres: {exc}")
    initdb = [str(bin_dir / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", "postgres"]
    command = ["su", "postgres", "-c", shlex.join(initdb)] if os.geteuid() == 0 else initdb
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(f"initdb failed: {done.stdout}{done.stderr}")
    server = PgServer(
        f"postgresql+asyncpg://postgres@127.0.0.1:{_free_port()}/postgres", bin_dir=bin_dir, root=root
    )
    server.ctl_sync("start")
    try:
        yield server
    finally:
        subprocess.run(server._pg_ctl_args("stop", "-m", "immediate"), capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def pg_url(pg_server: PgServer) -> AsyncIterator[str]:
    """A fresh, migrated database for one test (a copy of a template migrated once)."""
    if pg_server.template is None:
        template = f"cvety_faults_template_{secrets.token_hex(3)}"
        await pg_server.admin(f'CREATE DATABASE "{template}"')
        engine = create_engine(pg_server.url_for(template))
        await migrate(engine)
        await engine.dispose()
        pg_server.template = template
    name = f"cvety_faults_{secrets.token_hex(4)}"
    await pg_server.admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_server.template}"')
    try:
        yield pg_server.url_for(name)
    finally:
        if not await pg_server.is_up() or not pg_server.owned:
            await pg_server.start(name)  # a test that failed while it was down
        await pg_server.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_of(url: str) -> str:
    database = make_url(url).database
    assert database is not None
    return database
