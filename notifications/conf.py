"""The one accessor for Herald's tunables (settings.HERALD), with defaults."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "WS_MAX_MESSAGE_BYTES": 64 * 1024,
    "TITLE_MAX": 200,
    "BODY_MAX": 4000,
    "DATA_MAX_BYTES": 16 * 1024,
    "TICKET_TTL_SECONDS": 60,
    "IDEMPOTENCY_TTL_HOURS": 24,
    "SOCKET_FRAME_RATE": 20.0,
    "SOCKET_FRAME_BURST": 60,
    "MAX_CONNECTIONS_PER_USER": 100,
    "SOCKET_QUEUE_LIMIT": 5000,
    "SOCKET_BACKLOG_BYTES": 4 * 1024 * 1024,
    "FANOUT_CHUNK": 500,
    "HUB_GAP_WAIT": 0.2,
    "HUB_POLL_INTERVAL": 1.0,
    "HUB_REGROUP_INTERVAL": 15.0,
    "TOKEN_TOUCH_SECONDS": 60,
    "PRESENCE_INTERVAL": 5.0,
}


def herald_setting(name: str) -> Any:
    if name not in DEFAULTS:
        raise KeyError(f"Unknown Herald setting {name!r}")
    return getattr(settings, "HERALD", {}).get(name, DEFAULTS[name])
