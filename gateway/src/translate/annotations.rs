//! The `wasmgress.io/*` annotations an Ingress may carry, parsed into the
//! policy of its routes. A bad value rejects the Ingress; an unknown key is
//! reported and ignored, so a typo never goes unnoticed.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::duration;
use crate::routing::{BackendProtocol, RoutePolicy};
use crate::wasm::chain::FailurePolicy;

pub const PREFIX: &str = "wasmgress.io/";
pub const PROXY_READ_TIMEOUT: &str = "wasmgress.io/proxy-read-timeout";
pub const PLUGINS: &str = "wasmgress.io/plugins";
pub const SSL_REDIRECT: &str = "wasmgress.io/ssl-redirect";
pub const HSTS: &str = "wasmgress.io/hsts";
pub const BACKEND_PROTOCOL: &str = "wasmgress.io/backend-protocol";
pub const BACKEND_TLS_VERIFY: &str = "wasmgress.io/backend-tls-verify";
pub const PROXY_BODY_SIZE: &str = "wasmgress.io/proxy-body-size";

/// Annotations this version understands.
const KNOWN: &[&str] =
    &[PLUGINS, PROXY_READ_TIMEOUT, PROXY_BODY_SIZE, SSL_REDIRECT, HSTS, BACKEND_PROTOCOL, BACKEND_TLS_VERIFY];

/// HSTS for `wasmgress.io/hsts: "true"`: one year.
const HSTS_DEFAULT: &str = "max-age=31536000";

fn boolean(value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("must be \"true\" or \"false\", not {other:?}")),
    }
}

/// `"true"` (one year), `"false"`, or a header value such as
/// `max-age=63072000; includeSubDomains; preload`.
fn hsts(value: &str) -> Result<Option<http::HeaderValue>, String> {
    let text = match value {
        "false" => return Ok(None),
        "true" => HSTS_DEFAULT,
        v if v.starts_with("max-age=") => v,
        other => return Err(format!("must be \"true\", \"false\" or a max-age=... value, not {other:?}")),
    };
    http::HeaderValue::from_str(text).map(Some).map_err(|_| format!("{text:?} is not a valid header value"))
}

fn backend_protocol(value: &str) -> Result<BackendProtocol, String> {
    match value.to_ascii_uppercase().as_str() {
        "HTTP" => Ok(BackendProtocol::Http),
        "HTTPS" => Ok(BackendProtocol::Https),
        "H2C" => Ok(BackendProtocol::H2c),
        "GRPC" => Ok(BackendProtocol::Grpc),
        _ => Err(format!("must be HTTP, HTTPS, H2C or GRPC, not {value:?}")),
    }
}

/// A plugin an Ingress asks for: an installed module by name, and data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PluginRequest {
    pub name: String,
    /// What the plugin reads as its configuration: a string's raw bytes, any
    /// other value as JSON, nothing when absent.
    pub config: Arc<[u8]>,
    pub failure: FailurePolicy,
    /// Hex sha256 the module must have.
    pub sha256: Option<String>,
}

/// One entry of the `wasmgress.io/plugins` list, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginEntry {
    name: String,
    #[serde(default)]
    config: Option<serde_json::Value>,
    #[serde(default)]
    failure: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
}

/// Parses the `wasmgress.io/plugins` value (YAML; JSON is YAML).
pub fn parse_plugins(value: &str) -> Result<Vec<PluginRequest>, String> {
    let entries: Vec<PluginEntry> = serde_saphyr::from_str(value)
        .map_err(|e| format!("not a list of {{name, config, failure, sha256}} entries: {e}"))?;
    entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let at = format!("entry {i} ({})", e.name);
            if e.name.is_empty()
                || !e.name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            {
                return Err(format!("{at}: name must be a plugin name (letters, digits, '-', '_', '.')"));
            }
            let failure = match e.failure.as_deref() {
                None | Some("closed") => FailurePolicy::Closed,
                Some("open") => FailurePolicy::Open,
                Some(other) => return Err(format!("{at}: failure must be closed or open, not {other:?}")),
            };
            if let Some(h) = &e.sha256
                && (h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err(format!("{at}: sha256 must be 64 hex digits"));
            }
            let config: Arc<[u8]> = match e.config {
                None | Some(serde_json::Value::Null) => Arc::from(&[][..]),
                Some(serde_json::Value::String(s)) => Arc::from(s.into_bytes()),
                Some(v) => Arc::from(serde_json::to_vec(&v).map_err(|err| format!("{at}: config: {err}"))?),
            };
            Ok(PluginRequest { name: e.name, config, failure, sha256: e.sha256.map(|h| h.to_ascii_lowercase()) })
        })
        .collect()
}

/// The result of reading an Ingress's annotations.
#[derive(Debug, Default)]
pub struct Parsed {
    pub policy: RoutePolicy,
    /// The plugins to attach, still to be resolved against those installed.
    pub plugins: Vec<PluginRequest>,
    /// Bad values: each one rejects the Ingress.
    pub errors: Vec<String>,
    /// Unknown keys: reported, ignored.
    pub warnings: Vec<String>,
}

