//! Header rules at the proxy boundary: hop-by-hop headers stay on their hop,
//! and the upstream learns who the client was through X-Forwarded-*.

use std::net::SocketAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Removes the hop-by-hop headers of RFC 9110 §7.6.1, including every header
/// the `Connection` header names. Returns the `Upgrade` value when the
/// message asked to switch protocols, so the caller can carry it across.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) -> Option<HeaderValue> {
    let mut upgrade = None;
    if let Some(conn) = headers.remove(header::CONNECTION) {
        let listed: Vec<HeaderName> = conn
            .to_str()
            .unwrap_or("")
            .split(',')
            .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
            .collect();
        let wants_upgrade = listed.contains(&header::UPGRADE);
        for name in listed {
            if name == header::UPGRADE {
                continue;
            }
            headers.remove(name);
        }
        if wants_upgrade {
            upgrade = headers.remove(header::UPGRADE);
        }
    }
    for name in [&KEEP_ALIVE, &PROXY_CONNECTION] {
        headers.remove(name);
    }
    // `Trailer` is end to end (RFC 9110 §6.6.2): it tells the next hop
    // which trailer fields to pass on, so it stays.
    for name in [
        header::TE,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
    ] {
        headers.remove(name);
    }
    upgrade
}

/// Puts an upgrade request (or a 101 answer) back on the next hop.
pub fn restore_upgrade(headers: &mut HeaderMap, upgrade: HeaderValue) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, upgrade);
}

/// Where a request came from and which listener took it, with the header
/// values derived from that formatted once per connection, not per request.
#[derive(Debug, Clone)]
pub struct Peer {
    pub client: SocketAddr,
    pub local: SocketAddr,
    pub scheme: &'static str,
    client_ip: HeaderValue,
    local_port: HeaderValue,
}

impl Peer {
    pub fn new(client: SocketAddr, local: SocketAddr, scheme: &'static str) -> Self {
        let client_ip = HeaderValue::from_str(&client.ip().to_string()).expect("an IP address is a valid header value");
        Self { client, local, scheme, client_ip, local_port: HeaderValue::from(local.port()) }
    }
}

/// Sets X-Forwarded-For/-Proto/-Host/-Port and X-Real-IP. Unless the client
/// is trusted to have set them (another proxy in front), any values it sent
/// are replaced, so a client cannot forge its address to the backend.
pub fn set_forwarded(headers: &mut HeaderMap, peer: &Peer, host: Option<&HeaderValue>, trust_incoming: bool) {
    let ip_value = &peer.client_ip;
    let forwarded_for = match headers.get(&X_FORWARDED_FOR).filter(|_| trust_incoming).and_then(|v| v.to_str().ok()) {
        Some(prior) => {
            let ip = ip_value.to_str().unwrap_or_default();
            HeaderValue::from_str(&format!("{prior}, {ip}")).unwrap_or_else(|_| ip_value.clone())
        }
        None => ip_value.clone(),
    };
    headers.insert(X_FORWARDED_FOR.clone(), forwarded_for);
    let keep = |headers: &HeaderMap, name: &HeaderName| trust_incoming && headers.contains_key(name);
    if !keep(headers, &X_REAL_IP) {
        headers.insert(X_REAL_IP.clone(), ip_value.clone());
    }
    if !keep(headers, &X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(peer.scheme));
    }
    if !keep(headers, &X_FORWARDED_HOST) {
        match host {
            Some(h) => headers.insert(X_FORWARDED_HOST.clone(), h.clone()),
            None => headers.remove(&X_FORWARDED_HOST),
        };
    }
    if !keep(headers, &X_FORWARDED_PORT) {
        headers.insert(X_FORWARDED_PORT.clone(), peer.local_port.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap()))
            .collect()
    }

    #[test]
    fn hop_by_hop_and_connection_listed_headers_are_removed() {
        let mut h = map(&[
            ("connection", "keep-alive, x-secret"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("x-app", "kept"),
            ("trailer", "x-checksum"),
        ]);
        assert_eq!(strip_hop_by_hop(&mut h), None);
        let mut names: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["trailer", "x-app"]);
    }

    #[test]
    fn upgrade_is_returned_only_when_connection_asks_for_it() {
        let mut h = map(&[("connection", "Upgrade"), ("upgrade", "websocket")]);
        assert_eq!(strip_hop_by_hop(&mut h), Some(HeaderValue::from_static("websocket")));
        assert!(h.is_empty());
        let mut h = map(&[("upgrade", "websocket")]);
        assert_eq!(strip_hop_by_hop(&mut h), None);
        assert!(h.is_empty());
    }

    fn peer() -> Peer {
        Peer::new("192.0.2.7:5555".parse().unwrap(), "127.0.0.1:8080".parse().unwrap(), "http")
    }

    #[test]
    fn forged_forwarded_headers_are_replaced_by_default() {
        let mut h = map(&[("x-forwarded-for", "1.2.3.4"), ("x-real-ip", "1.2.3.4"), ("x-forwarded-proto", "https")]);
        set_forwarded(&mut h, &peer(), Some(&HeaderValue::from_static("shop.com")), false);
        assert_eq!(h["x-forwarded-for"], "192.0.2.7");
        assert_eq!(h["x-real-ip"], "192.0.2.7");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "shop.com");
        assert_eq!(h["x-forwarded-port"], "8080");
    }

    #[test]
    fn trusted_forwarded_headers_are_extended() {
        let mut h = map(&[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-proto", "https")]);
        set_forwarded(&mut h, &peer(), None, true);
        assert_eq!(h["x-forwarded-for"], "1.2.3.4, 192.0.2.7");
        assert_eq!(h["x-forwarded-proto"], "https");
    }
}
