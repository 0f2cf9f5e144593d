"""ASGI entry point: HTTP through Django, WebSockets through the notification consumer.

Served by Daphne (see README and docs/deployment.md for the flags that matter:
--websocket-max-message-size 65536 makes Daphne close over-large messages with 1009).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import SessionMiddlewareStack  # noqa: E402

from config.logs import ConnectionIdMiddleware  # noqa: E402
from notifications.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Session only (no AuthMiddleware): the consumer resolves the user itself, and only
        # for cookie clients, after checking Origin. Token and ticket clients skip that work.
        "websocket": ConnectionIdMiddleware(SessionMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
