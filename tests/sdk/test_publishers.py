"""Client and AsyncClient against a real server: publishing, idempotent retries, and one exception
class per kind of refusal."""

from __future__ import annotations

import time

import pytest
from herald_client import (
    AsyncClient,
    BadRequest,
    Client,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)

from tests.sdk.conftest import FAST, AsyncFaulty, Faulty, Member, history_ids, unique
from tests.support.live import LivePlatform, ServerProcess, free_port

# --- the sync publisher ------------------------------------------------------------------------


def test_publish_returns_the_stored_notification(staff: Client, member: Member) -> None:
    n = staff.publish(member.channel, " Deploy done ", body="v2", level="success", data={"build": 7})
    assert n["channel"] == member.channel
    assert (n["title"], n["body"], n["level"], n["data"]) == ("Deploy done", "v2", "success", {"build": 7})
    assert isinstance(n["id"], int) and n["created_at"].endswith("Z")
    assert history_ids(staff, member.channel) == [n["id"]]


def test_publish_again_with_the_same_key_answers_200_with_the_first_notification(
    live_platform: LivePlatform, member: Member
) -> None:
    transport = Faulty(lose=0)
    with Client(live_platform.url, live_platform.staff_token, transport=transport) as client:
        first = client.publish(member.channel, "once", idempotency_key="key-1")
        again = client.publish(member.channel, "once", idempotency_key="key-1")
        assert again == first
        assert [status for _, _, status in transport.sent] == [201, 200]
        assert history_ids(client, member.channel) == [first["id"]]


def test_a_lost_answer_is_retried_with_the_same_key_and_delivers_once(
    live_platform: LivePlatform, member: Member
) -> None:
    transport = Faulty(lose=1)  # the server stores it, the answer never arrives
    with Client(live_platform.url, live_platform.staff_token, transport=transport, backoff=FAST) as client:
        n = client.publish(member.channel, "exactly once")
        keys = [key for method, key, _ in transport.sent if method == "POST"]
        assert len(keys) == 2 and keys[0] == keys[1] and keys[0]
        assert [status for _, _, status in transport.sent] == [201, 200]
        assert history_ids(client, member.channel) == [n["id"]]


def test_a_5xx_is_retried_with_the_same_key_and_delivers_once(live_platform: LivePlatform, member: Member) -> None:
    transport = Faulty(lose=2, as_status=503)
    with Client(live_platform.url, live_platform.staff_token, transport=transport, backoff=FAST) as client:
        n = client.publish(member.channel, "through two 503s")
        assert len({key for _, key, _ in transport.sent}) == 1
        assert history_ids(client, member.channel) == [n["id"]]


def test_5xx_after_the_last_retry_raises_server_error(live_platform: LivePlatform, member: Member) -> None:
    transport = Faulty(lose=3, as_status=502)
    with Client(live_platform.url, live_platform.staff_token, transport=transport, backoff=FAST, retries=2) as c:
        with pytest.raises(ServerError) as info:
            c.publish(member.channel, "x")
        assert info.value.status == 502
        assert len(transport.sent) == 3


def test_a_new_publish_gets_a_new_key(live_platform: LivePlatform, member: Member) -> None:
    transport = Faulty(lose=0)
    with Client(live_platform.url, live_platform.staff_token, transport=transport) as client:
        a = client.publish(member.channel, "same")
        b = client.publish(member.channel, "same")
        assert a["id"] != b["id"]
        assert transport.sent[0][1] != transport.sent[1][1]


def test_the_same_key_with_a_different_body_raises_conflict(staff: Client, member: Member) -> None:
    staff.publish(member.channel, "first", idempotency_key="k-409")
    with pytest.raises(Conflict) as info:
        staff.publish(member.channel, "second", idempotency_key="k-409")
    assert info.value.status == 409


def test_invalid_input_raises_bad_request_naming_the_field(staff: Client, member: Member) -> None:
    with pytest.raises(BadRequest) as info:
        staff.publish(member.channel, "   ")
    assert info.value.status == 400
    assert "title" in info.value.errors
    with pytest.raises(BadRequest) as info:
        staff.publish(member.channel, "ok", level="fatal")  # type: ignore[arg-type]
    assert "level" in info.value.errors


