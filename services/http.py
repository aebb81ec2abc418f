"""The one place where the API clients speak HTTP.

`ApiTransport` adds auth, follows redirects itself (a POST stays a POST), removes the response
envelope and turns every failure into one of `services.errors`. Messages and logs carry the
backend, method and path only: never a URL with its query string, never a token, never the text
of an httpx exception (which may quote the whole URL).
"""

from __future__ import annotations

import json as jsonlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import httpx

from services.aiohttp_transport import AiohttpTransport
from services.errors import (
    ApiBadResponse,
    ApiError,
    ApiNotFound,
    ApiNotSupported,
    ApiRejected,
    ApiUnavailable,
    ApiUnknownOutcome,
)
from services.models import error_summary

log = logging.getLogger("services.api")

T = TypeVar("T")

USER_AGENT = "cvety-bot/0.1"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# cvety.kz refuses a Content-Type on requests without a body.
BODILESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3
MAX_SERVER_MESSAGE = 300


def make_http_client(
    base_url: str,
    *,
    connect_timeout: float = 5.0,
    read_timeout: float = 20.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The shared client of one backend; the composition root owns it and closes it. Its bytes go
    through aiohttp (services/aiohttp_transport.py) unless a test passes its own transport."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
        ),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        transport=transport or AiohttpTransport(),
    )


# --- keeping the token out of httpx's own logs -------------------------------------------------

_QUERY_TOKEN = re.compile(r"(access_token=)[^&\s\"'>]+", re.IGNORECASE)
# httpx logs every URL at INFO; httpcore logs response headers (a redirect's Location may echo the
# query string) at DEBUG. bot/logs.py redacts at the handler, but the services must be safe on
# their own, whatever handlers a test or another entry point installs.
_THIRD_PARTY_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


class _HideQueryToken(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix, only to keep secret-free
            message = str(record.msg)
        if "access_token=" in message.lower():
            record.msg, record.args = _QUERY_TOKEN.sub(r"\1***", message), None
        return True


def _guard_third_party_logs() -> None:
    for name in _THIRD_PARTY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, _HideQueryToken) for existing in logger.filters):
            logger.addFilter(_HideQueryToken())


# --- answers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiResponse:
    """A 2xx answer: `data` is the payload without its envelope, `body` the whole JSON."""

    backend: str
    method: str
    endpoint: str
    status_code: int
    body: Any
    data: Any
    pagination: Mapping[str, Any] = field(default_factory=dict)

    def parse(self, parser: Callable[[Any], T], *, whole_body: bool = False) -> T:
        """Run a model constructor on the payload; an unreadable shape becomes ApiBadResponse,
        or ApiUnknownOutcome after a write (it went through, but we cannot tell how)."""
        try:
            return parser(self.body if whole_body else self.data)
        except (ValueError, TypeError) as exc:
            reason = f"unexpected answer: {error_summary(exc)}"
        failure = _unreadable(self.method, reason, backend=self.backend, endpoint=self.endpoint)
        log.warning("%s %s failed: %s: %s", self.backend, self.endpoint, type(failure).__name__, reason)
        raise failure


def _unreadable(method: str, reason: str, *, backend: str, endpoint: str) -> ApiError:
    if method in SAFE_METHODS:
        return ApiBadResponse(reason, backend=backend, endpoint=endpoint)
    return ApiUnknownOutcome(reason, backend=backend, endpoint=endpoint)


def _decode(content: bytes) -> tuple[Any, bool]:
    """(JSON value, True), (None, True) for an empty body, (None, False) for anything else."""
    if not content.strip():
        return None, True
    try:
        return jsonlib.loads(content), True
    except (ValueError, RecursionError):
        return None, False


def server_message(body: Any) -> str | None:
    """What the server said went wrong, in any of the error shapes of the contract."""
    if isinstance(body, str):
        return body or None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(body.get("message"), str) and body["message"]:
        return str(body["message"])
    detail = body.get("detail")
    if isinstance(detail, str) and detail:
        return detail
    if isinstance(detail, list):  # FastAPI validation errors
        messages = [str(item.get("msg")) for item in detail if isinstance(item, dict) and item.get("msg")]
        return "; ".join(messages) or None
    if isinstance(error, str) and error:
        return error
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return str(error["code"])
    return None


# The CRM reports its own 400/404 as HTTP 500 with detail "404: Product not found".
_DISGUISED_STATUS = re.compile(r"^\s*(4\d\d)\s*:\s*(.*)$", re.DOTALL)


