"""A client that stops reading: it must not slow the others or grow the server's memory
without bound. The server closes it with 4408 once its unread backlog passes
SOCKET_BACKLOG_BYTES; when it comes back with `since` it gets what it missed, once."""

import asyncio
import json
import socket
import time

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.faults.client import ResilientClient, assert_exact
from tests.faults.support import Publisher, channel_with_subscribers, history_ids, rss_bytes, wait_until

pytestmark = pytest.mark.faults

BACKLOG_LIMIT = 256 * 1024
CLOSE_SLOW_CONSUMER = 4408


async def connect_paused_reader(url: str, token: str) -> websockets.ClientConnection:
    """A real client with a tiny receive window that reads only when told to: websockets stops
    reading from the socket once `max_queue` frames wait, and the kernel buffer is small."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)  # fixed: no autotuning
    host, port = url.split("//")[1].split("/")[0].split(":")
    sock.connect((host, int(port)))
    sock.setblocking(False)
    return await websockets.connect(
        url,
        sock=sock,
        additional_headers={"Authorization": f"Token {token}"},
        max_size=None,
        max_queue=1,
        ping_interval=None,
    )


async def test_a_client_that_stops_reading_is_closed_with_4408_without_slowing_others_and_resumes(
    redis_factory, cluster_factory
) -> None:
    redis = redis_factory()
    cluster = await asyncio.to_thread(
        cluster_factory, redis_urls=[redis.url], processes=1, HERALD_SOCKET_BACKLOG_BYTES=str(BACKLOG_LIMIT)
    )
    server = cluster.servers[0]
    slug, (fast_token, slow_token) = await asyncio.to_thread(channel_with_subscribers, cluster.admin, 2)
    fast = await ResilientClient(server.ws_url, fast_token, name="fast").start()
    publisher = Publisher([server.url], cluster.platform.staff_token, slug)
    body, data = "b" * 3900, {"blob": "x" * 16000}  # ~20 KB per notification
    await publisher.publish_many(60, concurrency=4, body=body, data=data)  # warm-up: the heap settles
    slow = await connect_paused_reader(server.ws_url, slow_token)
    welcome = json.loads(await slow.recv())
    assert welcome["type"] == "welcome"
    await fast.wait_for_ids(publisher.ids, timeout=10)
    rss_before = rss_bytes(server.pid)

    # 500 more, ~10 MB: far beyond every buffer between the server and the stalled client.
    stream = asyncio.create_task(publisher.publish_many(500, concurrency=4, body=body, data=data))
    started = time.monotonic()
    await wait_until(
        lambda: "closing slow socket" in server.log_path.read_text(errors="replace"),
        60,
        "the server to close the slow socket",
    )
    closed_after = len(publisher.ids)
    rss_at_close = rss_bytes(server.pid)
    # Read now, fast: the frames already on their way, then the close frame.
    got: list[int] = []
    code = None
    try:
        async for raw in slow:
            frame = json.loads(raw)
            if frame["type"] == "notification":
                got.append(frame["id"])
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd else None
    else:
        code = slow.close_code
    assert code == CLOSE_SLOW_CONSUMER
    await stream
    after_close_bytes = (len(publisher.ids) - closed_after) * 20_000
    rss_end = rss_bytes(server.pid)

    stored = await asyncio.to_thread(history_ids, cluster.admin, slug)
    assert sorted(publisher.ids) == stored
    missed = [i for i in stored if i > welcome["last_id"]]
    # The fast client got everything, in order, while the other one was stuck.
    await fast.wait_for_ids(stored, timeout=10)
    assert_exact(fast, stored)
    # Back with `since`: what it missed, exactly once, and nothing it already had.
    resumed = ResilientClient(server.ws_url, slow_token, name="slow")
    resumed.cursor = got[-1] if got else welcome["last_id"]
    await resumed.start()
    await resumed.wait_for_ids([i for i in missed if i not in got], timeout=10)
    await asyncio.sleep(0.3)
    assert got + resumed.ids == missed
    print(
        f"slow socket closed after {closed_after} notifications ({time.monotonic() - started:.1f}s); "
        f"it had read {len(got)}; server RSS {rss_before / 2**20:.1f} -> {rss_at_close / 2**20:.1f} at the close "
        f"-> {rss_end / 2**20:.1f} MiB after {after_close_bytes / 2**20:.1f} MiB more was published"
    )
    # A coarse guard only: allocator noise is of the order of the bytes published (~10 MiB
    # here), so this catches runaway growth (a socket buffering everything, forever), while the
    # 4408 close above is what proves that the backlog is bounded.
    assert rss_end - rss_before < 48 * 2**20
    await asyncio.gather(fast.stop(), resumed.stop())
