"""Reads: visibility, permissions, inboxes, history and replay."""

import re
from collections.abc import Iterator

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import BigIntegerField, Count, Exists, OuterRef, Q, QuerySet, Value

from notifications.exceptions import NotFound
from notifications.models import SLUG_RE, Channel, Notification, ReadMark, ReadState, StreamSequence, Subscription

AnyUser = User | AnonymousUser


def _visible_q(user: User) -> Q:
    return (
        Q(visibility=Channel.PUBLIC)
        | Q(owner=user)
        | Q(publishers=user)
        | Q(subscriptions__user=user, subscriptions__ended_seq__isnull=True)
    )


def channel_list(*, user: User) -> QuerySet[Channel]:
    """Channels the user may see, each annotated with `subscriber_count` and `is_subscribed`."""
    qs = Channel.objects.all()
    if not user.is_staff:
        qs = qs.filter(id__in=Channel.objects.filter(_visible_q(user)).values("id"))
    active = Subscription.objects.filter(channel=OuterRef("pk"), ended_seq__isnull=True)
    return (
        qs.annotate(
            subscriber_count=Count("subscriptions", filter=Q(subscriptions__ended_seq__isnull=True), distinct=True),
            is_subscribed=Exists(active.filter(user=user)),
        )
        .select_related("owner")
        .prefetch_related("publishers")
        .order_by("slug")
    )


def channel_get(*, user: User, slug: str, counts: bool = True) -> Channel:
    """A channel the user may see; anything else is NotFound, as if it did not exist.
    `counts=False` skips `subscriber_count`/`is_subscribed` (a count over every subscriber:
    publishing must not cost more on a channel with more subscribers)."""
    if not re.match(SLUG_RE, slug):  # also keeps NUL and the like away from the database
        raise NotFound("Channel not found.")
    try:
        if not counts:
            visible = Channel.objects.all() if user.is_staff else Channel.objects.filter(_visible_q(user))
            return visible.distinct().get(slug=slug)
        return channel_list(user=user).get(slug=slug)
    except Channel.DoesNotExist:
        raise NotFound("Channel not found.") from None


def channel_can_publish(*, channel: Channel, user: User) -> bool:
    if user.is_staff or channel.owner_id == user.pk:
        return True
    return channel.publishers.filter(pk=user.pk).exists()


def channel_can_manage(*, channel: Channel, user: User) -> bool:
    """Owner and staff change, delete, and add or remove other subscribers."""
    return user.is_staff or channel.owner_id == user.pk


def channel_can_self_subscribe(*, channel: Channel, user: User) -> bool:
    return channel.visibility == Channel.PUBLIC or channel_can_manage(channel=channel, user=user)


def channel_history(*, channel: Channel, after: int, limit: int) -> list[Notification]:
    return list(Notification.objects.filter(channel=channel, id__gt=after).order_by("id")[:limit])


def channel_recent(*, channel: Channel, limit: int = 20) -> list[Notification]:
    """The channel's newest notifications, newest first."""
    return list(Notification.objects.filter(channel=channel).order_by("-id")[:limit])


def channel_publishable_list(*, user: User) -> QuerySet[Channel]:
    """Channels the user may publish to: staff all, others those they own or publish to."""
    qs = Channel.objects.order_by("slug")
    if user.is_staff:
        return qs
    return qs.filter(id__in=Channel.objects.filter(Q(owner=user) | Q(publishers=user)).values("id"))


def user_can_create_channels(*, user: User) -> bool:
    return bool(user.is_staff or user.has_perm("notifications.add_channel"))


# --- Inbox -----------------------------------------------------------------------------


