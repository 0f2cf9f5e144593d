"""REST API for channels, subscriptions, publishing and inboxes (SPEC.md, "REST API")."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.models import User
from django.db import IntegrityError
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import selectors, services
from notifications.exceptions import Conflict, Invalid, NotFound
from notifications.models import SLUG_RE, Channel, Notification
from notifications.serialization import iso, notification_payload
from notifications.throttling import SlidingWindowRateThrottle
from notifications.validation import clean_notification_input, text_problem

logger = logging.getLogger(__name__)

MAX_LIMIT = 500
MAX_BULK_USERNAMES = 10_000
MAX_ID = 2**63 - 1  # ids are 64-bit; anything larger cannot exist (and overflows the database)


# --- Paging ---------------------------------------------------------------------------------


def query_int(request: Request, name: str) -> int | None:
    """An optional non-negative integer query parameter; malformed -> 400 naming it."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or int(raw) > MAX_ID:
        raise Invalid("Must be a non-negative integer.", name)
    return int(raw)


def user_by_username(username: str) -> User | None:
    """The user named exactly `username`; None for anything that cannot be a username
    (NUL would make PostgreSQL fail)."""
    if not username or len(username) > 150 or "\x00" in username:
        return None
    return User.objects.filter(username=username).first()


def query_limit(request: Request) -> int:
    limit = query_int(request, "limit")
    if limit is None:
        return 50
    if limit < 1:
        raise Invalid("Must be a positive integer.", "limit")
    return min(limit, MAX_LIMIT)


def page(request: Request, results: list[Any], *, limit: int, cursor: str, cursor_value: Any) -> Response:
    """`{"results", "next"}`; `next` is set while a page comes back full."""
    next_url = None
    if len(results) == limit:
        params = {k: v for k, v in request.query_params.items() if k not in ("after", "before")}
        params[cursor] = str(cursor_value)
        params["limit"] = str(limit)
        next_url = request.build_absolute_uri(request.path) + "?" + urlencode(params)
    return Response({"results": results, "next": next_url})


# --- Serializers ----------------------------------------------------------------------------


class StringOnly:
    """JSON strings that can be stored: DRF's CharField would quietly turn `5` into text and
    pass a lone surrogate on to the database."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            raise ValidationError("Not a valid string.")
        problem = text_problem(data)
        if problem:
            raise ValidationError(problem)
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictCharField(StringOnly, serializers.CharField):
    pass


class StrictEmailField(StringOnly, serializers.EmailField):
    pass


class StrictRegexField(StringOnly, serializers.RegexField):
    pass


class StrictSlugField(StringOnly, serializers.RegexField):
    """ASCII slug, compared exactly: surrounding whitespace is refused, not trimmed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(SLUG_RE, max_length=50, trim_whitespace=False, **kwargs)
        self.error_messages["invalid"] = "Letters, digits, '-' and '_' only (1-50 characters)."


class UsernameListField(serializers.ListField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=StrictCharField(max_length=150, trim_whitespace=False), **kwargs)


def users_by_username(usernames: list[str], field: str) -> list[User]:
    users = list(User.objects.filter(username__in=set(usernames)))
    missing = sorted(set(usernames) - {u.username for u in users})
    if missing:
        shown = ", ".join(missing[:50]) + (" …" if len(missing) > 50 else "")
        raise Invalid(f"Unknown usernames: {shown}", field)
    return users


class ChannelSerializer(serializers.Serializer):
    slug = StrictSlugField()
    name = StrictCharField(max_length=100)
    description = StrictCharField(max_length=2000, required=False, allow_blank=True, default="")
    visibility = serializers.ChoiceField(choices=[Channel.PUBLIC, Channel.PRIVATE], default=Channel.PUBLIC)
    publishers = UsernameListField(required=False, max_length=1000)
    owner = serializers.CharField(read_only=True)
    subscribed = serializers.BooleanField(read_only=True)
    subscriber_count = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class ChannelUpdateSerializer(ChannelSerializer):
    slug = StrictSlugField(required=False)

    def validate_slug(self, value: str) -> str:
        raise ValidationError("The slug of a channel cannot be changed.")


