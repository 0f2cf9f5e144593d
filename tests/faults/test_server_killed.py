"""A server process killed with SIGKILL mid-stream: its clients reconnect to another process,
resume with `since`, and lose nothing; publishers retrying with their Idempotency-Key
double nothing."""

import asyncio

import pytest

from tests.faults.client import ResilientClient, assert_exact
from tests.faults.support import Publisher, channel_with_subscribers, history_ids, wait_until

pytestmark = pytest.mark.faults


async def test_clients_of_a_killed_process_resume_on_another_and_lose_nothing(redis_factory, cluster_factory) -> None:
    redis = redis_factory()
    cluster = await asyncio.to_thread(cluster_factory, redis_urls=[redis.url], processes=3)
    slug, tokens = await asyncio.to_thread(channel_with_subscribers, cluster.admin, 6)
    ws_urls = [s.ws_url for s in cluster.servers]
    # Each client's list starts with "its" process; the rest are where it goes when that fails.
    clients = [ResilientClient(ws_urls[i % 3 :] + ws_urls[: i % 3], t, name=f"c{i}") for i, t in enumerate(tokens)]
    await asyncio.gather(*(c.start() for c in clients))
    publisher = Publisher([s.url for s in cluster.servers[1:]], cluster.platform.staff_token, slug)
    stream = asyncio.create_task(publisher.publish_many(200, concurrency=4, pause=0.01, retry=True))

    await wait_until(lambda: len(publisher.ids) >= 60, 30, "the stream to start")
    victim = cluster.servers[0]
    victim.kill()
    cluster.admin_via(cluster.servers[1])
    await stream

    stored = await asyncio.to_thread(history_ids, cluster.admin, slug)
    assert sorted(publisher.ids) == stored and len(stored) == 200
    await asyncio.gather(*(c.wait_for_ids(stored, timeout=15) for c in clients))
    await asyncio.sleep(0.3)
    for client in clients:
        assert_exact(client, stored)
    moved = [c for c in clients if c.connections > 1]
    assert len(moved) == 2  # the two clients of the killed process, and only they, reconnected
    assert all(victim.ws_url not in c.urls[c.url_index] for c in moved)
    await asyncio.gather(*(c.stop() for c in clients))
