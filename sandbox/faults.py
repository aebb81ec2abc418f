"""Fault injection per route, for tests of how the bot survives the real servers' bad days.

A fault matches a method (`"*"` for any) and a full path as served (`"/cvety/api/v2/orders"`;
a trailing `*` matches a prefix: `"/crm/*"`). The first matching fault is used; `times=N` makes it
apply to the next N matching requests only. Faults run before authentication and before the
route's handler, so they work on any path, existing or not.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware


@dataclass
class Fault:
    method: str
    path: str
    status: int | None = None
    body: bytes | None = None
    delay: float | None = None
    hang: bool = False
    truncate: bool = False
    redirect_to: str | None = None
    apply_then_hang: bool = False
    times: int | None = None
    content_type: str = "application/json"

    def matches(self, method: str, path: str) -> bool:
        if self.method != "*" and self.method != method.upper():
            return False
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path


class Faults:
    """The faults of one sandbox, and how many requests each route got.

    - `status` (+ `body`): answer that instead of the route (a default error body of the backend
      when `body` is None; status 200 when only `body` is given, e.g. malformed JSON).
    - `delay`: sleep, then go on (to the route, or to the given status/body).
    - `hang`: wait until the client goes away or `release()`; released, it goes on as above.
    - `truncate`: send half of the answer under a Content-Length for all of it, then close. With
      no `body`/`status` the route runs (a POST's write happens) and its answer is cut.
    - `redirect_to`: answer 308 (or `status` if given) with `Location`; the request's query string
      is appended unless `redirect_to` has its own.
    - `apply_then_hang`: the route runs and its write is applied, then the answer is withheld as
      with `hang` (the "unknown outcome after a timeout" case); released, the answer is sent.
    """

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._calls: Counter[tuple[str, str]] = Counter()
        self._release = asyncio.Event()
        self._hanging = 0
        self._changed = asyncio.Condition()

    def add(
        self,
        method: str,
        path: str,
        *,
        status: int | None = None,
        body: str | bytes | None = None,
        delay: float | None = None,
        hang: bool = False,
        truncate: bool = False,
        redirect_to: str | None = None,
        apply_then_hang: bool = False,
        times: int | None = None,
        content_type: str = "application/json",
    ) -> Fault:
        fault = Fault(
            method=method.upper(),
            path=path,
            status=status,
            body=body.encode() if isinstance(body, str) else body,
            delay=delay,
            hang=hang,
            truncate=truncate,
            redirect_to=redirect_to,
            apply_then_hang=apply_then_hang,
            times=times,
            content_type=content_type,
        )
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Removes every fault (requests already hanging keep hanging until `release()`)."""
        self._faults.clear()

    def release(self) -> None:
        """Lets every request that hangs now go on; later hangs hang again."""
        self._release.set()
        self._release = asyncio.Event()

    def calls(self, method: str = "*", path: str = "*") -> int:
        """Requests received so far for a route (`"*"` and trailing-`*` prefixes as in `add`)."""
        probe = Fault(method.upper(), path)
        return sum(count for (m, p), count in self._calls.items() if probe.matches(m, p))

    @property
    def hanging(self) -> int:
        """Requests waiting right now in `hang` / `apply_then_hang`."""
        return self._hanging

    async def wait_hanging(self, count: int = 1) -> None:
        """Returns once at least `count` requests hang (use it instead of sleeping in tests)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._hanging >= count)

    def take(self, method: str, path: str) -> Fault | None:
        """Counts the request and returns the fault it meets, if any (used by the middleware)."""
        self._calls[(method.upper(), path)] += 1
        for fault in self._faults:
            if fault.matches(method, path):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    async def hang(self) -> None:
        """Waits for `release()`; cancelled when the client goes away."""
        released = self._release
        await self._set_hanging(+1)
        try:
            await released.wait()
        finally:
            self._hanging -= 1

    async def _set_hanging(self, delta: int) -> None:
        async with self._changed:
            self._hanging += delta
            self._changed.notify_all()


def _default_body(path: str, status: int) -> bytes:
    """An error body in the style of the backend that serves `path`."""
    if path.startswith("/crm/"):
        payload: dict[str, object] = {"detail": f"Injected fault (HTTP {status})"}
    else:
        payload = {
            "success": False,
            "error": {"code": "server_error", "message": f"Injected fault (HTTP {status})"},
        }
    return json.dumps(payload, ensure_ascii=False).encode()


async def _send_truncated(
    request: web.Request, status: int, content_type: str, payload: bytes
) -> web.StreamResponse:
    response = web.StreamResponse(status=status, headers={"Content-Type": content_type})
    response.content_length = len(payload) + max(16, len(payload))
    await response.prepare(request)
    await response.write(payload[: len(payload) // 2])
    if request.transport is not None:
        request.transport.close()
    return response


def faults_middleware(faults: Faults) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        fault = faults.take(request.method, request.path)
        if fault is None:
            return await handler(request)
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.hang:
            await faults.hang()
        if fault.redirect_to is not None:
            location = fault.redirect_to
            if "?" not in location and request.query_string:
                location += "?" + request.query_string
            return web.Response(status=fault.status or 308, headers={"Location": location})
        if fault.status is not None or fault.body is not None:
            status = fault.status or 200
            body = fault.body if fault.body is not None else _default_body(request.path, status)
            if fault.truncate:
                return await _send_truncated(request, status, fault.content_type, body)
            return web.Response(status=status, body=body, headers={"Content-Type": fault.content_type})
        response = await handler(request)
        if fault.apply_then_hang:
            await faults.hang()
        if fault.truncate and isinstance(response, web.Response) and isinstance(response.body, bytes):
            content_type = response.headers.get("Content-Type", fault.content_type)
            return await _send_truncated(request, response.status, content_type, response.body)
        return response

    return middleware
