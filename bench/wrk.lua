-- wrk script: POST the JSON bodies of a file (one per line) in turn, or GET when the file
-- is "-"; prints one JSON line with the summary and the latency percentiles (µs).
--   wrk -t1 -c16 -d10s -s bench/wrk.lua URL -- BODIES_FILE
local bodies = {}
local i = 0
local key = os.getenv("BENCH_KEY") or ""
local get = false

function init(args)
  if args[1] == nil or args[1] == "-" then
    get = true
    return
  end
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    bodies[#bodies + 1] = line
  end
  f:close()
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8), 16) or 0))
  i = math.random(#bodies)
end

function request()
  if get then
    return wrk.format("GET")
  end
  i = i % #bodies + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
                                  ["Authorization"] = "Bearer " .. key}, bodies[i])
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
