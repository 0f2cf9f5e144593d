"""Events an HTTP request commits go to the channel layer once its response is sent (so the
server's own fan-out cannot hold the answer up), and go even when no response is sent.
Runs against the configured layer: in-memory on SQLite, a real Redis in the PostgreSQL step."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.layers import get_channel_layer

from notifications import events
from notifications.events import HUB_GROUP, SendEventsAfterResponse


@pytest.fixture
async def hub_channel() -> Any:
    layer = get_channel_layer()
    channel = await layer.new_channel(prefix="test-hub.")
    await layer.group_add(HUB_GROUP, channel)
    yield layer, channel
    await layer.group_discard(HUB_GROUP, channel)


async def nothing_to_receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def test_events_reach_the_layer_only_after_the_response_body(hub_channel: Any) -> None:
    layer, channel = hub_channel
    sent: list[str] = []
    held_while_answering: list[int] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        events.broadcast(events.unread_event(user_id=7, unread=3))
        events.broadcast(events.unread_event(user_id=7, unread=4))
        await send({"type": "http.response.start", "status": 201, "headers": []})
        held_while_answering.append(len(events._held.get() or ()))
        await send({"type": "http.response.body", "body": b"{}"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    await SendEventsAfterResponse(app)({"type": "http"}, nothing_to_receive, send)

    assert sent == ["http.response.start", "http.response.body"]
    assert held_while_answering == [2]  # both still held between the headers and the body
    received = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(2)]
    assert [(m["k"], m["u"], m["n"]) for m in received] == [("unread", 7, 3), ("unread", 7, 4)]
    assert events._held.get() is None  # nothing leaks into the next request's context


async def test_events_still_go_when_the_app_fails_before_answering(hub_channel: Any) -> None:
    layer, channel = hub_channel

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        events.broadcast(events.unread_event(user_id=9, unread=1))
        raise RuntimeError("after the commit, before the answer")

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("no response is sent")

    with pytest.raises(RuntimeError):
        await SendEventsAfterResponse(app)({"type": "http"}, nothing_to_receive, send)

    message = await asyncio.wait_for(layer.receive(channel), 5)
    assert (message["k"], message["u"], message["n"]) == ("unread", 9, 1)


async def test_websocket_scopes_pass_through_untouched(hub_channel: Any) -> None:
    layer, channel = hub_channel
    seen: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(events._held.get())
        events.broadcast(events.unread_event(user_id=5, unread=2))  # not held: sent at once

    await SendEventsAfterResponse(app)({"type": "websocket"}, nothing_to_receive, None)

    assert seen == [None]
    message = await asyncio.wait_for(layer.receive(channel), 5)
    assert (message["k"], message["u"]) == ("unread", 5)
