"""POST /auth/token/, /tokens/, /ws-tickets/ and POST /subscribers/ (SPEC: REST API, Tokens)."""

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from accounts.models import ApiToken, WsTicket
from tests.api.conftest import PASSWORD

pytestmark = pytest.mark.django_db

TOKEN_FIELDS = {"id", "name", "prefix", "created_at", "last_used_at"}


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


# --- POST /auth/token/ ----------------------------------------------------------------------


def test_sign_in_answers_200_with_a_new_working_token_each_time(bob: User) -> None:
    first = APIClient().post("/api/v1/auth/token/", {"username": "bob", "password": PASSWORD}, format="json")
    second = APIClient().post("/api/v1/auth/token/", {"username": "bob", "password": PASSWORD}, format="json")
    assert first.status_code == second.status_code == 200
    assert set(first.json()) == {"token"}
    assert first.json()["token"] != second.json()["token"]
    for key in (first.json()["token"], second.json()["token"]):  # earlier ones stay valid
        assert token_client(key).get("/api/v1/notifications/unread-count/").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"username": "bob", "password": "wrong"},
        {"username": "nobody", "password": PASSWORD},
    ],
)
def test_sign_in_with_bad_credentials_is_401(bob: User, body: dict) -> None:
    response = APIClient().post("/api/v1/auth/token/", body, format="json")
    assert response.status_code == 401
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "bob"},
        {"username": ["bob"], "password": PASSWORD},
        {"username": "bo\x00b", "password": PASSWORD},
        {"username": "bob", "password": "x\x00"},
        [{"username": "bob", "password": PASSWORD}],
    ],
)
def test_sign_in_with_malformed_input_is_400(bob: User, body: object) -> None:
    assert APIClient().post("/api/v1/auth/token/", body, format="json").status_code == 400


def test_sign_in_with_invalid_json_is_400(bob: User) -> None:
    response = APIClient().post("/api/v1/auth/token/", data="{not json", content_type="application/json")
    assert response.status_code == 400


# --- Unauthenticated --------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Token hrld_notarealkey", "Token", "Token a b", "Bearer xyz"])
def test_requests_without_valid_credentials_are_401(api: dict, header: str | None) -> None:
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/tokens/")
    assert response.status_code == 401
    assert "detail" in response.json()


# --- /tokens/ ---------------------------------------------------------------------------


