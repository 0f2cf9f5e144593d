"""Writes. Every change that alters an inbox takes the next sequence number first.

`_next_seq()` increments the single `StreamSequence` row and holds its lock until the
transaction ends. Publishers, subscription changes and channel deletions therefore commit
one after another in sequence order, which is what makes ids *become visible* in order:
when a hub has seen seq N, everything below N is already committed (or was rolled back,
in which case the increment was rolled back too, so no gap is left behind).
"""

import hashlib
from datetime import timedelta
from typing import Any

import orjson
from django.contrib.auth.models import AbstractBaseUser, User
from django.db import connection, transaction
from django.utils import timezone

from notifications import events, metrics
from notifications.conf import herald_setting
from notifications.exceptions import Conflict, NotFound
from notifications.models import (
    Channel,
    IdempotencyKey,
    Notification,
    ReadMark,
    ReadState,
    StreamSequence,
    Subscription,
)
from notifications.selectors import inbox_queryset, notification_unread_count
from notifications.serialization import notification_frame, notification_payload
from notifications.validation import NotificationInput


class _Unchanged(Exception):
    """Rolls back a transaction that turned out to change nothing (and its sequence number)."""

    def __init__(self, result: Any = None) -> None:
        self.result = result


def _next_seq() -> int:
    table = StreamSequence._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET value = value + 1 WHERE id = 1 RETURNING value")
        row = cursor.fetchone()
    if row is None:  # first use on a database created without the data migration
        StreamSequence.objects.get_or_create(id=1)
        return _next_seq()
    return int(row[0])


def sequence_value() -> int:
    """The newest committed sequence number (no lock)."""
    return StreamSequence.objects.filter(id=1).values_list("value", flat=True).first() or 0


# --- Channels ---------------------------------------------------------------------------


@transaction.atomic
def channel_create(
    *,
    owner: User,
    slug: str,
    name: str,
    description: str = "",
    visibility: str = Channel.PUBLIC,
    publishers: list[User] | None = None,
) -> Channel:
    if Channel.objects.filter(slug=slug).exists():
        raise Conflict(f"A channel with slug {slug!r} already exists.")
    channel = Channel.objects.create(owner=owner, slug=slug, name=name, description=description, visibility=visibility)
    if publishers:
        channel.publishers.set(publishers)
    return channel


@transaction.atomic
def channel_update(*, channel: Channel, fields: dict[str, Any], publishers: list[User] | None = None) -> Channel:
    for name, value in fields.items():
        setattr(channel, name, value)
    if fields:
        channel.save(update_fields=list(fields))
    if publishers is not None:
        channel.publishers.set(publishers)
    return channel


@transaction.atomic
def channel_delete(*, channel: Channel) -> None:
    """Delete a channel with its history; subscribers' open sockets get `unsubscribed`."""
    seq = _next_seq()
    user_ids = list(Subscription.objects.active().filter(channel=channel).values_list("user_id", flat=True))
    channel_id, slug = channel.id, channel.slug
    # Read marks and idempotency keys go with their notifications (CASCADE).
    Notification.objects.filter(channel=channel).delete()
    channel.delete()
    events.broadcast_on_commit(
        events.subscription_event(seq=seq, kind="unsub", channel_id=channel_id, slug=slug, user_ids=user_ids)
    )


# --- Subscriptions ----------------------------------------------------------------------


def channel_subscribe(*, channel: Channel, user: AbstractBaseUser) -> bool:
    """Subscribe `user`; False when already subscribed (nothing changes, nothing is pushed)."""
    return channel_subscribe_many(channel=channel, users=[user]) == 1


def channel_subscribe_many(*, channel: Channel, users: list[Any]) -> int:
    """Subscribe every user not yet subscribed, in one transaction; returns how many were new."""
    try:
        with transaction.atomic():
            seq = _next_seq()
            wanted = {u.pk for u in users}
            already = set(
                Subscription.objects.active()
                .filter(channel=channel, user_id__in=wanted)
                .values_list("user_id", flat=True)
            )
            new_ids = sorted(wanted - already)
            if not new_ids:
                raise _Unchanged(0)
            Subscription.objects.bulk_create(
                [Subscription(user_id=uid, channel=channel, started_seq=seq) for uid in new_ids], batch_size=1000
            )
            events.broadcast_on_commit(
                events.subscription_event(
                    seq=seq, kind="sub", channel_id=channel.id, slug=channel.slug, user_ids=new_ids
                )
            )
            return len(new_ids)
    except _Unchanged as unchanged:
        return int(unchanged.result)


def channel_unsubscribe(*, channel: Channel, user: AbstractBaseUser) -> bool:
    """End `user`'s subscription; what is already in the inbox stays. False when not subscribed."""
    try:
        with transaction.atomic():
            seq = _next_seq()
            ended = Subscription.objects.active().filter(channel=channel, user_id=user.pk).update(ended_seq=seq)
            if not ended:
                raise _Unchanged(False)
            events.broadcast_on_commit(
                events.subscription_event(
                    seq=seq, kind="unsub", channel_id=channel.id, slug=channel.slug, user_ids=[user.pk]
                )
            )
            return True
    except _Unchanged:
        return False


