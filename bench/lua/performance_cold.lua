-- GET /api/user/{id}/performance?period=1Y, user ids uniform over 1..BENCH_USERS (run against
-- PERFORMANCE_CACHE=false: every answer computed from PostgreSQL).
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("common")
bench.count_responses()
local requests, pick

function init(args)
  bench.seed()
  pick = bench.uniform(bench.users)
  requests = bench.performance_requests()
end

function request()
  return requests[pick()]
end
