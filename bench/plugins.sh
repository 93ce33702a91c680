#!/usr/bin/env bash
# The cost of Proxy-Wasm plugins, measured side by side in one run on one
# gateway: the same backend behind a route without plugin, with a no-op
# plugin, and with a header-rewriting plugin (reads pseudo-headers, sets two
# request headers, removes one, sets two response headers). Loopback only.
#
#   bench/plugins.sh
#   WORKERS=2 WRK_THREADS=2 bench/plugins.sh
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS=${WORKERS:-1}
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
WRK_THREADS=${WRK_THREADS:-1}
BACKEND_PORT=18910 GATEWAY_PORT=18911 ADMIN_PORT=18912

command -v wrk >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk curl >/dev/null; }
rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
cargo build --release --quiet -p wasmgress
cargo build --release --quiet --target wasm32-wasip1 --manifest-path tests/plugins/Cargo.toml --target-dir tests/plugins/target
BIN=target/release/wasmgress
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

mkdir -p "$WORK/plugins" "$WORK/manifests"
cp tests/plugins/target/wasm32-wasip1/release/test_noop.wasm "$WORK/plugins/noop.wasm"
cp tests/plugins/target/wasm32-wasip1/release/test_headers.wasm "$WORK/plugins/headers.wasm"
ingress() { # NAME HOST [PLUGINS]
  local annotations=""
  [ -n "${3:-}" ] && annotations="  annotations:
    wasmgress.io/plugins: |
$(echo "$3" | sed 's/^/      /')"
  cat <<YAML
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: $1
  namespace: default
$annotations
spec:
  ingressClassName: wasmgress
  rules:
  - host: $2
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: bench, port: {number: 80}}}}
YAML
}
{
  cat <<YAML
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
  ingress plain plain.local
  ingress noop noop.local "- name: noop"
  ingress headers headers.local '- name: headers
  config: {request_header: "x-env=bench", response_header: "x-frame-options=DENY"}'
} > "$WORK/manifests/bench.yaml"

$BIN --workers "$WORKERS" echo --listen 127.0.0.1:$BACKEND_PORT --name bench & PIDS+=($!)
WASMGRESS_LOG=warn $BIN --workers "$WORKERS" run --manifests "$WORK/manifests" --plugins "$WORK/plugins" \
  --http-listen 127.0.0.1:$GATEWAY_PORT --admin-listen 127.0.0.1:$ADMIN_PORT & GW=$!; PIDS+=($GW)
for host in plain noop headers; do
  for _ in $(seq 100); do curl -fs -o /dev/null -H "Host: $host.local" "http://127.0.0.1:$GATEWAY_PORT/" && break; sleep 0.1; done
done
problems=$(curl -s "http://127.0.0.1:$ADMIN_PORT/diagnostics")
[ -z "$problems" ] || { echo "configuration problems: $problems" >&2; exit 1; }

to_us() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us/,"",v); print v} else if (v ~ /ms$/) {sub(/ms/,"",v); print v*1000} else {sub(/s/,"",v); print v*1000000} }'; }
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
run() {
  local out; out=$(wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Host: $1.local" "http://127.0.0.1:$GATEWAY_PORT/")
  echo "$out" | grep -qE "Non-2xx|Socket errors" && echo "  wrk errors for $1: $(echo "$out" | grep -E 'Non-2xx|Socket errors')" >&2
  echo "$(echo "$out" | awk '/Requests\/sec/{print $2}') $(to_us "$(echo "$out" | awk '$1=="50%"{print $2}')") $(to_us "$(echo "$out" | awk '$1=="99%"{print $2}')")"
}
TARGETS=(plain noop headers)
for t in "${TARGETS[@]}"; do wrk -t1 -c"$CONNECTIONS" -d2s -H "Host: $t.local" "http://127.0.0.1:$GATEWAY_PORT/" >/dev/null; done
for round in $(seq "$ROUNDS"); do for t in "${TARGETS[@]}"; do run "$t" >> "$WORK/$t.txt"; done; done

echo "wrk: $CONNECTIONS connections, $DURATION x $ROUNDS rounds; gateway: $WORKERS worker(s); $(nproc) CPUs; medians"
printf '%-8s %12s %10s %10s %16s %14s\n' route "requests/s" "p50 (us)" "p99 (us)" "vs plain rps" "CPU us/request"
declare -A RPS
for t in "${TARGETS[@]}"; do
  RPS[$t]=$(awk '{print $1}' "$WORK/$t.txt" | median)
  p50=$(awk '{print $2}' "$WORK/$t.txt" | median); p99=$(awk '{print $3}' "$WORK/$t.txt" | median)
  # Added cost per request: the difference of the per-request service time at saturation.
  added=$(awk -v a="${RPS[$t]}" -v b="${RPS[plain]}" -v w="$WORKERS" 'BEGIN{printf "%+.2f", (1e6/a - 1e6/b) * w}')
  ratio=$(awk -v a="${RPS[$t]}" -v b="${RPS[plain]}" 'BEGIN{printf "%.1f%%", (a/b - 1) * 100}')
  printf '%-8s %12s %10s %10s %16s %14s\n' "$t" "${RPS[$t]}" "$p50" "$p99" "$ratio" "$added"
done
echo "gateway RSS with both plugin routes warm: $(( $(awk '/VmRSS/{print $2}' /proc/$GW/status) / 1024 )) MiB"
