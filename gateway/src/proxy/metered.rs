//! The response body as sent to the client, counting its bytes; when it is
//! dropped (sent in full, or the client went away) the request's metrics
//! and access log line are completed.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Version};
use http_body::{Body, Frame, SizeHint};

use super::body::{BoxError, ResponseBody};
use super::headers::Peer;
use crate::routing::Route;
use crate::telemetry::access::{self, Entry, Sink};
use crate::telemetry::metrics::{self, RouteMetrics};
use crate::telemetry::trace;

/// Who answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Upstream,
    /// A plugin answered, or failed closed.
    Plugin,
    /// The gateway itself: no route, no endpoint, a bad request, an
    /// upstream that failed.
    Gateway,
}

/// What one request did, filled in as it goes.
pub struct Record {
    start: Instant,
    time: SystemTime,
    client: SocketAddr,
    method: Method,
    /// Host and path, kept only when the access log is on.
    target: Option<(String, String)>,
    version: Version,
    pub status: u16,
    pub route: Option<Arc<Route>>,
    pub decision: Decision,
    pub upstream: Option<(SocketAddr, Duration)>,
    /// Request body bytes sent upstream.
    pub sent: Arc<AtomicU64>,
    pub hsts: Option<HeaderValue>,
    /// The server span, when tracing is on.
    pub span: Option<opentelemetry_sdk::trace::Span>,
}

impl Record {
    pub fn new<B>(req: &Request<B>, peer: &Peer, logged: bool) -> Self {
        let target = logged.then(|| {
            let host = req
                .uri()
                .authority()
                .map(|a| a.as_str())
                .or_else(|| req.headers().get(http::header::HOST).and_then(|h| h.to_str().ok()));
            (host.unwrap_or_default().to_string(), req.uri().path().to_string())
        });
        Self {
            start: Instant::now(),
            time: SystemTime::now(),
            client: peer.client,
            method: req.method().clone(),
            target,
            version: req.version(),
            status: 0,
            route: None,
            decision: Decision::Gateway,
            upstream: None,
            sent: Arc::default(),
            hsts: None,
            span: None,
        }
    }

    /// The trace id, when tracing is on.
    pub fn trace_id(&self) -> Option<String> {
        use opentelemetry::trace::Span as _;
        self.span.as_ref().map(|s| s.span_context().trace_id().to_string())
    }

    fn finish(mut self, bytes_out: u64, aborted: bool, sink: &Sink) {
        let duration = self.start.elapsed();
        let trace_id = self.trace_id();
        if let Some(span) = self.span.as_mut() {
            trace::end_server_span(span, self.status);
        }
        let bytes_in = self.sent.load(Ordering::Relaxed);
        let cell = match &self.route {
            Some(r) => &r.metrics,
            None => unrouted(),
        };
        cell.record(&self.method, self.status, duration, bytes_in, bytes_out);
        let Some((host, path)) = &self.target else { return };
        let route = self.route.as_deref();
        let ingress = route.and_then(|r| r.ingress.as_ref()).map(ToString::to_string);
        let service = route.map(|r| r.backend.service.to_string());
        let plugins: Vec<String> = route
            .and_then(|r| r.policy.plugins.as_ref())
            .map(|c| c.plugins.iter().map(|p| p.plugin.name.to_string()).collect())
            .unwrap_or_default();
        let time = k8s_openapi::jiff::Timestamp::try_from(self.time).map(|t| t.to_string()).unwrap_or_default();
        sink.log(&Entry {
            time,
            client: self.client,
            method: self.method.as_str(),
            host,
            path,
            protocol: protocol(self.version),
            status: self.status,
            bytes_in,
            bytes_out,
            duration_ms: access::millis(duration),
            upstream: self.upstream.map(|(a, _)| a),
            upstream_ms: self.upstream.map(|(_, d)| access::millis(d)),
            ingress: ingress.as_deref(),
            service: service.as_deref(),
            plugins: &plugins,
            trace_id: trace_id.as_deref(),
            decision: match self.decision {
                Decision::Upstream => "upstream",
                Decision::Plugin => "plugin",
                Decision::Gateway => "gateway",
            },
            aborted,
        });
    }
}

/// The cell of requests that matched no route.
fn unrouted() -> &'static RouteMetrics {
    static CELL: OnceLock<Arc<RouteMetrics>> = OnceLock::new();
    CELL.get_or_init(|| metrics::route("", ""))
}

/// A request's protocol as plugins (`request.protocol`) and the access log name it.
pub fn protocol(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

pub struct Metered {
    inner: ResponseBody,
    bytes: u64,
    ended: bool,
    record: Option<Box<Record>>,
    sink: Arc<Sink>,
}

impl Metered {
    pub fn new(inner: ResponseBody, record: Record, sink: Arc<Sink>) -> Self {
        Self { inner, bytes: 0, ended: false, record: Some(Box::new(record)), sink }
    }
}

impl Body for Metered {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let frame = Pin::new(&mut this.inner).poll_frame(cx);
        match &frame {
            Poll::Ready(Some(Ok(f))) => {
                if let Some(data) = f.data_ref() {
                    this.bytes += data.len() as u64;
                }
            }
            Poll::Ready(None) => this.ended = true,
            _ => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            let aborted = !self.ended && !self.inner.is_end_stream();
            record.finish(self.bytes, aborted, &self.sink);
        }
    }
}
