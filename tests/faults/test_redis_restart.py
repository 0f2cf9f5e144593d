"""Redis killed in the middle of a stream and restarted on the same port: publishing keeps
succeeding (the store holds everything), sockets keep getting notifications from the
database while Redis is away, and every client converges to the full set, exactly once."""

import asyncio
import time

import pytest

from tests.faults.client import ResilientClient, assert_exact
from tests.faults.support import Publisher, RedisServer, channel_with_subscribers, history_ids, wait_until

pytestmark = pytest.mark.faults


async def test_redis_killed_mid_stream_and_restarted_loses_and_doubles_nothing(redis_factory, cluster_factory) -> None:
    redis = redis_factory()
    cluster = await asyncio.to_thread(cluster_factory, redis_urls=[redis.url], processes=2)
    slug, tokens = await asyncio.to_thread(channel_with_subscribers, cluster.admin, 6)
    clients = [ResilientClient(cluster.servers[i % 2].ws_url, t, name=f"c{i}") for i, t in enumerate(tokens)]
    await asyncio.gather(*(c.start() for c in clients))
    publisher = Publisher([s.url for s in cluster.servers], cluster.platform.staff_token, slug)
    stream = asyncio.create_task(publisher.publish_many(240, concurrency=4, pause=0.02))

    await wait_until(lambda: len(publisher.ids) >= 60, 20, "the stream to start")
    t0 = time.monotonic()
    redis.kill()
    killed_at = len(publisher.ids)
    # Redis is away: what is published now must still reach the sockets, from the database.
    await wait_until(lambda: len(publisher.ids) >= killed_at + 40, 20, "publishing without Redis")
    during_outage = list(publisher.ids[killed_at + 10 : killed_at + 30])
    started = time.monotonic()
    await asyncio.gather(*(c.wait_for_ids(during_outage, timeout=5) for c in clients))
    outage_delivery = time.monotonic() - started

    t1 = time.monotonic()
    restarted = RedisServer(redis.port).start()  # same port, empty: no group memberships, no messages
    redis.proc = restarted.proc  # killed at the end by the fixture
    t2 = time.monotonic()
    await stream
    t3 = time.monotonic()
    assert publisher.failures == []  # publishing never failed while Redis was away
    stored = await asyncio.to_thread(history_ids, cluster.admin, slug)
    assert sorted(publisher.ids) == stored and len(stored) == 240
    started = time.monotonic()
    await asyncio.gather(*(c.wait_for_ids(stored, timeout=10) for c in clients))
    converged = time.monotonic() - started

    # After the restart the hubs joined the group again: a new notification arrives fast.
    started = time.monotonic()
    latest = await Publisher([cluster.servers[0].url], cluster.platform.staff_token, slug).publish_many(1)
    await asyncio.gather(*(c.wait_for_ids(latest, timeout=5) for c in clients))
    live_latency = time.monotonic() - started
    await asyncio.sleep(0.3)
    for client in clients:
        assert_exact(client, stored + latest)
    print(f"phases: outage {t1 - t0:.2f}s, rest of stream after restart {t3 - t2:.2f}s; ", end="")
    print(f"outage delivery {outage_delivery:.2f}s, converged {converged:.2f}s, live latency {live_latency:.3f}s")
    assert outage_delivery < 3 and live_latency < 1.5
    await asyncio.gather(*(c.stop() for c in clients))
