"""Dashboard pages, server-rendered. Live updates come from static/herald/dashboard.js, which
talks to the public REST API and WebSocket like any other client (static/herald/client.js).

Views stay thin: every read goes through notifications.selectors, every write through
notifications.services; the page snapshot (`since`) lets the socket resume exactly where
the rendered HTML stops.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from notifications import selectors, services
from notifications.exceptions import NotFound
from notifications.forms import PublishForm
from notifications.models import Channel, Notification

PAGE_SIZE = 50

# No inline script or style anywhere: every asset is a file under /static/. `connect-src 'self'`
# covers the same-origin WebSocket in current browsers.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def secure_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Sign-in required, Content-Security-Policy set, never cached (pages hold private data)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Cache-Control", "no-store, private")
        return response

    return wrapper


def page(request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    """Render a dashboard page with the snapshot the live client resumes from.

    `since` is read before anything else on the page, and every list on the page stops at it,
    so a notification is either rendered or replayed over the socket: never both, never neither.
    """
    since = context.pop("since", None)
    if since is None:
        since = services.sequence_value()
    base = {
        "since": since,
        "unread": selectors.notification_unread_count(user=request.user, upto=since),
        "content_security_policy": CONTENT_SECURITY_POLICY,
    }
    return render(request, template, {**base, **context}, status=status)


def item(n: Notification, *, read: bool | None = None) -> dict[str, Any]:
    """What a notification template needs, with `data` pretty-printed for display."""
    return {
        "id": n.id,
        "channel": n.channel.slug if n.channel_id else None,
        "title": n.title,
        "body": n.body,
        "level": n.level,
        "data": json.dumps(n.data, indent=2, ensure_ascii=False, sort_keys=True) if n.data else "",
        "created_at": n.created_at,
        "read": selectors.notification_is_read(n) if read is None else read,
    }


def query_id(request: HttpRequest, name: str) -> int | None:
    raw = request.GET.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None


def visible_channel(request: HttpRequest, slug: str) -> Channel:
    try:
        return selectors.channel_get(user=request.user, slug=slug)
    except NotFound:
        raise Http404("No such channel.") from None


def safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    ok = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return target if target and ok else default


# --- Inbox ---------------------------------------------------------------------------------


@secure_page
def inbox(request: HttpRequest) -> HttpResponse:
    since = services.sequence_value()
    channel = request.GET.get("channel") or None
    unread = request.GET.get("unread") in ("1", "on", "true")
    before = query_id(request, "before")
    rows = selectors.inbox_page(
        user=request.user, channel=channel, unread=unread, before=before, upto=since, limit=PAGE_SIZE
    )
    subscribed = [c for c in selectors.channel_list(user=request.user) if c.is_subscribed]  # type: ignore[attr-defined]
    return page(
        request,
        "notifications/inbox.html",
        {
            "since": since,
            "items": [item(n) for n in rows],
            "older": rows[-1].id if len(rows) == PAGE_SIZE else None,
            "filter_channel": channel or "",
            "filter_unread": unread,
            "paged": before is not None,
            "channels": subscribed,
        },
    )


@secure_page
@require_POST
def mark_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Form fallback for pages without JavaScript (the page itself uses the REST API)."""
    try:
        services.notification_mark_read(user=request.user, notification_id=notification_id)
    except NotFound:
        raise Http404("No such notification in your inbox.") from None
    return redirect(safe_next(request, reverse("inbox")))


@secure_page
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    services.notification_mark_all_read(user=request.user)
    return redirect(safe_next(request, reverse("inbox")))


# --- Channels ------------------------------------------------------------------------------


def channel_row(channel: Channel, user: Any) -> dict[str, Any]:
    return {
        "channel": channel,
        "subscribed": channel.is_subscribed,  # type: ignore[attr-defined]
        "subscriber_count": channel.subscriber_count,  # type: ignore[attr-defined]
        "can_subscribe": selectors.channel_can_self_subscribe(channel=channel, user=user),
    }


@secure_page
def channels(request: HttpRequest) -> HttpResponse:
    rows = [channel_row(c, request.user) for c in selectors.channel_list(user=request.user)]
    return page(request, "notifications/channels.html", {"rows": rows})


@secure_page
def channel_detail(request: HttpRequest, slug: str) -> HttpResponse:
    since = services.sequence_value()
    channel = visible_channel(request, slug)
    recent = [item(n, read=True) for n in selectors.channel_recent(channel=channel, limit=20) if n.id <= since]
    can_publish = selectors.channel_can_publish(channel=channel, user=request.user)
    return page(
        request,
        "notifications/channel_detail.html",
        {
            "since": since,
            "row": channel_row(channel, request.user),
            "recent": recent,
            "form": PublishForm(user=request.user, initial={"channel": slug}) if can_publish else None,
        },
    )


@secure_page
@require_POST
def subscription(request: HttpRequest, slug: str) -> HttpResponse:
    """Form fallback for subscribe/unsubscribe (the page itself uses the REST API)."""
    channel = visible_channel(request, slug)
    if request.POST.get("action") == "unsubscribe":
        services.channel_unsubscribe(channel=channel, user=request.user)
    elif selectors.channel_can_self_subscribe(channel=channel, user=request.user):
        services.channel_subscribe(channel=channel, user=request.user)
    else:
        messages.error(request, "Only the owner or staff can add subscribers to a private channel.")
    return redirect(safe_next(request, reverse("channels")))


# --- Publishing ----------------------------------------------------------------------------


@secure_page
def publish(request: HttpRequest) -> HttpResponse:
    form = PublishForm(request.POST or None, user=request.user, initial={"channel": request.GET.get("channel", "")})
    if request.method == "POST" and form.is_valid():
        channel = form.cleaned_data["channel"]
        notification, _ = services.notification_publish(
            sender=request.user, channel=channel, cleaned=form.notification_input
        )
        messages.success(request, f"Published #{notification.id} to {channel.slug}.")
        return redirect(f"{reverse('publish')}?channel={channel.slug}")
    return page(request, "notifications/publish.html", {"form": form}, status=400 if form.errors else 200)
