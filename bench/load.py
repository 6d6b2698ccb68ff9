#!/usr/bin/env python3
"""Load helpers for bench/run that wrk cannot do: an exact number of logins, and a
burst of requests that are all in flight at once. Standard library only (asyncio and
raw HTTP/1.1 keep-alive), loopback targets only.

  load.py logins URL COUNT CONCURRENCY [USERS]   log in COUNT times (POST /sessions),
                                          print JSON; as demo/demo, or with USERS the
                                          users bench000 … bench(USERS-1) (password
                                          bench-pw, bench/slow.py's users file) in turn
  load.py burst URL N TOKEN              N concurrent GETs, one connection each, print JSON
  load.py gets URL COUNT CONCURRENCY TOKEN   COUNT GETs over CONCURRENCY connections
"""

import asyncio
import json
import sys
import time
from urllib.parse import urlsplit

LOGIN_BODY = b'{"username":"demo","password":"demo"}'


def target(url):
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"load.py only targets loopback, not {parts.hostname}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.hostname, parts.port or 80, path


async def read_response(reader):
    """Reads one response; returns (status, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


async def logins(url, count, concurrency, users=0):
    host, port, path = target(url)

    def request(i):
        body = LOGIN_BODY
        if users:
            body = json.dumps({"username": f"bench{i % users:03d}", "password": "bench-pw"}).encode()
        return (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    remaining = count
    statuses = {}

    async def worker():
        nonlocal remaining
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while remaining > 0:
                remaining -= 1
                writer.write(request(remaining))
                status, _ = await read_response(reader)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.monotonic() - started
    return {"created": statuses.get(201, 0), "statuses": statuses, "seconds": round(seconds, 2)}


async def burst(url, n, token):
    host, port, path = target(url)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()
    conns = [await asyncio.open_connection(host, port) for _ in range(n)]
    # Every request is written before any answer is read, so all are in flight together.
    for _, writer in conns:
        writer.write(request)
    await asyncio.gather(*(writer.drain() for _, writer in conns))
    results = await asyncio.gather(*(read_response(reader) for reader, _ in conns))
    for _, writer in conns:
        writer.close()
    statuses = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    return {"sent": n, "statuses": statuses}


async def gets(url, count, concurrency, token):
    host, port, path = target(url)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()
    remaining = count
    statuses = {}

    async def worker():
        nonlocal remaining
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while remaining > 0:
                remaining -= 1
                writer.write(request)
                status, _ = await read_response(reader)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"statuses": statuses, "seconds": round(time.monotonic() - started, 2)}


def main(argv):
    if len(argv) in (5, 6) and argv[1] == "logins":
        users = int(argv[5]) if len(argv) == 6 else 0
        result = asyncio.run(logins(argv[2], int(argv[3]), int(argv[4]), users))
    elif len(argv) == 5 and argv[1] == "burst":
        result = asyncio.run(burst(argv[2], int(argv[3]), argv[4]))
    elif len(argv) == 6 and argv[1] == "gets":
        result = asyncio.run(gets(argv[2], int(argv[3]), int(argv[4]), argv[5]))
    else:
        sys.exit(__doc__)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv)
