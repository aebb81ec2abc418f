"""One aiohttp server for both backends, on 127.0.0.1.

- cvety.kz API v2 under `/cvety/api/v2` (`CVETY_API_URL=http://127.0.0.1:<port>/cvety/api/v2`);
- the CRM API under `/crm` (`CRM_API_URL=http://127.0.0.1:<port>/crm`);
- pictures under `/upload/...` at the origin (relative image paths of cvety.kz resolve there);
- `/track/<order id>`: the tracking page the orders link to;
- `POST /_sandbox/new-order`: a new order arrives now (for training: show the alert flow).

Every request is recorded (`Sandbox.requests`) and goes through the fault injector
(`Sandbox.faults`, see `sandbox.faults`) before anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import struct
import zlib
from dataclasses import dataclass, field
from html import escape

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from sandbox.crm import CrmApi
from sandbox.cvety import CvetyApi
from sandbox.faults import Faults, faults_middleware
from sandbox.responses import json_response
from sandbox.state import STATUSES, SandboxState

log = logging.getLogger(__name__)

CVETY_PREFIX = "/cvety/api/v2"
CRM_PREFIX = "/crm"


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int | None = None  # of the answer, once there is one


STATE_KEY = web.AppKey("sandbox_state", SandboxState)
FAULTS_KEY = web.AppKey("sandbox_faults", Faults)
REQUESTS_KEY = web.AppKey("sandbox_requests", list[RecordedRequest])


def _recording_middleware(requests: list[RecordedRequest], record_requests: bool) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read() if request.can_read_body else b""
        record = RecordedRequest(
            request.method, request.path, dict(request.query), dict(request.headers), body
        )
        if record_requests:
            requests.append(record)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            record.status = exc.status
            raise
        record.status = response.status
        return response

    return middleware


@web.middleware
async def _routing_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unknown paths and methods answer in the style of the backend the path belongs to."""
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
        if request.match_info.http_exception is None:
            raise  # raised by a handler, not by the router
        if request.path.startswith(CRM_PREFIX + "/"):
            return json_response({"detail": exc.reason}, exc.status)
        if request.path.startswith(CVETY_PREFIX + "/"):
            code = "not_found" if exc.status == 404 else "method_not_allowed"
            return json_response(
                {"success": False, "error": {"code": code, "message": exc.reason}}, exc.status
            )
        raise


@functools.lru_cache(maxsize=64)
def placeholder_png(key: str, size: int = 160) -> bytes:
    """A small picture of a flower in a colour taken from `key` (stdlib only)."""
    seed = zlib.crc32(key.encode())
    petal = (150 + seed % 100, 60 + (seed >> 8) % 120, 90 + (seed >> 16) % 130)
    background = (246, 241, 236)
    center = (250, 205, 70)
    rows = bytearray()
    middle = size / 2
    for y in range(size):
        rows.append(0)
        for x in range(size):
            dx, dy = x - middle, y - middle
            distance = (dx * dx + dy * dy) ** 0.5
            petals = math.cos(5 * math.atan2(dy, dx))  # five petals: the radius swings with the angle
            if distance < size * 0.12:
                rows += bytes(center)
            elif distance < size * (0.28 + 0.14 * petals):
                rows += bytes(petal)
            else:
                rows += bytes(background)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows)))
        + chunk(b"IEND", b"")
    )


