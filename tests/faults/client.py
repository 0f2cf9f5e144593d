"""A client that behaves like a real one through faults: it records every frame it gets,
reconnects with backoff after any close or error, resumes with `?since=<last id seen>`, and
may be pointed at another server. It dedupes nothing: whatever the server sends twice, or
skips, shows up in `ids`, which the tests compare with what the store holds."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed


class ResilientClient:
    """One user's socket that survives server, Redis and database faults by resuming."""

    def __init__(self, urls: str | list[str], token: str, *, name: str = "client") -> None:
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        self.url_index = 0
        self.token = token
        self.name = name
        self.frames: list[tuple[int, dict[str, Any]]] = []  # (connection number, frame)
        self.ids: list[int] = []  # notification ids, in arrival order, duplicates kept
        self.cursor: int | None = None  # last id seen (or the first welcome's last_id)
        self.connections = 0
        self.close_codes: list[int | None] = []
        self.welcomed = asyncio.Event()
        self._ws: websockets.ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._changed = asyncio.Event()

    # --- control -------------------------------------------------------------------------

    async def start(self, timeout: float = 10) -> ResilientClient:
        self._task = asyncio.create_task(self._run(), name=f"resilient-{self.name}")
        await asyncio.wait_for(self.welcomed.wait(), timeout)
        return self

    async def stop(self) -> None:
        self._stopping = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def switch(self, url: str, *, reconnect: bool = True) -> None:
        """Prefer `url` from now on (a load balancer moving the client); optionally drop the
        current socket so that the move happens now."""
        if url not in self.urls:
            self.urls.append(url)
        self.url_index = self.urls.index(url)
        if reconnect and self._ws is not None:
            await self._ws.close()

    def forget(self, url: str) -> None:
        """Stop trying `url` (its server is gone for good)."""
        current = self.urls[self.url_index]
        self.urls.remove(url)
        self.url_index = self.urls.index(current) if current in self.urls else 0

    async def wait_for_ids(self, expected: list[int], timeout: float) -> None:
        """Wait until every expected id has arrived (the test then checks for exactness)."""
        wanted = set(expected)
        deadline = time.monotonic() + timeout
        while not wanted.issubset(self.ids):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                missing = sorted(wanted - set(self.ids))
                raise AssertionError(f"{self.name}: {len(missing)} ids missing after {timeout}s, e.g. {missing[:10]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))

    def notification_frames(self) -> list[dict[str, Any]]:
        return [f for _, f in self.frames if f.get("type") == "notification"]

    # --- the connection loop -------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = 0.05
        while not self._stopping:
            url = self.urls[self.url_index % len(self.urls)]
            query = f"?since={self.cursor}" if self.cursor is not None else ""
            code: int | None = None
            try:
                async with websockets.connect(
                    url + query,
                    additional_headers={"Authorization": f"Token {self.token}"},
                    max_size=None,
                    open_timeout=5,
                    ping_interval=None,
                    close_timeout=1,
                ) as ws:
                    self._ws = ws
                    self.connections += 1
                    backoff = 0.05
                    async for raw in ws:
                        self._record(json.loads(raw))
                    code = ws.close_code
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
            except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI):
                # Refused or unreachable: the next server in the list, as a load balancer would.
                self.url_index = (self.url_index + 1) % len(self.urls)
            finally:
                self._ws = None
            self.close_codes.append(code)
            if self._stopping:
                return
            await asyncio.sleep(backoff * (1 + random.random() / 2))  # jitter: no reconnect storm
            backoff = min(backoff * 2, 1.0)

    def _record(self, frame: dict[str, Any]) -> None:
        self.frames.append((self.connections, frame))
        kind = frame.get("type")
        if kind == "welcome":
            if self.cursor is None:
                self.cursor = int(frame["last_id"])
            self.welcomed.set()
        elif kind == "notification":
            self.ids.append(int(frame["id"]))
            self.cursor = int(frame["id"])
        self._changed.set()


def assert_exact(client: ResilientClient, expected: list[int]) -> None:
    """Every expected id exactly once, in increasing order, and nothing else."""
    got = client.ids
    duplicates = sorted({i for i in got if got.count(i) > 1}) if len(set(got)) != len(got) else []
    assert not duplicates, f"{client.name}: duplicates {duplicates[:10]}"
    assert got == sorted(got), f"{client.name}: out of order"
    assert got == sorted(expected), (
        f"{client.name}: missing {sorted(set(expected) - set(got))[:10]}, extra {sorted(set(got) - set(expected))[:10]}"
    )
