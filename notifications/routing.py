"""WebSocket routes. One exact path, so no URL resolver: Channels' URLRouter copies the scope
(plus a `url_route` dict) for every connection, which a busy server pays per idle socket.

The router and the consumer's entry point are plain functions returning the consumer's
coroutine, not coroutines awaiting it: every `async def` level between the server and the
consumer stays suspended for the socket's whole life, one more object per idle socket."""

from collections.abc import Awaitable
from typing import Any

from notifications.consumers import NotificationConsumer

WEBSOCKET_PATH = "/ws/notifications/"


class WebSocketRouter:
    """Route sockets by exact path; anything else is refused like URLRouter does."""

    def __init__(self, routes: dict[str, Any]) -> None:
        self.routes = routes

    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
        path = scope.get("path", "")
        app = self.routes.get(path if path.startswith("/") else "/" + path)
        if app is None:
            raise ValueError(f"No route found for path {scope.get('path')!r}.")
        return app(scope, receive, send)  # type: ignore[no-any-return]


def notification_socket(scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
    """`NotificationConsumer.as_asgi()` without the coroutine that as_asgi wraps around it."""
    return NotificationConsumer()(scope, receive, send)


websocket_router = WebSocketRouter({WEBSOCKET_PATH: notification_socket})
