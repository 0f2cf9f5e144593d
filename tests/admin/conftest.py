"""Admin tests: a staff user (with the Django test client) and two plain users."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from notifications import services
from notifications.models import Channel

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_superuser("staff", "staff@example.com", PASSWORD)


@pytest.fixture
def admin_client(staff: User) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def bob(db: None) -> User:
    return User.objects.create_user("bob", "bob@example.com", PASSWORD)


@pytest.fixture
def carol(db: None) -> User:
    return User.objects.create_user("carol", "carol@example.com", PASSWORD)


@pytest.fixture
def news(staff: User) -> Channel:
    return services.channel_create(owner=staff, slug="news", name="News")
