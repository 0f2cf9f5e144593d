"""Shared fixtures. `live_platform` is a real Daphne process on its own database (and on
Redis when REDIS_URL is set); in-process tests use pytest-django's test database."""

from collections.abc import Iterator

import pytest

from tests.support.live import LivePlatform, Platform


@pytest.fixture(scope="session")
def live_platform() -> Iterator[LivePlatform]:
    platform = Platform()
    server = platform.start_server()
    live = LivePlatform(platform, server)
    yield live
    platform.close()


@pytest.fixture
def platform_factory() -> Iterator[type[Platform]]:
    """Make extra platforms (several processes, other Redis hosts); all closed afterwards."""
    made: list[Platform] = []

    class _Factory(Platform):
        def __init__(self, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            made.append(self)

    yield _Factory
    for platform in made:
        platform.close()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """In-process tests run without the PostgreSQL connection pool (servers started by the
    tests keep it): pytest-django and the test's own threads open and close connections in
    ways the pool is not meant for, and a connection it lends to a thread that then dies is
    not given back (seen as "couldn't get a connection after 5.00 sec" late in a run)."""
    from django.conf import settings

    settings.DATABASES["default"].get("OPTIONS", {}).pop("pool", None)
