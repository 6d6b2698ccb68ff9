#!/usr/bin/env python3
"""Draws bench/run's open-loop figures: p50 and p99 latency against the offered load,
one line pair per server, one PNG per scenario (latency-A.png, latency-B.png).

  plot.py OPEN.jsonl OUTDIR     (OPEN.jsonl: the lines bench/k6.js printed, with
                                 scenario, server and fraction added by bench/run)
"""

import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (the backend is chosen first)

TITLES = {
    "A": "A. auth + cached answer: nginx return 200, Caddy respond, wdgate GET /me",
    "B": "B. translated read: nginx proxy_pass, Caddy reverse_proxy, Traefik, wdgate (cache off)",
}
COLOURS = {"nginx": "tab:green", "caddy": "tab:blue", "traefik": "tab:purple", "wdgate": "tab:red"}


def main(path, outdir):
    rows = [json.loads(line) for line in open(path) if line.strip()]
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
    main(sys.argv[1], sys.argv[2])
