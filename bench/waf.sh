#!/usr/bin/env bash
# The per-request cost of the WAF plugin (plugins/waf) at paranoia level 1,
# beside the same route without a plugin, in one run on one gateway: a
# typical GET with five query arguments and browser headers, and a 4 KiB
# JSON POST, each the same every time and with something new every time
# (the WAF remembers values that matched nothing). A route with a
# Proxy-Wasm plugin that does nothing shows, in the same run, what of the
# added cost is the plugin host's and what is the WAF's. Loopback only.
#
#   bench/waf.sh
#   WORKERS=2 WRK_THREADS=2 bench/waf.sh
#   WAF_WASM=/path/to/other/waf.wasm bench/waf.sh   # another build of the plugin
#   WASMGRESS_BIN=/path/to/other/wasmgress bench/waf.sh   # another build of the gateway
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS=${WORKERS:-1}
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
WRK_THREADS=${WRK_THREADS:-1}
BACKEND_PORT=18920 GATEWAY_PORT=18921 ADMIN_PORT=18922

source bench/common.sh
need wrk wrk
need curl curl
BIN=${WASMGRESS_BIN:-target/release/wasmgress}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
waf_routes "$WORK"

# The GET: five query arguments and the headers a browser sends.
cat > "$WORK/get.lua" <<'LUA'
wrk.path = "/search?q=running+shoes+for+women&category=sport&sort=price_asc&page=2&size=EU+39"
wrk.headers["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
wrk.headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
wrk.headers["Accept-Language"] = "en-US,en;q=0.9"
wrk.headers["Referer"] = "https://shop.example.com/"
wrk.headers["Cookie"] = "session=5323451b4a95902a; theme=dark"
LUA
# The POST: an order of about 4 KiB as a JSON API client sends it.
python_free_json() {
  local items="" i
  for i in $(seq 1 31); do
    items+="{\"sku\":\"SKU-10$i\",\"name\":\"Item number $i, blue / size M\",\"qty\":$((i % 4 + 1)),\"price\":$i.99,\"note\":\"Gift wrap; it's for my mom's birthday\"},"
  done
  printf '{"customer":{"name":"Anne-Marie O'"'"'Brien","email":"anne@example.com","city":"Saint-Étienne"},"items":[%s],"comment":"Please deliver after 6 pm & ring twice."}' "${items%,}"
}
BODY=$(python_free_json)
printf 'wrk.method = "POST"\nwrk.path = "/api/v1/orders"\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["User-Agent"] = "okhttp/4.12.0"\nwrk.body = [==[%s]==]\n' "$BODY" > "$WORK/post.lua"
# The WAF remembers values that matched nothing, so a request seen before
# costs it less than a new one. The same two requests with something new
# every time: a new search term; a new customer and comment. The requests
# are made before the clock starts and then taken in turn: made one at a
# time, the orders' three substitutions on 4 KiB held wrk to about half
# the rate the plain route serves, so that route's baseline was not
# measured at full load. 5,000 of them come round again only after some
# 10,000 (GET: term and request line) or 15,000 new values have gone
# through the WAF's memory of 2,048, which has forgotten them by then.
varied() {
  cat "$WORK/$1.lua"
  cat <<LUA
local made = {}
local next_one = 0
function init(args)
  for n = 1, 5000 do
    $2
  end
end
request = function()
  next_one = next_one % #made + 1
  return made[next_one]
end
LUA
}
varied get 'made[n] = wrk.format(nil, "/search?q=running+shoes+for+women+" .. n .. "&category=sport&sort=price_asc&page=2&size=EU+39")' > "$WORK/get-new-term.lua"
varied post 'made[n] = wrk.format(nil, nil, nil, (wrk.body:gsub("O'"'"'Brien", "O'"'"'Brien " .. n, 1):gsub("anne@", "anne" .. n .. "@", 1):gsub("twice%.", "twice. " .. n, 1)))' > "$WORK/post-new-order.lua"

$BIN --workers "$WORKERS" echo --listen 127.0.0.1:$BACKEND_PORT --name bench & PIDS+=($!)
WASMGRESS_LOG=warn $BIN --workers "$WORKERS" run --manifests "$WORK/manifests" --plugins "$WORK/plugins" \
  --http-listen 127.0.0.1:$GATEWAY_PORT --admin-listen 127.0.0.1:$ADMIN_PORT --https-listen off --access-log off & GW=$!; PIDS+=($GW)
for host in plain noop waf; do wait_http "http://127.0.0.1:$GATEWAY_PORT/" "$host.local"; done
problems=$(curl -s "http://127.0.0.1:$ADMIN_PORT/diagnostics")
[ -z "$problems" ] || { echo "configuration problems: $problems" >&2; exit 1; }
# The POST must pass every route: a blocked request would be cheaper.
for host in plain noop waf; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $host.local" -H 'Content-Type: application/json' --data-binary "$BODY" "http://127.0.0.1:$GATEWAY_PORT/api/v1/orders")
  [ "$code" = 200 ] || { echo "the POST got $code on $host.local" >&2; exit 1; }
done

CASES=(plain:get noop:get waf:get plain:get-new-term waf:get-new-term plain:post noop:post waf:post plain:post-new-order waf:post-new-order)
for c in "${CASES[@]}"; do wrk -t1 -c"$CONNECTIONS" -d2s -s "$WORK/${c#*:}.lua" -H "Host: ${c%:*}.local" "http://127.0.0.1:$GATEWAY_PORT/" >/dev/null; done
# The WAF's own time inside the gateway: its callbacks' seconds (all
# phases) and its log callbacks (one a request), from /metrics.
waf_callbacks() {
  curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk '/^wasmgress_plugin_callback_duration_seconds_sum\{plugin="waf"/ {s += $2}
    /^wasmgress_plugin_callback_duration_seconds_count\{plugin="waf",phase="log"/ {n = $2} END {print s + 0, n + 0}'
}
for round in $(seq "$ROUNDS"); do
  for c in "${CASES[@]}"; do
    host=${c%:*} kind=${c#*:}
    before=$(waf_callbacks)
    wrk_cpu "$GW" "http://127.0.0.1:$GATEWAY_PORT/" "$host.local" "$WORK/$kind.lua" >> "$WORK/$host-$kind.txt"
    [ "$host" = waf ] || continue
    echo "$before $(waf_callbacks)" | awk '{printf "%.2f\n", ($3 - $1) / ($4 - $2) * 1e6}' >> "$WORK/callbacks-$kind.txt"
  done
done

echo "wrk: $CONNECTIONS connections, $DURATION x $ROUNDS rounds; gateway: $WORKERS worker(s); $(nproc) CPUs; medians; POST body ${#BODY} bytes"
cpu_header case plain
for c in "${CASES[@]}"; do cpu_row "$c" "$WORK/${c%:*}-${c#*:}.txt" "$WORK/plain-${c#*:}.txt"; done
# Of the added CPU, the WAF's callbacks (wall time, on the worker thread);
# the rest is the proxy's plugin path (the noop rows: the same for any
# plugin) and the work a slower route costs the kernel and the event loop
# per request.
echo
printf '%-20s %22s\n' case "WAF callbacks (us)"
for c in "${CASES[@]}"; do
  [ "${c%:*}" = waf ] || continue
  printf '%-20s %22s\n' "$c" "$(median < "$WORK/callbacks-${c#*:}.txt")"
done
