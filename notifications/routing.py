"""WebSocket routes. One exact path, so no URL resolver: Channels' URLRouter copies the scope
(plus a `url_route` dict) for every connection, which a busy server pays per idle socket."""

from typing import Any

from notifications.consumers import NotificationConsumer

WEBSOCKET_PATH = "/ws/notifications/"


class WebSocketRouter:
    """Route sockets by exact path; anything else is refused like URLRouter does."""

    def __init__(self, routes: dict[str, Any]) -> None:
        self.routes = routes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        app = self.routes.get(path if path.startswith("/") else "/" + path)
        if app is None:
            raise ValueError(f"No route found for path {scope.get('path')!r}.")
        await app(scope, receive, send)


websocket_router = WebSocketRouter({WEBSOCKET_PATH: NotificationConsumer.as_asgi()})
