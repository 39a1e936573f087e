-- POST /api/generate-report at an offered rate: each connection sends one request, then waits
-- BENCH_REPORT_INTERVAL_MS (jittered) before the next, so 64 connections offer 64000/interval req/s.
-- A latency objective is a statement about a load the service is not saturated by; a closed loop at
-- saturation (report_enqueue) measures its queue instead (Little's law: p50 ~ connections / rate).
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("common")
local interval = tonumber(bench.env("BENCH_REPORT_INTERVAL_MS", "250"))

function init(args)
  bench.seed()
  bench.count_responses()
end

function delay()
  return math.floor(interval * (0.5 + math.random()))
end

function request()
  return bench.report()
end
