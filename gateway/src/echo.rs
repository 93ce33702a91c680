//! A tiny echo backend that answers with its own name and what it saw of the
//! request: the demo's Services, and the backend of the benchmarks.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

fn respond(name: &str, instance: &str, mut req: Request<Incoming>) -> Response<Full<Bytes>> {
    if let Some(proto) = req.headers().get(header::UPGRADE).cloned() {
        // Switch protocols and echo whatever bytes arrive: enough to show an
        // upgraded connection (e.g. WebSocket) passing through the gateway.
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(upgraded) = on_upgrade.await {
                let (mut r, mut w) = tokio::io::split(TokioIo::new(upgraded));
                let _ = tokio::io::copy(&mut r, &mut w).await;
            }
        });
        let mut resp = Response::new(Full::default());
        *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        resp.headers_mut().insert(header::UPGRADE, proto);
        return resp;
    }
    let mut body = format!("backend: {name}\ninstance: {instance}\nmethod: {}\npath: {}\n", req.method(), req.uri());
    if let Some(v) = req.headers().get(header::HOST).and_then(|v| v.to_str().ok()) {
        let _ = writeln!(body, "host: {v}");
    }
    // Every x-* header: what the proxy and its plugins added.
    let mut extra: Vec<(&str, &str)> = req
        .headers()
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("x-"))
        .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))
        .collect();
    extra.sort();
    for (name, value) in extra {
        let _ = writeln!(body, "{name}: {value}");
    }
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

/// Serves the echo backend on `listener` forever.
pub async fn serve(listener: TcpListener, name: impl Into<Arc<str>>) {
    let name: Arc<str> = name.into();
    let instance: Arc<str> = listener.local_addr().map(|a| a.to_string()).unwrap_or_default().into();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (name, instance) = (name.clone(), instance.clone());
        let service = service_fn(move |req| {
            let resp = respond(&name, &instance, req);
            async move { Ok::<_, Infallible>(resp) }
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        tokio::spawn(conn);
    }
}
