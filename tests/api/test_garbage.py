"""Never a 500 for bad input: a battery of garbage thrown at every endpoint."""

import json

import pytest
from django.contrib.auth.models import User

from notifications.models import Channel

pytestmark = pytest.mark.django_db

WRITES = [
    ("post", "/api/v1/auth/token/"),
    ("post", "/api/v1/tokens/"),
    ("delete", "/api/v1/tokens/1/"),
    ("post", "/api/v1/ws-tickets/"),
    ("post", "/api/v1/subscribers/"),
    ("post", "/api/v1/subscribers/bob/notifications/"),
    ("post", "/api/v1/channels/"),
    ("patch", "/api/v1/channels/news/"),
    ("patch", "/api/v1/channels/secret/"),
    ("post", "/api/v1/channels/news/subscription/"),
    ("delete", "/api/v1/channels/news/subscription/"),
    ("post", "/api/v1/channels/news/subscribers/"),
    ("post", "/api/v1/channels/secret/subscribers/"),
    ("delete", "/api/v1/channels/news/subscribers/bob/"),
    ("post", "/api/v1/channels/news/events/"),
    ("post", "/api/v1/channels/secret/events/"),
    ("post", "/api/v1/notifications/1/read/"),
    ("post", "/api/v1/notifications/read-all/"),
]
READS = [
    "/api/v1/tokens/",
    "/api/v1/channels/",
    "/api/v1/channels/news/",
    "/api/v1/channels/news/events/",
    "/api/v1/notifications/",
    "/api/v1/notifications/unread-count/",
]
FIELDS = [
    "username",
    "password",
    "name",
    "email",
    "slug",
    "description",
    "visibility",
    "publishers",
    "usernames",
    "title",
    "body",
    "level",
    "data",
]
VALUES = [
    None,
    True,
    0,
    -1,
    10**30,
    -(10**30),
    1.5,
    2**63,
    [],
    [None],
    {},
    {"a": {"b": []}},
    "",
    " ",
    "\x00",
    "é" * 300,
    "x" * 5000,
    ["\x00"],
    {"\x00": "\x00"},
]
NASTIEST = [10**30, 1.5, "\x00", [None], {"\x00": "\x00"}]
TAKES_A_BODY = [
    (method, path)
    for method, path in WRITES
    if method != "delete" and not path.endswith(("subscription/", "read/", "read-all/", "ws-tickets/"))
]


def nested(depth: int) -> str:
    return '{"title": "t", "data": ' + '{"a": ' * depth + "1" + "}" * depth + "}"


RAW_BODIES = [
    ("application/json", b""),
    ("application/json", b"not json"),
    ("application/json", b"\xff\xfe\x00"),
    ("application/json", b"\x00"),
    ("application/json", b"{"),
    ("application/json", b"[]"),
    ("application/json", b"[1, 2]"),
    ("application/json", b"[{}]"),
    ("application/json", b"null"),
    ("application/json", b"true"),
    ("application/json", b"5"),
    ("application/json", b'"text"'),
    ("application/json", b"1e400"),
    ("application/json", b"9" * 5000),
    ("application/json", b"NaN"),
    ("application/json", b'{"title": 1e400, "data": {"n": -1e400}}'),
    ("application/json", b'{"usernames": [' + b"1e400," * 10 + b"1]}"),
    ("application/json", b"[" * 50_000 + b"]" * 50_000),
    ("application/json", b'{"a":' * 50_000),
    ("application/json", nested(200).encode()),
    ("application/json", nested(300).encode()),
    ("application/json", nested(900).encode()),
    ("application/json", b'{"title": "\\ud800"}'),
    ("text/plain", b"title=x"),
    ("application/x-www-form-urlencoded", b"title=x&slug=y"),
    ("multipart/form-data; boundary=zz", b"--zz\r\nbroken"),
    ("application/xml", b"<a/>"),
]


@pytest.fixture
def garbage_api(api: dict, public: Channel, private: Channel) -> dict:
    return api


def assert_handled(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code < 500, (response.status_code, response.content[:300])


@pytest.mark.parametrize("method,path", WRITES)
def test_raw_garbage_bodies_never_cause_a_server_error(garbage_api: dict, method: str, path: str) -> None:
    for content_type, raw in RAW_BODIES:
        assert_handled(getattr(garbage_api["staff"], method)(path, data=raw, content_type=content_type))


@pytest.mark.parametrize("method,path", [(m, p) for m, p in WRITES if "secret" in p or p.endswith("channels/")])
def test_raw_garbage_from_an_outsider_never_causes_a_server_error(garbage_api: dict, method: str, path: str) -> None:
    for content_type, raw in RAW_BODIES:
        assert_handled(getattr(garbage_api["charlie"], method)(path, data=raw, content_type=content_type))


@pytest.mark.parametrize("method,path", TAKES_A_BODY)
def test_wrongly_typed_fields_never_cause_a_server_error(garbage_api: dict, method: str, path: str) -> None:
    client = garbage_api["staff"]
    for value in VALUES:
        body = {field: value for field in FIELDS}
        assert_handled(getattr(client, method)(path, data=json.dumps(body), content_type="application/json"))
    for value in NASTIEST:
        for field in FIELDS:
            single = {"title": "t", "slug": "fresh", "name": "n", "username": "someone", field: value}
            assert_handled(getattr(client, method)(path, data=json.dumps(single), content_type="application/json"))


@pytest.mark.parametrize("path", READS)
def test_garbage_query_strings_never_cause_a_server_error(garbage_api: dict, path: str) -> None:
    for query in [
        "limit=%00",
        "after=%00",
        "before=%00",
        "after=1e9",
        "limit=" + "9" * 400,
        "after=" + "9" * 400,
        "before=-0",
        "unread=%00",
        "channel=%00",
        "channel=" + "x" * 5000,
        "after=%ff%fe",
        "limit=1&limit=2",
        "after[]=1",
        "limit=%E2%80%8B5",
    ]:
        assert_handled(garbage_api["bob"].get(f"{path}?{query}"))


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/channels/{x}/",
        "/api/v1/channels/{x}/events/",
        "/api/v1/channels/{x}/subscription/",
        "/api/v1/channels/news/subscribers/{x}/",
        "/api/v1/subscribers/{x}/notifications/",
    ],
)
def test_garbage_in_paths_never_causes_a_server_error(garbage_api: dict, bob: User, path: str) -> None:
    for segment in ["%00", "a%00b", "%ff", "é", "x" * 5000, "%20", "..", "%E2%80%8B", "\uff21\uff22"]:
        url = path.format(x=segment)
        for method in ("get", "post", "patch", "delete"):
            response = getattr(garbage_api["staff"], method)(url, data={"title": "t"}, format="json")
            assert_handled(response)


def test_huge_ids_in_paths_never_cause_a_server_error(garbage_api: dict) -> None:
    for nid in ["9" * 30, "9223372036854775808", "0"]:
        assert_handled(garbage_api["bob"].post(f"/api/v1/notifications/{nid}/read/"))
        assert_handled(garbage_api["bob"].delete(f"/api/v1/tokens/{nid}/"))
