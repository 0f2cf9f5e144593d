"""Delivery on one real Daphne process: direct notifications, order across channels, and
replay that leaves a reconnecting client with every notification exactly once."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

from websockets.asyncio.client import ClientConnection

from tests.support.live import LivePlatform
from tests.support.ws import collect, connect, recv, recv_until, send
from tests.ws.conftest import expect_quiet, welcomed
from tests.ws.publishing import Publisher, as_frame, inbox


async def test_a_direct_notification_reaches_only_its_recipients_sockets(live: LivePlatform) -> None:
    username, token = live.create_user()
    _, other_token = live.create_user()
    mine = [(await welcomed(live.ws_url, token))[0] for _ in range(2)]
    other, _ = await welcomed(live.ws_url, other_token)

    r = live.http.post(
        f"/api/v1/subscribers/{username}/notifications/", json={"title": "just you"}, headers=live.headers()
    )
    assert r.status_code == 201
    for ws in mine:
        frame = await recv(ws, timeout=2)
        assert frame["id"] == r.json()["id"] and frame["channel"] is None and frame["title"] == "just you"
    await expect_quiet(other)
    for ws in [*mine, other]:
        await ws.close()


async def test_a_socket_on_several_channels_sees_strictly_increasing_ids(live: LivePlatform) -> None:
    _, token = live.create_user()
    slugs = [live.create_channel() for _ in range(3)]
    for slug in slugs:
        live.subscribe(slug, token)
    ws, welcome = await welcomed(live.ws_url, token)
    assert sorted(welcome["channels"]) == sorted(slugs)

    def burst(slug: str) -> list[int]:
        return [live.publish(slug, f"{slug}-{i}")["id"] for i in range(10)]

    results = await asyncio.gather(*(asyncio.to_thread(burst, slug) for slug in slugs))
    frames = await collect(ws, "notification", 30)

    ids = [f["id"] for f in frames]
    assert ids == sorted(set(ids))
    assert set(ids) == {i for r in results for i in r}
    await ws.close()


async def read_round(ws: ClientConnection, seen: list[int], state: dict[int, dict[str, Any]], n: int) -> None:
    while n > 0:
        frame = await recv(ws)
        if frame["type"] == "notification":
            seen.append(frame["id"])
            state[frame["id"]] = frame
            n -= 1


def subscribed_user(live: LivePlatform) -> tuple[str, str, list[str]]:
    username, token = live.create_user()
    mine = [live.create_channel(), live.create_channel()]
    for slug in mine:
        live.subscribe(slug, token)
    others = live.create_channel()
    paths = [f"/api/v1/channels/{s}/events/" for s in [*mine, others]]
    return username, token, [*paths, f"/api/v1/subscribers/{username}/notifications/"]


async def drain_until(ws: ClientConnection, seen: list[int], state: dict[int, dict[str, Any]], last: int) -> None:
    """Read until the notification with id `last` has arrived (it may already have)."""
    while last not in state:
        frame = await recv(ws)
        if frame["type"] == "notification":
            seen.append(frame["id"])
            state[frame["id"]] = frame


async def test_reconnecting_with_since_while_publishing_continues_yields_every_notification_once(
    live: LivePlatform,
) -> None:
    _, token, paths = subscribed_user(live)
    seen: list[int] = []
    state: dict[int, dict[str, Any]] = {}
    ws, _ = await welcomed(live.ws_url, token)
    publisher = Publisher(live.url, live.staff_token, paths)
    publisher.start()
    try:
        for _ in range(5):
            await read_round(ws, seen, state, 6)
            await ws.close()
            await asyncio.sleep(0.05)  # more is published while the client is away
            ws = await connect(live.ws_url, token, since=seen[-1])
            assert (await recv(ws))["type"] == "welcome"
            replay: list[int] = []
            while (frame := await recv(ws))["type"] != "replayed":
                assert frame["type"] == "notification"
                replay.append(frame["id"])
                state[frame["id"]] = frame
            assert frame["count"] == len(replay)
            seen.extend(replay)
    finally:
        publisher.stop()
    last = max(i for p in paths[:2] + paths[3:] for i in publisher.ids[p])
    await drain_until(ws, seen, state, last)
    await ws.close()

    fresh = inbox(live.http, token)
    assert seen == sorted(set(seen))  # exactly once, in order, across every reconnect
    assert seen == [n["id"] for n in fresh]
    assert state == {n["id"]: as_frame(n) for n in fresh}  # old state + replayed == fresh state
    assert not set(seen) & set(publisher.ids[paths[2]])  # nothing from a channel not subscribed


async def test_resume_on_an_open_socket_while_publishing_continues_has_no_gap_and_no_duplicate(
    live: LivePlatform,
) -> None:
    _, token, paths = subscribed_user(live)
    seen: list[int] = []
    state: dict[int, dict[str, Any]] = {}
    rounds: list[tuple[int, list[int], int, list[int]]] = []  # since, before replayed, count, live after
    ws, _ = await welcomed(live.ws_url, token)
    publisher = Publisher(live.url, live.staff_token, paths)
    publisher.start()
    try:
        await read_round(ws, seen, state, 6)
        for _ in range(5):
            since = seen[-1]
            await send(ws, {"type": "resume", "since": since})
            before: list[int] = []
            while (frame := await recv(ws))["type"] != "replayed":
                if frame["type"] == "notification":
                    before.append(frame["id"])
                    state[frame["id"]] = frame
            after: list[int] = []
            await read_round(ws, after, state, 6)
            rounds.append((since, before, frame["count"], after))
            seen.extend(before + after)
    finally:
        publisher.stop()
    last = max(i for p in paths[:2] + paths[3:] for i in publisher.ids[p])
    tail: list[int] = []
    await drain_until(ws, tail, state, last)
    rounds[-1][3].extend(tail)
    await ws.close()

    fresh_ids = [n["id"] for n in inbox(live.http, token)]
    for since, before, count, after in rounds:
        expected = [i for i in fresh_ids if i > since]
        replay = before[len(before) - count :] if count else []
        live_before = before[: len(before) - count]
        assert live_before == expected[: len(live_before)]  # live frames that beat the resume
        assert replay + after == expected[: len(replay) + len(after)]  # no gap, no duplicate
    assert set(state) == set(fresh_ids)
    assert state == {n["id"]: as_frame(n) for n in inbox(live.http, token)}


async def test_a_notification_published_before_the_socket_opened_is_not_pushed_live(live: LivePlatform) -> None:
    _, token = live.create_user()
    slug = live.create_channel()
    live.subscribe(slug, token)
    old = live.publish(slug, "before")

    ws, welcome = await welcomed(live.ws_url, token)
    assert welcome["last_id"] >= old["id"]
    await expect_quiet(ws)
    ws2, _ = await welcomed(live.ws_url, token, since=old["id"] - 1)
    assert [await recv(ws2), await recv(ws2)] == [
        {**as_frame(inbox(live.http, token)[-1])},
        {"type": "replayed", "count": 1},
    ]
    for w in (ws, ws2):
        await w.close()


async def test_welcome_and_replay_come_first_even_while_direct_notifications_pour_in(live: LivePlatform) -> None:
    username, token = live.create_user()
    publisher = Publisher(live.url, live.staff_token, [f"/api/v1/subscribers/{username}/notifications/"], pause=0)
    publisher.start()
    try:
        await asyncio.sleep(0.3)
        for attempt in range(16):
            since = max(0, publisher.count() and publisher.ids[publisher.paths[0]][-1] - 3)
            ws = await connect(live.ws_url, token, since=since if attempt % 2 else None)
            first = await recv(ws)
            assert first["type"] == "welcome", first
            ids: list[int] = []
            if attempt % 2:
                while (frame := await recv(ws))["type"] != "replayed":
                    ids.append(frame["id"])
                assert frame["count"] == len(ids)
            for _ in range(3):
                ids.append((await recv(ws))["id"])
            assert ids == sorted(set(ids)), ids
            assert all(i > since for i in ids) if attempt % 2 else True
            await ws.close()
    finally:
        publisher.stop()


async def test_a_reader_that_pauses_gets_every_frame_once_in_order_when_it_resumes(live: LivePlatform) -> None:
    """The hub writes frames straight to the kernel while Twisted holds nothing for the
    socket, and through Twisted's buffer once the kernel stops taking them. A reader with a
    tiny receive window that stops reading sends the writes down the second path mid-stream,
    with an `unread_count` (written through autobahn) in between; when it reads again,
    nothing may be lost, repeated or reordered, and the direct path must take over again."""
    _, token = live.create_user()
    slug = live.create_channel()
    live.subscribe(slug, token)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)  # fixed: no autotuning
    host, port = live.ws_url.split("//")[1].split("/")[0].split(":")
    sock.connect((host, int(port)))
    sock.setblocking(False)
    ws = await connect(live.ws_url, token, sock=sock, max_queue=1, ping_interval=None)
    assert (await recv(ws))["type"] == "welcome"

    body, blob = "b" * 3900, {"blob": "x" * 16000}  # ~20 KB per notification

    def publish(first: int, count: int, pause: float = 0.0) -> list[int]:
        ids = []
        for i in range(first, first + count):
            ids.append(live.publish(slug, f"n{i}", body=body, data=blob)["id"])
            time.sleep(pause)
        return ids

    # Nothing read: ~6 MB fills the kernel's buffers (4 MB at most), then Twisted's (below
    # the 4 MiB that would close the socket with 4408).
    batches = await asyncio.gather(*(asyncio.to_thread(publish, k * 100, 100) for k in range(3)))
    stalled = sorted(i for batch in batches for i in batch)
    r = live.http.post("/api/v1/notifications/read-all/", headers=live.headers(token))
    assert r.status_code == 200
    # Read slowly while more arrive: writes land while Twisted still holds bytes and while
    # the kernel has just made room, the moments where the two paths could overtake each other.
    more = asyncio.create_task(asyncio.to_thread(publish, 300, 60, 0.01))
    frames = []
    while len([f for f in frames if f["type"] == "notification"]) < 360:
        frames.append(await recv(ws, timeout=10))
        if len(frames) % 10 == 0:
            await asyncio.sleep(0.005)
    ids = [f["id"] for f in frames if f["type"] == "notification"]
    assert ids == stalled + await more
    assert [f["unread"] for f in frames if f["type"] == "unread_count"] == [0]

    after = await asyncio.to_thread(live.publish, slug, "after the backlog")
    frame = await recv_until(ws, "notification", timeout=5)
    assert frame["id"] == after["id"]
    await expect_quiet(ws)
    await ws.close()
