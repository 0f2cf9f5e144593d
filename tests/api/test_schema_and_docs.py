"""GET /schema/ and /docs/: a valid OpenAPI 3 document and docs that load nothing from a CDN."""

import re

import pytest
import yaml
from django.contrib.auth.models import User
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_the_schema_is_a_valid_openapi_3_document_open_to_anyone() -> None:
    response = APIClient().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = (
        response.json()
        if response["Content-Type"].startswith("application/vnd.oai.openapi+json")
        else yaml.safe_load(response.content)
    )
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)
    paths = set(schema["paths"])
    for path in [
        "/api/v1/auth/token/",
        "/api/v1/tokens/",
        "/api/v1/tokens/{token_id}/",
        "/api/v1/ws-tickets/",
        "/api/v1/subscribers/",
        "/api/v1/subscribers/{username}/notifications/",
        "/api/v1/channels/",
        "/api/v1/channels/{slug}/",
        "/api/v1/channels/{slug}/subscription/",
        "/api/v1/channels/{slug}/subscribers/",
        "/api/v1/channels/{slug}/subscribers/{username}/",
        "/api/v1/channels/{slug}/events/",
        "/api/v1/notifications/",
        "/api/v1/notifications/unread-count/",
        "/api/v1/notifications/{notification_id}/read/",
        "/api/v1/notifications/read-all/",
    ]:
        assert path in paths


def test_the_schema_documents_token_authentication() -> None:
    schema = yaml.safe_load(APIClient().get("/api/v1/schema/").content)
    schemes = schema["components"]["securitySchemes"]
    assert any(s.get("type") == "apiKey" and s.get("name") == "Authorization" for s in schemes.values())


def test_the_docs_render_from_local_static_assets_only() -> None:
    response = APIClient().get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(url.startswith("/static/") for url in assets), assets
    assert not re.search(r"https?://", html.replace("http://www.w3.org", ""))


def test_the_docs_assets_are_served(client) -> None:  # type: ignore[no-untyped-def]
    html = APIClient().get("/api/v1/docs/").content.decode()
    for url in re.findall(r'src="(/static/[^"]+)"', html):
        response = client.get(url)
        assert response.status_code == 200, url
        b"".join(response.streaming_content) if response.streaming else response.content


def test_session_clients_need_the_csrf_token_to_write(bob: User) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(bob)
    assert client.get("/api/v1/notifications/unread-count/").status_code == 200
    assert client.post("/api/v1/notifications/read-all/").status_code == 403
