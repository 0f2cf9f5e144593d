"""In-process sockets: Channels' WebsocketCommunicator against the real ASGI application."""

from __future__ import annotations

import json
from typing import Any

from channels.testing import WebsocketCommunicator

from config.asgi import application


async def open_socket(
    token: str, *, query: str = "", headers: list[tuple[bytes, bytes]] | None = None
) -> WebsocketCommunicator:
    """A connected, token-authenticated socket whose `welcome` has not been read yet."""
    path = "/ws/notifications/" + (f"?{query}" if query else "")
    communicator = WebsocketCommunicator(
        application, path, headers=[(b"authorization", f"Token {token}".encode()), *(headers or [])]
    )
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def frame(communicator: WebsocketCommunicator, timeout: float = 5) -> dict[str, Any]:
    return dict(json.loads(await communicator.receive_from(timeout)))


async def frame_of(communicator: WebsocketCommunicator, kind: str, timeout: float = 5) -> dict[str, Any]:
    """Skip frames until one of type `kind`."""
    while True:
        got = await frame(communicator, timeout)
        if got["type"] == kind:
            return got


async def ask(communicator: WebsocketCommunicator, message: dict[str, Any] | str, timeout: float = 5) -> dict[str, Any]:
    """Send one frame and return the next frame that is not a notification or count update."""
    await communicator.send_to(text_data=message if isinstance(message, str) else json.dumps(message))
    while True:
        got = await frame(communicator, timeout)
        if got["type"] not in ("notification", "unread_count"):
            return got
