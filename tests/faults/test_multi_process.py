"""Several server processes on one Redis: every client, on any process, gets every
notification published through any process, exactly once and in order."""

import asyncio

import pytest

from tests.faults.client import ResilientClient, assert_exact
from tests.faults.support import Publisher, channel_with_subscribers, history_ids

pytestmark = pytest.mark.faults


async def test_clients_on_three_processes_get_every_notification_published_concurrently_through_all(
    redis_factory, cluster_factory
) -> None:
    redis = redis_factory()
    cluster = await asyncio.to_thread(cluster_factory, redis_urls=[redis.url], processes=3)
    slug, tokens = await asyncio.to_thread(channel_with_subscribers, cluster.admin, 9)
    urls = [s.ws_url for s in cluster.servers]
    clients = [ResilientClient(urls[i % 3], token, name=f"c{i}") for i, token in enumerate(tokens)]
    await asyncio.gather(*(c.start() for c in clients))

    publisher = Publisher([s.url for s in cluster.servers], cluster.platform.staff_token, slug)
    accepted = await publisher.publish_many(300, concurrency=12)

    stored = await asyncio.to_thread(history_ids, cluster.admin, slug)
    assert sorted(accepted) == stored and len(stored) == 300
    await asyncio.gather(*(c.wait_for_ids(stored, timeout=15) for c in clients))
    await asyncio.sleep(0.3)  # room for a late duplicate to show up
    for client in clients:
        assert_exact(client, stored)
        assert client.connections == 1  # nothing here should have needed a reconnect
    await asyncio.gather(*(c.stop() for c in clients))
