"""A publisher that keeps posting over HTTP from a thread while a test reads its sockets."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import httpx


class Publisher(threading.Thread):
    """Posts in turn to each target path until stopped; records the ids it got back."""

    def __init__(
        self, base_url: str, token: str, paths: list[str], *, pause: float = 0.005, limit: int | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.base_url, self.token, self.paths, self.pause, self.limit = base_url, token, paths, pause, limit
        self.stopped = threading.Event()
        self.ids: dict[str, list[int]] = {p: [] for p in paths}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.Client(
                base_url=self.base_url, timeout=20, headers={"Authorization": f"Token {self.token}"}
            ) as client:
                for n, path in zip(itertools.count(), itertools.cycle(self.paths)):
                    if self.stopped.is_set() or n == self.limit:
                        return
                    r = client.post(path, json={"title": f"n{n}", "data": {"n": n}})
                    r.raise_for_status()
                    self.ids[path].append(r.json()["id"])
                    self.stopped.wait(self.pause)
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def stop(self) -> None:
        self.stopped.set()
        self.join(30)
        if self.error is not None:
            raise self.error

    def count(self) -> int:
        return sum(len(v) for v in self.ids.values())


def inbox(client: httpx.Client, token: str) -> list[dict[str, Any]]:
    """The whole inbox through REST catch-up paging, oldest first."""
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        r = client.get(
            "/api/v1/notifications/", params={"after": after, "limit": 500}, headers={"Authorization": f"Token {token}"}
        )
        r.raise_for_status()
        page = r.json()["results"]
        if not page:
            return items
        items.extend(page)
        after = page[-1]["id"]


def as_frame(item: dict[str, Any]) -> dict[str, Any]:
    """A REST inbox item as the socket would have sent it."""
    return {"type": "notification", **{k: v for k, v in item.items() if k != "read"}}
