-- GET /api/user/{id}/portfolio, user ids uniform over 1..BENCH_USERS (run against PORTFOLIO_CACHE=false).
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("common")
bench.count_responses()
local requests, pick

function init(args)
  bench.seed()
  pick = bench.uniform(bench.users)
  requests = bench.portfolio_requests()
end

function request()
  return requests[pick()]
end
