"""In-process protocol tests: the real consumer and the real database through Channels'
WebsocketCommunicator (credentials that need the ORM: aged tickets, session cookies)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.db import connections
from django.test import Client
from django.utils import timezone

from accounts import services as account_services
from accounts.models import WsTicket
from config.asgi import application
from notifications import services
from notifications.hub import get_hub
from notifications.validation import clean_notification_input

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/notifications/"
PASSWORD = "alice-pass-123"


@pytest.fixture(autouse=True)
async def stop_hub() -> AsyncIterator[None]:
    yield
    await get_hub().stop()
    # The consumer's database work ran in asgiref's shared thread: close its connection there,
    # or PostgreSQL refuses to drop the test database.
    await sync_to_async(connections.close_all)()


def communicator(path: str = PATH, **headers: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=[(k.encode(), v.encode()) for k, v in headers.items()])


async def first_output(comm: WebsocketCommunicator) -> dict[str, Any]:
    connected, _ = await comm.connect(timeout=5)
    if not connected:
        return {"type": "websocket.close", "code": None}
    return await comm.receive_output(timeout=5)


async def frame(comm: WebsocketCommunicator) -> dict[str, Any]:
    output = await comm.receive_output(timeout=5)
    assert output["type"] == "websocket.send", output
    return dict(orjson.loads(output["text"]))


def make_user(username: str = "alice", password: str = PASSWORD) -> User:
    return User.objects.create_user(username=username, password=password)


async def assert_refused(comm: WebsocketCommunicator, code: int = 4401) -> None:
    output = await first_output(comm)
    assert output["type"] == "websocket.close" and output.get("code") in (code, None), output
    await comm.disconnect()


async def test_a_fresh_ticket_opens_a_socket_once_and_is_refused_the_second_time() -> None:
    user = await database_sync_to_async(make_user)()
    ticket, _ = await database_sync_to_async(account_services.ticket_create)(user=user)

    comm = communicator(f"{PATH}?ticket={ticket}")
    welcome = orjson.loads((await first_output(comm))["text"])
    assert welcome["type"] == "welcome" and welcome["user"] == "alice"
    await comm.disconnect()

    await assert_refused(communicator(f"{PATH}?ticket={ticket}"))


async def test_an_expired_ticket_is_refused() -> None:
    user = await database_sync_to_async(make_user)()
    ticket, _ = await database_sync_to_async(account_services.ticket_create)(user=user)
    await database_sync_to_async(WsTicket.objects.update)(expires_at=timezone.now() - timedelta(seconds=1))

    await assert_refused(communicator(f"{PATH}?ticket={ticket}"))


async def test_an_unknown_ticket_is_refused() -> None:
    await assert_refused(communicator(f"{PATH}?ticket=not-a-ticket"))


def signed_in_cookie() -> str:
    make_user()
    client = Client()
    assert client.login(username="alice", password=PASSWORD)
    return f"sessionid={client.cookies['sessionid'].value}"


@pytest.mark.parametrize("origin", ["http://localhost", "http://127.0.0.1:8000", "https://localhost:443"])
async def test_a_session_cookie_with_an_allowed_origin_opens_a_socket(origin: str) -> None:
    cookie = await database_sync_to_async(signed_in_cookie)()
    comm = communicator(cookie=cookie, origin=origin)
    welcome = orjson.loads((await first_output(comm))["text"])
    assert welcome["type"] == "welcome" and welcome["user"] == "alice"
    await comm.disconnect()


@pytest.mark.parametrize("origin", ["http://evil.example", "http://localhost.evil.example", "null", ""])
async def test_a_session_cookie_with_a_foreign_origin_is_refused(origin: str) -> None:
    cookie = await database_sync_to_async(signed_in_cookie)()
    await assert_refused(communicator(cookie=cookie, origin=origin))


async def test_a_session_cookie_without_an_origin_is_refused() -> None:
    cookie = await database_sync_to_async(signed_in_cookie)()
    await assert_refused(communicator(cookie=cookie))


async def test_a_signed_out_session_cookie_is_refused() -> None:
    await assert_refused(communicator(cookie="sessionid=nonsense", origin="http://localhost"))


async def test_welcome_reports_last_id_zero_and_no_channels_on_an_empty_system() -> None:
    user = await database_sync_to_async(make_user)()
    _, key = await database_sync_to_async(account_services.token_create)(user=user, name="t")

    comm = communicator(authorization=f"Token {key}")
    welcome = orjson.loads((await first_output(comm))["text"])

    assert welcome == {"type": "welcome", "user": "alice", "channels": [], "last_id": 0}
    await comm.disconnect()


def subscribed_with_history(user: User) -> int:
    owner = User.objects.create_user(username="owner", is_staff=True)
    channels = [services.channel_create(owner=owner, slug=s, name=s) for s in ("b-chan", "a-chan", "c-chan")]
    services.channel_subscribe(channel=channels[0], user=user)
    services.channel_subscribe(channel=channels[1], user=user)
    notification, _ = services.notification_publish(
        sender=owner, channel=channels[2], cleaned=clean_notification_input({"title": "elsewhere"})
    )
    return notification.id


async def test_welcome_lists_current_subscriptions_and_the_newest_id_in_the_system() -> None:
    user = await database_sync_to_async(make_user)()
    _, key = await database_sync_to_async(account_services.token_create)(user=user, name="t")
    newest = await database_sync_to_async(subscribed_with_history)(user)

    comm = communicator(authorization=f"Token {key}")
    welcome = orjson.loads((await first_output(comm))["text"])

    assert welcome["channels"] == ["a-chan", "b-chan"]
    assert welcome["last_id"] == newest  # newest in the system, even from a channel not subscribed
    await comm.disconnect()


async def test_a_text_message_over_64_kib_closes_the_socket_with_1009_even_without_daphnes_limit() -> None:
    user = await database_sync_to_async(make_user)()
    _, key = await database_sync_to_async(account_services.token_create)(user=user, name="t")
    comm = communicator(authorization=f"Token {key}")
    await first_output(comm)

    await comm.send_to(text_data='{"type": "ping"}'.ljust(65536))
    assert await frame(comm) == {"type": "pong"}
    await comm.send_to(text_data='{"type": "ping"}'.ljust(65537))
    assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 1009}
    await comm.disconnect()
