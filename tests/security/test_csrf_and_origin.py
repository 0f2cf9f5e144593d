"""Cross-site request forgery and cross-site WebSocket hijacking are refused; API tokens and
tickets, which a foreign page cannot obtain, work from any origin."""

from __future__ import annotations

import re

import httpx
import pytest
import websockets
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiToken
from notifications import services
from notifications.models import Channel
from tests.security.conftest import PASSWORD, World, db_state, make_user, publish
from tests.support.live import LivePlatform
from tests.support.ws import connect, recv


def unsafe_operations(world: World) -> list[tuple[str, str, object]]:
    """Every session-reachable REST call that changes something."""
    notification_id = publish(sender=world.alice, channel=world.news)
    token_id = ApiToken.objects.filter(user=world.staff).values_list("pk", flat=True).first()
    return [
        ("post", "/api/v1/tokens/", {"name": "forged"}),
        ("delete", f"/api/v1/tokens/{token_id}/", None),
        ("post", "/api/v1/ws-tickets/", None),
        ("post", "/api/v1/subscribers/", {"username": "forged"}),
        ("post", "/api/v1/subscribers/bob/notifications/", {"title": "forged"}),
        ("post", "/api/v1/channels/", {"slug": "forged", "name": "Forged"}),
        ("patch", "/api/v1/channels/news/", {"name": "Forged"}),
        ("delete", "/api/v1/channels/news/", None),
        ("post", "/api/v1/channels/secret/subscription/", None),
        ("delete", "/api/v1/channels/news/subscription/", None),
        ("post", "/api/v1/channels/news/subscribers/", {"usernames": ["charlie"]}),
        ("delete", "/api/v1/channels/news/subscribers/bob/", None),
        ("post", "/api/v1/channels/news/events/", {"title": "forged"}),
        ("post", f"/api/v1/notifications/{notification_id}/read/", None),
        ("post", "/api/v1/notifications/read-all/", None),
    ]


def test_every_unsafe_rest_call_with_a_session_but_no_csrf_token_is_refused(world: World) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.staff)
    services.channel_subscribe(channel=world.news, user=world.staff)  # so that unsubscribing would change something
    operations = unsafe_operations(world)
    before, tokens = db_state(), ApiToken.objects.count()

    for method, path, body in operations:
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 403, (method, path)
        assert "CSRF" in response.json()["detail"], (method, path)

    assert db_state() == before
    assert ApiToken.objects.count() == tokens
    assert Channel.objects.get(slug="news").name == "News"


def test_a_session_call_with_the_csrf_token_goes_through(world: World) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.staff)
    client.get("/accounts/login/")  # sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value

    response = client.post("/api/v1/tokens/", {"name": "mine"}, format="json", HTTP_X_CSRFTOKEN=csrf)

    assert response.status_code == 201


def test_token_clients_need_no_csrf_token(world: World) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens['staff']}")
    assert client.post("/api/v1/tokens/", {"name": "mine"}, format="json").status_code == 201


@pytest.mark.django_db
def test_django_forms_refuse_a_post_without_csrf_token() -> None:
    user = make_user("erin", password=PASSWORD, is_staff=True, is_superuser=True)
    client = Client(enforce_csrf_checks=True)

    assert client.post("/accounts/login/", {"username": "erin", "password": PASSWORD}).status_code == 403
    assert "_auth_user_id" not in client.session
    assert client.post("/admin/login/", {"username": "erin", "password": PASSWORD}).status_code == 403

    client.force_login(user)
    assert client.post("/accounts/logout/").status_code == 403
    assert (
        client.post(
            "/admin/notifications/channel/add/",
            {"slug": "forged", "name": "F", "visibility": "public", "owner": user.pk},
        ).status_code
        == 403
    )
    assert not Channel.objects.filter(slug="forged").exists()
    assert client.session.get("_auth_user_id") == str(user.pk)


@pytest.mark.django_db
def test_django_login_form_works_with_its_csrf_token() -> None:
    make_user("erin", password=PASSWORD)
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    response = client.post("/accounts/login/", {"username": "erin", "password": PASSWORD, "csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert User.objects.get(username="erin").pk == int(client.session["_auth_user_id"])


# --- Cross-site WebSocket hijacking (real server) -----------------------------------------


def session_cookie(live: LivePlatform) -> str:
    """Sign in through the real login form; returns the `sessionid` cookie."""
    username, _ = live.create_user(password=PASSWORD)
    with httpx.Client(base_url=live.url) as browser:
        page = browser.get("/accounts/login/").text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        signed_in = browser.post(
            "/accounts/login/",
            data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers={"Referer": live.url + "/accounts/login/"},
        )
        assert signed_in.status_code == 302
        return str(browser.cookies["sessionid"])


async def assert_refused(live: LivePlatform, **kwargs) -> None:
    """The handshake is rejected, or the socket is closed with 4401 before any data."""
    try:
        ws = await connect(live.ws_url, **kwargs)
    except websockets.InvalidStatus:
        return
    try:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await recv(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    finally:
        await ws.close()


async def assert_welcomed(live: LivePlatform, **kwargs) -> None:
    ws = await connect(live.ws_url, **kwargs)
    try:
        assert (await recv(ws))["type"] == "welcome"
    finally:
        await ws.close()


@pytest.fixture(scope="module")
def cookie(live_platform: LivePlatform) -> str:
    return session_cookie(live_platform)


async def test_a_session_cookie_from_a_foreign_origin_is_refused(live_platform: LivePlatform, cookie: str) -> None:
    for origin in ("https://evil.example", "http://127.0.0.1.evil.example", "null", "http://localhost.evil"):
        await assert_refused(live_platform, headers={"Cookie": f"sessionid={cookie}", "Origin": origin})


async def test_a_session_cookie_without_origin_is_refused(live_platform: LivePlatform, cookie: str) -> None:
    await assert_refused(live_platform, headers={"Cookie": f"sessionid={cookie}"})


async def test_a_session_cookie_from_the_sites_own_origin_is_accepted(live_platform: LivePlatform, cookie: str) -> None:
    await assert_welcomed(live_platform, headers={"Cookie": f"sessionid={cookie}", "Origin": live_platform.url})


async def test_token_and_ticket_clients_are_accepted_from_any_origin_or_none(live_platform: LivePlatform) -> None:
    _, token = live_platform.create_user()
    for origin in (None, "https://evil.example", "null"):
        headers = {"Origin": origin} if origin else {}
        await assert_welcomed(live_platform, token=token, headers=headers)
        ticket = live_platform.http.post("/api/v1/ws-tickets/", headers=live_platform.headers(token)).json()["ticket"]
        await assert_welcomed(live_platform, ticket=ticket, headers=headers)


async def test_a_forged_or_missing_credential_is_refused(live_platform: LivePlatform, cookie: str) -> None:
    _, token = live_platform.create_user()
    await assert_refused(live_platform)
    await assert_refused(live_platform, token=token[:-1] + ("A" if token[-1] != "A" else "B"))
    await assert_refused(live_platform, ticket="not-a-ticket")
    await assert_refused(live_platform, headers={"Cookie": "sessionid=forged", "Origin": live_platform.url})
