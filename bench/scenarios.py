"""The scenarios. Each runs against one server group and returns a JSON-able dict."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from bench import loadgen
from bench.loadgen import Publisher, Stats, Sub
from bench.servers import SERVER_CPU, Server, core_busy

Layout = dict[str, list[int]]  # channel slug -> user indexes subscribed


class Target:
    """Drives one server group through its public surface (Herald's REST API, or the baseline's)."""

    def __init__(self, server: Server, template: dict[str, Any] | None) -> None:
        self.server, self.template = server, template
        self.herald = template is not None

    def headers_of(self, user: int) -> dict[str, str]:
        token = self.template["tokens"][user] if self.herald else f"bench{user:05d}"  # type: ignore[index]
        return {"Authorization": f"Token {token}"}

    def publisher(self) -> Publisher:
        headers = {"Authorization": f"Token {self.template['admin_token']}"} if self.herald else {}
        return Publisher(self.server.publish_urls, headers)

    async def setup(self, layout: Layout) -> None:
        headers = {"Authorization": f"Token {self.template['admin_token']}"} if self.herald else {}
        async with httpx.AsyncClient(base_url=self.server.http_base, headers=headers, timeout=300) as client:
            for slug, users in layout.items():
                names = [f"bench{u:05d}" for u in users]
                if self.herald:
                    r = await client.post("/api/v1/channels/", json={"slug": slug, "name": slug})
                    r.raise_for_status()
                    r = await client.post(f"/api/v1/channels/{slug}/subscribers/", json={"usernames": names})
                else:
                    r = await client.post("/subscribe", json={"channel": slug, "users": names})
                r.raise_for_status()


def subs_for(layout: Layout) -> list[Sub]:
    channels: dict[int, list[str]] = {}
    for slug, users in layout.items():
        for u in users:
            channels.setdefault(u, []).append(slug)
    return [Sub(user=u, channels=tuple(chs)) for u, chs in sorted(channels.items())]


async def open_sockets(target: Target, subs: list[Sub], stats: Stats, concurrency: int) -> dict[str, Any]:
    """Connect every socket (spread over the group's processes), recording connect rate and RSS."""
    urls = target.server.ws_urls
    by_url: dict[str, list[Sub]] = {}
    for i, sub in enumerate(subs):
        by_url.setdefault(urls[i % len(urls)], []).append(sub)
    await asyncio.sleep(0.5)
    rss_before = target.server.rss_kb()
    results = await asyncio.gather(
        *(
            loadgen.connect_all(
                url, group, target.headers_of, stats, concurrency=max(1, concurrency // len(urls)), timeout=600
            )
            for url, group in by_url.items()
        )
    )
    seconds = max(r["connect_seconds"] for r in results)
    errors = sum(r["connect_errors"] for r in results)
    await asyncio.sleep(2.0)  # let the server settle (buffers, gc) before reading its memory
    rss_after = target.server.rss_kb()
    ok = len(subs) - errors
    return {
        "sockets": len(subs),
        "connect_errors": errors,
        "connect_seconds": seconds,
        "connects_per_s": round(ok / seconds, 1) if seconds else None,
        "rss_before_mb": round(rss_before / 1024, 1),
        "rss_after_mb": round(rss_after / 1024, 1),
        "kb_per_connection": round((rss_after - rss_before) / ok, 2) if ok else None,
        "error_sample": [e for r in results for e in r["error_sample"]][:3],
    }


async def measured(target: Target, stats: Stats, subs: list[Sub], phase_coro: Any) -> dict[str, Any]:
    """Run one publishing phase and settle it, with server and generator CPU accounting."""
    stats.reset()
    cpu0, gen0, t0 = target.server.cpu_seconds(), loadgen.generator_cpu(), time.perf_counter()
    core0, core1 = core_busy(SERVER_CPU), core_busy("1")
    phase = await phase_coro
    result = await loadgen.settle(subs, stats, phase)
    wall = time.perf_counter() - t0 - 0.3
    server_cpu = target.server.cpu_seconds() - cpu0
    result["server_cpu_s"] = round(server_cpu, 2)
    result["server_cpu_util"] = round(server_cpu / wall / len(target.server.pids), 2)
    gen_cpu = loadgen.generator_cpu() - gen0
    result["generator_cpu_util"] = round(gen_cpu / wall, 2)
    # CPU that other processes took on our two cores meanwhile (the machine is shared).
    result["foreign_load_server_core"] = round(max(0.0, core_busy(SERVER_CPU) - core0 - server_cpu) / wall, 2)
    result["foreign_load_generator_core"] = round(max(0.0, core_busy("1") - core1 - gen_cpu) / wall, 2)
    result["server_us_per_delivery"] = round(server_cpu / result["delivered"] * 1e6, 1) if result["delivered"] else None
    return result


async def fanout(
    target: Target,
    layout: Layout,
    *,
    burst: int,
    rate: float = 0,
    seconds: float = 0,
    concurrency: int = 100,
    publish_cost: int = 0,
    slugs: list[str] | None = None,
) -> dict[str, Any]:
    """Subscribers on `layout`; a burst of `burst` publishes; optionally `rate`/s for `seconds`."""
    await target.setup(layout)
    subs, stats = subs_for(layout), Stats()
    out: dict[str, Any] = {"server": target.server.name}
    out["connect"] = await open_sockets(target, subs, stats, concurrency)
    live = [
        s for s in subs if s.ws is not None and s.welcome is not None and s.welcome.done() and not s.welcome.exception()
    ]
    pub = target.publisher()
    slugs = slugs or list(layout)
    try:
        await measured(target, stats, live, loadgen.burst(pub, slugs, min(len(slugs), 5)))  # warm-up
        out["burst"] = await measured(target, stats, live, loadgen.burst(pub, slugs, burst))
        if rate:
            out["steady"] = await measured(target, stats, live, loadgen.steady(pub, slugs, rate, seconds))
            out["steady"]["rate"] = rate
        if publish_cost:
            out["publish_cost"] = await measure_publish_cost(target, stats, live, pub, layout, publish_cost)
    finally:
        await pub.aclose()
        closed_early = stats.closed
        await loadgen.close_all(subs)
    out["closed_by_server"] = closed_early
    out["server_alive"] = target.server.alive()
    return out


async def measure_publish_cost(
    target: Target, stats: Stats, live: list[Sub], pub: Publisher, layout: Layout, count: int
) -> dict[str, Any]:
    """REST latency of single publishes (1 per second) to the biggest and the smallest channel."""
    ordered = sorted(layout, key=lambda s: len(layout[s]))
    out = {}
    for slug in (ordered[0], ordered[-1]):
        result = await measured(target, stats, live, loadgen.steady(pub, [slug], 1.0, count))
        out[f"to_{len(layout[slug])}"] = {
            k: result[k]
            for k in ("rest_p50_ms", "rest_p99_ms", "e2e_p50_ms", "e2e_p99_ms", "lost", "duplicates", "published")
        }
    return out


async def rest_throughput(target: Target, layout: Layout, *, seconds: float, concurrency: int = 8) -> dict[str, Any]:
    """Notifications accepted per second over REST (no sockets open), per channel of `layout`."""
    await target.setup(layout)
    pub = target.publisher()
    out: dict[str, Any] = {"server": target.server.name}
    try:
        await loadgen.burst(pub, list(layout), 20, concurrency=concurrency)  # warm-up
        for slug, users in layout.items():
            cpu0 = target.server.cpu_seconds()
            phase = loadgen.Phase(started=time.time())
            deadline = time.perf_counter() + seconds

            async def worker(slug: str = slug, phase: loadgen.Phase = phase, deadline: float = deadline) -> None:
                while time.perf_counter() < deadline:
                    if not await pub.publish(slug, phase.rest_latency, phase.published):
                        phase.failed += 1

            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            wall = time.perf_counter() - t0
            ok = len(phase.published.get(slug, ()))
            out[f"to_{len(users)}_subscribers"] = {
                "accepted": ok,
                "failed": phase.failed,
                "per_s": round(ok / wall, 1),
                "rest_p50_ms": loadgen.ms(loadgen.pct(phase.rest_latency, 50)),
                "rest_p99_ms": loadgen.ms(loadgen.pct(phase.rest_latency, 99)),
                "server_cpu_util": round((target.server.cpu_seconds() - cpu0) / wall / len(target.server.pids), 2),
            }
    finally:
        await pub.aclose()
    return out
