-- POST /api/user/{id}/trades: buy 1 of a random symbol from BENCH_SYMBOLS, uniformly random users.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local bench = require("common")

function init(args)
  bench.seed()
end

function request()
  return bench.trade()
end
