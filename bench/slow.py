#!/usr/bin/env python3
"""The slow-upstream scenario of bench/run (`bench/run slow`): a Worldox-like upstream
(the simulator with `sim.capacity` calls served at once, `sim.call_ms` each), sessions
that read their device list, 5 % of requests renames, open loop at a fixed rate.
Standard library only (asyncio, raw HTTP/1.1 keep-alive), loopback targets only.

  slow.py users FILE COUNT                    write a simulator users file: COUNT users
                                              (bench000…), one device each
  slow.py run PATH BASE SIM RATE SECONDS      one open-loop run, print one JSON line
  slow.py search PATH BASE SIM SECONDS R1,R2,…  runs at each rate, lowest first, until p99
                                              passes the limit; print one JSON line per run
  slow.py report RUNS.jsonl OUT.md            write the "Slow upstream" section of OUT.md
                                              (replacing the one there) from search lines

PATH is `direct` (a frontend calling the CGI itself: its own LOGONs, 2FGET to read,
2FGET then 2FSET to rename, as the real client does), `nginx` (the same calls through
nginx proxy_pass at BASE) or `wdgate` (`GET /me/2fa-devices`, `PATCH
/me/2fa-devices/{id}` at BASE). SIM is the simulator's own address, for /_sim/stats.

Open loop: request i is due at start + i / RATE whatever came back before, and its
latency is counted from when it was due, so a stalled server is not hidden (no
coordinated omission). A request whose session has one in flight waits for it (a user
does one thing at a time) and that wait counts in its latency too.

Stale reads: a read that starts after its session's rename has returned must show the
new name (or the name of a rename of that session still in flight, which may have landed
first). Each session owns its user, so no other session renames its device.

Environment: SLOW_SESSIONS (200), SLOW_RENAME_RATIO (0.05), SLOW_P99_MS (100, the
limit the search holds), SLOW_MAX_CONNECTIONS (512).
"""

import asyncio
import collections
import json
import os
import random
import sys
import time
import urllib.parse
from urllib.parse import urlsplit

SESSIONS = int(os.environ.get("SLOW_SESSIONS", "200"))
RENAME_RATIO = float(os.environ.get("SLOW_RENAME_RATIO", "0.05"))
P99_LIMIT_MS = float(os.environ.get("SLOW_P99_MS", "100"))
MAX_CONNECTIONS = int(os.environ.get("SLOW_MAX_CONNECTIONS", "512"))
PASSWORD = "bench-pw"
TWOFA_TEMPLATE = "/v4/authentication/twoFactorDevice.json"
LOGIN_TEMPLATE = "/v4/authentication/login.json"


def q(text):
    return urllib.parse.quote(text, safe="-._~")


def loopback(url):
    parts = urlsplit(url if "://" in url else "http://" + url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"slow.py only targets loopback, not {parts.hostname}")
    return parts.hostname, parts.port or 80


def username(i):
    return f"bench{i:03d}"


def write_users(path, count):
    with open(path, "w") as f:
        for i in range(count):
            f.write(
                f'[[users]]\nusername = "{username(i)}"\npassword = "{PASSWORD}"\n'
                f'name = "Bench {i}"\nemail = "{username(i)}@example.com"\n'
                f'firm = "Bench LLP"\n\n[[users.devices]]\n'
                f'address = "{username(i)}@example.com"\nname = "start"\nenabled = true\n\n'
            )


