#!/usr/bin/env bash
# The cost of Proxy-Wasm plugins, measured side by side in one run on one
# gateway: the same backend behind a route without plugin, with a no-op
# plugin, with a header-rewriting test plugin written with the plain
# proxy-wasm crate (reads pseudo-headers, sets two request headers, removes
# one, sets two response headers), and with plugins/header-rewrite (five
# header operations and a path rewrite). Loopback only.
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

source bench/common.sh
need wrk wrk
need curl curl
rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
cargo build --release --quiet -p wasmgress
cargo build --release --quiet --target wasm32-wasip1 --manifest-path tests/plugins/Cargo.toml --target-dir tests/plugins/target
cargo build --release --quiet --target wasm32-wasip1 --manifest-path plugins/Cargo.toml --target-dir plugins/target
BIN=target/release/wasmgress
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

mkdir -p "$WORK/plugins" "$WORK/manifests"
cp tests/plugins/target/wasm32-wasip1/release/test_noop.wasm "$WORK/plugins/noop.wasm"
cp tests/plugins/target/wasm32-wasip1/release/test_headers.wasm "$WORK/plugins/headers.wasm"
cp plugins/target/wasm32-wasip1/release/header_rewrite.wasm "$WORK/plugins/header-rewrite.wasm"
{
  backend_service $BACKEND_PORT
  bench_ingress plain plain.local
  bench_ingress noop noop.local "- name: noop"
  bench_ingress headers headers.local '- name: headers
  config: {request_header: "x-env=bench", response_header: "x-frame-options=DENY"}'
  bench_ingress rewrite rewrite.local '- name: header-rewrite
  config:
    request:
      set: {x-client: "${client_ip}", x-env: bench}
      add: {x-asked: "${request_uri}"}
      remove: [x-debug]
      rename: {x-old: x-new}
    response: {set: {x-frame-options: DENY}}
    rewrite: {regex: "^/(.*)$", replacement: "/app/$1"}'
} > "$WORK/manifests/bench.yaml"

$BIN --workers "$WORKERS" echo --listen 127.0.0.1:$BACKEND_PORT --name bench & PIDS+=($!)
WASMGRESS_LOG=warn $BIN --workers "$WORKERS" run --manifests "$WORK/manifests" --plugins "$WORK/plugins" \
  --http-listen 127.0.0.1:$GATEWAY_PORT --admin-listen 127.0.0.1:$ADMIN_PORT --https-listen off --access-log off & GW=$!; PIDS+=($GW)
rss_kib() { awk '/VmRSS/{print $2}' "/proc/$GW/status"; }
instances() { curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk '/^wasmgress_plugin_instances/{n += $2} END{print n + 0}'; }

# Plugin instances are made on a worker's first request to their route:
# the RSS before and after that, over the instance count, is what one costs.
wait_http "http://127.0.0.1:$GATEWAY_PORT/" plain.local
wrk -t1 -c"$CONNECTIONS" -d2s -H "Host: plain.local" "http://127.0.0.1:$GATEWAY_PORT/" >/dev/null
RSS_BEFORE=$(rss_kib)
for host in noop headers rewrite; do wait_http "http://127.0.0.1:$GATEWAY_PORT/" "$host.local"; done
problems=$(curl -s "http://127.0.0.1:$ADMIN_PORT/diagnostics")
[ -z "$problems" ] || { echo "configuration problems: $problems" >&2; exit 1; }

TARGETS=(plain noop headers rewrite)
for t in "${TARGETS[@]}"; do wrk -t1 -c"$CONNECTIONS" -d2s -H "Host: $t.local" "http://127.0.0.1:$GATEWAY_PORT/" >/dev/null; done
RSS_AFTER=$(rss_kib); INSTANCES=$(instances)
for round in $(seq "$ROUNDS"); do
  for t in "${TARGETS[@]}"; do
    wrk_cpu "$GW" "http://127.0.0.1:$GATEWAY_PORT/" "$t.local" >> "$WORK/$t.txt"
  done
done

echo "wrk: $CONNECTIONS connections, $DURATION x $ROUNDS rounds; gateway: $WORKERS worker(s); $(nproc) CPUs; medians"
cpu_header route plain
for t in "${TARGETS[@]}"; do cpu_row "$t" "$WORK/$t.txt" "$WORK/plain.txt"; done
echo "plugin instances: $INSTANCES; RSS they added: $(( (RSS_AFTER - RSS_BEFORE) / 1024 )) MiB, $(( (RSS_AFTER - RSS_BEFORE) / (INSTANCES > 0 ? INSTANCES : 1) )) KiB per instance"
echo "gateway RSS with the plugin routes warm: $(( $(awk '/VmRSS/{print $2}' /proc/$GW/status) / 1024 )) MiB"
