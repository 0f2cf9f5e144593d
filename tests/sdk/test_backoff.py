"""The pure parts of the retry machinery: backoff bounds, Retry-After parsing, what gets retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from herald_client import Backoff, RateLimited, ServerError
from herald_client import _calls as calls
from herald_client.errors import BadRequest, error_for_status, parse_retry_after


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0, factor=2.0)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (10, 8.0), (10_000, 8.0)]:
        delays = {backoff.delay(attempt) for _ in range(200)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 100  # jittered, not lockstep


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (parse_retry_after(when) or 0) <= 31
    assert parse_retry_after("-3") == 0.0


def test_error_bodies_become_messages_and_field_errors() -> None:
    error = error_for_status(400, {"title": ["This field may not be blank."], "level": "bad"})
    assert isinstance(error, BadRequest)
    assert error.errors == {"title": ["This field may not be blank."], "level": ["bad"]}
    assert "title: This field may not be blank." in str(error)
    limited = error_for_status(429, {"detail": "Slow down."}, retry_after="3")
    assert isinstance(limited, RateLimited) and limited.retry_after == 3 and limited.message == "Slow down."
    assert isinstance(error_for_status(503, "<html>bad gateway</html>"), ServerError)


def test_what_is_retried() -> None:
    policy = calls.RetryPolicy(retries=2, backoff=Backoff(initial=0.1), max_retry_after=10)
    publish = calls.publish("c", {"title": "t"}, None)
    ticket = calls.ws_ticket()  # not idempotent
    request = httpx.Request("POST", "http://x/")
    reset = httpx.ReadError("reset", request=request)
    refused = httpx.ConnectError("refused", request=request)
    assert policy.delay(publish, 0, reset) is not None
    assert policy.delay(ticket, 0, reset) is None  # the server may have acted on it
    assert policy.delay(ticket, 0, refused) is not None  # it never left
    assert policy.delay(publish, 0, ServerError("x", status=500)) is not None
    assert policy.delay(ticket, 0, ServerError("x", status=500)) is None
    assert policy.delay(ticket, 0, RateLimited("x", retry_after=2)) == pytest.approx(2, abs=0.11)
    assert policy.delay(publish, 0, RateLimited("x", retry_after=11)) is None
    assert policy.delay(publish, 0, BadRequest("x")) is None
    assert policy.delay(publish, 2, reset) is None  # out of retries


def test_the_same_publish_call_keeps_its_key_and_a_new_one_gets_another() -> None:
    a = calls.publish("c", {"title": "t"}, None)
    b = calls.publish("c", {"title": "t"}, None)
    assert a.headers["Idempotency-Key"] != b.headers["Idempotency-Key"]
    assert calls.publish("c", {"title": "t"}, "mine").headers["Idempotency-Key"] == "mine"


def test_urls() -> None:
    assert calls.resolve_url("https://h.example/api/v1/") == "https://h.example"
    assert calls.ws_url_for("https://h.example") == "wss://h.example/ws/notifications/"
    assert calls.ws_url_for("http://127.0.0.1:8000") == "ws://127.0.0.1:8000/ws/notifications/"