class Pool:
    """Keep-alive HTTP/1.1 connections to one address, opened as needed."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.idle = []
        self.opened = 0
        self.limit = asyncio.Semaphore(MAX_CONNECTIONS)

    async def request(self, method, path, headers=(), body=b""):
        async with self.limit:
            conn = self.idle.pop() if self.idle else None
            if conn is None:
                conn = await asyncio.open_connection(self.host, self.port)
                self.opened += 1
            reader, writer = conn
            head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            for name, value in headers:
                head += f"{name}: {value}\r\n"
            if body or method in ("POST", "PATCH", "PUT"):
                head += f"Content-Length: {len(body)}\r\n"
            writer.write(head.encode() + b"\r\n" + body)
            try:
                status, keep, payload = await read_response(reader)
            except Exception:
                writer.close()
                raise
            if keep:
                self.idle.append(conn)
            else:
                writer.close()
            return status, payload


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, chunked, keep = 0, False, True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection" and value == "close":
            keep = False
    if chunked:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    else:
        body = await reader.readexactly(length) if length else b""
    return status, keep, body


class Direct:
    """A frontend calling the CGI itself (PATH direct or nginx)."""

    def __init__(self, pool):
        self.pool = pool

    async def login(self, i):
        form = (
            f"HTMLOnOk={q(LOGIN_TEMPLATE)}&HTMLOnFail={q(LOGIN_TEMPLATE)}"
            f"&wd_User_Code_Value={q(username(i))}&wd_User_Password_Value={q(PASSWORD)}"
            "&wd_Server_Name_Value=%2A&wd_Server_Password_Value=%2A"
        ).encode()
        status, body = await self.pool.request(
            "POST",
            "/cgi-bin/wdwebcgi.exe?LOGON",
            [("Content-Type", "application/x-www-form-urlencoded")],
            form,
        )
        sid = json.loads(body)["root"]["data"]["session"]
        if status != 200 or not sid:
            raise RuntimeError(f"LOGON {username(i)}: {status}")
        # The session comes back encoded as the server sends it; send it back as is.
        return {"sid": sid}

    async def _list(self, session):
        path = (
            f"/cgi-bin/wdwebcgi.exe?2FGET+wd_SID={session['sid']}+HTMLOnOk={q(TWOFA_TEMPLATE)}"
            f"+HTMLOnFail={q(TWOFA_TEMPLATE)}+WD_List_Filter={q('Redact>0')}"
        )
        status, body = await self.pool.request("GET", path)
        root = json.loads(body.decode("utf-8", "replace"))["root"]
        if status != 200 or root["errorStatus"].get("ErrorCount"):
            raise RuntimeError(f"2FGET: {status} {root['errorStatus']}")
        return root

    async def read(self, session):
        root = await self._list(session)
        return root["data"][0]["NAME"]

    async def rename(self, session, name):
        # As the real client: a fresh listing for its List_ID, then the edit.
        root = await self._list(session)
        form = (
            f"wd_SID={session['sid']}&HTMLOnOk={q(TWOFA_TEMPLATE)}&HTMLOnFail={q(TWOFA_TEMPLATE)}"
            f"&wd_List_ID={q(root['errorStatus']['List_ID'])}&wd_List_RecNum={root['data'][0]['Rec']}"
            f"&wd_2FA_RecContract={q(name)}"
        ).encode()
        status, body = await self.pool.request(
            "POST",
            "/cgi-bin/wdwebcgi.exe?2FSET",
            [("Content-Type", "application/x-www-form-urlencoded")],
            form,
        )
        answer = json.loads(body.decode("utf-8", "replace"))["root"]["errorStatus"]
        if status != 200 or answer.get("ErrorCount"):
            raise RuntimeError(f"2FSET: {status} {answer}")


class Gateway:
    """wdgate's REST API."""

    def __init__(self, pool):
        self.pool = pool

    async def login(self, i):
        body = json.dumps({"username": username(i), "password": PASSWORD}).encode()
        status, answer = await self.pool.request(
            "POST", "/sessions", [("Content-Type", "application/json")], body
        )
        if status != 201:
            raise RuntimeError(f"POST /sessions {username(i)}: {status} {answer[:200]}")
        auth = [("Authorization", "Bearer " + json.loads(answer)["token"])]
        status, listing = await self.pool.request("GET", "/me/2fa-devices", auth)
        device = json.loads(listing)["devices"][0]["id"]
        return {"auth": auth, "device": device}

    async def read(self, session):
        status, body = await self.pool.request("GET", "/me/2fa-devices", session["auth"])
        if status != 200:
            raise RuntimeError(f"GET /me/2fa-devices: {status} {body[:200]}")
        return json.loads(body)["devices"][0]["name"]

    async def rename(self, session, name):
        status, body = await self.pool.request(
            "PATCH",
            f"/me/2fa-devices/{session['device']}",
            session["auth"] + [("Content-Type", "application/json")],
            json.dumps({"name": name}).encode(),
        )
        if status != 200:
            raise RuntimeError(f"PATCH /me/2fa-devices: {status} {body[:200]}")


