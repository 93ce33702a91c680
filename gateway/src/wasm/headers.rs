//! Header maps as plugins see them, read and written in place on the
//! message's own `http` parts: nothing is copied into pairs and rebuilt
//! unless the plugin asks for the whole map. Pseudo-headers come first
//! (`:method :path :authority :scheme`, or `:status`), then the rest,
//! lower-cased; the request's Host travels as `:authority`.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Uri};

use super::abi::{HeaderPairs, Status};

/// A request head with what HTTP/1.1 does not carry in it.
#[derive(Debug)]
pub struct RequestHead {
    pub parts: http::request::Parts,
    pub scheme: &'static str,
}

impl RequestHead {
    /// A copy of the head (no extensions), for callbacks after the
    /// request has gone upstream.
    pub fn snapshot(&self) -> RequestHead {
        let mut req = http::Request::new(());
        *req.method_mut() = self.parts.method.clone();
        *req.uri_mut() = self.parts.uri.clone();
        *req.version_mut() = self.parts.version;
        *req.headers_mut() = self.parts.headers.clone();
        RequestHead { parts: req.into_parts().0, scheme: self.scheme }
    }
}

/// A copy of a response head (no extensions), for callbacks after it was sent.
pub fn response_snapshot(parts: &http::response::Parts) -> http::response::Parts {
    let mut resp = http::Response::new(());
    *resp.status_mut() = parts.status;
    *resp.version_mut() = parts.version;
    *resp.headers_mut() = parts.headers.clone();
    resp.into_parts().0
}

