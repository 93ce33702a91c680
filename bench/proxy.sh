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

need() { command -v "$1" >/dev/null || { [ "${APT_UPDATED:-}" ] || { apt-get update -qq; APT_UPDATED=1; }; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need wrk wrk
need nginx nginx
need curl curl

cargo build --release --quiet -p wasmgress
BIN=target/release/wasmgress
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

wait_http() { for _ in $(seq 100); do curl -fs -o /dev/null -H 'Host: bench.local' "$1" && return 0; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }
rss_kb() { local total=0; for p in "$@"; do total=$((total + $(awk '/VmRSS/{print $2}' /proc/"$p"/status))); done; echo "$total"; }

# The backend: wasmgress's echo server, shared by all three configurations.
$BIN --workers "$WORKERS" echo --listen 127.0.0.1:$BACKEND_PORT --name bench & PIDS+=($!)
wait_http "http://127.0.0.1:$BACKEND_PORT/"

mkdir -p "$WORK/manifests"
cat > "$WORK/manifests/bench.yaml" <<YAML
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: bench, namespace: default}
spec:
  ingressClassName: wasmgress
  rules:
  - host: bench.local
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: bench, port: {number: 80}}}}
---
apiVersion: v1
kind: Service
metadata: {name: bench, namespace: default}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: bench, namespace: default, labels: {kubernetes.io/service-name: bench}}
addressType: IPv4
ports: [{name: http, port: $BACKEND_PORT}]
endpoints: [{addresses: ["127.0.0.1"]}]
YAML
WASMGRESS_LOG=warn $BIN --workers "$WORKERS" run --manifests "$WORK/manifests" \
  --http-listen 127.0.0.1:$WASMGRESS_PORT --admin-listen 127.0.0.1:$ADMIN_PORT & WG_PID=$!; PIDS+=($WG_PID)
wait_http "http://127.0.0.1:$WASMGRESS_PORT/"

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
wait_http "http://127.0.0.1:$NGINX_PORT/"

# One wrk run: prints "rps p50 p99".
wrk_once() {
  local out; out=$(wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H 'Host: bench.local' "$1")
  local errors; errors=$(echo "$out" | awk '/Non-2xx|Socket errors/{print}')
  [ -z "$errors" ] || echo "  wrk reported for $1: $errors" >&2
  echo "$(echo "$out" | awk '/Requests\/sec/{print $2}') $(to_us "$(echo "$out" | awk '$1=="50%"{print $2}')") $(to_us "$(echo "$out" | awk '$1=="99%"{print $2}')")"
}
to_us() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us/,"",v); print v} else if (v ~ /ms$/) {sub(/ms/,"",v); print v*1000} else {sub(/s/,"",v); print v*1000000} }'; }
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

declare -A URL=([direct]="http://127.0.0.1:$BACKEND_PORT/" [wasmgress]="http://127.0.0.1:$WASMGRESS_PORT/" [nginx]="http://127.0.0.1:$NGINX_PORT/")
TARGETS=(direct wasmgress nginx)
for t in "${TARGETS[@]}"; do wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d2s -H 'Host: bench.local' "${URL[$t]}" >/dev/null; done  # warm-up
echo "wrk: $CONNECTIONS connections, $WRK_THREADS thread(s), $DURATION x $ROUNDS rounds; proxies: $WORKERS worker(s); $(nproc) CPUs"
for t in "${TARGETS[@]}"; do : > "$WORK/$t.txt"; done
for round in $(seq "$ROUNDS"); do
  for t in "${TARGETS[@]}"; do wrk_once "${URL[$t]}" >> "$WORK/$t.txt"; done
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
