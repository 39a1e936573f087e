-- Shared by every scenario (bench/lua/*.lua): per-thread seeding, user-id samplers, request
-- builders, the optional bearer tokens, per-thread status and X-Cache counters, and the one JSON
-- line that `python -m bench` reads from done().
--
-- Settings come from the environment that `python -m bench` gives wrk:
--   BENCH_USERS    number of demo users (ids 1..N)           BENCH_ZIPF_S   Zipf exponent
--   BENCH_SEED     base PRNG seed (each thread adds its id)   BENCH_SYMBOLS  file, one symbol a line
--   BENCH_TOKENS   optional file of "<user_id> <token>" lines; each request then carries
--                  "Authorization: Bearer <token>" for its user (the auth hook; unset = no header)
local M = {}

local function env(name, default)
  local value = os.getenv(name)
  if value == nil or value == "" then
    return default
  end
  return value
end

M.env = env
M.users = tonumber(env("BENCH_USERS", "10000"))

-- Counters live as globals of each thread's Lua state, so done() can read them with thread:get().
hits, misses, s2xx, s3xx, s4xx, s5xx, bad_status = 0, 0, 0, 0, 0, 0, 0
local COUNTERS = { "hits", "misses", "s2xx", "s3xx", "s4xx", "s5xx" }

function M.read_lines(path)
  local lines = {}
  if path == nil then
    return lines
  end
  local file = assert(io.open(path, "r"))
  for line in file:lines() do
    if line ~= "" then
      lines[#lines + 1] = line
    end
  end
  file:close()
  return lines
end

local tokens = nil

local function token_for(user)
  if tokens == nil then
    tokens = {}
    for _, line in ipairs(M.read_lines(env("BENCH_TOKENS", nil))) do
      local id, token = line:match("^(%S+)%s+(%S+)$")
      if id ~= nil then
        tokens[tonumber(id) or id] = token
      end
    end
  end
  return tokens[user]
end

-- Each thread draws from its own PRNG stream (wrk gives every thread its own Lua state).
function M.seed()
  math.randomseed(tonumber(env("BENCH_SEED", "20240101")) + (thread_id or 0))
end

-- Zipf over 1..n with exponent s: the CDF is built once, then sampled by binary search.
function M.zipf(n, s)
  local cdf, total = {}, 0
  for k = 1, n do
    total = total + k ^ -s
    cdf[k] = total
  end
  for k = 1, n do
    cdf[k] = cdf[k] / total
  end
  return function()
    local u, lo, hi = math.random(), 1, n
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      if cdf[mid] < u then
        lo = mid + 1
      else
        hi = mid
      end
    end
    return lo
  end
end

function M.uniform(n)
  return function()
    return math.random(n)
  end
end

-- One raw HTTP/1.1 request; `user` picks the bearer token when BENCH_TOKENS is set.
function M.request(method, path, user, extra, body)
  local headers = {}
  for name, value in pairs(extra or {}) do
    headers[name] = value
  end
  local token = token_for(user)
  if token ~= nil then
    headers["Authorization"] = "Bearer " .. token
  end
  return wrk.format(method, path, headers, body)
end

-- Every user's portfolio request, built once per thread.
function M.portfolio_requests()
  local requests = {}
  for user = 1, M.users do
    requests[user] = M.request("GET", "/api/user/" .. user .. "/portfolio", user)
  end
  return requests
end

-- Every user's performance request over a year, built once per thread.
function M.performance_requests()
  local requests = {}
  for user = 1, M.users do
    requests[user] = M.request("GET", "/api/user/" .. user .. "/performance?period=1Y", user)
  end
  return requests
end

local GZIP = { ["Accept-Encoding"] = "gzip" }
local JSON = { ["Content-Type"] = "application/json" }

function M.market_data()
  return M.request("GET", "/api/market-data", math.random(M.users), GZIP)
end

function M.static_data()
  return M.request("GET", "/api/static-data/instruments", math.random(M.users), GZIP)
end

-- A buy of one unit of a random symbol from BENCH_SYMBOLS by a uniformly random user.
local symbols = nil
function M.trade()
  symbols = symbols or M.read_lines(env("BENCH_SYMBOLS", nil))
  local user = math.random(M.users)
  local symbol = symbols[math.random(#symbols)]
  local body = '{"symbol":"' .. symbol .. '","side":"buy","quantity":"1","price":"100.5"}'
  return M.request("POST", "/api/user/" .. user .. "/trades", user, JSON, body)
end

-- A report request by a uniformly random user for their own portfolio (POST /api/generate-report).
function M.report()
  local user = math.random(M.users)
  return M.request("POST", "/api/generate-report?user_id=" .. user, user)
end

-- wrk's entry points shared by all scenarios (a scenario defines init() and request()).
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("thread_id", #threads)
end

-- Per-response counting, installed by the scenarios that need it (M.count_responses()): with a
-- response() defined, wrk hands every body to Lua, which costs wrk a copy of each (300 KB for
-- market data); without it the status errors still come from wrk's own counters.
local function count_response(status, headers, body)
  if status < 300 then
    s2xx = s2xx + 1
  elseif status < 400 then
    s3xx = s3xx + 1
  elseif status < 500 then
    s4xx, bad_status = s4xx + 1, status
  else
    s5xx, bad_status = s5xx + 1, status
  end
  local cache = headers["x-cache"] or headers["X-Cache"]
  if cache == "hit" then
    hits = hits + 1
  elseif cache == "miss" then
    misses = misses + 1
  end
end

function M.count_responses()
  response = count_response
end

function done(summary, latency, requests)
  local totals = { bad_status = 0 }
  for _, name in ipairs(COUNTERS) do
    totals[name] = 0
  end
  for _, thread in ipairs(threads) do
    for _, name in ipairs(COUNTERS) do
      totals[name] = totals[name] + (tonumber(thread:get(name)) or 0)
    end
    totals.bad_status = math.max(totals.bad_status, tonumber(thread:get("bad_status")) or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},'
      .. '"counters":{"hits":%d,"misses":%d,"s2xx":%d,"s3xx":%d,"s4xx":%d,"s5xx":%d,"bad_status":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    totals.hits, totals.misses, totals.s2xx, totals.s3xx, totals.s4xx, totals.s5xx, totals.bad_status
  ))
end

return M