def test_a_bad_token_raises_unauthorized(live_platform: LivePlatform, member: Member) -> None:
    with Client(live_platform.url, "not-a-token") as client, pytest.raises(Unauthorized):
        client.publish(member.channel, "x")
    with Client(live_platform.url, "") as client, pytest.raises(Unauthorized):
        client.channels()


def test_a_member_who_may_not_publish_gets_forbidden(live_platform: LivePlatform, member: Member) -> None:
    with Client(live_platform.url, member.token) as client:
        with pytest.raises(Forbidden) as info:
            client.publish(member.channel, "not mine")
        assert info.value.status == 403
        with pytest.raises(Forbidden):
            client.send_direct(member.username, "only staff")


def test_an_unknown_channel_raises_not_found(staff: Client, member: Member) -> None:
    with pytest.raises(NotFound):
        staff.publish(unique("missing"), "x")
    with pytest.raises(NotFound):
        staff.send_direct(unique("nobody"), "x")
    with pytest.raises(NotFound):
        staff.mark_read(10**12)


def test_a_real_429_raises_rate_limited_with_retry_after(
    throttled_server: ServerProcess, live_platform: LivePlatform
) -> None:
    username, token = live_platform.create_user()
    channel = live_platform.create_channel(publishers=[username])
    with Client(throttled_server.url, token, retries=0) as client:
        client.publish(channel, "1")
        client.publish(channel, "2")
        with pytest.raises(RateLimited) as info:
            client.publish(channel, "3")
    assert info.value.status == 429
    assert info.value.retry_after is not None and 0 < info.value.retry_after <= 2


def test_429_is_retried_after_the_servers_retry_after(
    throttled_server: ServerProcess, live_platform: LivePlatform
) -> None:
    username, token = live_platform.create_user()
    channel = live_platform.create_channel(publishers=[username])
    with Client(throttled_server.url, token, retries=3) as client:
        started = time.monotonic()
        ids = [client.publish(channel, str(i))["id"] for i in range(4)]
        assert time.monotonic() - started >= 0.5  # it waited for the window instead of failing
    with Client(live_platform.url, live_platform.staff_token) as staff:
        assert history_ids(staff, channel) == ids


def test_429_asking_for_too_long_a_wait_is_raised_at_once(
    throttled_server: ServerProcess, live_platform: LivePlatform
) -> None:
    username, token = live_platform.create_user()
    channel = live_platform.create_channel(publishers=[username])
    with Client(throttled_server.url, token, retries=5, max_retry_after=0.01) as client:
        client.publish(channel, "1")
        client.publish(channel, "2")
        started = time.monotonic()
        with pytest.raises(RateLimited):
            client.publish(channel, "3")
        assert time.monotonic() - started < 0.5


def test_an_unreachable_server_raises_transport_error_after_retries() -> None:
    with Client(f"http://127.0.0.1:{free_port()}", "t", backoff=FAST, retries=2) as client:
        started = time.monotonic()
        with pytest.raises(TransportError):
            client.publish("general", "nobody home")
        assert time.monotonic() - started >= 0.05  # it backed off between attempts


# --- the rest of the sync API ---------------------------------------------------------------------


def test_channels_subscribe_and_unsubscribe(live_platform: LivePlatform, member: Member) -> None:
    other = live_platform.create_channel()
    with Client(live_platform.url, member.token) as client:
        by_slug = {c["slug"]: c for c in client.channels()}
        assert by_slug[member.channel]["subscribed"] is True
        assert by_slug[other]["subscribed"] is False
        assert client.subscribe(other) is True
        assert client.subscribe(other) is False
        assert client.channel(other)["subscriber_count"] == 1
        client.unsubscribe(other)
        assert client.channel(other)["subscribed"] is False
        with pytest.raises(NotFound):
            client.subscribe(unique("missing"))


def test_inbox_unread_count_and_mark_read(live_platform: LivePlatform, staff: Client, member: Member) -> None:
    a = staff.publish(member.channel, "a")
    b = staff.publish(member.channel, "b")
    d = staff.send_direct(member.username, "direct", level="warning")
    assert d["channel"] is None
    with Client(live_platform.url, member.token) as client:
        assert [n["id"] for n in client.inbox()] == [d["id"], b["id"], a["id"]]
        assert [n["id"] for n in client.inbox(after=a["id"])] == [b["id"], d["id"]]
        assert client.unread_count() == 3
        assert client.mark_read(b["id"]) == 2
        assert [n["id"] for n in client.inbox(unread=True)] == [d["id"], a["id"]]
        assert client.mark_all_read() == 0
        assert client.unread_count() == 0


