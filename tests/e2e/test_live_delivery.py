"""End to end: a real Daphne process, real `websockets` clients, publishing over HTTP."""

import asyncio
import time

from tests.support.live import LivePlatform
from tests.support.ws import collect, connect, recv


async def test_notification_published_over_http_reaches_every_subscriber_socket_quickly(
    live_platform: LivePlatform,
) -> None:
    slug = live_platform.create_channel()
    users = [live_platform.create_user() for _ in range(3)]
    for _, token in users:
        live_platform.subscribe(slug, token)
    sockets = [await connect(live_platform.ws_url, token) for _, token in users]
    for ws in sockets:
        welcome = await recv(ws)
        assert welcome["type"] == "welcome" and slug in welcome["channels"]

    started = time.monotonic()
    published = await asyncio.to_thread(live_platform.publish, slug, "deploy finished", data={"n": 1})
    frames = await asyncio.gather(*(collect(ws, "notification", 1, timeout=2) for ws in sockets))
    elapsed = time.monotonic() - started

    assert all(f[0]["id"] == published["id"] and f[0]["title"] == "deploy finished" for f in frames)
    assert frames[0][0]["data"] == {"n": 1}
    assert elapsed < 2
    for ws in sockets:
        await ws.close()
