"""The load generator: subscriber sockets, publishers and the bookkeeping of every delivery.

Runs on uvloop in the bench process (pinned to its own core by bench.run). Every
notification carries its publish time in `data.t`; every delivery is recorded (id per
socket, end-to-end latency), so loss, duplicates and order are checked exactly.
"""

from __future__ import annotations

import asyncio
import itertools
import resource
import sys
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

PAD = "x" * 120  # makes a notification frame ~330 bytes, a typical small notification


def pct(values: Any, q: float) -> float | None:
    """q-th percentile (0..100) by nearest rank; None when empty."""
    if not len(values):
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


@dataclass
class Sub:
    """One subscriber socket."""

    user: int
    channels: tuple[str, ...]
    ws: ClientConnection | None = None
    ids: list[int] = field(default_factory=list)
    welcome: asyncio.Future[float] | None = None
    task: asyncio.Task[None] | None = None


class Stats:
    """Deliveries of the current phase, across every socket."""

    def __init__(self) -> None:
        self.reset()
        self.closed = 0  # sockets the server closed (or that broke) during the run

    def reset(self) -> None:
        self.delivered = 0
        self.latency = array("d")
        self.last = 0.0


async def _read(sub: Sub, stats: Stats) -> None:
    loads, now = orjson.loads, time.time
    try:
        async for raw in sub.ws:  # type: ignore[union-attr]
            t = now()
            msg = loads(raw)
            kind = msg.get("type")
            if kind == "notification":
                sub.ids.append(msg["id"])
                stats.latency.append(t - msg["data"]["t"])
                stats.delivered += 1
                stats.last = t
            elif kind == "welcome" and sub.welcome is not None and not sub.welcome.done():
                sub.welcome.set_result(t)
    except (ConnectionClosed, OSError):
        pass
    if sub.welcome is not None and not sub.welcome.done():
        sub.welcome.set_exception(ConnectionError("closed before welcome"))
    stats.closed += 1


async def connect_all(
    url: str, subs: list[Sub], headers_of: Any, stats: Stats, *, concurrency: int = 100, timeout: float = 120.0
) -> dict[str, Any]:
    """Open every socket (at most `concurrency` handshakes in flight) and wait for its welcome."""
    sem = asyncio.Semaphore(concurrency)
    errors: list[str] = []
    loop = asyncio.get_running_loop()

    async def one(sub: Sub) -> None:
        async with sem:
            try:
                sub.welcome = loop.create_future()
                sub.ws = await connect(
                    url,
                    additional_headers=headers_of(sub.user),
                    compression=None,
                    ping_interval=None,
                    max_queue=None,
                    open_timeout=60,
                    close_timeout=1,
                    max_size=2**20,
                )
                sub.task = asyncio.create_task(_read(sub, stats))
                await asyncio.wait_for(sub.welcome, 60)
            except (OSError, WebSocketException, TimeoutError, ConnectionError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(one(s) for s in subs)), timeout)
    elapsed = time.perf_counter() - started
    return {
        "sockets": len(subs),
        "connect_errors": len(errors),
        "connect_seconds": round(elapsed, 2),
        "connects_per_s": round((len(subs) - len(errors)) / elapsed, 1),
        "error_sample": errors[:3],
    }


async def close_all(subs: list[Sub]) -> None:
    for sub in subs:
        if sub.ws is not None:
            sub.ws.transport.abort()
    tasks = [s.task for s in subs if s.task is not None]
    if tasks:
        await asyncio.wait(tasks, timeout=10)


class Publisher:
    """Publishes over HTTP with keep-alive connections; records REST latency and ids."""

    def __init__(self, urls: list[str], headers: dict[str, str]) -> None:
        self.urls = urls  # one per server process; requests rotate over them
        self.headers = headers
        self.client = httpx.AsyncClient(
            headers=headers, timeout=60, limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)
        )
        self.counter = itertools.count()
        self.rotate = itertools.count()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def publish(self, slug: str, rest_latency: array, published: dict[str, list[int]]) -> bool:
        i = next(self.counter)
        base = self.urls[next(self.rotate) % len(self.urls)]
        body = {"title": f"bench {i}", "data": {"t": time.time(), "i": i, "pad": PAD}}
        started = time.perf_counter()
        try:
            response = await self.client.post(
                base.format(slug=slug), content=orjson.dumps(body), headers={"Content-Type": "application/json"}
            )
        except httpx.HTTPError:
            return False
        rest_latency.append(time.perf_counter() - started)
        if response.status_code != 201:
            return False
        published.setdefault(slug, []).append(orjson.loads(response.content)["id"])
        return True


