"""/metrics, /healthz and /readyz of real server processes."""

import asyncio
import re
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.admin.http import AdminSession
from tests.ops.conftest import METRICS_TOKEN
from tests.support.live import LivePlatform, Platform, ServerProcess, free_port
from tests.support.ws import collect, connect, recv, recv_until

AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def scrape(live: LivePlatform) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = live.http.get("/metrics", headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_connections_publishes_deliveries_lag_and_replays(ops_platform: LivePlatform) -> None:
    live = ops_platform
    slug = live.create_channel()
    _, token = live.create_user()
    live.subscribe(slug, token)
    before = scrape(live)
    ws = await connect(live.ws_url, token)
    await recv_until(ws, "welcome")

    for title in ["one", "two"]:
        await asyncio.to_thread(live.publish, slug, title)
    first, _ = await collect(ws, "notification", 2)
    during = scrape(live)
    replayer = await connect(live.ws_url, token, since=first["id"] - 1)
    assert (await recv_until(replayer, "replayed"))["count"] == 2
    await ws.close()
    await replayer.close()
    after = scrape(live)

    assert value(during, "herald_ws_connections") == value(before, "herald_ws_connections") + 1
    published = "herald_notifications_published_total"
    assert value(after, published, kind="channel") == value(before, published, kind="channel") + 2
    delivered = "herald_notifications_delivered_total"
    assert value(after, delivered) >= value(before, delivered) + 2
    lag = "herald_delivery_lag_seconds_count"
    assert value(after, lag) >= value(before, lag) + 2
    replayed = "herald_notifications_replayed_total"
    assert value(after, replayed) == value(before, replayed) + 2
    for name in ["herald_slow_consumers_closed_total", "herald_hub_gap_fills_total"]:
        assert (name, ()) in after


def test_metrics_refuse_a_missing_or_wrong_bearer_when_a_token_is_configured(ops_platform: LivePlatform) -> None:
    assert ops_platform.http.get("/metrics").status_code == 401
    wrong = ops_platform.http.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"


def test_metrics_are_open_when_no_token_is_configured(live_platform: LivePlatform) -> None:
    r = live_platform.http.get("/metrics")
    assert r.status_code == 200 and "herald_notifications_published_total" in r.text


def test_healthz_and_readyz_answer_200_when_the_database_and_channel_layer_answer(
    ops_platform: LivePlatform,
) -> None:
    assert ops_platform.http.get("/healthz").json() == {"status": "ok"}
    ready = ops_platform.http.get("/readyz")
    assert ready.status_code == 200
    assert {name: check["ok"] for name, check in ready.json()["checks"].items()} == {
        "database": True,
        "channel_layer": True,
    }


def test_readyz_answers_503_naming_the_channel_layer_when_redis_is_unreachable(
    platform_factory: type[Platform],
) -> None:
    platform = platform_factory(redis_urls=[f"redis://127.0.0.1:{free_port()}/0"])
    server = ServerProcess(platform.env, name="daphne-no-redis").start()  # healthz needs no Redis
    platform.servers.append(server)

    started = time.monotonic()
    ready = httpx.get(server.url + "/readyz", timeout=10)

    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["channel_layer"]["ok"] is False and body["checks"]["channel_layer"]["error"]
    assert time.monotonic() - started < 5
    assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200


async def test_admin_channel_list_shows_live_socket_counts(ops_platform: LivePlatform) -> None:
    live = ops_platform
    slug = live.create_channel()
    sockets = []
    for _ in range(2):
        _, token = live.create_user()
        live.subscribe(slug, token)
        sockets.append(await connect(live.ws_url, token))
    for ws in sockets:
        assert (await recv(ws))["type"] == "welcome"
    admin = AdminSession(live.url, "staff", "staff-pass-123")

    def live_sockets() -> str:
        html = admin.get("/admin/notifications/channel/", q=slug).text
        return re.search(r'class="field-live_sockets">(\d+)<', html).group(1)

    async def wait_for(expected: str) -> None:
        deadline = time.monotonic() + 5
        while (got := await asyncio.to_thread(live_sockets)) != expected:
            assert time.monotonic() < deadline, f"live sockets {got}, expected {expected}"
            await asyncio.sleep(0.1)

    await wait_for("2")
    for ws in sockets:
        await ws.close()
    await wait_for("0")
    admin.close()
