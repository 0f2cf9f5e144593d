"""Several Daphne processes on one database and one Redis: events cross processes, ids stay
in order under concurrent publishers, and an idle Redis-backed socket stays healthy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.live import LivePlatform, Platform
from tests.support.ws import collect, recv, recv_until, send
from tests.ws.conftest import welcomed
from tests.ws.publishing import Publisher, inbox

pytestmark = pytest.mark.redis


@pytest.fixture
def nodes(cluster: Platform) -> Iterator[tuple[LivePlatform, LivePlatform]]:
    a, b = (LivePlatform(cluster, server) for server in cluster.servers[:2])
    yield a, b
    a.http.close()
    b.http.close()


async def test_a_notification_published_on_one_process_reaches_sockets_on_the_other(
    nodes: tuple[LivePlatform, LivePlatform],
) -> None:
    a, b = nodes
    _, token = a.create_user()
    slug = a.create_channel()
    a.subscribe(slug, token)
    on_a, _ = await welcomed(a.ws_url, token)
    on_b, welcome = await welcomed(b.ws_url, token)
    assert welcome["channels"] == [slug]

    started = time.monotonic()
    published = await asyncio.to_thread(a.publish, slug, "across processes")
    for ws in (on_a, on_b):
        assert (await recv(ws, timeout=3))["id"] == published["id"]
    assert time.monotonic() - started < 3
    for ws in (on_a, on_b):
        await ws.close()


async def test_subscription_changes_made_on_one_process_reach_sockets_on_the_other(
    nodes: tuple[LivePlatform, LivePlatform],
) -> None:
    a, b = nodes
    username, token = a.create_user()
    first, second = a.create_channel(), a.create_channel()
    on_a, _ = await welcomed(a.ws_url, token)
    on_b, _ = await welcomed(b.ws_url, token)

    a.subscribe(first, token)  # over REST on process A
    assert await recv(on_b, timeout=3) == {"type": "subscribed", "channel": first}
    await send(on_a, {"type": "subscribe", "channel": second})  # over the socket on A
    assert await recv_until(on_b, "subscribed", timeout=3) == {"type": "subscribed", "channel": second}
    r = a.http.delete(f"/api/v1/channels/{first}/subscribers/{username}/", headers=a.headers())
    assert r.status_code == 204
    assert await recv_until(on_b, "unsubscribed", timeout=3) == {"type": "unsubscribed", "channel": first}

    for slug in (first, second):
        await asyncio.to_thread(b.publish, slug, f"to {slug}")
    frames = await collect(on_b, "notification", 1, timeout=3)
    assert frames[0]["channel"] == second  # `first` was left, `second` joined: live, no reconnect
    await send(on_b, {"type": "read", "all": True})
    assert await recv_until(on_a, "unread_count", timeout=3) == {"type": "unread_count", "unread": 0}
    for ws in (on_a, on_b):
        await ws.close()


async def test_ids_become_visible_in_order_under_concurrent_publishers_on_two_processes(
    nodes: tuple[LivePlatform, LivePlatform],
) -> None:
    """Runs on whichever database the suite uses: PostgreSQL's row lock, or SQLite's
    IMMEDIATE transactions shared by two processes."""
    a, b = nodes
    username, token = a.create_user()
    slugs = [a.create_channel() for _ in range(3)]
    for slug in slugs:
        a.subscribe(slug, token)
    listeners = [(await welcomed(node.ws_url, token))[0] for node in (a, b)]
    paths = [f"/api/v1/channels/{s}/events/" for s in slugs] + [f"/api/v1/subscribers/{username}/notifications/"]
    publishers = [
        Publisher(node.url, a.staff_token, paths[i:] + paths[:i], pause=0, limit=15)
        for i, node in enumerate((a, b, a, b))
    ]
    for p in publishers:
        p.start()
    for p in publishers:
        await asyncio.to_thread(p.join, 60)
        p.stop()  # raises what the publisher met
    total = sum(p.count() for p in publishers)
    assert total == 60

    received: list[list[dict[str, Any]]] = await asyncio.gather(
        *(collect(ws, "notification", total, timeout=20) for ws in listeners)
    )
    fresh = [n["id"] for n in inbox(a.http, token)]
    for frames in received:
        ids = [f["id"] for f in frames]
        assert ids == sorted(set(ids)), "a socket saw ids out of order"
        # Nothing entered the inbox behind the client: every inbox id below the newest id the
        # socket saw was delivered to it.
        behind = [i for i in fresh if i < ids[-1] and i not in set(ids)]
        assert behind == []
        assert ids == fresh
    for ws in listeners:
        await ws.close()


@pytest.mark.timeout(60)
async def test_an_idle_socket_on_a_redis_backed_server_still_receives_after_twelve_seconds(
    cluster: Platform,
) -> None:
    """redis-py 8's default 5 s socket timeout equals channels-redis's 5 s blocking read: the
    layer's receive would then fail now and then on an idle server. Settings give the layer
    15 s; this catches a regression (slow on purpose, and part of the default run)."""
    server = cluster.start_server(HERALD_HUB_POLL_INTERVAL="60")  # only the layer can deliver in time
    node = LivePlatform(cluster, server)
    _, token = node.create_user()
    slug = node.create_channel()
    node.subscribe(slug, token)
    ws, _ = await welcomed(node.ws_url, token)

    await asyncio.sleep(12.5)  # idle: no frame either way
    published = await asyncio.to_thread(LivePlatform(cluster, cluster.servers[0]).publish, slug, "still there?")

    assert (await recv(ws, timeout=3))["id"] == published["id"]
    await send(ws, {"type": "ping"})
    assert await recv(ws) == {"type": "pong"}
    await ws.close()
    log = server.log_path.read_text(errors="replace")
    assert "hub lost the channel layer" not in log
    assert "Traceback" not in log
    server.stop()
    node.http.close()
