"""Handshakes against a real Daphne process: who gets a socket, who is refused, and how."""

from __future__ import annotations

import asyncio

import pytest
import websockets

from tests.support.live import LivePlatform
from tests.support.ws import connect, recv
from tests.ws.conftest import refused_code, welcomed


async def test_a_token_header_opens_a_socket_from_any_origin_or_none(live: LivePlatform) -> None:
    username, token = live.create_user()
    for headers in ({}, {"Origin": "http://evil.example"}):
        ws, welcome = await welcomed(live.ws_url, token, headers=headers)
        assert welcome["user"] == username
        await ws.close()


async def test_a_ticket_opens_one_socket_and_is_refused_when_reused(live: LivePlatform) -> None:
    username, token = live.create_user()
    r = live.http.post("/api/v1/ws-tickets/", headers=live.headers(token))
    assert r.status_code == 201 and r.json()["expires_in"] == 60
    ticket = r.json()["ticket"]

    ws, welcome = await welcomed(live.ws_url, ticket=ticket, headers={"Origin": "http://evil.example"})
    assert welcome["user"] == username
    await ws.close()

    assert await refused_code(live.ws_url, ticket=ticket) in (4401, None)


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Token hrld_not-a-real-token"},
        {"Authorization": "Token "},
        {"Authorization": "Bearer whatever"},
        {"Authorization": "Token a b"},
        {},
    ],
    ids=["unknown-token", "empty-token", "other-scheme", "three-parts", "no-credential"],
)
async def test_a_bad_or_missing_credential_is_refused_before_any_data(
    live: LivePlatform, headers: dict[str, str]
) -> None:
    assert await refused_code(live.ws_url, headers=headers) in (4401, None)


async def test_a_bad_token_is_refused_even_with_a_valid_ticket_beside_it(live: LivePlatform) -> None:
    _, token = live.create_user()
    ticket = live.http.post("/api/v1/ws-tickets/", headers=live.headers(token)).json()["ticket"]
    assert await refused_code(live.ws_url, "hrld_wrong", ticket=ticket) in (4401, None)


async def test_a_session_cookie_that_is_not_signed_in_is_refused(live: LivePlatform) -> None:
    code = await refused_code(live.ws_url, headers={"Cookie": "sessionid=nope", "Origin": live.url})
    assert code in (4401, None)


@pytest.mark.parametrize("since", ["abc", "-1", "%2B5", "+5", "%205", "1.0", "", "1e3", "0x10", "%EF%BC%95"])
async def test_a_malformed_since_closes_the_socket_with_4400_before_any_data(live: LivePlatform, since: str) -> None:
    _, token = live.create_user()
    ws = await websockets.connect(f"{live.ws_url}?since={since}", additional_headers=live.headers(token))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400


async def test_a_since_beyond_the_newest_id_replays_nothing(live: LivePlatform) -> None:
    _, token = live.create_user()
    for since in (10**9, 10**30):
        ws, _ = await welcomed(live.ws_url, token, since=since)
        assert await recv(ws) == {"type": "replayed", "count": 0}
        await ws.close()


async def test_revoking_a_token_closes_only_the_sockets_it_opened_with_4401(live: LivePlatform) -> None:
    _, first = live.create_user()
    r = live.http.post("/api/v1/tokens/", json={"name": "laptop"}, headers=live.headers(first))
    assert r.status_code == 201
    doomed_id, doomed = r.json()["id"], r.json()["key"]
    doomed_sockets = [(await welcomed(live.ws_url, doomed))[0] for _ in range(2)]
    survivor, _ = await welcomed(live.ws_url, first)

    r = live.http.delete(f"/api/v1/tokens/{doomed_id}/", headers=live.headers(first))
    assert r.status_code == 204

    for ws in doomed_sockets:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    await survivor.send('{"type": "ping"}')
    assert await recv(survivor) == {"type": "pong"}
    assert await refused_code(live.ws_url, doomed) in (4401, None)
    await survivor.close()


async def test_a_user_over_the_connection_limit_is_closed_with_4429(limited_live: LivePlatform) -> None:
    _, token = limited_live.create_user()
    first, _ = await welcomed(limited_live.ws_url, token)
    second, _ = await welcomed(limited_live.ws_url, token)

    assert await refused_code(limited_live.ws_url, token) == 4429

    _, other_token = limited_live.create_user()  # the limit is per user
    other, _ = await welcomed(limited_live.ws_url, other_token)
    await second.close()
    await asyncio.sleep(0.2)  # let the server see the close
    third, _ = await welcomed(limited_live.ws_url, token)
    for ws in (first, third, other):
        await ws.close()


async def test_a_refused_socket_gets_no_frame_before_the_close(live: LivePlatform) -> None:
    ws = await connect(live.ws_url, "hrld_definitely-wrong")
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
