"""httpx's requests carried by aiohttp.

The API clients keep httpx's interface (requests, event hooks, MockTransport in tests); the bytes
go through aiohttp, which the bot already loads for Telegram and which costs a third of httpcore's
time per request on loopback and lets gathered requests really overlap (bench/speed.py's floor).

Every aiohttp failure becomes the httpx exception that says the same about the request, because
`ApiTransport` decides on that whether a write may have happened: a failure before the request
left (no connection) is a connect error, anything after it (a dropped connection, a cut-off
body, a read timeout) a read error or a read timeout. The exceptions carry our own words only:
aiohttp's may quote the URL, and with it the token.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
import httpx
from yarl import URL

# Below the 5 s keep-alive of uvicorn and most proxies: a connection the server is about to close
# is not reused for a write that would then die on it.
KEEPALIVE_SECONDS = 4.0
MAX_CONNECTIONS = 100


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session per transport, made in the event loop of the first request."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_SECONDS),
                cookie_jar=aiohttp.DummyCookieJar(),  # an API client keeps no cookies (neither does ours)
                trust_env=True,  # HTTPS_PROXY / NO_PROXY, as httpx honours them
                auto_decompress=False,  # httpx decodes gzip itself, from the headers we pass on
                skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
            )
        return self._session

    def _timeout(self, extensions: Mapping[str, object]) -> aiohttp.ClientTimeout:
        limits = extensions.get("timeout")
        limits = limits if isinstance(limits, Mapping) else {}
        key = tuple(_seconds(limits.get(name)) for name in ("pool", "connect", "read"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            pool, connect, read = key
            # pool: waiting for a free connection and making one; connect: the TCP/TLS handshake
            timeout = aiohttp.ClientTimeout(total=None, connect=pool, sock_connect=connect, sock_read=read)
            self._timeouts[key] = timeout
        return timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._open_session()
        body = await request.aread()
        headers = request.headers.copy()
        if headers.pop("Transfer-Encoding", None) is not None:  # the body is whole now: aiohttp counts it
            headers.pop("Content-Length", None)
        try:
            async with session.request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=headers.multi_items(),
                data=body or None,
                allow_redirects=False,  # ApiTransport follows them itself
                timeout=self._timeout(request.extensions),
                compress=None,
            ) as answer:
                content = await answer.read()
                status, answer_headers = answer.status, answer.raw_headers
        except aiohttp.ClientError as exc:
            raise _as_httpx(exc, request) from None
        except TimeoutError:
            raise httpx.ReadTimeout("no answer in time", request=request) from None
        return httpx.Response(
            status, headers=list(answer_headers), stream=httpx.ByteStream(content), request=request
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _seconds(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _as_httpx(exc: aiohttp.ClientError, request: httpx.Request) -> httpx.TransportError:
    """The httpx failure of the same moment: before the request left, or after."""
    kind = type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # no free connection, or no handshake, in time
        return httpx.ConnectTimeout(f"connect timeout ({kind})", request=request)
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ClientHttpProxyError):
        return httpx.ConnectError(f"cannot connect ({kind})", request=request)
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(f"cannot send ({kind})", request=request)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(f"read timeout ({kind})", request=request)
    if isinstance(exc, aiohttp.ClientResponseError):  # a status line or headers we cannot read
        return httpx.RemoteProtocolError(f"malformed answer ({kind})", request=request)
    # ServerDisconnectedError, ClientOSError, ClientPayloadError, ...: the request may have arrived
    return httpx.ReadError(f"connection lost ({kind})", request=request)
