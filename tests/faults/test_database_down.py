"""The database unavailable: publishing answers a clean 503 (`{"detail"}`, Retry-After) and
stores nothing half-done; open sockets stay up and, once the database is back, get every
notification exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.faults.client import ResilientClient, assert_exact
from tests.faults.support import Publisher, channel_with_subscribers, history_ids
from tests.support.live import Platform

pytestmark = pytest.mark.faults


@contextlib.contextmanager
def database_unavailable(platform: Platform) -> Iterator[None]:
    """PostgreSQL: refuse new connections and end the open ones. SQLite: hold the write lock
    (BEGIN EXCLUSIVE) from another connection, so every write times out."""
    url = platform.database_url
    if url.startswith("postgres"):
        import psycopg

        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(platform._pg_admin_url, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
            try:
                yield
            finally:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    else:
        lock = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, timeout=10)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            lock.execute("ROLLBACK")
            lock.close()


async def test_publishing_while_the_database_is_down_answers_503_and_sockets_recover(
    redis_factory, cluster_factory
) -> None:
    redis = redis_factory()
    cluster = await asyncio.to_thread(cluster_factory, redis_urls=[redis.url], processes=2, HERALD_SQLITE_TIMEOUT="1")
    slug, tokens = await asyncio.to_thread(channel_with_subscribers, cluster.admin, 4)
    clients = [ResilientClient(cluster.servers[i % 2].ws_url, t, name=f"c{i}") for i, t in enumerate(tokens)]
    await asyncio.gather(*(c.start() for c in clients))
    publisher = Publisher([s.url for s in cluster.servers], cluster.platform.staff_token, slug)
    before = await publisher.publish_many(20, concurrency=4)

    headers = {"Authorization": f"Token {cluster.platform.staff_token}"}
    with database_unavailable(cluster.platform):
        async with httpx.AsyncClient(timeout=30, headers=headers) as http:
            answers = await asyncio.gather(
                *(
                    http.post(
                        f"{s.url}/api/v1/channels/{slug}/events/",
                        json={"title": "during the outage"},
                        headers={"Idempotency-Key": f"outage-{i}"},
                    )
                    for i, s in enumerate(cluster.servers * 3)
                )
            )
        await asyncio.sleep(0.5)  # the hubs keep polling a database that is not there
    for r in answers:
        assert r.status_code == 503, r.text
        assert set(r.json()) == {"detail"} and r.headers["Retry-After"].isdigit()

    after = await publisher.publish_many(20, concurrency=4)
    # The refused requests, retried with their keys, are created now, once each.
    async with httpx.AsyncClient(timeout=30, headers=headers) as http:
        retried = [
            await http.post(
                f"{cluster.servers[0].url}/api/v1/channels/{slug}/events/",
                json={"title": "during the outage"},
                headers={"Idempotency-Key": f"outage-{i}"},
            )
            for i in range(len(answers))
        ]
    assert [r.status_code for r in retried] == [201] * len(answers)
    stored = await asyncio.to_thread(history_ids, cluster.admin, slug)
    assert stored == sorted(before + after + [r.json()["id"] for r in retried])  # nothing half-done
    await asyncio.gather(*(c.wait_for_ids(stored, timeout=10) for c in clients))
    await asyncio.sleep(0.3)
    for client in clients:
        assert_exact(client, stored)
        assert client.connections == 1  # the sockets stayed up through the outage
    await asyncio.gather(*(c.stop() for c in clients))
