"""GET /notifications/, unread-count, read and read-all (SPEC: Inbox, REST API, Details)."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User

from notifications import services
from notifications.models import Channel

pytestmark = pytest.mark.django_db

INBOX = "/api/v1/notifications/"


def ids(response) -> list[int]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    return [n["id"] for n in response.json()["results"]]


def unread(client) -> int:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/notifications/unread-count/")
    assert response.status_code == 200
    return response.json()["unread"]


def test_the_inbox_holds_notifications_published_while_subscribed_plus_direct_ones(
    api: dict, public: Channel, private: Channel, charlie: User, bob: User, publish: Callable[..., int]
) -> None:
    before = publish(channel=public, title="before")
    services.channel_subscribe(channel=public, user=charlie)
    during = publish(channel=public, title="during")
    direct = publish(recipient=charlie, title="direct")
    publish(recipient=bob, title="not charlie's")
    publish(channel=private, title="not subscribed")
    services.channel_unsubscribe(channel=public, user=charlie)
    publish(channel=public, title="after")
    services.channel_subscribe(channel=public, user=charlie)
    again = publish(channel=public, title="again")
    assert before < during
    assert ids(api["charlie"].get(INBOX)) == [again, direct, during]


def test_inbox_items_carry_a_read_flag_and_the_notification_fields(
    api: dict, public: Channel, publish: Callable[..., int]
) -> None:
    nid = publish(channel=public)
    item = api["bob"].get(INBOX).json()["results"][0]
    assert item["read"] is False and item["channel"] == "news" and item["id"] == nid
    assert set(item) == {"id", "channel", "title", "body", "level", "data", "created_at", "read"}


def test_the_inbox_pages_newest_first_with_before(api: dict, public: Channel, publish: Callable[..., int]) -> None:
    made = [publish(channel=public, title=str(i)) for i in range(5)]
    first = api["bob"].get(f"{INBOX}?limit=2")
    assert ids(first) == made[:-3:-1]
    second = api["bob"].get(first.json()["next"])
    assert ids(second) == [made[2], made[1]]
    third = api["bob"].get(second.json()["next"])
    assert ids(third) == [made[0]] and third.json()["next"] is None
    assert ids(api["bob"].get(f"{INBOX}?before={made[3]}")) == [made[2], made[1], made[0]]


def test_the_inbox_catches_up_oldest_first_with_after(api: dict, public: Channel, publish: Callable[..., int]) -> None:
    made = [publish(channel=public, title=str(i)) for i in range(4)]
    first = api["bob"].get(f"{INBOX}?after={made[0]}&limit=3")
    assert ids(first) == made[1:]
    last = api["bob"].get(first.json()["next"])
    assert last.json() == {"results": [], "next": None}


def test_the_inbox_limit_is_capped_at_500(api: dict, bob: User, publish: Callable[..., int]) -> None:
    for i in range(501):
        publish(recipient=bob, title=str(i))
    response = api["bob"].get(f"{INBOX}?limit=501")
    assert len(ids(response)) == 500 and "limit=500" in response.json()["next"]


@pytest.mark.parametrize(
    "query",
    [
        "limit=x",
        "limit=0",
        "before=x",
        "before=-1",
        "after=1e3",
        "after=+1",
        "before=99999999999999999999",
        "unread=maybe",
        "after=1&before=5",
        "channel=%20news",
        "channel=a%00",
    ],
)
def test_the_inbox_with_malformed_query_is_400(api: dict, query: str) -> None:
    assert api["bob"].get(f"{INBOX}?{query}").status_code == 400


def test_unread_only_and_reading_one(api: dict, public: Channel, publish: Callable[..., int]) -> None:
    first, second = publish(channel=public), publish(channel=public)
    assert unread(api["bob"]) == 2
    response = api["bob"].post(f"{INBOX}{first}/read/")
    assert response.status_code == 200 and response.json() == {"unread": 1}
    assert api["bob"].post(f"{INBOX}{first}/read/").json() == {"unread": 1}  # again: no change
    assert ids(api["bob"].get(f"{INBOX}?unread=1")) == [second]
    flags = {n["id"]: n["read"] for n in api["bob"].get(INBOX).json()["results"]}
    assert flags == {first: True, second: False}


def test_reading_a_notification_outside_the_inbox_is_404(
    api: dict, public: Channel, private: Channel, publish: Callable[..., int]
) -> None:
    public_id = publish(channel=public)
    private_id = publish(channel=private)
    for nid in (public_id, private_id, 10**6, 99999999999999999999999):
        response = api["charlie"].post(f"{INBOX}{nid}/read/")
        assert response.status_code == 404
        assert response.json() == {"detail": "No such notification in your inbox."}


def test_read_all_marks_everything_read(api: dict, public: Channel, bob: User, publish: Callable[..., int]) -> None:
    publish(channel=public)
    publish(recipient=bob)
    response = api["bob"].post(f"{INBOX}read-all/")
    assert response.status_code == 200 and response.json() == {"unread": 0}
    assert unread(api["bob"]) == 0 and ids(api["bob"].get(f"{INBOX}?unread=1")) == []
    later = publish(channel=public)
    assert unread(api["bob"]) == 1 and ids(api["bob"].get(f"{INBOX}?unread=1")) == [later]


def test_deleting_a_channel_removes_its_notifications_from_inboxes_and_unread_counts(
    api: dict, public: Channel, bob: User, publish: Callable[..., int]
) -> None:
    gone = publish(channel=public)
    direct = publish(recipient=bob)
    assert unread(api["bob"]) == 2
    assert api["alice"].delete("/api/v1/channels/news/").status_code == 204
    assert ids(api["bob"].get(INBOX)) == [direct]
    assert unread(api["bob"]) == 1
    assert api["bob"].post(f"{INBOX}{gone}/read/").status_code == 404


def test_inbox_endpoints_need_credentials(api: dict) -> None:
    for method, path in [
        ("get", INBOX),
        ("get", f"{INBOX}unread-count/"),
        ("post", f"{INBOX}1/read/"),
        ("post", f"{INBOX}read-all/"),
    ]:
        assert getattr(api["anon"], method)(path).status_code == 401


def test_a_revoked_token_cannot_read_the_inbox(api: dict) -> None:
    made = api["bob"].post("/api/v1/tokens/", {"name": "t"}, format="json").json()
    api["bob"].delete(f"/api/v1/tokens/{made['id']}/")
    api["anon"].credentials(HTTP_AUTHORIZATION=f"Token {made['key']}")
    assert api["anon"].get(INBOX).status_code == 401
