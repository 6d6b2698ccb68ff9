-- wrk script shared by every bench/run scenario, so both sides of a comparison send
-- byte-for-byte the same kind of request. Settings come from the environment:
--   BENCH_METHOD        GET (default) or POST
--   BENCH_BODY          request body (POST)
--   BENCH_CONTENT_TYPE  its content type (default application/json)
--   BENCH_AUTH          an Authorization header value ("Bearer wdg_…")
--   BENCH_USERS         N: each request's body has every "{user}" replaced by the next of
--                       bench000 … bench(N-1) in turn (bench/slow.py's users), so a login
--                       bench logs in N users in rotation rather than one user N times
-- At the end it prints one machine-readable line that bench/run parses:
--   BENCH requests=… rps=… p50_us=… p99_us=… non2xx=… sockerr=…

wrk.method = os.getenv("BENCH_METHOD") or "GET"

local body = os.getenv("BENCH_BODY")
if body ~= nil and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or "application/json"
end

local users = tonumber(os.getenv("BENCH_USERS") or "")
if users ~= nil and users > 0 and body ~= nil and body:find("{user}", 1, true) then
  local next_user = 0
  request = function()
    local name = string.format("bench%03d", next_user)
    next_user = (next_user + 1) % users
    return wrk.format(nil, nil, nil, (body:gsub("{user}", name)))
  end
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