async def sim_calls(sim):
    pool = Pool(*loopback(sim))
    _, body = await pool.request("GET", "/_sim/stats")
    for _, writer in pool.idle:
        writer.close()
    stats = json.loads(body)
    return stats["calls"], stats


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


async def run(path, base, sim, rate, seconds, seed=1):
    pool = Pool(*loopback(base))
    client = Gateway(pool) if path == "wdgate" else Direct(pool)
    sessions = []
    for start in range(0, SESSIONS, 20):
        sessions += await asyncio.gather(
            *(client.login(i) for i in range(start, min(SESSIONS, start + 20)))
        )
    for s in sessions:
        s["lock"] = asyncio.Lock()
        s["done"] = None  # the name of the last rename that returned
        s["flying"] = set()  # names of renames in flight
        s["serial"] = 0
    rng = random.Random(seed)
    nonce = f"{time.time_ns() % 10**9:x}"
    before, _ = await sim_calls(sim)

    latencies = {"read": [], "rename": []}
    errors = collections.Counter()
    stale = []
    reads = 0
    total = int(rate * seconds)
    started = time.monotonic() + 0.05

    async def one(i, session, rename):
        nonlocal reads
        due = started + i / rate
        async with session["lock"]:
            try:
                if rename:
                    session["serial"] += 1
                    # Unique across runs: a name the device already has would be a
                    # no-op rename, which wdgate need not send upstream.
                    name = f"n{nonce}-{session['serial']}"
                    session["flying"].add(name)
                    try:
                        await client.rename(session, name)
                    finally:
                        session["flying"].discard(name)
                    session["done"] = name
                else:
                    expected, flying = session["done"], set(session["flying"])
                    shown = await client.read(session)
                    flying |= session["flying"]
                    reads += 1
                    if expected is not None and shown != expected and shown not in flying:
                        stale.append({"expected": expected, "shown": shown})
            except Exception as error:  # counted, reported, never hidden
                errors[type(error).__name__ + ": " + str(error)[:80]] += 1
                return
        latencies["rename" if rename else "read"].append(time.monotonic() - due)

    tasks = []
    for i in range(total):
        due = started + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        session = sessions[rng.randrange(len(sessions))]
        tasks.append(asyncio.create_task(one(i, session, rng.random() < RENAME_RATIO)))
    sent_by = time.monotonic() - started
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - started
    after, stats = await sim_calls(sim)
    for _, writer in pool.idle:
        writer.close()

    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    upstream = sum(delta.values())
    every = sorted(latencies["read"] + latencies["rename"])
    ms = lambda v: None if v is None else round(v * 1000, 1)
    return {
        "path": path,
        "rate": rate,
        "seconds": seconds,
        "sessions": SESSIONS,
        "requests": total,
        "completed": len(every),
        "reads": reads,
        "renames": len(latencies["rename"]),
        "achieved_rps": round(len(every) / elapsed, 1),
        # The schedule fell behind if sending took much longer than planned.
        "send_lag_s": round(sent_by - (total - 1) / rate, 2),
        "p50_ms": ms(percentile(every, 50)),
        "p99_ms": ms(percentile(every, 99)),
        "p999_ms": ms(percentile(every, 99.9)),
        "read_p99_ms": ms(percentile(sorted(latencies["read"]), 99)),
        "rename_p99_ms": ms(percentile(sorted(latencies["rename"]), 99)),
        "upstream_calls": delta,
        "upstream_calls_per_read": round(upstream / reads, 4) if reads else None,
        "twofa_get_per_read": round(delta.get("2FGET", 0) / reads, 4) if reads else None,
        "in_service_max": stats.get("in_service_max"),
        "capacity": stats.get("capacity"),
        "stale_reads": len(stale),
        "stale_examples": stale[:3],
        "errors": dict(errors),
        "connections": pool.opened,
        "holds": bool(every) and not errors and percentile(every, 99) * 1000 <= P99_LIMIT_MS,
    }


async def search(path, base, sim, seconds, rates):
    for rate in rates:
        result = await run(path, base, sim, rate, seconds)
        print(json.dumps(result), flush=True)
        if not result["holds"]:
            break


SECTION = "## Slow upstream"


