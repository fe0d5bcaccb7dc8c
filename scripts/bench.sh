#!/usr/bin/env bash
# Benchmark: the gateway against nginx as a reverse proxy, on this machine, in the same run.
#
#   scripts/bench.sh            # 10 s per run
#   DURATION=5s scripts/bench.sh
#
# Starts nginx (Debian package) as the backend (`return 200` with a small JSON body) and a second nginx as a reverse
# proxy to it (upstream keepalive on), each with its own workers, as the gateway and its backend are separate
# processes; then the gateway (release build) in front of the same backend,
# and runs wrk against each: GET and POST at -t2 -c64 and -t1 -c1; then idempotent POSTs through the gateway
# (a new key per request, and replays of completed keys), and the new-key requests through nginx-proxy as well
# (the same wrk script, whose per-request Lua costs wrk CPU that a fixed request does not; nginx ignores the key).
# Prints req/s, p50, p99 and gateway / nginx-proxy ratios.
# Not run in CI. Needs: apt-get install -y nginx wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export BENCH_DIR="$ROOT/scripts/bench"
DURATION=${DURATION:-10s}
BACKEND_PORT=${BACKEND_PORT:-18081}
PROXY_PORT=${PROXY_PORT:-18082}
GATEWAY_PORT=${GATEWAY_PORT:-18083}
WORK=$(mktemp -d /tmp/gateway-bench.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

command -v nginx >/dev/null && command -v wrk >/dev/null || {
  echo "needs nginx and wrk: apt-get install -y nginx wrk" >&2
  exit 1
}

echo "== building (release)"
swift build -c release --product idempotency-gateway 2>&1 | tail -1
GATEWAY="$(swift build -c release --show-bin-path)/idempotency-gateway"

# Two nginx instances: in one instance a worker could serve a proxied request and its backend request itself,
# which the gateway, a process of its own, never can.
mkdir -p "$WORK/backend/logs" "$WORK/proxy/logs"
# nginx_conf NAME BLOCK: an nginx configuration under $WORK/NAME whose http block holds BLOCK.
nginx_conf() {
  cat >"$WORK/$1/nginx.conf" <<CONF
worker_processes auto;
pid $WORK/$1/nginx.pid;
error_log $WORK/$1/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
$2
}
CONF
}
nginx_conf backend "  server {
    listen 127.0.0.1:$BACKEND_PORT;
    location / { default_type application/json; return 200 '{\"id\":\"ord_123\",\"status\":\"created\"}'; }
  }"
nginx_conf proxy "  upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 128; }
  server {
    listen 127.0.0.1:$PROXY_PORT;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }"
nginx -c "$WORK/backend/nginx.conf" -p "$WORK/backend" -g 'daemon off;' &
PIDS+=($!)
nginx -c "$WORK/proxy/nginx.conf" -p "$WORK/proxy" -g 'daemon off;' &
PIDS+=($!)

"$GATEWAY" serve --listen "127.0.0.1:$GATEWAY_PORT" --admin-listen off --upstream "http://127.0.0.1:$BACKEND_PORT" \
  --store "$WORK/bench.sqlite" --log-level warning >"$WORK/gateway.log" 2>&1 &
PIDS+=($!)

for port in $BACKEND_PORT $PROXY_PORT $GATEWAY_PORT; do
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break; sleep 0.1; done
done

# Complete the replay keys once.
for i in $(seq 0 255); do
  curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' -H "Idempotency-Key: \"replay-$i\"" \
    --data '{"amount":100,"currency":"EUR"}' "http://127.0.0.1:$GATEWAY_PORT/orders"
done

declare -A RPS P50 P99 ERR
run() { # name script threads connections port
  local name=$1 script=$2 threads=$3 conns=$4 port=$5 line
  line=$(wrk -t"$threads" -c"$conns" -d"$DURATION" --latency -s "$BENCH_DIR/$script" "http://127.0.0.1:$port/orders" | grep '^RESULT')
  RPS[$name]=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$line")
  P50[$name]=$(sed -E 's/.*p50_us=([0-9]+).*/\1/' <<<"$line")
  P99[$name]=$(sed -E 's/.*p99_us=([0-9]+).*/\1/' <<<"$line")
  ERR[$name]=$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$line")
  printf '%-34s %12s req/s  p50 %7s us  p99 %7s us  errors %s\n' "$name" "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" "${ERR[$name]}"
}

echo "== wrk, $DURATION per run ($(nproc) cores, shared with wrk and nginx)"
for method in get post; do
  for shape in "2 64" "1 1"; do
    set -- $shape
    for target in backend:$BACKEND_PORT nginx-proxy:$PROXY_PORT gateway:$GATEWAY_PORT; do
      run "$method c$2 ${target%%:*}" "$method.lua" "$1" "$2" "${target##*:}"
    done
  done
done
run "post-newkey c64 nginx-proxy" post-newkey.lua 2 64 $PROXY_PORT
run "post-newkey c64 gateway" post-newkey.lua 2 64 $GATEWAY_PORT
run "post-replay c64 gateway" post-replay.lua 2 64 $GATEWAY_PORT
run "post-newkey c1 gateway" post-newkey.lua 1 1 $GATEWAY_PORT
run "post-replay c1 gateway" post-replay.lua 1 1 $GATEWAY_PORT

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
echo
echo "== ratios (gateway / nginx-proxy, same run)"
printf '%-44s %s\n' "GET throughput, 64 connections" "$(ratio "${RPS[get c64 gateway]}" "${RPS[get c64 nginx-proxy]}")   (target >= 1.0x)"
printf '%-44s %s\n' "POST throughput, 64 connections" "$(ratio "${RPS[post c64 gateway]}" "${RPS[post c64 nginx-proxy]}")   (target >= 1.0x)"
for m in get post; do
  b=${P50[$m c1 backend]} n=${P50[$m c1 nginx-proxy]} g=${P50[$m c1 gateway]}
  printf '%-44s gateway %s us, nginx-proxy %s us   (target: gateway <= nginx-proxy)\n' \
    "${m^^} p50 added latency, 1 connection" "$((g - b))" "$((n - b))"
done
printf '%-44s %s\n' "new-key POST / nginx-proxy POST, c64" "$(ratio "${RPS[post-newkey c64 gateway]}" "${RPS[post c64 nginx-proxy]}")   (target >= 0.7x)"
printf '%-44s %s\n' "  the same, both with the new-key wrk script" "$(ratio "${RPS[post-newkey c64 gateway]}" "${RPS[post-newkey c64 nginx-proxy]}")"
printf '%-44s %s\n' "replay POST / nginx-proxy POST, c64" "$(ratio "${RPS[post-replay c64 gateway]}" "${RPS[post c64 nginx-proxy]}")   (target >= 1.5x)"
if [ -n "${STORE_BENCH:-1}" ]; then
  echo
  echo "== store micro-benchmark"
  "$GATEWAY" bench-store --path "$WORK/store-bench.sqlite"
fi
