"""Retention: pruned history is reported on replay, never silently skipped."""

import subprocess
import sys

from tests.support.live import ROOT, LivePlatform
from tests.support.ws import connect, recv


def prune(live: LivePlatform, days: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "herald_prune", "--days", days],
        cwd=ROOT,
        env=live.platform.env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


async def test_replay_over_a_pruned_range_says_replay_unavailable_then_sends_what_is_left(
    live_platform: LivePlatform,
) -> None:
    slug = live_platform.create_channel()
    _, token = live_platform.create_user()
    live_platform.subscribe(slug, token)
    old = [live_platform.publish(slug, f"old {i}")["id"] for i in range(3)]

    assert "pruned" in prune(live_platform, "0")
    kept = [live_platform.publish(slug, f"new {i}")["id"] for i in range(2)]

    ws = await connect(live_platform.ws_url, token, since=old[0] - 1)
    assert (await recv(ws))["type"] == "welcome"
    error = await recv(ws)
    assert error["type"] == "error" and error["code"] == "replay_unavailable"
    replayed = [await recv(ws) for _ in kept]
    assert [f["id"] for f in replayed] == kept
    assert await recv(ws) == {"type": "replayed", "count": 2}
    await ws.close()


async def test_replay_after_the_pruned_range_is_complete_and_says_nothing_more(live_platform: LivePlatform) -> None:
    slug = live_platform.create_channel()
    _, token = live_platform.create_user()
    live_platform.subscribe(slug, token)
    live_platform.publish(slug, "old")
    prune(live_platform, "0")
    newest = live_platform.publish(slug, "new")["id"]

    ws = await connect(live_platform.ws_url, token, since=newest - 1)
    assert (await recv(ws))["type"] == "welcome"
    assert (await recv(ws))["id"] == newest
    assert await recv(ws) == {"type": "replayed", "count": 1}
    await ws.close()
