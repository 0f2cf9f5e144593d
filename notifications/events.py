"""The only module that sends to the channel layer.

Every process runs one hub (notifications.hub) that joins a single group; each event below
crosses the layer once per process, never once per socket or per subscriber. Inbox events
carry `seq`, their position in the system-wide sequence, so a hub can restore their order
and detect (and then read from the database) anything the layer lost.
"""

import asyncio
import concurrent.futures
import contextvars
import functools
import logging
import time
from typing import Any, Literal, NotRequired, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from notifications import metrics

logger = logging.getLogger(__name__)

HUB_GROUP = "herald.hub"
HUB_MESSAGE_TYPE = "hub.event"


class HubEvent(TypedDict):
    """A message from a publisher to every process's hub."""

    type: Literal["hub.event"]
    k: Literal["n", "sub", "unsub", "unread", "revoke"]
    seq: NotRequired[int]  # inbox events only
    ch: NotRequired[int | None]  # channel id
    slug: NotRequired[str]
    u: NotRequired[int | None]  # user id (direct notification, unread count)
    users: NotRequired[list[int]]
    f: NotRequired[str]  # the ready-made WebSocket frame of a notification
    n: NotRequired[int]  # unread count
    t: NotRequired[int]  # token id
    ts: NotRequired[float]  # when it was sent (for the delivery lag metric)


def hub_group_name() -> str:
    return HUB_GROUP


def notification_event(*, seq: int, channel_id: int | None, user_id: int | None, frame: str) -> HubEvent:
    return {"type": HUB_MESSAGE_TYPE, "k": "n", "seq": seq, "ch": channel_id, "u": user_id, "f": frame}


def subscription_event(
    *, seq: int, kind: Literal["sub", "unsub"], channel_id: int, slug: str, user_ids: list[int]
) -> HubEvent:
    return {"type": HUB_MESSAGE_TYPE, "k": kind, "seq": seq, "ch": channel_id, "slug": slug, "users": user_ids}


def unread_event(*, user_id: int, unread: int) -> HubEvent:
    return {"type": HUB_MESSAGE_TYPE, "k": "unread", "u": user_id, "n": unread}


def revoke_event(*, token_id: int) -> HubEvent:
    return {"type": HUB_MESSAGE_TYPE, "k": "revoke", "t": token_id}


_server_loop: asyncio.AbstractEventLoop | None = None


def bind_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Called by the hub: the event loop of this server process."""
    global _server_loop
    _server_loop = loop


# Events committed by the HTTP request being handled, held until its response is sent
# (see SendEventsAfterResponse); None outside such a request.
_held: contextvars.ContextVar[list[HubEvent] | None] = contextvars.ContextVar("herald_held_events", default=None)
_in_flight: set[asyncio.Task[None]] = set()


def broadcast(event: HubEvent) -> None:
    """Send an event to every hub. A layer failure is logged, never raised: the event is
    already committed, and hubs recover inbox events from the database (see hub.Hub.fill).

    In a server process the send is handed to the event loop and not waited for: the caller
    (a request thread, right after its commit) then answers without a Redis round trip and
    without queueing behind a large fan-out on the loop. Order does not matter here; the
    hubs restore it from `seq`. Within an HTTP request the send waits for the response."""
    held = _held.get()
    if held is not None:
        held.append(event)
        return
    layer = get_channel_layer()
    if layer is None:
        return
    message = dict(event)
    message["ts"] = time.time()
    report = functools.partial(_report_failure, event.get("seq"))
    try:
        running = asyncio.get_running_loop()  # called on an event loop (SendEventsAfterResponse)
    except RuntimeError:
        running = None
    if running is not None:
        task = running.create_task(layer.group_send(HUB_GROUP, message))
        _in_flight.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(_in_flight.discard)
        task.add_done_callback(report)
        return
    loop = _server_loop
    if loop is not None and loop.is_running():
        future = asyncio.run_coroutine_threadsafe(layer.group_send(HUB_GROUP, message), loop)
        future.add_done_callback(report)
        return
    try:
        async_to_sync(layer.group_send)(HUB_GROUP, message)
    except Exception:
        _report_failure(event.get("seq"), None)


class SendEventsAfterResponse:
    """ASGI middleware for HTTP: events a request commits go to the layer once its response
    is sent, not at commit.

    Why: this process's own hub receives the event a Redis round trip after the send and
    starts fanning it out on the event loop, which the response still has to cross (the
    request thread hands it back to the loop, Twisted writes it on a later turn). With
    1,000 local subscribers that put about 20 ms of fan-out in front of every publish's
    answer. Sent after the response, the fan-out starts a fraction of a millisecond later
    and the answer does not wait for it. Nothing can be lost by the wait: the events are
    committed, and a hub reads from the database whatever the layer does not bring.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)  # type: ignore[no-any-return]
        held: list[HubEvent] = []
        token = _held.set(held)

        async def send_then_release(message: dict[str, Any]) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                release()

        def release() -> None:
            _held.set(None)  # later events of this request (none, normally) go at once
            while held:
                broadcast(held.pop(0))

        try:
            await self.app(scope, receive, send_then_release)
        finally:
            release()  # no response sent (an error, a client gone): the events go anyway
            _held.reset(token)


def _report_failure(seq: int | None, future: concurrent.futures.Future[None] | asyncio.Task[None] | None) -> None:
    if future is not None and (future.cancelled() or future.exception() is None):
        return
    metrics.LAYER_ERRORS.labels(op="send").inc()
    logger.warning(
        "channel layer send failed; hubs will read seq %s from the database",
        seq,
        exc_info=future.exception() if future is not None else True,
    )


def broadcast_on_commit(event: HubEvent) -> None:
    """Push after commit, so that no socket ever sees what the database does not have."""
    transaction.on_commit(lambda: broadcast(event), robust=True)
