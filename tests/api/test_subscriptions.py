"""/channels/{slug}/subscription/ and /channels/{slug}/subscribers/ (SPEC: REST API, Details)."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User

from notifications.models import Channel, Subscription

pytestmark = pytest.mark.django_db


def subscribed(user: User, channel: Channel) -> bool:
    return Subscription.objects.active().filter(user=user, channel=channel).exists()


# --- POST/DELETE /channels/{slug}/subscription/ -----------------------------------------


def test_subscribing_answers_201_then_200_when_repeated(api: dict, public: Channel, charlie: User) -> None:
    first = api["charlie"].post("/api/v1/channels/news/subscription/")
    assert first.status_code == 201
    assert first.json()["subscribed"] is True and first.json()["subscriber_count"] == 2
    again = api["charlie"].post("/api/v1/channels/news/subscription/")
    assert again.status_code == 200 and again.json()["subscribed"] is True
    assert Subscription.objects.filter(user=charlie, channel=public).count() == 1


def test_an_outsider_cannot_subscribe_to_an_invisible_private_channel(
    api: dict, private: Channel, charlie: User
) -> None:
    invisible = api["charlie"].post("/api/v1/channels/secret/subscription/")
    missing = api["charlie"].post("/api/v1/channels/nosuch/subscription/")
    assert invisible.status_code == missing.status_code == 404
    assert invisible.json() == missing.json()
    assert not subscribed(charlie, private)


def test_a_publisher_who_sees_a_private_channel_may_not_join_it(api: dict, private: Channel, dave: User) -> None:
    assert api["dave"].post("/api/v1/channels/secret/subscription/").status_code == 403
    assert not subscribed(dave, private)


def test_the_owner_may_subscribe_to_a_private_channel(api: dict, private: Channel, alice: User) -> None:
    assert api["alice"].post("/api/v1/channels/secret/subscription/").status_code == 201
    assert subscribed(alice, private)


def test_unsubscribing_answers_204_and_repeating_it_changes_nothing(api: dict, public: Channel, bob: User) -> None:
    assert api["bob"].delete("/api/v1/channels/news/subscription/").status_code == 204
    assert not subscribed(bob, public)
    assert api["bob"].delete("/api/v1/channels/news/subscription/").status_code == 204


def test_subscription_endpoints_need_credentials(api: dict, public: Channel) -> None:
    assert api["anon"].post("/api/v1/channels/news/subscription/").status_code == 401
    assert api["anon"].delete("/api/v1/channels/news/subscription/").status_code == 401


def test_unsubscribing_from_an_invisible_channel_is_404(api: dict, private: Channel) -> None:
    assert api["charlie"].delete("/api/v1/channels/secret/subscription/").status_code == 404


# --- POST /channels/{slug}/subscribers/ -------------------------------------------------


def test_bulk_subscribe_counts_only_newly_subscribed_users(
    api: dict, public: Channel, bob: User, charlie: User, dave: User
) -> None:
    response = api["alice"].post(
        "/api/v1/channels/news/subscribers/", {"usernames": ["bob", "charlie", "dave", "charlie"]}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"subscribed": 2}
    assert subscribed(charlie, public) and subscribed(dave, public)
    again = api["alice"].post("/api/v1/channels/news/subscribers/", {"usernames": ["bob", "dave"]}, format="json")
    assert again.json() == {"subscribed": 0}
    assert api["alice"].post("/api/v1/channels/news/subscribers/", {"usernames": []}, format="json").json() == {
        "subscribed": 0
    }


def test_bulk_subscribe_with_unknown_usernames_is_400_naming_them_and_changes_nothing(
    api: dict, public: Channel, charlie: User
) -> None:
    response = api["alice"].post(
        "/api/v1/channels/news/subscribers/", {"usernames": ["charlie", "ghost", "phantom"]}, format="json"
    )
    assert response.status_code == 400
    message = str(response.json()["usernames"])
    assert "ghost" in message and "phantom" in message and "charlie" not in message
    assert not subscribed(charlie, public)


def test_the_owner_bulk_subscribes_to_a_private_channel(api: dict, private: Channel, charlie: User) -> None:
    response = api["alice"].post("/api/v1/channels/secret/subscribers/", {"usernames": ["charlie"]}, format="json")
    assert response.status_code == 200 and response.json() == {"subscribed": 1}
    assert api["charlie"].get("/api/v1/channels/secret/").status_code == 200


@pytest.mark.parametrize("who,status", [("bob", 403), ("dave", 403), ("charlie", 404), ("anon", 401), ("staff", 200)])
def test_only_owner_and_staff_bulk_subscribe(api: dict, private: Channel, charlie: User, who: str, status: int) -> None:
    response = api[who].post("/api/v1/channels/secret/subscribers/", {"usernames": ["charlie"]}, format="json")
    assert response.status_code == status
    assert subscribed(charlie, private) == (status == 200)


def test_bulk_subscribe_takes_10000_usernames_and_refuses_10001(api: dict, public: Channel) -> None:
    User.objects.bulk_create([User(username=f"member{i:05}") for i in range(10_000)])
    names = [f"member{i:05}" for i in range(10_000)]
    too_many = api["alice"].post("/api/v1/channels/news/subscribers/", {"usernames": [*names, "bob"]}, format="json")
    assert too_many.status_code == 400 and "usernames" in too_many.json()
    assert Subscription.objects.filter(channel=public).count() == 1
    response = api["alice"].post("/api/v1/channels/news/subscribers/", {"usernames": names}, format="json")
    assert response.status_code == 200 and response.json() == {"subscribed": 10_000}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"usernames": "bob"},
        {"usernames": None},
        {"usernames": [1]},
        {"usernames": [["bob"]]},
        {"usernames": ["bo\x00b"]},
        {"usernames": [" bob"]},
        ["bob"],
        "bob",
    ],
)
def test_bulk_subscribe_with_malformed_input_is_400(api: dict, public: Channel, body: object) -> None:
    assert api["alice"].post("/api/v1/channels/news/subscribers/", body, format="json").status_code == 400


# --- DELETE /channels/{slug}/subscribers/{username}/ ------------------------------------


@pytest.mark.parametrize(
    "who,status", [("alice", 204), ("staff", 204), ("bob", 403), ("dave", 403), ("charlie", 404), ("anon", 401)]
)
def test_only_owner_and_staff_remove_a_subscriber(
    api: dict, private: Channel, bob: User, who: str, status: int
) -> None:
    assert api[who].delete("/api/v1/channels/secret/subscribers/bob/").status_code == status
    assert subscribed(bob, private) == (status != 204)


def test_removing_an_unknown_user_is_404(api: dict, public: Channel) -> None:
    assert api["alice"].delete("/api/v1/channels/news/subscribers/ghost/").status_code == 404
    assert api["alice"].delete("/api/v1/channels/news/subscribers/gh%00ost/").status_code == 404


def test_unsubscribing_keeps_the_inbox(api: dict, public: Channel, bob: User, publish: Callable[..., int]) -> None:
    kept = publish(channel=public, title="before")
    api["alice"].delete("/api/v1/channels/news/subscribers/bob/")
    publish(channel=public, title="after")
    inbox = api["bob"].get("/api/v1/notifications/").json()["results"]
    assert [n["id"] for n in inbox] == [kept]
