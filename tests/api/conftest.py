"""Shared base for the REST API tests: alice (owner, may create channels), bob (member),
charlie (outsider), dave (publisher) and staff; a public and a private channel."""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.services import token_create
from notifications import services
from notifications.models import Channel
from notifications.validation import clean_notification_input

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _fresh_throttles() -> None:
    # The throttle cache may be a shared Redis: forget earlier runs' sign-in attempts.
    cache.delete_many(["throttle_auth_127.0.0.1"])


def make_user(username: str, **extra: Any) -> User:
    return User.objects.create_user(username, f"{username}@example.com", PASSWORD, **extra)


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        _, key = token_create(user=user, name="test")
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def alice(db: None) -> User:
    user = make_user("alice")
    user.user_permissions.add(Permission.objects.get(codename="add_channel", content_type__app_label="notifications"))
    return User.objects.get(pk=user.pk)  # drop the permission cache


@pytest.fixture
def bob(db: None) -> User:
    return make_user("bob")


@pytest.fixture
def charlie(db: None) -> User:
    return make_user("charlie")


@pytest.fixture
def dave(db: None) -> User:
    return make_user("dave")


@pytest.fixture
def staff(db: None) -> User:
    return make_user("staff", is_staff=True)


@pytest.fixture
def public(alice: User, bob: User, dave: User) -> Channel:
    channel = services.channel_create(owner=alice, slug="news", name="News", publishers=[dave])
    services.channel_subscribe(channel=channel, user=bob)
    return channel


@pytest.fixture
def private(alice: User, bob: User, dave: User) -> Channel:
    channel = services.channel_create(
        owner=alice, slug="secret", name="Secret", visibility=Channel.PRIVATE, publishers=[dave]
    )
    services.channel_subscribe(channel=channel, user=bob)
    return channel


@pytest.fixture
def api(alice: User, bob: User, charlie: User, dave: User, staff: User) -> dict[str, APIClient]:
    """One token-authenticated client per role, plus `anon` without credentials."""
    clients = {
        name: client_for(user)
        for name, user in {"alice": alice, "bob": bob, "charlie": charlie, "dave": dave, "staff": staff}.items()
    }
    clients["anon"] = APIClient()
    return clients


@pytest.fixture
def publish(alice: User) -> Callable[..., int]:
    """Publish directly through the service (channel=... or recipient=...); returns the id."""

    def _publish(*, title: str = "hello", sender: User | None = None, **target: Any) -> int:
        notification, _ = services.notification_publish(
            sender=sender or alice, cleaned=clean_notification_input({"title": title}), **target
        )
        return notification.id

    return _publish


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
