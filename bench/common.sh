# Helpers shared by the benchmark scripts (sourced, not run).

# need COMMAND PACKAGE: installs a Debian package when its command is missing.
need() {
  command -v "$1" >/dev/null && return 0
  [ "${APT_UPDATED:-}" ] || { apt-get update -qq; APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

# wait_http URL HOST: polls until URL answers 2xx for Host HOST (10 s at most).
wait_http() {
  for _ in $(seq 100); do curl -fs -o /dev/null -H "Host: $2" "$1" && return 0; sleep 0.1; done
  echo "not up: $1 (Host: $2)" >&2
  exit 1
}

# to_us VALUE: a wrk latency (e.g. 850.00us, 2.31ms, 1.02s) in microseconds.
to_us() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us/,"",v); print v} else if (v ~ /ms$/) {sub(/ms/,"",v); print v*1000} else {sub(/s/,"",v); print v*1000000} }'; }

# median: the median of the numbers on stdin, one a line.
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

# wrk_once URL HOST [LUA]: one wrk run (WRK_THREADS, CONNECTIONS, DURATION),
# with a wrk Lua script when given; prints "rps p50_us p99_us".
wrk_once() {
  local script=(); [ -z "${3:-}" ] || script=(-s "$3")
  local out; out=$(wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "${script[@]}" -H "Host: $2" "$1")
  local errors; errors=$(echo "$out" | awk '/Non-2xx|Socket errors/{print}')
  [ -z "$errors" ] || echo "  wrk reported for $1 ($2): $errors" >&2
  echo "$(echo "$out" | awk '/Requests\/sec/{print $2}') $(to_us "$(echo "$out" | awk '$1=="50%"{print $2}')") $(to_us "$(echo "$out" | awk '$1=="99%"{print $2}')")"
}

# wrk_cpu PID URL HOST [LUA]: wrk_once, and the CPU time process PID spent
# per request (user + system, from /proc): unlike requests/s, it does not
# depend on how the CPUs are shared with wrk and the backend. Prints
# "rps p50_us p99_us cpu_us".
wrk_cpu() {
  local c0 c1 line
  c0=$(awk '{print $14 + $15}' "/proc/$1/stat"); line=$(wrk_once "$2" "$3" "${4:-}"); c1=$(awk '{print $14 + $15}' "/proc/$1/stat")
  echo "$line $(awk -v d=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v rps="${line%% *}" -v s="${DURATION%s}" 'BEGIN{printf "%.2f", d / hz * 1e6 / (rps * s)}')"
}

# backend_service PORT: a Service "bench" whose one endpoint is 127.0.0.1:PORT.
backend_service() {
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
ports: [{name: http, port: $1}]
endpoints: [{addresses: ["127.0.0.1"]}]
YAML
}

# bench_ingress NAME HOST [PLUGINS]: an Ingress routing HOST to "bench", with an optional plugin list.
bench_ingress() {
  echo "---"
  echo "apiVersion: networking.k8s.io/v1"
  echo "kind: Ingress"
  echo "metadata:"
  echo "  name: $1"
  echo "  namespace: default"
  if [ -n "${3:-}" ]; then
    echo "  annotations:"
    echo "    wasmgress.io/plugins: |"
    echo "$3" | sed 's/^/      /'
  fi
  cat <<YAML
spec:
  ingressClassName: wasmgress
  rules:
  - host: $2
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: bench, port: {number: 80}}}}
YAML
}

# cpu_header COLUMN BASELINE: the header of a table of wrk_cpu medians.
cpu_header() {
  printf '%-20s %12s %10s %10s %14s %16s %16s\n' "$1" "requests/s" "p50 (us)" "p99 (us)" "vs $2 rps" "CPU us/request" "added CPU (us)"
}

# cpu_row NAME FILE BASEFILE: the medians of FILE's wrk_cpu lines, and
# their requests/s and CPU against BASEFILE's.
cpu_row() {
  local col; col() { awk -v c="$2" '{print $c}' "$1" | median; }
  local rps base_rps cpu base_cpu
  rps=$(col "$2" 1); base_rps=$(col "$3" 1); cpu=$(col "$2" 4); base_cpu=$(col "$3" 4)
  printf '%-20s %12s %10s %10s %14s %16s %16s\n' "$1" "$rps" "$(col "$2" 2)" "$(col "$2" 3)" \
    "$(awk -v a="$rps" -v b="$base_rps" 'BEGIN{printf "%+.1f%%", (a/b - 1) * 100}')" "$cpu" \
    "$(awk -v a="$cpu" -v b="$base_cpu" 'BEGIN{printf "%+.2f", a - b}')"
}

# waf_routes DIR: builds the gateway and the plugins, and writes to DIR the
# plugins (the WAF, or WAF_WASM, and a no-op one) and the manifests of three
# routes to a backend on BACKEND_PORT: plain.local without plugin,
# noop.local, and waf.local at paranoia level 1.
waf_routes() {
  rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
  cargo build --release --quiet -p wasmgress
  cargo build --release --quiet --target wasm32-wasip1 --manifest-path plugins/Cargo.toml --target-dir plugins/target
  cargo build --release --quiet --target wasm32-wasip1 --manifest-path tests/plugins/Cargo.toml --target-dir tests/plugins/target
  mkdir -p "$1/plugins" "$1/manifests"
  cp "${WAF_WASM:-plugins/target/wasm32-wasip1/release/waf.wasm}" "$1/plugins/waf.wasm"
  cp tests/plugins/target/wasm32-wasip1/release/test_noop.wasm "$1/plugins/noop.wasm"
  {
    backend_service "$BACKEND_PORT"
    bench_ingress plain plain.local
    bench_ingress noop noop.local "- name: noop"
    bench_ingress waf waf.local '- name: waf
  config: {paranoia_level: 1}'
  } > "$1/manifests/bench.yaml"
}