pub fn parse(annotations: Option<&BTreeMap<String, String>>) -> Parsed {
    let mut out = Parsed::default();
    for (key, value) in annotations.into_iter().flatten() {
        if !key.starts_with(PREFIX) {
            continue;
        }
        match key.as_str() {
            PLUGINS => match parse_plugins(value) {
                Ok(p) => out.plugins = p,
                Err(e) => out.errors.push(format!("annotation {key}: {e}")),
            },
            PROXY_READ_TIMEOUT => match duration::parse(value) {
                Ok(d) if !d.is_zero() => out.policy.response_timeout = Some(d),
                Ok(_) => out.errors.push(format!("annotation {key}: must be greater than zero")),
                Err(e) => out.errors.push(format!("annotation {key}: {e}")),
            },
            PROXY_BODY_SIZE => match crate::size::parse(value) {
                Ok(n) => out.policy.max_body = Some(n),
                Err(e) => out.errors.push(format!("annotation {key}: {e}")),
            },
            SSL_REDIRECT => match boolean(value) {
                Ok(on) => out.policy.ssl_redirect_off = !on,
                Err(e) => out.errors.push(format!("annotation {key}: {e}")),
            },
            HSTS => match hsts(value) {
                Ok(v) => out.policy.hsts = v,
                Err(e) => out.errors.push(format!("annotation {key}: {e}")),
            },
            BACKEND_PROTOCOL => match backend_protocol(value) {
                Ok(p) => out.policy.backend_protocol = p,
                Err(e) => out.errors.push(format!("annotation {key}: {e}")),
            },
            BACKEND_TLS_VERIFY => match boolean(value) {
                Ok(on) => out.policy.backend_tls_verify_off = !on,
                Err(e) => out.errors.push(format!("annotation {key}: {e}")),
            },
            _ => out.warnings.push(format!("unknown annotation {key} is ignored (known: {})", KNOWN.join(", "))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn read_timeout_is_parsed() {
        let p = parse(Some(&map(&[(PROXY_READ_TIMEOUT, "2s"), ("other.io/x", "y")])));
        assert_eq!(p.policy.response_timeout, Some(Duration::from_secs(2)));
        assert!(p.errors.is_empty() && p.warnings.is_empty());
    }

    #[test]
    fn body_size_is_parsed_in_nginx_units() {
        assert_eq!(parse(Some(&map(&[(PROXY_BODY_SIZE, "8m")]))).policy.max_body, Some(8 << 20));
        assert_eq!(parse(Some(&map(&[(PROXY_BODY_SIZE, "0")]))).policy.max_body, Some(0));
        let bad = parse(Some(&map(&[(PROXY_BODY_SIZE, "8 megs")])));
        assert!(bad.errors[0].starts_with("annotation wasmgress.io/proxy-body-size:"), "{:?}", bad.errors);
    }

    #[test]
    fn plugins_are_parsed_with_config_bytes_as_documented() {
        let value =
            "- name: waf\n  config: {mode: block}\n- name: raw\n  failure: open\n  config: \"x=1\"\n- name: bare\n";
        let p = parse_plugins(value).unwrap();
        assert_eq!(p[0].name, "waf");
        assert_eq!(&*p[0].config, br#"{"mode":"block"}"#);
        assert_eq!(p[0].failure, FailurePolicy::Closed);
        assert_eq!(&*p[1].config, b"x=1", "a string reaches the plugin as its raw bytes");
        assert_eq!(p[1].failure, FailurePolicy::Open);
        assert!(p[2].config.is_empty());
        let json = parse_plugins(r#"[{"name": "waf", "config": {"a": [1, 2]}}]"#).unwrap();
        assert_eq!(&*json[0].config, br#"{"a":[1,2]}"#);
    }

    #[test]
    fn bad_plugin_lists_say_what_is_wrong() {
        assert!(parse_plugins("name: waf").unwrap_err().contains("not a list"));
        assert!(parse_plugins("- name: waf\n  confg: {}").unwrap_err().contains("not a list"));
        assert!(parse_plugins("- name: waf\n  failure: maybe").unwrap_err().contains("failure must be closed or open"));
        assert!(parse_plugins("- name: \"../etc/passwd\"").unwrap_err().contains("name must be a plugin name"));
        assert!(parse_plugins("- name: waf\n  sha256: abc").unwrap_err().contains("64 hex digits"));
    }

    #[test]
    fn tls_and_backend_annotations_are_parsed() {
        let p = parse(Some(&map(&[
            (SSL_REDIRECT, "false"),
            (HSTS, "true"),
            (BACKEND_PROTOCOL, "grpc"),
            (BACKEND_TLS_VERIFY, "false"),
        ])));
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert!(p.policy.ssl_redirect_off && p.policy.backend_tls_verify_off);
        assert_eq!(p.policy.hsts.as_ref().map(|v| v.to_str().unwrap()), Some("max-age=31536000"));
        assert_eq!(p.policy.backend_protocol, BackendProtocol::Grpc);
        let custom = parse(Some(&map(&[(HSTS, "max-age=63072000; includeSubDomains; preload")])));
        assert_eq!(custom.policy.hsts.unwrap(), "max-age=63072000; includeSubDomains; preload");
        let bad = parse(Some(&map(&[(SSL_REDIRECT, "yes"), (HSTS, "always"), (BACKEND_PROTOCOL, "FTP")])));
        assert_eq!(bad.errors.len(), 3, "{:?}", bad.errors);
        assert!(bad.errors.iter().any(|e| e.contains("must be HTTP, HTTPS, H2C or GRPC")));
    }

    #[test]
    fn bad_values_and_unknown_keys_are_reported() {
        let p = parse(Some(&map(&[(PROXY_READ_TIMEOUT, "soon"), ("wasmgress.io/proxy-raed-timeout", "1s")])));
        assert!(p.errors[0].starts_with("annotation wasmgress.io/proxy-read-timeout:"), "{:?}", p.errors);
        assert!(p.warnings[0].contains("wasmgress.io/proxy-raed-timeout"));
        let zero = parse(Some(&map(&[(PROXY_READ_TIMEOUT, "0s")])));
        assert_eq!(zero.errors.len(), 1);
    }
}