def test_creating_a_token_answers_201_with_its_key_once(api: dict, bob: User) -> None:
    response = api["bob"].post("/api/v1/tokens/", {"name": "ci"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "prefix", "created_at", "key"}
    assert body["name"] == "ci" and body["key"].startswith(body["prefix"])
    assert token_client(body["key"]).get("/api/v1/tokens/").status_code == 200


@pytest.mark.parametrize(
    "body", [{}, {"name": ""}, {"name": None}, {"name": ["x"]}, {"name": "a\x00b"}, {"name": "x" * 101}, ["ci"]]
)
def test_creating_a_token_with_malformed_input_is_400(api: dict, body: object) -> None:
    assert api["bob"].post("/api/v1/tokens/", body, format="json").status_code == 400


def test_token_list_shows_every_token_of_the_user_and_never_a_key(api: dict, bob: User, staff: User) -> None:
    signed_in = APIClient().post("/api/v1/auth/token/", {"username": "bob", "password": PASSWORD}, format="json")
    made = api["bob"].post("/api/v1/tokens/", {"name": "laptop"}, format="json").json()
    created = api["staff"].post("/api/v1/subscribers/", {"username": "erin"}, format="json").json()
    erin_tokens = token_client(created["token"]).get("/api/v1/tokens/").json()["results"]
    assert len(erin_tokens) == 1 and set(erin_tokens[0]) == TOKEN_FIELDS

    response = api["bob"].get("/api/v1/tokens/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == ApiToken.objects.filter(user=bob).count() == 3  # fixture, sign-in, laptop
    assert all(set(t) == TOKEN_FIELDS for t in results)
    assert made["id"] in {t["id"] for t in results}
    text = response.content.decode()
    assert made["key"] not in text and signed_in.json()["token"] not in text


def test_token_list_pages_with_after_and_limit(api: dict) -> None:
    for i in range(4):
        api["bob"].post("/api/v1/tokens/", {"name": f"t{i}"}, format="json")
    first = api["bob"].get("/api/v1/tokens/?limit=3").json()
    assert len(first["results"]) == 3 and first["next"]
    second = api["bob"].get(first["next"]).json()
    assert len(second["results"]) == 2 and second["next"] is None
    assert api["bob"].get("/api/v1/tokens/?limit=x").status_code == 400


def test_revoking_a_token_answers_204_and_the_token_then_fails_with_401(api: dict) -> None:
    made = api["bob"].post("/api/v1/tokens/", {"name": "temp"}, format="json").json()
    revoked = token_client(made["key"])
    assert revoked.get("/api/v1/tokens/").status_code == 200
    assert api["bob"].delete(f"/api/v1/tokens/{made['id']}/").status_code == 204
    assert revoked.get("/api/v1/tokens/").status_code == 401
    assert api["bob"].delete(f"/api/v1/tokens/{made['id']}/").status_code == 404


def test_a_user_cannot_see_or_revoke_another_users_token(api: dict) -> None:
    made = api["bob"].post("/api/v1/tokens/", {"name": "mine"}, format="json").json()
    assert made["id"] not in {t["id"] for t in api["charlie"].get("/api/v1/tokens/").json()["results"]}
    assert api["charlie"].delete(f"/api/v1/tokens/{made['id']}/").status_code == 404
    assert api["staff"].delete(f"/api/v1/tokens/{made['id']}/").status_code == 404
    assert api["anon"].delete(f"/api/v1/tokens/{made['id']}/").status_code == 401
    assert token_client(made["key"]).get("/api/v1/tokens/").status_code == 200


def test_revoking_an_impossible_token_id_is_404(api: dict) -> None:
    assert api["bob"].delete("/api/v1/tokens/99999999999999999999999/").status_code == 404


# --- /ws-tickets/ -----------------------------------------------------------------------


def test_a_ws_ticket_is_created_with_201_and_expires_in_60(api: dict, bob: User) -> None:
    response = api["bob"].post("/api/v1/ws-tickets/")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"ticket", "expires_in"} and body["expires_in"] == 60
    assert isinstance(body["ticket"], str) and len(body["ticket"]) >= 32
    assert WsTicket.objects.filter(user=bob).count() == 1
    assert api["anon"].post("/api/v1/ws-tickets/").status_code == 401


# --- POST /subscribers/ -----------------------------------------------------------------


def test_staff_creates_one_subscriber_with_201_and_a_working_token(api: dict) -> None:
    response = api["staff"].post(
        "/api/v1/subscribers/", {"username": "erin", "email": "e@example.com", "password": "pw-erin-123"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"username", "token"} and body["username"] == "erin"
    assert token_client(body["token"]).get("/api/v1/notifications/").status_code == 200
    assert (
        APIClient()
        .post("/api/v1/auth/token/", {"username": "erin", "password": "pw-erin-123"}, format="json")
        .status_code
        == 200
    )


def test_staff_creates_a_list_of_subscribers_as_a_list(api: dict) -> None:
    response = api["staff"].post("/api/v1/subscribers/", [{"username": f"u{i}"} for i in range(3)], format="json")
    assert response.status_code == 201
    assert [u["username"] for u in response.json()] == ["u0", "u1", "u2"]
    assert len({u["token"] for u in response.json()}) == 3


def test_an_existing_username_is_409(api: dict) -> None:
    response = api["staff"].post("/api/v1/subscribers/", {"username": "bob"}, format="json")
    assert response.status_code == 409
    assert "detail" in response.json()


def test_a_subscriber_list_is_all_or_nothing(api: dict) -> None:
    before = User.objects.count()
    response = api["staff"].post("/api/v1/subscribers/", [{"username": "new1"}, {"username": "bob"}], format="json")
    assert response.status_code == 409
    response = api["staff"].post(
        "/api/v1/subscribers/", [{"username": "new1"}, {"username": "bad name"}], format="json"
    )
    assert response.status_code == 400
    assert User.objects.count() == before


def test_a_subscriber_list_over_1000_is_400_and_1000_is_accepted(api: dict) -> None:
    too_many = [{"username": f"user{i}"} for i in range(1001)]
    assert api["staff"].post("/api/v1/subscribers/", too_many, format="json").status_code == 400
    assert not User.objects.filter(username="user0").exists()
    response = api["staff"].post("/api/v1/subscribers/", too_many[:1000], format="json")
    assert response.status_code == 201 and len(response.json()) == 1000


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": ""},
        {"username": " erin"},
        {"username": "er\x00in"},
        {"username": 5},
        {"username": "erin", "email": "not-an-email"},
        {"username": "x" * 151},
        [],
        ["erin"],
        "erin",
        5,
        [{"username": "a"}, 7],
    ],
)
def test_creating_subscribers_with_malformed_input_is_400(api: dict, body: object) -> None:
    assert api["staff"].post("/api/v1/subscribers/", body, format="json").status_code == 400


@pytest.mark.parametrize("who,status", [("alice", 403), ("bob", 403), ("charlie", 403), ("anon", 401)])
def test_only_staff_may_create_subscribers(api: dict, who: str, status: int) -> None:
    assert api[who].post("/api/v1/subscribers/", {"username": "erin"}, format="json").status_code == status
    assert not User.objects.filter(username="erin").exists()
