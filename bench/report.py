#!/usr/bin/env python3
"""Renders bench/run's measurements as one Markdown report: the machine, the method,
every wrk run (wdgate, nginx and the peers Caddy and Traefik), the open-loop latency
table, and each target of issue 14 with its ratio and whether it was met; the downloads
part's section comes from report_downloads.py.

  report.py RESULTS.tsv OUT.md     (the rest comes from BENCH_* environment variables)
"""

import datetime
import json
import os
import statistics
import subprocess
import sys

import open_rounds
import report_downloads

NAMES = {
    "A": "A. auth + cached answer",
    "B": "B. translated read",
    "C": "C. cached read",
    "L": "B at 1 connection",
    "S": "B at 1 connection, one CPU",
    "D": "D. login",
}


def sh(cmd):
    done = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    return done.stdout.strip() or done.stderr.strip() or "?"


def commit():
    """HEAD, marked -dirty when files outside bench/ differ from it (bench/run itself
    rewrites bench/'s pictures before the report is written)."""
    head = sh("git rev-parse --short HEAD")
    clean = subprocess.run("git diff --quiet HEAD -- . ':!bench'", shell=True).returncode == 0
    return head if clean else head + "-dirty"


def ms(us):
    return f"{us / 1000:.3f} ms"


def main(results, out_path):
    env = os.environ.get
    runs = {}
    for line in open(results):
        if not line.strip():
            continue
        id_, label, conns, rps, p50, p99, non2xx, sockerr = line.rstrip("\n").split("\t")
        runs.setdefault(id_, []).append(
            {
                "label": label,
                "conns": int(conns),
                "rps": float(rps),
                "p50": int(p50),
                "p99": int(p99),
                "non2xx": int(non2xx),
                "sockerr": int(sockerr),
            }
        )
    # Each scenario ran BENCH_ROUNDS times, the two sides of a comparison alternating;
    # a row is the median of its rounds (errors are summed).
    by = {}
    for id_, rounds in runs.items():
        by[id_] = {
            "label": rounds[0]["label"],
            "conns": rounds[0]["conns"],
            "rps": statistics.median(r["rps"] for r in rounds),
            "p50": int(statistics.median(r["p50"] for r in rounds)),
            "p99": int(statistics.median(r["p99"] for r in rounds)),
            "non2xx": sum(r["non2xx"] for r in rounds),
            "sockerr": sum(r["sockerr"] for r in rounds),
            "rounds": len(rounds),
        }

    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")
    nginx = sh(env("BENCH_NGINX", "nginx") + " -v 2>&1")
    wrk = sh("wrk -v 2>&1 | head -n1 | cut -d' ' -f1,2")
    mem_gib = int(sh("awk '/MemTotal/ {print $2}' /proc/meminfo")) / 2**20
    out = [
        "# wdgate benchmark results",
        "",
        "Written by `bench/run` (see README, \"Benchmarks\"). Figures taken with no other work",
        "on the machine unless a note below says otherwise (the load average below counts the",
        "benchmark's own processes).",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {sh('nproc')} cores ({cpu}), {mem_gib:.0f} GiB, Linux {sh('uname -r')}",
        f"- versions: wdgate {sh('git describe --always --dirty')}, {sh('rustc --version')}, "
        f"{nginx}, {wrk}, peers and load {env('BENCH_PEERS', '?')} (PyPI, in target/bench-venv)",
        f"- peers missing on this machine (not run): {env('BENCH_PEERS_MISSING') or 'none'}; "
        "Traefik is in B only: it has no static answer for A",
        f"- wrk: `-t{env('BENCH_THREADS')} -c{env('BENCH_CONNECTIONS')} -d{env('BENCH_DURATION')}s --latency` "
        f"(the \"1 connection\" rows: `-c1`), each after a {env('BENCH_WARMUP')} s warm-up, with the same "
        "script (bench/wrk.lua) for both sides of a comparison",
        f"- rounds: {env('BENCH_ROUNDS', '1')} of each comparison (login once), the two sides "
        "alternating; each row is the median of its rounds",
        f"- pinning: the server under test, wdgate (`server.worker_threads = 1`) or nginx "
        f"(`worker_processes 1`), on CPU {env('BENCH_SERVER_CPU')}; wrk, the upstream nginx and the "
        f"simulator on CPU {env('BENCH_CLIENT_CPU')}. nginx runs with `access_log off`; wdgate with its "
        "shipped config (log level `info`)",
        f"- load average before / after: {env('BENCH_LOAD_BEFORE')} / {env('BENCH_LOAD_AFTER')}",
        *([f"- note: {env('BENCH_NOTE')}"] if env("BENCH_NOTE") else []),
        "",
        "| scenario | server | conns | requests/s | p50 | p99 | non-2xx / socket errors |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for key, r in by.items():
        out.append(
            f"| {NAMES[key.split('.')[0]]} | {r['label']} | {r['conns']} | {r['rps']:,.0f} | "
            f"{ms(r['p50'])} | {ms(r['p99'])} | {r['non2xx']} / {r['sockerr']} |"
        )
    out += ["", "| target | goal | measured | met |", "|---|---|---|---|"]

    def target(name, goal, measured, ok):
        met = "" if ok is None else ("yes" if ok else "**no**")
        out.append(f"| {name} | {goal} | {measured} | {met} |")

    def ratio(a, b):
        return by[a]["rps"] / by[b]["rps"]

    def spread(a, b):
        """The ratio round by round (rounds pair up in the order they ran)."""
        each = [x["rps"] / y["rps"] for x, y in zip(runs[a], runs[b])]
        if len(each) < 2:
            return ""
        return f" (rounds: {min(each):.2f}–{max(each):.2f}×)"

    if {"A.wdgate", "A.nginx"} <= by.keys():
        x = ratio("A.wdgate", "A.nginx")
        target(
            "A requests/s, wdgate / nginx `return 200`",
            "≥ 0.8×",
            f"{x:.2f}×{spread('A.wdgate', 'A.nginx')}",
            x >= 0.8,
        )
        a, n = by["A.wdgate"]["p99"], by["A.nginx"]["p99"]
        target("A p99 closed loop, wdgate vs nginx", "for scale (the p99 target is open loop)", f"{ms(a)} vs {ms(n)}", None)
    if {"B.wdgate", "B.nginx"} <= by.keys():
        x = ratio("B.wdgate", "B.nginx")
        target(
            "B requests/s, wdgate / nginx `proxy_pass`",
            "≥ 0.65×",
            f"{x:.2f}×{spread('B.wdgate', 'B.nginx')}",
            x >= 0.65,
        )
    for scen in "AB":
        for peer, name in (("caddy", "Caddy"), ("traefik", "Traefik")):
            if {f"{scen}.wdgate", f"{scen}.{peer}"} <= by.keys():
                x = ratio(f"{scen}.wdgate", f"{scen}.{peer}")
                target(f"{scen} requests/s, wdgate / {name}", "> 1.0× (keeps the lead)", f"{x:.2f}×", x > 1.0)
    def added(prefix, name, goal, met):
        """The p50 a hop adds over the direct upstream, wdgate's and nginx's."""
        if not {f"{prefix}.wdgate", f"{prefix}.direct", f"{prefix}.nginx"} <= by.keys():
            return
        direct = by[f"{prefix}.direct"]["p50"]
        ours = by[f"{prefix}.wdgate"]["p50"] - direct
        nginx = by[f"{prefix}.nginx"]["p50"] - direct
        target(name, goal, f"{ours} µs (nginx `proxy_pass` adds {nginx} µs)", met(ours))

    added("L", "B p50 added over the direct upstream (1 connection)", "≤ 100 µs", lambda us: us <= 100)
    added(
        "S",
        "B p50 added over the direct upstream (1 connection, everything on one CPU: "
        "no wake-up of an idle CPU on each hop)",
        "≤ 100 µs",
        lambda us: us <= 100,
    )
    if "B.wdgate" in by:
        added(
            "B",
            f"B p50 added over the direct upstream ({by['B.wdgate']['conns']} connections, saturated)",
            "for scale",
            lambda us: None,
        )
    if {"C.wdgate", "B.wdgate"} <= by.keys():
        x = ratio("C.wdgate", "B.wdgate")
        target("C requests/s, cache on / B's wdgate figure", "≥ 3×", f"{x:.2f}×", x >= 3)
    if {"D.wdgate", "D.nginx"} <= by.keys():
        x = ratio("D.wdgate", "D.nginx")
        target("D requests/s, wdgate / nginx `proxy_pass` of LOGON", "no target", f"{x:.2f}×", None)

    open_rows = []
    if env("BENCH_OPEN") and os.path.exists(env("BENCH_OPEN")):
        open_rows = [json.loads(line) for line in open(env("BENCH_OPEN")) if line.strip()]
    open_lines = open_loop(open_rows, env("BENCH_OPEN_DURATION", "?"), env("BENCH_OPEN_TOOL", "k6")) if open_rows else []

    memory = env("BENCH_MEMORY", "").split()
    if memory:
        idle, loaded, created = int(memory[0]), int(memory[1]), int(memory[2])
        per = (loaded - idle) / max(created, 1)
        target(
            f"RSS per live session at {created:,} sessions",
            "≤ 1 KiB",
            f"{per:.0f} B ({idle / 2**20:.1f} → {loaded / 2**20:.1f} MiB; the logins took {memory[3]} s)",
            per <= 1024,
        )
        target("idle RSS", "≤ 20 MiB", f"{idle / 2**20:.1f} MiB", idle <= 20 * 2**20)
    coalesce = env("BENCH_COALESCE", "")
    if coalesce:
        calls = int(coalesce.split()[0])
        target("coalescing", "1 upstream call", coalesce, calls == 1)

    # A run of some parts keeps the other parts' figures: the top (the wrk tables and
    # targets) is replaced only when a part that writes it ran (`open` alone runs wrk
    # only to learn nginx's maximum), each "## " section this run wrote replaces the one
    # of the same name, and every other section is kept where it was: the file stays
    # the one place every figure comes from.
    parts = set(env("BENCH_PARTS", "A B C D latency memory coalescing").split())
    ran_main = bool(parts & {"A", "B", "C", "D", "latency", "memory", "coalescing"}) and (
        bool(runs) or bool(memory) or bool(coalesce)
    )
    sections = []
    if open_lines:
        sections.append("\n".join(open_lines).strip("\n") + "\n")
    downloads = report_downloads.render(env("BENCH_DOWNLOADS", ""), env)
    if downloads:
        sections.append("\n".join(downloads).strip("\n") + "\n")
    old = open(out_path).read() if os.path.exists(out_path) else None
    text = merge(old, "\n".join(out) + "\n" if ran_main else None, sections)
    print(text)
    with open(out_path, "w") as f:
        f.write(text)


def split_sections(text):
    """The text before its first "## " heading, and its sections as (heading, text)."""
    blocks = ("\n" + text).split("\n## ")
    top = blocks[0].lstrip("\n")
    return top, [("## " + b.split("\n", 1)[0], "## " + b) for b in blocks[1:]]


def merge(old, top, sections):
    """OLD with its top replaced by TOP (unless None) and each of SECTIONS (texts that
    start with their "## " heading) in place of the old section of that heading, or
    appended; the other old sections stay as they were, in their order."""
    old_top, old_sections = split_sections(old or "# wdgate benchmark results\n")
    new_top = top if top is not None else old_top
    # The top this run wrote may hold sections of its own (none today): they count as new.
    new_top, top_sections = split_sections(new_top) if top is not None else (new_top, [])
    fresh = dict(top_sections)
    fresh.update(split_sections(s)[1][0] for s in sections)
    done = set()
    out = [new_top.rstrip("\n") + "\n"]
    for heading, body in old_sections:
        if heading in fresh:
            out.append(fresh[heading].rstrip("\n") + "\n")
            done.add(heading)
        else:
            out.append(body.rstrip("\n") + "\n")
    out += [body.rstrip("\n") + "\n" for heading, body in fresh.items() if heading not in done]
    return "\n".join(out)


def p99_against(cell, base):
    """`cell`'s p99 as a ratio of `base`'s, both p99s, and each round's own ratio."""
    each = open_rounds.round_ratios(cell, base)
    return (
        f"{cell['p99_us'] / max(base['p99_us'], 1):.2f}× ({ms(cell['p99_us'])} vs {ms(base['p99_us'])})"
        + (f"; rounds {', '.join(f'{x:.2f}' for x in each)}×" if len(each) > 1 else "")
    )


def open_loop(rows, duration, tool):
    """The open-loop section: its own date, commit and machine (`bench/run open` may run
    alone), every server side by side at each offered rate with the rate each achieved,
    and the p99 targets against nginx."""
    env = os.environ.get
    oha = tool.strip().startswith("oha")
    rounds = max(r.get("round", 1) for r in rows)
    lines = [
        "## Open loop",
        "",
        f"Written by `bench/run open` (or `bench/run`). "
        + (
            f"{tool.strip()}: `-q RATE --latency-correction -c {env('BENCH_CONNECTIONS')} -z {duration}s`"
            " (each request timed from when it was due, whatever kept it waiting)"
            if oha
            else f"{tool.strip()} `constant-arrival-rate` (bench/k6.js), {duration} s a run"
        )
        + f", pinned to the client CPU ({env('BENCH_CLIENT_CPU')}; B's upstream nginx shares it),"
        " at a share of nginx's maximum rate (the median of the wrk rounds, or one wrk run);"
        " every server in turn at each rate.",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {sh('nproc')} cores, Linux {sh('uname -r')}; wdgate {commit()}",
        f"- load average before / after the whole run: {env('BENCH_LOAD_BEFORE')} / {env('BENCH_LOAD_AFTER')}",
        *([f"- note: {env('BENCH_NOTE')}"] if env("BENCH_NOTE") else []),
        "",
        "Each cell: p50 / p99 / p99.9 in ms, then the rate achieved (requests answered a second)"
        + (", and dropped (k6: requests it could not start for want of a free VU)" if not oha else "")
        + " and failed (not 2xx, or no answer). A cell marked **behind** achieved less than 98 %"
        " of the offered rate: the server or the load tool could not keep up; nginx's cell at the"
        " same rate tells which (when nginx is behind too, the tool's ceiling was reached and the"
        " p99 target at that rate is not measured)."
        + (
            f" Every cell is the median of {rounds} rounds: each round runs every server at every"
            " rate, the servers' order turned each round; a target's per-round ratios follow it."
            if rounds > 1
            else ""
        ),
        "Pictures: [latency-A.png](latency-A.png), [latency-B.png](latency-B.png).",
        "",
    ]
    rows = open_rounds.merged(rows)
    targets = ["| target | goal | measured | met |", "|---|---|---|---|"]
    for scen in sorted({r["scenario"] for r in rows}):
        these = [r for r in rows if r["scenario"] == scen]
        servers = list(dict.fromkeys(r["server"] for r in these))
        lines += [
            f"| {scen}: offered | " + " | ".join(servers) + " |",
            "|---|" + "---|" * len(servers),
        ]
        for frac in sorted({r["fraction"] for r in these}):
            at = {r["server"]: r for r in these if r["fraction"] == frac}
            offered = next(iter(at.values()))["offered"]
            cells = []
            for s in servers:
                r = at.get(s)
                if r is None:
                    cells.append("")
                    continue
                cell = f"{r['p50_us'] / 1000:.3f} / {r['p99_us'] / 1000:.3f} / {r['p999_us'] / 1000:.3f}"
                cell += f" ({r['achieved']:,.0f}/s"
                if not oha or r["dropped"]:
                    cell += f", {r['dropped']:,} dropped"
                cell += f", {r['failed']:,} failed)"
                if r["achieved"] < 0.98 * r["offered"]:
                    cell += " **behind**"
                cells.append(cell)
            lines.append(f"| {frac * 100:.0f} % = {offered:,}/s | " + " | ".join(cells) + " |")
            if {"wdgate", "nginx"} <= at.keys():
                w, n = at["wdgate"], at["nginx"]
                # nginx behind: the tool could not offer the rate, so nothing is measured;
                # wdgate behind where nginx was not: wdgate fell behind, a miss.
                tool_ok = n["achieved"] >= 0.98 * offered
                kept_up = w["achieved"] >= 0.98 * offered
                ok = w["p99_us"] <= 1.25 * n["p99_us"] and not w["failed"] and kept_up
                targets.append(
                    f"| {scen} open-loop p99 at {frac * 100:.0f} % of nginx's maximum, wdgate / nginx | ≤ 1.25× |"
                    f" {p99_against(w, n)}"
                    + ("" if tool_ok else f"; the tool offered only {n['achieved']:,.0f}/s to nginx")
                    + ("" if kept_up or not tool_ok else f"; wdgate fell behind ({w['achieved']:,.0f}/s)")
                    + (f"; wdgate failed {w['failed']:,}" if w["failed"] else "")
                    + f" | {('yes' if ok else '**no**') if tool_ok else 'not measured'} |"
                )
            if {"nginx-again", "nginx"} <= at.keys():
                targets.append(
                    f"| {scen} at {frac * 100:.0f} %, A/A control: nginx's second run / its first | for scale |"
                    f" {p99_against(at['nginx-again'], at['nginx'])} |  |"
                )
        lines.append("")
    return lines + targets + [""]


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
