#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and end-to-end tests.
# Installs what it needs; CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }

# Plugins are built for wasm32-wasip1.
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip1; then
  rustup target add wasm32-wasip1
fi
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy

echo "== cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path tests/plugins/Cargo.toml --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The test plugins are their own workspace, built for wasm32-wasip1.
cargo clippy --manifest-path tests/plugins/Cargo.toml --target wasm32-wasip1 --target-dir tests/plugins/target --quiet -- -D warnings
echo "== cargo test"
cargo test --workspace
