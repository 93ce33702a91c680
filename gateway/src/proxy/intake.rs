//! What the gateway takes from a client before anything goes upstream: the
//! request head checks hyper leaves to us (one Host, one plain `chunked`
//! coding, a bounded request target, no TRACE) and the client's body under
//! a size limit and a pace limit.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap};
use http::{Method, StatusCode, Version};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use super::body::{BoxError, ResponseBody};
use super::service::local_response;

/// A request refused before it went anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    text: &'static str,
}

impl Refusal {
    /// The answer; the connection is closed after it, since the rest of
    /// what the client sent cannot be trusted to start a request.
    pub fn answer(self) -> http::Response<ResponseBody> {
        let mut resp = local_response(self.status, self.text);
        resp.headers_mut().insert(header::CONNECTION, http::HeaderValue::from_static("close"));
        resp
    }
}

const fn refuse(status: StatusCode, text: &'static str) -> Refusal {
    Refusal { status, text }
}

/// Limits on what a client may send.
#[derive(Debug, Clone)]
pub struct IntakeLimits {
    /// The longest request target (path and query) accepted; longer: 414.
    pub max_request_target: usize,
    /// The largest request body, unless the route's Ingress sets its own
    /// (`wasmgress.io/proxy-body-size`); `None`: no limit.
    pub max_body: Option<u64>,
    /// The longest wait for the next piece of a request body.
    pub body_timeout: Duration,
}

impl Default for IntakeLimits {
    fn default() -> Self {
        Self { max_request_target: 8 << 10, max_body: Some(1 << 20), body_timeout: Duration::from_secs(60) }
    }
}

/// Checks the request head; `Err` is why it is refused. hyper has
/// already rejected malformed framing (conflicting lengths, a last coding
/// other than `chunked`, bad characters); these are the ambiguities it lets
/// through.
pub fn check_head(
    method: &Method,
    version: Version,
    target_len: usize,
    headers: &HeaderMap,
    limits: &IntakeLimits,
) -> Result<(), Refusal> {
    if target_len > limits.max_request_target {
        return Err(refuse(StatusCode::URI_TOO_LONG, "request target too long\n"));
    }
    // RFC 9112 §3.2: more than one Host is a 400; two could route apart.
    let mut hosts = headers.get_all(header::HOST).iter();
    if hosts.next().is_some() && hosts.next().is_some() {
        return Err(refuse(StatusCode::BAD_REQUEST, "more than one Host header\n"));
    }
    // Only a single `chunked` is framed the same by every hop: other codings
    // would reach the upstream undone, `chunked, chunked` is invalid.
    if version == Version::HTTP_11 {
        let mut codings = headers.get_all(header::TRANSFER_ENCODING).iter();
        if let Some(first) = codings.next()
            && (codings.next().is_some() || !first.as_bytes().trim_ascii().eq_ignore_ascii_case(b"chunked"))
        {
            return Err(refuse(StatusCode::BAD_REQUEST, "unsupported Transfer-Encoding\n"));
        }
    }
    // TRACE echoes the request, cookies and credentials included (XST).
    if method == Method::TRACE {
        return Err(refuse(StatusCode::METHOD_NOT_ALLOWED, "TRACE is not allowed\n"));
    }
    Ok(())
}

/// Whether a declared body length is already over `limit`.
pub fn declared_too_large(headers: &HeaderMap, limit: Option<u64>) -> bool {
    let Some(limit) = limit else { return false };
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|len| len > limit)
}

/// Why a client's body stopped short, once it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    TooLarge = 1,
    TimedOut = 2,
    /// The client broke the framing or went away.
    Broken = 3,
}

/// Where the body notes its fault, for whoever answers the request.
#[derive(Debug, Default)]
pub struct FaultCell(AtomicU8);

impl FaultCell {
    fn set(&self, fault: Fault) {
        let _ = self.0.compare_exchange(0, fault as u8, Ordering::Relaxed, Ordering::Relaxed);
    }

    pub fn get(&self) -> Option<Fault> {
        match self.0.load(Ordering::Relaxed) {
            1 => Some(Fault::TooLarge),
            2 => Some(Fault::TimedOut),
            3 => Some(Fault::Broken),
            _ => None,
        }
    }
}

