#!/usr/bin/env bash
# Throughput, latency and memory of wasmgress beside two baselines measured in
# the same run: the backend reached directly, and nginx (Debian's package) as an
# equivalent reverse proxy with upstream keep-alive. Loopback only, bounded.
#
#   bench/proxy.sh                 # defaults below
#   WORKERS=2 CONNECTIONS=128 DURATION=20s bench/proxy.sh
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS=${WORKERS:-1}          # worker threads of each proxy (nginx worker_processes)
CONNECTIONS=${CONNECTIONS:-64} # wrk keep-alive connections
DURATION=${DURATION:-5s}       # per measurement
ROUNDS=${ROUNDS:-3}            # targets are measured in turn, ROUNDS times; medians are reported
WRK_THREADS=${WRK_THREADS:-1}
BACKEND_PORT=18900 WASMGRESS_PORT=18901 NGINX_PORT=18902 ADMIN_PORT=18903

source bench/common.sh
need wrk wrk
need nginx nginx
need curl curl

cargo build --release --quiet -p wasmgress
BIN=target/release/wasmgress
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

rss_kb() { local total=0; for p in "$@"; do total=$((total + $(awk '/VmRSS/{print $2}' /proc/"$p"/status))); done; echo "$total"; }

# The backend: wasmgress's echo server, shared by all three configurations.
$BIN --workers "$WORKERS" echo --listen 127.0.0.1:$BACKEND_PORT --name bench & PIDS+=($!)
wait_http "http://127.0.0.1:$BACKEND_PORT/" bench.local

mkdir -p "$WORK/manifests"
{ backend_service $BACKEND_PORT; bench_ingress bench bench.local; } > "$WORK/manifests/bench.yaml"
WASMGRESS_LOG=warn $BIN --workers "$WORKERS" run --manifests "$WORK/manifests" \
  --http-listen 127.0.0.1:$WASMGRESS_PORT --admin-listen 127.0.0.1:$ADMIN_PORT --https-listen off --access-log off & WG_PID=$!; PIDS+=($WG_PID)
wait_http "http://127.0.0.1:$WASMGRESS_PORT/" bench.local

mkdir -p "$WORK/nginx/logs"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes $WORKERS;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream bench { server 127.0.0.1:$BACKEND_PORT; keepalive 128; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://bench;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Real-IP \$remote_addr;
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$host;
      proxy_set_header X-Forwarded-Port \$server_port;
    }
  }
}
CONF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" & NG_PID=$!; PIDS+=($NG_PID)
wait_http "http://127.0.0.1:$NGINX_PORT/" bench.local

declare -A URL=([direct]="http://127.0.0.1:$BACKEND_PORT/" [wasmgress]="http://127.0.0.1:$WASMGRESS_PORT/" [nginx]="http://127.0.0.1:$NGINX_PORT/")
TARGETS=(direct wasmgress nginx)
for t in "${TARGETS[@]}"; do wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d2s -H 'Host: bench.local' "${URL[$t]}" >/dev/null; done  # warm-up
echo "wrk: $CONNECTIONS connections, $WRK_THREADS thread(s), $DURATION x $ROUNDS rounds; proxies: $WORKERS worker(s); $(nproc) CPUs"
for t in "${TARGETS[@]}"; do : > "$WORK/$t.txt"; done
for round in $(seq "$ROUNDS"); do
  for t in "${TARGETS[@]}"; do wrk_once "${URL[$t]}" bench.local >> "$WORK/$t.txt"; done
done
nginx_pids=("$NG_PID" $(pgrep -P "$NG_PID" || true))
declare -A RSS=([direct]="-" [wasmgress]="$(( $(rss_kb "$WG_PID") / 1024 )) MiB" [nginx]="$(( $(rss_kb "${nginx_pids[@]}") / 1024 )) MiB")
declare -A RPS P50 P99
for t in "${TARGETS[@]}"; do
  RPS[$t]=$(awk '{print $1}' "$WORK/$t.txt" | median)
  P50[$t]=$(awk '{print $2}' "$WORK/$t.txt" | median)
  P99[$t]=$(awk '{print $3}' "$WORK/$t.txt" | median)
done

printf '\n%-10s %12s %10s %10s %10s\n' target "requests/s" "p50 (us)" "p99 (us)" "proxy RSS"
for t in "${TARGETS[@]}"; do
  printf '%-10s %12s %10s %10s %10s\n' "$t" "${RPS[$t]}" "${P50[$t]}" "${P99[$t]}" "${RSS[$t]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "-" }'; }
echo
echo "wasmgress/nginx:  requests/s $(ratio "${RPS[wasmgress]}" "${RPS[nginx]}")   p99 $(ratio "${P99[wasmgress]}" "${P99[nginx]}")"
echo "wasmgress/direct: requests/s $(ratio "${RPS[wasmgress]}" "${RPS[direct]}")   p99 $(ratio "${P99[wasmgress]}" "${P99[direct]}")"
