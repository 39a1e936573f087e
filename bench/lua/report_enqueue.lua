-- POST /api/generate-report as fast as 64 connections can: the gateway's saturation throughput.
-- No worker runs during the bench, so only the request (row insert, broker send, 202) is measured.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("common")

function init(args)
  bench.seed()
  bench.count_responses()
end

function request()
  return bench.report()
end
