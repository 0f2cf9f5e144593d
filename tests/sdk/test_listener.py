"""Listener against a real server: live delivery, replay with `since`, resuming after the server
restarts or dies, dropping what it already saw, and stopping on a refused credential."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from herald_client import AsyncClient, Backoff, BadRequest, Client, HeraldError, Listener, Notification, Unauthorized

from tests.sdk.conftest import Member
from tests.support.live import LivePlatform

WAIT = 20.0


class Collector:
    """Runs a Listener in a task and collects what it yields."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.items: list[Notification] = []
        self.frames: list[dict[str, Any]] = []
        listener.on_frame = self.frames.append
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for notification in self.listener:
            self.items.append(notification)

    async def until(self, count: int, timeout: float = WAIT) -> list[Notification]:
        async def enough() -> None:
            while len(self.items) < count:
                if self.task.done():
                    self.task.result()  # surface the listener's exception
                    raise AssertionError(f"listener ended after {len(self.items)} notifications")
                await asyncio.sleep(0.02)

        await asyncio.wait_for(enough(), timeout)
        return self.items

    def ids(self) -> list[int]:
        return [n["id"] for n in self.items]


@asynccontextmanager
async def collecting(live_platform: LivePlatform, token: str, **kwargs: Any) -> AsyncIterator[Collector]:
    kwargs.setdefault("backoff", Backoff(initial=0.1, maximum=1.0))
    listener = Listener(live_platform.url, token, **kwargs)
    collector = Collector(listener)
    try:
        yield collector
    finally:
        await listener.close()
        await asyncio.wait_for(collector.task, 10)


async def test_live_notifications_arrive_in_order(live_platform: LivePlatform, member: Member) -> None:
    async with (
        collecting(live_platform, member.token) as c,
        AsyncClient(live_platform.url, live_platform.staff_token) as staff,
    ):
        welcome = await c.listener.wait_connected(WAIT)
        assert welcome["user"] == member.username and member.channel in welcome["channels"]
        sent = [await staff.publish(member.channel, f"n{i}", data={"i": i}) for i in range(5)]
        direct = await staff.send_direct(member.username, "just you")
        got = await c.until(6)
    assert got == [*sent, direct]  # the same fields as REST answered, without the frame's "type"
    assert c.listener.last_id == direct["id"]


async def test_since_replays_what_was_missed_then_goes_live(
    live_platform: LivePlatform, staff: Client, member: Member
) -> None:
    before = staff.publish(member.channel, "before")
    missed = [staff.publish(member.channel, f"missed {i}")["id"] for i in range(3)]
    async with collecting(live_platform, member.token, since=before["id"]) as c:
        await c.until(3)
        live = staff.publish(member.channel, "live")["id"]
        await c.until(4)
    assert c.ids() == [*missed, live]
    assert {"type": "replayed", "count": 3} in c.frames


async def test_a_resume_that_repeats_old_ids_yields_nothing_twice(
    live_platform: LivePlatform, staff: Client, member: Member
) -> None:
    first = [staff.publish(member.channel, f"a{i}")["id"] for i in range(3)]
    async with collecting(live_platform, member.token, since=0) as c:
        await c.until(3)
        await c.listener.send({"type": "resume", "since": 0})  # the server replays all three again
        await asyncio.wait_for(_frame(c, "replayed", 2), WAIT)
        later = staff.publish(member.channel, "b")["id"]
        await c.until(4)
    assert c.ids() == [*first, later]


async def _frame(c: Collector, kind: str, count: int) -> None:
    while sum(1 for f in c.frames if f.get("type") == kind) < count:
        await asyncio.sleep(0.02)


async def test_resumes_after_a_server_restart_exactly_once_in_order(
    server_up: LivePlatform, staff: Client, member: Member
) -> None:
    live_platform = server_up
    async with collecting(live_platform, member.token) as c:
        await c.listener.wait_connected(WAIT)
        sent = [staff.publish(member.channel, f"before {i}")["id"] for i in range(3)]
        await c.until(3)
        await asyncio.to_thread(live_platform.stop)  # clean shutdown: the socket is closed by the server
        await asyncio.to_thread(live_platform.start)
        # Published right after the restart, most likely before the listener is back: it gets them by replay.
        sent += [staff.publish(member.channel, f"after {i}")["id"] for i in range(3)]
        await c.until(6)
        sent += [staff.publish(member.channel, f"live {i}")["id"] for i in range(2)]
        await c.until(8)
        await asyncio.sleep(0.3)  # room for a duplicate to show up, if there were one
    assert c.ids() == sent
    assert c.listener.connections >= 2
    assert c.listener.close_codes[0] is not None  # the server said goodbye before it went


