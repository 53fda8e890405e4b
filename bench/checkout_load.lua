-- wrk script for bench/checkout.py: each wrk thread is one window terminal with its own token,
-- posting one QR checkout per student of its list, each with a fresh Idempotency-Key.
-- The list file has one "terminal-token<TAB>qr-token" line per checkout; thread i takes the
-- lines i, i+T, i+2T, ... (T = number of threads). The third argument is the run's own tag: the
-- keys of the warm-up run and the measured run must not meet (the same key for another student
-- is refused with 422 idempotency_key_reused).
local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  run = args[3] or "run"
  token, cards = nil, {}
  local n = 0
  for line in io.lines(path) do
    if n % nthreads == id - 1 then
      local t, q = line:match("([^\t]+)\t([^\t]+)")
      token = t
      table.insert(cards, q)
    end
    n = n + 1
  end
  next_card, sent, statuses = 1, 0, {}
end

function request()
  local card = cards[next_card]
  if card == nil then
    -- Every student of this terminal was served: keep the connection busy with a harmless
    -- request that is counted apart (status 409, already served) rather than stopping early.
    card = cards[1]
  end
  next_card = next_card + 1
  sent = sent + 1
  local headers = {
    ["Authorization"] = "Terminal " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("wrk-%s-%d-%d", run, id, sent),
  }
  return wrk.format("POST", "/api/v1/consumption/checkouts/", headers, '{"method":"qr","qr_token":"' .. card .. '"}')
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, n in pairs(s) do
      totals[code] = (totals[code] or 0) + n
    end
  end
  for code, n in pairs(totals) do
    io.write(string.format("status %d %d\n", code, n))
  end
  io.write(string.format("latency_us p50 %d p95 %d p99 %d max %d\n",
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
  io.write(string.format("duration_us %d requests %d\n", summary.duration, summary.requests))
end
