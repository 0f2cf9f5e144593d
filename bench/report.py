"""Render results (bench/results/latest.json) as Markdown tables in docs/performance.md and a PNG chart.

Only the block between the `bench:results` markers in docs/performance.md is rewritten; the
prose around it is kept. `python -m bench.report [results.json]` re-renders without running.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
CHART = ROOT / "docs" / "img" / "performance.png"
START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"

FANOUTS = [
    ("fanout_1k", "1 channel, 1,000 subscribers"),
    ("fanout_5k", "1 channel, 5,000 subscribers"),
    ("fanout_10k", "1 channel, 10,000 subscribers"),
    ("many_channels", "100 channels, 10,000 users x 10 channels"),
    ("multiprocess", "2 Daphne processes on Redis (baseline: 1 process)"),
    ("uvicorn", "Herald under Uvicorn, 1,000 subscribers (baseline: fanout_1k's)"),
]


def fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float | int):
        return f"{value:,.{digits}f}"
    return str(value)


def ratio(a: Any, b: Any) -> str:
    return f"{a / b:.2f}" if isinstance(a, int | float) and isinstance(b, int | float) and b else "-"


def get(d: dict[str, Any] | None, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def pair(results: dict[str, Any], name: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    sc = results["scenarios"].get(name) or {}
    base = sc.get("baseline")
    if name == "uvicorn":
        base = get(results["scenarios"], "fanout_1k", "baseline")
    return sc.get("herald"), base


def fanout_table(results: dict[str, Any]) -> list[str]:
    rows = [
        "| scenario | Herald deliveries/s | baseline deliveries/s | ratio | lost / dup / out of order (Herald) "
        "| lost / dup (baseline) | server CPU µs per delivery: Herald / baseline "
        "| burst e2e p99 ms: Herald / baseline |",
        "|---|---:|---:|---:|---|---|---|---|",
    ]
    for name, label in FANOUTS:
        ours, base = pair(results, name)
        if ours is None:
            continue
        if "error" in ours:
            rows.append(f"| {label} | error: {ours['error']} | | | | | | |")
            continue
        b, bb = ours.get("burst", {}), get(base, "burst") or {}
        rows.append(
            f"| {label} | {fmt(b.get('deliveries_per_s'))} | {fmt(bb.get('deliveries_per_s'))} "
            f"| {ratio(b.get('deliveries_per_s'), bb.get('deliveries_per_s'))} "
            f"| {b.get('lost')} / {b.get('duplicates')} / {b.get('out_of_order')} "
            f"| {bb.get('lost', '-')} / {bb.get('duplicates', '-')} "
            f"| {fmt(b.get('server_us_per_delivery'), 1)} / {fmt(bb.get('server_us_per_delivery'), 1)} "
            f"| {fmt(b.get('e2e_p99_ms'))} / {fmt(bb.get('e2e_p99_ms'))} |"
        )
    return rows


def steady_table(results: dict[str, Any]) -> list[str]:
    rows = [
        "| scenario | rate (notifications/s) | deliveries/s | Herald e2e p50 / p99 / max ms "
        "| baseline e2e p50 / p99 ms | Herald REST p50 / p99 ms | lost / dup |",
        "|---|---:|---:|---|---|---|---|",
    ]
    for name, label in FANOUTS:
        ours, base = pair(results, name)
        s, bs = get(ours, "steady"), get(base, "steady") or {}
        if not s:
            continue
        rows.append(
            f"| {label} | {s['rate']} | {fmt(s.get('deliveries_per_s'))} "
            f"| {fmt(s['e2e_p50_ms'], 1)} / {fmt(s['e2e_p99_ms'], 1)} / {fmt(s['e2e_max_ms'], 1)} "
            f"| {fmt(bs.get('e2e_p50_ms'), 1)} / {fmt(bs.get('e2e_p99_ms'), 1)} "
            f"| {fmt(s['rest_p50_ms'], 1)} / {fmt(s['rest_p99_ms'], 1)} | {s['lost']} / {s['duplicates']} |"
        )
    return rows


def connect_table(results: dict[str, Any]) -> list[str]:
    rows = [
        "| scenario | sockets | errors: Herald / baseline | connects/s: Herald / baseline "
        "| idle KB per connection: Herald / baseline | ratio | Herald RSS before -> after MB |",
        "|---|---:|---|---|---|---:|---|",
    ]
    for name, label in FANOUTS:
        ours, base = pair(results, name)
        c, bc = get(ours, "connect"), get(base, "connect") or {}
        if not c:
            continue
        rows.append(
            f"| {label} | {c['sockets']:,} | {c['connect_errors']} / {bc.get('connect_errors', '-')} "
            f"| {fmt(c['connects_per_s'])} / {fmt(bc.get('connects_per_s'))} "
            f"| {fmt(c['kb_per_connection'], 1)} / {fmt(bc.get('kb_per_connection'), 1)} "
            f"| {ratio(c['kb_per_connection'], bc.get('kb_per_connection'))} "
            f"| {c['rss_before_mb']} -> {c['rss_after_mb']} |"
        )
    return rows


def publish_table(results: dict[str, Any]) -> list[str]:
    rows = [
        "| what | Herald accepted/s | failed | Herald REST p50 / p99 ms | Herald server CPU "
        "| baseline accepted/s (no store) |",
        "|---|---:|---:|---|---:|---:|",
    ]
    ours, base = pair(results, "publish")
    for key in ("to_10_subscribers", "to_10000_subscribers"):
        o, b = get(ours, key), get(base, key) or {}
        if o:
            rows.append(
                f"| publish to a channel with {key.split('_')[1]} subscribers (no sockets), 8 concurrent "
                f"| {fmt(o['per_s'])} | {o['failed']} | {fmt(o['rest_p50_ms'], 1)} / {fmt(o['rest_p99_ms'], 1)} "
                f"| {o['server_cpu_util']:.0%} | {fmt(b.get('per_s'))} |"
            )
    cost = get(results["scenarios"], "fanout_10k", "herald", "publish_cost") or {}
    for key, value in cost.items():
        rows.append(
            f"| one publish per second to {key[3:]} connected subscribers (10,000 sockets open) "
            f"| - | - | {fmt(value['rest_p50_ms'], 1)} / {fmt(value['rest_p99_ms'], 1)} | - | - |"
        )
    return rows


def targets_table(results: dict[str, Any]) -> list[str]:
    sc = results["scenarios"]
    rows = ["| target (issue 5) | measured | met? |", "|---|---|---|"]

    def line(what: str, measured: str, ok: bool | None) -> None:
        rows.append(f"| {what} | {measured} | {'yes' if ok else ('no' if ok is False else 'not run')} |")

    for name, n in (("fanout_1k", "1,000"), ("fanout_5k", "5,000")):
        ours, base = pair(results, name)
        b, bb = get(ours, "burst"), get(base, "burst")
        if b and bb and b.get("deliveries_per_s") and bb.get("deliveries_per_s"):
            r = b["deliveries_per_s"] / bb["deliveries_per_s"]
            line(
                f"fan-out at N = {n} >= 0.5 x baseline, zero loss and duplicates",
                f"{r:.2f} x, lost {b['lost']}, dup {b['duplicates']}",
                r >= 0.5 and not b["lost"] and not b["duplicates"],
            )
        else:
            line(f"fan-out at N = {n} >= 0.5 x baseline", "-", None)
    s = get(sc, "fanout_1k", "herald", "steady")
    if s:
        line(
            "10,000 deliveries/s (1,000 subs x 10/s): e2e p99 < 50 ms, REST p99 < 20 ms",
            f"e2e p99 {s['e2e_p99_ms']} ms, REST p99 {s['rest_p99_ms']} ms",
            (s["e2e_p99_ms"] or 1e9) < 50 and (s["rest_p99_ms"] or 1e9) < 20,
        )
    c, bc = get(sc, "fanout_10k", "herald", "connect"), get(sc, "fanout_10k", "baseline", "connect")
    if c and bc and c.get("kb_per_connection") and bc.get("kb_per_connection"):
        r = c["kb_per_connection"] / bc["kb_per_connection"]
        line(
            "idle memory per connection <= 2 x baseline (10,000 sockets)",
            f"{c['kb_per_connection']:.1f} KB vs {bc['kb_per_connection']:.1f} KB = {r:.2f} x",
            r <= 2,
        )
        ours10k = sc["fanout_10k"]["herald"]
        line(
            "10,000 concurrent sockets on one process without errors",
            f"{c['connect_errors']} connect errors, {ours10k.get('closed_by_server', '-')} closed early, "
            f"lost {get(ours10k, 'burst', 'lost')}",
            not c["connect_errors"] and not ours10k.get("closed_by_server") and not get(ours10k, "burst", "lost"),
        )
    cost = get(sc, "fanout_10k", "herald", "publish_cost")
    if cost and "to_10" in cost and "to_10000" in cost:
        small, big = cost["to_10"]["rest_p50_ms"], cost["to_10000"]["rest_p50_ms"]
        line(
            "publish to 10,000 subscribers answered as fast as to 10",
            f"REST p50 {big} ms vs {small} ms "
            f"(p99 {cost['to_10000']['rest_p99_ms']} vs {cost['to_10']['rest_p99_ms']})",
            big is not None and small is not None and big <= max(small * 1.5, small + 5),
        )
    return rows


def chart(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, ours_v, base_v = [], [], []
    for name, _ in FANOUTS:
        ours, base = pair(results, name)
        if get(ours, "burst", "deliveries_per_s"):
            labels.append(name.replace("_", "\n"))
            ours_v.append(ours["burst"]["deliveries_per_s"])
            base_v.append(get(base, "burst", "deliveries_per_s") or 0)
    mem_labels, mem_ours, mem_base = [], [], []
    for name, _ in FANOUTS[:4]:
        ours, base = pair(results, name)
        if get(ours, "connect", "kb_per_connection") is not None:
            mem_labels.append(name.replace("_", "\n"))
            mem_ours.append(ours["connect"]["kb_per_connection"])
            mem_base.append(get(base, "connect", "kb_per_connection") or 0)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    x = range(len(labels))
    ax1.bar([i - 0.2 for i in x], ours_v, 0.4, label="Herald")
    ax1.bar([i + 0.2 for i in x], base_v, 0.4, label="bare websockets baseline")
    ax1.set_xticks(list(x), labels, fontsize=8)
    ax1.set_ylabel("deliveries per second (burst)")
    ax1.set_title("Fan-out throughput")
    ax1.legend()
    x2 = range(len(mem_labels))
    ax2.bar([i - 0.2 for i in x2], mem_ours, 0.4, label="Herald")
    ax2.bar([i + 0.2 for i in x2], mem_base, 0.4, label="baseline")
    ax2.set_xticks(list(x2), mem_labels, fontsize=8)
    ax2.set_ylabel("KB RSS per idle connection")
    ax2.set_title("Memory per connection")
    fig.suptitle(f"Herald vs bare websockets ({results['mode']} run, {results['date'][:10]})")
    fig.tight_layout()
    CHART.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(CHART, dpi=110)
    plt.close(fig)


def markdown(results: dict[str, Any]) -> str:
    m, v = results["machine"], results["versions"]
    out = [
        START,
        "",
        f"Run: `{results['command']}` ({results['mode']} mode), {results['date']}, "
        f"{results.get('total_seconds', '-')} s in all. Load average at start: "
        f"{', '.join(f'{x:.2f}' for x in results.get('load_average_at_start', []))}.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Linux {m['kernel']}; "
        f"servers pinned to core {m['server_core']}, generator to core {m['generator_core']}.",
        "",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "",
        "![Herald vs baseline](img/performance.png)",
        "",
        "### Targets",
        "",
        *targets_table(results),
        "",
        "### Fan-out (burst: publish as fast as the REST API answers, 8 concurrent publishers)",
        "",
        *fanout_table(results),
        "",
        "### Sustained rate (open-loop publishing at a fixed rate)",
        "",
        *steady_table(results),
        "",
        "### Connections and memory",
        "",
        *connect_table(results),
        "",
        "### Publishing over REST (with the store)",
        "",
        *publish_table(results),
        "",
        f"Template database: 10,000 users created over `POST /api/v1/subscribers/` at "
        f"{fmt(results['template'].get('user_create_per_s'))} users/s.",
        "",
        END,
    ]
    return "\n".join(out)


def write(results: dict[str, Any]) -> None:
    chart(results)
    block = markdown(results)
    text = DOC.read_text() if DOC.exists() else f"# Performance\n\n{START}\n{END}\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## Results\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench" / "results" / "latest.json"
    write(orjson.loads(path.read_bytes()))
