"""With Redis unreachable, the store alone decides: publishing succeeds and sockets still get
every notification (the hub reads them from the database)."""

import asyncio

from tests.support.live import LivePlatform, Platform, free_port
from tests.support.ws import collect, connect, recv


async def test_publishing_and_delivery_work_while_redis_is_unreachable(platform_factory: type[Platform]) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    platform = platform_factory(redis_urls=[dead_redis])
    live = LivePlatform(platform, platform.start_server())
    slug = live.create_channel()
    _, token = live.create_user()
    live.subscribe(slug, token)
    ws = await connect(live.ws_url, token)
    assert (await recv(ws))["type"] == "welcome"

    ids = [(await asyncio.to_thread(live.publish, slug, f"n{i}"))["id"] for i in range(5)]

    frames = await collect(ws, "notification", 5, timeout=10)
    assert [f["id"] for f in frames] == ids
    await ws.close()
