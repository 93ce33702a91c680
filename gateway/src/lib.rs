//! wasmgress: a Kubernetes Ingress controller and HTTP gateway.
//!
//! Configuration flows one way: a source (`source`) yields Kubernetes
//! objects (`cluster`), `translate` turns them into a `routing::RouteTable`,
//! and the proxy (`proxy`) serves requests from the current table.

pub mod cluster;
pub mod diagnostics;
pub mod duration;
pub mod routing;
pub mod translate;
