"""Run the benchmark suite: `.venv/bin/python -m bench.run [--quick] [--scenario NAME ...]`.

Starts and stops every server itself (Herald under Daphne, under Uvicorn, several Daphne
processes on Redis, and the bare `websockets` baseline), pins servers to core 0 and itself
to core 1, and writes bench/results/latest.json, docs/img/performance.png and the results
section of docs/performance.md. See docs/performance.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import uvloop

from bench import report, servers
from bench.scenarios import Layout, Target, fanout, rest_throughput

RESULTS = Path(__file__).resolve().parent / "results"

SIZES: dict[str, dict[str, Any]] = {
    "full": {
        "burst_1k": 150,
        "burst_5k": 40,
        "burst_10k": 20,
        "burst_many": 200,
        "steady_s": 15,
        "publish_cost": 8,
        "rest_s": 8,
        "multi_n": 2000,
        "multi_burst": 80,
    },
    "quick": {
        "burst_1k": 60,
        "burst_5k": 16,
        "burst_10k": 10,
        "burst_many": 100,
        "steady_s": 6,
        "publish_cost": 4,
        "rest_s": 4,
        "multi_n": 1000,
        "multi_burst": 40,
    },
}

SCENARIOS = ["fanout_1k", "fanout_5k", "fanout_10k", "many_channels", "publish", "multiprocess", "uvicorn"]
# --quick leaves out the scenarios that open 5,000 or 10,000 sockets (under Daphne, opening
# them takes minutes); name them with --scenario to include them.
QUICK_SCENARIOS = ["fanout_1k", "publish", "multiprocess", "uvicorn"]


def one_channel(n: int, slug: str) -> Layout:
    return {slug: list(range(n))}


def many_channels_layout() -> Layout:
    # 10,000 users, 100 channels, each user on 10 of them (so 1,000 subscribers per channel).
    return {f"m{c:02d}": [u for u in range(10_000) if u % 10 == c % 10] for c in range(100)}


async def with_server(start: Any, template: dict[str, Any] | None, body: Any) -> dict[str, Any]:
    """Start a server group, run `body(target)`, always stop it; errors become a result."""
    if template is not None:
        servers.fresh_database()
    server = start()
    try:
        return await body(Target(server, template))
    except Exception as exc:
        traceback.print_exc()
        return {"server": server.name, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        server.stop()


async def scenario(name: str, size: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    herald = lambda: servers.start_herald("daphne")  # noqa: E731
    baseline = servers.start_baseline
    steady_s = size["steady_s"]

    def fan(layout: Layout, **kw: Any) -> Any:
        return lambda target: fanout(target, layout, **kw)

    if name == "fanout_1k":
        body = fan(one_channel(1000, "c1k"), burst=size["burst_1k"], rate=10, seconds=steady_s)
        pairs = [("herald", herald, template), ("baseline", baseline, None)]
    elif name == "fanout_5k":
        body = fan(one_channel(5000, "c5k"), burst=size["burst_5k"], rate=2, seconds=steady_s)
        pairs = [("herald", herald, template), ("baseline", baseline, None)]
    elif name == "fanout_10k":
        body = fan(
            {"c10k": list(range(10_000)), "c10": list(range(10))},
            burst=size["burst_10k"],
            concurrency=200,
            publish_cost=size["publish_cost"],
            slugs=["c10k"],
        )
        pairs = [("herald", herald, template), ("baseline", baseline, None)]
    elif name == "many_channels":
        body = fan(many_channels_layout(), burst=size["burst_many"], rate=10, seconds=steady_s, concurrency=200)
        pairs = [("herald", herald, template), ("baseline", baseline, None)]
    elif name == "publish":
        layout = {"p10": list(range(10)), "p10k": list(range(10_000))}
        body = lambda target: rest_throughput(target, layout, seconds=size["rest_s"])  # noqa: E731
        pairs = [("herald", herald, template), ("baseline", baseline, None)]
    elif name == "multiprocess":
        body = fan(one_channel(size["multi_n"], "cmp"), burst=size["multi_burst"], rate=5, seconds=steady_s)
        pairs = [
            ("herald", lambda: servers.start_herald("daphne", processes=2), template),
            ("baseline", baseline, None),
        ]
    elif name == "uvicorn":
        body = fan(one_channel(1000, "c1k"), burst=size["burst_1k"], rate=10, seconds=steady_s)
        pairs = [("herald", lambda: servers.start_herald("uvicorn"), template)]
    else:
        raise SystemExit(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    out: dict[str, Any] = {}
    for role, start, tpl in pairs:
        t0 = time.perf_counter()
        print(f"[bench] {name}: {role} ...", flush=True)
        out[role] = await with_server(start, tpl, body)
        out[role]["scenario_seconds"] = round(time.perf_counter() - t0, 1)
        print(f"[bench] {name}: {role} done in {out[role]['scenario_seconds']} s: {summary(out[role])}", flush=True)
    return out


def summary(result: dict[str, Any]) -> str:
    if "error" in result:
        return result["error"]
    parts = []
    if "connect" in result:
        c = result["connect"]
        parts.append(
            f"{c['sockets']} sockets ({c['connect_errors']} errors {c['error_sample'][:1]}), "
            f"{c['connects_per_s']} connects/s, {c['kb_per_connection']} KB/conn"
        )
    if "burst" in result:
        b = result["burst"]
        parts.append(
            f"burst {b['deliveries_per_s']}/s lost {b['lost']} dup {b['duplicates']} "
            f"({b['server_us_per_delivery']} us/delivery, foreign load {b['foreign_load_server_core']})"
        )
    if "steady" in result:
        s = result["steady"]
        parts.append(f"steady e2e p99 {s['e2e_p99_ms']} ms rest p99 {s['rest_p99_ms']} ms")
    for key, value in result.items():
        if key.startswith("to_"):
            parts.append(f"{key}: {value.get('per_s')}/s")
    return "; ".join(parts)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    mode = "quick" if args.quick else "full"
    size = SIZES[mode]
    names = args.scenario or (QUICK_SCENARIOS if args.quick else SCENARIOS)
    started = time.perf_counter()
    print("[bench] preparing the template database (10,000 users) ...", flush=True)
    template = servers.prepare_template(10_000)
    print(f"[bench] template ready in {template['template_seconds']} s", flush=True)
    results: dict[str, Any] = {
        "command": " ".join([".venv/bin/python -m bench.run", *map(shlex.quote, sys.argv[1:])]),
        "mode": mode,
        "sizes": size,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": servers.machine(),
        "versions": servers.versions(),
        "template": {k: v for k, v in template.items() if k not in ("tokens", "admin_token")},
        "load_average_at_start": os.getloadavg(),
        "niceness": os.getpriority(os.PRIO_PROCESS, 0),
        "scenarios": {},
    }
    for name in names:
        results["scenarios"][name] = await scenario(name, size, template)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    with contextlib.suppress(Exception):
        servers.psql(f"DROP DATABASE IF EXISTS {servers.DB} WITH (FORCE)")
    return results


def prioritise(nice: int) -> None:
    """Run the bench and its servers at `nice`. With autogroup scheduling (most desktops and
    containers) niceness only ranks processes within one session's group, so the bench also
    starts its own session and gives that group the same niceness."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)  # servers inherit it
        with contextlib.suppress(PermissionError):
            os.setsid()  # fails when already a process-group leader: then the current group is used
        autogroup = Path("/proc/self/autogroup")
        if autogroup.exists():
            autogroup.write_text(str(nice))
    except OSError as exc:
        print(f"[bench] cannot change priority ({exc}); running at the default priority", flush=True)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="smaller bursts, shorter phases, no 5k/10k-socket scenarios (~3 minutes)"
    )
    parser.add_argument("--scenario", action="append", choices=SCENARIOS, help="run only this one (repeatable)")
    parser.add_argument("--output", default=str(RESULTS / "latest.json"))
    parser.add_argument(
        "--nice",
        type=int,
        default=-20,
        help="scheduling niceness for the bench and its servers (default -10: other work on "
        "a shared machine disturbs the figures less; 0 to leave it)",
    )
    parser.add_argument("--no-report", action="store_true", help="do not touch docs/performance.md and the chart")
    args = parser.parse_args()
    servers.raise_nofile()
    if args.nice:
        prioritise(args.nice)
    os.sched_setaffinity(0, {1})  # the generator's core; servers get core 0 through taskset
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # so that `finally` stops the servers
    results = uvloop.run(main(args))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(f"[bench] wrote {out}")
    if not args.no_report:
        report.write(results)
        print(f"[bench] wrote {report.DOC} and {report.CHART}")


if __name__ == "__main__":
    cli()
