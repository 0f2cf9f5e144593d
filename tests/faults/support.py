"""Parts for fault tests: private redis-server processes, a cluster of Daphne processes on one
database, and concurrent HTTP publishers.

Each test starts its own redis-server on a free port, so it can kill it without touching the
machine's shared Redis (and runs the same on SQLite, where REDIS_URL is usually unset).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.support.live import LivePlatform, Platform, ServerProcess, free_port


class RedisServer:
    """A throw-away redis-server (no persistence) that a test may SIGKILL and restart."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> RedisServer:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ping():
                return self
            time.sleep(0.02)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: everything in it (group memberships, queued messages) is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Cluster:
    """One platform (database + layer) served by several Daphne processes."""

    def __init__(self, platform: Platform, servers: list[ServerProcess]) -> None:
        self.platform = platform
        self.servers = servers
        self.admin = LivePlatform(platform, servers[0])

    @classmethod
    def start(cls, factory: type[Platform], *, redis_urls: list[str], processes: int, **env: str) -> Cluster:
        platform = factory(redis_urls=redis_urls, extra_env=env)
        servers = [platform.start_server() for _ in range(processes)]
        return cls(platform, servers)

    def admin_via(self, server: ServerProcess) -> None:
        """Send admin calls through `server` (when the first one was killed)."""
        self.admin.http.close()
        self.admin = LivePlatform(self.platform, server)

    def close(self) -> None:
        self.admin.http.close()


def make_users(admin: LivePlatform, count: int) -> list[tuple[str, str]]:
    """`count` new users in one bulk call: [(username, token)]."""
    names = [f"u-{uuid.uuid4().hex[:10]}" for _ in range(count)]
    r = admin.http.post("/api/v1/subscribers/", json=[{"username": n} for n in names], headers=admin.headers())
    r.raise_for_status()
    return [(u["username"], u["token"]) for u in r.json()]


def channel_with_subscribers(admin: LivePlatform, count: int) -> tuple[str, list[str]]:
    """A new channel and `count` new users subscribed to it: (slug, their tokens)."""
    slug = admin.create_channel()
    users = make_users(admin, count)
    r = admin.http.post(
        f"/api/v1/channels/{slug}/subscribers/", json={"usernames": [u for u, _ in users]}, headers=admin.headers()
    )
    r.raise_for_status()
    return slug, [t for _, t in users]


def history_ids(admin: LivePlatform, slug: str) -> list[int]:
    """Every stored id of a channel, oldest first (the store is the truth)."""
    ids: list[int] = []
    after = 0
    while True:
        r = admin.http.get(
            f"/api/v1/channels/{slug}/events/", params={"after": after, "limit": 500}, headers=admin.headers()
        )
        r.raise_for_status()
        page = [n["id"] for n in r.json()["results"]]
        if not page:
            return ids
        ids += page
        after = page[-1]


class Publisher:
    """Publishes over HTTP from many concurrent tasks, round-robin over server URLs, and
    records every answer (id for 201/200, status otherwise)."""

    def __init__(self, urls: list[str], token: str, slug: str) -> None:
        self.urls = list(urls)
        self.token = token
        self.slug = slug
        self.ids: list[int] = []
        self.failures: list[int | str] = []

    async def publish_many(
        self,
        count: int,
        *,
        concurrency: int = 8,
        body: str = "",
        data: dict[str, Any] | None = None,
        retry: bool = False,
        pause: float = 0.0,
    ) -> list[int]:
        """Publish `count` notifications; with retry, keep retrying each (same Idempotency-Key)
        until it is accepted, as a well-behaved publisher does through an outage."""
        counter = iter(range(count))
        headers = {"Authorization": f"Token {self.token}"}
        accepted: list[int] = []  # this call's; self.ids grows live, for tests that watch progress

        async def worker(n: int) -> None:
            async with httpx.AsyncClient(timeout=30, headers=headers) as http:
                for i in counter:
                    key = uuid.uuid4().hex
                    attempt = 0
                    while True:
                        url = self.urls[(i + attempt) % len(self.urls)]
                        try:
                            r = await http.post(
                                f"{url}/api/v1/channels/{self.slug}/events/",
                                json={"title": f"n{i}", "body": body, "data": data or {}},
                                headers={"Idempotency-Key": key},
                            )
                        except httpx.HTTPError as exc:
                            self.failures.append(type(exc).__name__)
                        else:
                            if r.status_code in (200, 201):
                                accepted.append(int(r.json()["id"]))
                                self.ids.append(accepted[-1])
                                break
                            self.failures.append(r.status_code)
                        if not retry:
                            break
                        attempt += 1
                        await asyncio.sleep(min(0.05 * attempt, 0.5))
                    if pause:
                        await asyncio.sleep(pause)  # a steady stream rather than a burst

        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        return accepted


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


async def wait_until(predicate: Any, timeout: float, what: str = "condition") -> None:
    """Poll `predicate()` every 10 ms until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)
