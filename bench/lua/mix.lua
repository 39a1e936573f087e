-- 80% portfolio (Zipf users), 10% market data (gzip), 5% static data (gzip), 5% trades.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("common")
bench.count_responses()
local portfolios, pick

function init(args)
  bench.seed()
  pick = bench.zipf(bench.users, tonumber(bench.env("BENCH_ZIPF_S", "1.1")))
  portfolios = bench.portfolio_requests()
end

function request()
  local r = math.random()
  if r < 0.80 then
    return portfolios[pick()]
  elseif r < 0.90 then
    return bench.market_data()
  elseif r < 0.95 then
    return bench.static_data()
  end
  return bench.trade()
end
