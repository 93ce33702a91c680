//! Sending a request to one of a backend's endpoints over pooled
//! connections, retrying where nothing can have reached the upstream.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use http::{Method, Request, Response};
use tokio::time::Instant;

use super::body::{ClientBody, RequestBody, UpstreamBody};
use super::pool::{ConnPool, ConnectError, Target, Wire};
use super::tls_client::UpstreamTls;
use crate::routing::{Backend, BackendProtocol, Route};
use crate::telemetry::trace::{Attempt, TraceParent};

/// Timeouts and pooling of upstream connections.
#[derive(Debug, Clone)]
pub struct UpstreamOptions {
    /// TCP connect to one endpoint.
    pub connect_timeout: Duration,
    /// From sending the request to the response headers, over all attempts,
    /// unless the route's Ingress sets its own.
    pub response_timeout: Duration,
    /// How long an idle connection is kept. Shorter than the common backend
    /// keep-alive timeouts (Node.js: 5 s), so the gateway, not the backend,
    /// closes idle connections and a request rarely meets a closing one.
    pub pool_idle_timeout: Duration,
    /// CA certificates trusted for HTTPS upstreams besides the system's.
    pub extra_roots: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// HTTP/1.1 connections busy at once per endpoint and worker; more
    /// requests wait for one, within their response timeout.
    pub max_connections_per_endpoint: usize,
}

impl Default for UpstreamOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(60),
            pool_idle_timeout: Duration::from_secs(4),
            extra_roots: Vec::new(),
            max_connections_per_endpoint: 1024,
        }
    }
}

/// Why no upstream response came back.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("no endpoint accepted a connection (last: {0})")]
    Unreachable(String),
    #[error("connecting to the upstream timed out")]
    ConnectTimeout,
    #[error("the upstream did not answer in time")]
    ResponseTimeout,
    #[error("the upstream failed: {0}")]
    Failed(String),
}

/// The upstream side of one worker: its connection pool and timeouts.
#[derive(Clone)]
pub struct Upstream {
    pool: Arc<ConnPool>,
    opts: UpstreamOptions,
}

/// What watches a request on its way upstream: a counter of the body
/// bytes sent, and the trace its attempts belong to.
#[derive(Clone, Copy, Default)]
pub struct Watch<'a> {
    pub sent: Option<&'a Arc<AtomicU64>>,
    pub trace: Option<&'a TraceParent>,
}

/// Requests that may be sent twice (RFC 9110 §9.2.2) when a reused
/// connection turns out closed: without a body, so nothing is lost either.
fn retry_safe(parts: &http::request::Parts, body: &ClientBody) -> bool {
    use http_body::Body as _;
    matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE) && body.is_end_stream()
}

fn copy_parts(parts: &http::request::Parts) -> http::request::Parts {
    let mut req = Request::new(());
    *req.method_mut() = parts.method.clone();
    *req.uri_mut() = parts.uri.clone();
    *req.version_mut() = parts.version;
    *req.headers_mut() = parts.headers.clone();
    req.into_parts().0
}

impl Upstream {
    pub fn new(opts: UpstreamOptions) -> Self {
        let tls = UpstreamTls::new(&opts.extra_roots);
        let pool = ConnPool::new(opts.connect_timeout, opts.pool_idle_timeout, opts.max_connections_per_endpoint, tls);
        Self { pool, opts }
    }

    /// Sends `parts` (origin-form URI, Host set) and `body` to the route's
    /// backend. Endpoints are tried in round-robin order; a failed connect
    /// moves on to the next endpoint; a reused connection found closed is
    /// replaced when the request cannot have been processed (not sent, or
    /// a body-less idempotent request); anything else ends the attempt.
    pub async fn send(
        &self,
        route: &Route,
        parts: http::request::Parts,
        body: ClientBody,
        watch: Watch<'_>,
    ) -> Result<(Response<UpstreamBody>, SocketAddr), UpstreamError> {
        let timeout = route.policy.response_timeout.unwrap_or(self.opts.response_timeout);
        let wire = match route.policy.backend_protocol {
            BackendProtocol::Http => Wire::H1,
            BackendProtocol::Https => Wire::H1Tls { verify: !route.policy.backend_tls_verify_off },
            BackendProtocol::H2c | BackendProtocol::Grpc => Wire::H2c,
        };
        self.send_to(&route.backend, wire, timeout, parts, body, watch).await
    }

