"""deploy/herald-proxy.conf as shipped: nginx in front of two Daphne processes on one Redis
and one database; a notification published through nginx reaches sockets on each upstream."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.live import ROOT, Platform, free_port
from tests.support.ws import connect, recv_until

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


@pytest.fixture(autouse=True)
def _nginx_installed() -> None:
    if NGINX is None:  # scripts/services installs it; a silent skip would hide a broken setup
        pytest.fail("nginx is not installed: run scripts/services (apt-get install -y nginx)")


def nginx_config(tmp: Path, port: int, upstreams: list[str]) -> str:
    """A self-contained nginx.conf: the shipped maps and locations, test upstreams and paths."""
    shipped = (ROOT / "deploy" / "nginx.conf").read_text()
    maps = "\n".join(re.findall(r"^map .*?^}", shipped, re.S | re.M))
    servers = "\n".join(f"        server {u};" for u in upstreams)
    temp = "\n".join(
        f"    {kind}_temp_path {tmp / kind};" for kind in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    )
    return f"""
daemon off;
worker_processes 1;
pid {tmp / "nginx.pid"};
error_log {tmp / "error.log"} warn;
{"user root;" if os.geteuid() == 0 else ""}
events {{ worker_connections 256; }}
http {{
    access_log {tmp / "access.log"};
{temp}
{maps}
    upstream herald {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        # Test only: which process served each response.
        add_header X-Upstream $upstream_addr always;
        include {ROOT / "deploy" / "herald-proxy.conf"};
    }}
}}
"""


@pytest.fixture
def two_servers_behind_nginx(platform_factory: type[Platform]) -> Iterator[tuple[str, list[str]]]:
    redis_urls = [u for u in os.environ.get("REDIS_URL", "").split(",") if u] or ["redis://127.0.0.1:6379/0"]
    platform = platform_factory(redis_urls=redis_urls)
    servers = [platform.start_server(), platform.start_server()]
    upstreams = [f"127.0.0.1:{s.port}" for s in servers]
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="herald-nginx-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "nginx.conf").write_text(nginx_config(tmp, port, upstreams))
        proc = subprocess.Popen(
            [NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 10
            while True:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "nginx exited"
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "nginx did not come up"
                time.sleep(0.05)
            yield url, upstreams
        finally:
            proc.terminate()
            proc.wait(10)


async def test_notifications_published_through_nginx_reach_sockets_held_by_each_upstream(
    two_servers_behind_nginx: tuple[str, list[str]],
) -> None:
    url, upstreams = two_servers_behind_nginx
    http = httpx.AsyncClient(base_url=url, timeout=10)
    staff = await http.post("/api/v1/auth/token/", json={"username": "staff", "password": "staff-pass-123"})
    auth = {"Authorization": f"Token {staff.json()['token']}"}
    slug = f"ch-{uuid.uuid4().hex[:8]}"
    assert (await http.post("/api/v1/channels/", json={"slug": slug, "name": slug}, headers=auth)).status_code == 201
    user = await http.post("/api/v1/subscribers/", json={"username": f"u-{uuid.uuid4().hex[:8]}"}, headers=auth)
    token = user.json()["token"]
    await http.post(f"/api/v1/channels/{slug}/subscription/", headers={"Authorization": f"Token {token}"})

    sockets = {}  # upstream -> a socket that nginx proxied to it
    for _ in range(10):
        ws = await connect(url.replace("http", "ws") + "/ws/notifications/", token)
        upstream = ws.response.headers["X-Upstream"]
        await recv_until(ws, "welcome")
        if upstream in sockets:
            await ws.close()
        else:
            sockets[upstream] = ws
        if len(sockets) == 2:
            break
    assert set(sockets) == set(upstreams)

    published_via = set()
    for i in range(10):
        r = await http.post(f"/api/v1/channels/{slug}/events/", json={"title": f"n{i}"}, headers=auth)
        assert r.status_code == 201
        published_via.add(r.headers["X-Upstream"])
        frames = await asyncio.gather(*(recv_until(ws, "notification", timeout=3) for ws in sockets.values()))
        assert [f["id"] for f in frames] == [r.json()["id"]] * 2
        if published_via == set(upstreams):
            break
    assert published_via == set(upstreams)

    echoed = await http.get("/healthz", headers={"X-Request-ID": "through-nginx-1"})
    assert echoed.headers["X-Request-ID"] == "through-nginx-1"
    assert (await http.get("/metrics")).status_code == 404
    for ws in sockets.values():
        await ws.close()
    await http.aclose()
