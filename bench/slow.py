#!/usr/bin/env python3
"""The slow-upstream scenario of bench/run (`bench/run slow`): a Worldox-like upstream
(the simulator with `sim.capacity` calls served at once, `sim.call_ms` each), sessions
that read their device list, 5 % of requests renames, open loop at a fixed rate.
Standard library only (asyncio Protocols, raw HTTP/1.1 keep-alive, one connection per
session), loopback targets only.

  slow.py users FILE COUNT                    write a simulator users file: COUNT users
                                              (bench000…), one device each
  slow.py run PATH BASE SIM RATE SECONDS      one open-loop run, print one JSON line
  slow.py search PATH BASE SIM SECONDS R1,R2,…  runs at each rate, lowest first, until p99
                                              passes the limit twice at one rate (a failed
                                              rate is run again once); print one JSON line
                                              per run
  slow.py report RUNS.jsonl OUT.md            write the "Slow upstream" section of OUT.md
                                              (replacing the one there) from search lines
  slow.py child …                             one generator process (run starts them)

PATH is `direct` (a frontend calling the CGI itself: its own LOGONs, 2FGET to read,
2FGET then 2FSET to rename, as the real client does), `nginx` (the same calls through
nginx proxy_pass at BASE), `wdgate` (`GET /me/2fa-devices`, `PATCH
/me/2fa-devices/{id}` at BASE) or `floor` (wdgate's calls to a server that answers them
with fixed bodies: the generator's own ceiling; no stale check). SIM is the simulator's
own address, for /_sim/stats (`-`: none, for floor).

The generator is SLOW_PROCS processes; each owns the sessions whose number % SLOW_PROCS
is its own, logs them in, and runs its share of one common schedule (the same seeded
list of (due time, session, rename?) in every process) from one start time; the parent
merges their latencies, errors and stale reads. Each session has its own connection and
one request in flight at a time, as before.

Open loop: request i is due at start + i / RATE whatever came back before, and its
latency is counted from when it was due, so a stalled server is not hidden (no
coordinated omission). A request whose session has one in flight waits for it (a user
does one thing at a time) and that wait counts in its latency too.

Stale reads: a read that starts after its session's rename has returned must show the
new name (or the name of a rename of that session still in flight, which may have landed
first). Each session owns its user, so no other session renames its device.

Environment: SLOW_SESSIONS (200), SLOW_RENAME_RATIO (0.05), SLOW_P99_MS (100, the
limit the search holds), SLOW_PROCS (generator processes, 2).
"""

import asyncio
import collections
import http.client
import json
import os
import random
import subprocess
import sys
import time
import urllib.parse
from urllib.parse import urlsplit

SESSIONS = int(os.environ.get("SLOW_SESSIONS", "200"))
RENAME_RATIO = float(os.environ.get("SLOW_RENAME_RATIO", "0.05"))
P99_LIMIT_MS = float(os.environ.get("SLOW_P99_MS", "100"))
PROCS = int(os.environ.get("SLOW_PROCS", "2"))
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


class Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time (a session's own: a
    user does one thing at a time). asyncio's Protocol, not its streams: the buffer is
    parsed once per arrival, which is what lets one process offer thousands a second."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.transport = None
        self.buf = bytearray()
        self.waiter = None
        self.opened = 0
        self.host_line = f"Host: {host}:{port}\r\n"

    # asyncio.Protocol
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buf += data
        if self.waiter is not None and not self.waiter.done():
            answer = parse_response(self.buf)
            if answer is not None:
                self.waiter.set_result(answer)

    def connection_lost(self, exc):
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    async def request(self, method, path, headers="", body=b""):
        if self.transport is None or self.transport.is_closing():
            self.buf.clear()
            await asyncio.get_running_loop().create_connection(lambda: self, self.host, self.port)
            self.opened += 1
        head = f"{method} {path} HTTP/1.1\r\n{self.host_line}{headers}"
        if body or method in ("POST", "PATCH", "PUT"):
            head += f"Content-Length: {len(body)}\r\n"
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(head.encode() + b"\r\n" + body)
        try:
            status, keep, payload = await self.waiter
        finally:
            self.waiter = None
        if not keep:
            self.close()
        return status, payload

    def close(self):
        if self.transport is not None:
            self.transport.close()
            self.transport = None


