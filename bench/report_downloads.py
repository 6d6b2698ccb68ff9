"""The "Downloads" section of bench/results.md, from `bench/run downloads`'s JSON lines
(bench/downloads.py output with `kind`, `upstream`, `side` and `round` added), and the
merge that lets a run of some parts keep the other parts' figures in the file.
"""

import datetime
import json
import os
import statistics
import subprocess

HEADING = "## Downloads"
MIB = 1024 * 1024
UPSTREAMS = {
    "sim": "the simulator (bytes made as they are sent)",
    "front": "an nginx sending the file from disk (CGI calls passed to the simulator)",
}


def sh(cmd):
    done = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    return done.stdout.strip() or done.stderr.strip() or "?"


def load(path):
    if not path or not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def ms(us):
    return f"{us / 1000:.3f} ms"


def render(path, env):
    """The section's lines, or [] when the part did not run."""
    rows = load(path)
    if not rows:
        return []
    fetches = [r for r in rows if r["kind"] == "fetch"]
    ttfbs = [r for r in rows if r["kind"] == "ttfb"]
    rtts = [r for r in rows if r["kind"] == "download-rtt"]
    checks = [r for r in rows if r["kind"] == "check"]
    searches = [r for r in rows if r["kind"] == "search"]
    size = max((r["bytes"] // r["clients"] for r in fetches), default=0)
    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")
    nginx = sh(env("BENCH_NGINX", "nginx") + " -v 2>&1")
    curl = sh("curl --version | head -n1 | cut -d' ' -f1,2")
    out = [
        HEADING,
        "",
        "Written by `bench/run downloads` (see README, \"Benchmarks\").",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {sh('nproc')} cores ({cpu}), Linux {sh('uname -r')}; "
        f"wdgate {sh('git describe --always --dirty')}, {nginx}, {curl}",
        f"- load average before / after the whole run: {env('BENCH_LOAD_BEFORE')} / {env('BENCH_LOAD_AFTER')}",
        f"- the document: `doc_14_00014999`, {size / MIB:.0f} MiB; every side sent the same bytes as "
        "the file: "
        + ", ".join(f"{c['upstream']} {c['side']} {c['same']}" for c in checks),
        f"- pinning: wdgate (`server.worker_threads = 1`) or the proxy nginx (`worker_processes 1`) on "
        f"CPU {env('BENCH_SERVER_CPU')}; the simulator, the file-server nginx and the clients on CPU "
        f"{env('BENCH_CLIENT_CPU')}",
        f"- rounds: {env('BENCH_ROUNDS', '1')}; in each, the sides (the file server direct, nginx, "
        "nginx with 64 KiB buffers, wdgate) take turns to go first; each figure is the median of "
        "the rounds (memory: the largest)",
        "- throughput: N concurrent `curl -o /dev/null` of the whole document, MiB/s = all bytes / the "
        "time from the first start to the last end. wdgate: `GET /documents/doc_14_00014999/content` "
        "(a DOWNLOAD call, then the file GET, streamed), one session per client; nginx: `proxy_pass` "
        "(HTTP/1.1 keep-alive upstream, `proxy_max_temp_file_size 0` so it streams through its "
        "buffers as wdgate does; once with nginx's default buffers, 8 of one page, once with "
        "16 of 64 KiB) of the file GET alone, at a path a DOWNLOAD made straight to the "
        "simulator",
        "- two file servers for both sides: the simulator itself, and an nginx that sends the "
        "same bytes from a file with `sendfile` and passes every CGI call (LOGON, FINDFILES, "
        "DOWNLOAD) to the simulator, so wdgate still runs DOWNLOAD + file GET; \"direct\" is "
        "curl straight to the file server, the ceiling: a proxy near it is limited by the file "
        "server and the clients (one CPU), not by itself",
        "- memory: VmRSS of the server's processes (nginx: master and worker) sampled every 10 ms "
        "and VmHWM (reset before each run), during 8 concurrent downloads, against VmRSS just "
        "before; once on a fresh gateway whose first whole downloads they are, then in every round",
        f"- time to first byte: {env('BENCH_TTFB_REQUESTS')} sequential `GET` with `Range: bytes=0-0` "
        "on one keep-alive connection (after a warm-up of a tenth), from sending the request to "
        "the first byte of the answer, against the simulator",
        "",
        "| file server | clients | the file server, direct | nginx `proxy_pass`, default buffers "
        "| the same, 16 × 64 KiB buffers | wdgate | wdgate / nginx (rounds) | wdgate / nginx 64 KiB "
        "(rounds) | the fastest proxy / direct |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    cpu_rows = []
    targets = []

    def target(name, goal, measured, ok):
        met = "" if ok is None else ("yes" if ok else "**no**")
        targets.append(f"| {name} | {goal} | {measured} | {met} |")

    def runs(up, n, side):
        return [r for r in fetches if (r["upstream"], r["clients"], r["side"]) == (up, n, side)]

    for up in UPSTREAMS:
        for n in sorted({r["clients"] for r in fetches}):
            sides = {side: runs(up, n, side) for side in ("direct", "nginx", "nginx-64k", "wdgate")}
            if not all(sides.values()):
                continue
            rate = {side: statistics.median(r["mib_s"] for r in rs) for side, rs in sides.items()}
            # Server CPU per GiB sent: what each proxy spends, whichever side is the limit.
            per_gib = {
                side: statistics.median(r["cpu_s"] * 1000 / (r["bytes"] / 2**30) for r in rs)
                for side, rs in sides.items()
            }
            cpu_rows.append(
                f"| {up} | {n} | {per_gib['nginx']:,.0f} | {per_gib['nginx-64k']:,.0f} | "
                f"{per_gib['wdgate']:,.0f} | {per_gib['wdgate'] / min(per_gib['nginx'], per_gib['nginx-64k']):.2f}× |"
            )
            gw = rate["wdgate"]
            bad = sum(v for rs in sides.values() for r in rs for k, v in r["statuses"].items() if k != "200")

            def ratio(peer):
                """wdgate / `peer`: the medians' ratio and its range over the rounds (they
                pair up in the order they ran)."""
                each = sorted(x["mib_s"] / y["mib_s"] for x, y in zip(sides["wdgate"], sides[peer]))
                spread = f" ({each[0]:.2f}–{each[-1]:.2f}×)" if len(each) > 1 else ""
                return gw / rate[peer], spread

            cells = []
            for peer, name in (("nginx", "nginx `proxy_pass`"), ("nginx-64k", "nginx with 16 × 64 KiB buffers")):
                x, spread = ratio(peer)
                cells.append(f"{x:.2f}×{spread}")
                target(
                    f"download throughput, {n} client{'s' if n > 1 else ''}, {up} file server, wdgate / {name}",
                    "≥ 0.9×",
                    f"{x:.2f}×{spread}: {gw:,.0f} vs {rate[peer]:,.0f} MiB/s",
                    x >= 0.9 and not bad,
                )
            fastest = max(gw, rate["nginx"], rate["nginx-64k"])
            note = f" ({bad} failed)" if bad else ""
            out.append(
                f"| {up} | {n} | {rate['direct']:,.0f} MiB/s | {rate['nginx']:,.0f} MiB/s | "
                f"{rate['nginx-64k']:,.0f} MiB/s | {gw:,.0f} MiB/s{note} | {cells[0]} | {cells[1]} | "
                f"{fastest / rate['direct']:.2f}× |"
            )
    if cpu_rows:
        out += [
            "",
            "Server CPU time (user + system, /proc) per GiB sent, in ms: the cost of the hop, "
            "whatever the limit on the rate:",
            "",
            "| file server | clients | nginx, default buffers | nginx, 16 × 64 KiB | wdgate | wdgate / the cheaper nginx |",
            "|---|---:|---:|---:|---:|---:|",
        ] + cpu_rows
    out += [
        "",
        "| server | file server | RSS before | peak during 8 downloads | growth |",
        "|---|---|---:|---:|---:|",
    ]
    cold = [r for r in rows if r["kind"] == "memory"]

    def growth(r):
        return (r["rss_peak_kib"] - r["rss_before_kib"]) / 1024

    def rss_row(name, up, r):
        out.append(
            f"| {name} | {up} | {r['rss_before_kib'] / 1024:.1f} MiB | "
            f"{r['rss_peak_kib'] / 1024:.1f} MiB | +{growth(r):.1f} MiB |"
        )

    for r in cold:
        rss_row("wdgate, fresh: its first whole downloads", r["upstream"], r)
    for side in ("wdgate", "nginx", "nginx-64k"):
        eight = [r for r in fetches if r["side"] == side and r["clients"] == 8]
        for up in UPSTREAMS:
            mine = [r for r in eight if r["upstream"] == up]
            if mine:
                rss_row(f"{side}, the rounds' largest", up, max(mine, key=growth))
        if not eight:
            continue
        worst = max(growth(r) for r in eight + (cold if side == "wdgate" else []))
        if side == "wdgate":
            target("RSS growth, 8 concurrent 200 MiB downloads", "≤ +16 MiB", f"+{worst:.1f} MiB", worst <= 16)
        else:
            target(f"{side}'s RSS growth, the same", "for scale", f"+{worst:.1f} MiB", None)

    def med(side, key):
        mine = [r[key] for r in ttfbs if r["side"] == side]
        return statistics.median(mine) if mine else None

    if ttfbs:
        out += ["", "| time to first byte, `Range: bytes=0-0` | p50 | p99 | upstream calls per request |", "|---|---:|---:|---|"]
        names = {
            "direct": "the simulator's file path, direct",
            "nginx": "nginx `proxy_pass` of that path",
            "wdgate": "wdgate `GET /documents/doc_14_00014999/content`",
        }
        for side, name in names.items():
            if med(side, "p50_us") is None:
                continue
            calls = next(r for r in ttfbs if r["side"] == side).get("upstream_calls_per_request", {})
            calls = ", ".join(f"{k} {v:g}" for k, v in calls.items()) or "the file GET"
            out.append(f"| {name} | {ms(med(side, 'p50_us'))} | {ms(med(side, 'p99_us'))} | {calls} |")
        if rtts:
            p50 = statistics.median(r["p50_us"] for r in rtts)
            p99 = statistics.median(r["p99_us"] for r in rtts)
            out.append(f"| a DOWNLOAD call alone, direct to the simulator | {ms(p50)} | {ms(p99)} | |")
        if med("wdgate", "p50_us") is not None and med("direct", "p50_us") is not None:
            a50 = med("wdgate", "p50_us") - med("direct", "p50_us")
            a99 = med("wdgate", "p99_us") - med("direct", "p99_us")
            n50 = med("nginx", "p50_us") - med("direct", "p50_us") if med("nginx", "p50_us") else 0
            rtt = f"; a DOWNLOAD alone takes {ms(statistics.median(r['p50_us'] for r in rtts))}" if rtts else ""
            target(
                "time to first byte added over the direct file GET (p50; p99 added)",
                "≤ 1 ms",
                f"{ms(a50)} (p99 {ms(a99)}; nginx adds {ms(n50)}{rtt})",
                a50 <= 1000,
            )
    if searches:
        s = searches[-1]
        out += ["", "| search page, upstream calls | on the request's path | CLOSELIST after it (background) |", "|---|---|---:|"]
        names = {
            "first_page": "first page (`GET /documents?limit=5`), cold",
            "second_page_by_cursor": "second page by its cursor",
            "identical_search_again": "the identical search again",
            "second_page_again": "the second page by cursor again",
        }
        for key, name in names.items():
            c = s[key]
            detail = ", ".join(f"{k} {v}" for k, v in c["by_command"].items())
            out.append(f"| {name} | {c['calls']} ({detail}) | {c['closelist']} |")
        warm = max(s[k]["calls"] for k in ("second_page_by_cursor", "identical_search_again", "second_page_again"))
        target(
            "warm search page (by cursor, or the identical search again)",
            "≤ 1 upstream call",
            f"{warm} on the request's path (a replaced list's CLOSELIST follows in the background)",
            warm <= 1,
        )
    out += ["", "| target | goal | measured | met |", "|---|---|---|---|"] + targets
    return out


def merge(main_text, downloads_lines, out_path):
    """The whole file: this run's main part or, if only downloads ran, the file's; and
    this run's Downloads section or, if downloads did not run, the file's."""
    old_main, old_downloads = "", ""
    if os.path.exists(out_path):
        with open(out_path) as f:
            old = f.read()
        at = old.find("\n" + HEADING + "\n")
        old_main, old_downloads = (old, "") if at < 0 else (old[: at + 1], old[at + 1 :])
    text = main_text if main_text is not None else old_main
    section = "\n".join(downloads_lines) + "\n" if downloads_lines else old_downloads
    if section:
        text = text.rstrip("\n") + "\n\n" + section
    return text
