//! `proxy_http_call`: what a plugin asks to call, how the upstream name
//! addresses a Service, and the interface the proxy implements to send it.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::abi::HeaderPairs;

/// A call a plugin dispatched; it runs once the callback has returned.
#[derive(Debug, Clone)]
pub struct HttpCall {
    pub token: u32,
    pub target: ServiceTarget,
    /// Pseudo-headers `:method :path :authority` first, as the plugin sent them.
    pub headers: HeaderPairs,
    pub body: Vec<u8>,
    pub timeout: Duration,
}

/// What came back; a failed call (no endpoint, refused, timed out) has no
/// headers at all, as Envoy reports it.
#[derive(Debug, Clone, Default)]
pub struct HttpCallResponse {
    pub headers: HeaderPairs,
    pub body: Vec<u8>,
}

/// A Service port in the cluster, as a call's upstream name gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTarget {
    /// `None`: the namespace of the Ingress the request came through.
    pub namespace: Option<String>,
    pub name: String,
    pub port: u16,
}

impl ServiceTarget {
    /// Parses `SERVICE[.NAMESPACE[.svc[.cluster.local]]]:PORT`, the names
    /// cluster DNS gives Services; `None` when it is not one.
    pub fn parse(upstream: &str) -> Option<Self> {
        let (host, port) = upstream.rsplit_once(':')?;
        let port = port.parse().ok().filter(|p| *p != 0)?;
        let host = host.strip_suffix(".cluster.local").unwrap_or(host);
        let host = host.strip_suffix(".svc").unwrap_or(host);
        let (name, namespace) = match host.split_once('.') {
            Some((name, ns)) => (name, Some(ns)),
            None => (host, None),
        };
        let label = |s: &str| {
            !s.is_empty()
                && s.len() <= 63
                && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if !label(name) || namespace.is_some_and(|n| !label(n)) {
            return None;
        }
        Some(Self { namespace: namespace.map(str::to_string), name: name.to_string(), port })
    }
}

pub type CallFuture = Pin<Box<dyn Future<Output = HttpCallResponse> + Send>>;

/// Sends plugin calls: the proxy implements it over the live route table.
pub trait CallOut: Send + Sync {
    /// `namespace`: where a target without one is looked up.
    fn call(&self, call: HttpCall, namespace: Option<&str>) -> CallFuture;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_names_address_services_the_way_cluster_dns_does() {
        let t = |ns: Option<&str>, name: &str, port| {
            Some(ServiceTarget { namespace: ns.map(str::to_string), name: name.to_string(), port })
        };
        assert_eq!(ServiceTarget::parse("auth:8080"), t(None, "auth", 8080));
        assert_eq!(ServiceTarget::parse("auth.security:80"), t(Some("security"), "auth", 80));
        assert_eq!(ServiceTarget::parse("auth.security.svc:80"), t(Some("security"), "auth", 80));
        assert_eq!(ServiceTarget::parse("auth.security.svc.cluster.local:80"), t(Some("security"), "auth", 80));
        for bad in ["auth", "auth:0", "auth:http", "Auth:80", "a.b.c:80", ":80", "auth.:80", "127.0.0.1:80"] {
            assert_eq!(ServiceTarget::parse(bad), None, "{bad}");
        }
    }
}
