"""Typed failures of the two backends, small enough for a handler to explain in Russian.

Messages never contain a token or a query string: only the backend, method and path.
"""

from __future__ import annotations


class ApiError(Exception):
    """Base of every failure talking to cvety.kz or the CRM API."""

    def __init__(self, message: str, *, backend: str, endpoint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.backend = backend  # "cvety" | "crm"
        self.endpoint = endpoint  # e.g. "GET /orders" — never with the query string


class ApiUnavailable(ApiError):
    """The backend could not be reached or answered nonsense: connection error, 5xx,
    a read timeout on a safe request, a malformed or cut-off body."""


class ApiBadResponse(ApiUnavailable):
    """2xx whose body is not the JSON the contract promises (malformed, cut off, wrong shape)."""


class ApiRejected(ApiError):
    """The backend understood and said no: 4xx, `success/status: false`, or the CRM's
    400/404 disguised as HTTP 500 with `detail: "404: ..."`."""

    def __init__(
        self,
        message: str,
        *,
        backend: str,
        endpoint: str = "",
        status_code: int | None = None,
        server_message: str | None = None,
    ) -> None:
        super().__init__(message, backend=backend, endpoint=endpoint)
        self.status_code = status_code
        self.server_message = server_message


class ApiNotSupported(ApiRejected):
    """HTTP 405: the server does not implement this action (documented for some product endpoints)."""


class ApiNotFound(ApiRejected):
    """HTTP 404 (or the CRM's "404: ..." in a 500)."""


class ApiUnknownOutcome(ApiError):
    """A write timed out or the connection broke after the request was sent: it may or may not
    have been applied. Re-read the resource before telling anyone anything or retrying."""
