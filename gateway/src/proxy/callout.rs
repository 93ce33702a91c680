//! Plugin `http_call`s to Services in the cluster, sent over the same
//! upstream client as proxied requests and looked up in the live route
//! table. A call that cannot be made answers with no headers (a failed
//! call, as Envoy reports it) and is logged with the reason.

use std::sync::{Arc, Weak};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Method, Request};
use http_body_util::{BodyExt, Full, Limited};

use super::body::ClientBody;
use super::pool::Wire;
use super::upstream::{Upstream, UpstreamOptions, Watch};
use crate::routing::RouteTable;
use crate::wasm::callout::{CallFuture, CallOut, HttpCall, HttpCallResponse};

/// The largest response body a call hands to a plugin.
const MAX_CALL_RESPONSE: usize = 1 << 20;

pub struct ServiceCaller {
    /// Weak: the table holds the plugins, whose runtime holds this caller.
    routes: Weak<ArcSwap<RouteTable>>,
    upstream: Upstream,
}

impl ServiceCaller {
    pub fn new(routes: &Arc<ArcSwap<RouteTable>>, opts: UpstreamOptions) -> Self {
        Self { routes: Arc::downgrade(routes), upstream: Upstream::new(opts) }
    }
}

/// The request a call describes: pseudo-headers give method, path and Host.
fn request(call: &HttpCall) -> Result<http::request::Parts, String> {
    let mut req = Request::new(());
    for (name, value) in &call.headers {
        match name.as_str() {
            ":method" => *req.method_mut() = Method::from_bytes(value).map_err(|_| "invalid :method")?,
            ":path" => *req.uri_mut() = http::Uri::try_from(&value[..]).map_err(|_| "invalid :path")?,
            ":authority" => {
                let host = HeaderValue::from_bytes(value).map_err(|_| "invalid :authority")?;
                req.headers_mut().insert(http::header::HOST, host);
            }
            n if n.starts_with(':') => {}
            n => {
                let name = HeaderName::from_bytes(n.as_bytes()).map_err(|_| format!("invalid header name {n:?}"))?;
                let value = HeaderValue::from_bytes(value).map_err(|_| format!("invalid value for {n}"))?;
                req.headers_mut().append(name, value);
            }
        }
    }
    Ok(req.into_parts().0)
}

impl CallOut for ServiceCaller {
    fn call(&self, call: HttpCall, namespace: Option<&str>) -> CallFuture {
        let target = &call.target;
        let Some(namespace) = target.namespace.as_deref().or(namespace).map(str::to_string) else {
            tracing::warn!(service = %target.name, "plugin call without a namespace from a timer: name one (SERVICE.NAMESPACE:PORT)");
            return Box::pin(async { HttpCallResponse::default() });
        };
        let backend =
            self.routes.upgrade().and_then(|r| r.load().service(&namespace, &target.name, target.port).cloned());
        let upstream = self.upstream.clone();
        Box::pin(async move {
            let service = format!("{namespace}/{}:{}", call.target.name, call.target.port);
            let Some(backend) = backend else {
                tracing::warn!(%service, "plugin called a Service port that does not exist");
                return HttpCallResponse::default();
            };
            let parts = match request(&call) {
                Ok(mut p) => {
                    // HTTP/1.1 wants a Host: the Service's name unless the plugin gave one.
                    if !p.headers.contains_key(http::header::HOST)
                        && let Ok(host) = HeaderValue::from_str(&format!("{}.{namespace}", call.target.name))
                    {
                        p.headers.insert(http::header::HOST, host);
                    }
                    p
                }
                Err(e) => {
                    tracing::warn!(%service, error = %e, "plugin call is not a valid request");
                    return HttpCallResponse::default();
                }
            };
            let body = ClientBody::Full(Full::new(Bytes::from(call.body)));
            let answer = tokio::time::timeout(call.timeout, async {
                let (resp, _) = upstream
                    .send_to(&backend, Wire::H1, call.timeout, parts, body, Watch::default())
                    .await
                    .map_err(|e| e.to_string())?;
                let (parts, body) = resp.into_parts();
                let body = Limited::new(body, MAX_CALL_RESPONSE).collect().await.map_err(|e| e.to_string())?;
                Ok::<_, String>((parts, body.to_bytes()))
            });
            match answer.await {
                Ok(Ok((parts, body))) => {
                    let mut headers = vec![(":status".to_string(), parts.status.as_str().as_bytes().to_vec())];
                    headers.extend(parts.headers.iter().map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec())));
                    HttpCallResponse { headers, body: body.to_vec() }
                }
                Ok(Err(e)) => {
                    tracing::warn!(%service, error = %e, "plugin call failed");
                    HttpCallResponse::default()
                }
                Err(_) => {
                    tracing::warn!(%service, "plugin call timed out");
                    HttpCallResponse::default()
                }
            }
        })
    }
}