class ApiTransport:
    """Requests to one backend over a shared `httpx.AsyncClient` (whose base_url may carry a path
    prefix such as /api/v2; paths here are relative to it)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        backend: str,
        token: str | None = None,
        auth: Literal["query", "bearer"] = "bearer",
    ) -> None:
        self._client = client
        self.backend = backend
        self._token = token or None
        self._auth = auth
        _guard_third_party_logs()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
    ) -> ApiResponse:
        method = method.upper()
        endpoint = f"{method} /{path.lstrip('/')}"
        started = time.perf_counter()
        try:
            response = await self._send(method, path, endpoint, params, json, data, files)
            return self._read(response, method, endpoint)
        except ApiError as error:
            log.warning(
                "%s %s failed: %s: %s (%d ms)",
                self.backend,
                endpoint,
                type(error).__name__,
                error,
                (time.perf_counter() - started) * 1000,
                extra={"backend": self.backend, "endpoint": endpoint},
            )
            raise

    # --- sending -------------------------------------------------------------------------------

    def _query(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        query = {key: value for key, value in (params or {}).items() if value is not None}
        if self._token and self._auth == "query":
            query["access_token"] = self._token
        return query

    async def _send(
        self,
        method: str,
        path: str,
        endpoint: str,
        params: Mapping[str, Any] | None,
        json: Any,
        data: Mapping[str, Any] | None,
        files: list[tuple[str, tuple[str, bytes, str]]] | None,
    ) -> httpx.Response:
        headers = {}
        if self._token and self._auth == "bearer":
            headers["Authorization"] = f"Bearer {self._token}"
        # A relative path keeps the base_url's prefix: httpx joins "orders" and "/orders" alike.
        url: httpx.URL | str = path
        for _ in range(MAX_REDIRECTS + 1):
            request = self._client.build_request(
                method, url, params=self._query(params), headers=headers, json=json, data=data, files=files
            )
            if method in BODILESS_METHODS and json is None and data is None and files is None:
                request.headers.pop("Content-Type", None)  # even if a client default sets one
            response = await self._exchange(request, method, endpoint)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_CODES or not location:
                return response
            # Re-sent with the same method and body: httpx would turn a redirected POST into a GET.
            url = self._redirect_target(request.url, location, endpoint)
        raise ApiUnavailable("too many redirects", backend=self.backend, endpoint=endpoint)

    def _redirect_target(self, current: httpx.URL, location: str, endpoint: str) -> httpx.URL:
        try:
            target = current.join(location)
        except httpx.InvalidURL:
            target = None
        # Never carry the token to another host or down to plain http.
        if target is None or target.host != current.host or target.scheme not in {current.scheme, "https"}:
            raise ApiUnavailable("redirected elsewhere", backend=self.backend, endpoint=endpoint)
        return target.copy_with(query=None)  # our own params are added again

    async def _exchange(self, request: httpx.Request, method: str, endpoint: str) -> httpx.Response:
        started = time.perf_counter()
        failure: ApiError
        try:
            response = await self._client.send(request, follow_redirects=False)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing left this machine: safe to retry, whatever the method.
            failure = ApiUnavailable(
                f"cannot connect ({type(exc).__name__})", backend=self.backend, endpoint=endpoint
            )
        except (
            httpx.TimeoutException,
            httpx.NetworkError,
            httpx.RemoteProtocolError,
            httpx.DecodingError,
        ) as exc:
            # The request (or part of it) went out and no complete answer came back.
            reason = f"no complete answer ({type(exc).__name__})"
            failure = (
                ApiUnavailable(reason, backend=self.backend, endpoint=endpoint)
                if method in SAFE_METHODS
                else ApiUnknownOutcome(reason, backend=self.backend, endpoint=endpoint)
            )
        except httpx.HTTPError as exc:
            failure = ApiUnavailable(
                f"request failed ({type(exc).__name__})", backend=self.backend, endpoint=endpoint
            )
        else:
            log.debug(
                "%s %s %s -> %d (%d ms)",
                self.backend,
                method,
                request.url.path,
                response.status_code,
                (time.perf_counter() - started) * 1000,
                extra={"backend": self.backend, "endpoint": endpoint, "http_status": response.status_code},
            )
            return response
        # Raised outside the except clause so the httpx exception (and its URL) is not chained.
        raise failure

    # --- reading -------------------------------------------------------------------------------

    def _read(self, response: httpx.Response, method: str, endpoint: str) -> ApiResponse:
        status = response.status_code
        body, readable = _decode(response.content)
        if not 200 <= status < 300:
            raise self._http_error(status, body if readable else None, method, endpoint)
        if not readable:
            raise _unreadable(method, "answer is not JSON", backend=self.backend, endpoint=endpoint)
        data: Any = body
        pagination: dict[str, Any] = {}
        if isinstance(body, dict):
            flags = [body[key] for key in ("success", "status") if isinstance(body.get(key), bool)]
            if False in flags:
                message = self._clean(server_message(body))
                raise ApiRejected(
                    message or "refused",
                    backend=self.backend,
                    endpoint=endpoint,
                    status_code=status,
                    server_message=message,
                )
            if flags and "data" in body:
                data = body["data"]
                pagination = body["pagination"] if isinstance(body.get("pagination"), dict) else {}
        return ApiResponse(self.backend, method, endpoint, status, body, data, pagination)

    def _http_error(self, status: int, body: Any, method: str, endpoint: str) -> ApiError:
        message = self._clean(server_message(body))
        where = {"backend": self.backend, "endpoint": endpoint}
        if status >= 500:
            disguised = _DISGUISED_STATUS.match(message or "")
            if disguised is None:
                text = f"HTTP {status}" + (f": {message}" if message else "")
                # A gateway that gave up may have left the backend finishing the write.
                if method not in SAFE_METHODS and status in (502, 504):
                    return ApiUnknownOutcome(text, **where)
                return ApiUnavailable(text, **where)
            status, message = int(disguised[1]), disguised[2].strip() or None
        if 300 <= status < 400:
            return ApiUnavailable(f"HTTP {status}", **where)
        if status in (408, 429):  # "try again later", not "no"
            return ApiUnavailable(f"HTTP {status}" + (f": {message}" if message else ""), **where)
        kind = {404: ApiNotFound, 405: ApiNotSupported}.get(status, ApiRejected)
        return kind(message or f"HTTP {status}", status_code=status, server_message=message, **where)

    def _clean(self, message: str | None) -> str | None:
        """A server message fit for our errors and logs: no token (servers do echo them), short."""
        if not message:
            return None
        if self._token:
            message = message.replace(self._token, "***")
        message = _QUERY_TOKEN.sub(r"\1***", " ".join(message.split()))
        return message[:MAX_SERVER_MESSAGE] or None
