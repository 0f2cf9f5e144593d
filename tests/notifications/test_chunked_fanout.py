"""Large fan-outs yield to the event loop between chunks of sockets. With a chunk of two
sockets, every fan-out here is chunked: order, exactness and subscription changes must hold."""

import asyncio

import httpx

from tests.support.live import LivePlatform, Platform
from tests.support.ws import connect, recv


async def drain(ws, seconds: float) -> list[dict]:  # type: ignore[no-untyped-def]
    frames = []
    try:
        while True:
            frames.append(await recv(ws, seconds))
    except TimeoutError:
        return frames


async def test_chunked_fan_out_keeps_every_socket_exact_and_in_order(platform_factory: type[Platform]) -> None:
    platform = platform_factory(extra_env={"HERALD_FANOUT_CHUNK": "2"})
    live = LivePlatform(platform, platform.start_server())
    a, b = live.create_channel(), live.create_channel()
    users = [live.create_user() for _ in range(6)]
    for _, token in users:
        live.subscribe(a, token)
        live.subscribe(b, token)
    sockets = [await connect(live.ws_url, token) for _, token in users]
    for ws in sockets:
        assert (await recv(ws))["type"] == "welcome"

    _, leaver_token = users[0]

    def publish_all() -> tuple[list[int], int]:
        ids = []
        with httpx.Client(base_url=live.url, headers=live.headers(), timeout=20) as http:
            for i in range(30):
                slug = a if i % 2 else b
                ids.append(http.post(f"/api/v1/channels/{slug}/events/", json={"title": f"n{i}"}).json()["id"])
                if i == 14:  # the leaver stops following `a` halfway through
                    r = http.delete(f"/api/v1/channels/{a}/subscription/", headers=live.headers(leaver_token))
                    assert r.status_code == 204
                    unsub_after = ids[-1]
        return ids, unsub_after

    def publish_burst(slug: str) -> list[int]:
        with httpx.Client(base_url=live.url, headers=live.headers(), timeout=20) as http:
            return [
                http.post(f"/api/v1/channels/{slug}/events/", json={"title": "burst"}).json()["id"] for _ in range(15)
            ]

    # Concurrent publishers: events reach the hub while earlier chunked fan-outs are running.
    def direct_burst(username: str) -> list[int]:
        with httpx.Client(base_url=live.url, headers=live.headers(), timeout=20) as http:
            url = f"/api/v1/subscribers/{username}/notifications/"
            return [http.post(url, json={"title": "direct"}).json()["id"] for _ in range(15)]

    # Concurrent publishers: events reach the hub while earlier chunked fan-outs are running,
    # and direct notifications (one socket: not chunked) must still wait their turn.
    bursts = await asyncio.gather(*(asyncio.to_thread(publish_burst, slug) for slug in (a, b, a, b)))
    direct_ids = set()
    for _ in range(3):
        results = await asyncio.gather(
            asyncio.to_thread(publish_burst, a), *(asyncio.to_thread(direct_burst, u) for u, _ in users)
        )
        bursts.append(results[0])
        direct_ids.update(i for ids in results[1:] for i in ids)
    burst_ids = sorted(i for ids in bursts for i in ids)
    ids, unsub_after = await asyncio.to_thread(publish_all)
    ids = burst_ids + ids
    frames = await asyncio.gather(*(drain(ws, 1.5) for ws in sockets))

    for ws_frames in frames[1:]:
        got = [f["id"] for f in ws_frames if f["type"] == "notification"]
        mine = {f["id"] for f in ws_frames if f["type"] == "notification" and f["channel"] is None}
        assert len(mine) == 45
        expected_all = sorted(set(ids) | mine)
        assert len(got) == len(set(got)), "duplicates"
        assert got == sorted(got), "out of order"
        assert set(got) == set(expected_all)
        direct_ids -= mine
    leaver = frames[0]
    got = [f["id"] for f in leaver if f["type"] == "notification" and f["channel"] is not None]
    expected = burst_ids + [i for n, i in enumerate(ids[len(burst_ids) :]) if i <= unsub_after or n % 2 == 0]
    assert got == expected
    position = next(k for k, f in enumerate(leaver) if f["type"] == "unsubscribed")
    before = [f["id"] for f in leaver[:position] if f["type"] == "notification" and f["channel"] is not None]
    assert before == [i for i in expected if i <= unsub_after]
    for ws in sockets:
        await ws.close()
