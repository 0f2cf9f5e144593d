"""The WebSocket endpoint `/ws/notifications/` (protocol: SPEC.md, "WebSocket").

Deliveries do not pass through this consumer: the process hub (notifications.hub) writes
ready-made frames straight to the socket. The consumer authenticates, synchronises the
socket with the store (welcome, replay) and handles the frames a client sends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import orjson
from channels.auth import get_user
from channels.consumer import AsyncConsumer, get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from django.conf import settings
from django.contrib.auth.models import User
from django.http.request import split_domain_port, validate_host

from accounts.authentication import parse_token_header
from accounts.models import ApiToken
from accounts.services import ticket_redeem, token_authenticate
from notifications import metrics
from notifications.conf import herald_setting
from notifications.exceptions import HeraldError, Invalid
from notifications.hub import Connection, get_hub
from notifications.replay import socket_snapshot
from notifications.ws_actions import ACTIONS

logger = logging.getLogger(__name__)
T = TypeVar("T")

CLOSE_BAD_REQUEST = 4400  # `since` is not a non-negative integer
CLOSE_UNAUTHENTICATED = 4401  # no or bad credential, or the token was revoked
CLOSE_TOO_MANY_CONNECTIONS = 4429
CLOSE_MESSAGE_TOO_BIG = 1009
MAX_ID = 2**63 - 1


def parse_since(raw: str | None) -> int | None:
    """`since` must be digits only (no sign, no spaces); raises Invalid otherwise."""
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise Invalid("since must be a non-negative integer", "since")
    # Ids are 64-bit: anything longer is simply beyond the newest id and replays nothing.
    return int(raw) if len(raw) <= 18 else MAX_ID


def db(func: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """Run `func` in the thread pool rather than the one shared "sync thread": connecting
    sockets then read the database in parallel instead of queueing behind each other."""
    return database_sync_to_async(func, thread_sensitive=False)  # type: ignore[no-any-return]


def origin_allowed(origin: str | None) -> bool:
    if not origin:
        return False
    domain, _port = split_domain_port(urlsplit(origin).netloc)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


class TokenBucket:
    """Per-socket frame rate limit."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class NotificationConsumer(AsyncConsumer):
    """One client socket: authenticate, welcome and replay, then answer client frames."""

    user: User
    conn: Connection | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # No per-consumer layer channel: the process hub receives for every socket at once.
        # AsyncConsumer.__call__ would also read through await_many_dispatch, which keeps one
        # extra task (plus asyncio.wait's futures) per socket to watch its one source; a plain
        # loop does the same for less memory per idle connection.
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' dispatch first hops to a thread to close stale db connections, for every
        # message; our handlers reach the database only through database_sync_to_async,
        # which does that itself, so the hop is skipped.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def send_frame(self, message: dict[str, Any]) -> None:
        if self.conn is not None:
            self.conn.push_message(message)

    async def refuse(self, code: int) -> None:
        await self.send({"type": "websocket.accept"})
        await self.send({"type": "websocket.close", "code": code})

    # --- connect -----------------------------------------------------------------------

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        """Authenticate, register with the hub, then welcome and replay."""
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        try:
            since = parse_since(query["since"][-1] if "since" in query else None)
        except Invalid:
            await self.refuse(CLOSE_BAD_REQUEST)
            return
        user, token_id = await self.authenticate(query)
        if user is None:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        hub = get_hub()
        await hub.start()
        if hub.connection_count(user.pk) >= herald_setting("MAX_CONNECTIONS_PER_USER"):
            await self.refuse(CLOSE_TOO_MANY_CONNECTIONS)
            return
        self.user = user
        self.bucket = TokenBucket(herald_setting("SOCKET_FRAME_RATE"), herald_setting("SOCKET_FRAME_BURST"))
        await self.send({"type": "websocket.accept"})
        self.conn = hub.connect(user_id=user.pk, token_id=token_id, send=self.base_send)
        await self.synchronise(since=since, welcome=True, token_id=token_id)

    async def authenticate(self, query: dict[str, list[str]]) -> tuple[User | None, int | None]:
        headers = dict(self.scope.get("headers", []))
        authorization = headers.get(b"authorization")
        if authorization is not None:
            key = parse_token_header(authorization.decode("latin-1"))
            token: ApiToken | None = await db(token_authenticate)(key) if key else None
            return (token.user, token.pk) if token else (None, None)
        if "ticket" in query:
            user = await db(ticket_redeem)(query["ticket"][-1])
            return user, None
        if "session" in self.scope and settings.SESSION_COOKIE_NAME in self.scope.get("cookies", {}):
            # A browser sends the session cookie cross-site too: only our own pages may use it.
            origin = headers.get(b"origin")
            if not origin_allowed(origin.decode("latin-1") if origin else None):
                return None, None
            user = await get_user(self.scope)
            if user.is_authenticated and user.is_active:
                return user, None
        return None, None

    async def synchronise(self, *, since: int | None, welcome: bool, token_id: int | None = None) -> None:
        """Bring the socket up to date from the store, then let live events through.

        The hub collects this socket's events from before the snapshot is read, so every
        event is either in the snapshot (and replayed) or newer (and sent after `replayed`).
        """
        conn, hub = self.conn, get_hub()
        assert conn is not None
        hub.begin_sync(conn)
        try:
            snapshot = await db(socket_snapshot)(user=self.user, since=since, token_id=token_id)
        except Exception:
            hub.finish_sync(conn, snapshot_seq=conn.last_id, channels=conn.channels)
            raise
        if snapshot.token_revoked:
            # Revoked between authentication and registering with the hub, so its revoke
            # event found no socket to close: close it now, still before any data.
            conn.close(CLOSE_UNAUTHENTICATED)
            return
        snapshot_seq, last_id, channels = snapshot.seq, snapshot.last_id, snapshot.channels
        unavailable, replay = snapshot.unavailable, snapshot.replay
        if welcome:
            conn.push_message(
                {
                    "type": "welcome",
                    "user": self.user.get_username(),
                    "channels": sorted(channels.values()),
                    "last_id": last_id,
                }
            )
        if since is not None:
            if unavailable:
                conn.push_message(
                    {
                        "type": "error",
                        "code": "replay_unavailable",
                        "message": "Part of the range asked for is no longer stored.",
                    }
                )
            for _, text in replay:
                conn.push(text)
            metrics.REPLAYED.inc(len(replay))
            conn.push_message({"type": "replayed", "count": len(replay)})
        hub.finish_sync(conn, snapshot_seq=snapshot_seq, channels=channels)

    # --- frames from the client ------------------------------------------------------------

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        """Parse, rate-limit and act on one client frame; errors keep the socket open."""
        if self.conn is None or self.conn.closed:
            return
        text = message.get("text")
        size = len(text.encode()) if text is not None else len(message.get("bytes") or b"")
        if size > herald_setting("WS_MAX_MESSAGE_BYTES"):
            # Daphne's --websocket-max-message-size does this first; this covers other servers.
            self.conn.close(CLOSE_MESSAGE_TOO_BIG, flush=False)
            return
        if not self.bucket.take():  # every frame counts, binary ones too
            metrics.RATE_LIMITED.labels(where="socket").inc()
            await self.error("rate_limited", "Too many frames; slow down.")
            return
        if text is None:
            await self.error("bad_request", "Binary frames are not supported; send JSON text.")
            return
        try:
            payload = orjson.loads(text)
        except orjson.JSONDecodeError:
            await self.error("bad_request", "Frame is not valid JSON.")
            return
        kind = payload.get("type") if isinstance(payload, dict) else None
        action = ACTIONS.get(kind) if isinstance(kind, str) else None
        if action is None:
            await self.error("bad_request", "Unknown or missing frame type.")
            return
        try:
            await action(self, payload)
        except HeraldError as exc:
            await self.error(exc.code, exc.message)

    async def error(self, code: str, message: str) -> None:
        await self.send_frame({"type": "error", "code": code, "message": message})

    async def resume(self, since: int) -> None:
        await self.synchronise(since=since, welcome=False)

    # --- disconnect ------------------------------------------------------------------

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        """Forget the socket."""
        if self.conn is not None:
            get_hub().unregister(self.conn)
            await self.conn.drain()
        raise StopConsumer