@pytest.mark.faults
async def test_resumes_after_the_server_is_killed(server_up: LivePlatform, staff: Client, member: Member) -> None:
    live_platform = server_up
    async with collecting(live_platform, member.token) as c:
        await c.listener.wait_connected(WAIT)
        sent = [staff.publish(member.channel, "before")["id"]]
        await c.until(1)
        await asyncio.to_thread(live_platform.kill)  # no close frame: the client sees 1006
        await asyncio.sleep(0.5)  # the listener retries against a closed port meanwhile
        await asyncio.to_thread(live_platform.start)
        sent += [staff.publish(member.channel, f"after {i}")["id"] for i in range(5)]
        await c.until(6)
        await asyncio.sleep(0.3)
    assert c.ids() == sent
    assert c.listener.close_codes[0] == 1006  # no close frame from a killed process


async def test_a_listener_started_without_since_resumes_from_the_welcome(
    server_up: LivePlatform, staff: Client, member: Member
) -> None:
    """A drop before the first notification must not lose what is published while it is away."""
    live_platform = server_up
    async with collecting(live_platform, member.token, backoff=Backoff(initial=1.0, maximum=1.0)) as c:
        welcome = await c.listener.wait_connected(WAIT)
        assert c.listener.last_id == welcome["last_id"]
        await asyncio.to_thread(live_platform.stop)
        await asyncio.to_thread(live_platform.start)
        sent = [staff.publish(member.channel, f"while away {i}")["id"] for i in range(3)]
        await c.until(3)
    assert c.ids() == sent


async def test_a_bad_token_stops_the_listener_with_unauthorized(live_platform: LivePlatform) -> None:
    listener = Listener(live_platform.url, "not-a-token", backoff=Backoff(initial=0.05, maximum=0.1))
    with pytest.raises(Unauthorized):
        async for _ in listener:
            pass


async def test_a_revoked_token_stops_the_listener(live_platform: LivePlatform, member: Member) -> None:
    async with AsyncClient(live_platform.url, member.token) as client:
        made = await client.create_token("to-revoke")
        listener = Listener(live_platform.url, made["key"])
        collector = Collector(listener)
        await listener.wait_connected(WAIT)
        await client.revoke_token(made["id"])
        with pytest.raises(Unauthorized):
            await asyncio.wait_for(collector.task, WAIT)


async def test_a_since_beyond_the_newest_replays_nothing(
    live_platform: LivePlatform, staff: Client, member: Member
) -> None:
    async with collecting(live_platform, member.token, since=10**15) as c:
        await c.listener.wait_connected(WAIT)
        await asyncio.wait_for(_frame(c, "replayed", 1), WAIT)
        staff.publish(member.channel, "ignored: its id is below since")
        await asyncio.sleep(0.3)
    assert c.items == []


def test_a_negative_since_is_refused_before_connecting() -> None:
    with pytest.raises(ValueError):
        Listener("http://127.0.0.1:1", "t", since=-1)


async def test_a_malformed_since_url_is_refused_with_bad_request(live_platform: LivePlatform, member: Member) -> None:
    listener = Listener(live_platform.url, member.token, ws_url=live_platform.ws_url + "?since=%2B5")
    with pytest.raises(BadRequest):
        async for _ in listener:
            pass


async def test_breaking_out_of_the_loop_closes_the_socket(
    live_platform: LivePlatform, staff: Client, member: Member
) -> None:
    ids = [staff.publish(member.channel, f"x{i}")["id"] for i in range(3)]
    got: list[int] = []
    async with Listener(live_platform.url, member.token, since=0) as listener:
        async for n in listener:
            got.append(n["id"])
            if len(got) == 2:
                break
    assert got == ids[:2]
    assert listener.last_id == ids[1]


async def test_a_refused_connection_backs_off_and_max_attempts_gives_up(
    live_platform: LivePlatform, member: Member
) -> None:
    """Over the per-user connection limit the server closes with 4429 before the welcome: the
    listener retries with growing pauses, then gives up after `max_attempts`."""
    server = live_platform.platform.start_server(HERALD_MAX_CONNECTIONS_PER_USER="1")
    try:
        async with Listener(server.url, member.token) as first:
            holder = Collector(first)
            await first.wait_connected(WAIT)
            second = Listener(server.url, member.token, max_attempts=3, backoff=Backoff(initial=0.2, maximum=5))
            started = asyncio.get_running_loop().time()
            with pytest.raises(HeraldError, match="Gave up after 3"):
                async for _ in second:
                    pass
            assert second.close_codes == [4429, 4429, 4429]
            assert asyncio.get_running_loop().time() - started >= 0.1 + 0.2  # two jittered pauses
        await asyncio.wait_for(holder.task, WAIT)
    finally:
        server.stop()