    /// [`Upstream::send`] to any backend, over `wire`, with the response
    /// timeout given. Over TLS the name checked is the Service's DNS name,
    /// `NAME.NAMESPACE.svc`.
    pub async fn send_to(
        &self,
        backend: &Backend,
        wire: Wire,
        timeout: Duration,
        parts: http::request::Parts,
        body: ClientBody,
        watch: Watch<'_>,
    ) -> Result<(Response<UpstreamBody>, SocketAddr), UpstreamError> {
        let deadline = Instant::now() + timeout;
        let server_name: Option<Arc<str>> = matches!(wire, Wire::H1Tls { .. })
            .then(|| format!("{}.{}.svc", backend.service.name, backend.service.namespace).into());
        let mut request = Some((parts, body));
        let mut last_error = UpstreamError::Unreachable("no endpoints".into());
        for endpoint in backend.endpoints_in_pick_order() {
            let mut fresh_retry = true;
            loop {
                let target = Target { endpoint, wire, server_name: server_name.clone() };
                let method = request.as_ref().map(|(p, _)| p.method.clone()).unwrap_or_default();
                let attempt = Attempt::start(watch.trace, endpoint, &method);
                let checkout = match tokio::time::timeout_at(deadline, self.pool.checkout(&target)).await {
                    Err(_) => {
                        attempt.failed("no connection in time (connect, or every connection busy)");
                        return Err(UpstreamError::ResponseTimeout);
                    }
                    Ok(Ok(c)) => c,
                    Ok(Err(e)) => {
                        tracing::debug!(%endpoint, error = %e, "upstream connect failed");
                        attempt.failed(&e.to_string());
                        last_error = match e {
                            ConnectError::Timeout => UpstreamError::ConnectTimeout,
                            e => UpstreamError::Unreachable(format!("{endpoint}: {e}")),
                        };
                        break;
                    }
                };
                let Some((mut parts, body)) = request.take() else {
                    return Err(last_error);
                };
                attempt.inject(watch.trace, &mut parts.headers);
                let retry_copy =
                    (checkout.reused && fresh_retry && retry_safe(&parts, &body)).then(|| copy_parts(&parts));
                let (request_body, reclaim) = RequestBody::new(body, watch.sent.cloned());
                let mut checkout = checkout;
                let sent = checkout.sender.try_send_request(Request::from_parts(parts, request_body));
                match tokio::time::timeout_at(deadline, sent).await {
                    Err(_) => {
                        attempt.failed("response timed out");
                        return Err(UpstreamError::ResponseTimeout);
                    }
                    Ok(Ok(resp)) => {
                        attempt.answered(resp.status().as_u16());
                        return Ok((resp.map(|b| UpstreamBody::new(b, checkout)), endpoint));
                    }
                    Ok(Err(mut e)) => {
                        let reason = e.error().to_string();
                        attempt.failed(&reason);
                        let unsent = e.take_message().map(|req| req.into_parts());
                        let again = match (unsent, retry_copy) {
                            (Some((parts, _)), _) => reclaim.take().map(|b| (parts, b)),
                            (None, Some(parts)) if is_stale_connection(e.error()) => reclaim.take().map(|b| (parts, b)),
                            _ => None,
                        };
                        match again {
                            Some(req) if fresh_retry => {
                                tracing::debug!(%endpoint, error = %reason, "reused connection was closed; retrying on a new one");
                                request = Some(req);
                                fresh_retry = false;
                            }
                            _ => return Err(UpstreamError::Failed(reason)),
                        }
                    }
                }
            }
            if request.is_none() {
                break;
            }
        }
        Err(last_error)
    }
}

/// The errors a keep-alive connection gives when the upstream closed it
/// while it sat idle.
fn is_stale_connection(e: &hyper::Error) -> bool {
    e.is_incomplete_message() || e.is_canceled() || e.is_closed()
}
