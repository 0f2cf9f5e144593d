"""The `herald` command: publish, listen, channels, subscribe, token.

The server URL and token come from `--url`/`--token`, else $HERALD_URL/$HERALD_TOKEN.
Exit status: 0 on success, 1 when the server refuses or fails, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from herald_client._version import __version__
from herald_client.client import Client
from herald_client.errors import HeraldError
from herald_client.listener import Listener
from herald_client.types import LEVELS


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _print(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _client(args: argparse.Namespace) -> Client:
    return Client(args.url, args.token, timeout=args.timeout, retries=args.retries)


def _need_token(args: argparse.Namespace) -> None:
    if not (args.token or os.environ.get("HERALD_TOKEN")):
        raise SystemExit("herald: error: no token: pass --token or set HERALD_TOKEN (get one with `herald token`)")


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, e.g. '{\"order\": 42}'")
    return value


def _non_negative(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError("must be a non-negative integer")
    return int(text)


# --- commands --------------------------------------------------------------------------------


def cmd_publish(args: argparse.Namespace) -> int:
    _need_token(args)
    with _client(args) as client:
        kwargs: dict[str, Any] = {
            "body": args.body,
            "level": args.level,
            "data": args.data,
            "idempotency_key": args.idempotency_key,
        }
        if args.to:
            notification = client.send_direct(args.to, args.title, **kwargs)
        else:
            if not args.channel:
                raise SystemExit("herald: error: publish needs a CHANNEL (or --to USERNAME)")
            notification = client.publish(args.channel, args.title, **kwargs)
    _print(_dump(notification))
    return 0


async def _listen(args: argparse.Namespace) -> int:
    listener = Listener(args.url, args.token, since=args.since)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(listener.close()))
    seen = 0
    async with listener:
        async for notification in listener:
            _print(_dump(notification))
            seen += 1
            if args.count is not None and seen >= args.count:
                break
    return 0


def cmd_listen(args: argparse.Namespace) -> int:
    _need_token(args)
    try:
        return asyncio.run(_listen(args))
    except KeyboardInterrupt:
        return 0


def cmd_channels(args: argparse.Namespace) -> int:
    _need_token(args)
    with _client(args) as client:
        channels = client.channels()
    if args.json:
        for channel in channels:
            _print(_dump(channel))
        return 0
    width = max([len(c["slug"]) for c in channels] + [4])
    _print(f"{'SLUG':<{width}}  SUB  SUBSCRIBERS  VISIBILITY  NAME")
    for c in channels:
        mark = "yes" if c["subscribed"] else "-"
        _print(f"{c['slug']:<{width}}  {mark:<3}  {c['subscriber_count']:>11}  {c['visibility']:<10}  {c['name']}")
    return 0


def cmd_subscribe(args: argparse.Namespace) -> int:
    _need_token(args)
    with _client(args) as client:
        if args.unsubscribe:
            client.unsubscribe(args.channel)
            _print(f"unsubscribed from {args.channel}")
        elif client.subscribe(args.channel):
            _print(f"subscribed to {args.channel}")
        else:
            _print(f"already subscribed to {args.channel}")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    if args.username is None:
        # With a token and a name: a named token for the same user (`POST /tokens/`).
        if args.name and (args.token or os.environ.get("HERALD_TOKEN")):
            with _client(args) as client:
                _print(client.create_token(args.name)["key"])
            return 0
        raise SystemExit("herald: error: token needs --username (and --password or $HERALD_PASSWORD)")
    password = args.password or os.environ.get("HERALD_PASSWORD")
    if password is None:
        password = getpass.getpass(f"Password for {args.username}: ")
    with Client(args.url, token="", timeout=args.timeout, retries=args.retries) as client:
        _print(client.obtain_token(args.username, password))
    return 0


# --- parser --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url", default=argparse.SUPPRESS, help="server root, e.g. http://127.0.0.1:8000 (default: $HERALD_URL)"
    )
    common.add_argument("--token", default=argparse.SUPPRESS, help="API token (default: $HERALD_TOKEN)")

    parser = argparse.ArgumentParser(
        prog="herald", description="Herald notifications from the command line.", parents=[common]
    )
    parser.add_argument("--version", action="version", version=f"herald-client {__version__}")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per HTTP request (default 10)")
    parser.add_argument("--retries", type=int, default=3, help="retries on connection errors, 5xx and 429")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("publish", parents=[common], help="publish a notification to a channel (or a user)")
    p.add_argument("channel", metavar="CHANNEL", nargs="?")
    p.add_argument("title", metavar="TITLE")
    p.add_argument("--body")
    p.add_argument("--level", choices=LEVELS)
    p.add_argument("--data", type=_json_object, help="JSON object")
    p.add_argument("--to", metavar="USERNAME", help="send a direct notification to this user (staff)")
    p.add_argument("--idempotency-key", help="default: a new random key, resent on every retry")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("listen", parents=[common], help="print one JSON line per notification, live")
    p.add_argument("--since", type=_non_negative, help="first replay everything after this id")
    p.add_argument("--count", type=int, help="exit after this many notifications")
    p.set_defaults(func=cmd_listen)

    p = sub.add_parser("channels", parents=[common], help="list the channels you can see")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_channels)

    p = sub.add_parser("subscribe", parents=[common], help="subscribe to a channel")
    p.add_argument("channel", metavar="CHANNEL")
    p.add_argument("--unsubscribe", action="store_true", help="unsubscribe instead")
    p.set_defaults(func=cmd_subscribe)

    p = sub.add_parser("token", parents=[common], help="get an API token for a username and password")
    p.add_argument("--username")
    p.add_argument("--password", help="default: $HERALD_PASSWORD, else asked")
    p.add_argument("--name", help="with --token and no --username: create a named token")
    p.set_defaults(func=cmd_token)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.url = getattr(args, "url", None)
    args.token = getattr(args, "token", None)
    try:
        return int(args.func(args))
    except HeraldError as exc:
        print(f"herald: error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # e.g. a malformed --url
        print(f"herald: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `herald listen | head -n 3`
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush quiet
        return 0


if __name__ == "__main__":
    sys.exit(main())