@dataclass
class Phase:
    """What one publishing phase sent and how long it took."""

    published: dict[str, list[int]] = field(default_factory=dict)
    rest_latency: array = field(default_factory=lambda: array("d"))
    failed: int = 0
    started: float = 0.0  # time.time()
    publish_seconds: float = 0.0


async def burst(pub: Publisher, slugs: list[str], count: int, *, concurrency: int = 8) -> Phase:
    """Publish `count` notifications as fast as the server answers (rotating over `slugs`)."""
    phase = Phase(started=time.time())
    todo = iter(range(count))

    async def worker() -> None:
        for i in todo:
            if not await pub.publish(slugs[i % len(slugs)], phase.rest_latency, phase.published):
                phase.failed += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    phase.publish_seconds = time.perf_counter() - t0
    return phase


async def steady(pub: Publisher, slugs: list[str], rate: float, seconds: float) -> Phase:
    """Publish at a fixed rate, open loop (a slow answer does not delay the next publish),
    from a separate process (bench.publisher) so REST latency is not the generator's queue."""
    config = {"urls": pub.urls, "headers": pub.headers, "slugs": slugs, "rate": rate, "count": int(rate * seconds)}
    phase = Phase(started=time.time())
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.publisher",
        orjson.dumps(config).decode(),
        stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).resolve().parent.parent,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"bench.publisher exited with {proc.returncode}")
    result = orjson.loads(out)
    phase.published = result["published"]
    phase.rest_latency = array("d", result["rest_latency"])
    phase.failed = result["failed"]
    phase.publish_seconds = result["publish_seconds"]
    return phase


async def settle(subs: list[Sub], stats: Stats, phase: Phase, *, stall: float = 8.0, limit: float = 180.0) -> dict:
    """Wait for every expected delivery (or until nothing arrives for `stall` s), then check
    each socket's ids against what was published to its channels."""
    expected = sum(len(phase.published.get(slug, ())) for sub in subs for slug in sub.channels)
    t0 = time.monotonic()
    seen, progress_at = -1, time.monotonic()
    while stats.delivered < expected and time.monotonic() - t0 < limit:
        if stats.delivered != seen:
            seen, progress_at = stats.delivered, time.monotonic()
        elif time.monotonic() - progress_at > stall:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # let duplicates, if any, arrive
    lost = dup = disorder = 0
    for sub in subs:
        want: set[int] = set()
        for slug in sub.channels:
            want.update(phase.published.get(slug, ()))
        got = set(sub.ids)
        lost += len(want - got)
        dup += len(sub.ids) - len(got) + len(got - want)
        disorder += sum(1 for a, b in itertools.pairwise(sub.ids) if b <= a)
        sub.ids.clear()
    span = (stats.last - phase.started) if stats.delivered else 0.0
    lat = stats.latency
    result = {
        "published": sum(len(v) for v in phase.published.values()),
        "publish_failed": phase.failed,
        "expected": expected,
        "delivered": stats.delivered,
        "lost": lost,
        "duplicates": dup,
        "out_of_order": disorder,
        "seconds": round(span, 3),
        "deliveries_per_s": round(stats.delivered / span, 1) if span > 0 else None,
        "publish_seconds": round(phase.publish_seconds, 3),
        "publishes_per_s": round(len(phase.rest_latency) / phase.publish_seconds, 1) if phase.publish_seconds else None,
        "e2e_p50_ms": ms(pct(lat, 50)),
        "e2e_p99_ms": ms(pct(lat, 99)),
        "e2e_max_ms": ms(max(lat) if lat else None),
        "rest_p50_ms": ms(pct(phase.rest_latency, 50)),
        "rest_p99_ms": ms(pct(phase.rest_latency, 99)),
    }
    stats.reset()
    return result


def generator_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
