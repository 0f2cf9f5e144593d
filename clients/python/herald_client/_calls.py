"""The REST endpoints as data (method, path, body, how to read the answer), shared by the sync and async
clients so that each only has to send requests, sleep and retry in its own way."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar, cast
from urllib.parse import parse_qsl, quote, urlsplit

import httpx

from herald_client._version import __version__
from herald_client.backoff import Backoff
from herald_client.errors import HeraldError, RateLimited, ServerError, error_for_status
from herald_client.types import Channel, InboxItem, Notification, Token

T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8000"
USER_AGENT = f"herald-client/{__version__}"


@dataclass(frozen=True)
class Call(Generic[T]):
    """One REST request and how to turn its successful response into a result."""

    method: str
    path: str  # relative to /api/v1/
    parse: Callable[[httpx.Response], T]
    json: Any = None
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    # Safe to resend after the server may already have acted on it (reads, deletes, idempotent writes,
    # publishes carrying an Idempotency-Key). Others are resent only when they provably never left.
    idempotent: bool = True


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before resending a failed request."""

    retries: int = 3
    backoff: Backoff = field(default_factory=Backoff)
    max_retry_after: float = 60.0  # a 429 asking to wait longer than this is raised at once

    def delay(self, call: Call[Any], attempt: int, error: Exception) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None to give up and raise."""
        if attempt >= self.retries:
            return None
        if isinstance(error, RateLimited):
            # Throttled requests were not processed, so even non-idempotent ones may be resent.
            if error.retry_after is None:
                return self.backoff.delay(attempt)
            if error.retry_after > self.max_retry_after:
                return None
            return error.retry_after + random.uniform(0, min(1.0, self.backoff.initial))
        if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return self.backoff.delay(attempt)  # the request never reached the server
        if isinstance(error, httpx.TransportError | ServerError) and call.idempotent:
            return self.backoff.delay(attempt)
        return None


# --- configuration ------------------------------------------------------------------------------


def resolve_url(url: str | None) -> str:
    """The server's root URL: the argument, else $HERALD_URL, else http://127.0.0.1:8000."""
    root = (url or os.environ.get("HERALD_URL") or DEFAULT_URL).strip().rstrip("/")
    if root.endswith("/api/v1"):
        root = root[: -len("/api/v1")]
    if not root.startswith(("http://", "https://")):
        raise ValueError(f"Herald URL must start with http:// or https://, not {root!r}")
    return root


def resolve_token(token: str | None) -> str | None:
    return token if token is not None else (os.environ.get("HERALD_TOKEN") or None)


def ws_url_for(root: str) -> str:
    """`http://host/` -> `ws://host/ws/notifications/` (https -> wss)."""
    scheme, rest = root.split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws/notifications/"


def base_headers(token: str | None) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    return headers


