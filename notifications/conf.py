"""The one accessor for Herald's tunables (settings.HERALD), with defaults."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "WS_MAX_MESSAGE_BYTES": 64 * 1024,  # a larger client message closes the socket (1009)
    "TITLE_MAX": 200,
    "BODY_MAX": 4000,
    "DATA_MAX_BYTES": 16 * 1024,  # `data` as compact UTF-8 JSON
    "TICKET_TTL_SECONDS": 60,
    "IDEMPOTENCY_TTL_HOURS": 24,
    "SOCKET_FRAME_RATE": 20.0,  # client frames per second per socket
    "SOCKET_FRAME_BURST": 60,
    "MAX_CONNECTIONS_PER_USER": 100,  # open sockets per user per process (4429 beyond)
    "SOCKET_QUEUE_LIMIT": 5000,  # frames queued for a socket before 4408 (servers whose send waits)
    "SOCKET_BACKLOG_BYTES": 4 * 1024 * 1024,  # unread bytes in the transport before 4408 (Daphne)
    "FANOUT_CHUNK": 500,  # sockets served between two yields to the event loop
    "HUB_GAP_WAIT": 0.2,  # seconds a missing seq may be late before it is read from the db
    "HUB_POLL_INTERVAL": 1.0,  # seconds between two reads of the sequence (tail losses)
    "HUB_REGROUP_INTERVAL": 15.0,  # seconds between two joins of the hub group
    "TOKEN_TOUCH_SECONDS": 60,  # last_used_at is written at most this often
    "PRESENCE_INTERVAL": 5.0,  # seconds between two publications of live connection counts
}


def herald_setting(name: str) -> Any:
    if name not in DEFAULTS:
        raise KeyError(f"Unknown Herald setting {name!r}")
    return getattr(settings, "HERALD", {}).get(name, DEFAULTS[name])
