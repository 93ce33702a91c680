//! `wasmgress demo`: the example manifests served on this machine, with an
//! echo backend started for every loopback endpoint they name.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::cluster::ClusterState;
use crate::echo;
use crate::translate::SERVICE_NAME_LABEL;
use crate::translate::annotations::{PLUGINS, parse_plugins};

/// Every (address, service) pair on loopback that the EndpointSlices list.
pub fn loopback_endpoints(state: &ClusterState) -> BTreeSet<(SocketAddr, String)> {
    let mut out = BTreeSet::new();
    for slice in &state.endpoint_slices {
        let Some(service) = slice.metadata.labels.as_ref().and_then(|l| l.get(SERVICE_NAME_LABEL)) else {
            continue;
        };
        for port in slice.ports.iter().flatten().filter_map(|p| p.port).filter_map(|p| u16::try_from(p).ok()) {
            for ep in slice.endpoints.iter().flatten() {
                for addr in ep.addresses.iter().filter_map(|a| a.parse::<std::net::IpAddr>().ok()) {
                    if addr.is_loopback() {
                        out.insert((SocketAddr::new(addr, port), service.clone()));
                    }
                }
            }
        }
    }
    out
}

/// Starts an echo backend on each loopback endpoint, named after its Service.
pub async fn start_backends(state: &ClusterState) -> std::io::Result<Vec<(SocketAddr, String)>> {
    let mut started = Vec::new();
    for (addr, service) in loopback_endpoints(state) {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("demo backend {service} on {addr}: {e}")))?;
        tokio::spawn(echo::serve(listener, service.clone()));
        started.push((addr, service));
    }
    Ok(started)
}

/// `curl` commands that exercise every rule of the example Ingresses.
pub fn curl_commands(state: &ClusterState, gateway: SocketAddr) -> Vec<String> {
    let mut out = Vec::new();
    for ing in &state.ingresses {
        // Routes through plugins: show the answer's headers too, on a path
        // the example's rewrite rule changes.
        let plugins = ing.metadata.annotations.as_ref().and_then(|a| a.get(PLUGINS));
        let waf = plugins.and_then(|p| parse_plugins(p).ok()).is_some_and(|list| list.iter().any(|p| p.name == "waf"));
        for rule in ing.spec.iter().flat_map(|s| s.rules.iter().flatten()) {
            let host = rule.host.as_deref().map(|h| h.replace('*', "demo"));
            for p in rule.http.iter().flat_map(|h| &h.paths) {
                let path = p.path.as_deref().unwrap_or("/");
                let host_flag = host.as_ref().map(|h| format!("-H 'Host: {h}' ")).unwrap_or_default();
                if waf {
                    let base = format!("http://{gateway}{}", path.trim_end_matches('/'));
                    out.push(format!(
                        "curl -si {host_flag}'{base}/search?q=1%27%20OR%20%271%27%3D%271'   # SQL injection: 403 from the WAF"
                    ));
                    out.push(format!(
                        "curl -si {host_flag}'{base}/search?q=O%27Brien%20select%20union'   # an ordinary search: passes"
                    ));
                } else if plugins.is_some() {
                    let path = format!("{}/api/hello?x=1", path.trim_end_matches('/'));
                    out.push(format!(
                        "curl -si {host_flag}'http://{gateway}{path}'   # through plugins: see the path and x-* headers the backend got"
                    ));
                } else {
                    out.push(format!("curl -s {host_flag}http://{gateway}{path}"));
                }
            }
        }
    }
    out.push(format!("curl -s -H 'Host: unknown.example' http://{gateway}/anything   # default backend"));
    out
}
