//! Sending a request to one of a backend's endpoints over a pooled client,
//! retrying a failed connect on the next endpoint.

use std::error::Error as _;
use std::net::SocketAddr;
use std::time::Duration;

use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::time::Instant;

use super::body::RequestBody;
use crate::routing::Route;

/// Timeouts and pooling of upstream connections.
#[derive(Debug, Clone)]
pub struct UpstreamOptions {
    /// TCP connect to one endpoint.
    pub connect_timeout: Duration,
    /// From sending the request to the response headers, over all attempts,
    /// unless the route's Ingress sets its own.
    pub response_timeout: Duration,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Duration,
}

impl Default for UpstreamOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(60),
            pool_idle_timeout: Duration::from_secs(90),
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

/// The pooled HTTP/1.1 client to every upstream endpoint.
pub struct Upstream {
    client: Client<HttpConnector, RequestBody>,
    opts: UpstreamOptions,
}

impl Upstream {
    pub fn new(opts: UpstreamOptions) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(opts.connect_timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(opts.pool_idle_timeout)
            .build(connector);
        Self { client, opts }
    }

    /// Sends `parts` + `body` to the route's backend: endpoints in
    /// round-robin order; a connect failure (nothing was sent) moves on to the
    /// next endpoint; any other failure ends the attempt.
    pub async fn send(
        &self,
        route: &Route,
        mut parts: http::request::Parts,
        body: Incoming,
        path_and_query: &str,
    ) -> Result<(Response<Incoming>, SocketAddr), UpstreamError> {
        let timeout = route.policy.response_timeout.unwrap_or(self.opts.response_timeout);
        let deadline = Instant::now() + timeout;
        let endpoints = &route.backend.endpoints;
        let mut body = Some(body);
        let mut last_error = UpstreamError::Unreachable("no endpoints".into());
        for (attempt, endpoint) in route.backend.endpoints_in_pick_order().enumerate() {
            let Some(b) = body.take() else { break };
            let (request_body, reclaim) = RequestBody::new(b);
            let is_last = attempt + 1 == endpoints.len();
            // Keep a copy of the headers only when a retry is possible.
            let mut attempt_parts = if is_last {
                std::mem::replace(&mut parts, Request::new(()).into_parts().0)
            } else {
                clone_parts(&parts)
            };
            attempt_parts.uri = upstream_uri(endpoint, path_and_query)?;
            let request = Request::from_parts(attempt_parts, request_body);
            match tokio::time::timeout_at(deadline, self.client.request(request)).await {
                Err(_) => return Err(UpstreamError::ResponseTimeout),
                Ok(Ok(resp)) => return Ok((resp, endpoint)),
                Ok(Err(e)) if e.is_connect() => {
                    tracing::debug!(%endpoint, error = %source_chain(&e), "upstream connect failed");
                    last_error = if is_timeout(&e) {
                        UpstreamError::ConnectTimeout
                    } else {
                        UpstreamError::Unreachable(format!("{endpoint}: {}", source_chain(&e)))
                    };
                    body = reclaim.take();
                }
                Ok(Err(e)) => return Err(UpstreamError::Failed(source_chain(&e))),
            }
        }
        Err(last_error)
    }
}

fn clone_parts(parts: &http::request::Parts) -> http::request::Parts {
    let mut req = Request::new(());
    *req.method_mut() = parts.method.clone();
    *req.version_mut() = parts.version;
    *req.headers_mut() = parts.headers.clone();
    req.into_parts().0
}

fn upstream_uri(endpoint: SocketAddr, path_and_query: &str) -> Result<Uri, UpstreamError> {
    Uri::builder()
        .scheme("http")
        .authority(endpoint.to_string())
        .path_and_query(path_and_query)
        .build()
        .map_err(|e| UpstreamError::Failed(format!("cannot build the upstream URI: {e}")))
}

fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// An error and its causes on one line, for logs.
fn source_chain(e: &hyper_util::client::legacy::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(err) = cur {
        out.push_str(": ");
        out.push_str(&err.to_string());
        cur = err.source();
    }
    out
}
