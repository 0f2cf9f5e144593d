"""Probes and metrics: `/healthz` (alive), `/readyz` (database and channel layer answer),
`/metrics` (Prometheus text format, this process only)."""

import asyncio
import hmac
import time
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from config.env import envstr

READY_TIMEOUT = 2.0  # seconds per check: a probe must answer before the balancer gives up


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving HTTP."""
    return JsonResponse({"status": "ok"})


def _database_answers() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()  # a probe must not hold a pooled connection in a worker thread


async def _layer_round_trip() -> None:
    """Send one message to a private channel and receive it back."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    # The hub's prefix: channels-redis serves all of a process's channels with one blocking
    # read per prefix, under one lock; with another prefix, this probe would wait behind the
    # hub's read of up to 5 s. With the same prefix, the hub's read brings our message along.
    channel = await layer.new_channel(prefix="herald-hub.")
    await layer.send(channel, {"type": "ready.ping"})
    message = await layer.receive(channel)
    if message.get("type") != "ready.ping":
        raise RuntimeError("channel layer returned a different message")


async def _check(name: str, check: Any) -> tuple[str, dict[str, Any]]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), READY_TIMEOUT)
    except TimeoutError:
        return name, {"ok": False, "error": f"no answer within {READY_TIMEOUT:g} s"}
    except Exception as exc:
        return name, {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return name, {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


async def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve: the database answers and the channel layer does a round trip; 503 otherwise."""
    results = dict(
        await asyncio.gather(
            _check("database", sync_to_async(_database_answers, thread_sensitive=False)),
            _check("channel_layer", _layer_round_trip),
        )
    )
    ok = all(r["ok"] for r in results.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": results}, status=200 if ok else 503)


def metrics(request: HttpRequest) -> HttpResponse:
    """This process's metrics. With HERALD_METRICS_TOKEN set, a matching bearer is required."""
    expected = envstr("HERALD_METRICS_TOKEN")
    if expected:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
            response = HttpResponse("metrics need a bearer token\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = "Bearer"
            return response
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
