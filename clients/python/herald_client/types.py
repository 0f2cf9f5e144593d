"""The payloads that cross the wire (SPEC.md), as TypedDicts."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

Level = Literal["info", "success", "warning", "error"]
LEVELS: tuple[Level, ...] = ("info", "success", "warning", "error")


class Notification(TypedDict):
    """A published notification, as REST answers it and as the socket pushes it."""

    id: int
    channel: str | None
    title: str
    body: str
    level: Level
    data: dict[str, Any]
    created_at: str


class InboxItem(Notification):
    """A notification in the caller's inbox, with its per-user read flag."""

    read: bool


class Channel(TypedDict):
    """A channel as seen by the caller."""

    slug: str
    name: str
    description: str
    visibility: Literal["public", "private"]
    owner: str
    publishers: list[str]
    subscribed: bool
    subscriber_count: int
    created_at: str


class Token(TypedDict, total=False):
    """An API token; `key` is present only in the answer that created it."""

    id: int
    name: str
    prefix: str
    created_at: str
    last_used_at: str | None
    key: str


class Welcome(TypedDict):
    """The first frame on every socket."""

    type: Literal["welcome"]
    user: str
    channels: list[str]
    last_id: int
