"""Starting, measuring and stopping the servers under test (Herald and the baseline).

Servers run pinned to core 0 (`taskset -c 0`), the generator to core 1. Herald runs as in
production: PostgreSQL (a fresh clone of a prepared template database per server start)
and the Redis channel layer (a fresh key prefix per start, so runs never share state).
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
BIN = ROOT / ".venv" / "bin"
LOGS = ROOT / "bench" / "results" / "logs"
SERVER_CPU = "0"
PG = "postgres://postgres@127.0.0.1:5432"
DB, TEMPLATE = "herald_bench", "herald_bench_tpl"
REDIS_URL = "redis://127.0.0.1:6379/0"


def raise_nofile() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qAt", "-c", sql],
        check=True,
        capture_output=True,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def core_busy(core: str) -> float:
    """CPU seconds core `core` spent busy (any process) since boot, from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            v = [int(x) for x in line.split()[1:]]
            return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")
    return 0.0


def herald_env(db: str, prefix: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": f"{PG}/{db}",
            "REDIS_URL": REDIS_URL,
            "HERALD_LAYER_PREFIX": prefix,
            "HERALD_MAX_CONNECTIONS_PER_USER": "100000",
            "HERALD_PUBLISH_RATE": "1000000/min",
            "HERALD_SOCKET_QUEUE_LIMIT": "100000",
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    # Production default unless set: under ASGI every request runs in a new thread, so
    # persistent connections are never reused and pile up until PostgreSQL refuses clients
    # (its other users too). On a shared PostgreSQL run with DATABASE_CONN_MAX_AGE=0.
    env.setdefault("DATABASE_CONN_MAX_AGE", os.environ.get("DATABASE_CONN_MAX_AGE", "60"))
    return env


@dataclass
class Server:
    """A group of server processes under test (one, or several sharing Redis + PostgreSQL)."""

    name: str
    procs: list[subprocess.Popen] = field(default_factory=list)
    ws_urls: list[str] = field(default_factory=list)
    publish_urls: list[str] = field(default_factory=list)  # format(slug=...)
    http_base: str = ""

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def rss_kb(self) -> int:
        return sum(rss_kb(pid) for pid in self.pids)

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _spawn(cmd: list[str], env: dict[str, str], log_name: str) -> subprocess.Popen:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / f"{log_name}.log", "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        ["taskset", "-c", SERVER_CPU, *cmd],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=raise_nofile,
    )


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {LOGS}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not come up")


def manage(*args: str, db: str) -> None:
    subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=herald_env(db, "herald-bench-setup"), check=True, capture_output=True
    )


def fresh_database() -> None:
    """A fresh `herald_bench`, cloned from the prepared template (users and tokens included)."""
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    psql(f"CREATE DATABASE {DB} TEMPLATE {TEMPLATE}")


def start_herald(kind: str = "daphne", processes: int = 1, db: str = DB) -> Server:
    """Herald under Daphne (default) or Uvicorn, on PostgreSQL + Redis, `processes` processes."""
    prefix = f"herald-bench-{os.getpid()}-{time.time_ns()}"
    env = herald_env(db, prefix)
    server = Server(name=f"herald-{kind}" + (f"-x{processes}" if processes > 1 else ""))
    for i in range(processes):
        port = free_port()
        if kind == "daphne":
            cmd = [
                str(BIN / "daphne"),
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "--websocket-max-message-size",
                "65536",
                "--websocket_timeout",
                "-1",
                "config.asgi:application",
            ]
        elif kind == "uvicorn":
            cmd = [
                str(BIN / "uvicorn"),
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--ws",
                "websockets",
                "--ws-max-size",
                "65536",
                "--loop",
                "uvloop",
                "--log-level",
                "warning",
                "--no-access-log",
                "--backlog",
                "4096",
            ]
        else:
            raise ValueError(kind)
        server.procs.append(_spawn(cmd, env, f"{server.name}-{i}"))
        base = f"http://127.0.0.1:{port}"
        server.ws_urls.append(f"ws://127.0.0.1:{port}/ws/notifications/")
        server.publish_urls.append(base + "/api/v1/channels/{slug}/events/")
        server.http_base = server.http_base or base
    for proc, url in zip(server.procs, server.publish_urls, strict=True):
        _wait_http(url.format(slug="x"), proc)
    return server


def start_baseline() -> Server:
    port, http_port = free_port(), free_port()
    proc = _spawn(
        [PY, "-m", "bench.baseline_server", "--port", str(port), "--http-port", str(http_port)],
        dict(os.environ),
        "baseline",
    )
    base = f"http://127.0.0.1:{http_port}"
    _wait_http(base + "/", proc)
    return Server(
        name="baseline-websockets",
        procs=[proc],
        ws_urls=[f"ws://127.0.0.1:{port}/"],
        publish_urls=[base + "/publish/{slug}"],
        http_base=base,
    )


def prepare_template(users: int) -> dict[str, Any]:
    """Migrate a template database and create `users` subscribers (with tokens) through the
    REST API once; every run then starts from a clone of it."""
    started = time.perf_counter()
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    psql(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
    psql(f"CREATE DATABASE {TEMPLATE}")
    manage("migrate", "--noinput", db=TEMPLATE)
    manage("herald_demo", db=TEMPLATE)
    server = start_herald(db=TEMPLATE)
    try:
        with httpx.Client(base_url=server.http_base, timeout=120) as client:
            admin = client.post("/api/v1/auth/token/", json={"username": "admin", "password": "admin"})
            admin.raise_for_status()
            admin_token = admin.json()["token"]
            tokens: list[str] = []
            t0 = time.perf_counter()
            for start in range(0, users, 1000):
                batch = [{"username": f"bench{i:05d}"} for i in range(start, min(users, start + 1000))]
                r = client.post("/api/v1/subscribers/", json=batch, headers={"Authorization": f"Token {admin_token}"})
                r.raise_for_status()
                tokens.extend(row["token"] for row in r.json())
            create_seconds = time.perf_counter() - t0
    finally:
        server.stop()
    return {
        "admin_token": admin_token,
        "tokens": tokens,
        "users": users,
        "user_create_per_s": round(users / create_seconds, 1),
        "template_seconds": round(time.perf_counter() - started, 1),
    }


def versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {"python": sys.version.split()[0]}
    for name in (
        "django",
        "channels",
        "channels-redis",
        "daphne",
        "twisted",
        "uvicorn",
        "websockets",
        "uvloop",
        "orjson",
        "psycopg",
        "redis",
    ):
        try:
            out[name] = version(name)
        except Exception:
            out[name] = "-"
    pg_version = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qAt", "-c", "show server_version"]
    for label, cmd in (("postgresql", pg_version), ("redis-server", ["redis-cli", "info", "server"])):
        try:
            text = subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout
            if label == "redis-server":
                text = next((ln.split(":")[1] for ln in text.splitlines() if ln.startswith("redis_version")), "-")
            out[label] = text.strip().split()[0] if text.strip() else "-"
        except Exception:
            out[label] = "-"
    return out


def machine() -> dict[str, Any]:
    cpu = "-"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(int(mem) / 1024 / 1024, 1),
        "kernel": os.uname().release,
        "server_core": SERVER_CPU,
        "generator_core": "1",
    }
