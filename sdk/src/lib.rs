//! # wasmgress-sdk
//!
//! Write HTTP plugins for wasmgress in Rust: implement [`Plugin`] (a typed
//! configuration, a request hook, a response hook), export it with
//! [`export_plugin!`], and build with
//! `cargo build --target wasm32-wasip1 --release`. The module speaks the
//! Proxy-Wasm ABI (through the `proxy-wasm` crate), so it also runs in Envoy.
//!
//! Logging goes through the [`log`] crate (re-exported); [`metrics`] has
//! counters, gauges and histograms the gateway exports.
//!
//! Plugin logic works on plain values ([`Request`], [`Response`]) and
//! returns a [`Decision`], so it is unit-tested natively with
//! `cargo test`, through [`testing`], with no WebAssembly runtime.
//!
//! ```
//! use wasmgress_sdk::{Decision, Plugin, Request};
//!
//! #[derive(serde::Deserialize)]
//! struct Config {
//!     header: String,
//! }
//!
//! struct Tag(Config);
//!
//! impl Plugin for Tag {
//!     type Config = Config;
//!
//!     fn configure(config: Config) -> Result<Self, String> {
//!         Ok(Tag(config))
//!     }
//!
//!     fn on_request(&self, request: &mut Request) -> Decision {
//!         if request.path().starts_with("/admin") {
//!             return Decision::respond(403).body("forbidden\n").into();
//!         }
//!         request.headers.set(&self.0.header, request.host().to_string());
//!         Decision::Continue
//!     }
//! }
//!
//! wasmgress_sdk::export_plugin!(Tag);
//!
//! let tag: Tag = wasmgress_sdk::testing::configure(r#"{"header": "x-host"}"#).unwrap();
//! let (decision, request) = wasmgress_sdk::testing::request(&tag, Request::new("GET", "/", "shop.com"));
//! assert_eq!(decision, Decision::Continue);
//! assert_eq!(request.headers.get("x-host"), Some("shop.com"));
//! ```

#![warn(missing_docs)]

#[cfg(any(test, target_arch = "wasm32"))]
mod alloc;
mod http;
pub mod metrics;
pub mod testing;
#[cfg(target_arch = "wasm32")]
mod wasm;

pub use http::{Decision, Headers, LocalResponse, Request, Response, url_decode};
pub use log;

/// The Proxy-Wasm foreign function (`proxy_call_foreign_function`) a
/// plugin calls at configuration when [`Plugin::needs_response`] is
/// `false`: wasmgress then skips its response callbacks.
pub const REQUEST_ONLY: &str = "wasmgress_request_only";

/// A plugin: configured once per configuration an Ingress gives it, then
/// called for each request and response on that Ingress.
pub trait Plugin: Sized + 'static {
    /// The configuration, from the `config` of the `wasmgress.io/plugins`
    /// annotation (JSON; a missing one is `null`).
    type Config: serde::de::DeserializeOwned;

    /// Builds the plugin; an error rejects the configuration, and the
    /// gateway reports the message on the Ingress.
    fn configure(config: Self::Config) -> Result<Self, String>;

    /// Whether [`Plugin::on_request`] needs the request body: it then runs
    /// once the whole body is in (up to the gateway's inspection cap).
    fn needs_request_body(&self) -> bool {
        false
    }

    /// Whether [`Plugin::on_response`] does anything. A plugin that only
    /// looks at requests answers `false`: the request head is then not
    /// copied for the response hook, nor the response headers read, and
    /// wasmgress skips the plugin's response callbacks altogether (see
    /// [`REQUEST_ONLY`]).
    fn needs_response(&self) -> bool {
        true
    }

    /// Whether [`Plugin::on_request`] reads [`Request::client`] or
    /// [`Request::ingress`]: each is a host call on every request. A plugin
    /// that does not answers `false`; they are then `None` and empty (in
    /// the test harness too).
    fn needs_client_and_ingress(&self) -> bool {
        true
    }

    /// Looks at (and may change) the request before it goes upstream.
    fn on_request(&self, request: &mut Request) -> Decision {
        let _ = request;
        Decision::Continue
    }

    /// Looks at (and may change) the response headers before they go to the
    /// client; `request` is the request as the client sent it (before
    /// [`Plugin::on_request`] changed anything), so conditions on it hold
    /// the same in both hooks. Its body is not kept for this hook.
    fn on_response(&self, request: &Request, response: &mut Response) -> Decision {
        let _ = (request, response);
        Decision::Continue
    }
}

/// Parses a plugin configuration the way the gateway hands it over: JSON
/// bytes, empty meaning `null`. The error names the field at fault.
pub fn parse_config<C: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<C, String> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"null" } else { bytes };
    serde_json::from_slice(bytes).map_err(|e| format!("invalid configuration: {e}"))
}

/// Exports a [`Plugin`] as the module's Proxy-Wasm entry points (in the
/// WebAssembly build; natively it only ties the plugin to the harness, so
/// that a native build sees the plugin used).
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        pub extern "C" fn _initialize() {
            $crate::__private::register::<$plugin>();
        }

        #[cfg(not(target_arch = "wasm32"))]
        const _: fn(&str) -> Result<$plugin, String> = $crate::testing::configure::<$plugin>;
    };
}

#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    pub use crate::wasm::register;
}
