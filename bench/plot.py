#!/usr/bin/env python3
"""Draws bench/run's open-loop figures: p50 and p99 latency against the offered load,
one line pair per server, one PNG per scenario (latency-A.png, latency-B.png), and the
slow-upstream scenario's (latency-slow.png: direct, nginx proxy_pass, wdgate, and the
generator's own floor).

  plot.py OPEN.jsonl OUTDIR        (OPEN.jsonl: the lines bench/oha_line.py or bench/k6.js
                                    printed, with scenario, server and fraction added by bench/run)
  plot.py slow SLOW.jsonl OUTDIR   (SLOW.jsonl: the lines `bench/slow.py search` printed)
"""

import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (the backend is chosen first)

import open_rounds  # noqa: E402 (bench/'s own, after the third-party imports)

TITLES = {
    "A": "A. auth + cached answer: nginx return 200, Caddy respond, wdgate GET /me",
    "B": "B. translated read: nginx proxy_pass, Caddy reverse_proxy, Traefik, wdgate (cache off)",
}
COLOURS = {
    "nginx": "tab:green",
    "nginx-again": "tab:olive",
    "caddy": "tab:blue",
    "traefik": "tab:purple",
    "wdgate": "tab:red",
    "direct": "tab:orange",
    "floor": "tab:gray",
}
SLOW_NAMES = {
    "direct": "direct to the simulator",
    "nginx": "nginx proxy_pass",
    "wdgate": "wdgate",
    "floor": "generator floor (fixed answers)",
}


def slow(path, outdir):
    """latency-slow.png: p50 and p99 against the offered rate, per path, log-log, with
    the 100 ms limit the search holds."""
    rows = [json.loads(line) for line in open(path) if line.strip()]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for name in ("direct", "nginx", "wdgate", "floor"):
        pts = sorted((r["rate"], r["p50_ms"], r["p99_ms"]) for r in rows if r["path"] == name)
        if not pts:
            continue
        colour = COLOURS[name]
        label = SLOW_NAMES[name]
        ax.plot([p[0] for p in pts], [p[2] for p in pts], "-o", color=colour, label=f"{label} p99")
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "--s", color=colour, label=f"{label} p50", alpha=0.7)
    ax.axhline(100, color="black", linewidth=0.8, linestyle=":", label="p99 limit, 100 ms")
    ax.set_title(
        "Slow upstream: simulator capacity 4, 20 ms a call; 200 sessions, 5 % renames, open loop",
        fontsize=9,
    )
    ax.set_xlabel("offered load, requests/s (bench/slow.py, latency from when each was due)")
    ax.set_ylabel("latency, ms")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    out = os.path.join(outdir, "latency-slow.png")
    fig.savefig(out)
    plt.close(fig)
    print(f"drawn {out}", file=sys.stderr)


def main(path, outdir):
    rows = open_rounds.merged([json.loads(line) for line in open(path) if line.strip()])
    for scenario in sorted({r["scenario"] for r in rows}):
        fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
        these = [r for r in rows if r["scenario"] == scenario]
        for server in dict.fromkeys(r["server"] for r in these):
            pts = sorted((r["offered"], r["p50_us"], r["p99_us"]) for r in these if r["server"] == server)
            x = [p[0] / 1000 for p in pts]
            colour = COLOURS.get(server)
            ax.plot(x, [p[2] / 1000 for p in pts], "-o", color=colour, label=f"{server} p99")
            ax.plot(x, [p[1] / 1000 for p in pts], "--s", color=colour, label=f"{server} p50", alpha=0.7)
        ax.set_title(TITLES.get(scenario, scenario), fontsize=9)
        tool = these[0].get("tool", "k6")
        how = "oha -q --latency-correction" if tool == "oha" else "k6 constant-arrival-rate"
        ax.set_xlabel(f"offered load, thousand requests/s ({how})")
        ax.set_ylabel("latency, ms")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, ncol=2)
        fig.tight_layout()
        out = os.path.join(outdir, f"latency-{scenario}.png")
        fig.savefig(out)
        plt.close(fig)
        print(f"drawn {out}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "slow":
        slow(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3:
        main(sys.argv[1], sys.argv[2])
    else:
        sys.exit(__doc__)