/// The answer to a request whose body failed: the client's fault, not
/// the upstream's.
pub fn answer(fault: Fault) -> http::Response<ResponseBody> {
    match fault {
        Fault::TooLarge => refuse(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n"),
        Fault::TimedOut => refuse(StatusCode::REQUEST_TIMEOUT, "request body timed out\n"),
        Fault::Broken => refuse(StatusCode::BAD_REQUEST, "bad request body\n"),
    }
    .answer()
}

#[derive(Debug, thiserror::Error)]
#[error("client request body: {0:?}")]
struct BodyFault(Fault);

/// A client's request body, cut off when it grows past its limit or stalls
/// longer than the body timeout between two pieces.
pub struct Inbound {
    inner: Incoming,
    /// Bytes still allowed; `None`: no limit.
    allowed: Option<u64>,
    timeout: Duration,
    /// Armed on the first wait, moved on after each piece received.
    idle: Option<Pin<Box<Sleep>>>,
    progressed: bool,
    /// `None` for a body that had ended before it was wrapped.
    fault: Option<Arc<FaultCell>>,
}

impl Inbound {
    /// Wraps `inner`; its faults are noted in the returned cell as well.
    pub fn new(inner: Incoming, limit: Option<u64>, timeout: Duration) -> (Self, Option<Arc<FaultCell>>) {
        let fault = (!inner.is_end_stream()).then(Arc::default);
        let body = Self { inner, allowed: limit, timeout, idle: None, progressed: false, fault: fault.clone() };
        (body, fault)
    }

    /// Why the body stopped short, if it did.
    pub fn fault(&self) -> Option<Fault> {
        self.fault.as_ref().and_then(|f| f.get())
    }

    fn note(&self, fault: Fault) {
        if let Some(cell) = &self.fault {
            cell.set(fault);
        }
    }

    fn fail(&mut self, fault: Fault) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.note(fault);
        Poll::Ready(Some(Err(BodyFault(fault).into())))
    }
}

impl Body for Inbound {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.progressed = true;
                if let (Some(allowed), Some(data)) = (this.allowed.as_mut(), frame.data_ref()) {
                    match allowed.checked_sub(data.len() as u64) {
                        Some(left) => *allowed = left,
                        None => return this.fail(Fault::TooLarge),
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.note(Fault::Broken);
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let deadline = Instant::now() + this.timeout;
                let idle = this.idle.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if std::mem::take(&mut this.progressed) {
                    idle.as_mut().reset(deadline);
                }
                ready!(idle.as_mut().poll(cx));
                this.fail(Fault::TimedOut)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    fn status(method: Method, target: usize, pairs: &[(&str, &str)]) -> Option<StatusCode> {
        let limits = IntakeLimits::default();
        check_head(&method, Version::HTTP_11, target, &head(pairs), &limits).err().map(|r| r.status)
    }

    #[test]
    fn ambiguous_heads_are_refused() {
        assert_eq!(status(Method::GET, 20, &[("host", "a")]), None);
        assert_eq!(status(Method::POST, 20, &[("host", "a"), ("transfer-encoding", "Chunked ")]), None);
        assert_eq!(status(Method::GET, 9000, &[("host", "a")]), Some(StatusCode::URI_TOO_LONG));
        assert_eq!(status(Method::GET, 20, &[("host", "a"), ("host", "a")]), Some(StatusCode::BAD_REQUEST));
        for te in [&[("transfer-encoding", "gzip, chunked")][..], &[("transfer-encoding", "chunked"); 2]] {
            assert_eq!(status(Method::POST, 20, te), Some(StatusCode::BAD_REQUEST), "{te:?}");
        }
        assert_eq!(status(Method::TRACE, 20, &[("host", "a")]), Some(StatusCode::METHOD_NOT_ALLOWED));
    }

    #[test]
    fn declared_lengths_are_checked_against_the_limit() {
        let h = head(&[("content-length", "1025")]);
        assert!(declared_too_large(&h, Some(1024)));
        assert!(!declared_too_large(&h, Some(1025)));
        assert!(!declared_too_large(&h, None));
        assert!(!declared_too_large(&HeaderMap::new(), Some(0)));
    }

    #[test]
    fn the_first_fault_sticks() {
        let cell = FaultCell::default();
        assert_eq!(cell.get(), None);
        cell.set(Fault::TimedOut);
        cell.set(Fault::Broken);
        assert_eq!(cell.get(), Some(Fault::TimedOut));
    }
}
