"""Exceptions raised by the Herald client: one class per kind of failure a caller handles differently."""

from __future__ import annotations

from typing import Any


class HeraldError(Exception):
    """Base class of every error raised by herald_client."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body

    def __str__(self) -> str:
        return f"{self.status} {self.message}" if self.status is not None else self.message


class TransportError(HeraldError):
    """The server could not be reached (connection refused, reset or timed out), after all retries."""


class BadRequest(HeraldError):
    """400: the request was invalid; `errors` maps field names to their messages."""

    def __init__(
        self, message: str, *, status: int | None = 400, body: Any = None, errors: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(message, status=status, body=body)
        self.errors: dict[str, list[str]] = errors or {}


class Unauthorized(HeraldError):
    """401 (or WebSocket close 4401): no credential, or a bad or revoked one."""


class Forbidden(HeraldError):
    """403: authenticated, but not allowed to do this."""


class NotFound(HeraldError):
    """404: no such thing, or something private the caller may not see."""


class Conflict(HeraldError):
    """409: a duplicate (slug, username) or an Idempotency-Key reused for a different request."""


class PayloadTooLarge(HeraldError):
    """413: the request body is over the server's limit."""


class RateLimited(HeraldError):
    """429: too many requests; `retry_after` is the server's hint in seconds, when it gave one."""

    def __init__(
        self, message: str, *, status: int | None = 429, body: Any = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status, body=body)
        self.retry_after = retry_after


class ServerError(HeraldError):
    """5xx: the server failed; the request may be retried."""


_BY_STATUS: dict[int, type[HeraldError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    429: RateLimited,
}


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _message(status: int, body: Any, reason: str) -> tuple[str, dict[str, list[str]]]:
    """The human message and the field errors of an error body (`{"detail": ...}` or `{field: [msgs]}`)."""
    if isinstance(body, dict):
        if "detail" in body and len(body) == 1:
            return str(body["detail"]), {}
        errors = {str(k): [str(m) for m in v] if isinstance(v, list) else [str(v)] for k, v in body.items()}
        text = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
        return text or reason, errors
    if isinstance(body, list) and body:
        return "; ".join(str(item) for item in body), {}
    if isinstance(body, str) and body.strip():
        return body.strip()[:500], {}
    return reason or f"HTTP {status}", {}


def error_for_status(status: int, body: Any, *, reason: str = "", retry_after: str | None = None) -> HeraldError:
    """The exception for an error response."""
    message, errors = _message(status, body, reason)
    if status == 400:
        return BadRequest(message, body=body, errors=errors)
    if status == 429:
        return RateLimited(message, body=body, retry_after=parse_retry_after(retry_after))
    if status >= 500:
        return ServerError(message, status=status, body=body)
    cls = _BY_STATUS.get(status, HeraldError)
    return cls(message, status=status, body=body)
