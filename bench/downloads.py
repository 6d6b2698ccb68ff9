#!/usr/bin/env python3
"""Download helpers for `bench/run downloads`: the direct file path, parallel full
downloads with the server's memory sampled, time to first byte, and upstream calls per
search page. Standard library and curl only, loopback targets only. Secrets (the SID in
a file path, bearer tokens) are read from and written to files, never printed.

  downloads.py fileloc SIM OUT           LOGON, FINDFILES and DOWNLOAD of the large
                                         document, straight to the simulator; writes its
                                         fileLoc (which holds the SID) to OUT
  downloads.py fetch URL N PID [HEADERS...]
                                         N concurrent full GETs of URL by curl (one a
                                         header file, `Name: value` lines, cycled), the
                                         bodies discarded; samples the resident memory of
                                         process PID and its children; prints JSON
  downloads.py ttfb URL COUNT [HEADERS [SIM]]
                                         COUNT sequential GETs of `Range: bytes=0-0` on one
                                         keep-alive connection (after a warm-up of a
                                         tenth); prints JSON (µs), with the simulator's
                                         calls per request when SIM is given
  downloads.py cgi-rtt SIM COUNT         COUNT sequential DOWNLOADs of the large document
                                         straight to the simulator; prints JSON (µs)
  downloads.py search GW SIM HEADERS     upstream calls of a warm search page: a second
                                         page by cursor, an identical search again
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request

LOGON_FORM = (
    "HTMLOnOk=%2Fv4%2Fauthentication%2Flogin.json&HTMLOnFail=%2Fv4%2Fauthentication%2Flogin.json"
    "&wd_User_Code_Value=demo&wd_User_Password_Value=demo&wd_Server_Name_Value=%2A"
    "&wd_Server_Password_Value=%2A"
)
LARGE = "00014999.csv"
MIB = 1024 * 1024


def split_url(url):
    parts = urllib.parse.urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"downloads.py only targets loopback, not {parts.hostname}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.hostname, parts.port or 80, path


def read_headers(name):
    """`Name: value` lines of a header file, as pairs."""
    if not name:
        return []
    with open(name) as f:
        return [tuple(p.strip() for p in line.split(":", 1)) for line in f if ":" in line]


# ---------------------------------------------------------------- the simulator's CGI


def cgi_query(command, params):
    """A CGI query as the gateway sends it: `COMMAND+name=value+…`."""
    q = lambda s: urllib.parse.quote(s, safe="-._~")
    return "+".join([q(command)] + [f"{q(k)}={q(v)}" for k, v in params])


def cgi(sim, command, params, body=None):
    url = f"{sim}/cgi-bin/wdwebcgi.exe?{cgi_query(command, params)}"
    data = body.encode() if body is not None else None
    request = urllib.request.Request(url, data=data)
    if data is not None:
        request.add_header("content-type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def large_row(sim):
    """A fresh SID and the large document's row and list: LOGON, then FINDFILES."""
    logon = cgi(sim, "LOGON", [], LOGON_FORM)
    sid = urllib.parse.unquote(logon["root"]["data"]["session"])
    found = cgi(sim, "FINDFILES", [("wd_SID", sid), ("wd_FIND_QUERY", "Ledger")])
    rows = [r for r in found["root"]["data"] if r.get("FN") == LARGE]
    if not rows:
        sys.exit("downloads.py: FINDFILES Ledger did not find the large document")
    return sid, found["root"]["errorStatus"]["List_ID"], rows[0]


def download_params(sid, list_id, row):
    return [
        ("wd_SID", sid),
        ("wd_List_ID", list_id),
        ("wd_List_RecNum", row["RN"]),
        ("wd_List_Offset", row["LN"]),
    ]


def fileloc(sim, out):
    sid, list_id, row = large_row(sim)
    prepared = cgi(sim, "DOWNLOAD", download_params(sid, list_id, row))
    loc = prepared["root"]["data"].get("fileLoc", "")
    if not loc.startswith("/cgi-bin/WDSIDS/"):
        sys.exit("downloads.py: DOWNLOAD answered no file location")
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(loc)
    return {"file": row["FN"], "size": row.get("LSZ")}


# ---------------------------------------------------------------- raw HTTP/1.1


