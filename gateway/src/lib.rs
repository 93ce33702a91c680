//! wasmgress: a Kubernetes Ingress controller and HTTP gateway.
//!
//! Configuration flows one way: a source (`source`) yields Kubernetes
//! objects (`cluster`), `translate` turns them into a `routing::RouteTable`,
//! the `controller` swaps it in, and the proxy (`proxy`) serves requests
//! from whatever table is current. `gateway` wires these together.

pub mod admin;
pub mod cluster;
pub mod controller;
pub mod demo;
pub mod diagnostics;
pub mod duration;
pub mod echo;
pub mod gateway;
pub mod proxy;
pub mod routing;
pub mod size;
pub mod source;
pub mod status;
pub mod telemetry;
pub mod tls;
pub mod translate;
pub mod wasm;

pub use gateway::{Gateway, GatewayConfig};