def parse_response(buf):
    """(status, keep-alive, body) and the answer taken off BUF, or None while incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, chunked, keep = 0, False, True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value.lower()
        elif name == "connection":
            keep = value.strip().lower() != "close"
    at = end + 4
    if not chunked:
        if len(buf) < at + length:
            return None
        body = bytes(buf[at : at + length])
        del buf[: at + length]
        return status, keep, body
    body = bytearray()
    while True:
        line_end = buf.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(bytes(buf[at:line_end]).split(b";")[0], 16)
        if size == 0:
            stop = buf.find(b"\r\n\r\n", line_end)  # the end of the (empty) trailers
            if stop < 0:
                return None
            del buf[: stop + 4]
            return status, keep, bytes(body)
        if len(buf) < line_end + 2 + size + 2:
            return None
        body += buf[line_end + 2 : line_end + 2 + size]
        at = line_end + 2 + size + 2


FORM = "Content-Type: application/x-www-form-urlencoded\r\n"
JSON = "Content-Type: application/json\r\n"


class Direct:
    """A frontend calling the CGI itself (PATH direct or nginx)."""

    async def login(self, conn, i):
        form = (
            f"HTMLOnOk={q(LOGIN_TEMPLATE)}&HTMLOnFail={q(LOGIN_TEMPLATE)}"
            f"&wd_User_Code_Value={q(username(i))}&wd_User_Password_Value={q(PASSWORD)}"
            "&wd_Server_Name_Value=%2A&wd_Server_Password_Value=%2A"
        ).encode()
        status, body = await conn.request("POST", "/cgi-bin/wdwebcgi.exe?LOGON", FORM, form)
        sid = json.loads(body)["root"]["data"]["session"]
        if status != 200 or not sid:
            raise RuntimeError(f"LOGON {username(i)}: {status}")
        # The session comes back encoded as the server sends it; send it back as is.
        return {"sid": sid}

    async def _list(self, conn, session):
        path = (
            f"/cgi-bin/wdwebcgi.exe?2FGET+wd_SID={session['sid']}+HTMLOnOk={q(TWOFA_TEMPLATE)}"
            f"+HTMLOnFail={q(TWOFA_TEMPLATE)}+WD_List_Filter={q('Redact>0')}"
        )
        status, body = await conn.request("GET", path)
        root = json.loads(body.decode("utf-8", "replace"))["root"]
        if status != 200 or root["errorStatus"].get("ErrorCount"):
            raise RuntimeError(f"2FGET: {status} {root['errorStatus']}")
        return root

    async def read(self, conn, session):
        root = await self._list(conn, session)
        return root["data"][0]["NAME"]

    async def rename(self, conn, session, name):
        # As the real client: a fresh listing for its List_ID, then the edit.
        root = await self._list(conn, session)
        form = (
            f"wd_SID={session['sid']}&HTMLOnOk={q(TWOFA_TEMPLATE)}&HTMLOnFail={q(TWOFA_TEMPLATE)}"
            f"&wd_List_ID={q(root['errorStatus']['List_ID'])}&wd_List_RecNum={root['data'][0]['Rec']}"
            f"&wd_2FA_RecContract={q(name)}"
        ).encode()
        status, body = await conn.request("POST", "/cgi-bin/wdwebcgi.exe?2FSET", FORM, form)
        answer = json.loads(body.decode("utf-8", "replace"))["root"]["errorStatus"]
        if status != 200 or answer.get("ErrorCount"):
            raise RuntimeError(f"2FSET: {status} {answer}")


class Gateway:
    """wdgate's REST API (PATH wdgate; PATH floor: the same calls to a server that
    answers them with fixed bodies, to measure this generator's own ceiling)."""

    async def login(self, conn, i):
        body = json.dumps({"username": username(i), "password": PASSWORD}).encode()
        status, answer = await conn.request("POST", "/sessions", JSON, body)
        if status != 201:
            raise RuntimeError(f"POST /sessions {username(i)}: {status} {answer[:200]}")
        auth = f"Authorization: Bearer {json.loads(answer)['token']}\r\n"
        status, listing = await conn.request("GET", "/me/2fa-devices", auth)
        device = json.loads(listing)["devices"][0]["id"]
        return {"auth": auth, "device": device}

    async def read(self, conn, session):
        status, body = await conn.request("GET", "/me/2fa-devices", session["auth"])
        if status != 200:
            raise RuntimeError(f"GET /me/2fa-devices: {status} {body[:200]}")
        return json.loads(body)["devices"][0]["name"]

    async def rename(self, conn, session, name):
        status, body = await conn.request(
            "PATCH",
            f"/me/2fa-devices/{session['device']}",
            session["auth"] + JSON,
            json.dumps({"name": name}).encode(),
        )
        if status != 200:
            raise RuntimeError(f"PATCH /me/2fa-devices: {status} {body[:200]}")


