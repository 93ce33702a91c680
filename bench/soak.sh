#!/usr/bin/env bash
# Load, soak and configuration churn against a release gateway on loopback
# (not part of the test suite): each run is bounded and prints a table.
#
#   bench/soak.sh [connections] [soak] [churn]     (default: all three)
#
#   connections: CONNECTIONS keep-alive connections (10000) held open for
#                CONN_SECONDS (60), each sending a request every 2 s;
#   soak:        SOAK_MINUTES (10) at SOAK_RATE requests/s (1000) over a plain
#                route, a header-rewrite plugin route and h2c, plus 50
#                WebSockets echoing a message a second;
#   churn:       CHURN_MINUTES (5) of CHURN_RATE Ingress edits/s (50) while
#                500 requests/s go to a stable and ten churning routes.
# Each exits non-zero when its criteria fail (errors, 5xx, RSS growth >= 5%).
set -euo pipefail
cd "$(dirname "$0")/.."

CONNECTIONS=${CONNECTIONS:-10000}
CONN_SECONDS=${CONN_SECONDS:-60}
SOAK_MINUTES=${SOAK_MINUTES:-10}
SOAK_RATE=${SOAK_RATE:-1000}
CHURN_MINUTES=${CHURN_MINUTES:-5}
CHURN_RATE=${CHURN_RATE:-50}
RUNS=("$@")
[ ${#RUNS[@]} -gt 0 ] || RUNS=(connections soak churn)

command -v rustup >/dev/null && { rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1; }
cargo build --release --quiet -p wasmgress -p wasmgress-tests --bin wasmgress --bin loadgen
cargo build --release --quiet --target wasm32-wasip1 --manifest-path plugins/Cargo.toml --target-dir plugins/target
PLUGINS=$(mktemp -d)
trap 'rm -rf "$PLUGINS"' EXIT
cp plugins/target/wasm32-wasip1/release/header_rewrite.wasm "$PLUGINS/header-rewrite.wasm"
# Both ends of 10,000 connections and the upstream side, on one machine:
# each process needs a descriptor per connection it holds.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -gt $((CONNECTIONS + 2000)) ] \
  || echo "warning: ulimit -n $(ulimit -n) is too low for $CONNECTIONS connections" >&2

status=0
for run in "${RUNS[@]}"; do
  echo "== $run"
  case $run in
    connections) args=("$CONNECTIONS" "$CONN_SECONDS") ;;
    soak) args=("$SOAK_MINUTES" "$SOAK_RATE") ;;
    churn) args=("$CHURN_MINUTES" "$CHURN_RATE") ;;
    *) echo "unknown run $run" >&2; exit 2 ;;
  esac
  target/release/loadgen "$run" target/release/wasmgress "$PLUGINS" "${args[@]}" || status=1
done
exit $status
