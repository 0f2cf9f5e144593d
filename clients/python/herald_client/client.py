"""`Client` (blocking) and `AsyncClient` (asyncio): the REST API with retries and clear exceptions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from herald_client import _calls as calls
from herald_client._calls import Call, RetryPolicy
from herald_client.backoff import Backoff
from herald_client.errors import HeraldError
from herald_client.types import Channel, InboxItem, Level, Notification, Token

T = TypeVar("T")


class _Base:
    def __init__(
        self,
        url: str | None,
        token: str | None,
        *,
        timeout: float,
        retries: int,
        backoff: Backoff | None,
        max_retry_after: float,
    ) -> None:
        self.url = calls.resolve_url(url)
        self.token = calls.resolve_token(token)
        self.api_url = f"{self.url}/api/v1/"
        self.ws_url = calls.ws_url_for(self.url)
        self.timeout = timeout
        self.retry = RetryPolicy(retries=retries, backoff=backoff or Backoff(), max_retry_after=max_retry_after)

    def _retry_delay(
        self, call: Call[Any], attempt: int, response: httpx.Response | None, exc: httpx.TransportError | None
    ) -> float | None:
        """None when `response` is a success; else the pause before the next attempt, or raises."""
        if response is not None:
            try:
                calls.raise_for_response(response)
            except HeraldError as error:
                delay = self.retry.delay(call, attempt, error)
                if delay is None:
                    raise
                return delay
            return None
        assert exc is not None
        delay = self.retry.delay(call, attempt, exc)
        if delay is None:
            raise calls.transport_error(exc, call) from exc
        return delay


class Client(_Base):
    """Blocking client for the Herald REST API.

    `url` and `token` default to $HERALD_URL and $HERALD_TOKEN. Failed requests are retried
    (connection errors, 5xx and 429, honouring Retry-After) with exponential backoff and jitter;
    a publish resends the same Idempotency-Key, so a retry never delivers twice.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: Backoff | None = None,
        max_retry_after: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(url, token, timeout=timeout, retries=retries, backoff=backoff, max_retry_after=max_retry_after)
        self._http = httpx.Client(
            base_url=self.api_url, headers=calls.base_headers(self.token), timeout=timeout, transport=transport
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def call(self, call: Call[T]) -> T:
        """Send one endpoint call, retrying as the policy allows."""
        attempt = 0
        while True:
            response, exc = None, None
            try:
                response = self._http.request(
                    call.method, call.path, json=call.json, params=call.params, headers=call.headers
                )
            except httpx.TransportError as error:
                exc = error
            delay = self._retry_delay(call, attempt, response, exc)
            if delay is None:
                assert response is not None
                return call.parse(response)
            time.sleep(delay)
            attempt += 1

    # --- auth and tokens ---

    def obtain_token(self, username: str, password: str) -> str:
        """A new API token key for these credentials (`POST /auth/token/`)."""
        return self.call(calls.obtain_token(username, password))

    def create_token(self, name: str) -> Token:
        """Create a named token for the caller; its `key` is shown only in this answer."""
        return self.call(calls.create_token(name))

    def tokens(self) -> list[Token]:
        """The caller's tokens (without keys)."""
        return self.call(calls.tokens())

    def revoke_token(self, token_id: int) -> None:
        """Revoke one of the caller's tokens; sockets it opened are closed."""
        self.call(calls.revoke_token(token_id))

    def ws_ticket(self) -> str:
        """A single-use WebSocket credential, valid 60 s (`?ticket=` on the socket URL)."""
        return self.call(calls.ws_ticket())

    # --- publishing ---

    def publish(
        self,
        channel: str,
        title: str,
        *,
        body: str | None = None,
        level: Level | None = None,
        data: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Notification:
        """Publish to a channel; returns the stored notification (the first one, for a repeated key)."""
        payload = calls.notification_body(title, body, level, data)
        return self.call(calls.publish(channel, payload, idempotency_key))

    def send_direct(
        self,
        username: str,
        title: str,
        *,
        body: str | None = None,
        level: Level | None = None,
        data: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Notification:
        """Send a direct notification to one user (staff only)."""
        payload = calls.notification_body(title, body, level, data)
        return self.call(calls.send_direct(username, payload, idempotency_key))

    def history(self, channel: str, *, after: int | None = None, limit: int | None = None) -> list[Notification]:
        """One page of a channel's history, oldest first, ids after `after`."""
        return self.call(calls.history(channel, after, limit))

    # --- channels and subscriptions ---

    def channels(self) -> list[Channel]:
        """Every channel visible to the caller (all pages)."""
        out: list[Channel] = []
        call: Call[dict[str, Any]] | None = calls.channels_page()
        while call is not None:
            page = self.call(call)
            out.extend(page["results"])
            call = calls.next_page(call, page)
        return out

    def channel(self, slug: str) -> Channel:
        """One channel."""
        return self.call(calls.channel(slug))

    def create_channel(
        self,
        slug: str,
        name: str,
        *,
        description: str = "",
        visibility: str = "public",
        publishers: list[str] | None = None,
    ) -> Channel:
        """Create a channel (staff, or users with the `add_channel` permission)."""
        return self.call(
            calls.create_channel(slug, name, description=description, visibility=visibility, publishers=publishers)
        )

    def delete_channel(self, slug: str) -> None:
        """Delete a channel with its history (owner or staff)."""
        self.call(calls.delete_channel(slug))

    def subscribe(self, slug: str) -> bool:
        """Subscribe the caller; True if newly subscribed, False if already."""
        return self.call(calls.subscribe(slug))

    def unsubscribe(self, slug: str) -> None:
        """Unsubscribe the caller; the inbox keeps what it has."""
        self.call(calls.unsubscribe(slug))

    # --- inbox ---

    def inbox(
        self,
        *,
        unread: bool = False,
        before: int | None = None,
        after: int | None = None,
        limit: int | None = None,
        channel: str | None = None,
    ) -> list[InboxItem]:
        """One page of the inbox: newest first, or with `after`, oldest first from there."""
        return self.call(calls.inbox(unread, before, after, limit, channel))

    def unread_count(self) -> int:
        """How many inbox notifications are unread."""
        return self.call(calls.unread_count())

    def mark_read(self, notification_id: int) -> int:
        """Mark one notification read; returns the new unread count."""
        return self.call(calls.mark_read(notification_id))

    def mark_all_read(self) -> int:
        """Mark the whole inbox read; returns 0."""
        return self.call(calls.mark_all_read())


class AsyncClient(_Base):
    """asyncio client for the Herald REST API; the same methods as `Client`, awaited."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: Backoff | None = None,
        max_retry_after: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(url, token, timeout=timeout, retries=retries, backoff=backoff, max_retry_after=max_retry_after)
        self._http = httpx.AsyncClient(
            base_url=self.api_url, headers=calls.base_headers(self.token), timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, call: Call[T]) -> T:
        """Send one endpoint call, retrying as the policy allows."""
        attempt = 0
        while True:
            response, exc = None, None
            try:
                response = await self._http.request(
                    call.method, call.path, json=call.json, params=call.params, headers=call.headers
                )
            except httpx.TransportError as error:
                exc = error
            delay = self._retry_delay(call, attempt, response, exc)
            if delay is None:
                assert response is not None
                return call.parse(response)
            await asyncio.sleep(delay)
            attempt += 1

    # --- auth and tokens ---

    async def obtain_token(self, username: str, password: str) -> str:
        """A new API token key for these credentials (`POST /auth/token/`)."""
        return await self.call(calls.obtain_token(username, password))

    async def create_token(self, name: str) -> Token:
        """Create a named token for the caller; its `key` is shown only in this answer."""
        return await self.call(calls.create_token(name))

    async def tokens(self) -> list[Token]:
        """The caller's tokens (without keys)."""
        return await self.call(calls.tokens())

    async def revoke_token(self, token_id: int) -> None:
        """Revoke one of the caller's tokens; sockets it opened are closed."""
        await self.call(calls.revoke_token(token_id))

    async def ws_ticket(self) -> str:
        """A single-use WebSocket credential, valid 60 s (`?ticket=` on the socket URL)."""
        return await self.call(calls.ws_ticket())

    # --- publishing ---

    async def publish(
        self,
        channel: str,
        title: str,
        *,
        body: str | None = None,
        level: Level | None = None,
        data: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Notification:
        """Publish to a channel; returns the stored notification (the first one, for a repeated key)."""
        payload = calls.notification_body(title, body, level, data)
        return await self.call(calls.publish(channel, payload, idempotency_key))

    async def send_direct(
        self,
        username: str,
        title: str,
        *,
        body: str | None = None,
        level: Level | None = None,
        data: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Notification:
        """Send a direct notification to one user (staff only)."""
        payload = calls.notification_body(title, body, level, data)
        return await self.call(calls.send_direct(username, payload, idempotency_key))

    async def history(self, channel: str, *, after: int | None = None, limit: int | None = None) -> list[Notification]:
        """One page of a channel's history, oldest first, ids after `after`."""
        return await self.call(calls.history(channel, after, limit))

    # --- channels and subscriptions ---

    async def channels(self) -> list[Channel]:
        """Every channel visible to the caller (all pages)."""
        out: list[Channel] = []
        call: Call[dict[str, Any]] | None = calls.channels_page()
        while call is not None:
            page = await self.call(call)
            out.extend(page["results"])
            call = calls.next_page(call, page)
        return out

    async def channel(self, slug: str) -> Channel:
        """One channel."""
        return await self.call(calls.channel(slug))

    async def create_channel(
        self,
        slug: str,
        name: str,
        *,
        description: str = "",
        visibility: str = "public",
        publishers: list[str] | None = None,
    ) -> Channel:
        """Create a channel (staff, or users with the `add_channel` permission)."""
        return await self.call(
            calls.create_channel(slug, name, description=description, visibility=visibility, publishers=publishers)
        )

    async def delete_channel(self, slug: str) -> None:
        """Delete a channel with its history (owner or staff)."""
        await self.call(calls.delete_channel(slug))

    async def subscribe(self, slug: str) -> bool:
        """Subscribe the caller; True if newly subscribed, False if already."""
        return await self.call(calls.subscribe(slug))

    async def unsubscribe(self, slug: str) -> None:
        """Unsubscribe the caller; the inbox keeps what it has."""
        await self.call(calls.unsubscribe(slug))

    # --- inbox ---

    async def inbox(
        self,
        *,
        unread: bool = False,
        before: int | None = None,
        after: int | None = None,
        limit: int | None = None,
        channel: str | None = None,
    ) -> list[InboxItem]:
        """One page of the inbox: newest first, or with `after`, oldest first from there."""
        return await self.call(calls.inbox(unread, before, after, limit, channel))

    async def unread_count(self) -> int:
        """How many inbox notifications are unread."""
        return await self.call(calls.unread_count())

    async def mark_read(self, notification_id: int) -> int:
        """Mark one notification read; returns the new unread count."""
        return await self.call(calls.mark_read(notification_id))

    async def mark_all_read(self) -> int:
        """Mark the whole inbox read; returns 0."""
        return await self.call(calls.mark_all_read())
