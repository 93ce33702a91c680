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
use crate::diagnostics::Diagnostic;
use crate::tls::TlsStore;

fn respond(
    status: &watch::Receiver<ConfigStatus>,
    tls: Option<&TlsStore>,
    req: &Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (code, body) = match req.uri().path() {
        "/healthz" => (StatusCode::OK, "ok\n".to_string()),
        "/readyz" => readiness(&status.borrow()),
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
            let stale = status.borrow().diagnostics.iter().any(Diagnostic::is_source_problem);
            out.push_str("# HELP wasmgress_config_stale 1 while the configuration source cannot be read and the last good table serves.\n# TYPE wasmgress_config_stale gauge\n");
            let _ = writeln!(out, "wasmgress_config_stale {}", u8::from(stale));
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

/// Ready once a route table serves. A source that cannot be read keeps the
/// replica ready, serving its last good table: an unreachable API server
/// must not take every replica out of its Service at once. The answer says
/// the table may be stale, and why.
fn readiness(status: &ConfigStatus) -> (StatusCode, String) {
    if status.generation == 0 {
        return (StatusCode::SERVICE_UNAVAILABLE, "no route table yet\n".to_string());
    }
    let mut out = String::from("ready\n");
    for d in status.diagnostics.iter().filter(|d| d.is_source_problem()) {
        let _ = writeln!(out, "stale: {d}");
    }
    (StatusCode::OK, out)
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
