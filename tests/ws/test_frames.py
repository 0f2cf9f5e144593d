"""Every client frame type against a real Daphne process, and the errors each can earn."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.support.live import LivePlatform
from tests.support.ws import collect, recv, recv_until, send
from tests.ws.conftest import expect_quiet, welcomed


async def ask(ws: ClientConnection, message: dict[str, Any] | str | bytes) -> dict[str, Any]:
    if isinstance(message, dict):
        await send(ws, message)
    else:
        await ws.send(message)
    return await recv(ws)


async def still_works(ws: ClientConnection) -> None:
    assert await ask(ws, {"type": "ping"}) == {"type": "pong"}


@pytest.fixture
async def alice(live: LivePlatform) -> Any:
    """A plain user with two open sockets."""
    username, token = live.create_user()
    one, _ = await welcomed(live.ws_url, token)
    two, _ = await welcomed(live.ws_url, token)
    yield username, token, one, two
    await one.close()
    await two.close()


async def test_ping_answers_pong(alice: Any) -> None:
    await still_works(alice[2])


async def test_subscribe_answers_every_socket_of_the_user_and_persists(live: LivePlatform, alice: Any) -> None:
    _, token, one, two = alice
    slug = live.create_channel()

    assert await ask(one, {"type": "subscribe", "channel": slug}) == {"type": "subscribed", "channel": slug}
    assert await recv(two) == {"type": "subscribed", "channel": slug}
    # The channel itself, not the first page of the list: the session's server holds many.
    channel = live.http.get(f"/api/v1/channels/{slug}/", headers=live.headers(token)).json()
    assert channel["subscribed"] is True

    published = live.publish(slug, "to both")
    for ws in (one, two):
        assert (await recv(ws))["id"] == published["id"]


async def test_subscribe_and_unsubscribe_answer_even_when_nothing_changed(live: LivePlatform, alice: Any) -> None:
    _, _, one, two = alice
    slug = live.create_channel()
    await ask(one, {"type": "subscribe", "channel": slug})
    await recv(two)

    assert await ask(one, {"type": "subscribe", "channel": slug}) == {"type": "subscribed", "channel": slug}
    assert await ask(one, {"type": "unsubscribe", "channel": slug}) == {"type": "unsubscribed", "channel": slug}
    assert await recv(two) == {"type": "unsubscribed", "channel": slug}
    assert await ask(one, {"type": "unsubscribe", "channel": slug}) == {"type": "unsubscribed", "channel": slug}
    await expect_quiet(two)  # nothing changed, so the other socket hears nothing

    live.publish(slug, "after unsubscribing")
    await expect_quiet(one)


async def test_subscribing_to_a_private_channel_one_can_see_is_forbidden(live: LivePlatform, alice: Any) -> None:
    username, _, one, _ = alice
    slug = live.create_channel(visibility="private", publishers=[username])

    answer = await ask(one, {"type": "subscribe", "channel": slug})

    assert answer["type"] == "error" and answer["code"] == "forbidden"
    await still_works(one)


async def test_unknown_and_invisible_channels_are_not_found_alike(live: LivePlatform, alice: Any) -> None:
    _, _, one, _ = alice
    hidden = live.create_channel(visibility="private")
    answers = []
    for kind in ("subscribe", "unsubscribe"):
        for slug in (hidden, "no-such-channel", "bad slug!", "nul\x00slug", "x" * 51):
            answer = await ask(one, {"type": kind, "channel": slug})
            assert answer["type"] == "error" and answer["code"] == "not_found", answer
            answers.append(answer["message"])
    assert len(set(answers)) == 1  # the message tells nothing about existence
    await still_works(one)


async def test_subscription_changes_made_over_rest_reach_open_sockets_at_once(live: LivePlatform, alice: Any) -> None:
    username, token, one, two = alice
    slug = live.create_channel()

    live.subscribe(slug, token)
    for ws in (one, two):
        assert await recv(ws, timeout=2) == {"type": "subscribed", "channel": slug}
    assert (await recv(one))["type"] == "notification" if live.publish(slug) else False

    r = live.http.delete(f"/api/v1/channels/{slug}/subscribers/{username}/", headers=live.headers())
    assert r.status_code == 204
    assert await recv_until(two, "unsubscribed", timeout=2) == {"type": "unsubscribed", "channel": slug}

    r = live.http.post(f"/api/v1/channels/{slug}/subscribers/", json={"usernames": [username]}, headers=live.headers())
    assert r.json() == {"subscribed": 1}
    assert await recv_until(two, "subscribed", timeout=2) == {"type": "subscribed", "channel": slug}

    r = live.http.delete(f"/api/v1/channels/{slug}/", headers=live.headers())
    assert r.status_code == 204
    assert await recv_until(two, "unsubscribed", timeout=2) == {"type": "unsubscribed", "channel": slug}


async def test_a_rest_change_that_changes_nothing_pushes_nothing(live: LivePlatform, alice: Any) -> None:
    _, token, one, _ = alice
    slug = live.create_channel()
    live.subscribe(slug, token)
    await recv(one)

    live.subscribe(slug, token)

    await expect_quiet(one)


async def test_resume_replays_the_inbox_after_since_then_says_replayed(live: LivePlatform, alice: Any) -> None:
    _, token, one, _ = alice
    slug = live.create_channel()
    live.subscribe(slug, token)
    await recv(one)
    ids = [live.publish(slug, f"n{i}")["id"] for i in range(3)]
    assert [f["id"] for f in await collect(one, "notification", 3)] == ids

    await send(one, {"type": "resume", "since": ids[0]})
    replayed = [await recv(one) for _ in range(3)]
    assert [f["id"] for f in replayed[:2]] == ids[1:]
    assert replayed[2] == {"type": "replayed", "count": 2}

    assert await ask(one, {"type": "resume", "since": ids[-1]}) == {"type": "replayed", "count": 0}
    later = live.publish(slug, "live again")
    assert (await recv(one))["id"] == later["id"]


async def test_reading_reaches_every_socket_of_the_user_as_unread_count(live: LivePlatform, alice: Any) -> None:
    _, token, one, two = alice
    slug = live.create_channel()
    live.subscribe(slug, token)
    ids = [live.publish(slug, f"n{i}")["id"] for i in range(3)]
    for ws in (one, two):
        await collect(ws, "notification", 3)
        await recv_until(ws, "subscribed") if False else None

    await send(one, {"type": "read", "id": ids[0]})
    for ws in (one, two):
        assert await recv_until(ws, "unread_count") == {"type": "unread_count", "unread": 2}

    r = live.http.post(f"/api/v1/notifications/{ids[1]}/read/", headers=live.headers(token))
    assert r.json() == {"unread": 1}
    for ws in (one, two):
        assert await recv_until(ws, "unread_count") == {"type": "unread_count", "unread": 1}

    await send(two, {"type": "read", "all": True})
    for ws in (one, two):
        assert await recv_until(ws, "unread_count") == {"type": "unread_count", "unread": 0}

    live.publish(slug, "fresh")
    r = live.http.post("/api/v1/notifications/read-all/", headers=live.headers(token))
    assert r.json() == {"unread": 0}
    for ws in (one, two):
        assert await recv_until(ws, "unread_count") == {"type": "unread_count", "unread": 0}


async def test_reading_a_notification_outside_the_inbox_is_not_found(live: LivePlatform, alice: Any) -> None:
    _, _, one, two = alice
    elsewhere = live.publish(live.create_channel(), "not yours")

    for target in (elsewhere["id"], 10**15):
        answer = await ask(one, {"type": "read", "id": target})
        assert answer["type"] == "error" and answer["code"] == "not_found"
    await expect_quiet(two)


async def test_publish_answers_published_with_the_id_and_delivers(live: LivePlatform, alice: Any) -> None:
    username, token, one, two = alice
    slug = live.create_channel(publishers=[username])
    live.subscribe(slug, token)
    await recv(one)
    await recv(two)

    await send(one, {"type": "publish", "channel": slug, "title": " hi ", "level": "warning", "data": {"k": [1]}})
    frames = [await recv(one), await recv(one)]
    published = next(f for f in frames if f["type"] == "published")
    notification = next(f for f in frames if f["type"] == "notification")
    assert notification["id"] == published["id"]
    assert (notification["title"], notification["body"], notification["level"], notification["data"]) == (
        "hi",
        "",
        "warning",
        {"k": [1]},
    )
    assert (await recv(two))["id"] == published["id"]
    history = live.http.get(f"/api/v1/channels/{slug}/events/", headers=live.headers(token)).json()["results"]
    assert history[-1]["id"] == published["id"]


async def test_publish_to_a_visible_channel_without_permission_is_forbidden(live: LivePlatform, alice: Any) -> None:
    _, _, one, _ = alice
    slug = live.create_channel()
    answer = await ask(one, {"type": "publish", "channel": slug, "title": "nope"})
    assert answer["type"] == "error" and answer["code"] == "forbidden"
    assert live.http.get(f"/api/v1/channels/{slug}/events/", headers=live.headers()).json()["results"] == []


async def test_publish_to_an_unknown_or_invisible_channel_is_not_found(live: LivePlatform, alice: Any) -> None:
    _, _, one, _ = alice
    for slug in ("no-such-channel", live.create_channel(visibility="private")):
        answer = await ask(one, {"type": "publish", "channel": slug, "title": "nope"})
        assert answer["type"] == "error" and answer["code"] == "not_found"


async def test_publish_with_data_over_16_kib_is_too_large(live: LivePlatform, alice: Any) -> None:
    username, _, one, _ = alice
    slug = live.create_channel(publishers=[username])
    answer = await ask(one, {"type": "publish", "channel": slug, "title": "big", "data": {"x": "y" * 16400}})
    assert answer["type"] == "error" and answer["code"] == "too_large"
    assert live.http.get(f"/api/v1/channels/{slug}/events/", headers=live.headers()).json()["results"] == []


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 201},
        {"title": 5},
        {"title": "t", "body": "x" * 4001},
        {"title": "t", "level": "fatal"},
        {"title": "t", "data": [1]},
        {"title": "t", "data": "text"},
        {"title": "nul\x00"},
        {"title": "t", "colour": "red"},
        {"title": "t", "channel": None},
        {"title": "t", "channel": 7},
    ],
    ids=[
        "no-title",
        "blank",
        "spaces",
        "long-title",
        "number-title",
        "long-body",
        "bad-level",
        "list-data",
        "text-data",
        "nul",
        "unknown-field",
        "null-channel",
        "number-channel",
    ],
)
async def test_publish_with_bad_fields_is_a_bad_request(live: LivePlatform, alice: Any, fields: dict[str, Any]) -> None:
    username, _, one, _ = alice
    slug = live.create_channel(publishers=[username])
    answer = await ask(one, {"type": "publish", "channel": slug, **fields})
    assert answer["type"] == "error" and answer["code"] == "bad_request", answer
    await still_works(one)


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "{",
        "[1, 2]",
        '"ping"',
        "5",
        "null",
        "{}",
        '{"type": "dance"}',
        '{"type": 5}',
        '{"type": "subscribe"}',
        '{"type": "subscribe", "channel": ""}',
        '{"type": "unsubscribe", "channel": ["a"]}',
        '{"type": "resume"}',
        '{"type": "resume", "since": -1}',
        '{"type": "resume", "since": "5"}',
        '{"type": "resume", "since": 1.5}',
        '{"type": "read"}',
        '{"type": "read", "id": "1"}',
        '{"type": "read", "id": true}',
        '{"type": "read", "all": "yes"}',
        '{"type": "publish"}',
        b'{"type": "ping"}',
    ],
)
async def test_a_malformed_frame_gets_bad_request_and_the_socket_keeps_working(alice: Any, raw: str | bytes) -> None:
    _, _, one, two = alice
    answer = await ask(one, raw)
    assert answer["type"] == "error" and answer["code"] == "bad_request", answer
    assert isinstance(answer["message"], str) and answer["message"]
    await still_works(one)
    await expect_quiet(two, 0.1)


async def test_a_message_of_exactly_64_kib_is_accepted_and_one_byte_more_closes_with_1009(alice: Any) -> None:
    _, _, one, two = alice
    exact = '{"type": "ping"}'.ljust(65536)
    assert len(exact.encode()) == 65536
    assert await ask(one, exact) == {"type": "pong"}

    await two.send(exact + " ")
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(two.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    await still_works(one)


async def test_a_fragmented_message_over_64_kib_closes_with_1009(alice: Any) -> None:
    _, _, one, _ = alice
    chunks = ['{"type": "ping"}', " " * 40000, " " * 40000]
    await one.send(iter(chunks))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(one.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_too_many_frames_are_rate_limited_and_the_socket_stays_open(limited_live: LivePlatform) -> None:
    _, token = limited_live.create_user()
    ws, _ = await welcomed(limited_live.ws_url, token)

    for _ in range(4):
        await send(ws, {"type": "ping"})
    await ws.send(b"binary frames count too")
    answers = [await recv(ws) for _ in range(5)]

    assert answers[:3] == [{"type": "pong"}] * 3
    assert [(a["type"], a["code"]) for a in answers[3:]] == [("error", "rate_limited")] * 2
    await asyncio.sleep(1.1)  # the bucket refills at one frame per second
    assert await ask(ws, {"type": "ping"}) == {"type": "pong"}
    await ws.close()
