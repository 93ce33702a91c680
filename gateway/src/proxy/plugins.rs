//! The bridge between HTTP messages and plugin header maps: pseudo-headers
//! first (`:method :path :authority :scheme`, or `:status`), then the
//! rest, lower-cased, as Proxy-Wasm plugins expect for every protocol.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Response, StatusCode, Uri};

use super::body::ResponseBody;
use crate::wasm::abi::HeaderPairs;
use crate::wasm::host::LocalResponse;

/// Sets a pseudo-header read back from a plugin.
type PseudoSetter<'a> = &'a mut dyn FnMut(&str, Vec<u8>) -> Result<(), InvalidPseudoHeader>;

fn regular(headers: &HeaderMap, out: &mut HeaderPairs) {
    for (name, value) in headers {
        if name != header::HOST {
            out.push((name.as_str().to_string(), value.as_bytes().to_vec()));
        }
    }
}

/// The request as a plugin sees it.
pub fn request_pairs(parts: &http::request::Parts, authority: &[u8], scheme: &str) -> HeaderPairs {
    let mut out = Vec::with_capacity(parts.headers.len() + 4);
    out.push((":method".into(), parts.method.as_str().as_bytes().to_vec()));
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    out.push((":path".into(), path.as_bytes().to_vec()));
    out.push((":authority".into(), authority.to_vec()));
    out.push((":scheme".into(), scheme.as_bytes().to_vec()));
    regular(&parts.headers, &mut out);
    out
}

/// The response as a plugin sees it.
pub fn response_pairs(parts: &http::response::Parts) -> HeaderPairs {
    let mut out = Vec::with_capacity(parts.headers.len() + 1);
    out.push((":status".into(), parts.status.as_str().as_bytes().to_vec()));
    regular(&parts.headers, &mut out);
    out
}

/// Trailers as a plugin sees them.
pub fn trailer_pairs(trailers: &HeaderMap) -> HeaderPairs {
    let mut out = Vec::with_capacity(trailers.len());
    regular(trailers, &mut out);
    out
}

/// Trailers as a plugin left them (pseudo-headers have no place there).
pub fn trailers_from(pairs: HeaderPairs) -> HeaderMap {
    rebuild(pairs, &mut |_, _| Ok(())).unwrap_or_default()
}

/// A pseudo-header a plugin set to something unusable.
#[derive(Debug, thiserror::Error)]
#[error("plugin set {0} to an invalid value")]
pub struct InvalidPseudoHeader(&'static str);

/// Rebuilds the regular headers from pairs; invalid names or values a
/// plugin wrote are dropped (and logged), never forwarded.
fn rebuild(pairs: HeaderPairs, pseudo: PseudoSetter<'_>) -> Result<HeaderMap, InvalidPseudoHeader> {
    let mut headers = HeaderMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        if name.starts_with(':') {
            pseudo(&name, value)?;
            continue;
        }
        match (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(&value)) {
            (Ok(n), Ok(v)) => {
                headers.append(n, v);
            }
            _ => tracing::debug!(header = %name, "dropping a header a plugin set to an invalid name or value"),
        }
    }
    Ok(headers)
}

/// Writes a plugin's view of the request back: method, path, authority (as
/// Host) and headers.
pub fn apply_request(parts: &mut http::request::Parts, pairs: HeaderPairs) -> Result<(), InvalidPseudoHeader> {
    let (mut method, mut uri, mut host) = (None, None, None);
    let headers = rebuild(pairs, &mut |name, value| {
        match name {
            ":method" => method = Some(Method::from_bytes(&value).map_err(|_| InvalidPseudoHeader(":method"))?),
            ":path" => {
                let ok = value.first() == Some(&b'/');
                uri = Some(Uri::try_from(value).ok().filter(|_| ok).ok_or(InvalidPseudoHeader(":path"))?);
            }
            ":authority" => {
                host = Some(HeaderValue::from_bytes(&value).map_err(|_| InvalidPseudoHeader(":authority"))?)
            }
            _ => {}
        }
        Ok(())
    })?;
    parts.headers = headers;
    if let Some(m) = method {
        parts.method = m;
    }
    if let Some(u) = uri {
        parts.uri = u;
    }
    if let Some(h) = host {
        parts.headers.insert(header::HOST, h);
    }
    Ok(())
}

/// Writes a plugin's view of the response back: status and headers.
pub fn apply_response(parts: &mut http::response::Parts, pairs: HeaderPairs) -> Result<(), InvalidPseudoHeader> {
    let mut status = None;
    let headers = rebuild(pairs, &mut |name, value| {
        if name == ":status" {
            let code = std::str::from_utf8(&value).ok().and_then(|s| s.parse::<u16>().ok());
            status = Some(code.and_then(|c| StatusCode::from_u16(c).ok()).ok_or(InvalidPseudoHeader(":status"))?);
        }
        Ok(())
    })?;
    parts.headers = headers;
    if let Some(s) = status {
        parts.status = s;
    }
    Ok(())
}

/// The answer a plugin sent with `send_local_response`.
pub fn local_answer(local: LocalResponse) -> Response<ResponseBody> {
    let mut resp = Response::new(ResponseBody::local(local.body));
    *resp.status_mut() = StatusCode::from_u16(local.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in local.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(&value))
            && !name.starts_with(':')
        {
            resp.headers_mut().append(n, v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip_with_pseudo_headers() {
        let req = http::Request::post("/a?b=1").header("host", "shop.com").header("x-a", "1").body(()).unwrap();
        let (mut parts, ()) = req.into_parts();
        let mut pairs = request_pairs(&parts, b"shop.com", "http");
        assert_eq!(pairs[0], (":method".to_string(), b"POST".to_vec()));
        assert_eq!(pairs[1], (":path".to_string(), b"/a?b=1".to_vec()));
        assert!(!pairs.iter().any(|(k, _)| k == "host"), "Host travels as :authority");
        pairs[1].1 = b"/rewritten".to_vec();
        pairs.push(("x-new".into(), b"v".to_vec()));
        pairs.push(("bad name".into(), b"v".to_vec()));
        apply_request(&mut parts, pairs).unwrap();
        assert_eq!(parts.uri, "/rewritten");
        assert_eq!(parts.headers["host"], "shop.com");
        assert_eq!(parts.headers["x-new"], "v");
        assert_eq!(parts.headers.len(), 3);
    }

    #[test]
    fn invalid_pseudo_headers_are_errors() {
        let (mut parts, ()) = http::Request::get("/").body(()).unwrap().into_parts();
        let pairs = vec![(":path".to_string(), b"no-slash".to_vec())];
        assert!(apply_request(&mut parts, pairs).is_err());
        let (mut rparts, ()) = http::Response::new(()).into_parts();
        assert!(apply_response(&mut rparts, vec![(":status".into(), b"abc".to_vec())]).is_err());
        apply_response(&mut rparts, vec![(":status".into(), b"418".to_vec())]).unwrap();
        assert_eq!(rparts.status, 418);
    }
}
