"""Shared base for the security tests.

In-process: alice (owner, may create channels), bob (subscriber of both channels), charlie
(outsider), dave (publisher of both, subscribed to neither) and staff; a public channel
`news` and a private channel `secret`.

Live: `tight_platform`, one real Daphne process with small limits (3 publishes a minute per
token, 5-frame socket burst at 1 frame/s, 3 sockets per user) and DEBUG logging, so that
limits are reachable and everything the server logs can be searched for secrets.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from accounts.services import token_create
from notifications import services
from notifications.models import Channel, Notification, Subscription
from notifications.validation import clean_notification_input
from tests.support.live import LivePlatform, Platform

PASSWORD = "correct-horse-battery-staple"

TIGHT_ENV = {
    "HERALD_PUBLISH_RATE": "3/min",
    "HERALD_SOCKET_FRAME_RATE": "1",
    "HERALD_SOCKET_FRAME_BURST": "5",
    "HERALD_MAX_CONNECTIONS_PER_USER": "3",
    "LOG_LEVEL": "DEBUG",
}


@pytest.fixture(scope="session")
def tight_platform() -> Iterator[LivePlatform]:
    platform = Platform(extra_env=TIGHT_ENV)
    server = platform.start_server()
    live = LivePlatform(platform, server)
    yield live
    platform.close()


def make_user(username: str, *, password: str | None = None, **extra: Any) -> User:
    """A user; without a password (hashing one takes a while) unless the test signs in with it."""
    return User.objects.create_user(username, f"{username}@example.com", password, **extra)


def token_for(user: User) -> str:
    return token_create(user=user, name="test")[1]


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


def publish(*, sender: User, title: str = "hello", **target: Any) -> int:
    notification, _ = services.notification_publish(
        sender=sender, cleaned=clean_notification_input({"title": title}), **target
    )
    return notification.id


def db_state() -> dict[str, int]:
    """Row counts that a refused request must leave alone."""
    return {
        "notifications": Notification.objects.count(),
        "subscriptions": Subscription.objects.count(),
        "active_subscriptions": Subscription.objects.active().count(),
        "channels": Channel.objects.count(),
        "users": User.objects.count(),
    }


class World:
    """The cast: users, channels and a token client per user."""

    def __init__(self) -> None:
        self.alice = make_user("alice")
        self.alice.user_permissions.add(
            Permission.objects.get(codename="add_channel", content_type__app_label="notifications")
        )
        self.alice = User.objects.get(pk=self.alice.pk)
        self.bob, self.charlie, self.dave = make_user("bob"), make_user("charlie"), make_user("dave")
        self.staff = make_user("staff", is_staff=True)
        self.news = services.channel_create(owner=self.alice, slug="news", name="News", publishers=[self.dave])
        self.secret = services.channel_create(
            owner=self.alice, slug="secret", name="Secret", visibility=Channel.PRIVATE, publishers=[self.dave]
        )
        for channel in (self.news, self.secret):
            services.channel_subscribe(channel=channel, user=self.bob)
        self.tokens = {name: token_for(getattr(self, name)) for name in ("alice", "bob", "charlie", "dave", "staff")}

    def api(self, name: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {self.tokens[name]}")
        return client


@pytest.fixture
def world(db: None) -> World:
    return World()


@pytest.fixture
def live_world(transactional_db: None) -> World:
    """The same cast for tests that run sockets in-process (hub threads need committed data)."""
    return World()
