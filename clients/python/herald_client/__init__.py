"""Python client for Herald: REST publishers (`Client`, `AsyncClient`) and a WebSocket `Listener`."""

from herald_client._version import __version__
from herald_client.backoff import Backoff
from herald_client.client import AsyncClient, Client
from herald_client.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    HeraldError,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)
from herald_client.listener import Listener
from herald_client.types import Channel, InboxItem, Level, Notification, Token, Welcome

__all__ = [
    "AsyncClient",
    "Backoff",
    "BadRequest",
    "Channel",
    "Client",
    "Conflict",
    "Forbidden",
    "HeraldError",
    "InboxItem",
    "Level",
    "Listener",
    "NotFound",
    "Notification",
    "PayloadTooLarge",
    "RateLimited",
    "ServerError",
    "Token",
    "TransportError",
    "Unauthorized",
    "Welcome",
    "__version__",
]