def inbox_queryset(*, user: User) -> QuerySet[Notification]:
    """The user's inbox: channel notifications inside one of their subscription intervals,
    plus direct notifications. No per-subscriber rows exist; this is computed on read."""
    interval = Subscription.objects.filter(
        user_id=user.pk, channel_id=OuterRef("channel_id"), started_seq__lt=OuterRef("id")
    ).filter(Q(ended_seq__isnull=True) | Q(ended_seq__gt=OuterRef("id")))
    channel_ids = Subscription.objects.filter(user_id=user.pk).values("channel_id")
    return Notification.objects.filter(Q(recipient_id=user.pk) | (Q(channel_id__in=channel_ids) & Exists(interval)))


def _read_upto(user: User) -> int:
    return ReadState.objects.filter(user_id=user.pk).values_list("read_upto", flat=True).first() or 0


def inbox_with_read_flags(*, user: User) -> QuerySet[Notification]:
    upto = _read_upto(user)
    marked = ReadMark.objects.filter(user_id=user.pk, notification_id=OuterRef("id"))
    return (
        inbox_queryset(user=user)
        .select_related("channel")
        .annotate(is_marked=Exists(marked))
        .annotate(read_upto=Value(upto, output_field=BigIntegerField()))
    )


def inbox_unread_only(qs: QuerySet[Notification], *, user: User) -> QuerySet[Notification]:
    """Narrow an `inbox_with_read_flags` queryset to unread notifications."""
    return qs.filter(id__gt=_read_upto(user), is_marked=False)


def notification_is_read(n: Notification) -> bool:
    return bool(n.id <= int(n.read_upto) or n.is_marked)  # type: ignore[attr-defined]


def notification_unread_count(*, user: User, upto: int | None = None) -> int:
    """Unread inbox notifications; with `upto`, only those with id <= upto (a page's snapshot)."""
    read_upto = _read_upto(user)
    marked = ReadMark.objects.filter(user_id=user.pk, notification_id=OuterRef("id"))
    qs = inbox_queryset(user=user).filter(id__gt=read_upto)
    if upto is not None:
        qs = qs.filter(id__lte=upto)
    return qs.exclude(Exists(marked)).count()


def inbox_page(
    *,
    user: User,
    channel: str | None = None,
    unread: bool = False,
    before: int | None = None,
    upto: int | None = None,
    limit: int = 50,
) -> list[Notification]:
    """One page of the inbox, newest first, with read flags (see `notification_is_read`)."""
    qs = inbox_with_read_flags(user=user)
    if channel:
        qs = qs.filter(channel__slug=channel)
    if unread:
        qs = inbox_unread_only(qs, user=user)
    if before is not None:
        qs = qs.filter(id__lt=before)
    if upto is not None:
        qs = qs.filter(id__lte=upto)
    return list(qs.order_by("-id")[:limit])


# --- Replay (WebSocket) ------------------------------------------------------------------


def stream_snapshot(*, user: User) -> tuple[int, int, dict[int, str]]:
    """(sequence value, newest notification id, active subscriptions as of that value).

    The sequence is read first, so every subscription change up to it is visible in the
    subscription read that follows; later changes are filtered out by their seq numbers.
    """
    seq = StreamSequence.objects.filter(id=1).values_list("value", flat=True).first() or 0
    rows = (
        Subscription.objects.filter(user_id=user.pk, started_seq__lte=seq)
        .filter(Q(ended_seq__isnull=True) | Q(ended_seq__gt=seq))
        .values_list("channel_id", "channel__slug")
    )
    last_id = Notification.objects.filter(id__lte=seq).order_by("-id").values_list("id", flat=True).first() or 0
    return seq, last_id, dict(rows)


def replay_batches(*, user: User, since: int, upto: int, batch: int = 500) -> Iterator[list[Notification]]:
    """The user's inbox notifications with since < id <= upto, in id order, in batches."""
    cursor = since
    while True:
        rows = list(
            inbox_queryset(user=user)
            .filter(id__gt=cursor, id__lte=upto)
            .select_related("channel")
            .order_by("id")[:batch]
        )
        if not rows:
            return
        yield rows
        cursor = rows[-1].id


def pruned_upto() -> int:
    return StreamSequence.objects.filter(id=1).values_list("pruned_upto", flat=True).first() or 0
