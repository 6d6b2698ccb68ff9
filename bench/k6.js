// Open-loop load for bench/run: k6's constant-arrival-rate executor starts BENCH_RATE
// requests a second whatever the server's latency, so a stall cannot slow the offered
// load down (wrk's closed loop waits, which hides the stall: coordinated omission).
// A request that finds no free VU is not sent and counts in dropped_iterations.
// Environment: BENCH_URL, BENCH_RATE (requests/s), BENCH_DURATION (s), BENCH_AUTH (an
// Authorization header value, optional), BENCH_VUS (pre-allocated VUs, 64),
// BENCH_MAX_VUS (512). Prints one JSON line: the figures bench/run keeps.
import http from "k6/http";

const auth = __ENV.BENCH_AUTH;
const params = { headers: auth ? { Authorization: auth } : {} };

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ["p(50)", "p(99)", "p(99.9)", "max"],
  scenarios: {
    open: {
      executor: "constant-arrival-rate",
      rate: Number(__ENV.BENCH_RATE),
      timeUnit: "1s",
      duration: `${__ENV.BENCH_DURATION}s`,
      preAllocatedVUs: Number(__ENV.BENCH_VUS || 64),
      maxVUs: Number(__ENV.BENCH_MAX_VUS || 512),
      gracefulStop: "2s",
    },
  },
};

export default function () {
  http.get(__ENV.BENCH_URL, params);
}

export function handleSummary(data) {
  const m = data.metrics;
  const d = m.http_req_duration.values;
  const us = (ms) => Math.round(ms * 1000);
  const line = {
    offered: Number(__ENV.BENCH_RATE),
    achieved: m.http_reqs.values.rate,
    requests: m.http_reqs.values.count,
    p50_us: us(d["p(50)"]),
    p99_us: us(d["p(99)"]),
    p999_us: us(d["p(99.9)"]),
    max_us: us(d.max),
    dropped: m.dropped_iterations ? m.dropped_iterations.values.count : 0,
    failed: m.http_req_failed.values.passes,
  };
  return { stdout: JSON.stringify(line) + "\n" };
}
