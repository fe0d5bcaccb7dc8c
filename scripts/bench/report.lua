-- Shared wrk reporting: prints one machine-readable line that bench.sh turns into the table.
function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT rps=%.1f p50_us=%d p99_us=%d requests=%d errors=%d non2xx=%d\n",
    summary.requests / seconds, latency:percentile(50), latency:percentile(99), summary.requests, errors, summary.errors.status))
end
