-- GET passthrough.
wrk.method = "GET"
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
