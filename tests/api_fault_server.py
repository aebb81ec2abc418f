"""A loopback aiohttp server whose every answer the test decides, faults included.

respx cannot produce a real timeout, a cut-off body or a refused connection; this can.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import BodyPartReader, web
from multidict import CIMultiDictProxy, MultiMapping

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Part:
    name: str | None
    filename: str | None
    content_type: str | None
    content: bytes


@dataclass
class Seen:
    """One request as it arrived on the wire."""

    method: str
    path: str
    query: MultiMapping[str]
    headers: CIMultiDictProxy[str]
    body: bytes = b""
    parts: list[Part] = field(default_factory=list)

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class FaultServer:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.seen: list[Seen] = []
        # Stalled handlers wait on this; stop() sets it so teardown never waits for them.
        self.release = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # access_log=None: aiohttp would log our query strings, token included.
        self._runner = web.AppRunner(app, shutdown_timeout=0.05, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def reply(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.route(method, path, json_reply(body, status=status, headers=headers))

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        seen = Seen(request.method, request.path, request.query, request.headers)
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                assert isinstance(part, BodyPartReader)
                seen.parts.append(
                    Part(part.name, part.filename, part.headers.get("Content-Type"), bytes(await part.read()))
                )
        else:
            seen.body = await request.read()
        self.seen.append(seen)
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            return web.json_response({"detail": "Not Found"}, status=404)
        return await handler(request)


def json_reply(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(body, status=status, headers=headers)

    return handler


def text_reply(text: str, *, status: int = 200, content_type: str = "text/html") -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(text=text, status=status, content_type=content_type)

    return handler


def redirect(status: int, location: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": location})

    return handler


def stall(server: FaultServer) -> Handler:
    """Never answers (until the server stops): longer than any client read timeout."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await server.release.wait()
        return web.json_response({"success": True, "data": None})

    return handler


def cut_off(partial: bytes, declared_length: int = 1000) -> Handler:
    """Promises `declared_length` bytes, sends `partial`, hangs up."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.content_length = declared_length
        await response.prepare(request)
        await response.write(partial)
        assert request.transport is not None
        request.transport.close()
        return response

    return handler


def hang_up(server: FaultServer) -> Handler:
    """Reads the request, then closes the connection without any answer."""

    async def handler(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        await server.release.wait()
        return web.Response()

    return handler
