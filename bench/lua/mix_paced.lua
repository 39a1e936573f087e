-- The mix (mix.lua) at an offered rate: each connection sends one request, then waits
-- BENCH_MIX_INTERVAL_MS (jittered, 0.5x to 1.5x) before the next, so C connections offer about
-- C * 1000 / interval req/s. The soak (python -m bench.soak) sets the interval from a measured capacity.
dofile(os.getenv("BENCH_LUA_DIR") .. "/mix.lua")
local interval = tonumber(os.getenv("BENCH_MIX_INTERVAL_MS") or "100")

function delay()
  return math.floor(interval * (0.5 + math.random()))
end
