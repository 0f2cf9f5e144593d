"""Wire format of notifications: built once per notification, shared by REST, replay and push."""

from datetime import datetime
from typing import Any, Literal, TypedDict

import orjson

from notifications.models import Notification

Level = Literal["info", "success", "warning", "error"]


class NotificationPayload(TypedDict):
    id: int
    channel: str | None
    title: str
    body: str
    level: Level
    data: dict[str, Any]
    created_at: str


def iso(dt: datetime) -> str:
    """UTC ISO 8601 with a trailing Z, as the REST API renders datetimes."""
    return dt.isoformat().replace("+00:00", "Z")


def notification_payload(n: Notification, *, channel_slug: str | None = None) -> NotificationPayload:
    slug = channel_slug if channel_slug is not None else (n.channel.slug if n.channel_id else None)
    return {
        "id": n.id,
        "channel": slug,
        "title": n.title,
        "body": n.body,
        "level": n.level,  # type: ignore[typeddict-item]
        "data": n.data,
        "created_at": iso(n.created_at),
    }


def notification_frame(payload: NotificationPayload) -> str:
    """The WebSocket text frame of a notification, serialised once and sent to every socket."""
    return orjson.dumps({"type": "notification", **payload}).decode()


def frame(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


def compact_json_size(value: Any) -> int:
    """Size in bytes of `value` as compact UTF-8 JSON (the SPEC's measure for `data`)."""
    return len(orjson.dumps(value))