def held(runs, path):
    """The highest rate of PATH whose run held p99 within the limit, and that run."""
    best = None
    for r in runs:
        if r["path"] == path and r["holds"] and (best is None or r["rate"] > best["rate"]):
            best = r
    return best


def report(runs_file, out_path):
    runs = [json.loads(line) for line in open(runs_file) if line.strip()]
    env = os.environ.get
    lines = [
        SECTION,
        "",
        "Written by `bench/run slow` (bench/slow.py). The simulator as a Worldox-like upstream:"
        f" `sim.capacity = {env('BENCH_SLOW_CAPACITY', '4')}` calls served at once,"
        f" `sim.call_ms = {env('BENCH_SLOW_CALL_MS', '20')}` each, the rest queued."
        f" {SESSIONS} sessions (one user each), {RENAME_RATIO:.0%} of requests renames, open loop"
        f" (latency from when each request was due), {env('BENCH_SLOW_SECONDS', '10')} s a rate;"
        f" a path holds a rate while p99 <= {P99_LIMIT_MS:g} ms with no errors.",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- versions: wdgate {env('BENCH_COMMIT', '?')}, {env('BENCH_NGINX_VERSION', 'nginx ?')}",
        f"- load average before / after: {env('BENCH_LOAD_BEFORE', '?')} / {env('BENCH_LOAD_AFTER', '?')}",
        f"- machine: {env('BENCH_MACHINE', '?')}",
        "",
        "| path | rate /s | achieved /s | p50 | p99 | p99.9 | upstream calls per read | 2FGET per read | stale reads | errors | holds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['path']} | {r['rate']:g} | {r['achieved_rps']:g} | {r['p50_ms']} ms | {r['p99_ms']} ms"
            f" | {r['p999_ms']} ms | {r['upstream_calls_per_read']} | {r['twofa_get_per_read']}"
            f" | {r['stale_reads']} | {sum(r['errors'].values())} | {'yes' if r['holds'] else 'no'} |"
        )
    direct, nginx, gw = (held(runs, p) for p in ("direct", "nginx", "wdgate"))
    rate = lambda r: f"{r['rate']:g}/s" if r else "none held"
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    lines.append(
        f"| highest rate held at p99 <= {P99_LIMIT_MS:g} ms | direct {rate(direct)}, nginx proxy_pass"
        f" {rate(nginx)}, wdgate {rate(gw)} | |"
    )
    if direct and gw:
        ratio = gw["rate"] / direct["rate"]
        top = max(r["rate"] for r in runs if r["path"] == "wdgate")
        capped = " (the highest rate tried: the client, not wdgate, may be the limit)" if gw["rate"] == top else ""
        lines.append(f"| wdgate >= 20x direct | {ratio:.1f}x{capped} | {'yes' if ratio >= 20 else 'no'} |")
    if gw:
        per_read = gw["upstream_calls_per_read"]
        lines.append(
            f"| <= 0.05 upstream calls per read (wdgate at {rate(gw)}) | {per_read} (all calls,"
            f" renames' included; 2FGET alone {gw['twofa_get_per_read']}) | {'yes' if per_read <= 0.05 else 'no'} |"
        )
    stale = sum(r["stale_reads"] for r in runs)
    lines.append(f"| 0 stale reads (every run, every path) | {stale} | {'yes' if stale == 0 else 'no'} |")
    section = "\n".join(lines) + "\n"
    try:
        text = open(out_path).read()
    except FileNotFoundError:
        text = "# wdgate benchmark results\n"
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + ("" if end < 0 else text[end:])
    open(out_path, "w").write(text)


def main(argv):
    if len(argv) == 4 and argv[1] == "users":
        write_users(argv[2], int(argv[3]))
    elif len(argv) == 7 and argv[1] == "run":
        print(json.dumps(asyncio.run(run(argv[2], argv[3], argv[4], float(argv[5]), float(argv[6])))))
    elif len(argv) == 4 and argv[1] == "report":
        report(argv[2], argv[3])
    elif len(argv) == 7 and argv[1] == "search":
        rates = [float(r) for r in argv[6].split(",")]
        asyncio.run(search(argv[2], argv[3], argv[4], float(argv[5]), rates))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
