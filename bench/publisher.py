"""A publisher in its own process: open-loop publishing at a fixed rate, for the latency phases.

Why a separate process: the generator process also reads every subscriber socket. Right
after a publish, its event loop has a thousand notification frames to parse before it gets
to the HTTP answer, so REST latency measured there is mostly the generator's own queue (the
bare baseline server, which answers in microseconds, measured 30-40 ms that way). Here the
answer is read by a process that does nothing else. It runs on the generator's core, at a
higher priority than the generator (when allowed), so that reading an answer does not
wait for the generator's turn on the core either.

Input (argv[1], JSON): urls (one per server process, `{slug}` in each), headers, slugs,
rate (publishes per second), count. Output (stdout, JSON): published ids per slug, REST
latencies in seconds, failures, and the seconds the schedule took.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from typing import Any

import orjson
import uvloop

from bench.loadgen import Phase, Publisher


async def run(config: dict[str, Any]) -> dict[str, Any]:
    pub = Publisher(config["urls"], config["headers"])
    slugs, rate = config["slugs"], config["rate"]
    phase = Phase(started=time.time())
    try:
        tasks = []
        t0 = time.perf_counter()
        for i in range(config["count"]):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(pub.publish(slugs[i % len(slugs)], phase.rest_latency, phase.published)))
        results = await asyncio.gather(*tasks)
        seconds = time.perf_counter() - t0
    finally:
        await pub.aclose()
    return {
        "published": phase.published,
        "rest_latency": list(phase.rest_latency),
        "failed": sum(1 for ok in results if not ok),
        "publish_seconds": seconds,
    }


def raise_priority() -> None:
    """Ten nice levels above the generator, where allowed (root, or CAP_SYS_NICE)."""
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, max(-20, os.getpriority(os.PRIO_PROCESS, 0) - 10))


if __name__ == "__main__":
    raise_priority()
    sys.stdout.buffer.write(orjson.dumps(uvloop.run(run(orjson.loads(sys.argv[1])))))
