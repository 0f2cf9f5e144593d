"""The real admin of a live server, signed in over HTTP with CSRF, reaching real sockets."""

import asyncio
import re
from collections.abc import Iterator

import pytest

from tests.admin.http import AdminSession
from tests.support.live import LivePlatform
from tests.support.ws import connect, recv, recv_until


@pytest.fixture
def admin(live_platform: LivePlatform) -> Iterator[AdminSession]:
    session = AdminSession(live_platform.url, "staff", "staff-pass-123")
    yield session
    session.close()


async def test_subscription_added_then_removed_in_admin_reaches_the_users_open_socket_at_once(
    live_platform: LivePlatform, admin: AdminSession
) -> None:
    slug = live_platform.create_channel()
    username, token = live_platform.create_user()
    ws = await connect(live_platform.ws_url, token)
    assert (await recv(ws))["type"] == "welcome"
    user_id = await asyncio.to_thread(admin.autocomplete_id, "notifications.subscription", "user", username)
    channel_id = await asyncio.to_thread(admin.autocomplete_id, "notifications.subscription", "channel", slug)

    added = await asyncio.to_thread(
        admin.post_form, "/admin/notifications/subscription/add/", {"user": user_id, "channel": channel_id}
    )
    assert added.status_code == 302
    assert await recv_until(ws, "subscribed", timeout=3) == {"type": "subscribed", "channel": slug}

    published = await asyncio.to_thread(live_platform.publish, slug, "after admin subscribe")
    assert (await recv_until(ws, "notification", timeout=3))["id"] == published["id"]

    listing = await asyncio.to_thread(admin.get, "/admin/notifications/subscription/", q=username)
    subscription_id = re.search(r"/admin/notifications/subscription/(\d+)/change/", listing.text).group(1)
    removed = await asyncio.to_thread(
        admin.post_form, f"/admin/notifications/subscription/{subscription_id}/delete/", {"post": "yes"}
    )
    assert removed.status_code == 302
    assert await recv_until(ws, "unsubscribed", timeout=3) == {"type": "unsubscribed", "channel": slug}
    await ws.close()


async def test_test_notification_sent_from_admin_reaches_subscribers(
    live_platform: LivePlatform, admin: AdminSession
) -> None:
    slug = live_platform.create_channel()
    _, token = live_platform.create_user()
    live_platform.subscribe(slug, token)
    ws = await connect(live_platform.ws_url, token)
    await recv_until(ws, "welcome")
    channel_id = await asyncio.to_thread(admin.autocomplete_id, "notifications.subscription", "channel", slug)

    response = await asyncio.to_thread(
        admin.post_form,
        "/admin/notifications/channel/",
        {"action": "send_test_notification", "_selected_action": channel_id},
    )

    assert response.status_code == 302
    frame = await recv_until(ws, "notification", timeout=3)
    assert frame["channel"] == slug and frame["title"] == "Test notification"
    await ws.close()


async def test_revoking_a_token_in_admin_closes_the_sockets_it_opened(
    live_platform: LivePlatform, admin: AdminSession
) -> None:
    username, token = live_platform.create_user()
    ws = await connect(live_platform.ws_url, token)
    await recv_until(ws, "welcome")
    listing = await asyncio.to_thread(admin.get, "/admin/accounts/apitoken/", q=username)
    token_id = re.search(r"/admin/accounts/apitoken/(\d+)/change/", listing.text).group(1)

    response = await asyncio.to_thread(admin.post_form, f"/admin/accounts/apitoken/{token_id}/delete/", {"post": "yes"})

    assert response.status_code == 302
    await asyncio.wait_for(ws.wait_closed(), 3)
    assert ws.close_code == 4401
