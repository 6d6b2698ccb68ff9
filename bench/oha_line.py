#!/usr/bin/env python3
"""Turns oha's JSON report (stdin) into the line bench/k6.js prints, so bench/run keeps
one format whichever open-loop tool ran: offered, achieved, requests, p50_us, p99_us,
p999_us, max_us, dropped (oha drops nothing: a late request is sent late and its
latency counts from when it was due), failed (non-2xx answers and errors), and cut
(requests still in flight when the run's time was up, which oha reports as "aborted
due to deadline" errors: not failures of the server, so not in failed).

  oha ... --output-format json URL | oha_line.py OFFERED_RATE
"""

import json
import sys


def main(offered):
    report = json.load(sys.stdin)
    summary = report["summary"]
    pct = report["latencyPercentiles"]
    codes = report.get("statusCodeDistribution", {})
    ok = sum(n for code, n in codes.items() if str(code).startswith("2"))
    errors = report.get("errorDistribution", {})
    cut = sum(n for kind, n in errors.items() if kind == "aborted due to deadline")
    failed_errors = sum(errors.values()) - cut
    requests = sum(codes.values()) + failed_errors
    us = lambda s: round((s or 0) * 1e6)  # noqa: E731 (oha reports seconds)
    print(
        json.dumps(
            {
                "offered": offered,
                "achieved": summary["requestsPerSec"],
                "requests": requests,
                "p50_us": us(pct["p50"]),
                "p99_us": us(pct["p99"]),
                "p999_us": us(pct["p99.9"]),
                "max_us": us(summary["slowest"]),
                "dropped": 0,
                "failed": requests - ok,
                "cut": cut,
            }
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
