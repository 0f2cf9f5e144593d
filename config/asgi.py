"""ASGI entry point: HTTP through Django, WebSockets through the notification consumer.

Served by Daphne (see README and docs/deployment.md for the flags that matter:
--websocket-max-message-size 65536 makes Daphne close over-large messages with 1009).
"""

import gc
import os
import sys
from collections.abc import Awaitable
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from channels.sessions import SessionMiddlewareStack  # noqa: E402
from django.conf import settings  # noqa: E402

from config.logs import ConnectionIdMiddleware  # noqa: E402
from notifications.events import SendEventsAfterResponse  # noqa: E402
from notifications.routing import websocket_router  # noqa: E402


def close_oversized_messages_with_1009() -> None:
    """SPEC: a message over 64 KiB closes the socket with 1009. Daphne's WebSocket factory
    (autobahn) keeps `failByDrop` on, so it would drop the TCP connection without a close
    frame; with it off, autobahn sends the close frame (1009) and then closes. Applied only
    when Daphne is the server (its modules are then already loaded; importing them here
    would install a Twisted reactor under other servers)."""
    ws_protocol = sys.modules.get("daphne.ws_protocol")
    if ws_protocol is None or getattr(ws_protocol.WebSocketFactory, "_herald_clean_close", False):
        return
    factory = ws_protocol.WebSocketFactory
    reset = factory.resetProtocolOptions

    def reset_protocol_options(self: object) -> None:
        reset(self)
        self.failByDrop = False  # type: ignore[attr-defined]

    factory.resetProtocolOptions = reset_protocol_options
    factory._herald_clean_close = True


close_oversized_messages_with_1009()


def tune_garbage_collector() -> None:
    """Move everything loaded at start-up (Django, the apps, their modules: most of the
    heap) out of the collector's reach, and keep each collection short. Full collections
    otherwise walk that whole heap and stall the event loop, which showed as the tail of
    publish and delivery latency (docs/performance.md).

    Thresholds: every request leaves about 200 objects of cyclic garbage (Django's
    per-thread database wrapper, its aborted-disconnect exception, session and message
    storages), and what is alive at a young collection is promoted. A young generation of
    10,000 made each young collection 3-5 ms and each middle one ~50 ms (steady e2e max
    ~140 ms); 2,000 and 10 keep them near 1 and 10 ms (max ~65 ms), for the same total
    work. Measured with bench fanout_1k, two runs each."""
    if os.environ.get("HERALD_GC_TUNING", "1") == "0":
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(2_000, 10, 20)


tune_garbage_collector()


class SessionForCookieSockets:
    """Channels' session middleware, only for sockets that carry the session cookie.

    Token and ticket clients (nearly every socket of a busy server) then skip its
    per-connection objects and scope copies: less memory per idle connection."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.with_session = SessionMiddlewareStack(inner)
        self.cookie_name = settings.SESSION_COOKIE_NAME.encode("latin-1")

    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
        # A plain function returning the inner coroutine: an `async def` here would stay
        # suspended for each socket's whole life (see notifications.routing).
        for name, value in scope.get("headers", ()):
            if name == b"cookie" and self.cookie_name in value:
                return self.with_session(scope, receive, send)  # type: ignore[no-any-return]
        return self.inner(scope, receive, send)  # type: ignore[no-any-return]


application = ProtocolTypeRouter(
    {
        "http": SendEventsAfterResponse(django_asgi_app),
        # Session only (no AuthMiddleware): the consumer resolves the user itself, and only
        # for cookie clients, after checking Origin. Token and ticket clients skip that work.
        "websocket": ConnectionIdMiddleware(SessionForCookieSockets(websocket_router)),
    }
)
