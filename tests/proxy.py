"""A real round-robin reverse proxy for the replica tests: Debian's nginx, started on a free port
with its config, temp files and logs in a temp folder, stopped at the end. Missing nginx fails
the run loudly (`make test` installs it as root): nothing is skipped."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from pathlib import Path

import pytest

CONFIG = """
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log stderr notice;
{user}
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream replicas {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://replicas;
            # a replica that refuses the connection (down, restarting) is skipped; a request it
            # took is never sent to a second one by the proxy (POST): Telegram sends it again
            proxy_next_upstream error timeout;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Nginx:
    """nginx in front of `upstreams` (ports on 127.0.0.1), round robin, on `self.port`."""

    def __init__(self, root: Path, upstreams: list[int]) -> None:
        self.root = root
        self.upstreams = upstreams
        self.port = free_port()
        self._process: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        binary = shutil.which("nginx", path="/usr/sbin:/usr/bin:/sbin:/bin")
        if binary is None:
            pytest.fail("nginx not found: `apt-get install -y nginx` (`make test` does so when run as root)")
        self.root.mkdir(parents=True, exist_ok=True)
        servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=0;" for port in self.upstreams)
        user = "user root;" if os.geteuid() == 0 else ""  # workers must read the temp folder
        config = self.root / "nginx.conf"
        config.write_text(CONFIG.format(root=self.root, servers=servers, port=self.port, user=user))
        self._process = await asyncio.create_subprocess_exec(
            binary, "-p", str(self.root), "-c", str(config), stderr=asyncio.subprocess.PIPE
        )
        await self._listening()

    async def _listening(self) -> None:
        """nginx says on stderr when its worker runs: the port is open from then on."""
        assert self._process is not None and self._process.stderr is not None
        seen: list[str] = []

        async def started() -> None:
            assert self._process is not None and self._process.stderr is not None
            async for raw in self._process.stderr:
                seen.append(raw.decode(errors="replace").rstrip())
                if "start worker process" in seen[-1]:
                    return
            pytest.fail("nginx did not start:\n" + "\n".join(seen))

        await asyncio.wait_for(started(), 20)
        self._drain = asyncio.create_task(self._process.stderr.read())  # keep its pipe from filling

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            await asyncio.wait_for(self._process.wait(), 20)
        if self._drain is not None:
            await asyncio.wait_for(self._drain, 20)
