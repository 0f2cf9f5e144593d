"""A small WebSocket test client on top of `websockets`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection


async def connect(
    ws_url: str,
    token: str | None = None,
    *,
    since: int | None = None,
    ticket: str | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> ClientConnection:
    query = []
    if since is not None:
        query.append(f"since={since}")
    if ticket is not None:
        query.append(f"ticket={ticket}")
    url = ws_url + ("?" + "&".join(query) if query else "")
    extra = dict(headers or {})
    if token:
        extra["Authorization"] = f"Token {token}"
    return await websockets.connect(url, additional_headers=extra, max_size=None, **kwargs)


async def recv(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


async def recv_until(ws: ClientConnection, kind: str, timeout: float = 5) -> dict[str, Any]:
    """Skip frames until one of type `kind` arrives."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await recv(ws, max(0.01, deadline - loop.time()))
        if frame["type"] == kind:
            return frame


async def collect(ws: ClientConnection, kind: str, count: int, timeout: float = 10) -> list[dict[str, Any]]:
    """The next `count` frames of type `kind` (others are skipped)."""
    got: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(got) < count:
        frame = await recv(ws, max(0.01, deadline - loop.time()))
        if frame["type"] == kind:
            got.append(frame)
    return got


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))
