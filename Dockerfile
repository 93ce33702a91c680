# The gateway image: the release binary and the project's plugins in
# /plugins, on a distroless base (no shell, no package manager), non-root.
#   docker build -t ghcr.io/wasmgress/wasmgress:0.1.0 .
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN rustup target add wasm32-wasip1
COPY . .
RUN cargo build --release --locked -p wasmgress \
 && cargo build --release --locked --target wasm32-wasip1 \
      --manifest-path plugins/Cargo.toml --target-dir plugins/target
# Plugins are installed as NAME.wasm, the name Ingress annotations use.
RUN mkdir -p /out/plugins \
 && cp target/release/wasmgress /out/ \
 && cp plugins/target/wasm32-wasip1/release/waf.wasm /out/plugins/waf.wasm \
 && cp plugins/target/wasm32-wasip1/release/header_rewrite.wasm /out/plugins/header-rewrite.wasm

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/wasmgress /usr/local/bin/wasmgress
COPY --from=build /out/plugins /plugins
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/wasmgress"]
CMD ["run", "--plugins=/plugins"]