def test_tokens_and_tickets(live_platform: LivePlatform) -> None:
    username, _ = live_platform.create_user(password="pw-123456-abc")
    with Client(live_platform.url, token="") as anonymous:
        key = anonymous.obtain_token(username, "pw-123456-abc")
        with pytest.raises(Unauthorized):
            anonymous.obtain_token(username, "wrong")
    with Client(live_platform.url, key) as client:
        made = client.create_token("ci")
        assert made["name"] == "ci" and made["key"]
        assert "ci" in {t["name"] for t in client.tokens()}
        assert client.ws_ticket()
        client.revoke_token(made["id"])
    with Client(live_platform.url, made["key"]) as revoked, pytest.raises(Unauthorized):
        revoked.unread_count()


def test_url_and_token_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, live_platform: LivePlatform, member: Member
) -> None:
    monkeypatch.setenv("HERALD_URL", live_platform.url + "/")
    monkeypatch.setenv("HERALD_TOKEN", member.token)
    with Client() as client:
        assert client.ws_url == live_platform.ws_url
        assert member.channel in {c["slug"] for c in client.channels()}


# --- the async publisher --------------------------------------------------------------------------


async def test_async_publish_and_idempotent_retry(live_platform: LivePlatform, member: Member) -> None:
    transport = AsyncFaulty(lose=1)
    async with AsyncClient(live_platform.url, live_platform.staff_token, transport=transport, backoff=FAST) as client:
        n = await client.publish(member.channel, "async once", data={"k": [1, 2]})
        assert n["data"] == {"k": [1, 2]}
        assert [status for _, _, status in transport.sent] == [201, 200]
        assert len({key for _, key, _ in transport.sent}) == 1
        again = await client.publish(
            member.channel, "async once", data={"k": [1, 2]}, idempotency_key=transport.sent[0][1]
        )
        assert again == n
        assert [x["id"] for x in await client.history(member.channel)] == [n["id"]]


async def test_async_errors(live_platform: LivePlatform, member: Member) -> None:
    async with AsyncClient(live_platform.url, live_platform.staff_token) as staff:
        await staff.publish(member.channel, "a", idempotency_key="async-409")
        with pytest.raises(Conflict):
            await staff.publish(member.channel, "b", idempotency_key="async-409")
        with pytest.raises(BadRequest) as info:
            await staff.publish(member.channel, "x", data={"blob": "y" * 20000})
        assert "data" in info.value.errors
        with pytest.raises(NotFound):
            await staff.publish(unique("missing"), "x")
    async with AsyncClient(live_platform.url, member.token) as client:
        with pytest.raises(Forbidden):
            await client.publish(member.channel, "x")
        assert await client.subscribe(member.channel) is False
        assert await client.unread_count() == 1
    async with AsyncClient(live_platform.url, "bad") as client:
        with pytest.raises(Unauthorized):
            await client.inbox()


async def test_async_rate_limited(throttled_server: ServerProcess, live_platform: LivePlatform) -> None:
    username, token = live_platform.create_user()
    channel = live_platform.create_channel(publishers=[username])
    async with AsyncClient(throttled_server.url, token, retries=0) as client:
        await client.publish(channel, "1")
        await client.publish(channel, "2")
        with pytest.raises(RateLimited) as info:
            await client.publish(channel, "3")
        assert info.value.retry_after is not None
    async with AsyncClient(throttled_server.url, token, retries=3) as client:
        assert (await client.publish(channel, "4"))["title"] == "4"


def test_a_key_is_scoped_to_the_publisher_across_targets(
    live_platform: LivePlatform, staff: Client, member: Member
) -> None:
    other = live_platform.create_channel()
    staff.publish(member.channel, "same body", idempotency_key="k-target")
    with pytest.raises(Conflict):
        staff.publish(other, "same body", idempotency_key="k-target")
    with pytest.raises(Conflict):
        staff.send_direct(member.username, "same body", idempotency_key="k-target")


def test_a_retry_spelling_out_the_defaults_is_the_same_body(staff: Client, member: Member) -> None:
    first = staff.publish(member.channel, "defaults", idempotency_key="k-defaults")
    again = staff.publish(member.channel, "defaults", body="", level="info", data={}, idempotency_key="k-defaults")
    assert again == first
