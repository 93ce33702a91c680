#!/usr/bin/env bash
# Builds wasmgress and serves the example Ingresses (manifests/examples) with
# built-in echo backends on loopback. Needs only the Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }
exec cargo run --quiet -p wasmgress -- demo "$@"
