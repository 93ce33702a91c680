//! Timers, shared data, metrics and properties, written with the plain
//! `proxy-wasm` crate. The root context ticks every 10 ms and counts ticks
//! in shared data; each request bumps a shared hit counter with
//! compare-and-swap and a `requests` counter metric, and is told what it
//! read in `x-*` headers.

use std::time::Duration;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::*;
use proxy_wasm::types::*;

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(StateRoot { requests: 0 }) });
}}

/// Adds one to the number under `key` in shared data, retrying when
/// another instance wrote in between; returns the new value.
fn bump(key: &str) -> u64 {
    loop {
        let (value, cas) = hostcalls::get_shared_data(key).expect("get_shared_data");
        let n = value.map(|v| u64::from_le_bytes(v.try_into().unwrap_or([0; 8]))).unwrap_or(0) + 1;
        match hostcalls::set_shared_data(key, Some(&n.to_le_bytes()), cas) {
            Ok(()) => return n,
            Err(Status::CasMismatch) => continue,
            Err(s) => panic!("set_shared_data: {s:?}"),
        }
    }
}

fn read(key: &str) -> u64 {
    let (value, _) = hostcalls::get_shared_data(key).expect("get_shared_data");
    value.map(|v| u64::from_le_bytes(v.try_into().unwrap_or([0; 8]))).unwrap_or(0)
}

struct StateRoot {
    requests: u32,
}

impl Context for StateRoot {}

impl RootContext for StateRoot {
    fn on_vm_start(&mut self, _: usize) -> bool {
        self.set_tick_period(Duration::from_millis(10));
        true
    }

    fn on_configure(&mut self, _: usize) -> bool {
        self.requests = hostcalls::define_metric(MetricType::Counter, "requests").expect("define_metric");
        true
    }

    fn on_tick(&mut self) {
        bump("ticks");
    }

    fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(State { requests: self.requests }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct State {
    requests: u32,
}

impl Context for State {}

fn text(bytes: Option<Vec<u8>>) -> String {
    bytes.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_else(|| "<none>".into())
}

fn integer(bytes: Option<Vec<u8>>) -> String {
    bytes.and_then(|b| b.try_into().ok()).map(|b| i64::from_le_bytes(b).to_string()).unwrap_or_else(|| "<none>".into())
}

impl HttpContext for State {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        hostcalls::increment_metric(self.requests, 1).expect("increment_metric");
        let hits = bump("hits");
        self.set_http_request_header("x-hits", Some(&hits.to_string()));
        self.set_http_request_header("x-ticks", Some(&read("ticks").to_string()));
        let (logged, _) = hostcalls::get_shared_data("last-logged-status").expect("get_shared_data");
        self.set_http_request_header("x-last-logged-status", Some(&text(logged)));
        let props = [
            ("x-prop-path", text(self.get_property(vec!["request", "path"]))),
            ("x-prop-url-path", text(self.get_property(vec!["request", "url_path"]))),
            ("x-prop-host", text(self.get_property(vec!["request", "host"]))),
            ("x-prop-method", text(self.get_property(vec!["request", "method"]))),
            ("x-prop-id", text(self.get_property(vec!["request", "id"]))),
            ("x-prop-source", text(self.get_property(vec!["source", "address"]))),
            ("x-prop-source-port", integer(self.get_property(vec!["source", "port"]))),
            ("x-prop-ingress", text(self.get_property(vec!["ingress"]))),
            ("x-prop-plugin", text(self.get_property(vec!["plugin_name"]))),
            ("x-prop-request-id-header", text(self.get_property(vec!["request", "headers", "x-request-id"]))),
        ];
        for (name, value) in props {
            self.set_http_request_header(name, Some(&value));
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        let code = integer(self.get_property(vec!["response", "code"]));
        self.set_http_response_header("x-prop-code", Some(&code));
        // Request headers stay readable while the response passes, as in Envoy.
        let path = self.get_http_request_header(":path").unwrap_or_default();
        self.set_http_response_header("x-request-path-seen", Some(&path));
        Action::Continue
    }

    fn on_log(&mut self) {
        // So do response headers in on_log; the next request reports it.
        let status = self.get_http_response_header(":status").unwrap_or_default();
        hostcalls::set_shared_data("last-logged-status", Some(status.as_bytes()), None).expect("set_shared_data");
    }
}
