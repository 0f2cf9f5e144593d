"""Real server processes for end-to-end tests: Daphne on a fresh database, optionally on Redis.

A `Platform` owns one database (a fresh SQLite file, or a fresh PostgreSQL database when
DATABASE_URL is set) and one channel-layer namespace on Redis (when REDIS_URL is set), and
starts any number of Daphne processes on them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / "var" / "test-logs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """One Daphne process serving config.asgi on 127.0.0.1:port."""

    def __init__(self, env: dict[str, str], port: int | None = None, name: str = "daphne") -> None:
        self.env = env
        self.port = port or free_port()
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"{name}-{self.port}-{uuid.uuid4().hex[:6]}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/notifications/"

    def start(self, timeout: float = 30) -> ServerProcess:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "--websocket-max-message-size",
                "65536",
                "--websocket_timeout",
                "-1",
                "config.asgi:application",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not become ready; see {self.log_path}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """SIGKILL: no goodbye to clients, no clean-up."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


class Platform:
    """A database + channel-layer namespace shared by one or more server processes."""

    def __init__(self, *, redis_urls: list[str] | None = None, extra_env: dict[str, str] | None = None) -> None:
        self.id = uuid.uuid4().hex[:10]
        self.env = self._base_env(redis_urls, extra_env or {})
        self.database_url = self._create_database()
        self.env["DATABASE_URL"] = self.database_url
        self.servers: list[ServerProcess] = []
        self._manage("migrate", "--noinput", "-v", "0")
        self._manage("herald_demo", "--username", "staff", "--password", "staff-pass-123")
        self.staff_token = ""

    @staticmethod
    def _base_env(redis_urls: list[str] | None, extra: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DEBUG="0",
            HERALD_PUBLISH_RATE="100000/min",
            HERALD_AUTH_RATE="100000/min",
            HERALD_SOCKET_FRAME_RATE="1000",
            HERALD_SOCKET_FRAME_BURST="1000",
            PYTHONUNBUFFERED="1",
        )
        if redis_urls is None:
            redis_urls = [u for u in os.environ.get("REDIS_URL", "").split(",") if u]
        if redis_urls:
            env["REDIS_URL"] = ",".join(redis_urls)
        else:
            env.pop("REDIS_URL", None)
        env["HERALD_LAYER_PREFIX"] = f"herald-test-{uuid.uuid4().hex[:8]}"
        env.update(extra)
        return env

    def _create_database(self) -> str:
        base = os.environ.get("DATABASE_URL", "")
        if base.startswith(("postgres://", "postgresql://")):
            import psycopg

            name = f"herald_live_{self.id}"
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            parts = urlsplit(base)
            self._pg_admin_url = base
            return urlunsplit(parts._replace(path="/" + name))
        path = ROOT / "var" / "test-dbs" / f"live-{self.id}.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"

    def _manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True, stdout=subprocess.DEVNULL
        )

    def start_server(self, port: int | None = None, **extra_env: str) -> ServerProcess:
        server = ServerProcess({**self.env, **extra_env}, port=port, name=f"daphne-{self.id}")
        server.start()
        self.servers.append(server)
        if not self.staff_token:
            self.staff_token = self.login(server.url, "staff", "staff-pass-123")
        return server

    @staticmethod
    def login(url: str, username: str, password: str) -> str:
        r = httpx.post(url + "/api/v1/auth/token/", json={"username": username, "password": password}, timeout=10)
        r.raise_for_status()
        return str(r.json()["token"])

    def close(self) -> None:
        for server in self.servers:
            server.stop()
        if self.database_url.startswith("postgres"):
            import psycopg

            with psycopg.connect(self._pg_admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "herald_live_{self.id}" WITH (FORCE)')
        else:
            Path(self.database_url.removeprefix("sqlite:///")).unlink(missing_ok=True)


class LivePlatform:
    """One platform with one server process, plus helpers that go through the public API."""

    def __init__(self, platform: Platform, server: ServerProcess) -> None:
        self.platform = platform
        self.server = server
        self.staff_token = platform.staff_token
        self.http = httpx.Client(base_url=server.url, timeout=20)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ws_url(self) -> str:
        return self.server.ws_url

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Token {token or self.staff_token}"}

    def create_user(
        self, username: str | None = None, password: str | None = None, *, staff: bool = False
    ) -> tuple[str, str]:
        username = username or f"user-{uuid.uuid4().hex[:10]}"
        body: dict[str, Any] = {"username": username}
        if password:
            body["password"] = password
        r = self.http.post("/api/v1/subscribers/", json=body, headers=self.headers())
        r.raise_for_status()
        return username, str(r.json()["token"])

    def create_channel(self, slug: str | None = None, *, owner_token: str | None = None, **fields: Any) -> str:
        slug = slug or f"ch-{uuid.uuid4().hex[:10]}"
        body = {"slug": slug, "name": fields.pop("name", slug), **fields}
        r = self.http.post("/api/v1/channels/", json=body, headers=self.headers(owner_token))
        r.raise_for_status()
        return slug

    def subscribe(self, slug: str, token: str) -> None:
        r = self.http.post(f"/api/v1/channels/{slug}/subscription/", headers=self.headers(token))
        r.raise_for_status()

    def publish(self, slug: str, title: str = "hello", token: str | None = None, **fields: Any) -> dict[str, Any]:
        r = self.http.post(
            f"/api/v1/channels/{slug}/events/", json={"title": title, **fields}, headers=self.headers(token)
        )
        r.raise_for_status()
        return dict(r.json())

    def stop(self) -> None:
        self.server.stop()

    def kill(self) -> None:
        self.server.kill()

    def start(self) -> None:
        self.server.start()