def raise_for_response(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    raise error_for_status(
        response.status_code, body, reason=response.reason_phrase, retry_after=response.headers.get("Retry-After")
    )


def transport_error(exc: httpx.TransportError, request: Call[Any]) -> HeraldError:
    from herald_client.errors import TransportError

    return TransportError(f"{request.method} {request.path}: {type(exc).__name__}: {exc}")


# --- answers -------------------------------------------------------------------------------------


def _json(response: httpx.Response) -> Any:
    return response.json()


def _field(name: str) -> Callable[[httpx.Response], Any]:
    return lambda response: response.json()[name]


def _none(response: httpx.Response) -> None:
    return None


def _created(response: httpx.Response) -> bool:
    return response.status_code == 201


def _seg(value: str) -> str:
    return quote(value, safe="")


def _params(**values: Any) -> dict[str, str]:
    out = {}
    for key, value in values.items():
        if value is None or value is False:
            continue
        out[key] = "1" if value is True else str(value)
    return out


def next_page(call: Call[dict[str, Any]], page: Mapping[str, Any]) -> Call[dict[str, Any]] | None:
    """The call for the page after `page`, or None. Only the query of `next` is used, so a server that
    builds absolute URLs with an internal host name behind a proxy still pages correctly."""
    if not page.get("next") or not page.get("results"):
        return None
    query = dict(parse_qsl(urlsplit(str(page["next"])).query, keep_blank_values=True))
    return replace(call, params=query)


# --- the endpoints ------------------------------------------------------------------------------


def notification_body(
    title: str, body: str | None, level: str | None, data: Mapping[str, Any] | None
) -> dict[str, Any]:
    payload: dict[str, Any] = {"title": title}
    if body is not None:
        payload["body"] = body
    if level is not None:
        payload["level"] = level
    if data is not None:
        payload["data"] = dict(data)
    return payload


def obtain_token(username: str, password: str) -> Call[str]:
    return Call(
        "POST", "auth/token/", _field("token"), json={"username": username, "password": password}, idempotent=False
    )


def _notification_post(path: str, payload: dict[str, Any], idempotency_key: str | None) -> Call[Notification]:
    # One key per logical publish, generated here once, so that every retry of it carries the same key.
    key = idempotency_key or uuid.uuid4().hex
    return Call(
        "POST",
        path,
        cast(Callable[[httpx.Response], Notification], _json),
        json=payload,
        headers={"Idempotency-Key": key},
    )


def publish(channel: str, payload: dict[str, Any], idempotency_key: str | None) -> Call[Notification]:
    return _notification_post(f"channels/{_seg(channel)}/events/", payload, idempotency_key)


def send_direct(username: str, payload: dict[str, Any], idempotency_key: str | None) -> Call[Notification]:
    return _notification_post(f"subscribers/{_seg(username)}/notifications/", payload, idempotency_key)


def history(channel: str, after: int | None, limit: int | None) -> Call[list[Notification]]:
    return Call("GET", f"channels/{_seg(channel)}/events/", _field("results"), params=_params(after=after, limit=limit))


def channels_page() -> Call[dict[str, Any]]:
    return Call("GET", "channels/", _json, params=_params(limit=500))


def channel(slug: str) -> Call[Channel]:
    return Call("GET", f"channels/{_seg(slug)}/", _json)


def create_channel(
    slug: str, name: str, *, description: str, visibility: str, publishers: list[str] | None
) -> Call[Channel]:
    payload = {
        "slug": slug,
        "name": name,
        "description": description,
        "visibility": visibility,
        "publishers": publishers or [],
    }
    # Not resent after a lost answer: the resend would fail with 409 although the first one worked.
    return Call("POST", "channels/", _json, json=payload, idempotent=False)


def delete_channel(slug: str) -> Call[None]:
    return Call("DELETE", f"channels/{_seg(slug)}/", _none)


def subscribe(slug: str) -> Call[bool]:
    return Call("POST", f"channels/{_seg(slug)}/subscription/", _created)


def unsubscribe(slug: str) -> Call[None]:
    return Call("DELETE", f"channels/{_seg(slug)}/subscription/", _none)


def inbox(
    unread: bool, before: int | None, after: int | None, limit: int | None, channel: str | None
) -> Call[list[InboxItem]]:
    params = _params(unread=unread, before=before, after=after, limit=limit, channel=channel)
    return Call("GET", "notifications/", _field("results"), params=params)


def unread_count() -> Call[int]:
    return Call("GET", "notifications/unread-count/", _field("unread"))


def mark_read(notification_id: int) -> Call[int]:
    return Call("POST", f"notifications/{int(notification_id)}/read/", _field("unread"))


def mark_all_read() -> Call[int]:
    return Call("POST", "notifications/read-all/", _field("unread"))


def create_token(name: str) -> Call[Token]:
    return Call("POST", "tokens/", _json, json={"name": name}, idempotent=False)


def tokens() -> Call[list[Token]]:
    return Call("GET", "tokens/", _tokens)


def _tokens(response: httpx.Response) -> list[Token]:
    body = response.json()
    return cast(list[Token], body["results"] if isinstance(body, dict) else body)


def revoke_token(token_id: int) -> Call[None]:
    return Call("DELETE", f"tokens/{int(token_id)}/", _none)


def ws_ticket() -> Call[str]:
    return Call("POST", "ws-tickets/", _field("ticket"), idempotent=False)