def channel_data(channel: Channel, *, subscribed: bool | None = None, count: int | None = None) -> dict[str, Any]:
    return {
        "slug": channel.slug,
        "name": channel.name,
        "description": channel.description,
        "visibility": channel.visibility,
        "owner": channel.owner.username,
        "publishers": sorted(u.username for u in channel.publishers.all()),
        "subscribed": bool(getattr(channel, "is_subscribed", False) if subscribed is None else subscribed),
        "subscriber_count": int(getattr(channel, "subscriber_count", 0) if count is None else count),
        "created_at": iso(channel.created_at),
    }


class NotificationInSerializer(serializers.Serializer):
    """Documents the publish body; validation itself is notifications.validation (shared with
    the WebSocket `publish` frame)."""

    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    level = serializers.ChoiceField(choices=Notification.LEVELS, required=False)
    data = serializers.DictField(required=False)


class NotificationOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    channel = serializers.CharField(allow_null=True)
    title = serializers.CharField()
    body = serializers.CharField()
    level = serializers.ChoiceField(choices=Notification.LEVELS)
    data = serializers.DictField()
    created_at = serializers.DateTimeField()


class InboxItemSerializer(NotificationOutSerializer):
    read = serializers.BooleanField()


def page_of(item: type[serializers.Serializer], name: str) -> serializers.Serializer:
    return inline_serializer(name, {"results": item(many=True), "next": serializers.URLField(allow_null=True)})


UNREAD = inline_serializer("Unread", {"unread": serializers.IntegerField()})
LIMIT = OpenApiParameter("limit", int, description="Page size (default 50, at most 500)")
AFTER = OpenApiParameter("after", int, description="Only ids greater than this, oldest first")


# --- Throttling -----------------------------------------------------------------------------


class PublishThrottle(SlidingWindowRateThrottle):
    """Publishing rate per API token (per user for session clients)."""

    scope = "publish"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if request.auth is not None and hasattr(request.auth, "pk"):
            ident = f"token:{request.auth.pk}"
        else:
            ident = f"user:{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: Request, view: Any) -> bool:
        # The counters live in the cache (Redis). When Redis is down, publishing must keep
        # working (the database is what holds notifications), so the limit fails open.
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.warning("publish rate limit skipped: the cache is unavailable", exc_info=True)
            return True


# --- Channels -------------------------------------------------------------------------------


class ChannelListView(APIView):
    @extend_schema(
        operation_id="channels_list",
        parameters=[LIMIT, OpenApiParameter("after", str, description="Slug to start after")],
        responses=page_of(ChannelSerializer, "ChannelPage"),
    )
    def get(self, request: Request) -> Response:
        """Channels visible to the caller, with `subscribed` and `subscriber_count`."""
        limit = query_limit(request)
        qs = selectors.channel_list(user=request.user)
        after = request.query_params.get("after")
        if after:
            if not re.match(SLUG_RE, after):
                raise Invalid("Must be a channel slug.", "after")
            qs = qs.filter(slug__gt=after)
        channels = list(qs[:limit])
        return page(
            request,
            [channel_data(c) for c in channels],
            limit=limit,
            cursor="after",
            cursor_value=channels[-1].slug if channels else "",
        )

    @extend_schema(request=ChannelSerializer, responses={201: ChannelSerializer})
    def post(self, request: Request) -> Response:
        """Create a channel (staff, or users with the `add_channel` permission)."""
        if not selectors.user_can_create_channels(user=request.user):
            raise PermissionDenied("You may not create channels.")
        serializer = ChannelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        publishers = users_by_username(data.pop("publishers", []), "publishers")
        try:
            channel = services.channel_create(owner=request.user, publishers=publishers, **data)
        except IntegrityError:
            raise Conflict(f"A channel with slug {data['slug']!r} already exists.") from None
        return Response(channel_data(channel, subscribed=False, count=0), status=status.HTTP_201_CREATED)


