-- GET /api/market-data with Accept-Encoding: gzip.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("common")

function init(args)
  bench.seed()
end

function request()
  return bench.market_data()
end
