-- wrk script: POST one body per request from a file (one JSON body per line), then print the
-- summary as one machine-readable line.
--
--   wrk -t1 -c16 -d10s --timeout 10s -s wrk_post.lua http://127.0.0.1:PORT -- BODIES NTHREADS OFFSET
--
-- Every request is formatted once in init() (not per request), so wrk spends its time on the
-- sockets. Thread t of n takes the lines i with i % n == t, starting OFFSET lines in, and wraps.

local next_thread = 0

function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
end

local requests = {}
local count = 0
local index = 1

function init(args)
  local path = args[1]
  local nthreads = tonumber(args[2] or "1")
  local offset = tonumber(args[3] or "0")
  local mine = tonumber(tid or 0)
  local headers = { ["Content-Type"] = "application/json" }
  local line_no = 0
  for line in io.lines(path) do
    if line ~= "" then
      if line_no % nthreads == mine then
        count = count + 1
        requests[count] = wrk.format("POST", "/api/events", headers, line)
      end
      line_no = line_no + 1
    end
  end
  if count == 0 then
    error("no request bodies in " .. path)
  end
  index = (math.floor(offset / nthreads) % count) + 1
end

function request()
  local r = requests[index]
  index = index + 1
  if index > count then
    index = 1
  end
  return r
end

function done(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