class ChannelScopedView(APIView):
    """Base of views under /channels/{slug}/: finds the channel, or 404s as if it did not exist."""

    def channel(self, request: Request, slug: str, *, manage: bool = False, counts: bool = True) -> Channel:
        channel = selectors.channel_get(user=request.user, slug=slug, counts=counts)
        if manage and not selectors.channel_can_manage(channel=channel, user=request.user):
            raise PermissionDenied("Only the channel's owner or staff may do this.")
        return channel


class ChannelDetailView(ChannelScopedView):
    @extend_schema(responses=ChannelSerializer)
    def get(self, request: Request, slug: str) -> Response:
        """One channel the caller can see."""
        return Response(channel_data(self.channel(request, slug)))

    @extend_schema(request=ChannelUpdateSerializer, responses=ChannelSerializer)
    def patch(self, request: Request, slug: str) -> Response:
        """Change name, description, visibility or publishers (owner, staff)."""
        channel = self.channel(request, slug, manage=True)
        serializer = ChannelUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        publishers = fields.pop("publishers", None)
        users = users_by_username(publishers, "publishers") if publishers is not None else None
        services.channel_update(channel=channel, fields=fields, publishers=users)
        return Response(channel_data(selectors.channel_get(user=request.user, slug=slug)))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str) -> Response:
        """Delete the channel with its history (owner, staff)."""
        services.channel_delete(channel=self.channel(request, slug, manage=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SubscriptionView(ChannelScopedView):
    @extend_schema(request=None, responses={201: ChannelSerializer, 200: ChannelSerializer})
    def post(self, request: Request, slug: str) -> Response:
        """Subscribe yourself (201; 200 when already subscribed)."""
        channel = self.channel(request, slug)
        if not selectors.channel_can_self_subscribe(channel=channel, user=request.user):
            raise PermissionDenied("Only the owner or staff can add subscribers to a private channel.")
        created = services.channel_subscribe(channel=channel, user=request.user)
        body = channel_data(selectors.channel_get(user=request.user, slug=slug))
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str) -> Response:
        """Unsubscribe yourself; what is already in your inbox stays."""
        services.channel_unsubscribe(channel=self.channel(request, slug), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BulkSubscribeSerializer(serializers.Serializer):
    usernames = UsernameListField(max_length=MAX_BULK_USERNAMES, allow_empty=True)


class SubscribersView(ChannelScopedView):
    @extend_schema(
        request=BulkSubscribeSerializer,
        responses=inline_serializer("Subscribed", {"subscribed": serializers.IntegerField()}),
    )
    def post(self, request: Request, slug: str) -> Response:
        """Subscribe many users at once (owner, staff); unknown usernames change nothing."""
        channel = self.channel(request, slug, manage=True)
        serializer = BulkSubscribeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        users = users_by_username(serializer.validated_data["usernames"], "usernames")
        return Response({"subscribed": services.channel_subscribe_many(channel=channel, users=users)})


class SubscriberDetailView(ChannelScopedView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, username: str) -> Response:
        """Remove one subscriber (owner, staff)."""
        channel = self.channel(request, slug, manage=True)
        user = user_by_username(username)
        if user is None:
            raise NotFound("No such user.")
        services.channel_unsubscribe(channel=channel, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Publishing -----------------------------------------------------------------------------


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key or len(key) > 255 or not key.isascii() or not key.isprintable():
        raise Invalid("Idempotency-Key must be 1-255 printable ASCII characters.", "Idempotency-Key")
    return key


def publish_response(notification: Notification, created: bool) -> Response:
    body = notification_payload(notification)
    return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ChannelEventsView(ChannelScopedView):
    def get_throttles(self) -> list[Any]:
        return [PublishThrottle()] if self.request.method == "POST" else []

    @extend_schema(parameters=[AFTER, LIMIT], responses=page_of(NotificationOutSerializer, "EventPage"))
    def get(self, request: Request, slug: str) -> Response:
        """The channel's history, oldest first."""
        after, limit = query_int(request, "after") or 0, query_limit(request)
        channel = self.channel(request, slug, counts=False)
        rows = selectors.channel_history(channel=channel, after=after, limit=limit)
        results = [notification_payload(n, channel_slug=channel.slug) for n in rows]
        return page(request, results, limit=limit, cursor="after", cursor_value=rows[-1].id if rows else after)

    @extend_schema(
        request=NotificationInSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
        responses={201: NotificationOutSerializer, 200: NotificationOutSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        """Publish to the channel (owner, publishers, staff). Stored before it is pushed."""
        key = idempotency_key(request)
        cleaned = clean_notification_input(request.data)
        channel = self.channel(request, slug, counts=False)
        if not selectors.channel_can_publish(channel=channel, user=request.user):
            raise PermissionDenied("You may not publish to this channel.")
        notification, created = services.notification_publish(
            sender=request.user, channel=channel, cleaned=cleaned, idempotency_key=key
        )
        return publish_response(notification, created)


class DirectNotificationView(APIView):
    def get_throttles(self) -> list[Any]:
        return [PublishThrottle()]

    @extend_schema(
        request=NotificationInSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
        responses={201: NotificationOutSerializer, 200: NotificationOutSerializer},
    )
    def post(self, request: Request, username: str) -> Response:
        """Send a direct notification to one user (staff)."""
        if not request.user.is_staff:
            raise PermissionDenied("Only staff can send direct notifications.")
        key = idempotency_key(request)
        cleaned = clean_notification_input(request.data)
        recipient = user_by_username(username)
        if recipient is None:
            raise NotFound("No such user.")
        notification, created = services.notification_publish(
            sender=request.user, recipient=recipient, cleaned=cleaned, idempotency_key=key
        )
        return publish_response(notification, created)


# --- Inbox ----------------------------------------------------------------------------------


def inbox_item(n: Notification) -> dict[str, Any]:
    return {**notification_payload(n), "read": selectors.notification_is_read(n)}


class InboxView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("unread", str, description="1: unread only"),
            OpenApiParameter("before", int, description="Only ids below this, newest first"),
            AFTER,
            LIMIT,
            OpenApiParameter("channel", str, description="Only this channel's notifications"),
        ],
        responses=page_of(InboxItemSerializer, "InboxPage"),
    )
    def get(self, request: Request) -> Response:
        """Your inbox, newest first (or, with `after`, oldest first for catching up)."""
        before, after, limit = query_int(request, "before"), query_int(request, "after"), query_limit(request)
        if before is not None and after is not None:
            raise Invalid("Use either 'before' or 'after', not both.")
        unread = request.query_params.get("unread", "")
        if unread not in ("", "0", "1", "true", "false"):
            raise Invalid("Must be 1 or 0.", "unread")
        qs = selectors.inbox_with_read_flags(user=request.user)
        channel = request.query_params.get("channel")
        if channel:
            if not re.match(SLUG_RE, channel):
                raise Invalid("Must be a channel slug.", "channel")
            qs = qs.filter(channel__slug=channel)
        if unread in ("1", "true"):
            qs = selectors.inbox_unread_only(qs, user=request.user)
        if after is not None:
            rows = list(qs.filter(id__gt=after).order_by("id")[:limit])
            cursor, value = "after", rows[-1].id if rows else after
        else:
            if before is not None:
                qs = qs.filter(id__lt=before)
            rows = list(qs.order_by("-id")[:limit])
            cursor, value = "before", rows[-1].id if rows else (before or 0)
        return page(request, [inbox_item(n) for n in rows], limit=limit, cursor=cursor, cursor_value=value)


class UnreadCountView(APIView):
    @extend_schema(responses=UNREAD)
    def get(self, request: Request) -> Response:
        """How many inbox notifications are unread."""
        return Response({"unread": selectors.notification_unread_count(user=request.user)})


class MarkReadView(APIView):
    @extend_schema(request=None, responses=UNREAD)
    def post(self, request: Request, notification_id: int) -> Response:
        """Mark one notification read; every socket of yours gets the new count."""
        if notification_id > MAX_ID:
            raise NotFound("No such notification in your inbox.")
        unread = services.notification_mark_read(user=request.user, notification_id=notification_id)
        return Response({"unread": unread})


class MarkAllReadView(APIView):
    @extend_schema(request=None, responses=UNREAD)
    def post(self, request: Request) -> Response:
        """Mark your whole inbox read."""
        return Response({"unread": services.notification_mark_all_read(user=request.user)})
