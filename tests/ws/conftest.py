"""Fixtures and helpers for WebSocket protocol tests (SPEC.md, "WebSocket")."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.support.live import LivePlatform, Platform
from tests.support.ws import connect, recv

REDIS_URL = "redis://127.0.0.1:6379/0"


async def refused_code(ws_url: str, token: str | None = None, **kwargs: Any) -> int | None:
    """Try to open a socket that must be refused: the close code (no data frame may come
    first), or None when the handshake itself was rejected."""
    try:
        ws = await connect(ws_url, token, **kwargs)
    except websockets.InvalidStatus:
        return None
    try:
        frame = await asyncio.wait_for(ws.recv(), 5)
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is not None
        return closed.rcvd.code
    raise AssertionError(f"refused socket received data: {frame!r}")


async def welcomed(ws_url: str, token: str | None = None, **kwargs: Any) -> tuple[ClientConnection, dict[str, Any]]:
    ws = await connect(ws_url, token, **kwargs)
    welcome = await recv(ws)
    assert welcome["type"] == "welcome", welcome
    return ws, welcome


async def expect_quiet(ws: ClientConnection, seconds: float = 0.3) -> None:
    """Nothing arrives on `ws` for a moment."""
    try:
        frame = await asyncio.wait_for(ws.recv(), seconds)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected frame: {frame!r}")


async def send_raw(ws: ClientConnection, data: str | bytes) -> None:
    await ws.send(data)


def dumps(message: Any) -> str:
    return json.dumps(message)


@pytest.fixture
def live(live_platform: LivePlatform) -> LivePlatform:
    return live_platform


@pytest.fixture(scope="session")
def limited_live() -> Iterator[LivePlatform]:
    """A server with tight socket limits: 1 frame/s with a burst of 3, two sockets per user."""
    platform = Platform()
    server = platform.start_server(
        HERALD_SOCKET_FRAME_RATE="1", HERALD_SOCKET_FRAME_BURST="3", HERALD_MAX_CONNECTIONS_PER_USER="2"
    )
    yield LivePlatform(platform, server)
    platform.close()


@pytest.fixture(scope="session")
def cluster() -> Iterator[Platform]:
    """One database and one Redis shared by two Daphne processes (as in production)."""
    platform = Platform(redis_urls=[REDIS_URL])
    platform.start_server()
    platform.start_server()
    yield platform
    platform.close()


@pytest.fixture
async def closing() -> AsyncIterator[list[ClientConnection]]:
    """Sockets appended here are closed after the test."""
    sockets: list[ClientConnection] = []
    yield sockets
    for ws in sockets:
        await ws.close()
