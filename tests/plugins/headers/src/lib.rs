//! A plugin written the way the `proxy-wasm` crate's published examples are:
//! it reads a JSON configuration at configure time, adds and reads headers
//! (pseudo-headers included), answers locally for one path, and logs.

use proxy_wasm::traits::*;
use proxy_wasm::types::*;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(HeadersRoot { config: Config::default() }) });
}}

#[derive(Default, Clone)]
struct Config {
    request_header: Option<(String, String)>,
    response_header: Option<(String, String)>,
    deny_path: Option<String>,
    reset_path: Option<String>,
    rewrite_path: Option<(String, String)>,
}

struct HeadersRoot {
    config: Config,
}

impl Context for HeadersRoot {}

/// Parses `{"request_header": "name=value", "response_header": "name=value",
/// "deny_path": "/x", "reset_path": "/y", "rewrite_path": "/from=/to"}` without a JSON crate.
fn field(config: &str, key: &str) -> Option<String> {
    let start = config.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = config[start..].trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

fn pair(s: Option<String>) -> Option<(String, String)> {
    let s = s?;
    let (k, v) = s.split_once('=')?;
    Some((k.to_string(), v.to_string()))
}

impl RootContext for HeadersRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        let Some(bytes) = self.get_plugin_configuration() else {
            return true;
        };
        let text = String::from_utf8_lossy(&bytes).to_string();
        if text.contains("\"reject\"") {
            log::error!("configuration rejected: it asks to be rejected");
            return false;
        }
        self.config = Config {
            request_header: pair(field(&text, "request_header")),
            response_header: pair(field(&text, "response_header")),
            deny_path: field(&text, "deny_path"),
            reset_path: field(&text, "reset_path"),
            rewrite_path: pair(field(&text, "rewrite_path")),
        };
        log::info!("configured with {} bytes", bytes.len());
        true
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Headers { context_id, config: self.config.clone() }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Headers {
    context_id: u32,
    config: Config,
}

impl Context for Headers {}

impl HttpContext for Headers {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let path = self.get_http_request_header(":path").unwrap_or_default();
        let method = self.get_http_request_header(":method").unwrap_or_default();
        let authority = self.get_http_request_header(":authority").unwrap_or_default();
        // A header that is not there reads as empty (Ok with no data, the
        // answer every SDK version accepts), never as a trap.
        let missing = self.get_http_request_header("x-not-sent");
        if let Some(deny) = &self.config.deny_path
            && path.starts_with(deny.as_str())
        {
            log::warn!("#{} denying {}", self.context_id, path);
            self.send_http_response(403, vec![("x-denied-by", "test-headers")], Some(b"denied by plugin\n"));
            return Action::Pause;
        }
        if let Some(reset) = &self.config.reset_path
            && path.starts_with(reset.as_str())
        {
            self.reset_http_request();
            return Action::Pause;
        }
        if let Some((from, to)) = &self.config.rewrite_path
            && let Some(rest) = path.strip_prefix(from.as_str())
        {
            self.set_http_request_header(":path", Some(&format!("{to}{rest}")));
        }
        if let Some((k, v)) = &self.config.request_header {
            self.set_http_request_header(k, Some(v));
        }
        let seen = format!("{method} {authority} {path} missing={:?}", missing.unwrap_or_default());
        self.set_http_request_header("x-plugin-saw", Some(&seen));
        self.set_http_request_header("x-remove-me", None);
        let count = self.get_http_request_headers().len();
        self.add_http_request_header("x-plugin-header-count", &count.to_string());
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let status = self.get_http_response_header(":status").unwrap_or_default();
        self.set_http_response_header("x-plugin-status-seen", Some(&status));
        if let Some((k, v)) = &self.config.response_header {
            self.set_http_response_header(k, Some(v));
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        log::debug!("#{} done", self.context_id);
    }
}
