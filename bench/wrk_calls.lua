-- wrk script: send the calls of a file in turn, one per line: METHOD <tab> PATH <tab>
-- X-Actor-Id (or -) <tab> JSON body (or -); prints one JSON summary line (latencies in µs).
-- "@RUN@" in a body becomes a token of this run, so that a body sent again in a later run
-- (an invitation's email) is new to the server, not a 409.
--   wrk -t1 -c1 -d10s -s bench/wrk_calls.lua URL -- CALLS_FILE
local calls = {}
local i = 0
local key = os.getenv("BENCH_KEY") or ""
local run = ""

function init(args)
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    local method, path, actor, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    calls[#calls + 1] = {method, path, actor, body}
  end
  f:close()
  local seed = tonumber(tostring({}):sub(8), 16) or 0
  math.randomseed(os.time() + seed)
  i = math.random(#calls)
  run = string.format("%x%x", os.time(), math.random(1, 2^30))
end

function request()
  i = i % #calls + 1
  local c = calls[i]
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}
  if c[3] ~= "-" then
    headers["X-Actor-Id"] = c[3]
  end
  local body = nil
  if c[4] ~= "-" then
    body = c[4]:gsub("@RUN@", run)
  end
  return wrk.format(c[1], c[2], headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'JSON{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"p50":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max,
    latency.mean))
end
