"""What each client frame type does. Each action validates, calls a service, answers."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async

from notifications import selectors, services
from notifications.exceptions import Forbidden, Invalid, NotFound
from notifications.models import SLUG_RE
from notifications.validation import ALLOWED_FIELDS, clean_notification_input

if TYPE_CHECKING:
    from notifications.consumers import NotificationConsumer

SLUG_PATTERN = re.compile(SLUG_RE)

Action = Callable[["NotificationConsumer", dict[str, Any]], Awaitable[None]]


def _slug(payload: dict[str, Any]) -> str:
    slug = payload.get("channel")
    if not isinstance(slug, str) or not slug:
        raise Invalid("'channel' must be a channel slug.", "channel")
    if not SLUG_PATTERN.match(slug):
        # No channel can have this slug (and NUL would make PostgreSQL fail): unknown channel.
        raise NotFound("Channel not found.")
    return slug


def _int(payload: dict[str, Any], field: str) -> int:
    value = payload.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value >= 2**63:
        raise Invalid(f"'{field}' must be a non-negative integer.", field)
    return value


def _subscribe(user: Any, slug: str) -> bool:
    channel = selectors.channel_get(user=user, slug=slug)
    if not selectors.channel_can_self_subscribe(channel=channel, user=user):
        raise Forbidden("Only the channel's owner or staff can add subscribers to this private channel.")
    return services.channel_subscribe(channel=channel, user=user)


def _unsubscribe(user: Any, slug: str) -> bool:
    channel = selectors.channel_get(user=user, slug=slug)
    return services.channel_unsubscribe(channel=channel, user=user)


async def subscribe(consumer: NotificationConsumer, payload: dict[str, Any]) -> None:
    slug = _slug(payload)
    changed = await database_sync_to_async(_subscribe)(consumer.user, slug)
    if not changed:  # a change reaches every socket of the user through the hub instead
        await consumer.send_frame({"type": "subscribed", "channel": slug})


async def unsubscribe(consumer: NotificationConsumer, payload: dict[str, Any]) -> None:
    slug = _slug(payload)
    changed = await database_sync_to_async(_unsubscribe)(consumer.user, slug)
    if not changed:
        await consumer.send_frame({"type": "unsubscribed", "channel": slug})


async def resume(consumer: NotificationConsumer, payload: dict[str, Any]) -> None:
    await consumer.resume(_int(payload, "since"))


async def read(consumer: NotificationConsumer, payload: dict[str, Any]) -> None:
    # The new unread count reaches every socket of the user (this one too) through the hub.
    if payload.get("all") is True:
        await database_sync_to_async(services.notification_mark_all_read)(user=consumer.user)
        return
    if "all" in payload and payload["all"] is not False:
        raise Invalid("'all' must be true.", "all")
    notification_id = _int(payload, "id")
    await database_sync_to_async(services.notification_mark_read)(user=consumer.user, notification_id=notification_id)


def _publish(user: Any, payload: dict[str, Any]) -> int:
    slug = _slug(payload)
    unknown = set(payload) - ALLOWED_FIELDS - {"type", "channel"}
    if unknown:
        raise Invalid(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    cleaned = clean_notification_input({k: v for k, v in payload.items() if k in ALLOWED_FIELDS})
    channel = selectors.channel_get(user=user, slug=slug, counts=False)
    if not selectors.channel_can_publish(channel=channel, user=user):
        raise Forbidden("You may not publish to this channel.")
    notification, _ = services.notification_publish(sender=user, channel=channel, cleaned=cleaned)
    return notification.id


async def publish(consumer: NotificationConsumer, payload: dict[str, Any]) -> None:
    notification_id = await database_sync_to_async(_publish)(consumer.user, payload)
    await consumer.send_frame({"type": "published", "id": notification_id})


async def ping(consumer: NotificationConsumer, payload: dict[str, Any]) -> None:
    await consumer.send_frame({"type": "pong"})


ACTIONS: dict[str, Action] = {
    "subscribe": subscribe,
    "unsubscribe": unsubscribe,
    "resume": resume,
    "read": read,
    "publish": publish,
    "ping": ping,
}

__all__ = ["ACTIONS", "NotFound"]
