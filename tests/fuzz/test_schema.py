"""Schema-driven fuzzing: every operation of the live server's own OpenAPI schema, called with
generated input as staff and as a plain user, never answers with a server error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.support.live import LivePlatform, Platform

MAX_EXAMPLES = 20


@pytest.fixture(scope="module")
def fuzz_platform() -> Iterator[LivePlatform]:
    """A platform of its own: fuzzing deletes channels and revokes tokens at random."""
    platform = Platform()
    live = LivePlatform(platform, platform.start_server())
    yield live
    platform.close()


def fuzz_every_operation(live: LivePlatform, token: str, *, skip: tuple[str, ...] = ()) -> list[str]:
    """Run each operation; returns the failures (operation: error) instead of stopping at one."""
    schema = schemathesis.openapi.from_url(live.url + "/api/v1/schema/")
    headers = live.headers(token)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if f"{operation.method.upper()} {operation.path}" in skip:
            continue

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case) -> None:
            response = case.call(base_url=live.url, headers=headers, timeout=20)
            case.validate_response(response, checks=[not_a_server_error])

        try:
            run()
        except Exception as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
    return failures


def test_schema_lists_every_public_endpoint(live_platform: LivePlatform) -> None:
    schema = live_platform.http.get("/api/v1/schema/?format=json").json()
    paths = set(schema["paths"])
    assert {
        "/api/v1/channels/",
        "/api/v1/channels/{slug}/events/",
        "/api/v1/notifications/",
        "/api/v1/ws-tickets/",
        "/api/v1/subscribers/",
    } <= paths


def test_no_generated_request_from_a_plain_user_causes_a_server_error(fuzz_platform: LivePlatform) -> None:
    fuzz_platform.create_channel("fuzz-public")
    _, token = fuzz_platform.create_user()
    assert fuzz_every_operation(fuzz_platform, token) == []


def test_no_generated_request_from_staff_causes_a_server_error(fuzz_platform: LivePlatform) -> None:
    fuzz_platform.create_channel("fuzz-staff")
    # Revoking tokens at random would sign staff out half-way; the plain user's run covers it.
    assert (
        fuzz_every_operation(fuzz_platform, fuzz_platform.staff_token, skip=("DELETE /api/v1/tokens/{token_id}/",))
        == []
    )
