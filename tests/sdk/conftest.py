"""Fixtures for the herald_client tests: everything runs against the real `live_platform` server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from herald_client import Backoff, Client

from tests.support.live import LivePlatform, ServerProcess

# Short pauses: the tests exercise the retry paths, not the patience of the suite.
FAST = Backoff(initial=0.05, maximum=0.5)


@dataclass
class Member:
    """A plain user subscribed to `channel`, which staff may publish to."""

    username: str
    token: str
    channel: str


@pytest.fixture
def member(live_platform: LivePlatform) -> Member:
    username, token = live_platform.create_user()
    channel = live_platform.create_channel()
    live_platform.subscribe(channel, token)
    return Member(username, token, channel)


@pytest.fixture
def staff(live_platform: LivePlatform) -> Iterator[Client]:
    with Client(live_platform.url, live_platform.staff_token, backoff=FAST) as client:
        yield client


@pytest.fixture
def server_up(live_platform: LivePlatform) -> Iterator[LivePlatform]:
    """For tests that stop the shared server: make sure it is running again afterwards."""
    yield live_platform
    proc = live_platform.server.proc
    if proc is None or proc.poll() is not None:
        live_platform.start()


@pytest.fixture
def throttled_server(live_platform: LivePlatform) -> Iterator[ServerProcess]:
    """A second process on the same database that allows 2 publishes per second per token."""
    server = live_platform.platform.start_server(HERALD_PUBLISH_RATE="2/s")
    yield server
    server.stop()


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Faulty(httpx.HTTPTransport):
    """Forwards every request to the real server, then, for the first `lose` POSTs, throws the answer
    away: as a ReadError (the connection dropped after the server acted) or as a 503 in its place."""

    def __init__(self, *, lose: int = 1, as_status: int | None = None) -> None:
        super().__init__()
        self.lose, self.as_status = lose, as_status
        self.sent: list[tuple[str, str | None, int]] = []  # (method, Idempotency-Key, real status)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        response.read()
        self.sent.append((request.method, request.headers.get("Idempotency-Key"), response.status_code))
        if request.method == "POST" and self.lose > 0:
            self.lose -= 1
            if self.as_status is None:
                raise httpx.ReadError("connection reset after the request was sent", request=request)
            return httpx.Response(self.as_status, json={"detail": "injected"}, request=request)
        return response


class AsyncFaulty(httpx.AsyncHTTPTransport):
    """The async twin of `Faulty`."""

    def __init__(self, *, lose: int = 1, as_status: int | None = None) -> None:
        super().__init__()
        self.lose, self.as_status = lose, as_status
        self.sent: list[tuple[str, str | None, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        await response.aread()
        self.sent.append((request.method, request.headers.get("Idempotency-Key"), response.status_code))
        if request.method == "POST" and self.lose > 0:
            self.lose -= 1
            if self.as_status is None:
                raise httpx.ReadError("connection reset after the request was sent", request=request)
            return httpx.Response(self.as_status, json={"detail": "injected"}, request=request)
        return response


def history_ids(client: Client, channel: str) -> list[int]:
    return [n["id"] for n in client.history(channel, limit=500)]


def titles(items: list[Any]) -> list[str]:
    return [item["title"] for item in items]