def sim_stats(sim):
    """The simulator's /_sim/stats (the calls by command, the CGI pool)."""
    host, port = loopback(sim)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", "/_sim/stats")
    stats = json.loads(conn.getresponse().read())
    conn.close()
    return stats


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def schedule(rate, seconds, seed):
    """The whole run's requests, the same in every process: (due offset s, session,
    rename?) for request i, due at i / RATE."""
    rng = random.Random(seed)
    out = []
    for i in range(int(rate * seconds)):
        session = rng.randrange(SESSIONS)
        out.append((i / rate, session, rng.random() < RENAME_RATIO))
    return out


async def child(path, base, rate, seconds, procs, index, seed):
    """One generator process: the sessions whose number % PROCS == INDEX, their share of
    the common schedule. Logs in, says `ready`, reads the start time (time.monotonic(),
    one clock for every process on Linux), runs, prints its raw figures as JSON."""
    host, port = loopback(base)
    client = Direct() if path in ("direct", "nginx") else Gateway()
    mine = [i for i in range(SESSIONS) if i % procs == index]
    conns = {i: Conn(host, port) for i in mine}
    sessions = {}
    for start in range(0, len(mine), 20):
        batch = mine[start : start + 20]
        for i, s in zip(batch, await asyncio.gather(*(client.login(conns[i], i) for i in batch))):
            sessions[i] = s
    todo = [job for job in schedule(rate, seconds, seed) if job[1] % procs == index]
    nonce = f"{time.time_ns() % 10**9:x}{index}"
    check_stale = path != "floor"

    loop = asyncio.get_running_loop()
    reader = await loop.run_in_executor(None, lambda: (print("ready", flush=True), sys.stdin.readline())[1])
    started = float(reader)

    lat_read, lat_rename = [], []
    errors = collections.Counter()
    stale = []
    lag = 0.0
    queues = {i: collections.deque() for i in mine}
    wakes = {i: None for i in mine}
    for i in mine:
        sessions[i]["done"] = None  # the name of its last rename that returned
        sessions[i]["serial"] = 0

    async def worker(i):
        session, conn, queue = sessions[i], conns[i], queues[i]
        while True:
            while not queue:
                wakes[i] = loop.create_future()
                await wakes[i]
            due, rename = queue.popleft()
            if due is None:
                return
            try:
                if rename:
                    session["serial"] += 1
                    # Unique across runs: a name the device already has would be a
                    # no-op rename, which wdgate need not send upstream.
                    name = f"n{nonce}-{session['serial']}"
                    await client.rename(conn, session, name)
                    session["done"] = name
                    lat_rename.append(time.monotonic() - due)
                else:
                    expected = session["done"]
                    shown = await client.read(conn, session)
                    lat_read.append(time.monotonic() - due)
                    # One request at a time per session: its last rename has returned.
                    if check_stale and expected is not None and shown != expected:
                        stale.append({"expected": expected, "shown": shown})
            except Exception as error:  # counted, reported, never hidden
                errors[type(error).__name__ + ": " + str(error)[:80]] += 1
                conn.close()

    workers = [asyncio.create_task(worker(i)) for i in mine]
    for offset, i, rename in todo:
        due = started + offset
        now = time.monotonic()
        if due > now:
            await asyncio.sleep(due - now)
            now = time.monotonic()
        lag = max(lag, now - due)
        queues[i].append((due, rename))
        wake = wakes[i]
        if wake is not None and not wake.done():
            wake.set_result(None)
    for i in mine:
        queues[i].append((None, False))
        wake = wakes[i]
        if wake is not None and not wake.done():
            wake.set_result(None)
    await asyncio.gather(*workers)
    finished = time.monotonic()
    for conn in conns.values():
        conn.close()
    json.dump(
        {
            "read": lat_read,
            "rename": lat_rename,
            "errors": dict(errors),
            "stale": stale,
            "lag": lag,
            "finished": finished,
            "connections": sum(c.opened for c in conns.values()),
            "requests": len(todo),
        },
        sys.stdout,
    )


