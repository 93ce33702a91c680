//! A body-inspecting plugin written with the plain `proxy-wasm` crate, the
//! way its examples buffer bodies: Pause until the end of the stream, then
//! read everything at once. Requests containing "attack" are refused;
//! other request bodies are wrapped in brackets (one prepend, one append);
//! response bodies have "chunk" replaced by "CHUNK". Request trailers
//! get one more, telling what the plugin read.

use proxy_wasm::traits::*;
use proxy_wasm::types::*;

proxy_wasm::main! {{
    proxy_wasm::set_http_context(|_, _| -> Box<dyn HttpContext> { Box::new(Body { calls: 0 }) });
}}

struct Body {
    /// Request body callbacks so far, to show the buffer grows across them.
    calls: usize,
}

impl Context for Body {}

impl HttpContext for Body {
    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.calls += 1;
        if !end_of_stream {
            return Action::Pause;
        }
        let body = self.get_http_request_body(0, body_size).unwrap_or_default();
        if body.windows(6).any(|w| w == b"attack") {
            log::warn!("refusing a request body after {} callbacks", self.calls);
            self.send_http_response(403, vec![("x-blocked-by", "test-body")], Some(b"blocked\n"));
            return Action::Pause;
        }
        // The request has not gone upstream yet: header changes still apply.
        self.set_http_request_header("x-body-length", Some(&body_size.to_string()));
        self.set_http_request_body(0, 0, b"[");
        self.set_http_request_body(body_size + 1, 0, b"]");
        Action::Continue
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        let client = self.get_http_request_trailer("x-client").unwrap_or_default();
        self.add_http_request_trailer("x-plugin", &format!("saw x-client={client}"));
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        let body = self.get_http_response_body(0, body_size).unwrap_or_default();
        let text = String::from_utf8_lossy(&body).replace("chunk", "CHUNK");
        self.set_http_response_body(0, body_size, text.as_bytes());
        Action::Continue
    }
}
