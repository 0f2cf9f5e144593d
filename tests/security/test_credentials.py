"""API tokens are stored hashed and compared in constant time; tickets are single-use and
short-lived; no key or ticket ever reaches the server's log."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from datetime import timedelta

import pytest
import websockets
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.utils import timezone

from accounts.models import ApiToken, WsTicket
from accounts.services import ticket_create, token_authenticate
from config.asgi import application
from tests.security.conftest import PASSWORD, World
from tests.support.live import LivePlatform
from tests.support.ws import connect, recv


def database_text() -> str:
    """Every value of every row of every table, as one string."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def one_char_off(key: str, position: int) -> str:
    swapped = "A" if key[position] != "A" else "B"
    return key[:position] + swapped + key[position + 1 :]


def test_a_new_token_is_stored_only_as_its_sha256_digest_and_public_prefix(world: World) -> None:
    created = world.api("bob").post("/api/v1/tokens/", {"name": "ci"}, format="json").json()
    key = created["key"]
    row = ApiToken.objects.get(pk=created["id"])

    assert re.fullmatch(r"[0-9a-f]{64}", row.digest)
    assert row.digest == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(row.prefix) and len(row.prefix) < len(key) - 20
    assert created["prefix"] == row.prefix
    secret_part = key[len(row.prefix) :]
    assert secret_part not in database_text()
    listed = world.api("bob").get("/api/v1/tokens/").json()["results"]
    assert all("key" not in t and secret_part not in str(t) for t in listed)


def test_a_ticket_is_stored_only_as_its_digest(world: World) -> None:
    ticket = world.api("bob").post("/api/v1/ws-tickets/").json()["ticket"]
    assert WsTicket.objects.filter(digest=hashlib.sha256(ticket.encode()).hexdigest()).exists()
    assert ticket not in database_text()


@pytest.mark.parametrize("position", [5, 6, 20, -1])
def test_a_key_differing_in_one_character_is_refused(world: World, position: int) -> None:
    key = world.tokens["bob"]
    client = world.api("bob")
    client.credentials(HTTP_AUTHORIZATION=f"Token {one_char_off(key, position)}")

    response = client.get("/api/v1/notifications/unread-count/")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"


def test_the_digest_itself_or_a_truncated_key_is_refused(world: World) -> None:
    key = world.tokens["bob"]
    digest = hashlib.sha256(key.encode()).hexdigest()
    for candidate in (digest, key[:-1], key + "x", key[:13], key.upper(), f"{key} "):
        assert token_authenticate(candidate) is None, candidate


def test_token_digests_are_compared_with_hmac_compare_digest(world: World, monkeypatch) -> None:
    real = hmac.compare_digest
    seen: list[tuple[str, str]] = []

    def spy(a, b):  # the real comparison, recorded
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    key = world.tokens["bob"]
    stored = ApiToken.objects.get(user=world.bob).digest

    assert token_authenticate(one_char_off(key, -1)) is None
    assert token_authenticate(key) is not None

    assert (stored, hashlib.sha256(one_char_off(key, -1).encode()).hexdigest()) in seen
    assert (stored, stored) in seen


@pytest.mark.django_db(transaction=True)
async def test_an_expired_ticket_is_refused(live_world: World) -> None:
    ticket, _ = await sync_to_async(ticket_create)(user=live_world.bob)
    await sync_to_async(WsTicket.objects.update)(expires_at=timezone.now() - timedelta(seconds=1))

    ws = WebsocketCommunicator(application, f"/ws/notifications/?ticket={ticket}")
    await ws.connect(timeout=5)
    closed = await ws.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4401}
    await ws.wait()


async def test_two_concurrent_redemptions_of_one_ticket_let_exactly_one_socket_in(live_platform: LivePlatform) -> None:
    _, token = live_platform.create_user()
    for _ in range(3):
        ticket = live_platform.http.post("/api/v1/ws-tickets/", headers=live_platform.headers(token)).json()["ticket"]

        async def attempt(ticket: str = ticket) -> str:
            try:
                ws = await connect(live_platform.ws_url, ticket=ticket)
            except websockets.InvalidStatus:
                return "refused"
            try:
                return str((await recv(ws))["type"])
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 4401
                return "refused"
            finally:
                await ws.close()

        outcomes = await asyncio.gather(attempt(), attempt())
        assert sorted(outcomes) == ["refused", "welcome"]
        assert await attempt() == "refused"  # and it stays used


async def test_no_token_or_ticket_ever_appears_in_the_server_log(tight_platform: LivePlatform) -> None:
    live = tight_platform
    username, first_key = live.create_user(password=PASSWORD)
    signed_in = live.http.post("/api/v1/auth/token/", json={"username": username, "password": PASSWORD})
    key = signed_in.json()["token"]
    named = live.http.post("/api/v1/tokens/", json={"name": "logged?"}, headers=live.headers(key)).json()
    ticket = live.http.post("/api/v1/ws-tickets/", headers=live.headers(key)).json()["ticket"]
    near_miss = one_char_off(key, -1)
    assert live.http.get("/api/v1/notifications/", headers=live.headers(near_miss)).status_code == 401
    assert live.http.get("/api/v1/notifications/", headers=live.headers(key)).status_code == 200

    for kwargs in ({"ticket": ticket}, {"token": key}, {"ticket": ticket}, {"token": near_miss}):
        try:
            ws = await connect(live.ws_url, **kwargs)
        except websockets.InvalidStatus:
            continue
        try:
            await recv(ws)
        except websockets.ConnectionClosed:
            pass
        finally:
            await ws.close()
    live.http.delete(f"/api/v1/tokens/{named['id']}/", headers=live.headers(key)).raise_for_status()
    await asyncio.sleep(0.3)  # let the server finish writing

    log = live.server.log_path.read_text(errors="replace")
    assert "/api/v1/ws-tickets/" in log and "/ws/notifications/" in log  # the requests were logged
    for secret in (first_key, key, named["key"], near_miss):
        assert secret[len(named["prefix"]) :] not in log
    assert ticket not in log and PASSWORD not in log
