"""Structured logs of a live server: JSON lines, request and connection ids, no credentials."""

import contextlib
import json
import time
import uuid

import websockets

from tests.support.live import LivePlatform
from tests.support.ws import connect, recv_until


def log_entries(live: LivePlatform) -> list[dict]:
    lines = live.server.log_path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def wait_for_entry(live: LivePlatform, predicate, timeout: float = 5) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in log_entries(live) if predicate(e)]
        if found:
            return found[-1]
        assert time.monotonic() < deadline, "no such log entry"
        time.sleep(0.05)


def test_an_incoming_request_id_is_echoed_and_stamped_on_the_requests_json_log_line(
    ops_platform: LivePlatform,
) -> None:
    rid = f"trace-{uuid.uuid4().hex[:8]}"
    r = ops_platform.http.get("/healthz", headers={"X-Request-ID": rid})

    assert r.headers["X-Request-ID"] == rid
    entry = wait_for_entry(ops_platform, lambda e: e.get("request_id") == rid)
    assert entry["logger"] == "herald.access" and entry["path"] == "/healthz" and entry["status"] == 200


def test_requests_without_an_id_get_a_fresh_one_and_a_malformed_one_is_replaced(ops_platform: LivePlatform) -> None:
    first = ops_platform.http.get("/healthz").headers["X-Request-ID"]
    second = ops_platform.http.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"}).headers["X-Request-ID"]
    assert first and second and first != second and " " not in second


async def test_tokens_and_tickets_leave_no_trace_in_the_logs(ops_platform: LivePlatform) -> None:
    live = ops_platform
    _username, token = live.create_user()
    assert live.http.get("/api/v1/notifications/", headers=live.headers(token)).status_code == 200
    forged = "hrld_" + uuid.uuid4().hex + "forged"
    assert live.http.get("/api/v1/notifications/", headers=live.headers(forged)).status_code == 401
    ticket = live.http.post("/api/v1/ws-tickets/", headers=live.headers(token)).json()["ticket"]
    ws = await connect(live.ws_url, ticket=ticket)
    await recv_until(ws, "welcome")
    await ws.close()
    bogus_ticket = "bogus-" + uuid.uuid4().hex
    refused = await connect(live.ws_url, ticket=bogus_ticket)
    with contextlib.suppress(websockets.ConnectionClosed):
        await refused.recv()
    assert refused.close_code == 4401

    # The two socket closes are logged with their own connection ids, without the query string.
    closes = []
    deadline = time.monotonic() + 5
    while len(closes) < 2:
        assert time.monotonic() < deadline
        closes = [e for e in log_entries(live) if e["message"].startswith("websocket ") and "connection_id" in e]
        time.sleep(0.05)
    assert len({e["connection_id"] for e in closes}) == len(closes)
    text = live.server.log_path.read_text()
    for secret in [token, forged, ticket, bogus_ticket, token.removeprefix("hrld_")]:
        assert secret not in text
