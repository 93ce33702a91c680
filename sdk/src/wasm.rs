//! The Proxy-Wasm glue (WebAssembly build only): a root context that
//! parses the configuration and builds the plugin, and per request an HTTP
//! context that turns host header maps into [`Request`] / [`Response`]
//! values, runs the hooks, and writes back what changed.

use std::net::SocketAddr;
use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

use crate::{Decision, Headers, Plugin, Request, Response};

/// Small blocks come from size-class lists (see `alloc`); a plugin that
/// brings its own allocator turns the `allocator` feature off.
#[cfg(all(feature = "allocator", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: crate::alloc::SizeClasses<std::alloc::System> = crate::alloc::SizeClasses::new(std::alloc::System);

/// Installs `P` as this module's plugin (called from `_initialize`).
pub fn register<P: Plugin>() {
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::<P> { plugin: None }) });
}

struct Root<P> {
    plugin: Option<Rc<P>>,
}

impl<P: Plugin> Context for Root<P> {}

impl<P: Plugin> RootContext for Root<P> {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        // What is logged here is what the gateway reports on the Ingress.
        match crate::parse_config::<P::Config>(&bytes).and_then(P::configure) {
            Ok(p) => {
                if !p.needs_response() {
                    declare_request_only();
                }
                self.plugin = Some(Rc::new(p));
                true
            }
            Err(e) => {
                log::error!("{e}");
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        let plugin = self.plugin.clone()?;
        Some(Box::new(Stream { plugin, request: None, ran: false }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Stream<P> {
    plugin: Rc<P>,
    /// The request as the client sent it, for the response hook (kept
    /// only when the plugin has one).
    request: Option<Request>,
    /// Whether the request hook has run.
    ran: bool,
}

impl<P> Context for Stream<P> {}

#[link(wasm_import_module = "env")]
unsafe extern "C" {
    /// The host call behind `proxy_wasm`'s `get_map`, which makes a
    /// `String` of every name and value: here the serialized map is kept
    /// as one buffer (see `Headers::from_serialized`).
    fn proxy_get_header_map_pairs(map: u32, data: *mut *mut u8, size: *mut usize) -> u32;
    /// Proxy-Wasm's extension point. Called here directly: `proxy_wasm`'s
    /// wrapper panics on statuses a host may answer (Unimplemented).
    fn proxy_call_foreign_function(
        name: *const u8,
        name_size: usize,
        args: *const u8,
        args_size: usize,
        results: *mut *mut u8,
        results_size: *mut usize,
    ) -> u32;
}

/// Tells the host that this plugin does nothing with responses, so that it
/// skips their callbacks: wasmgress then streams a response past the plugin
/// untouched. Other hosts answer NotFound, as to any name they do not know,
/// and run every callback as before.
fn declare_request_only() {
    let name = crate::REQUEST_ONLY.as_bytes();
    let (mut results, mut size) = (std::ptr::null_mut(), 0);
    // SAFETY: the name is valid for its length; no arguments; the host
    // returns no data for this function (a null pointer), so nothing is
    // handed over to free. The status is ignored on purpose.
    unsafe { proxy_call_foreign_function(name.as_ptr(), name.len(), std::ptr::null(), 0, &mut results, &mut size) };
}

/// The Proxy-Wasm map type numbers (from the ABI).
const REQUEST_HEADERS: u32 = 0;
const RESPONSE_HEADERS: u32 = 2;

/// A header map of the running stream (empty when the host has none).
fn header_map(map: u32) -> Headers {
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size: usize = 0;
    // SAFETY: the host writes a buffer it allocated through this module's
    // `proxy_on_memory_allocate` (a `Vec<u8>` of exactly `size` bytes,
    // leaked), which is taken back here once.
    let bytes = unsafe {
        if proxy_get_header_map_pairs(map, &mut data, &mut size) != 0 || data.is_null() {
            return Headers::default();
        }
        Vec::from_raw_parts(data, size, size)
    };
    Headers::from_serialized(bytes).unwrap_or_default()
}

impl<P: Plugin> Stream<P> {
    fn read_request(&self) -> Request {
        let mut headers = header_map(REQUEST_HEADERS);
        let [method, path, authority] = headers.take_pseudo([":method", ":path", ":authority"]);
        let mut request = Request::new(method, path, authority);
        request.headers = headers;
        if self.plugin.needs_client_and_ingress() {
            request.client = self
                .get_property(vec!["source", "address"])
                .and_then(|a| String::from_utf8(a).ok())
                .and_then(|a| a.parse::<SocketAddr>().ok());
            request.ingress = self
                .get_property(vec!["ingress"])
                .map(|i| String::from_utf8_lossy(&i).into_owned())
                .unwrap_or_default();
        }
        request
    }

    fn respond(&self, decision: Decision) -> Action {
        match decision {
            Decision::Continue => Action::Continue,
            Decision::Respond(r) => {
                let headers: Vec<(&str, &str)> = r.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                self.send_http_response(u32::from(r.status), headers, Some(&r.body));
                Action::Pause
            }
        }
    }

    /// Runs the request hook and writes back what it changed.
    fn run_request(&mut self, body: Option<(Vec<u8>, usize)>) -> Action {
        let mut request = self.read_request();
        let size = body.as_ref().map_or(0, |(_, size)| *size);
        if let Some((bytes, _)) = body {
            request = request.with_body(bytes);
        }
        // The response hook sees the request's head as the client sent
        // it; the body is not kept for it (it can be large).
        let original = self.plugin.needs_response().then(|| request.head_only());
        let decision = self.plugin.on_request(&mut request);
        if decision == Decision::Continue {
            if request.headers.changed() || request.target_changed() {
                // The whole map is replaced: Envoy needs the pseudo-headers in it.
                let mut pairs =
                    vec![(":method", request.method()), (":path", request.target()), (":authority", request.host())];
                pairs.extend(request.headers.iter());
                self.set_http_request_headers(pairs);
            }
            if request.body_changed() {
                self.set_http_request_body(0, size, request.body().unwrap_or_default());
            }
        }
        self.request = original;
        self.ran = true;
        self.respond(decision)
    }
}

impl<P: Plugin> HttpContext for Stream<P> {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if self.plugin.needs_request_body() && !end_of_stream {
            // The hook runs once the whole body is in.
            return Action::Continue;
        }
        self.run_request(self.plugin.needs_request_body().then(|| (Vec::new(), 0)))
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !self.plugin.needs_request_body() || self.ran {
            return Action::Continue;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let body = self.get_http_request_body(0, body_size).unwrap_or_default();
        self.run_request(Some((body, body_size)))
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(request) = self.request.as_ref() else { return Action::Continue };
        let mut headers = header_map(RESPONSE_HEADERS);
        let [status] = headers.take_pseudo([":status"]);
        let status = status.parse().unwrap_or(0);
        let mut response = Response::new(status, headers);
        let decision = self.plugin.on_response(request, &mut response);
        if decision == Decision::Continue && (response.headers.changed() || response.status_changed()) {
            let status = response.status().to_string();
            let mut pairs = vec![(":status", status.as_str())];
            pairs.extend(response.headers.iter());
            self.set_http_response_headers(pairs);
        }
        self.respond(decision)
    }
}
