"""Rebuilding the event stream from the database: for sockets (replay) and hubs (gap fill)."""

from collections import defaultdict
from typing import NamedTuple

from django.contrib.auth.models import User
from django.db.models import Q

from accounts.models import ApiToken
from notifications import events
from notifications.events import HubEvent
from notifications.models import Notification, Subscription
from notifications.selectors import pruned_upto, replay_batches, stream_snapshot
from notifications.serialization import notification_frame, notification_payload


def events_between(after: int, upto: int) -> list[HubEvent]:
    """Every stored inbox event with after < seq <= upto, in seq order."""
    found: list[HubEvent] = []
    for n in Notification.objects.filter(id__gt=after, id__lte=upto).select_related("channel").order_by("id"):
        found.append(
            events.notification_event(
                seq=n.id,
                channel_id=n.channel_id,
                user_id=n.recipient_id,
                frame=notification_frame(notification_payload(n)),
            )
        )
    changes: dict[tuple[int, str], list[int]] = defaultdict(list)
    slugs: dict[int, str] = {}
    rows = Subscription.objects.filter(
        Q(started_seq__gt=after, started_seq__lte=upto) | Q(ended_seq__gt=after, ended_seq__lte=upto)
    ).values_list("user_id", "channel_id", "channel__slug", "started_seq", "ended_seq")
    for user_id, channel_id, slug, started, ended in rows:
        slugs[channel_id] = slug
        if after < started <= upto:
            changes[(started, "sub", channel_id)].append(user_id)  # type: ignore[index]
        if ended is not None and after < ended <= upto:
            changes[(ended, "unsub", channel_id)].append(user_id)  # type: ignore[index]
    for (seq, kind, channel_id), user_ids in changes.items():  # type: ignore[misc]
        found.append(
            events.subscription_event(
                seq=seq, kind=kind, channel_id=channel_id, slug=slugs[channel_id], user_ids=sorted(user_ids)
            )
        )
    found.sort(key=lambda e: e["seq"])
    return found


def replay_frames(*, user: User, since: int, upto: int) -> list[tuple[int, str]]:
    """The (id, frame) of every notification in the user's inbox with since < id <= upto."""
    result: list[tuple[int, str]] = []
    for batch in replay_batches(user=user, since=since, upto=upto):
        result.extend((n.id, notification_frame(notification_payload(n))) for n in batch)
    return result


class SocketSnapshot(NamedTuple):
    """What a socket needs to go live, read in one trip to the database."""

    seq: int  # the sequence value the snapshot is taken at
    last_id: int  # newest notification id up to `seq` (welcome.last_id)
    channels: dict[int, str]  # subscriptions as of `seq`: channel id -> slug
    replay: list[tuple[int, str]]  # (id, frame) of inbox notifications in (since, seq]
    unavailable: bool  # part of (since, seq] was pruned
    token_revoked: bool  # the socket's token is gone (revoked while it was connecting)


def socket_snapshot(*, user: User, since: int | None, token_id: int | None) -> SocketSnapshot:
    revoked = token_id is not None and not ApiToken.objects.filter(pk=token_id).exists()
    if revoked:
        return SocketSnapshot(0, 0, {}, [], False, True)
    seq, last_id, channels = stream_snapshot(user=user)
    replay: list[tuple[int, str]] = []
    unavailable = False
    if since is not None and since < seq:
        unavailable = since < pruned_upto()
        replay = replay_frames(user=user, since=since, upto=seq)
    return SocketSnapshot(seq, last_id, channels, replay, unavailable, False)
