//! The data plane: listeners, the request handler and the upstream client.

mod body;
pub mod callout;
mod filter;
pub mod headers;
pub mod intake;
mod metered;
mod plugins;
mod pool;
pub mod server;
mod service;
mod tls_client;
pub mod upstream;
pub mod workers;

pub use body::ResponseBody;
pub use service::{Proxy, ProxyOptions, local_response};
