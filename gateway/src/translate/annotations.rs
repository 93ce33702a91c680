//! The `wasmgress.io/*` annotations an Ingress may carry, parsed into the
//! policy of its routes. A bad value rejects the Ingress; an unknown key is
//! reported and ignored, so a typo never goes unnoticed.

use std::collections::BTreeMap;

use crate::duration;
use crate::routing::RoutePolicy;

pub const PREFIX: &str = "wasmgress.io/";
pub const PROXY_READ_TIMEOUT: &str = "wasmgress.io/proxy-read-timeout";

/// Annotations this version understands.
const KNOWN: &[&str] = &[PROXY_READ_TIMEOUT];

/// The result of reading an Ingress's annotations.
#[derive(Debug, Default)]
pub struct Parsed {
    pub policy: RoutePolicy,
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
            PROXY_READ_TIMEOUT => match duration::parse(value) {
                Ok(d) if !d.is_zero() => out.policy.response_timeout = Some(d),
                Ok(_) => out.errors.push(format!("annotation {key}: must be greater than zero")),
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
    fn bad_values_and_unknown_keys_are_reported() {
        let p = parse(Some(&map(&[(PROXY_READ_TIMEOUT, "soon"), ("wasmgress.io/proxy-raed-timeout", "1s")])));
        assert!(p.errors[0].starts_with("annotation wasmgress.io/proxy-read-timeout:"), "{:?}", p.errors);
        assert!(p.warnings[0].contains("wasmgress.io/proxy-raed-timeout"));
        let zero = parse(Some(&map(&[(PROXY_READ_TIMEOUT, "0s")])));
        assert_eq!(zero.errors.len(), 1);
    }
}
