"""The `herald` command run as a real subprocess against a real server."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest
from herald_client import Client

from tests.sdk.conftest import Member, history_ids, unique
from tests.support.live import LivePlatform, free_port

SCRIPT = Path(sys.executable).parent / "herald"
HERALD = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "herald_client"]


def env_for(live_platform: LivePlatform, token: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env["HERALD_URL"] = live_platform.url
    if token is not None:
        env["HERALD_TOKEN"] = token
    return env


def herald(
    live_platform: LivePlatform, token: str | None, *args: str, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HERALD, *args],
        env=env_for(live_platform, token),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **kwargs,
    )


def test_the_console_script_is_installed() -> None:
    assert shutil.which("herald", path=str(SCRIPT.parent)), "pip install -e clients/python"


def test_token_prints_a_key_that_works(live_platform: LivePlatform) -> None:
    username, _ = live_platform.create_user(password="cli-pass-12345")
    out = herald(live_platform, None, "token", "--username", username, "--password", "cli-pass-12345")
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip()
    assert key and "\n" not in key
    with Client(live_platform.url, key) as client:
        assert client.unread_count() == 0


def test_token_with_a_wrong_password_fails_with_a_message(live_platform: LivePlatform) -> None:
    username, _ = live_platform.create_user(password="cli-pass-12345")
    out = herald(live_platform, None, "token", "--username", username, "--password", "nope")
    assert out.returncode == 1
    assert out.stdout == "" and "401" in out.stderr


def test_token_reads_the_password_from_the_environment(live_platform: LivePlatform) -> None:
    username, _ = live_platform.create_user(password="cli-pass-12345")
    env = {**env_for(live_platform, None), "HERALD_PASSWORD": "cli-pass-12345"}
    out = subprocess.run(
        [*HERALD, "token", "--username", username],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr


def test_publish_prints_the_notification_as_json(live_platform: LivePlatform, member: Member) -> None:
    out = herald(
        live_platform,
        live_platform.staff_token,
        "publish",
        member.channel,
        "Build green",
        "--body",
        "all 812 tests",
        "--level",
        "success",
        "--data",
        '{"build": 812}',
    )
    assert out.returncode == 0, out.stderr
    n = json.loads(out.stdout)
    assert (n["channel"], n["title"], n["body"], n["level"], n["data"]) == (
        member.channel,
        "Build green",
        "all 812 tests",
        "success",
        {"build": 812},
    )
    with Client(live_platform.url, member.token) as client:
        assert [x["id"] for x in client.inbox()] == [n["id"]]


def test_publish_with_an_idempotency_key_twice_delivers_once(live_platform: LivePlatform, member: Member) -> None:
    args = ("publish", member.channel, "once", "--idempotency-key", unique("cli"))
    first = json.loads(herald(live_platform, live_platform.staff_token, *args).stdout)
    again = json.loads(herald(live_platform, live_platform.staff_token, *args).stdout)
    assert first == again
    with Client(live_platform.url, live_platform.staff_token) as staff:
        assert history_ids(staff, member.channel) == [first["id"]]


def test_publish_direct_to_a_user(live_platform: LivePlatform, member: Member) -> None:
    out = herald(live_platform, live_platform.staff_token, "publish", "--to", member.username, "Hi you")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["channel"] is None


@pytest.mark.parametrize(
    ("args", "token", "status"),
    [
        (("publish", "{channel}", "   "), "staff", "400"),
        (("publish", "{channel}", "x"), "bad", "401"),
        (("publish", "{channel}", "x"), "member", "403"),
        (("publish", "no-such-channel-x", "x"), "staff", "404"),
    ],
)
def test_publish_refusals_exit_1_with_the_reason(
    live_platform: LivePlatform, member: Member, args: tuple[str, ...], token: str, status: str
) -> None:
    key = {"staff": live_platform.staff_token, "member": member.token, "bad": "bad-token"}[token]
    out = herald(live_platform, key, *(a.format(channel=member.channel) for a in args))
    assert out.returncode == 1
    assert out.stdout == ""
    assert out.stderr.startswith("herald: error: ") and status in out.stderr


def test_bad_usage_exits_2(live_platform: LivePlatform, member: Member) -> None:
    out = herald(live_platform, member.token, "publish", member.channel, "x", "--data", "[1, 2]")
    assert out.returncode == 2 and "JSON object" in out.stderr
    out = herald(live_platform, member.token, "publish", member.channel, "x", "--level", "fatal")
    assert out.returncode == 2


def test_no_token_is_a_clear_error(live_platform: LivePlatform) -> None:
    out = herald(live_platform, None, "channels")
    assert out.returncode != 0 and "HERALD_TOKEN" in out.stderr


def test_an_unreachable_server_is_a_clear_error(live_platform: LivePlatform) -> None:
    out = herald(live_platform, "t", "--url", f"http://127.0.0.1:{free_port()}", "--retries", "0", "channels")
    assert out.returncode == 1 and "ConnectError" in out.stderr


def test_channels_lists_what_the_caller_sees(live_platform: LivePlatform, member: Member) -> None:
    out = herald(live_platform, member.token, "channels", "--json")
    assert out.returncode == 0, out.stderr
    rows = {c["slug"]: c for c in map(json.loads, out.stdout.splitlines())}
    assert rows[member.channel]["subscribed"] is True
    table = herald(live_platform, member.token, "channels")
    assert table.stdout.splitlines()[0].split()[:2] == ["SLUG", "SUB"]
    assert any(line.split()[:2] == [member.channel, "yes"] for line in table.stdout.splitlines())


def test_flags_override_the_environment(live_platform: LivePlatform, member: Member) -> None:
    env = {**os.environ, "HERALD_URL": f"http://127.0.0.1:{free_port()}", "HERALD_TOKEN": "wrong"}
    out = subprocess.run(
        [*HERALD, "channels", "--json", "--url", live_platform.url, "--token", member.token],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert member.channel in out.stdout


def test_subscribe_and_unsubscribe(live_platform: LivePlatform, member: Member) -> None:
    channel = live_platform.create_channel()
    assert herald(live_platform, member.token, "subscribe", channel).stdout == f"subscribed to {channel}\n"
    assert herald(live_platform, member.token, "subscribe", channel).stdout == f"already subscribed to {channel}\n"
    with Client(live_platform.url, member.token) as client:
        assert client.channel(channel)["subscribed"] is True
    out = herald(live_platform, member.token, "subscribe", channel, "--unsubscribe")
    assert out.stdout == f"unsubscribed from {channel}\n"
    with Client(live_platform.url, member.token) as client:
        assert client.channel(channel)["subscribed"] is False
    out = herald(live_platform, member.token, "subscribe", unique("missing"))
    assert out.returncode == 1 and "404" in out.stderr


class Lines:
    """Reads a subprocess's stdout line by line with a deadline (a thread does the blocking reads)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self.proc, self.queue = proc, queue.Queue[str]()
        threading.Thread(target=self._pump, args=(proc.stdout,), daemon=True).start()

    def _pump(self, stdout: IO[str]) -> None:
        for line in stdout:
            self.queue.put(line)
        self.queue.put("")

    def read(self, count: int, timeout: float = 20) -> list[str]:
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while len(lines) < count:
            try:
                line = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"only {len(lines)} of {count} lines: {lines}") from None
            if not line:
                raise AssertionError(f"listen exited early ({self.proc.poll()}): {lines}")
            lines.append(line)
        return lines


