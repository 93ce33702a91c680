//! One request through the gateway: route lookup on the current table, then
//! the upstream, or a local answer when there is nowhere to go.

use std::sync::Arc;

use arc_swap::ArcSwap;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use http_body::Body as _;
use hyper::body::Incoming;
use tokio::io::copy_bidirectional;

use super::body::{ClientBody, ResponseBody};
use super::headers::{self, Peer};
use super::intake::{self, Inbound, IntakeLimits};
use super::metered::{self, Decision, Metered, Record};
use super::upstream::{Upstream, UpstreamError, UpstreamOptions, Watch};
use super::{filter, plugins};
use crate::routing::{BackendProtocol, RouteTable, host, path};
use crate::telemetry::access::Sink;
use crate::telemetry::trace::{TraceParent, Tracing};
use crate::wasm::chain::Verdict;
use crate::wasm::headers::RequestHead;
use crate::wasm::host::RequestInfo;
use opentelemetry::KeyValue;
use opentelemetry::trace::Span as _;

/// How the proxy treats requests, beyond what routes say.
#[derive(Debug, Clone, Default)]
pub struct ProxyOptions {
    /// Keep X-Forwarded-* sent by the client (a trusted proxy in front).
    pub trust_forwarded_headers: bool,
    pub upstream: UpstreamOptions,
    /// There is an HTTPS listener: plain requests for TLS hosts are redirected.
    pub https_redirect: bool,
    /// Where access log lines go.
    pub access_log: Sink,
    /// OpenTelemetry tracing, when on.
    pub tracing: Option<Arc<Tracing>>,
    /// What a client may send.
    pub intake: IntakeLimits,
}

/// The request handler shared by every connection.
pub struct Proxy {
    routes: Arc<ArcSwap<RouteTable>>,
    upstream: Upstream,
    opts: ProxyOptions,
    access_log: Arc<Sink>,
}

