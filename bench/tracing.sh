#!/usr/bin/env bash
# What tracing costs: the same route on three gateways, one with tracing
# off, one sampling every request (ratio 1.0) and one sampling 1 % (0.01),
# both exporting over OTLP/gRPC to a local collector (rotel, discarding
# what it receives). Measured one after the other, in one run. Loopback only.
#
#   bench/tracing.sh
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS=${WORKERS:-1}
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
WRK_THREADS=${WRK_THREADS:-1}
BACKEND_PORT=18930 COLLECTOR_PORT=18931

source bench/common.sh
need wrk wrk
need curl curl
ROTEL="$PWD/target/otel/rotel/rotel-agent"
[ -x "$ROTEL" ] || python3 -m pip install --quiet --disable-pip-version-check --target target/otel rotel==0.0.1a15
cargo build --release --quiet -p wasmgress
BIN=target/release/wasmgress
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

mkdir -p "$WORK/manifests"
{ backend_service $BACKEND_PORT; bench_ingress traced traced.local; } > "$WORK/manifests/bench.yaml"

$BIN --workers "$WORKERS" echo --listen 127.0.0.1:$BACKEND_PORT --name bench & PIDS+=($!)
"$ROTEL" start --otlp-grpc-endpoint 127.0.0.1:$COLLECTOR_PORT --otlp-http-endpoint 127.0.0.1:$((COLLECTOR_PORT + 100)) \
  --exporter blackhole --pid-file "$WORK/rotel.pid" >/dev/null 2>&1 & PIDS+=($!)

# CASE PORT: a gateway per case, tracing as the case says.
declare -A PORT GW
CASES=(off ratio-1.0 ratio-0.01)
port=18940
for c in "${CASES[@]}"; do
  PORT[$c]=$port
  env=(WASMGRESS_LOG=warn)
  if [ "$c" != off ]; then
    env+=(OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$COLLECTOR_PORT OTEL_EXPORTER_OTLP_PROTOCOL=grpc
      OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG=${c#ratio-})
  fi
  env "${env[@]}" $BIN --workers "$WORKERS" run --manifests "$WORK/manifests" --http-listen 127.0.0.1:$port \
    --admin-listen 127.0.0.1:$((port + 1)) --https-listen off --access-log off & GW[$c]=$!; PIDS+=(${GW[$c]})
  port=$((port + 2))
done
for c in "${CASES[@]}"; do wait_http "http://127.0.0.1:${PORT[$c]}/" traced.local; done

for c in "${CASES[@]}"; do wrk -t1 -c"$CONNECTIONS" -d2s -H "Host: traced.local" "http://127.0.0.1:${PORT[$c]}/" >/dev/null; done
for round in $(seq "$ROUNDS"); do
  for c in "${CASES[@]}"; do
    wrk_cpu "${GW[$c]}" "http://127.0.0.1:${PORT[$c]}/" traced.local >> "$WORK/$c.txt"
  done
done

echo "wrk: $CONNECTIONS connections, $DURATION x $ROUNDS rounds; gateway: $WORKERS worker(s); $(nproc) CPUs; medians"
cpu_header tracing off
for c in "${CASES[@]}"; do cpu_row "$c" "$WORK/$c.txt" "$WORK/off.txt"; done
