"""The open loop's rounds, merged: bench/run runs every server at every rate once a
round, and the report and the pictures show each (scenario, server, rate) cell as the
median of its rounds, so one stall of this VM does not decide a comparison."""

import statistics


def merged(rows):
    """One row per (scenario, server, fraction): the medians of the rounds' p50, p99,
    p99.9 and achieved rate, the failures summed, and `rounds` holding each round's own
    row (a line without a round number, from before rounds, counts as round 1)."""
    groups = {}
    for r in rows:
        groups.setdefault((r["scenario"], r["server"], r["fraction"]), []).append(r)
    out = []
    for these in groups.values():
        cell = dict(these[0])
        for key in ("p50_us", "p99_us", "p999_us", "achieved"):
            cell[key] = statistics.median(r[key] for r in these)
        for key in ("failed", "dropped"):
            cell[key] = sum(r.get(key, 0) for r in these)
        cell["rounds"] = sorted(these, key=lambda r: r.get("round", 1))
        out.append(cell)
    return out


def round_ratios(cell, base):
    """Each round's own p99 ratio, `cell` / `base` (two merged cells), for the rounds both ran."""
    theirs = {r.get("round", 1): r for r in base["rounds"]}
    return [
        r["p99_us"] / max(theirs[r.get("round", 1)]["p99_us"], 1)
        for r in cell["rounds"]
        if r.get("round", 1) in theirs
    ]