/// A short plain-text answer from the gateway itself. It never echoes
/// request data, so it cannot reflect anything into a client.
pub fn local_response(status: StatusCode, text: &'static str) -> Response<ResponseBody> {
    let mut resp = Response::new(ResponseBody::local(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

impl Proxy {
    pub fn new(routes: Arc<ArcSwap<RouteTable>>, opts: ProxyOptions) -> Self {
        let upstream = Upstream::new(opts.upstream.clone());
        let access_log = Arc::new(opts.access_log.clone());
        Self { routes, upstream, opts, access_log }
    }

    pub async fn handle(&self, req: Request<Incoming>, peer: Peer) -> Response<Metered> {
        let mut record = Record::new(&req, &peer, self.access_log.is_on());
        if let Some(tracing) = &self.opts.tracing {
            record.span = Some(server_span(tracing, &req, &peer));
        }
        // Boxed: the serve future is kilobytes, and each future that holds
        // it inline is copied whole when it is made and moved.
        let mut resp = Box::pin(self.serve(req, &peer, &mut record)).await;
        if peer.scheme == "https"
            && let Some(value) = record.hsts.take()
        {
            resp.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, value);
        }
        record.status = resp.status().as_u16();
        resp.map(|body| Metered::new(body, record, self.access_log.clone()))
    }

    /// Answers one request, noting in `rec` what it did.
    async fn serve(&self, mut req: Request<Incoming>, peer: &Peer, rec: &mut Record) -> Response<ResponseBody> {
        // Where the plugins' and upstream attempts' spans hang.
        let trace = match (&self.opts.tracing, &rec.span) {
            (Some(tracing), Some(span)) => {
                Some(TraceParent { tracing: tracing.clone(), span: span.span_context().clone() })
            }
            _ => None,
        };
        let target_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
        if let Err(refusal) =
            intake::check_head(req.method(), req.version(), target_len, req.headers(), &self.opts.intake)
        {
            return refusal.answer();
        }
        // The URI's authority (HTTP/2, or HTTP/1.1 absolute-form) wins over
        // Host, as RFC 9112 §3.2.2 requires of a server.
        let authority_in_uri = req.uri().authority().is_some();
        let authority = match req.uri().authority() {
            Some(a) => a.as_str(),
            None => match req.headers().get(header::HOST).and_then(|v| v.to_str().ok()) {
                Some(h) => h,
                None => return local_response(StatusCode::BAD_REQUEST, "missing Host header\n"),
            },
        };
        let Ok(host) = host::normalize(authority) else {
            return local_response(StatusCode::BAD_REQUEST, "invalid Host header\n");
        };
        let Ok(path) = path::normalize(req.uri().path()) else {
            return local_response(StatusCode::BAD_REQUEST, "invalid request path\n");
        };
        let route = match self.routes.load().lookup(&host, &path::route_key(&path)) {
            Some(r) => r.clone(),
            None => return local_response(StatusCode::NOT_FOUND, "no route for this host and path\n"),
        };
        if let Some(span) = rec.span.as_mut().filter(|s| s.is_recording()) {
            span.update_name(format!("{} {}", req.method(), route.path));
            span.set_attribute(KeyValue::new("http.route", route.path.clone()));
            if let Some(ingress) = &route.ingress {
                span.set_attribute(KeyValue::new("wasmgress.ingress", ingress.to_string()));
            }
            span.set_attribute(KeyValue::new("wasmgress.service", route.backend.service.to_string()));
        }
        rec.route = Some(route.clone());
        rec.hsts.clone_from(&route.policy.hsts);
        if route.tls && peer.scheme == "http" && self.opts.https_redirect && !route.policy.ssl_redirect_off {
            return redirect_to_https(&host, req.uri());
        }
        if route.backend.endpoints().is_empty() {
            tracing::debug!(service = %route.backend.service, "no ready endpoints");
            return local_response(StatusCode::SERVICE_UNAVAILABLE, "service unavailable\n");
        }
        let body_limit = match route.policy.max_body {
            Some(0) => None,
            Some(n) => Some(n),
            None => self.opts.intake.max_body,
        };
        if intake::declared_too_large(req.headers(), body_limit) {
            return intake::answer(intake::Fault::TooLarge);
        }
        let origin_form = match req.uri().query() {
            Some(q) => http::Uri::try_from(format!("{path}?{q}")),
            None => http::Uri::try_from(path.as_ref()),
        };
        let Ok(origin_form) = origin_form else {
            return local_response(StatusCode::BAD_REQUEST, "invalid request target\n");
        };
        let host_value = HeaderValue::from_str(authority).ok();
        // Kept only for plugins, which may read it as a property.
        let host = route.policy.plugins.as_ref().map(|_| host.into_owned());

        let version = req.version();
        let client_upgrade = (version == Version::HTTP_11 && req.headers().contains_key(header::UPGRADE))
            .then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();
        // `TE: trailers` is hop-by-hop, but an HTTP/2 upstream must hear it
        // again (gRPC servers insist on it).
        let te_trailers = parts
            .headers
            .get_all(header::TE)
            .iter()
            .any(|v| v.to_str().is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case("trailers"))));
        let upgrade = headers::strip_hop_by_hop(&mut parts.headers);
        if let (Some(up), Some(_)) = (upgrade.clone(), &client_upgrade) {
            headers::restore_upgrade(&mut parts.headers, up);
        }
        headers::set_forwarded(&mut parts.headers, peer, host_value.as_ref(), self.opts.trust_forwarded_headers);
        if parts.version == Version::HTTP_2 {
            join_cookies(&mut parts.headers);
        }
        // The upstream hears the host the request was routed by.
        if (authority_in_uri || !parts.headers.contains_key(header::HOST))
            && let Some(h) = host_value
        {
            parts.headers.insert(header::HOST, h);
        }
        parts.version = Version::HTTP_11;
        parts.uri = origin_form;
        parts.extensions = http::Extensions::new();

        let mut plugin_stream = None;
        let (body, fault) = Inbound::new(body, body_limit, self.opts.intake.body_timeout);
        let mut body = ClientBody::Incoming(body);
        if let Some(chain) = &route.policy.plugins {
            let id = parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()).filter(|v| v.len() <= 200);
            let info = Arc::new(RequestInfo {
                id: id.map(str::to_string),
                generated_id: Default::default(),
                method: parts.method.clone(),
                path: parts.uri.clone(),
                host: host.unwrap_or_default(),
                scheme: peer.scheme,
                protocol: metered::protocol(version),
                source: Some(peer.client),
                destination: Some(peer.local),
                ingress: route.ingress.as_ref().map(ToString::to_string).unwrap_or_default(),
                trace: trace.clone(),
            });
            let mut stream = chain.stream(info);
            // Boxed: the head goes through the plugins and back without copies.
            let head = Box::new(RequestHead { parts, scheme: peer.scheme });
            let (head, verdict) = stream.on_request_headers(head, body.is_end_stream()).await;
            let shared = filter::share(stream);
            match verdict {
                Verdict::Continue => {}
                Verdict::Respond(local) => {
                    rec.decision = Decision::Plugin;
                    return filter::finish(&shared, plugins::local_answer(local));
                }
                Verdict::Failed => {
                    rec.decision = Decision::Plugin;
                    return filter::finish(
                        &shared,
                        local_response(StatusCode::SERVICE_UNAVAILABLE, "service unavailable\n"),
                    );
                }
            }
            let ClientBody::Incoming(incoming) = body else { unreachable!("set above") };
            let (head, read) = filter::request_body(&shared, incoming, head).await;
            parts = head.parts;
            body = match read {
                Ok(b) => b,
                Err(answer) => return filter::finish(&shared, answer),
            };
            plugin_stream = Some(shared);
        }

        if for_upstream(&mut parts, route.policy.backend_protocol, te_trailers).is_err() {
            let answer = local_response(StatusCode::BAD_REQUEST, "invalid Host header\n");
            return match plugin_stream {
                Some(s) => filter::finish(&s, answer),
                None => answer,
            };
        }
        let asked = std::time::Instant::now();
        let watch = Watch { sent: Some(&rec.sent), trace: trace.as_ref() };
        let sent = self.upstream.send(&route, parts, body, watch).await;
        let (mut resp, endpoint) = match sent {
            Ok(r) => {
                let waited = asked.elapsed();
                route.metrics.upstream.observe(waited);
                rec.upstream = Some((r.1, waited));
                rec.decision = Decision::Upstream;
                r
            }
            Err(e) => {
                // A plugin that stopped the request body half-way decides the answer.
                let stopped = plugin_stream.as_ref().and_then(filter::stopped);
                let client_fault = fault.as_ref().and_then(|f| f.get()).map(intake::answer);
                let answer = stopped.or(client_fault).unwrap_or_else(|| {
                    tracing::warn!(service = %route.backend.service, error = %e, "upstream request failed");
                    match e {
                        UpstreamError::ConnectTimeout | UpstreamError::ResponseTimeout => {
                            local_response(StatusCode::GATEWAY_TIMEOUT, "upstream timed out\n")
                        }
                        UpstreamError::Unreachable(_) | UpstreamError::Failed(_) => {
                            local_response(StatusCode::BAD_GATEWAY, "bad gateway\n")
                        }
                    }
                });
                return match plugin_stream {
                    Some(s) => filter::finish(&s, answer),
                    None => answer,
                };
            }
        };

        let upstream_upgrade = headers::strip_hop_by_hop(resp.headers_mut());
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
            let (Some(client_upgrade), Some(up)) = (client_upgrade, upstream_upgrade) else {
                return local_response(StatusCode::BAD_GATEWAY, "bad gateway\n");
            };
            headers::restore_upgrade(resp.headers_mut(), up);
            resp.body_mut().detach();
            let upstream_io = hyper::upgrade::on(&mut resp);
            tokio::spawn(async move {
                match tokio::try_join!(client_upgrade, upstream_io) {
                    Ok((client, upstream)) => {
                        let mut client = hyper_util::rt::TokioIo::new(client);
                        let mut upstream = hyper_util::rt::TokioIo::new(upstream);
                        if let Err(e) = copy_bidirectional(&mut client, &mut upstream).await {
                            tracing::debug!(%endpoint, error = %e, "upgraded connection ended");
                        }
                    }
                    Err(e) => tracing::debug!(%endpoint, error = %e, "upgrade failed"),
                }
            });
        }
        match plugin_stream {
            None => resp.map(ResponseBody::Upstream),
            Some(shared) => filter::response(shared, resp).await,
        }
    }
}