def run(path, base, sim, rate, seconds, seed=1):
    """One open-loop run at RATE over PROCS generator processes; one merged result."""
    procs = max(1, min(PROCS, SESSIONS))
    kids = [
        subprocess.Popen(
            [sys.executable, __file__, "child", path, base, str(rate), str(seconds), str(procs), str(k), str(seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(procs)
    ]
    for kid in kids:
        line = kid.stdout.readline()
        if line.strip() != "ready":
            for other in kids:
                other.kill()
            sys.exit(f"slow.py: a generator process did not start: {line!r}")
    before = sim_stats(sim) if sim != "-" else {"calls": {}}
    started = time.monotonic() + 0.1
    for kid in kids:
        kid.stdin.write(f"{started}\n")
        kid.stdin.flush()
    parts = []
    for kid in kids:
        out, _ = kid.communicate()
        parts.append(json.loads(out))
    after = sim_stats(sim) if sim != "-" else {"calls": {}}
    elapsed = max(p["finished"] for p in parts) - started

    reads = sorted(v for p in parts for v in p["read"])
    renames = sorted(v for p in parts for v in p["rename"])
    every = sorted(reads + renames)
    errors = collections.Counter()
    for p in parts:
        errors.update(p["errors"])
    stale = [s for p in parts for s in p["stale"]]
    delta = {k: after["calls"].get(k, 0) - before["calls"].get(k, 0) for k in after["calls"]}
    upstream = sum(delta.values())
    n_reads = len(reads)
    total = sum(p["requests"] for p in parts)
    ms = lambda v: None if v is None else round(v * 1000, 1)  # noqa: E731
    p99 = percentile(every, 99)
    return {
        "path": path,
        "rate": rate,
        "seconds": seconds,
        "sessions": SESSIONS,
        "procs": procs,
        "requests": total,
        "completed": len(every),
        "reads": n_reads,
        "renames": len(renames),
        "achieved_rps": round(len(every) / elapsed, 1),
        # How late the generator sent its latest request: the client keeps up while
        # this stays small (it counts in the latency either way).
        "send_lag_ms": round(max(p["lag"] for p in parts) * 1000, 1),
        "p50_ms": ms(percentile(every, 50)),
        "p99_ms": ms(p99),
        "p999_ms": ms(percentile(every, 99.9)),
        "read_p99_ms": ms(percentile(reads, 99)),
        "rename_p99_ms": ms(percentile(renames, 99)),
        "upstream_calls": delta,
        "upstream_calls_per_read": round(upstream / n_reads, 4) if n_reads and sim != "-" else None,
        "twofa_get_per_read": round(delta.get("2FGET", 0) / n_reads, 4) if n_reads and sim != "-" else None,
        "in_service_max": after.get("in_service_max"),
        "queued_max": after.get("queued_max"),
        "capacity": after.get("capacity"),
        "stale_reads": len(stale),
        "stale_examples": stale[:3],
        "errors": dict(errors),
        "connections": sum(p["connections"] for p in parts),
        "holds": bool(every) and total == len(every) and not errors and p99 * 1000 <= P99_LIMIT_MS,
    }


def search(path, base, sim, seconds, rates):
    """Each rate in turn until one fails twice: a rate that fails is run once more, since
    one stall of a shared machine can fail a run (both runs are printed)."""
    for rate in rates:
        for _ in range(2):
            result = run(path, base, sim, rate, seconds)
            print(json.dumps(result), flush=True)
            if result["holds"]:
                break
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
    floor = [r for r in runs if r["path"] == "floor"]
    runs = [r for r in runs if r["path"] != "floor"]
    procs = runs[0]["procs"] if runs else PROCS
    lines = [
        SECTION,
        "",
        "Written by `bench/run slow` (bench/slow.py). The simulator as a Worldox-like upstream:"
        f" `sim.capacity = {env('BENCH_SLOW_CAPACITY', '4')}` calls served at once,"
        f" `sim.call_ms = {env('BENCH_SLOW_CALL_MS', '20')}` each, the rest queued"
        f" (so at most {int(env('BENCH_SLOW_CAPACITY', '4')) * 1000 / float(env('BENCH_SLOW_CALL_MS', '20')):g} calls a second)."
        f" {SESSIONS} sessions (one user each), {RENAME_RATIO:.0%} of requests renames, open loop"
        f" (latency from when each request was due), {env('BENCH_SLOW_SECONDS', '10')} s a rate;"
        f" a path holds a rate while p99 <= {P99_LIMIT_MS:g} ms with every request answered and no errors."
        f" The generator: {procs} processes on the client CPU, each owning a share of the sessions"
        " (one connection and one request in flight per session); send lag is how late it sent its"
        " latest request (small: the client kept up).",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- versions: wdgate {env('BENCH_COMMIT', '?')}, {env('BENCH_NGINX_VERSION', 'nginx ?')}",
        f"- load average before / after: {env('BENCH_LOAD_BEFORE', '?')} / {env('BENCH_LOAD_AFTER', '?')}",
        f"- machine: {env('BENCH_MACHINE', '?')}",
        *([f"- note: {env('BENCH_NOTE')}"] if env("BENCH_NOTE") else []),
        "",
        "| path | rate /s | achieved /s | send lag | p50 | p99 | p99.9 | all upstream calls per read | 2FGET per read | stale reads | errors | holds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    na = lambda v: "n/a" if v is None else v  # noqa: E731
    for r in runs + floor:
        lines.append(
            f"| {r['path']} | {r['rate']:g} | {r['achieved_rps']:g} | {r.get('send_lag_ms', '?')} ms"
            f" | {r['p50_ms']} ms | {r['p99_ms']} ms"
            f" | {r['p999_ms']} ms | {na(r['upstream_calls_per_read'])} | {na(r['twofa_get_per_read'])}"
            f" | {r['stale_reads'] if r['path'] != 'floor' else 'n/a'} | {sum(r['errors'].values())} | {'yes' if r['holds'] else 'no'} |"
        )
    if floor:
        lines += [
            "",
            "`floor`: the generator's own ceiling, wdgate's calls (login, reads, 5 % PATCH renames)"
            " to an nginx on the server CPU that answers them with fixed bodies; no upstream, no stale check.",
        ]
    direct, nginx, gw, top_floor = (held(runs + floor, p) for p in ("direct", "nginx", "wdgate", "floor"))
    rate = lambda r: f"{r['rate']:g}/s" if r else "none held"  # noqa: E731
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    lines.append(
        f"| highest rate held at p99 <= {P99_LIMIT_MS:g} ms | direct {rate(direct)}, nginx proxy_pass"
        f" {rate(nginx)}, wdgate {rate(gw)} | |"
    )
    if floor:
        top_tried = max(r["rate"] for r in floor)
        at_top = " (the highest rate tried: the generator may offer more)" if top_floor and top_floor["rate"] == top_tried else ""
        lines.append(f"| the generator's own ceiling (path floor) | {rate(top_floor)}{at_top} | |")
    if direct and gw:
        ratio = gw["rate"] / direct["rate"]
        top = max(r["rate"] for r in runs if r["path"] == "wdgate")
        capped = ""
        if gw["rate"] == top:
            capped = " (the highest rate tried: wdgate may hold more)"
        if top_floor and gw["rate"] >= top_floor["rate"]:
            capped = " (at the generator's ceiling: the client, not wdgate, is the limit)"
        lines.append(f"| wdgate >= 20x direct | {ratio:.1f}x{capped} | {'yes' if ratio >= 20 else 'no'} |")
    if gw:
        get = gw["twofa_get_per_read"]
        lines.append(
            f"| <= 0.05 upstream 2FGET per read (wdgate at {rate(gw)}) | {get} 2FGET per read;"
            f" all calls per read {gw['upstream_calls_per_read']}, renames' 2FSETs included, which"
            f" cannot be below {RENAME_RATIO:g} / {1 - RENAME_RATIO:g} = {RENAME_RATIO / (1 - RENAME_RATIO):.4f}"
            f" (one 2FSET a rename, {RENAME_RATIO:.0%} renames) | {'yes' if get is not None and get <= 0.05 else 'no'} |"
        )
    served = int(env("BENCH_SLOW_CAPACITY", "4")) * 1000 / float(env("BENCH_SLOW_CALL_MS", "20"))
    for r in (gw, next((r for r in runs if r["path"] == "wdgate" and not r["holds"]), None)):
        if r and r.get("upstream_calls"):
            per_s = sum(r["upstream_calls"].values()) / r["seconds"]
            per_rename = sum(r["upstream_calls"].values()) / max(r["renames"], 1)
            lines.append(
                f"| for scale: wdgate's upstream load at {r['rate']:g}/s ({'held' if r['holds'] else 'not held'}) |"
                f" {per_s:.0f} calls/s of the {served:g}/s the simulator serves; {per_rename:.2f} calls for each rename (all calls ÷ renames)"
                f" ({', '.join(f'{k} {v}' for k, v in sorted(r['upstream_calls'].items()))});"
                f" so the upstream caps wdgate at {served / (RENAME_RATIO * per_rename):,.0f}/s (its every"
                f" slot busy), and 20x a direct rate D needs at most {served:g} / (20 D x {RENAME_RATIO:g})"
                " calls per rename (1.14 for D = 175/s) | |"
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
        print(json.dumps(run(argv[2], argv[3], argv[4], float(argv[5]), float(argv[6]))))
    elif len(argv) == 9 and argv[1] == "child":
        path, base, rate, seconds, procs, index, seed = argv[2:]
        asyncio.run(child(path, base, float(rate), float(seconds), int(procs), int(index), int(seed)))
    elif len(argv) == 4 and argv[1] == "report":
        report(argv[2], argv[3])
    elif len(argv) == 7 and argv[1] == "search":
        rates = [float(r) for r in argv[6].split(",")]
        search(argv[2], argv[3], argv[4], float(argv[5]), rates)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
