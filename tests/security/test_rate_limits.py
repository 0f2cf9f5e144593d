"""Rate limits: publishing per API token over REST (429 + Retry-After), frames per socket
(`rate_limited`, the socket stays open), sockets per user. Against a real server with small limits."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets

from tests.support.live import LivePlatform
from tests.support.ws import connect, recv, recv_until, send


def history_ids(live: LivePlatform, slug: str) -> list[int]:
    r = live.http.get(f"/api/v1/channels/{slug}/events/?limit=500", headers=live.headers())
    return [n["id"] for n in r.json()["results"]]


def new_token(live: LivePlatform, token: str) -> str:
    r = live.http.post("/api/v1/tokens/", json={"name": "second"}, headers=live.headers(token))
    assert r.status_code == 201
    return str(r.json()["key"])


def publish(live: LivePlatform, slug: str, token: str, title: str = "t") -> httpx.Response:
    return live.http.post(f"/api/v1/channels/{slug}/events/", json={"title": title}, headers=live.headers(token))


def test_publishing_over_the_rate_answers_429_with_retry_after_and_stores_nothing(
    tight_platform: LivePlatform,
) -> None:
    live = tight_platform
    username, token = live.create_user()
    slug = live.create_channel(publishers=[username])

    assert [publish(live, slug, token).status_code for _ in range(3)] == [201, 201, 201]
    stored = history_ids(live, slug)
    refused = publish(live, slug, token, "one too many")

    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "detail" in refused.json()
    assert history_ids(live, slug) == stored


def test_two_tokens_of_one_user_are_rate_limited_separately(tight_platform: LivePlatform) -> None:
    live = tight_platform
    username, first = live.create_user()
    second = new_token(live, first)
    slug = live.create_channel(publishers=[username])

    assert [publish(live, slug, first).status_code for _ in range(4)] == [201, 201, 201, 429]
    assert [publish(live, slug, second).status_code for _ in range(4)] == [201, 201, 201, 429]


def test_direct_notifications_count_against_the_same_per_token_rate(tight_platform: LivePlatform) -> None:
    live = tight_platform
    username, _ = live.create_user()
    staff_token = new_token(live, live.staff_token)

    codes = [
        live.http.post(
            f"/api/v1/subscribers/{username}/notifications/", json={"title": "hi"}, headers=live.headers(staff_token)
        ).status_code
        for _ in range(4)
    ]

    assert codes == [201, 201, 201, 429]


async def test_a_socket_over_its_frame_rate_gets_rate_limited_errors_and_stays_open(
    tight_platform: LivePlatform,
) -> None:
    _, token = tight_platform.create_user()
    ws = await connect(tight_platform.ws_url, token)
    try:
        assert (await recv(ws))["type"] == "welcome"
        for _ in range(12):
            await send(ws, {"type": "ping"})
        answers = [await recv(ws) for _ in range(12)]
        assert answers[:5] == [{"type": "pong"}] * 5
        limited = [a for a in answers if a["type"] == "error"]
        assert len(limited) >= 5 and all(a["code"] == "rate_limited" for a in limited)

        await asyncio.sleep(1.1)  # the bucket refills at 1 frame/s
        await send(ws, {"type": "ping"})
        assert await recv_until(ws, "pong") == {"type": "pong"}
    finally:
        await ws.close()


async def test_a_user_cannot_hold_more_sockets_than_the_limit(tight_platform: LivePlatform) -> None:
    _, token = tight_platform.create_user()
    sockets = [await connect(tight_platform.ws_url, token) for _ in range(3)]
    try:
        for ws in sockets:
            assert (await recv(ws))["type"] == "welcome"
        extra = await connect(tight_platform.ws_url, token)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await recv(extra)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429

        await sockets.pop().close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while True:  # the server forgets the closed socket very soon
            again = await connect(tight_platform.ws_url, token)
            try:
                if (await recv(again))["type"] == "welcome":
                    sockets.append(again)
                    break
            except websockets.ConnectionClosed:
                assert loop.time() < deadline
                await asyncio.sleep(0.05)
    finally:
        for ws in sockets:
            await ws.close()