class Conn:
    """One keep-alive HTTP/1.1 connection that times each exchange."""

    def __init__(self, url):
        self.host, self.port, self.path = split_url(url)
        self.sock = socket.create_connection((self.host, self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def request(self, path, headers):
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def recv(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buf += data

    def exchange(self, raw):
        """Sends `raw`; returns (status, seconds to the first byte, body length)."""
        started = time.perf_counter()
        self.sock.sendall(raw)
        while not self.buf:
            self.recv()
        first = time.perf_counter() - started
        while b"\r\n\r\n" not in self.buf:
            self.recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if fields.get("transfer-encoding", "").lower() == "chunked":
            length = self.read_chunked()
        else:
            length = int(fields.get("content-length", "0"))
            while len(self.buf) < length:
                self.recv()
            self.buf = self.buf[length:]
        return status, first, length

    def read_chunked(self):
        total = 0
        while True:
            while b"\r\n" not in self.buf:
                self.recv()
            size_line, self.buf = self.buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(self.buf) < size + 2:
                self.recv()
            self.buf = self.buf[size + 2 :]
            total += size
            if size == 0:
                return total


def percentiles(samples):
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return {
        "count": len(ordered),
        "p50_us": round(statistics.median(ordered) * 1e6, 1),
        "p99_us": round(pick(0.99) * 1e6, 1),
        "mean_us": round(statistics.fmean(ordered) * 1e6, 1),
    }


def ttfb(url, count, header_file, sim):
    conn = Conn(url)
    raw = conn.request(conn.path, read_headers(header_file) + [("Range", "bytes=0-0")])
    warm = max(20, count // 10)
    statuses, samples = {}, []
    for i in range(warm + count):
        if i == warm and sim:
            before = sim_calls(sim)
        status, first, _ = conn.exchange(raw)
        if i >= warm:
            samples.append(first)
            statuses[status] = statuses.get(status, 0) + 1
    result = dict(percentiles(samples), statuses=statuses, warmup=warm)
    if sim:
        calls = delta(before, sim_calls(sim))
        result["upstream_calls_per_request"] = {k: v / count for k, v in calls.items()}
    return result


def cgi_rtt(sim, count):
    sid, list_id, row = large_row(sim)
    conn = Conn(sim)
    raw = conn.request(
        "/cgi-bin/wdwebcgi.exe?" + cgi_query("DOWNLOAD", download_params(sid, list_id, row)), []
    )
    warm = max(20, count // 10)
    samples = []
    for i in range(warm + count):
        status, first, _ = conn.exchange(raw)
        if status != 200:
            sys.exit(f"downloads.py: DOWNLOAD answered {status}")
        if i >= warm:
            samples.append(first)
    return percentiles(samples)


# ---------------------------------------------------------------- parallel downloads


def tree(pid):
    """`pid` and its children (an nginx master and its worker)."""
    pids = [pid]
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                pids += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return pids


def status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pids):
    """User and system CPU time the processes have used (/proc/PID/stat)."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def reset_peak(pid):
    """Resets VmHWM to the current RSS (Linux `clear_refs` 5)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def fetch(url, n, pid, header_files):
    split_url(url)
    pids = tree(pid)
    peak_reset = all([reset_peak(p) for p in pids])
    rss = lambda: sum(status_kib(p, "VmRSS") for p in pids)
    before = rss()
    cpu_before = cpu_seconds(pids)
    clients = []
    started = time.perf_counter()
    for i in range(n):
        cmd = ["curl", "-s", "-S", "-o", "/dev/null", "-w", "%{http_code} %{size_download}"]
        if header_files:
            cmd += ["-H", "@" + header_files[i % len(header_files)]]
        clients.append(subprocess.Popen(cmd + [url], stdout=subprocess.PIPE, text=True))
    peak = before
    while any(c.poll() is None for c in clients):
        peak = max(peak, rss())
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    cpu = cpu_seconds(pids) - cpu_before
    after = rss()
    hwm = sum(status_kib(p, "VmHWM") for p in pids) if peak_reset else 0
    statuses, total = {}, 0
    for c in clients:
        code, size = c.stdout.read().split()
        statuses[code] = statuses.get(code, 0) + 1
        total += int(size)
    return {
        "clients": n,
        "statuses": statuses,
        "bytes": total,
        "seconds": round(seconds, 3),
        "mib_s": round(total / MIB / seconds, 1),
        "cpu_s": round(cpu, 3),
        "rss_before_kib": before,
        "rss_peak_kib": max(peak, hwm),
        "rss_after_kib": after,
    }


# ---------------------------------------------------------------- search pages


def sim_calls(sim):
    with urllib.request.urlopen(f"{sim}/_sim/stats", timeout=10) as answer:
        return json.loads(answer.read())["calls"]


def delta(before, after):
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}


def gw_get(gw, path, headers):
    request = urllib.request.Request(gw + path, headers=dict(headers))
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def counted(gw, sim, path, headers):
    """The calls the simulator served for one GET of `path` and in the half second after
    it: `calls` on the request's path, and the CLOSELISTs the gateway's background queue
    sends for lists it no longer needs (src/documents/closer.rs: never on a request's
    path) apart."""
    before = sim_calls(sim)
    body = gw_get(gw, path, headers)
    time.sleep(0.5)
    calls = delta(before, sim_calls(sim))
    closed = calls.pop("CLOSELIST", 0)
    return body, {"calls": sum(calls.values()), "by_command": calls, "closelist": closed}


def search(gw, sim, header_file):
    headers = read_headers(header_file)
    first_path = "/documents?limit=5"
    first, cold = counted(gw, sim, first_path, headers)
    cursor = first.get("next_cursor")
    if not cursor:
        sys.exit("downloads.py: the first search page has no next_cursor")
    second, by_cursor = counted(gw, sim, "/documents?cursor=" + urllib.parse.quote(cursor), headers)
    _, again = counted(gw, sim, first_path, headers)
    _, again_cursor = counted(gw, sim, "/documents?cursor=" + urllib.parse.quote(cursor), headers)
    return {
        "first_page": cold,
        "second_page_by_cursor": by_cursor,
        "identical_search_again": again,
        "second_page_again": again_cursor,
        "rows": [len(first.get("documents", [])), len(second.get("documents", []))],
    }


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "fileloc" and len(argv) == 4:
        result = fileloc(argv[2], argv[3])
    elif cmd == "fetch" and len(argv) >= 5:
        result = fetch(argv[2], int(argv[3]), int(argv[4]), argv[5:])
    elif cmd == "ttfb" and len(argv) in (4, 5, 6):
        extra = argv[4:] + ["", ""]
        result = ttfb(argv[2], int(argv[3]), extra[0] or None, extra[1] or None)
    elif cmd == "cgi-rtt" and len(argv) == 4:
        result = cgi_rtt(argv[2], int(argv[3]))
    elif cmd == "search" and len(argv) == 5:
        result = search(argv[2], argv[3], argv[4])
    else:
        sys.exit(__doc__)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv)
