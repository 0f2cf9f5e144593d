"""GET/POST /channels/ and GET/PATCH/DELETE /channels/{slug}/ (SPEC: REST API, Details)."""

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User

from notifications.models import Channel, Notification

pytestmark = pytest.mark.django_db


def slugs(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [c["slug"] for c in response.json()["results"]]


# --- GET /channels/ ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "who,visible",
    [
        ("alice", ["news", "secret"]),
        ("bob", ["news", "secret"]),
        ("charlie", ["news"]),
        ("dave", ["news", "secret"]),
        ("staff", ["news", "secret"]),
    ],
)
def test_channel_list_shows_only_channels_visible_to_the_caller(
    api: dict, public: Channel, private: Channel, who: str, visible: list[str]
) -> None:
    response = api[who].get("/api/v1/channels/")
    assert response.status_code == 200
    assert slugs(response) == visible
    assert response.json()["next"] is None


def test_channel_list_has_subscribed_and_subscriber_count(api: dict, public: Channel, private: Channel) -> None:
    bob_view = {c["slug"]: c for c in api["bob"].get("/api/v1/channels/").json()["results"]}
    assert bob_view["news"]["subscribed"] is True and bob_view["news"]["subscriber_count"] == 1
    charlie_view = api["charlie"].get("/api/v1/channels/").json()["results"][0]
    assert charlie_view["subscribed"] is False and charlie_view["subscriber_count"] == 1
    assert set(charlie_view) >= {"slug", "name", "description", "visibility", "owner", "publishers"}
    assert charlie_view["publishers"] == ["dave"] and charlie_view["owner"] == "alice"


def test_channel_list_pages_by_slug(api: dict, alice: User) -> None:
    for i in range(5):
        Channel.objects.create(owner=alice, slug=f"c{i}", name=f"C{i}")
    first = api["bob"].get("/api/v1/channels/?limit=2").json()
    assert [c["slug"] for c in first["results"]] == ["c0", "c1"]
    second = api["bob"].get(first["next"]).json()
    assert [c["slug"] for c in second["results"]] == ["c2", "c3"]
    third = api["bob"].get(second["next"]).json()
    assert [c["slug"] for c in third["results"]] == ["c4"] and third["next"] is None


@pytest.mark.parametrize("query", ["limit=abc", "limit=-1", "limit=0", "limit=1.5", "after=%20x", "after=a%00b"])
def test_channel_list_with_malformed_paging_is_400(api: dict, query: str) -> None:
    assert api["bob"].get(f"/api/v1/channels/?{query}").status_code == 400


def test_channel_list_needs_credentials(api: dict) -> None:
    assert api["anon"].get("/api/v1/channels/").status_code == 401


# --- POST /channels/ --------------------------------------------------------------------


