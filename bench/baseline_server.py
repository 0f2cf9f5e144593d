"""The Python ceiling: a bare `websockets` broadcast server speaking just enough of Herald's protocol.

- WebSocket on --port, path ignored: `Authorization: Token <key>` is required (the key is
  taken as the user name; no store, no lookup); the first frame is a `welcome` of the same
  shape as Herald's, then `notification` frames of the same shape and size.
- HTTP on --http-port (a tiny keep-alive HTTP/1.1 handler, so the generator drives it like
  the REST API): `POST /subscribe {"channel": slug, "users": [...]}` and
  `POST /publish/<slug> {"title", "data"}` -> 201 with the notification. Each publish is
  serialised once (orjson) and written to every subscriber's socket with
  `websockets.broadcast`, the library's own fan-out: no per-socket queue, no store.

Kept minimal on purpose: it is the upper bound for a Python process, not a product.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
from collections import defaultdict
from datetime import UTC, datetime

import orjson
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.http11 import Request, Response

members: dict[str, set[str]] = defaultdict(set)  # channel -> user names
sockets: dict[str, set[ServerConnection]] = defaultdict(set)  # channel -> open sockets
next_id = 0


def user_of(request: Request) -> str | None:
    value = request.headers.get("Authorization", "")
    return value[6:] if value.startswith("Token ") and len(value) > 6 else None


def process_request(connection: ServerConnection, request: Request) -> Response | None:
    if user_of(request) is None:
        return connection.respond(401, "unauthorised\n")
    return None


async def handler(ws: ServerConnection) -> None:
    user = user_of(ws.request)  # type: ignore[arg-type]
    mine = sorted(slug for slug, users in members.items() if user in users)
    for slug in mine:
        sockets[slug].add(ws)
    try:
        await ws.send(orjson.dumps({"type": "welcome", "user": user, "channels": mine, "last_id": next_id}).decode())
        async for _ in ws:  # clients send nothing in the benchmark; keep reading for close
            pass
    finally:
        for slug in mine:
            sockets[slug].discard(ws)


def publish(slug: str, body: dict) -> bytes:
    global next_id
    next_id += 1
    notification = {
        "id": next_id,
        "channel": slug,
        "title": body.get("title", ""),
        "body": body.get("body", ""),
        "level": body.get("level", "info"),
        "data": body.get("data", {}),
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    broadcast(sockets.get(slug, ()), orjson.dumps({"type": "notification", **notification}).decode())
    return orjson.dumps(notification)


async def http_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            body = orjson.loads(await reader.readexactly(length)) if length else {}
            status, out = 404, b'{"detail":"not found"}'
            if method == "POST" and path.startswith("/publish/"):
                status, out = 201, publish(path[len("/publish/") :].strip("/"), body)
            elif method == "POST" and path == "/subscribe":
                members[body["channel"]].update(body["users"])
                status, out = 200, orjson.dumps({"subscribed": len(body["users"])})
            writer.write(
                b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (status, len(out), out)
            )
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int, http_port: int) -> None:
    http = await asyncio.start_server(http_client, "127.0.0.1", http_port)
    async with (
        serve(
            handler,
            "127.0.0.1",
            port,
            process_request=process_request,
            compression=None,
            max_size=65536,
            ping_interval=None,
            backlog=4096,
        ),
        http,
    ):
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--no-uvloop", action="store_true")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.no_uvloop:
        asyncio.run(main(args.port, args.http_port))
    else:
        import uvloop

        uvloop.run(main(args.port, args.http_port))
