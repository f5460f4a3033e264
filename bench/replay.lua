-- wrk script of bench/callback.sh: replays a file of fixed-length raw HTTP requests, one
-- record per request, so every request is different (own MsgId, own signature) while wrk
-- does no more per request than one buffered read.
--
--   wrk ... -s replay.lua URL -- FILE RECORD_LEN FIRST_RECORD RECORD_COUNT
--
-- Records [FIRST_RECORD, FIRST_RECORD + RECORD_COUNT) are sent in order; past the end the
-- script starts over at FIRST_RECORD and counts the wrap (a wrapped product run re-sends
-- MsgIds, so bench/callback.sh rejects it). Use one wrk thread (-t1): the records are read
-- by that thread's Lua state.

local file, record_len, first, count = nil, 0, 0, 0
local sent = 0
wraps = 0 -- global: done() reads it through thread:get

function init(args)
  record_len = tonumber(args[2])
  first = tonumber(args[3])
  count = tonumber(args[4])
  file = assert(io.open(args[1], "rb"))
  file:setvbuf("full", 1024 * 1024)
  file:seek("set", first * record_len)
end

function request()
  if sent == count then
    sent = 0
    wraps = wraps + 1
    file:seek("set", first * record_len)
  end
  sent = sent + 1
  return file:read(record_len)
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local wrapped = 0
  for _, t in ipairs(threads) do
    wrapped = wrapped + t:get("wraps")
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "connect_errors=%d read_errors=%d write_errors=%d status_errors=%d timeouts=%d wraps=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout, wrapped))
end