def test_a_user_with_add_channel_creates_a_channel_with_201_not_subscribed(api: dict) -> None:
    response = api["alice"].post(
        "/api/v1/channels/",
        {"slug": "Ops_2", "name": "Ops", "visibility": "private", "publishers": ["dave"], "description": "d"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["slug"] == "Ops_2" and body["visibility"] == "private" and body["publishers"] == ["dave"]
    assert body["subscribed"] is False and body["subscriber_count"] == 0 and body["owner"] == "alice"
    assert Channel.objects.get(slug="Ops_2").subscriptions.count() == 0


def test_staff_creates_a_channel_public_by_default(api: dict) -> None:
    response = api["staff"].post("/api/v1/channels/", {"slug": "ops", "name": "Ops"}, format="json")
    assert response.status_code == 201 and response.json()["visibility"] == "public"


@pytest.mark.parametrize("who,status", [("bob", 403), ("charlie", 403), ("dave", 403), ("anon", 401)])
def test_users_without_add_channel_may_not_create_channels(api: dict, who: str, status: int) -> None:
    assert api[who].post("/api/v1/channels/", {"slug": "ops", "name": "Ops"}, format="json").status_code == status
    assert not Channel.objects.filter(slug="ops").exists()


def test_a_duplicate_slug_is_409(api: dict, public: Channel) -> None:
    response = api["alice"].post("/api/v1/channels/", {"slug": "news", "name": "Again"}, format="json")
    assert response.status_code == 409 and "detail" in response.json()


@pytest.mark.parametrize(
    "body,field",
    [
        ({"slug": " ops", "name": "Ops"}, "slug"),
        ({"slug": "ops ", "name": "Ops"}, "slug"),
        ({"slug": "öps", "name": "Ops"}, "slug"),
        ({"slug": "o/ps", "name": "Ops"}, "slug"),
        ({"slug": "", "name": "Ops"}, "slug"),
        ({"slug": "x" * 51, "name": "Ops"}, "slug"),
        ({"slug": "o\x00ps", "name": "Ops"}, "slug"),
        ({"slug": 5, "name": "Ops"}, "slug"),
        ({"name": "Ops"}, "slug"),
        ({"slug": "ops"}, "name"),
        ({"slug": "ops", "name": "O\x00ps"}, "name"),
        ({"slug": "ops", "name": "x" * 101}, "name"),
        ({"slug": "ops", "name": ["Ops"]}, "name"),
        ({"slug": "ops", "name": "Ops", "description": "x\x00"}, "description"),
        ({"slug": "ops", "name": "Ops", "visibility": "secret"}, "visibility"),
        ({"slug": "ops", "name": "Ops", "visibility": None}, "visibility"),
        ({"slug": "ops", "name": "Ops", "publishers": "dave"}, "publishers"),
        ({"slug": "ops", "name": "Ops", "publishers": ["nobody"]}, "publishers"),
        ({"slug": "ops", "name": "Ops", "publishers": ["da\x00ve"]}, "publishers"),
        ({"slug": "ops", "name": "Ops", "publishers": [{"u": 1}]}, "publishers"),
    ],
)
def test_creating_a_channel_with_malformed_input_is_400_naming_the_field(
    api: dict, dave: User, body: dict, field: str
) -> None:
    response = api["alice"].post("/api/v1/channels/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Channel.objects.exists()


def test_creating_a_channel_from_a_json_array_or_bad_json_is_400(api: dict) -> None:
    assert api["alice"].post("/api/v1/channels/", [{"slug": "ops", "name": "Ops"}], format="json").status_code == 400
    assert api["alice"].post("/api/v1/channels/", data="{", content_type="application/json").status_code == 400


# --- GET /channels/{slug}/ ---------------------------------------------------------------


@pytest.mark.parametrize(
    "who,status", [("alice", 200), ("bob", 200), ("dave", 200), ("staff", 200), ("charlie", 404), ("anon", 401)]
)
def test_a_private_channel_is_readable_only_by_those_who_can_see_it(
    api: dict, private: Channel, who: str, status: int
) -> None:
    response = api[who].get("/api/v1/channels/secret/")
    assert response.status_code == status
    if status == 200:
        assert response.json()["slug"] == "secret"


def test_an_invisible_private_channel_answers_exactly_like_a_missing_one(api: dict, private: Channel) -> None:
    for method in ("get", "patch", "delete"):
        invisible = getattr(api["charlie"], method)("/api/v1/channels/secret/", {}, format="json")
        missing = getattr(api["charlie"], method)("/api/v1/channels/nosuch/", {}, format="json")
        assert invisible.status_code == missing.status_code == 404
        assert invisible.json() == missing.json()


def test_anyone_signed_in_reads_a_public_channel(api: dict, public: Channel) -> None:
    assert api["charlie"].get("/api/v1/channels/news/").status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/api/v1/channels/News/", "/api/v1/channels/news%20/", "/api/v1/channels/%20news/", "/api/v1/channels/ne%00ws/"],
)
def test_slugs_in_paths_are_compared_exactly(api: dict, public: Channel, path: str) -> None:
    assert api["bob"].get(path).status_code == 404


# --- PATCH /channels/{slug}/ ------------------------------------------------------------


@pytest.mark.parametrize(
    "who,status", [("alice", 200), ("staff", 200), ("bob", 403), ("dave", 403), ("charlie", 404), ("anon", 401)]
)
def test_only_owner_and_staff_change_a_private_channel(api: dict, private: Channel, who: str, status: int) -> None:
    response = api[who].patch("/api/v1/channels/secret/", {"name": "Renamed"}, format="json")
    assert response.status_code == status
    assert (Channel.objects.get(slug="secret").name == "Renamed") == (status == 200)


@pytest.mark.parametrize("who,status", [("bob", 403), ("charlie", 403), ("dave", 403)])
def test_others_may_not_change_a_public_channel(api: dict, public: Channel, who: str, status: int) -> None:
    assert api[who].patch("/api/v1/channels/news/", {"name": "X"}, format="json").status_code == status


def test_patch_changes_publishers_and_visibility(api: dict, public: Channel, charlie: User) -> None:
    response = api["alice"].patch(
        "/api/v1/channels/news/", {"publishers": ["charlie"], "visibility": "private"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["publishers"] == ["charlie"] and response.json()["visibility"] == "private"
    assert api["charlie"].get("/api/v1/channels/news/").status_code == 200  # a publisher sees it
    assert api["dave"].get("/api/v1/channels/news/").status_code == 404


@pytest.mark.parametrize(
    "body,field",
    [
        ({"slug": "renamed"}, "slug"),
        ({"name": ""}, "name"),
        ({"name": 7}, "name"),
        ({"name": "a\x00"}, "name"),
        ({"visibility": "hidden"}, "visibility"),
        ({"publishers": ["nobody"]}, "publishers"),
        ({"publishers": None}, "publishers"),
    ],
)
def test_patch_with_malformed_input_is_400_and_changes_nothing(
    api: dict, public: Channel, body: dict, field: str
) -> None:
    response = api["alice"].patch("/api/v1/channels/news/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    channel = Channel.objects.get(pk=public.pk)
    assert (channel.slug, channel.name, channel.visibility) == ("news", "News", "public")
    assert [u.username for u in channel.publishers.all()] == ["dave"]


# --- DELETE /channels/{slug}/ -----------------------------------------------------------


@pytest.mark.parametrize("who,status", [("bob", 403), ("dave", 403), ("charlie", 404), ("anon", 401)])
def test_only_owner_and_staff_delete_a_private_channel(api: dict, private: Channel, who: str, status: int) -> None:
    assert api[who].delete("/api/v1/channels/secret/").status_code == status
    assert Channel.objects.filter(slug="secret").exists()


@pytest.mark.parametrize("who", ["alice", "staff"])
def test_deleting_a_channel_answers_204_and_removes_its_history(
    api: dict, public: Channel, who: str, publish: Callable[..., int]
) -> None:
    publish(channel=public)
    assert api[who].delete("/api/v1/channels/news/").status_code == 204
    assert not Channel.objects.filter(slug="news").exists()
    assert not Notification.objects.exists()
    assert api[who].get("/api/v1/channels/news/").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/channels/news/subscription/",
        "/api/v1/channels/news/subscribers/",
        "/api/v1/channels/news/events/",
        "/api/v1/channels/news/subscribers/bob/",
    ],
)
def test_sub_resources_do_not_answer_for_the_channel_itself(api: dict, public: Channel, path: str) -> None:
    assert api["alice"].patch(path, {"name": "Hijacked"}, format="json").status_code == 405
    if not path.endswith(("subscription/", "bob/")):
        assert api["alice"].delete(path).status_code == 405
    if not path.endswith("events/"):
        assert api["alice"].get(path).status_code == 405
    channel = Channel.objects.get(slug="news")
    assert channel.name == "News"
