//! An external-authorization plugin written the way the `proxy-wasm`
//! crate's `http_auth_random` example is: dispatch an `http_call` from the
//! request headers, Pause, and resume or refuse from the call's response.
//! The configuration (a string) is the upstream to call; the request's
//! `x-token` picks the path called. Allowed when the call answers 200 with
//! the body "allow"; the answer's body is passed upstream as `x-auth-said`.

use std::time::Duration;

use proxy_wasm::traits::*;
use proxy_wasm::types::*;

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(AuthRoot { upstream: String::new() }) });
}}

struct AuthRoot {
    upstream: String,
}

impl Context for AuthRoot {}

impl RootContext for AuthRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        self.upstream =
            self.get_plugin_configuration().map(|c| String::from_utf8_lossy(&c).into_owned()).unwrap_or_default();
        !self.upstream.is_empty()
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Auth { upstream: self.upstream.clone() }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Auth {
    upstream: String,
}

impl HttpContext for Auth {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        let token = self.get_http_request_header("x-token").unwrap_or_default();
        let path = format!("/{token}");
        let headers = vec![(":method", "GET"), (":path", path.as_str()), (":authority", "auth")];
        match self.dispatch_http_call(&self.upstream, headers, None, vec![], Duration::from_millis(300)) {
            Ok(_) => Action::Pause,
            Err(status) => {
                let body = format!("dispatch refused: {status:?}\n");
                self.send_http_response(500, vec![], Some(body.as_bytes()));
                Action::Pause
            }
        }
    }
}

impl Context for Auth {
    fn on_http_call_response(&mut self, _: u32, _: usize, body_size: usize, _: usize) {
        // A missing header reads as empty: a failed call has no :status.
        let status = self.get_http_call_response_header(":status").filter(|s| !s.is_empty());
        let body = self.get_http_call_response_body(0, body_size).unwrap_or_default();
        if status.as_deref() == Some("200") && body == b"allow" {
            self.set_http_request_header("x-auth-said", Some(&String::from_utf8_lossy(&body)));
            self.resume_http_request();
            return;
        }
        let reason = format!("denied ({})\n", status.unwrap_or_else(|| "call failed".into()));
        self.send_http_response(403, vec![("x-denied-by", "test-callout")], Some(reason.as_bytes()));
    }
}