/// One map a host call reads or writes.
pub enum MapMut<'a> {
    Request(&'a mut RequestHead),
    Response(&'a mut http::response::Parts),
    Trailers(&'a mut HeaderMap),
    Pairs(&'a mut HeaderPairs),
}

fn regular<'a>(headers: &'a HeaderMap, skip_host: bool, out: &mut Vec<(&'a [u8], &'a [u8])>) {
    for (name, value) in headers {
        if !(skip_host && name == header::HOST) {
            out.push((name.as_str().as_bytes(), value.as_bytes()));
        }
    }
}

/// Parses a header a plugin wrote; `None` (and a debug line) when invalid:
/// an invalid header is dropped, never forwarded.
fn header(name: &str, value: &[u8]) -> Option<(HeaderName, HeaderValue)> {
    match (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(value)) {
        (Ok(n), Ok(v)) => Some((n, v)),
        _ => {
            tracing::debug!(header = %name, "dropping a header a plugin set to an invalid name or value");
            None
        }
    }
}

impl MapMut<'_> {
    /// The first value of `name` (lower-case).
    pub fn get(&self, name: &str) -> Option<Vec<u8>> {
        match self {
            MapMut::Request(r) => match name {
                ":method" => Some(r.parts.method.as_str().as_bytes().to_vec()),
                ":path" => Some(r.parts.uri.path_and_query().map_or("/", |p| p.as_str()).as_bytes().to_vec()),
                ":authority" => r.parts.headers.get(header::HOST).map(|v| v.as_bytes().to_vec()),
                ":scheme" => Some(r.scheme.as_bytes().to_vec()),
                "host" => None,
                _ => r.parts.headers.get(name).map(|v| v.as_bytes().to_vec()),
            },
            MapMut::Response(r) => match name {
                ":status" => Some(r.status.as_str().as_bytes().to_vec()),
                _ => r.headers.get(name).map(|v| v.as_bytes().to_vec()),
            },
            MapMut::Trailers(t) => t.get(name).map(|v| v.as_bytes().to_vec()),
            MapMut::Pairs(p) => p.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
        }
    }

    /// Every entry, pseudo-headers first, as slices of the message.
    fn entries(&self) -> Vec<(&[u8], &[u8])> {
        let mut out: Vec<(&[u8], &[u8])> = Vec::with_capacity(self.count());
        match self {
            MapMut::Request(r) => {
                let path = r.parts.uri.path_and_query().map_or("/", |p| p.as_str());
                let authority = r.parts.headers.get(header::HOST).map_or(&b""[..], HeaderValue::as_bytes);
                out.extend([
                    (&b":method"[..], r.parts.method.as_str().as_bytes()),
                    (b":path", path.as_bytes()),
                    (b":authority", authority),
                    (b":scheme", r.scheme.as_bytes()),
                ]);
                regular(&r.parts.headers, true, &mut out);
            }
            MapMut::Response(r) => {
                out.push((b":status", r.status.as_str().as_bytes()));
                regular(&r.headers, false, &mut out);
            }
            MapMut::Trailers(t) => regular(t, false, &mut out),
            MapMut::Pairs(p) => out.extend(p.iter().map(|(k, v)| (k.as_bytes(), v.as_slice()))),
        }
        out
    }

    /// Every entry, pseudo-headers first.
    pub fn pairs(&self) -> HeaderPairs {
        // Names are ASCII (checked `HeaderName`s, or the plugin's own strings).
        self.entries().into_iter().map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), v.to_vec())).collect()
    }

    /// `pairs`, serialized the ABI way, with no entry copied out first.
    pub fn encode(&self) -> Vec<u8> {
        super::abi::encode_map(&self.entries())
    }

    /// How long `encode` would be, without making it.
    pub fn encoded_len(&self) -> usize {
        super::abi::encoded_len(&self.entries())
    }

    /// How many entries `pairs` would give.
    pub fn count(&self) -> usize {
        match self {
            MapMut::Request(r) => r.parts.headers.len() + 4 - usize::from(r.parts.headers.contains_key(header::HOST)),
            MapMut::Response(r) => r.headers.len() + 1,
            MapMut::Trailers(t) => t.len(),
            MapMut::Pairs(p) => p.len(),
        }
    }

    /// Sets a pseudo-header; BadArgument when the value is unusable (the
    /// plugin gets the status, the message keeps its old value).
    fn set_pseudo(&mut self, name: &str, value: &[u8]) -> Status {
        match (self, name) {
            (MapMut::Request(r), ":method") => match Method::from_bytes(value) {
                Ok(m) => r.parts.method = m,
                Err(_) => return Status::BadArgument,
            },
            (MapMut::Request(r), ":path") => match Uri::try_from(value) {
                Ok(u) if value.first() == Some(&b'/') => r.parts.uri = u,
                _ => return Status::BadArgument,
            },
            (MapMut::Request(r), ":authority") => match HeaderValue::from_bytes(value) {
                Ok(v) => {
                    r.parts.headers.insert(header::HOST, v);
                }
                Err(_) => return Status::BadArgument,
            },
            (MapMut::Response(r), ":status") => {
                let code = std::str::from_utf8(value).ok().and_then(|s| s.parse::<u16>().ok());
                match code.and_then(|c| StatusCode::from_u16(c).ok()) {
                    Some(s) => r.status = s,
                    None => return Status::BadArgument,
                }
            }
            // :scheme and unknown pseudo-headers say how the request came
            // in; nothing to change there.
            _ => {}
        }
        Status::Ok
    }

    fn headers(&mut self) -> Option<&mut HeaderMap> {
        match self {
            MapMut::Request(r) => Some(&mut r.parts.headers),
            MapMut::Response(r) => Some(&mut r.headers),
            MapMut::Trailers(t) => Some(t),
            MapMut::Pairs(_) => None,
        }
    }

    /// Adds a value, keeping those already there.
    pub fn add(&mut self, name: &str, value: &[u8]) -> Status {
        if name.starts_with(':') || (name == "host" && matches!(self, MapMut::Request(_))) {
            return self.set_pseudo(if name == "host" { ":authority" } else { name }, value);
        }
        if let MapMut::Pairs(p) = self {
            p.push((name.to_string(), value.to_vec()));
        } else if let (Some(headers), Some((n, v))) = (self.headers(), header(name, value)) {
            headers.append(n, v);
        }
        Status::Ok
    }

    /// Replaces every value of `name` with one.
    pub fn replace(&mut self, name: &str, value: &[u8]) -> Status {
        if name.starts_with(':') || (name == "host" && matches!(self, MapMut::Request(_))) {
            return self.set_pseudo(if name == "host" { ":authority" } else { name }, value);
        }
        if let MapMut::Pairs(p) = self {
            p.retain(|(k, _)| k != name);
            p.push((name.to_string(), value.to_vec()));
        } else if let (Some(headers), Some((n, v))) = (self.headers(), header(name, value)) {
            headers.insert(n, v);
        }
        Status::Ok
    }

    /// Removes every value of `name`. Pseudo-headers cannot be removed.
    pub fn remove(&mut self, name: &str) {
        if name.starts_with(':') {
            return;
        }
        match self {
            MapMut::Pairs(p) => p.retain(|(k, _)| k != name),
            MapMut::Request(_) if name == "host" => {}
            _ => {
                if let Some(headers) = self.headers() {
                    headers.remove(name);
                }
            }
        }
    }

    /// Replaces the whole map (pseudo-headers set the message's fields).
    pub fn set_pairs(&mut self, pairs: HeaderPairs) -> Status {
        if let MapMut::Pairs(p) = self {
            **p = pairs;
            return Status::Ok;
        }
        let mut fresh = HeaderMap::with_capacity(pairs.len());
        let mut status = Status::Ok;
        let request = matches!(self, MapMut::Request(_));
        for (name, value) in &pairs {
            if name.starts_with(':') || (request && name == "host") {
                let name = if name == "host" { ":authority" } else { name };
                if self.set_pseudo(name, value) != Status::Ok {
                    status = Status::BadArgument;
                }
            } else if let Some((n, v)) = header(name, value) {
                fresh.append(n, v);
            }
        }
        // The request's Host is its :authority, not a regular header.
        if let MapMut::Request(r) = self
            && let Some(host) = r.parts.headers.remove(header::HOST)
        {
            fresh.insert(header::HOST, host);
        }
        if let Some(headers) = self.headers() {
            *headers = fresh;
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> RequestHead {
        let req = http::Request::post("/a?b=1").header("host", "shop.com").header("x-a", "1").body(()).unwrap();
        RequestHead { parts: req.into_parts().0, scheme: "http" }
    }

    #[test]
    fn a_request_reads_with_pseudo_headers_and_host_as_authority() {
        let mut head = request();
        let map = MapMut::Request(&mut head);
        let pairs = map.pairs();
        assert_eq!(pairs[0], (":method".to_string(), b"POST".to_vec()));
        assert_eq!(pairs[1], (":path".to_string(), b"/a?b=1".to_vec()));
        assert_eq!(pairs[2], (":authority".to_string(), b"shop.com".to_vec()));
        assert_eq!(pairs[3], (":scheme".to_string(), b"http".to_vec()));
        assert!(!pairs.iter().any(|(k, _)| k == "host"), "Host travels as :authority");
        assert_eq!(pairs.len(), map.count());
        assert_eq!(map.get("x-missing"), None);
    }

    #[test]
    fn every_map_encodes_as_its_pairs_do() {
        use super::super::abi::encode_map;
        let mut head = request();
        let mut no_host = request();
        no_host.parts.headers.remove("host");
        let (mut parts, ()) = http::Response::builder().status(404).header("x-b", "2").body(()).unwrap().into_parts();
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        let mut pairs: HeaderPairs = vec![("k".into(), b"v".to_vec())];
        for map in [
            MapMut::Request(&mut head),
            MapMut::Request(&mut no_host),
            MapMut::Response(&mut parts),
            MapMut::Trailers(&mut trailers),
            MapMut::Pairs(&mut pairs),
        ] {
            assert_eq!(map.encode(), encode_map(&map.pairs()));
            assert_eq!(map.encoded_len(), map.encode().len());
        }
    }

    #[test]
    fn writes_land_on_the_message_and_invalid_ones_are_refused_or_dropped() {
        let mut head = request();
        let mut map = MapMut::Request(&mut head);
        assert_eq!(map.replace(":path", b"/rewritten"), Status::Ok);
        assert_eq!(map.replace(":path", b"no-slash"), Status::BadArgument);
        assert_eq!(map.add("x-new", b"v"), Status::Ok);
        assert_eq!(map.add("bad name", b"v"), Status::Ok, "dropped, not forwarded");
        map.remove("x-a");
        map.remove("host");
        assert_eq!(head.parts.uri, "/rewritten");
        assert_eq!(head.parts.headers["host"], "shop.com");
        assert_eq!(head.parts.headers["x-new"], "v");
        assert_eq!(head.parts.headers.len(), 2);

        let (mut parts, ()) = http::Response::new(()).into_parts();
        let mut map = MapMut::Response(&mut parts);
        assert_eq!(map.set_pairs(vec![(":status".into(), b"abc".to_vec())]), Status::BadArgument);
        assert_eq!(map.set_pairs(vec![(":status".into(), b"418".to_vec()), ("x".into(), b"1".to_vec())]), Status::Ok);
        assert_eq!(parts.status, 418);
        assert_eq!(parts.headers["x"], "1");
    }

    #[test]
    fn replacing_every_request_header_keeps_the_authority() {
        let mut head = request();
        let mut map = MapMut::Request(&mut head);
        assert_eq!(
            map.set_pairs(vec![(":method".into(), b"GET".to_vec()), ("x-only".into(), b"1".to_vec())]),
            Status::Ok
        );
        assert_eq!(head.parts.method, Method::GET);
        assert_eq!(head.parts.headers["host"], "shop.com");
        assert_eq!(head.parts.headers.len(), 2);
    }
}
