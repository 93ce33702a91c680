//! A plugin that does nothing on every request: the cost of the plugin
//! machinery itself, for benchmarks.

use proxy_wasm::traits::*;

proxy_wasm::main! {{
    proxy_wasm::set_http_context(|_, _| -> Box<dyn HttpContext> { Box::new(Noop) });
}}

struct Noop;

impl Context for Noop {}

impl HttpContext for Noop {}
