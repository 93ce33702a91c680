//! The native test harness: run a plugin's hooks on the host with
//! `cargo test`, no WebAssembly runtime, and assert on the decision and on
//! the request or response as the plugin left them.
//!
//! ```
//! # use wasmgress_sdk::{Decision, Plugin, Request, testing};
//! # struct Deny;
//! # impl Plugin for Deny {
//! #     type Config = ();
//! #     fn configure(_: ()) -> Result<Self, String> { Ok(Deny) }
//! #     fn on_request(&self, r: &mut Request) -> Decision {
//! #         if r.cookie("session").is_none() { Decision::respond(401).into() } else { Decision::Continue }
//! #     }
//! # }
//! let plugin: Deny = testing::configure("").unwrap();
//! let request = testing::get("/account").header("cookie", "session=1").build();
//! assert_eq!(testing::request(&plugin, request).0, Decision::Continue);
//! let (decision, _) = testing::request(&plugin, testing::get("/account").build());
//! assert!(matches!(decision, Decision::Respond(r) if r.status == 401));
//! ```

use std::net::SocketAddr;

use crate::{Decision, Headers, Plugin, Request, Response};

/// Configures a plugin from configuration text, exactly as the gateway
/// would (JSON; empty is `null`).
pub fn configure<P: Plugin>(config: &str) -> Result<P, String> {
    P::configure(crate::parse_config(config.as_bytes())?)
}

/// Runs the request hook; returns the decision and the request as the
/// plugin left it.
pub fn request<P: Plugin>(plugin: &P, mut request: Request) -> (Decision, Request) {
    if !plugin.needs_client_and_ingress() {
        // As the gateway leaves them for such a plugin.
        (request.client, request.ingress) = (None, String::new());
    }
    let decision = plugin.on_request(&mut request);
    (decision, request)
}

/// Runs the response hook for `request` (the request as the client sent it).
pub fn response<P: Plugin>(plugin: &P, request: &Request, mut response: Response) -> (Decision, Response) {
    let decision = plugin.on_response(request, &mut response);
    (decision, response)
}

/// Builds a test request.
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    request: Request,
    headers: Vec<(String, String)>,
}

/// A GET request for `target` (path and query) to `example.com`.
pub fn get(target: &str) -> RequestBuilder {
    builder("GET", target)
}

/// A POST request for `target` with `body`.
pub fn post(target: &str, body: impl Into<Vec<u8>>) -> RequestBuilder {
    let mut b = builder("POST", target);
    b.request = b.request.with_body(body);
    b
}

/// A request with any method.
pub fn builder(method: &str, target: &str) -> RequestBuilder {
    let mut request = Request::new(method, target, "example.com").with_id("test-request");
    request.client = Some(SocketAddr::from(([192, 0, 2, 1], 40000)));
    request.ingress = "default/test".into();
    RequestBuilder { request, headers: Vec::new() }
}

impl RequestBuilder {
    /// The Host (`:authority`) asked for.
    pub fn host(mut self, host: &str) -> Self {
        let body = self.request.body().map(<[u8]>::to_vec);
        let old = std::mem::take(&mut self.request);
        let mut request = Request::new(old.method(), old.target(), host).with_id(old.id());
        (request.client, request.ingress) = (old.client, old.ingress);
        self.request = match body {
            Some(b) => request.with_body(b),
            None => request,
        };
        self
    }

    /// Adds a request header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The client's address (default `192.0.2.1:40000`).
    pub fn client(mut self, client: SocketAddr) -> Self {
        self.request.client = Some(client);
        self
    }

    /// The Ingress the request came through (default `default/test`).
    pub fn ingress(mut self, ingress: &str) -> Self {
        self.request.ingress = ingress.to_string();
        self
    }

    /// The request id (default `test-request`).
    pub fn id(mut self, id: &str) -> Self {
        self.request = std::mem::take(&mut self.request).with_id(id);
        self
    }

    /// The request.
    pub fn build(mut self) -> Request {
        self.request.headers = Headers::from_pairs(self.headers);
        self.request
    }
}

/// A response with `status` and headers.
pub fn response_with(status: u16, headers: &[(&str, &str)]) -> Response {
    Response::new(status, Headers::from_pairs(headers.iter().copied()))
}

/// The value of metric `name` as the plugin's hooks left it on this
/// thread (each test runs on its own thread), `None` if never defined.
#[cfg(not(target_arch = "wasm32"))]
pub fn metric(name: &str) -> Option<i64> {
    crate::metrics::native::get(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what it saw of the client and the Ingress.
    struct Peer {
        wanted: bool,
    }

    impl Plugin for Peer {
        type Config = bool;

        fn configure(wanted: bool) -> Result<Self, String> {
            Ok(Peer { wanted })
        }

        fn needs_client_and_ingress(&self) -> bool {
            self.wanted
        }

        fn on_request(&self, request: &mut Request) -> Decision {
            let seen = format!("{:?} {:?}", request.client, request.ingress);
            request.headers.set("x-seen", seen);
            Decision::Continue
        }
    }

    #[test]
    fn client_and_ingress_reach_only_a_plugin_that_wants_them() {
        let seen = |config| {
            let plugin: Peer = configure(config).unwrap();
            let (_, request) = request(&plugin, get("/").ingress("shop/front").build());
            request.headers.get("x-seen").unwrap_or_default().to_string()
        };
        assert_eq!(seen("true"), r#"Some(192.0.2.1:40000) "shop/front""#);
        assert_eq!(seen("false"), r#"None """#);
    }
}
