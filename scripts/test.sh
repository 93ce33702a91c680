#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and end-to-end tests.
# Installs what it needs; CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }

# Plugins are built for wasm32-wasip1; formatting and lints need their components.
if command -v rustup >/dev/null; then
  rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
  for component in rustfmt clippy; do
    rustup component list --installed | grep -q "^$component" || rustup component add "$component"
  done
fi

# A real OTLP collector for the tracing tests: rotel, whose PyPI wheel ships
# its binary.
ROTEL="$PWD/target/otel/rotel/rotel-agent"
if [ ! -x "$ROTEL" ]; then
  command -v python3 >/dev/null || { echo "python3 not found: it installs the OTLP collector the tests use" >&2; exit 1; }
  python3 -m pip install --quiet --disable-pip-version-check --target target/otel rotel==0.0.1a15
fi
export WASMGRESS_ROTEL_AGENT="$ROTEL"

echo "== cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path tests/plugins/Cargo.toml --all -- --check
cargo fmt --manifest-path plugins/Cargo.toml --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The SDK's Proxy-Wasm glue exists only in its WebAssembly build.
cargo clippy -p wasmgress-sdk --target wasm32-wasip1 --quiet -- -D warnings
# The test plugins and our plugins are workspaces of their own, built for
# wasm32-wasip1; ours are also unit-tested natively.
cargo clippy --manifest-path tests/plugins/Cargo.toml --target wasm32-wasip1 --target-dir tests/plugins/target --quiet -- -D warnings
cargo clippy --manifest-path plugins/Cargo.toml --target wasm32-wasip1 --target-dir plugins/target --quiet -- -D warnings
cargo clippy --manifest-path plugins/Cargo.toml --all-targets --target-dir plugins/target --quiet -- -D warnings
echo "== cargo test"
cargo test --workspace
cargo test --manifest-path plugins/Cargo.toml --target-dir plugins/target
