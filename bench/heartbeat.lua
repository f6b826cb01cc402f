-- wrk script: POST /heartbeat spread over BENCH_SERVICES names (bench-0 .. bench-N-1),
-- each wrk thread starting at its own offset. Prints one JSON line of results at the end.
local services = tonumber(os.getenv("BENCH_SERVICES") or "1000")
local prefix = os.getenv("BENCH_PREFIX") or "bench-"
local threads = {}
local counter = 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

-- BENCH_KEYS_FILE: API keys, one per line, sent in turn as Bearer tokens.
-- BENCH_CLOSE=1: a new connection per request (Connection: close), as curl from cron.
local keys = {}
local keys_file = os.getenv("BENCH_KEYS_FILE")
if keys_file then
  for line in io.lines(keys_file) do
    if #line > 0 then table.insert(keys, "Bearer " .. line) end
  end
end
local close = os.getenv("BENCH_CLOSE") == "1"

function init(args)
  counter = (id or 1) * 7919
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if close then wrk.headers["Connection"] = "close" end
end

function request()
  counter = counter + 1
  local body = '{"heartbeat_name":"' .. prefix .. (counter % services) .. '","status":"UP"}'
  if #keys > 0 then
    wrk.headers["Authorization"] = keys[(counter % #keys) + 1]
  end
  return wrk.format(nil, "/heartbeat", nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,'
      .. '"mean_us":%.1f,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
