"""Fixtures for fault tests: private Redis servers and clusters of server processes,
all stopped after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.faults.support import Cluster, RedisServer
from tests.support.live import Platform


@pytest.fixture
def redis_factory() -> Iterator[Callable[[], RedisServer]]:
    """Start private redis-servers (never the machine's shared one): these may be killed."""
    started: list[RedisServer] = []

    def make() -> RedisServer:
        server = RedisServer().start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.kill()


@pytest.fixture
def cluster_factory(platform_factory: type[Platform]) -> Iterator[Callable[..., Cluster]]:
    """`make(redis_urls=[...], processes=n, **env)`: n Daphne processes on one fresh database."""
    made: list[Cluster] = []

    def make(*, redis_urls: list[str], processes: int, **env: str) -> Cluster:
        cluster = Cluster.start(platform_factory, redis_urls=redis_urls, processes=processes, **env)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.close()
