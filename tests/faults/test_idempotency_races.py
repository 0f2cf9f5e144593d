"""Concurrent retries of one publish with the same Idempotency-Key, through two processes at
once, create one notification: every answer carries the same id, and sockets get it once."""

import asyncio

import httpx
import pytest

from tests.faults.client import ResilientClient, assert_exact
from tests.faults.support import channel_with_subscribers, history_ids

pytestmark = pytest.mark.faults


async def test_concurrent_retries_with_one_idempotency_key_through_two_processes_create_one_notification(
    redis_factory, cluster_factory
) -> None:
    redis = redis_factory()
    cluster = await asyncio.to_thread(cluster_factory, redis_urls=[redis.url], processes=2)
    slug, tokens = await asyncio.to_thread(channel_with_subscribers, cluster.admin, 2)
    clients = [
        await ResilientClient(s.ws_url, t, name=f"c{i}").start()
        for i, (s, t) in enumerate(zip(cluster.servers, tokens, strict=True))
    ]
    headers = {"Authorization": f"Token {cluster.platform.staff_token}", "Idempotency-Key": "deploy-42"}

    async def attempt(http: httpx.AsyncClient, url: str) -> httpx.Response:
        return await http.post(
            f"{url}/api/v1/channels/{slug}/events/",
            headers=headers,
            json={"title": "deploy 42 finished", "data": {"build": 42}},
        )

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=50)) as http:
        answers = await asyncio.gather(*(attempt(http, cluster.servers[i % 2].url) for i in range(40)))

    assert sorted(r.status_code for r in answers) == [200] * 39 + [201]
    assert len({r.json()["id"] for r in answers}) == 1
    stored = await asyncio.to_thread(history_ids, cluster.admin, slug)
    assert stored == [answers[0].json()["id"]]
    await asyncio.gather(*(c.wait_for_ids(stored, timeout=5) for c in clients))
    await asyncio.sleep(0.5)  # a second delivery, if any, would arrive by now
    for client in clients:
        assert_exact(client, stored)
    await asyncio.gather(*(c.stop() for c in clients))