# --- Publishing -------------------------------------------------------------------------


def _fingerprint(target: str, cleaned: NotificationInput) -> str:
    canonical = orjson.dumps({"target": target, **cleaned}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def notification_publish(
    *,
    sender: User,
    cleaned: NotificationInput,
    channel: Channel | None = None,
    recipient: User | None = None,
    idempotency_key: str | None = None,
) -> tuple[Notification, bool]:
    """Store a notification and fan it out after commit. Returns (notification, created).

    With an idempotency key seen in the last 24 h for the same target and body, returns the
    first notification and creates nothing; a different target or body raises Conflict.
    """
    if (channel is None) == (recipient is None):
        raise ValueError("exactly one of channel and recipient")
    target = f"channel:{channel.slug}" if channel else f"user:{recipient.pk}"  # type: ignore[union-attr]
    fingerprint = _fingerprint(target, cleaned) if idempotency_key else ""
    try:
        with transaction.atomic():
            seq = _next_seq()  # from here on, publishers of every process queue behind us
            if idempotency_key:
                _claim_idempotency_key(user=sender, key=idempotency_key, fingerprint=fingerprint)
            now = timezone.now()
            notification = Notification.objects.create(
                id=seq, channel=channel, recipient=recipient, sender=sender, created_at=now, **cleaned
            )
            if idempotency_key:
                IdempotencyKey.objects.create(
                    user=sender, key=idempotency_key, fingerprint=fingerprint, notification=notification
                )
            payload = notification_payload(notification, channel_slug=channel.slug if channel else None)
            events.broadcast_on_commit(
                events.notification_event(
                    seq=seq,
                    channel_id=channel.id if channel else None,
                    user_id=recipient.pk if recipient else None,
                    frame=notification_frame(payload),
                )
            )
    except _Unchanged as replay:
        return replay.result, False
    metrics.PUBLISHED.labels(kind="channel" if channel else "direct").inc()
    return notification, True


def _claim_idempotency_key(*, user: User, key: str, fingerprint: str) -> None:
    ttl = timedelta(hours=herald_setting("IDEMPOTENCY_TTL_HOURS"))
    existing = IdempotencyKey.objects.filter(user=user, key=key).select_related("notification").first()
    if existing is None:
        return
    if existing.created_at < timezone.now() - ttl or existing.notification is None:
        existing.delete()  # expired (or its channel was deleted): the key is free again
        return
    if existing.fingerprint != fingerprint:
        raise Conflict("This Idempotency-Key was already used with a different request.")
    raise _Unchanged(existing.notification)


def idempotency_keys_prune() -> int:
    cutoff = timezone.now() - timedelta(hours=herald_setting("IDEMPOTENCY_TTL_HOURS"))
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


# --- Read state -------------------------------------------------------------------------


def notification_mark_read(*, user: User, notification_id: int) -> int:
    """Mark one inbox notification read; returns the new unread count."""
    with transaction.atomic():
        if not inbox_queryset(user=user).filter(id=notification_id).exists():
            raise NotFound("No such notification in your inbox.")
        state, _ = ReadState.objects.get_or_create(user=user)
        if notification_id > state.read_upto:
            ReadMark.objects.get_or_create(user=user, notification_id=notification_id)
        unread = notification_unread_count(user=user)
        events.broadcast_on_commit(events.unread_event(user_id=user.pk, unread=unread))
    return unread


def notification_mark_all_read(*, user: User) -> int:
    """Mark everything in the inbox read (up to the newest committed id); returns unread count."""
    with transaction.atomic():
        upto = sequence_value()
        ReadState.objects.update_or_create(user=user, defaults={"read_upto": upto})
        ReadMark.objects.filter(user=user, notification_id__lte=upto).delete()
        unread = notification_unread_count(user=user)
        events.broadcast_on_commit(events.unread_event(user_id=user.pk, unread=unread))
    return unread


# --- Retention --------------------------------------------------------------------------


def notifications_prune(*, older_than: timedelta) -> int:
    """Delete notifications older than `older_than` and remember the newest pruned id, so that
    a replay asking for that range answers `replay_unavailable` instead of silently skipping."""
    cutoff = timezone.now() - older_than
    with transaction.atomic():
        doomed = Notification.objects.filter(created_at__lt=cutoff)
        newest = doomed.order_by("-id").values_list("id", flat=True).first()
        if newest is None:
            transaction.set_rollback(True)  # give the sequence number back
            return 0
        deleted, _ = doomed.delete()
        StreamSequence.objects.filter(id=1, pruned_upto__lt=newest).update(pruned_upto=newest)
    idempotency_keys_prune()
    return deleted
