#!/usr/bin/env bash
# Builds wasmgress and its plugins (header-rewrite, waf), and serves the example
# Ingresses (manifests/examples) with built-in echo backends on loopback.
# Needs only the Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }
if command -v rustup >/dev/null; then
  rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
fi
cargo build --quiet --release --target wasm32-wasip1 --manifest-path plugins/Cargo.toml --target-dir plugins/target
mkdir -p target/demo-plugins
cp plugins/target/wasm32-wasip1/release/header_rewrite.wasm target/demo-plugins/header-rewrite.wasm
cp plugins/target/wasm32-wasip1/release/waf.wasm target/demo-plugins/waf.wasm
exec cargo run --quiet -p wasmgress -- demo --plugins target/demo-plugins "$@"
