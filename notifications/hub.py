"""The per-process hub: one channel-layer receiver that fans events out to local sockets.

Why a hub: the textbook Channels design (every consumer joins a group per channel) costs one
layer message, one Redis round trip and one consumer dispatch per subscriber per
notification. Here each process joins one group once; a notification crosses the layer once
per process, already serialised, and the hub hands the same string to every matching local
socket through in-memory indexes (channel id -> sockets, user id -> sockets).

Why sequence numbers: every inbox event (notification, subscription change) carries `seq`,
its position in the system-wide sequence (see notifications.services). The hub applies
events strictly in seq order. When one is missing (the layer lost it, Redis restarted, a
publisher's send failed) the hub waits `HUB_GAP_WAIT` for it, then reads the range from the
database, which is the source of truth; a slow poll of the sequence value catches losses at
the tail. So sockets get every notification exactly once and in id order, whatever the layer
does, and the layer is only an accelerator.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import time
import weakref
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from notifications import events, metrics, presence
from notifications.conf import herald_setting
from notifications.events import HUB_GROUP, HubEvent
from notifications.serialization import frame

logger = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]

CLOSE_SLOW_CONSUMER = 4408


def _unwrap_send(send: Send) -> Any:
    """Daphne's own `functools.partial(server.handle_reply, protocol)` under any middleware
    wrappers (see tcp_transport), or None."""
    for _ in range(8):
        if isinstance(send, functools.partial):
            return send if send.args else None
        inner = getattr(send, "__wrapped__", None) or getattr(getattr(send, "__self__", None), "real_send", None)
        if inner is None:
            return None
        send = inner
    return None


def direct_protocol(send: Send) -> Any:
    """The autobahn protocol behind a Daphne socket, to write frames to it synchronously.

    Why: under Daphne, `await send(...)` ends in `protocol.sendMessage(...)` without ever
    suspending, yet going through it costs a task wake-up per frame per socket (the writer
    task) and a framing of the same payload per socket. Writing to the protocol directly, and
    fanning out one `PreparedMessage` (framed once) to every socket, removes both: this is
    the largest single saving on the delivery path (see docs/performance.md). Anything else
    (another server, a test communicator) returns None and uses the ASGI `send`.
    """
    inner = _unwrap_send(send)
    protocol = inner.args[0] if inner is not None else None
    needed = ("sendMessage", "sendPreparedMessage", "state", "STATE_OPEN", "send_queue", "logOctets", "transport")
    if not all(hasattr(protocol, name) for name in needed) or not hasattr(protocol, "_perMessageCompress"):
        return None
    if not hasattr(getattr(protocol, "factory", None), "prepareMessage"):
        return None
    return protocol


def tcp_transport(send: Send) -> Any:
    """The Twisted TCP transport under a Daphne socket, whose unsent bytes we can read, or
    None when the server does not let us see them.

    Why: under Daphne the ASGI `send` never blocks. It hands each frame to autobahn, which
    writes it to Twisted's TCP transport, which buffers whatever the kernel will not take,
    without limit. A client that stops reading therefore never backs up our queue; its
    frames pile up in the transport instead, and the process's memory grows with them.
    The only place the backlog is visible is the transport itself.

    Daphne's `send` is `functools.partial(server.handle_reply, protocol)`, possibly wrapped
    by middleware: a wrapper function exposes the inner `send` as `__wrapped__` (as
    config.logs does), Channels' SessionMiddleware passes a bound `send` that keeps the inner
    one as `real_send`. `protocol.transport` is the Twisted TCP transport, or a
    ProtocolWrapper around it; the TCP transport is a FileDescriptor, whose unsent bytes
    are `dataBuffer[offset:]` plus the writes not yet joined into it (`_tempDataLen`).
    These are private attributes (checked against Twisted 26.10); if they are missing, we
    return None and the queue-length limit alone applies.
    """
    inner = _unwrap_send(send)
    if inner is None:
        return None
    transport = getattr(inner.args[0], "transport", None)
    for _ in range(4):  # under a policies.ProtocolWrapper (timeouts, limits), the TCP transport is inside
        if transport is None or hasattr(transport, "dataBuffer"):
            break
        transport = getattr(transport, "transport", None)
    if not all(hasattr(transport, name) for name in ("dataBuffer", "offset", "_tempDataLen")):
        return None
    return transport


def _plain_tcp(transport: Any) -> bool:
    kind = type(transport)
    return kind.__module__ == "twisted.internet.tcp" and kind.__name__ == "Server"


def release_upgraded_request(protocol: Any) -> None:
    """Let the HTTP request a Daphne WebSocket was upgraded from be garbage.

    Why: Twisted's HTTPChannel registers itself as its transport's producer when the
    connection opens. Daphne hands the transport to the WebSocket protocol on upgrade but
    never unregisters it, so every open socket keeps the whole HTTP side alive: the channel,
    the request, two header tables with a list per header, buffers, Deferreds. That was
    about a third of the objects (and of the garbage collector's work) per idle socket. As
    a producer the channel does nothing for a WebSocket (it is still "handling" the request
    it was upgraded from, so it never pauses reading), so dropping it changes no behaviour.
    Plain TCP transports only (checked against Twisted 26.10 and Daphne 4.2). Measured: 131
    -> 110 tracked objects per idle socket, and connecting left 23 objects of cyclic
    garbage per socket, now 1 (docs/performance.md).
    """
    transport = getattr(protocol, "transport", None)
    producer = getattr(transport, "producer", None)
    if _plain_tcp(transport) and type(producer).__name__ == "HTTPChannel":
        transport.unregisterProducer()
        # The channel and its request point at each other: untie them, so that reference
        # counting frees them now instead of a full collection much later.
        for request in getattr(producer, "requests", ()):
            request.channel = None
        producer.requests = []


class TwistedSocket:
    """How the hub writes to a Daphne socket, and reads its backlog (one small object per
    socket: closures cost about twice the objects and memory).

    `write` puts bytes straight to the kernel when Twisted holds nothing unsent for the
    socket, and goes through Twisted otherwise. It returns False, writing nothing, when
    Twisted's backlog is over `limit`: the caller then closes the socket with 4408.

    Why: Twisted's `transport.write` never writes at once. It buffers, registers the socket
    with the event loop for writability (an `epoll_ctl`), writes on the next loop turn from
    a callback wrapped in Twisted's log context, then unregisters it (another `epoll_ctl`).
    Per delivery that was most of Herald's CPU (docs/performance.md). When the transport's
    buffer is empty, one `send()` does the same job, and the backlog is zero, so there is
    no bound to check either; whatever the kernel does not take goes to `transport.write`,
    so Twisted's buffering, ordering, back-pressure and error handling still apply, and the
    slow-client bound still sees the backlog.

    Straight writes only for a plain `twisted.internet.tcp.Server` under the protocol:
    under TLS or any wrapper, the bytes on the socket are not ours to write, and everything
    goes through the protocol's `transport.write`. Private attributes, checked against
    Twisted 26.10.
    """

    __slots__ = ("outer", "tcp", "sock", "limit")

    def __init__(self, protocol: Any, tcp: Any, limit: int) -> None:
        self.outer = protocol.transport  # what autobahn writes to: the TCP transport, or a wrapper
        self.tcp = tcp  # the TCP transport (tcp_transport), or None
        self.limit = limit
        needed = ("socket", "connected", "disconnecting", "_writeDisconnected")
        plain = tcp is not None and tcp is self.outer and _plain_tcp(tcp) and all(hasattr(tcp, n) for n in needed)
        self.sock = tcp.socket if plain else None

    def backlog(self) -> int:
        tcp = self.tcp
        return 0 if tcp is None else len(tcp.dataBuffer) - tcp.offset + tcp._tempDataLen

    def full(self) -> bool:
        """Twisted holds more unsent bytes for this socket than the bound."""
        return self.backlog() > self.limit

    def write(self, data: bytes) -> bool:
        tcp, sock = self.tcp, self.sock
        if sock is None or (
            tcp.dataBuffer or tcp._tempDataLen or not tcp.connected or tcp.disconnecting or tcp._writeDisconnected
        ):
            # Behind what Twisted holds (order), or not ours to write; Twisted also knows closing.
            if self.full():
                return False
            self.outer.write(data)
            return True
        try:
            sent = sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            # The peer is gone: Twisted's own write meets the same error and tears the
            # connection down its usual way (connectionLost, the consumer's disconnect).
            tcp.write(data)
            return True
        if sent < len(data):
            tcp.write(data[sent:])
        return True


class Connection:
    """One local socket as the hub sees it: its filter, and how frames reach it.

    Under Daphne frames are written straight to the socket's protocol (`direct`); elsewhere
    they go through a queue drained by a writer task calling the ASGI `send`. Either way a
    socket that stops reading is closed with 4408 once its backlog passes a bound.
    """

    __slots__ = (
        "hub",
        "user_id",
        "token_id",
        "channels",
        "last_id",
        "syncing",
        "closed",
        "close_code",
        "direct",
        "_send",
        "_queue",
        "_waiter",
        "_writer",
        "_tcp",
        "__weakref__",
    )

    def __init__(self, hub: Hub, *, user_id: int, token_id: int | None, send: Send) -> None:
        self.hub = hub
        self.user_id = user_id
        self.token_id = token_id
        self.channels: dict[int, str] = {}  # channel id -> slug
        self.last_id = 0  # newest notification id sent to this socket
        self.syncing: list[HubEvent] | None = None  # events collected while (re)synchronising
        self.closed = False
        self.close_code: int | None = None
        self.direct = direct_protocol(send)
        self._send = send
        # Text frames, or an int close code. Created on first use: an empty deque is ~600
        # bytes, and under Daphne most sockets never need one.
        self._queue: deque[str | int] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None  # started on first use
        tcp = tcp_transport(send)
        self._tcp: TwistedSocket | None = None
        if self.direct is not None:
            self._tcp = TwistedSocket(self.direct, tcp, hub.backlog_limit)
            release_upgraded_request(self.direct)
        if not hub.backlog_probe_reported:  # once per process: say which paths apply
            hub.backlog_probe_reported = True
            bound = "transport bytes + queue length" if tcp is not None else "queue length only"
            path = "direct to the protocol" if self.direct is not None else "ASGI send via a writer task"
            logger.info("socket writes: %s; slow-client bound: %s", path, bound)

    # --- outbound ------------------------------------------------------------------

    def push(self, text: str) -> None:
        """Send a text frame after those already queued."""
        if self.closed:
            return
        if self.direct is not None and not self._queue:
            if self._transport_full():
                self._close_slow()
            elif self.direct.state == self.direct.STATE_OPEN:
                self.direct.sendMessage(text.encode(), False)
            return
        self._enqueue(text)
        if self._too_slow():
            self._close_slow()
            return
        self._wake()

    def push_prepared(self, prepared: Any, text: str) -> None:
        """Send a frame framed once for many sockets (autobahn's PreparedMessage)."""
        if self.closed:
            return
        direct = self.direct
        if self._queue:
            self.push(text)
        elif direct.state != direct.STATE_OPEN:
            return
        elif direct._perMessageCompress is None and not direct.send_queue and not direct.logOctets:
            # What sendPreparedMessage -> sendData does in this case, without the debug
            # log call whose arguments autobahn formats eagerly, logging on or off: that
            # formatting was about a tenth of the CPU of a delivery.
            if not self._tcp.write(prepared.payloadHybi):  # type: ignore[union-attr]
                self._close_slow()
        elif self._transport_full():
            self._close_slow()
        else:
            direct.sendPreparedMessage(prepared)

    def _too_slow(self) -> bool:
        """Our own queue (servers whose `send` blocks) or the transport's (Daphne) is over its
        bound. O(1): a length and two attribute reads, on every push."""
        if self._queue is not None and len(self._queue) > self.hub.queue_limit:
            return True
        return self._transport_full()

    def _transport_full(self) -> bool:
        """The server's transport holds more unsent bytes than the bound (Daphne only)."""
        return self._tcp is not None and self._tcp.full()

    def _close_slow(self) -> None:
        metrics.SLOW_CLOSED.inc()
        logger.warning(
            "closing slow socket of user %s (%d frames queued, %d bytes unsent)",
            self.user_id,
            len(self._queue or ()),
            self._tcp.backlog() if self._tcp is not None else -1,
        )
        # Drop what is queued here (the client resumes with `since`); the bytes already in
        # the transport go out before the close frame.
        self.close(CLOSE_SLOW_CONSUMER, flush=False)

    def push_message(self, message: dict[str, Any]) -> None:
        self.push(frame(message))

    def push_notification(self, notification_id: int, text: str) -> bool:
        """Send a notification unless this socket already has it (ids only ever increase)."""
        if notification_id <= self.last_id:
            return False
        self.last_id = notification_id
        self.push(text)
        return True

    def close(self, code: int, *, flush: bool = True) -> None:
        """Close the socket with `code` after the frames already queued (unless flush=False)."""
        if self.closed:
            return
        if not flush and self._queue:
            self._queue.clear()
        self._enqueue(code)
        self.closed = True
        self.close_code = code
        self.hub.unregister(self)
        self._wake()

    def _enqueue(self, item: str | int) -> None:
        if self._queue is None:
            self._queue = deque()
        self._queue.append(item)

    def _wake(self) -> None:
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        elif self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _write_loop(self) -> None:
        send, queue = self._send, self._queue
        assert queue is not None
        try:
            while True:
                while queue:
                    item = queue.popleft()
                    if isinstance(item, int):
                        await send({"type": "websocket.close", "code": item})
                        return
                    await send({"type": "websocket.send", "text": item})
                self._waiter = asyncio.get_running_loop().create_future()
                await self._waiter
                self._waiter = None
        except asyncio.CancelledError:
            raise
        except Exception:  # the peer went away under us; the consumer's disconnect cleans up
            logger.debug("socket writer stopped", exc_info=True)

    async def drain(self) -> None:
        """Stop the writer once disconnected."""
        self.closed = True
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer

    # --- inbox events ----------------------------------------------------------------

    def apply(self, event: HubEvent) -> None:
        """Apply one inbox event to this socket alone (used while catching up after sync)."""
        kind = event["k"]
        if kind == "n":
            channel_id, user_id = event.get("ch"), event.get("u")
            if (channel_id is not None and channel_id in self.channels) or (
                channel_id is None and user_id == self.user_id
            ):
                self.push_notification(event["seq"], event["f"])
        elif kind == "unread":
            self.push_message({"type": "unread_count", "unread": event["n"]})
        elif self.user_id in event.get("users", ()):
            self.hub.change_subscription(self, event)


class Hub:
    """Receives every event of the system once per process and routes it to local sockets."""

    def __init__(self) -> None:
        self.by_user: dict[int, set[Connection]] = defaultdict(set)
        self.by_channel: dict[int, set[Connection]] = defaultdict(set)
        self.syncing: set[Connection] = set()
        self.last_seq = 0
        self.pending: dict[int, HubEvent] = {}
        self.layer_ok = False
        self._started: asyncio.Future[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._fill_lock = asyncio.Lock()
        self._gap_timer: asyncio.TimerHandle | None = None
        self._last_join = 0.0
        self._channel_name: str | None = None
        self.backlog_probe_reported = False
        self._fanning_out = False  # a chunked fan-out is in progress
        self.fanout_chunk: int = herald_setting("FANOUT_CHUNK")  # sockets between two yields
        self._deferred: deque[HubEvent] = deque()  # events in seq order waiting behind it
        self.queue_limit: int = herald_setting("SOCKET_QUEUE_LIMIT")
        self.backlog_limit: int = herald_setting("SOCKET_BACKLOG_BYTES")

    # --- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Start once per process (per event loop); later calls wait for the first."""
        if self._started is None:
            self._started = asyncio.get_running_loop().create_future()
            try:
                from notifications.services import sequence_value

                # Join the group before reading the sequence: whatever is committed after the
                # read is then certain to reach us through the layer (or through a fill).
                events.bind_server_loop(asyncio.get_running_loop())
                channel_name = await self._join_layer(None)
                self.last_seq = await database_sync_to_async(sequence_value)()
                # A fresh context: the loops serve every socket and must not carry the log
                # context (connection id) of the socket that happened to start the hub.
                context = contextvars.Context()
                self._tasks = [
                    asyncio.create_task(self._receive_loop(channel_name), name="herald-hub-receive", context=context),
                    asyncio.create_task(self._poll_loop(), name="herald-hub-poll", context=context),
                    # Live connection counts for Django admin (see notifications.presence).
                    asyncio.create_task(presence.publish_loop(self), name="herald-hub-presence", context=context),
                ]
                self._started.set_result(None)
            except BaseException as exc:
                self._started.set_exception(exc)
                self._started = None
                raise
        await asyncio.shield(self._started)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded: a cancelled channels-redis receive can sit in its blocking read; seen
            # once to hold a test teardown until pytest-timeout. asyncio.wait never raises.
            await asyncio.wait(self._tasks, timeout=5)
        self._tasks = []
        self._started = None

    # --- connections -----------------------------------------------------------------

    def connection_count(self, user_id: int | None = None) -> int:
        if user_id is None:
            return sum(len(conns) for conns in self.by_user.values())
        return len(self.by_user.get(user_id, ()))

    def connect(self, *, user_id: int, token_id: int | None, send: Send) -> Connection:
        conn = Connection(self, user_id=user_id, token_id=token_id, send=send)
        self.by_user[user_id].add(conn)
        self.begin_sync(conn)
        metrics.CONNECTIONS.inc()
        return conn

    def begin_sync(self, conn: Connection) -> None:
        """Collect every inbox event for `conn` until `finish_sync` (its db snapshot is read
        after this, so nothing can fall between the snapshot and the live stream)."""
        for channel_id in conn.channels:
            self._discard(self.by_channel, channel_id, conn)
        conn.syncing = []
        self.syncing.add(conn)

    def finish_sync(self, conn: Connection, *, snapshot_seq: int, channels: dict[int, str]) -> None:
        """Go live from `snapshot_seq`: subscriptions as of the snapshot, then every event
        collected meanwhile that is newer than it, in order."""
        collected, conn.syncing = conn.syncing or [], None
        self.syncing.discard(conn)
        if conn.closed:
            return
        conn.channels = dict(channels)
        conn.last_id = max(conn.last_id, snapshot_seq)
        for channel_id in conn.channels:
            self.by_channel[channel_id].add(conn)
        for event in collected:
            if event.get("seq", snapshot_seq + 1) > snapshot_seq:  # unsequenced (unread) too
                conn.apply(event)

    def unregister(self, conn: Connection) -> None:
        if conn in self.by_user.get(conn.user_id, ()):
            metrics.CONNECTIONS.dec()
        self._discard(self.by_user, conn.user_id, conn)
        for channel_id in conn.channels:
            self._discard(self.by_channel, channel_id, conn)
        self.syncing.discard(conn)

    @staticmethod
    def _discard(index: dict[int, set[Connection]], key: int, conn: Connection) -> None:
        conns = index.get(key)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del index[key]

    def change_subscription(self, conn: Connection, event: HubEvent) -> None:
        channel_id, slug = event["ch"], event["slug"]
        assert channel_id is not None
        if event["k"] == "sub":
            conn.channels[channel_id] = slug
            if conn.syncing is None:
                self.by_channel[channel_id].add(conn)
            conn.push_message({"type": "subscribed", "channel": slug})
        else:
            conn.channels.pop(channel_id, None)
            self._discard(self.by_channel, channel_id, conn)
            conn.push_message({"type": "unsubscribed", "channel": slug})

    # --- events in -------------------------------------------------------------------

    def receive(self, event: HubEvent) -> None:
        """Entry point for every event from the layer (or from a database fill)."""
        seq = event.get("seq")
        if seq is None:
            self._apply_unsequenced(event)
            return
        if seq <= self.last_seq or seq in self.pending:
            return  # already applied: the layer and a fill may both bring the same event
        self.pending[seq] = event
        if not self._fill_lock.locked():
            self._drain()

    def _drain(self) -> None:
        pending = self.pending
        while (self.last_seq + 1) in pending:
            self.last_seq += 1
            self._apply(pending.pop(self.last_seq))
        if pending and self._gap_timer is None:
            # Something between last_seq and the pending events is late or lost.
            self._gap_timer = asyncio.get_running_loop().call_later(
                herald_setting("HUB_GAP_WAIT"), self._on_gap_timeout
            )
        elif not pending and self._gap_timer is not None:
            self._gap_timer.cancel()
            self._gap_timer = None

    def _on_gap_timeout(self) -> None:
        self._gap_timer = None
        if self.pending:
            asyncio.get_running_loop().create_task(self.fill(max(self.pending)))

    async def fill(self, upto: int) -> None:
        """Read every inbox event in (last_seq, upto] from the database and apply it in order.
        Every seq up to `upto` is committed (the sequence lock), so what is absent from the
        database was deleted since and is rightly skipped."""
        async with self._fill_lock:
            if upto <= self.last_seq:
                self._drain()
                return
            from notifications.replay import events_between

            try:
                stored = await database_sync_to_async(events_between)(self.last_seq, upto)
            except Exception:
                logger.warning(
                    "hub could not read seq %s..%s from the database; will retry",
                    self.last_seq + 1,
                    upto,
                    exc_info=True,
                )
                self._schedule_retry(upto)
                return
            metrics.GAP_FILLS.inc(sum(1 for e in stored if e["seq"] not in self.pending))
            for event in stored:
                self.pending.setdefault(event["seq"], event)
            for seq in sorted(s for s in self.pending if s <= upto):
                if seq > self.last_seq:
                    self.last_seq = seq
                    self._apply(self.pending.pop(seq))
                else:
                    self.pending.pop(seq)
            self.last_seq = max(self.last_seq, upto)
            if self._gap_timer is not None:
                self._gap_timer.cancel()
                self._gap_timer = None
        self._drain()

    def _schedule_retry(self, upto: int) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(1.0, lambda: loop.create_task(self.fill(upto)))

    def _apply(self, event: HubEvent) -> None:
        """Apply the next event in seq order (or queue it behind a fan-out in progress)."""
        if self._fanning_out:
            self._deferred.append(event)
            return
        for conn in self.syncing:
            if conn.syncing is not None:
                conn.syncing.append(event)
        kind = event["k"]
        if kind == "n":
            channel_id = event.get("ch")
            targets = self.by_channel.get(channel_id) if channel_id is not None else self.by_user.get(event["u"])
            if targets and len(targets) > self.fanout_chunk:
                self._fanning_out = True
                asyncio.get_running_loop().create_task(self._fan_out_in_chunks(event, tuple(targets)))
                return
            if targets:
                metrics.DELIVERED.inc(self._fan_out(event["seq"], event["f"], tuple(targets)))
            self._observe_lag(event)
        elif kind in ("sub", "unsub"):
            for user_id in event.get("users", ()):
                for conn in tuple(self.by_user.get(user_id, ())):
                    if conn.syncing is None:
                        self.change_subscription(conn, event)

    async def _fan_out_in_chunks(self, event: HubEvent, targets: tuple[Connection, ...]) -> None:
        """A large fan-out yields to the event loop between chunks, so that HTTP answers
        (a publish's own, among others) and client frames are not held up behind 10,000
        sockets. Later events wait in `_deferred`, which keeps every socket in seq order."""
        try:
            delivered = 0
            chunk = self.fanout_chunk
            for start in range(0, len(targets), chunk):
                delivered += self._fan_out(event["seq"], event["f"], targets[start : start + chunk])
                await asyncio.sleep(0)
            metrics.DELIVERED.inc(delivered)
            self._observe_lag(event)
        finally:
            self._fanning_out = False
            while self._deferred and not self._fanning_out:
                self._apply(self._deferred.popleft())

    @staticmethod
    def _observe_lag(event: HubEvent) -> None:
        ts = event.get("ts")
        if ts:
            metrics.DELIVERY_LAG.observe(max(0.0, time.time() - ts))

    @staticmethod
    def _fan_out(seq: int, text: str, targets: tuple[Connection, ...]) -> int:
        """Send one notification to many sockets: the hot loop of the whole platform.
        The frame is serialised once by the publisher and framed once here."""
        prepared = None
        delivered = 0
        for conn in targets:
            # A socket still syncing (only reachable here through by_user, for direct
            # notifications) gets this event from its sync buffer, after the replay.
            if conn.syncing is not None or seq <= conn.last_id:
                continue
            conn.last_id = seq
            delivered += 1
            if conn.direct is None:
                conn.push(text)
                continue
            if prepared is None:
                prepared = conn.direct.factory.prepareMessage(text.encode())
            conn.push_prepared(prepared, text)
        return delivered

    def _apply_unsequenced(self, event: HubEvent) -> None:
        kind = event["k"]
        if kind == "unread":
            message = frame({"type": "unread_count", "unread": event["n"]})
            for conn in tuple(self.by_user.get(event["u"], ())):  # type: ignore[arg-type]
                if conn.syncing is not None:  # held until after `welcome`/`replayed`
                    conn.syncing.append(event)
                else:
                    conn.push(message)
        elif kind == "revoke":
            from notifications.consumers import CLOSE_UNAUTHENTICATED

            for conns in list(self.by_user.values()):
                for conn in tuple(conns):
                    if conn.token_id == event["t"]:
                        conn.close(CLOSE_UNAUTHENTICATED)

    # --- background loops ------------------------------------------------------------

    async def _join_layer(self, channel_name: str | None) -> str | None:
        """Join the hub group (again: membership expires, and a restarted Redis forgets it)."""
        layer = get_channel_layer()
        if layer is None:
            return None
        try:
            if channel_name is None:
                channel_name = await layer.new_channel(prefix="herald-hub.")
            await layer.group_add(HUB_GROUP, channel_name)
        except Exception:
            if self.layer_ok:
                logger.warning("hub could not join the channel layer", exc_info=True)
            self.layer_ok = False
            metrics.LAYER_ERRORS.labels(op="join").inc()
            return channel_name
        if not self.layer_ok:
            logger.info("hub joined the channel layer")
        self._channel_name = channel_name
        self.layer_ok = True
        self._last_join = time.monotonic()
        return channel_name

    async def _receive_loop(self, channel_name: str | None) -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        backoff = 0.1
        regroup = herald_setting("HUB_REGROUP_INTERVAL")
        while True:
            if channel_name is None or not self.layer_ok or time.monotonic() - self._last_join > regroup:
                channel_name = await self._join_layer(channel_name)
                if channel_name is None or not self.layer_ok:
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 1.0)
                    continue
                backoff = 0.1
            try:
                message = await asyncio.wait_for(layer.receive(channel_name), timeout=regroup)
            except TimeoutError:
                continue
            except asyncio.CancelledError:
                raise
            except Exception:
                if self.layer_ok:
                    logger.warning("hub lost the channel layer; reading new events from the database", exc_info=True)
                self.layer_ok = False
                metrics.LAYER_ERRORS.labels(op="receive").inc()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            try:
                self.receive(message)  # type: ignore[arg-type]
            except Exception:
                logger.exception("hub failed to apply an event")

    async def _poll_loop(self) -> None:
        """Catch events that the layer never brought: lost while Redis was down or restarting,
        or because a publisher's send failed. Polls every 0.25 s while the layer is down, so
        sockets keep getting notifications within about a second without Redis."""
        from notifications.services import sequence_value

        while True:
            interval = herald_setting("HUB_POLL_INTERVAL")
            await asyncio.sleep(interval if self.layer_ok else min(interval, 0.25))
            try:
                newest = await database_sync_to_async(sequence_value)()
            except Exception:
                logger.debug("hub poll could not read the sequence", exc_info=True)
                continue
            if newest <= self.last_seq:
                continue
            if self.layer_ok:
                await asyncio.sleep(herald_setting("HUB_GAP_WAIT"))  # maybe still in flight
                if newest <= self.last_seq:
                    continue
                # The layer looks healthy yet did not bring these events. The usual cause is a
                # Redis restart: our receive reconnected, but the group forgot us, so nothing
                # more would ever arrive. Joining is idempotent; do it before filling.
                metrics.LAYER_ERRORS.labels(op="missed").inc()
                await self._join_layer(self._channel_name)
            await self.fill(newest)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """The hub of the running event loop (one per server process)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
    return hub
