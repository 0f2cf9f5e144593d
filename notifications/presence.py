"""Live connection counts across processes, for Django admin.

Sockets live in each server process's hub (an event loop); admin runs in a worker thread of
any process. So each hub publishes its own counts to the shared cache every
`PRESENCE_INTERVAL` seconds, under its own key with a TTL of a few intervals, and adds its
key to a small registry; admin sums whatever keys are still alive. A process that dies
simply stops refreshing its key and drops out after the TTL. The registry is read-modify-
write (racy between processes), but each process re-adds itself on every tick, so a lost
update heals at the next one; the counts themselves never race, being one key per process.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
from typing import TYPE_CHECKING

from django.core.cache import cache

from notifications.conf import herald_setting

if TYPE_CHECKING:
    from notifications.hub import Hub

logger = logging.getLogger(__name__)

REGISTRY_KEY = "herald:presence"
PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}"
TOTAL = "total"


def _ttl() -> int:
    # Whole seconds: the Redis cache truncates timeouts to int, and 0 would mean "delete".
    return max(1, math.ceil(3 * float(herald_setting("PRESENCE_INTERVAL"))))


def hub_counts(hub: Hub) -> dict[str, int]:
    """This process's open sockets: per channel id (as a string) and in total."""
    counts = {str(channel_id): len(conns) for channel_id, conns in hub.by_channel.items()}
    counts[TOTAL] = hub.connection_count()
    return counts


def publish(counts: dict[str, int], process_id: str = PROCESS_ID) -> None:
    """Store one process's counts and keep it in the registry (stale entries are pruned)."""
    ttl, now = _ttl(), time.time()
    cache.set(f"{REGISTRY_KEY}:{process_id}", counts, timeout=ttl)
    registry = {pid: seen for pid, seen in (cache.get(REGISTRY_KEY) or {}).items() if seen > now - ttl}
    registry[process_id] = now
    cache.set(REGISTRY_KEY, registry, timeout=ttl)


def connection_counts() -> dict[str, int]:
    """Open sockets summed over every live process: `{channel id (str): n, "total": n}`."""
    registry = cache.get(REGISTRY_KEY) or {}
    summed: dict[str, int] = {TOTAL: 0}
    for counts in cache.get_many([f"{REGISTRY_KEY}:{pid}" for pid in registry]).values():
        for key, n in counts.items():
            summed[key] = summed.get(key, 0) + n
    return summed


async def publish_loop(hub: Hub) -> None:
    """Run by the hub: refresh this process's counts while it serves sockets."""
    while True:
        try:
            await asyncio.to_thread(publish, hub_counts(hub))
        except Exception:  # the cache (Redis) is down: counts go stale, sockets don't care
            logger.debug("could not publish connection counts", exc_info=True)
        await asyncio.sleep(herald_setting("PRESENCE_INTERVAL"))
