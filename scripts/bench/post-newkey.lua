-- POST with a unique Idempotency-Key per request: every request is new and is forwarded once.
-- Keys combine a per-thread random prefix with a counter, so runs and threads never collide.
local counter = 0
local prefix = ""
function setup(thread)
  thread:set("id", tostring(math.random(1, 1e9)) .. "-" .. tostring(os.time()))
end
function init(args)
  prefix = id or tostring(math.random(1, 1e9))
end
function request()
  counter = counter + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Idempotency-Key"] = '"' .. prefix .. "-" .. counter .. '"'},
    '{"amount":100,"currency":"EUR"}')
end
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
