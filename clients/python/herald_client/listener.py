"""`Listener`: an async iterator over the notifications pushed on the WebSocket, that survives drops.

Each connection starts with `?since=<last id seen>`, so the server replays whatever was missed while
the socket was down before it sends live notifications; ids are strictly increasing, so anything at
or below the last id seen is a repeat and is dropped. The consumer sees every notification once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from herald_client import _calls as calls
from herald_client.backoff import Backoff
from herald_client.errors import BadRequest, Forbidden, HeraldError, Unauthorized
from herald_client.types import Notification, Welcome

logger = logging.getLogger("herald_client.listener")

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
STABLE_AFTER = 10.0  # seconds a socket must last to count as healthy

FrameHandler = Callable[[dict[str, Any]], Any]


class Listener:
    """Iterate over live notifications, reconnecting with backoff and jitter and resuming with `since`.

    `since`: start after this id (replaying what followed it); None starts with what arrives live.
    `max_attempts`: consecutive failed connection attempts before giving up (None: never give up).
    `on_frame`: called with every other frame (welcome, replayed, subscribed, unread_count, error...).
    Raises `Unauthorized` when the server refuses the credential (close 4401 or HTTP 401/403).
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        since: int | None = None,
        ws_url: str | None = None,
        backoff: Backoff | None = None,
        max_attempts: int | None = None,
        on_frame: FrameHandler | None = None,
        open_timeout: float = 10.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
    ) -> None:
        root = calls.resolve_url(url)
        self.ws_url = ws_url or calls.ws_url_for(root)
        self.token = calls.resolve_token(token)
        if since is not None and since < 0:
            raise ValueError("since must be a non-negative integer")
        self.last_id: int | None = since
        self.backoff = backoff or Backoff(initial=0.5, maximum=15.0)
        self.max_attempts = max_attempts
        self.on_frame = on_frame
        self.open_timeout, self.ping_interval, self.ping_timeout = open_timeout, ping_interval, ping_timeout
        self.welcome: Welcome | None = None
        self.connections = 0  # how many times a socket was opened and welcomed
        self.close_codes: list[int | None] = []  # of every socket that ended, in order (None: no close frame)
        self._ws: ClientConnection | None = None
        self._closed = False
        self._stop = asyncio.Event()
        self._connected = asyncio.Event()

    # --- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop listening: the iteration ends after the current socket closes."""
        self._closed = True
        self._stop.set()
        if self._ws is not None:
            await self._ws.close()

    async def wait_connected(self, timeout: float | None = None) -> Welcome:
        """Wait until a socket is open and welcomed (the iteration must be running in another task)."""
        await asyncio.wait_for(self._connected.wait(), timeout)
        assert self.welcome is not None
        return self.welcome

    async def send(self, frame: dict[str, Any]) -> None:
        """Send a client frame (subscribe, unsubscribe, read, ping...) on the current socket."""
        if self._ws is None:
            raise HeraldError("Listener is not connected")
        await self._ws.send(json.dumps(frame))

    # --- iteration ---------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Notification]:
        return self._run()

    def _url(self) -> str:
        if self.last_id is None:
            return self.ws_url
        sep = "&" if "?" in self.ws_url else "?"
        return f"{self.ws_url}{sep}{urlencode({'since': self.last_id})}"

    async def _run(self) -> AsyncIterator[Notification]:
        failures = 0  # consecutive connection attempts that failed or did not last
        while not self._closed:
            started, seen = time.monotonic(), self.last_id
            try:
                async with contextlib.aclosing(self._session()) as session:
                    async for notification in session:
                        yield notification
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
                if isinstance(exc, InvalidStatus):
                    self._raise_for_handshake(exc)
                logger.info("herald listener: connection failed: %s", exc)
            finally:
                self._ws = None
                self._connected.clear()
            if self._closed:
                break
            # A socket that was welcomed and then delivered or lasted was healthy: come back quickly.
            # One that keeps dropping right after the welcome (a crash loop, a connection limit)
            # backs off like one that cannot connect at all.
            healthy = self.welcome is not None and (self.last_id != seen or time.monotonic() - started >= STABLE_AFTER)
            failures = 0 if healthy else failures + 1
            if self.max_attempts is not None and failures >= self.max_attempts:
                raise HeraldError(f"Gave up after {failures} failed connection attempts to {self.ws_url}")
            delay = self.backoff.delay(max(0, failures - 1))
            logger.info("herald listener: reconnecting in %.2fs (since=%s)", delay, self.last_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)  # close() cuts the pause short

    async def _session(self) -> AsyncGenerator[Notification, None]:
        """One socket: yield its new notifications until it closes."""
        headers = {"Authorization": f"Token {self.token}"} if self.token else None
        self.welcome = None
        async with connect(
            self._url(),
            additional_headers=headers,
            open_timeout=self.open_timeout,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            max_size=2**20,
            user_agent_header=calls.USER_AGENT,
        ) as ws:
            self._ws = ws
            if self._closed:
                return
            try:
                async for raw in ws:
                    try:
                        frame = json.loads(raw)
                    except ValueError:
                        logger.warning("herald listener: ignoring a frame that is not JSON")
                        continue
                    if not isinstance(frame, dict):
                        continue
                    if frame.get("type") == "notification":
                        if self._fresh(frame):
                            yield cast(Notification, {k: v for k, v in frame.items() if k != "type"})
                        continue
                    self._control(frame)
            except ConnectionClosed:
                pass
            self._check_close(ws)

    def _fresh(self, frame: dict[str, Any]) -> bool:
        nid = frame.get("id")
        if not isinstance(nid, int):
            return False
        if self.last_id is not None and nid <= self.last_id:
            return False  # a replay overlapping what was already seen
        self.last_id = nid
        return True

    def _control(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "welcome":
            self.welcome = cast(Welcome, frame)
            if self.last_id is None:
                # Resume a later reconnect from here, or a drop before the first notification loses
                # whatever was published in between.
                self.last_id = int(frame.get("last_id") or 0)
            self.connections += 1
            self._connected.set()
        elif kind == "error":
            logger.warning("herald listener: server error %s: %s", frame.get("code"), frame.get("message"))
        if self.on_frame is not None:
            self.on_frame(frame)

    def _check_close(self, ws: ClientConnection) -> None:
        code = ws.close_code
        reason = ws.close_reason or ""
        self.close_codes.append(code)
        if self._closed:
            return
        if code == CLOSE_UNAUTHENTICATED:
            self._closed = True
            raise Unauthorized(f"WebSocket closed with 4401: bad or revoked credential {reason}".strip(), status=401)
        if code == CLOSE_BAD_REQUEST:
            self._closed = True
            raise BadRequest(f"WebSocket closed with 4400: {reason or 'bad request'}", status=400)
        logger.info("herald listener: socket closed (code %s %s)", code, reason)

    def _raise_for_handshake(self, exc: InvalidStatus) -> None:
        status = exc.response.status_code
        if status == 401:
            self._closed = True
            raise Unauthorized("WebSocket handshake refused: bad or missing credential", status=401) from exc
        if status == 403:
            self._closed = True
            raise Forbidden("WebSocket handshake refused (403)", status=403) from exc
        if status in (400, 404):
            self._closed = True
            raise HeraldError(f"WebSocket handshake refused ({status}) at {self.ws_url}", status=status) from exc