def create_app(
    state: SandboxState | None = None, *, token: str = "demo-token", record_requests: bool = True
) -> web.Application:
    """The sandbox as an aiohttp application; `app[STATE_KEY]`, `app[FAULTS_KEY]`, `app[REQUESTS_KEY]`.

    `record_requests=False` for long-running demo servers, whose request log would only grow."""
    state = state if state is not None else SandboxState.seeded()
    faults = Faults()
    requests: list[RecordedRequest] = []
    app = web.Application(
        middlewares=[
            _recording_middleware(requests, record_requests),
            faults_middleware(faults),
            _routing_errors,
        ],
        client_max_size=32 * 1024 * 1024,
    )
    app[STATE_KEY] = state
    app[FAULTS_KEY] = faults
    app[REQUESTS_KEY] = requests

    async def index(request: web.Request) -> web.Response:
        origin = f"{request.scheme}://{request.host}"
        return web.Response(
            text=(
                "cvety-bot sandbox: a demo flower shop in Almaty.\n"
                f"CVETY_API_URL={origin}{CVETY_PREFIX}\nCRM_API_URL={origin}{CRM_PREFIX}\n"
                "POST /_sandbox/new-order makes a new order arrive.\n"
            )
        )

    async def upload(request: web.Request) -> web.Response:
        stored = state.uploads.get(request.path)
        if stored is not None:
            return web.Response(body=stored[0], content_type=stored[1])
        if request.path in state.placeholder_images:
            return web.Response(body=placeholder_png(request.path), content_type="image/png")
        raise web.HTTPNotFound()

    async def track(request: web.Request) -> web.Response:
        order = state.orders.get(int(request.match_info["order_id"]))
        if order is None:
            raise web.HTTPNotFound()
        name = STATUSES.get(order.status, (order.status, order.status))[1]
        html = f"<html><body><h1>Заказ №{order.id}</h1><p>Статус: {escape(name)}</p></body></html>"
        return web.Response(text=html, content_type="text/html")

    async def new_order(request: web.Request) -> web.Response:
        order = state.new_order()
        log.info("sandbox: new order %s", order.id)
        return json_response({"success": True, "data": {"id": order.id}}, 201)

    app.router.add_get("/", index)
    app.router.add_get("/upload/{path:.+}", upload)
    app.router.add_get(r"/track/{order_id:\d+}", track)
    app.router.add_post("/_sandbox/new-order", new_order)
    app.add_subapp(CVETY_PREFIX, CvetyApi(state, token).app())
    app.add_subapp(CRM_PREFIX, CrmApi(state).app())
    return app


@dataclass
class Sandbox:
    """A running sandbox server (from `start_sandbox`)."""

    state: SandboxState
    faults: Faults
    token: str
    origin: str
    requests: list[RecordedRequest]
    runner: web.AppRunner = field(repr=False)

    @property
    def cvety_url(self) -> str:
        return self.origin + CVETY_PREFIX

    @property
    def crm_url(self) -> str:
        return self.origin + CRM_PREFIX

    @property
    def port(self) -> int:
        return int(self.origin.rsplit(":", 1)[1])

    async def close(self) -> None:
        """Stops the server; requests still hanging in a fault are released first."""
        self.faults.clear()
        self.faults.release()
        await self.runner.cleanup()

    async def __aenter__(self) -> Sandbox:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def start_sandbox(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    state: SandboxState | None = None,
    token: str = "demo-token",
    record_requests: bool = True,
) -> Sandbox:
    """Serves the sandbox on `host:port` (0 = a free port) until `Sandbox.close()`.

    A client that goes away cancels its request's handler (`handler_cancellation`), which is what
    ends a `hang` fault when the client times out.
    """
    app = create_app(state, token=token, record_requests=record_requests)
    runner = web.AppRunner(app, shutdown_timeout=0.05, handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    if ":" in bound_host:
        bound_host = f"[{bound_host}]"
    return Sandbox(
        state=app[STATE_KEY],
        faults=app[FAULTS_KEY],
        token=token,
        origin=f"http://{bound_host}:{bound_port}",
        requests=app[REQUESTS_KEY],
        runner=runner,
    )


def main_serve(
    port: int,
    host: str = "127.0.0.1",
    *,
    token: str = "demo-token",
    new_order_every: float | None = 900.0,
) -> None:
    """Serves the demo shop until Ctrl+C (`cvety-bot sandbox --port P`).

    A new order arrives every `new_order_every` seconds (None: never), so staff in training see
    new-order alerts; `POST /_sandbox/new-order` makes one arrive at once.
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(host, port, token, new_order_every))


async def _serve(host: str, port: int, token: str, new_order_every: float | None) -> None:
    sandbox = await start_sandbox(host, port, token=token, record_requests=False)
    log.info("Sandbox (demo shop) is running on %s", sandbox.origin)
    log.info("CVETY_API_URL=%s", sandbox.cvety_url)
    log.info("CRM_API_URL=%s", sandbox.crm_url)
    log.info("CVETY_API_TOKEN=%s (demo token)", sandbox.token)
    try:
        while new_order_every is not None:
            await asyncio.sleep(new_order_every)
            order = sandbox.state.new_order()
            log.info("Sandbox: new order №%s arrived", order.id)
        await asyncio.Event().wait()  # serve until cancelled
    finally:
        await sandbox.close()
