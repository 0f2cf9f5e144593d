"""POST/GET /channels/{slug}/events/ and POST /subscribers/{username}/notifications/."""

import json
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from notifications.models import Channel, IdempotencyKey, Notification
from tests.support.live import LivePlatform, Platform

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/channels/news/events/"
NOTIFICATION_FIELDS = {"id", "channel", "title", "body", "level", "data", "created_at"}


def data_of_size(size: int) -> dict:
    """A `data` object whose compact UTF-8 JSON is exactly `size` bytes (é is two bytes)."""
    base = len(json.dumps({"k": ""}, separators=(",", ":")))
    filler = size - base
    return {"k": "é" * (filler // 2) + "x" * (filler % 2)}


# --- POST /channels/{slug}/events/ --------------------------------------------------------


def test_publishing_answers_201_with_the_stored_notification(api: dict, public: Channel) -> None:
    response = api["dave"].post(
        EVENTS, {"title": "  Deploy  ", "body": "b", "level": "warning", "data": {"n": 1, "ü": ["x"]}}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == NOTIFICATION_FIELDS
    assert body["channel"] == "news" and body["title"] == "Deploy" and body["level"] == "warning"
    assert body["data"] == {"n": 1, "ü": ["x"]} and body["created_at"].endswith("Z")
    stored = Notification.objects.get(id=body["id"])
    assert (stored.title, stored.channel_id) == ("Deploy", public.id)


def test_publishing_applies_defaults(api: dict, public: Channel) -> None:
    body = api["alice"].post(EVENTS, {"title": "t"}, format="json").json()
    assert (body["body"], body["level"], body["data"]) == ("", "info", {})


def test_notification_ids_strictly_increase(api: dict, public: Channel) -> None:
    ids = [api["alice"].post(EVENTS, {"title": str(i)}, format="json").json()["id"] for i in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3


@pytest.mark.parametrize(
    "who,status", [("alice", 201), ("dave", 201), ("staff", 201), ("bob", 403), ("charlie", 404), ("anon", 401)]
)
def test_only_publishers_owner_and_staff_publish_to_a_private_channel(
    api: dict, private: Channel, who: str, status: int
) -> None:
    response = api[who].post("/api/v1/channels/secret/events/", {"title": "t"}, format="json")
    assert response.status_code == status
    assert Notification.objects.count() == (1 if status == 201 else 0)


def test_a_signed_in_non_publisher_may_not_publish_to_a_public_channel(api: dict, public: Channel) -> None:
    assert api["charlie"].post(EVENTS, {"title": "t"}, format="json").status_code == 403


def test_publishing_to_an_invisible_channel_answers_like_a_missing_one(api: dict, private: Channel) -> None:
    invisible = api["charlie"].post("/api/v1/channels/secret/events/", {"title": "t"}, format="json")
    missing = api["charlie"].post("/api/v1/channels/nosuch/events/", {"title": "t"}, format="json")
    assert invisible.status_code == missing.status_code == 404 and invisible.json() == missing.json()


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": None}, "title"),
        ({"title": 5}, "title"),
        ({"title": ["t"]}, "title"),
        ({"title": "a\x00b"}, "title"),
        ({"title": "t", "body": 5}, "body"),
        ({"title": "t", "body": "\x00"}, "body"),
        ({"title": "t", "level": "critical"}, "level"),
        ({"title": "t", "level": "INFO"}, "level"),
        ({"title": "t", "level": ["info"]}, "level"),
        ({"title": "t", "level": 1}, "level"),
        ({"title": "t", "data": []}, "data"),
        ({"title": "t", "data": "{}"}, "data"),
        ({"title": "t", "data": 1}, "data"),
        ({"title": "t", "data": {"k": "a\x00"}}, "data"),
        ({"title": "t", "data": {"k\x00": 1}}, "data"),
        ({"title": "t", "data": {"deep": [{"x": ["\x00"]}]}}, "data"),
        ({"title": "t", "data": {"big": 2**70}}, "data"),
    ],
)
def test_publishing_malformed_input_is_400_naming_the_field(api: dict, public: Channel, body: dict, field: str) -> None:
    response = api["alice"].post(EVENTS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        "{",
        '{"title": "t", "data": {"x": NaN}}',
        '{"title": "t", "data": {"x": 1e400}}',
        '["title"]',
        '"title"',
        "null",
        "5",
    ],
)
def test_publishing_bad_json_is_400(api: dict, public: Channel, raw: str) -> None:
    response = api["alice"].post(EVENTS, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    "body,field",
    [
        ({"title": " " + "t" * 201 + " "}, "title"),
        ({"title": "t", "body": "b" * 4001}, "body"),
        ({"title": "t", "data": data_of_size(16 * 1024 + 1)}, "data"),
    ],
)
def test_publishing_over_a_size_limit_is_400_naming_the_field(
    api: dict, public: Channel, body: dict, field: str
) -> None:
    response = api["alice"].post(EVENTS, body, format="json")
    assert response.status_code == 400 and field in response.json()


def test_publishing_exactly_at_every_size_limit_is_accepted(api: dict, public: Channel) -> None:
    data = data_of_size(16 * 1024)
    assert len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()) == 16 * 1024
    response = api["alice"].post(
        EVENTS, {"title": " " + "t" * 200 + " ", "body": "b" * 4000, "data": data}, format="json"
    )
    assert response.status_code == 201
    assert Notification.objects.get().data == data


