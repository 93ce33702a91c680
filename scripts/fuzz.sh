#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/) for SECONDS each (default 60),
# growing fuzz/corpus/TARGET; a crash lands in fuzz/artifacts/TARGET. Copy a
# crashing input to fuzz/regressions/TARGET/ once fixed: the test suite
# replays it from then on.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(translate annotations paths_and_hosts host_calls)

command -v rustup >/dev/null && { rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1; }
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
# cargo-fuzz needs nightly flags; with no nightly toolchain, stable is told to accept them.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then TOOLCHAIN=(+nightly); else TOOLCHAIN=(); export RUSTC_BOOTSTRAP=1; fi
# The host_calls target loads the fuzz-driver test plugin.
cargo build --release --quiet --target wasm32-wasip1 --manifest-path tests/plugins/Cargo.toml --target-dir tests/plugins/target
cd fuzz
for target in "${TARGETS[@]}"; do
  mkdir -p "corpus/$target"
  echo "== $target (${SECONDS_EACH}s)"
  cargo "${TOOLCHAIN[@]}" fuzz run -O "$target" "corpus/$target" -- -max_total_time="$SECONDS_EACH" -max_len=8192 2>&1 \
    | grep -E $'^(#[0-9]+\t+(INITED|DONE)|==[0-9]+==|SUMMARY)' || true
  test -z "$(ls -A "artifacts/$target" 2>/dev/null)" || { echo "crash inputs in fuzz/artifacts/$target" >&2; exit 1; }
done