def test_listen_prints_one_json_line_per_notification(
    live_platform: LivePlatform, staff: Client, member: Member
) -> None:
    before = staff.publish(member.channel, "before listen")
    proc = subprocess.Popen(
        [*HERALD, "listen", "--since", str(before["id"])],
        env=env_for(live_platform, member.token),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = Lines(proc)
        sent = [staff.publish(member.channel, f"n{i}", data={"i": i}) for i in range(3)]
        assert [json.loads(line) for line in lines.read(3)] == sent
        sent.append(staff.send_direct(member.username, "direct"))
        assert json.loads(lines.read(1)[0]) == sent[-1]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err


def test_listen_since_replays_then_exits_after_count(
    live_platform: LivePlatform, staff: Client, member: Member
) -> None:
    ids = [staff.publish(member.channel, f"old {i}")["id"] for i in range(4)]
    out = herald(live_platform, member.token, "listen", "--since", str(ids[0]), "--count", "3")
    assert out.returncode == 0, out.stderr
    assert [json.loads(line)["id"] for line in out.stdout.splitlines()] == ids[1:]


def test_listen_output_is_compact_json_lines(live_platform: LivePlatform, staff: Client, member: Member) -> None:
    n = staff.publish(member.channel, "ünïcode ✓", data={"nested": {"a": [1, 2]}})
    out = herald(live_platform, member.token, "listen", "--since", str(n["id"] - 1), "--count", "1")
    assert out.stdout == json.dumps(n, separators=(",", ":"), ensure_ascii=False) + "\n"


def test_listen_with_a_bad_token_exits_1(live_platform: LivePlatform) -> None:
    out = herald(live_platform, "bad-token", "listen")
    assert out.returncode == 1 and "4401" in out.stderr
