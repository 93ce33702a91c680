#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind (user space,
# the whole gateway: proxy, plugin host and WebAssembly): bench/waf.sh's
# GET through a route without plugin, one with a no-op Proxy-Wasm plugin
# and one with the WAF, on one worker, requests one after another on one
# connection. Unlike CPU time the count does not move with what else the
# machine is doing, so it shows a change of a few per cent; it does not
# show cache misses or the kernel's share. Loopback only.
#
#   bench/instructions.sh                # 200 requests a route
#   REQUESTS=500 bench/instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-200}
BACKEND_PORT=18940 GATEWAY_PORT=18941 ADMIN_PORT=18942

source bench/common.sh
need valgrind valgrind
need curl curl
BIN=${WASMGRESS_BIN:-target/release/wasmgress}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
waf_routes "$WORK"
run=(run --manifests "$WORK/manifests" --plugins "$WORK/plugins" --plugin-cache "$WORK/cache"
  --http-listen 127.0.0.1:$GATEWAY_PORT --admin-listen 127.0.0.1:$ADMIN_PORT --https-listen off --access-log off)

$BIN --workers 1 echo --listen 127.0.0.1:$BACKEND_PORT --name bench & PIDS+=($!)
# Compiling the plugins under valgrind takes minutes: a native run fills
# the compiled-module cache first.
WASMGRESS_LOG=warn $BIN --workers 1 "${run[@]}" & native=$!
wait_http "http://127.0.0.1:$GATEWAY_PORT/" waf.local
kill $native; wait $native 2>/dev/null || true

WASMGRESS_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" $BIN --workers 1 "${run[@]}" \
  > "$WORK/valgrind.log" 2>&1 & VG=$!; PIDS+=($VG)
for _ in $(seq 600); do curl -fs -o /dev/null -H "Host: waf.local" "http://127.0.0.1:$GATEWAY_PORT/" && break; sleep 0.5; done

HEADERS=(-H "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
  -H "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" -H "Accept-Language: en-US,en;q=0.9"
  -H "Referer: https://shop.example.com/" -H "Cookie: session=5323451b4a95902a; theme=dark")
URL="http://127.0.0.1:$GATEWAY_PORT/search?q=running+shoes+for+women&category=sport&sort=price_asc&page=2&size=EU+39"
# One curl with the URL N times: N requests on one kept-alive connection.
requests() { curl -s "${HEADERS[@]}" -H "Host: $1.local" $(for _ in $(seq "$2"); do echo "$URL"; done) > /dev/null; }

printf '%-8s %22s\n' route "instructions/request"
for host in plain noop waf; do
  requests $host 50
  callgrind_control -z $VG > /dev/null 2>&1
  requests $host "$REQUESTS"
  callgrind_control -d "$host" $VG > /dev/null 2>&1
  dump=$(grep -l "^desc: Trigger: dump $host" "$WORK"/cg.out.* | head -1)
  total=$(grep -E "^(summary|totals):" "$dump" | head -1 | awk '{print $2}')
  printf '%-8s %22s\n' $host $((total / REQUESTS))
done
