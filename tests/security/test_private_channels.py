"""Private channels never leak: not through lists, history, inbox, replay, sockets, direct
notifications, or error answers that tell a hidden channel from a missing one."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from tests.security.conftest import World, publish
from tests.security.sockets import ask, frame, frame_of, open_socket

MISSING = "no-such-channel"

CHANNEL_OPERATIONS = [
    ("get", "/api/v1/channels/{slug}/", None),
    ("patch", "/api/v1/channels/{slug}/", {"name": "renamed"}),
    ("delete", "/api/v1/channels/{slug}/", None),
    ("post", "/api/v1/channels/{slug}/subscription/", None),
    ("delete", "/api/v1/channels/{slug}/subscription/", None),
    ("post", "/api/v1/channels/{slug}/subscribers/", {"usernames": ["charlie"]}),
    ("delete", "/api/v1/channels/{slug}/subscribers/bob/", None),
    ("get", "/api/v1/channels/{slug}/events/", None),
    ("post", "/api/v1/channels/{slug}/events/", {"title": "leak?"}),
]


def rest_answer(client, method: str, path: str, body: dict | None) -> tuple[int, object]:
    response = getattr(client, method)(path, body, format="json")
    return response.status_code, response.json() if response.content else None


@pytest.mark.parametrize(("method", "path", "body"), CHANNEL_OPERATIONS)
def test_a_hidden_private_channel_answers_exactly_like_a_missing_one_over_rest(
    world: World, method, path, body
) -> None:
    charlie = world.api("charlie")

    hidden = rest_answer(charlie, method, path.format(slug="secret"), body)
    missing = rest_answer(charlie, method, path.format(slug=MISSING), body)

    assert hidden == missing
    assert hidden[0] == 404
    world.secret.refresh_from_db()
    assert world.secret.name == "Secret"
    assert world.secret.subscriptions.filter(user=world.charlie).count() == 0


def test_channel_list_shows_a_private_channel_only_to_those_who_may_see_it(world: World) -> None:
    def slugs(name: str) -> set[str]:
        return {c["slug"] for c in world.api(name).get("/api/v1/channels/?limit=500").json()["results"]}

    assert "secret" not in slugs("charlie")
    assert {"news", "secret"} <= slugs("bob") & slugs("alice") & slugs("dave") & slugs("staff")
    assert "secret" not in {c["slug"] for c in world.api("charlie").get("/api/v1/channels/?after=a").json()["results"]}


def test_outsider_inbox_never_holds_private_or_other_users_direct_notifications(world: World) -> None:
    secret_id = publish(sender=world.alice, channel=world.secret, title="private plans")
    direct_id = publish(sender=world.staff, recipient=world.bob, title="for bob only")
    charlie = world.api("charlie")

    for query in ("", "?after=0", "?unread=1", "?channel=secret", "?before=999999"):
        body = charlie.get(f"/api/v1/notifications/{query}").json()
        assert body["results"] == []
    assert charlie.get("/api/v1/notifications/unread-count/").json() == {"unread": 0}
    bob_ids = {n["id"] for n in world.api("bob").get("/api/v1/notifications/").json()["results"]}
    assert {secret_id, direct_id} <= bob_ids


def test_marking_someone_elses_notification_read_answers_like_a_missing_one(world: World) -> None:
    secret_id = publish(sender=world.alice, channel=world.secret)
    direct_id = publish(sender=world.staff, recipient=world.bob)
    charlie = world.api("charlie")

    missing = charlie.post(f"/api/v1/notifications/{direct_id + 1000}/read/")
    for hidden_id in (secret_id, direct_id):
        hidden = charlie.post(f"/api/v1/notifications/{hidden_id}/read/")
        assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())
        assert hidden.status_code == 404
    assert world.api("bob").get("/api/v1/notifications/unread-count/").json() == {"unread": 2}


def test_removed_subscriber_no_longer_sees_the_private_channel_or_its_new_history(world: World) -> None:
    before = publish(sender=world.alice, channel=world.secret, title="while subscribed")
    removed = world.api("alice").delete("/api/v1/channels/secret/subscribers/bob/")
    assert removed.status_code == 204
    after = publish(sender=world.alice, channel=world.secret, title="after removal")
    bob = world.api("bob")

    assert bob.get("/api/v1/channels/secret/events/").status_code == 404
    assert bob.get("/api/v1/channels/secret/").status_code == 404
    assert "secret" not in {c["slug"] for c in bob.get("/api/v1/channels/").json()["results"]}
    inbox = {n["id"] for n in bob.get("/api/v1/notifications/?after=0").json()["results"]}
    assert before in inbox  # what was already in the inbox stays
    assert after not in inbox


# --- Sockets -----------------------------------------------------------------------------------


SOCKET_FRAMES = [
    {"type": "subscribe", "channel": "{slug}"},
    {"type": "unsubscribe", "channel": "{slug}"},
    {"type": "publish", "channel": "{slug}", "title": "leak?"},
]


@pytest.mark.django_db(transaction=True)
async def test_a_hidden_private_channel_answers_exactly_like_a_missing_one_over_the_socket(live_world: World) -> None:
    ws = await open_socket(live_world.tokens["charlie"])
    assert (await frame(ws))["type"] == "welcome"
    try:
        for template in SOCKET_FRAMES:
            hidden = await ask(ws, {k: v.format(slug="secret") for k, v in template.items()})
            missing = await ask(ws, {k: v.format(slug=MISSING) for k, v in template.items()})
            assert hidden == missing
            assert hidden["type"] == "error" and hidden["code"] == "not_found"
        secret_id = await sync_to_async(publish)(sender=live_world.alice, channel=live_world.secret)
        hidden = await ask(ws, {"type": "read", "id": secret_id})
        missing = await ask(ws, {"type": "read", "id": secret_id + 1000})
        assert hidden == missing and hidden["code"] == "not_found"
    finally:
        await ws.disconnect()
    assert await sync_to_async(live_world.secret.subscriptions.filter(user=live_world.charlie).count)() == 0


@pytest.mark.django_db(transaction=True)
async def test_replay_and_resume_never_hand_out_private_or_other_users_notifications(live_world: World) -> None:
    w = live_world
    await sync_to_async(publish)(sender=w.alice, channel=w.secret, title="private")
    await sync_to_async(publish)(sender=w.staff, recipient=w.bob, title="direct to bob")
    public_id = await sync_to_async(publish)(sender=w.alice, channel=w.news, title="public but not subscribed")

    charlie = await open_socket(w.tokens["charlie"], query="since=0")
    bob = await open_socket(w.tokens["bob"], query="since=0")
    try:
        welcome = await frame(charlie)
        assert welcome["type"] == "welcome" and welcome["channels"] == []
        assert await frame(charlie) == {"type": "replayed", "count": 0}
        assert await ask(charlie, {"type": "resume", "since": 0}) == {"type": "replayed", "count": 0}

        assert (await frame(bob))["type"] == "welcome"
        replayed = [await frame(bob) for _ in range(4)]
        assert [f["type"] for f in replayed] == ["notification", "notification", "notification", "replayed"]
        assert public_id in {f.get("id") for f in replayed}
    finally:
        await charlie.disconnect()
        await bob.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_socket_stops_receiving_a_private_channel_once_its_user_is_removed(live_world: World) -> None:
    w = live_world
    ws = await open_socket(w.tokens["bob"])
    try:
        assert (await frame(ws))["channels"] == ["news", "secret"]
        removed = await sync_to_async(w.api("alice").delete)("/api/v1/channels/secret/subscribers/bob/")
        assert removed.status_code == 204
        assert await frame_of(ws, "unsubscribed") == {"type": "unsubscribed", "channel": "secret"}

        hidden_id = await sync_to_async(publish)(sender=w.alice, channel=w.secret, title="after removal")
        marker_id = await sync_to_async(publish)(sender=w.alice, channel=w.news, title="marker")
        # Live frames arrive in id order, so the private one would come before the marker.
        delivered = await frame_of(ws, "notification")
        assert delivered["id"] == marker_id
        assert hidden_id < marker_id

        await ws.send_json_to({"type": "resume", "since": 0})
        replayed = []
        while (got := await frame(ws))["type"] != "replayed":
            replayed.append(got["id"])
        assert replayed == [marker_id]
    finally:
        await ws.disconnect()
