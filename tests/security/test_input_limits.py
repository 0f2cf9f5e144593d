"""Oversized or malformed input gets a clear error and changes nothing in the database."""

from __future__ import annotations

import json

import pytest
import websockets
from asgiref.sync import sync_to_async

from tests.security.conftest import World, db_state
from tests.security.sockets import ask, frame, open_socket
from tests.support.live import LivePlatform
from tests.support.ws import connect, recv

BIG_DATA = {"blob": "x" * (16 * 1024)}  # 16 KiB of text plus the JSON around it: just over the limit

REFUSED_PUBLISHES = [
    ({"title": "t" * 201}, 400, "title"),
    ({"title": "   "}, 400, "title"),
    ({"title": "nul\x00"}, 400, "title"),
    ({"title": "ok", "body": "b" * 4001}, 400, "body"),
    ({"title": "ok", "body": "nul\x00"}, 400, "body"),
    ({"title": "ok", "level": "panic"}, 400, "level"),
    ({"title": "ok", "data": BIG_DATA}, 400, "data"),
    ({"title": "ok", "data": ["not", "an", "object"]}, 400, "data"),
    ({"title": "ok", "data": {"k\x00": 1}}, 400, "data"),
    ({"title": "ok", "data": {"n": 2**70}}, 400, "data"),
    ({"title": 5}, 400, "title"),
    ({}, 400, "title"),
]


@pytest.mark.parametrize(("body", "status", "field"), REFUSED_PUBLISHES)
def test_an_invalid_publish_is_refused_naming_the_field_and_stores_nothing(world: World, body, status, field) -> None:
    before = db_state()
    for path in ("/api/v1/channels/news/events/", "/api/v1/subscribers/bob/notifications/"):
        response = world.api("staff").post(path, body, format="json")
        assert response.status_code == status
        assert field in response.json()
    assert db_state() == before


@pytest.mark.parametrize("raw", [b"{", b"[1, 2]", b'"title"', b"null", b"\xff\xfe", b'{"title": NaN}'])
def test_a_malformed_json_body_is_a_400_and_stores_nothing(world: World, raw: bytes) -> None:
    before = db_state()
    response = world.api("staff").post("/api/v1/channels/news/events/", raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()
    assert db_state() == before


def test_a_request_body_over_the_upload_limit_is_a_json_413_and_changes_nothing(world: World) -> None:
    before = db_state()
    usernames = ["u" * 150] * 15_000  # a little over 2 MiB
    response = world.api("staff").post("/api/v1/channels/news/subscribers/", {"usernames": usernames}, format="json")
    assert response.status_code == 413
    assert "detail" in response.json()
    assert db_state() == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/channels/news/subscribers/", {"usernames": ["bob"] * 10_001}, "usernames"),
        ("/api/v1/channels/news/subscribers/", {"usernames": ["charlie", "ghost"]}, "usernames"),
        ("/api/v1/subscribers/", [{"username": f"new{i}"} for i in range(1001)], None),
        ("/api/v1/subscribers/", [{"username": "fresh"}, {"username": "bad name!"}], None),
        ("/api/v1/subscribers/", [{"username": "fresh"}, {"username": "bob"}], None),
        ("/api/v1/channels/", {"slug": "s" * 51, "name": "x"}, "slug"),
        ("/api/v1/channels/", {"slug": " padded", "name": "x"}, "slug"),
        ("/api/v1/channels/", {"slug": "ok-slug", "name": "x", "publishers": ["ghost"]}, "publishers"),
    ],
)
def test_an_oversized_or_invalid_bulk_request_changes_nothing(world: World, path, body, field) -> None:
    before = db_state()
    response = world.api("staff").post(path, body, format="json")
    assert response.status_code in (400, 409)
    if field:
        assert field in response.json()
    assert db_state() == before


@pytest.mark.parametrize(
    "path",
    [
        f"{p}?{q}"
        for p in ("/api/v1/notifications/", "/api/v1/channels/news/events/", "/api/v1/tokens/")
        for q in ("limit=abc", "limit=-1", "after=1.5", "after=%2B5", "limit=5%20")
    ]
    + ["/api/v1/notifications/?before=-3", "/api/v1/notifications/?before=1e3"],
)
def test_a_malformed_paging_parameter_is_a_400(world: World, path: str) -> None:
    response = world.api("bob").get(path)
    assert response.status_code == 400
    assert response.json()


# --- Sockets -----------------------------------------------------------------------------------


SOCKET_REFUSALS = [
    ("not json", "bad_request"),
    ("[]", "bad_request"),
    ('{"type": 7}', "bad_request"),
    ('{"type": "explode"}', "bad_request"),
    ('{"type": "subscribe"}', "bad_request"),
    ('{"type": "subscribe", "channel": ["news"]}', "bad_request"),
    ('{"type": "read", "id": -1}', "bad_request"),
    ('{"type": "read", "id": true}', "bad_request"),
    ('{"type": "resume", "since": "5"}', "bad_request"),
    ('{"type": "publish", "channel": "news", "title": ""}', "bad_request"),
    ('{"type": "publish", "channel": "news", "title": "ok", "extra": 1}', "bad_request"),
    (json.dumps({"type": "publish", "channel": "news", "title": "ok", "data": BIG_DATA}), "too_large"),
    ('{"type": "publish", "channel": "news", "title": "x", "level": "panic"}', "bad_request"),
]


@pytest.mark.django_db(transaction=True)
async def test_a_malformed_or_oversized_frame_gets_an_error_and_changes_nothing(live_world: World) -> None:
    ws = await open_socket(live_world.tokens["staff"])
    before = await sync_to_async(db_state)()
    try:
        assert (await frame(ws))["type"] == "welcome"
        for text, code in SOCKET_REFUSALS:
            answer = await ask(ws, text)
            assert answer["type"] == "error" and answer["code"] == code, text
            assert answer["message"]
        await ws.send_to(bytes_data=b'{"type": "ping"}')
        assert (await frame(ws))["code"] == "bad_request"
        assert await ask(ws, {"type": "ping"}) == {"type": "pong"}
    finally:
        await ws.disconnect()
    assert await sync_to_async(db_state)() == before


async def test_a_message_over_64_kib_closes_the_socket_with_1009(live_platform: LivePlatform) -> None:
    _, token = live_platform.create_user()
    ws = await connect(live_platform.ws_url, token)
    try:
        assert (await recv(ws))["type"] == "welcome"
        await ws.send(json.dumps({"type": "ping", "pad": "x" * (64 * 1024)}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await recv(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    finally:
        await ws.close()


async def test_a_message_just_under_64_kib_is_answered_normally(live_platform: LivePlatform) -> None:
    _, token = live_platform.create_user()
    ws = await connect(live_platform.ws_url, token)
    try:
        assert (await recv(ws))["type"] == "welcome"
        await ws.send(json.dumps({"type": "ping", "pad": "x" * (60 * 1024)}))
        assert await recv(ws) == {"type": "pong"}
    finally:
        await ws.close()
