"""Structured logs: JSON lines on demand, a request id per HTTP request, a connection id per
socket, and no credentials in any line.

`LOG_FORMAT=json` switches the console handler to one JSON object per line. Every record
carries `request_id` (HTTP; an incoming `X-Request-ID` is honoured and echoed) or
`connection_id` (WebSocket), taken from context variables that the two middlewares below set.
Secrets never belong in a log line; `RedactSecretsFilter` scrubs anything shaped like an API
key, a ticket or an Authorization header anyway, in case a third-party message carries one.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
connection_id: contextvars.ContextVar[str] = contextvars.ContextVar("connection_id", default="")

access_logger = logging.getLogger("herald.access")

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}\Z")
_SECRETS = [
    (re.compile(r"hrld_[A-Za-z0-9_-]+"), "hrld_[redacted]"),
    (
        re.compile(r"(?i)\b(ticket|token|key|password|authorization)(=|:\s*|\"?:\s*\"?)(Token\s+)?[^\s&\"',;]+"),
        r"\1\2[redacted]",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class ContextFilter(logging.Filter):
    """Stamp each record with the request or connection it belongs to."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.connection_id = connection_id.get()
        return True


class RedactSecretsFilter(logging.Filter):
    """Scrub credentials from the rendered message (defence in depth; we never log them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with only known fields (never a request object or headers)."""

    EXTRA = ("request_id", "connection_id", "method", "path", "status", "duration_ms", "code")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in self.EXTRA:
            value = getattr(record, name, None)
            if value not in (None, ""):
                entry[name] = value
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ident = getattr(record, "request_id", "") or getattr(record, "connection_id", "")
        return f"{text} [{ident}]" if ident else text

    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei))


def logging_config(*, fmt: str, level: str, access_log: bool) -> dict[str, Any]:
    """The LOGGING setting: one console handler, plain or JSON."""
    if fmt not in ("plain", "json"):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"LOG_FORMAT must be 'plain' or 'json', got {fmt!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "config.logs.ContextFilter"},
            "redact": {"()": "config.logs.RedactSecretsFilter"},
        },
        "formatters": {
            "plain": {"()": "config.logs.PlainFormatter", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "json": {"()": "config.logs.JsonFormatter"},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": fmt, "filters": ["context", "redact"]},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.channels.server": {"level": "WARNING"},
            "daphne": {"level": "WARNING"},
            "herald.access": {"level": "INFO" if access_log else "WARNING"},
        },
    }


def _new_id() -> str:
    return uuid.uuid4().hex[:16]


class RequestIdMiddleware:
    """Give every HTTP request an id (or keep a sane incoming X-Request-ID), echo it, log the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _INCOMING_ID.match(incoming) else _new_id()
        token = request_id.set(rid)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = rid
            # The path only: query strings are the caller's business (and could carry secrets).
            access_logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            return response
        finally:
            request_id.reset(token)


Receive = Callable[[], Awaitable[dict[str, Any]]]
SendFn = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[dict[str, Any], Receive, SendFn], Awaitable[None]]


class ConnectionIdMiddleware:
    """ASGI middleware for sockets: a connection id in every log line the socket causes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: SendFn) -> None:
        connection_id.set(_new_id())  # this connection's task owns its context
        started = time.monotonic()
        state: dict[str, Any] = {"code": None}

        async def logged_send(message: dict[str, Any]) -> None:
            if message["type"] == "websocket.close":
                state["code"] = message.get("code", 1000)
            await send(message)

        # The hub looks through wrappers for the server's transport (notifications.hub).
        logged_send.__wrapped__ = send  # type: ignore[attr-defined]
        try:
            await self.app(scope, receive, logged_send)
        finally:
            access_logger.info(
                "websocket %s closed (%s)",
                scope.get("path", ""),
                state["code"] or "by client",
                extra={
                    "path": scope.get("path", ""),
                    "code": state["code"],
                    "duration_ms": round((time.monotonic() - started) * 1000, 2),
                },
            )
