//! The admin listener: liveness, readiness, the current diagnostics and
//! metrics, kept off the traffic port.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::controller::ConfigStatus;
use crate::tls::TlsStore;

fn respond(
    status: &watch::Receiver<ConfigStatus>,
    tls: Option<&TlsStore>,
    req: &Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (code, body) = match req.uri().path() {
        "/healthz" => (StatusCode::OK, "ok\n".to_string()),
        "/readyz" => {
            if status.borrow().generation > 0 {
                (StatusCode::OK, "ready\n".to_string())
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, "no route table yet\n".to_string())
            }
        }
        "/diagnostics" => {
            let s = status.borrow();
            let mut out = String::new();
            for d in &s.diagnostics {
                let _ = writeln!(out, "{} {:?} {d}", d.kind, d.severity);
            }
            (StatusCode::OK, out)
        }
        "/metrics" => {
            let mut out = String::from(
                "# HELP wasmgress_plugin_failures_total Plugin callbacks that trapped, overran their deadline or exhausted memory.\n# TYPE wasmgress_plugin_failures_total counter\n",
            );
            for (plugin, reason, n) in crate::wasm::chain::failure_counts() {
                let _ = writeln!(out, "wasmgress_plugin_failures_total{{plugin=\"{plugin}\",reason=\"{reason}\"}} {n}");
            }
            out.push_str("# HELP wasmgress_plugin_instances Live plugin instances (one per plugin configuration per worker in use).\n# TYPE wasmgress_plugin_instances gauge\n");
            for (plugin, n) in crate::wasm::vm::instance_counts() {
                let _ = writeln!(out, "wasmgress_plugin_instances{{plugin=\"{plugin}\"}} {n}");
            }
            crate::wasm::metrics::render(&mut out);
            crate::telemetry::metrics::render(&mut out);
            if let Some(tls) = tls {
                tls.write_metrics(&mut out);
            }
            (StatusCode::OK, out)
        }
        _ => (StatusCode::NOT_FOUND, "not found\n".to_string()),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = code;
    resp
}

/// Serves the admin endpoints until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    status: watch::Receiver<ConfigStatus>,
    tls: Option<Arc<TlsStore>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
            () = crate::proxy::server::stopped(&mut shutdown) => return,
        };
        let (status, tls) = (status.clone(), tls.clone());
        let service = service_fn(move |req| {
            let resp = respond(&status, tls.as_deref(), &req);
            async move { Ok::<_, Infallible>(resp) }
        });
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