/// Readies the request head for the upstream's protocol: HTTP/2 carries
/// the host in the URI's authority instead of `Host`, and `TE: trailers`.
/// Fails when the host cannot be an authority.
fn for_upstream(parts: &mut http::request::Parts, protocol: BackendProtocol, te_trailers: bool) -> Result<(), ()> {
    if !matches!(protocol, BackendProtocol::H2c | BackendProtocol::Grpc) {
        return Ok(());
    }
    let authority = parts.headers.remove(header::HOST);
    let authority = authority.as_ref().and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let target = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    parts.uri = http::Uri::try_from(format!("http://{authority}{target}")).map_err(|_| ())?;
    parts.version = Version::HTTP_2;
    if te_trailers || protocol == BackendProtocol::Grpc {
        parts.headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    Ok(())
}

/// The server span of a request, with the request attributes of the HTTP
/// semantic conventions.
fn server_span(tracing: &Tracing, req: &Request<Incoming>, peer: &Peer) -> opentelemetry_sdk::trace::Span {
    let attributes = || {
        let host = req.uri().host().or_else(|| {
            let h = req.headers().get(header::HOST)?.to_str().ok()?;
            Some(h.rsplit_once(':').map_or(h, |(name, _)| name))
        });
        let mut attributes = vec![
            KeyValue::new("http.request.method", req.method().to_string()),
            KeyValue::new("url.path", req.uri().path().to_string()),
            KeyValue::new("url.scheme", peer.scheme),
            KeyValue::new("client.address", peer.client.ip().to_string()),
            KeyValue::new(
                "network.protocol.version",
                match req.version() {
                    Version::HTTP_2 => "2",
                    Version::HTTP_10 => "1.0",
                    _ => "1.1",
                },
            ),
        ];
        if let Some(host) = host {
            attributes.push(KeyValue::new("server.address", host.to_string()));
        }
        if let Some(ua) = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()) {
            attributes.push(KeyValue::new("user_agent.original", ua.to_string()));
        }
        attributes
    };
    // Named by method until the route is known.
    tracing.server_span(req.headers(), method_name(req.method()), attributes)
}

