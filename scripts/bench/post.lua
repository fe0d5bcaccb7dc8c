-- POST without an Idempotency-Key (passthrough).
wrk.method = "POST"
wrk.body = '{"amount":100,"currency":"EUR"}'
wrk.headers["Content-Type"] = "application/json"
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
