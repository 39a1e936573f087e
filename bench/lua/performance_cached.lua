-- GET /api/user/{id}/performance?period=1Y, user ids Zipf-distributed (BENCH_ZIPF_S, default 1.1) over
-- 1..BENCH_USERS: answers kept until the user's history changes.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("common")
bench.count_responses()
local requests, pick

function init(args)
  bench.seed()
  pick = bench.zipf(bench.users, tonumber(bench.env("BENCH_ZIPF_S", "1.1")))
  requests = bench.performance_requests()
end

function request()
  return requests[pick()]
end