def test_a_request_body_over_the_upload_limit_is_413(api: dict, public: Channel, settings) -> None:  # type: ignore[no-untyped-def]
    raw = json.dumps({"title": "t", "body": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})
    response = api["alice"].post(EVENTS, data=raw, content_type="application/json")
    assert response.status_code == 413
    assert "detail" in response.json()


# --- Idempotency-Key ---------------------------------------------------------------------


def test_a_retry_with_the_same_key_answers_200_with_the_first_notification(api: dict, public: Channel) -> None:
    first = api["dave"].post(EVENTS, {"title": "t", "level": "info"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    retry = api["dave"].post(EVENTS, {"title": " t ", "data": {}}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == 201 and retry.status_code == 200
    assert retry.json() == first.json()
    assert Notification.objects.count() == 1


def test_the_same_key_with_a_different_body_is_409(api: dict, public: Channel) -> None:
    api["dave"].post(EVENTS, {"title": "t"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    response = api["dave"].post(EVENTS, {"title": "t", "body": "other"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 409 and "detail" in response.json()
    assert Notification.objects.count() == 1


def test_the_same_key_for_a_different_target_is_409(api: dict, public: Channel, private: Channel) -> None:
    api["staff"].post(EVENTS, {"title": "t"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    other_channel = api["staff"].post(
        "/api/v1/channels/secret/events/", {"title": "t"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    direct = api["staff"].post(
        "/api/v1/subscribers/bob/notifications/", {"title": "t"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert other_channel.status_code == direct.status_code == 409
    assert Notification.objects.count() == 1


def test_an_idempotency_key_is_free_again_after_24_hours(api: dict, public: Channel) -> None:
    first = api["dave"].post(EVENTS, {"title": "t"}, format="json", HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=24, minutes=1))
    again = api["dave"].post(EVENTS, {"title": "other"}, format="json", HTTP_IDEMPOTENCY_KEY="old")
    assert again.status_code == 201 and again.json()["id"] > first.json()["id"]


def test_idempotency_keys_are_scoped_per_user(api: dict, public: Channel) -> None:
    first = api["dave"].post(EVENTS, {"title": "t"}, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    second = api["alice"].post(EVENTS, {"title": "t"}, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


@pytest.mark.parametrize("key", ["", "x" * 256, "ключ".encode().decode("latin-1"), "a\tb"])
def test_a_malformed_idempotency_key_is_400(api: dict, public: Channel, key: str) -> None:
    response = api["dave"].post(EVENTS, {"title": "t"}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert not Notification.objects.exists()


def post_until_answered(client: APIClient, path: str, body: dict, key: str) -> Any:
    """A client's retry loop: a 503 (database busy; nothing stored) is retried with the same key.
    pytest-django's in-memory SQLite uses a shared cache, whose table locks fail at once instead
    of waiting; the live test below runs against a real database file."""
    deadline = time.monotonic() + 30
    while True:
        response = client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        time.sleep(0.01)


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_create_exactly_one_notification(api: dict, public: Channel) -> None:
    credentials = api["dave"]._credentials["HTTP_AUTHORIZATION"]
    statuses: list[int] = []
    ids: list[int] = []
    barrier = threading.Barrier(6)

    def retry() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=credentials)
        barrier.wait()
        try:
            response = post_until_answered(client, EVENTS, {"title": "once"}, "race")
            statuses.append(response.status_code)
            ids.append(response.json()["id"])
        finally:
            connection.close()

    threads = [threading.Thread(target=retry) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200] * 5 + [201]
    assert len(set(ids)) == 1
    assert Notification.objects.filter(title="once").count() == 1
    assert IdempotencyKey.objects.filter(key="race").count() == 1


def test_concurrent_retries_on_two_server_processes_create_exactly_one_notification(
    platform_factory: type[Platform],
) -> None:
    platform = platform_factory()
    servers = [platform.start_server(), platform.start_server()]
    live = LivePlatform(platform, servers[0])
    slug = live.create_channel()
    barrier = threading.Barrier(8)
    answers: list[httpx.Response] = []

    def retry(i: int) -> None:
        barrier.wait()
        answers.append(
            httpx.post(
                f"{servers[i % 2].url}/api/v1/channels/{slug}/events/",
                json={"title": "once"},
                headers={**live.headers(), "Idempotency-Key": "race"},
                timeout=30,
            )
        )

    threads = [threading.Thread(target=retry, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    history = live.http.get(f"/api/v1/channels/{slug}/events/", headers=live.headers()).json()
    assert [n["title"] for n in history["results"]] == ["once"]


# --- GET /channels/{slug}/events/ ----------------------------------------------------------


@pytest.mark.parametrize(
    "who,status", [("alice", 200), ("bob", 200), ("dave", 200), ("staff", 200), ("charlie", 404), ("anon", 401)]
)
def test_private_history_is_readable_by_subscribers_publishers_owner_and_staff(
    api: dict, private: Channel, publish: Callable[..., int], who: str, status: int
) -> None:
    nid = publish(channel=private)
    response = api[who].get("/api/v1/channels/secret/events/")
    assert response.status_code == status
    if status == 200:
        assert [n["id"] for n in response.json()["results"]] == [nid]


def test_public_history_is_readable_by_anyone_signed_in(
    api: dict, public: Channel, publish: Callable[..., int]
) -> None:
    publish(channel=public)
    assert len(api["charlie"].get(EVENTS).json()["results"]) == 1


def test_history_pages_oldest_first_until_an_empty_last_page(
    api: dict, public: Channel, publish: Callable[..., int]
) -> None:
    ids = [publish(channel=public, title=str(i)) for i in range(5)]
    first = api["bob"].get(f"{EVENTS}?limit=2").json()
    assert [n["id"] for n in first["results"]] == ids[:2]
    second = api["bob"].get(first["next"]).json()
    assert [n["id"] for n in second["results"]] == ids[2:4]
    third = api["bob"].get(second["next"]).json()
    assert [n["id"] for n in third["results"]] == ids[4:] and third["next"] is None
    exact = api["bob"].get(f"{EVENTS}?after={ids[0]}&limit=4").json()
    assert [n["id"] for n in exact["results"]] == ids[1:]
    last = api["bob"].get(exact["next"]).json()
    assert last == {"results": [], "next": None}


def test_history_limit_is_capped_at_500(api: dict, public: Channel, alice: User) -> None:
    Notification.objects.bulk_create(
        [Notification(id=i, channel=public, title="t", created_at="2026-01-01T00:00Z") for i in range(1, 502)]
    )
    response = api["bob"].get(f"{EVENTS}?limit=100000").json()
    assert len(response["results"]) == 500 and response["next"] and "limit=500" in response["next"]
    assert len(api["bob"].get(EVENTS).json()["results"]) == 50


@pytest.mark.parametrize(
    "query",
    [
        "after=x",
        "after=-1",
        "after=+5",
        "after=1.0",
        "after=%205",
        "limit=x",
        "limit=0",
        "limit=-5",
        "after=99999999999999999999",
        "after=9223372036854775808",
    ],
)
def test_history_with_malformed_paging_is_400(api: dict, public: Channel, query: str) -> None:
    assert api["bob"].get(f"{EVENTS}?{query}").status_code == 400


# --- POST /subscribers/{username}/notifications/ ---------------------------------------


def test_staff_sends_a_direct_notification_with_201(api: dict, bob: User) -> None:
    response = api["staff"].post("/api/v1/subscribers/bob/notifications/", {"title": "hi"}, format="json")
    assert response.status_code == 201
    assert response.json()["channel"] is None and set(response.json()) == NOTIFICATION_FIELDS
    inbox = api["bob"].get("/api/v1/notifications/").json()["results"]
    assert [n["id"] for n in inbox] == [response.json()["id"]]


def test_direct_notifications_are_idempotent_too(api: dict, bob: User) -> None:
    path = "/api/v1/subscribers/bob/notifications/"
    first = api["staff"].post(path, {"title": "hi"}, format="json", HTTP_IDEMPOTENCY_KEY="d1")
    retry = api["staff"].post(path, {"title": "hi"}, format="json", HTTP_IDEMPOTENCY_KEY="d1")
    other = api["staff"].post(path, {"title": "ho"}, format="json", HTTP_IDEMPOTENCY_KEY="d1")
    elsewhere = api["staff"].post(
        "/api/v1/subscribers/charlie/notifications/", {"title": "hi"}, format="json", HTTP_IDEMPOTENCY_KEY="d1"
    )
    assert (first.status_code, retry.status_code, other.status_code, elsewhere.status_code) == (201, 200, 409, 409)
    assert retry.json() == first.json()
    assert Notification.objects.count() == 1


@pytest.mark.parametrize("who,status", [("alice", 403), ("bob", 403), ("dave", 403), ("anon", 401)])
def test_only_staff_send_direct_notifications(api: dict, who: str, status: int) -> None:
    response = api[who].post("/api/v1/subscribers/bob/notifications/", {"title": "hi"}, format="json")
    assert response.status_code == status
    assert not Notification.objects.exists()


@pytest.mark.parametrize("username", ["ghost", "bo%00b", "%20bob"])
def test_a_direct_notification_to_an_unknown_user_is_404(api: dict, bob: User, username: str) -> None:
    response = api["staff"].post(f"/api/v1/subscribers/{username}/notifications/", {"title": "hi"}, format="json")
    assert response.status_code == 404


def test_a_direct_notification_with_malformed_input_is_400(api: dict, bob: User) -> None:
    path = "/api/v1/subscribers/bob/notifications/"
    assert api["staff"].post(path, {"title": "t" * 201}, format="json").status_code == 400
    assert api["staff"].post(path, {"title": "t", "data": {"x": "\x00"}}, format="json").status_code == 400
    assert api["staff"].post(path, [], format="json").status_code == 400
