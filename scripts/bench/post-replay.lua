-- POST replays: cycles through a fixed set of keys that bench.sh completed beforehand (replay-0 … replay-255).
local counter = 0
function request()
  counter = counter + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Idempotency-Key"] = '"replay-' .. (counter % 256) .. '"'},
    '{"amount":100,"currency":"EUR"}')
end
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
