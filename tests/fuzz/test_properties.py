"""Property-based tests of the input validators and the WebSocket frame path."""

from __future__ import annotations

import json
import string

import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifications.consumers import parse_since
from notifications.exceptions import Invalid, TooLarge
from notifications.validation import clean_notification_input
from tests.security.conftest import World
from tests.security.sockets import frame, open_socket

SOCKET_ERROR_CODES = {"bad_request", "forbidden", "not_found", "too_large", "rate_limited", "replay_unavailable"}
SERVER_FRAME_TYPES = {
    "welcome",
    "notification",
    "subscribed",
    "unsubscribed",
    "replayed",
    "unread_count",
    "pong",
    "published",
    "error",
}

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=5)

valid_inputs = st.fixed_dictionaries(
    {"title": st.text(min_size=1, max_size=200).filter(lambda t: t.strip() and "\x00" not in t)},
    optional={
        "body": st.text(max_size=4000).filter(lambda t: "\x00" not in t),
        "level": st.sampled_from(["info", "success", "warning", "error"]),
        "data": st.dictionaries(
            st.text(max_size=10).filter(lambda t: "\x00" not in t),
            st.none()
            | st.booleans()
            | st.integers(-(2**63), 2**63 - 1)
            | st.text(max_size=20).filter(lambda t: "\x00" not in t),
            max_size=5,
        ),
    },
)


@settings(max_examples=300, deadline=None)
@given(
    raw=json_values
    | json_objects
    | st.fixed_dictionaries(
        {"title": json_values}, optional={"body": json_values, "level": json_values, "data": json_values}
    )
)
def test_clean_notification_input_raises_nothing_but_invalid_or_too_large(raw) -> None:
    try:
        cleaned = clean_notification_input(raw)
    except (Invalid, TooLarge):
        return
    assert set(cleaned) == {"title", "body", "level", "data"}
    assert 1 <= len(cleaned["title"]) <= 200 and cleaned["title"] == cleaned["title"].strip()
    assert isinstance(cleaned["data"], dict) and cleaned["level"] in ("info", "success", "warning", "error")


@settings(max_examples=300, deadline=None)
@given(raw=valid_inputs)
def test_clean_notification_input_accepts_every_valid_input_unchanged_but_for_the_trimmed_title(raw) -> None:
    cleaned = clean_notification_input(raw)
    assert cleaned == {
        "title": raw["title"].strip(),
        "body": raw.get("body", ""),
        "level": raw.get("level", "info"),
        "data": raw.get("data", {}),
    }


@settings(max_examples=500, deadline=None)
@given(raw=st.text() | st.from_regex(r"\A[0-9]{1,25}\Z") | st.from_regex(r"\A[+\- ]?[0-9]{1,5}[ .]?\Z"))
def test_parse_since_accepts_exactly_ascii_digit_strings(raw: str) -> None:
    digits = raw != "" and all(c in string.digits for c in raw)
    if digits:
        value = parse_since(raw)
        assert value is not None and value >= 0
        if len(raw) <= 18:
            assert value == int(raw)
    else:
        with pytest.raises(Invalid):
            parse_since(raw)


def test_parse_since_treats_a_missing_value_as_no_replay() -> None:
    assert parse_since(None) is None


frame_texts = (
    st.text(max_size=200)
    | json_values.map(json.dumps)
    | st.fixed_dictionaries(
        {"type": st.sampled_from(["subscribe", "unsubscribe", "resume", "read", "publish", "ping", "nope"])},
        optional={
            "channel": json_values | st.sampled_from(["news", "secret", "nope"]),
            "since": json_values,
            "id": json_values,
            "all": json_values,
            "title": json_values,
            "data": json_values,
            "level": json_values,
        },
    ).map(json.dumps)
)


@pytest.mark.django_db(transaction=True)
async def test_every_text_frame_is_answered_with_a_known_frame_and_never_closes_the_socket(live_world: World) -> None:
    # charlie (an outsider) so that fuzzed `publish` frames are refused and the store stays small;
    # a frame budget large enough that the rate limit stays out of the way.
    with override_settings(
        HERALD={**django_settings.HERALD, "SOCKET_FRAME_RATE": 10_000.0, "SOCKET_FRAME_BURST": 10_000}
    ):
        ws = await open_socket(live_world.tokens["charlie"])
    assert (await frame(ws))["type"] == "welcome"
    answers: list[dict] = []

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(text=frame_texts)
    def probe(text: str) -> None:
        answers.append({"sent": text})

    probe()  # collect the examples first: hypothesis drives a sync function, the socket is async
    try:
        for entry in [*answers, {"sent": '{"type": "ping"}'}]:
            text = entry["sent"]
            await ws.send_input({"type": "websocket.receive", "text": text})  # also the empty frame
            await ws.send_to(text_data='{"type": "ping"}')
            got = [await frame(ws)]
            while got[-1] != {"type": "pong"}:  # a closed socket would fail here instead
                got.append(await frame(ws))
            for answer in got:
                assert answer["type"] in SERVER_FRAME_TYPES, (text, answer)
                if answer["type"] == "error":
                    assert answer["code"] in SOCKET_ERROR_CODES, (text, answer)
                    assert answer["code"] != "rate_limited", "the socket burst is sized for this test"
                    assert isinstance(answer["message"], str) and answer["message"]
    finally:
        await ws.disconnect()
