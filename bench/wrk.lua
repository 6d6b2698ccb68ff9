-- wrk script shared by every bench/run scenario, so both sides of a comparison send
-- byte-for-byte the same kind of request. Settings come from the environment:
--   BENCH_METHOD        GET (default) or POST
--   BENCH_BODY          request body (POST)
--   BENCH_CONTENT_TYPE  its content type (default application/json)
--   BENCH_AUTH          an Authorization header value ("Bearer wdg_…")
-- At the end it prints one machine-readable line that bench/run parses:
--   BENCH requests=… rps=… p50_us=… p99_us=… non2xx=… sockerr=…

wrk.method = os.getenv("BENCH_METHOD") or "GET"

local body = os.getenv("BENCH_BODY")
if body ~= nil and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or "application/json"
end

local auth = os.getenv("BENCH_AUTH")
if auth ~= nil and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d rps=%.1f p50_us=%d p99_us=%d mean_us=%.1f non2xx=%d sockerr=%d\n",
    summary.requests,
    summary.requests / summary.duration * 1e6,
    latency:percentile(50),
    latency:percentile(99),
    latency.mean,
    e.status,
    e.connect + e.read + e.write + e.timeout))
end