/// A span name for a method, without allocating for the common ones.
fn method_name(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::HEAD => "HEAD",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::PATCH => "PATCH",
        http::Method::OPTIONS => "OPTIONS",
        _ => "HTTP",
    }
}

/// 308 to the same host and target over HTTPS (the port is the load
/// balancer's business: clients reach HTTPS on 443).
fn redirect_to_https(host: &str, uri: &http::Uri) -> Response<ResponseBody> {
    let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut resp = local_response(StatusCode::PERMANENT_REDIRECT, "redirecting to HTTPS\n");
    match HeaderValue::try_from(format!("https://{host}{target}")) {
        Ok(location) => {
            resp.headers_mut().insert(header::LOCATION, location);
            resp
        }
        Err(_) => local_response(StatusCode::BAD_REQUEST, "invalid request target\n"),
    }
}

/// HTTP/2 may split cookies over several fields; HTTP/1.1 wants one
/// (RFC 9113 §8.2.3).
fn join_cookies(headers: &mut http::HeaderMap) {
    if headers.get_all(header::COOKIE).iter().nth(1).is_none() {
        return;
    }
    let joined: Vec<&str> = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).collect();
    if let Ok(v) = HeaderValue::from_str(&joined.join("; ")) {
        headers.insert(header::COOKIE, v);
    }
}
