//! OpenTelemetry traces, exported over OTLP (http/protobuf and gRPC) to a
//! receiver that decodes them: span contents, parent/child links, and the
//! `traceparent` the backend receives.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use wasmgress::telemetry::trace::Tracing;
use wasmgress_tests::otlp::{self, Receiver, attribute};
use wasmgress_tests::*;

/// The OTEL_* variables are process-wide: one test sets them at a time.
static ENV: Mutex<()> = Mutex::new(());

/// Tracing configured from the environment, as the binary does it.
fn tracing_from_env(endpoint: &str, protocol: &str, trust_incoming: bool) -> Arc<Tracing> {
    let _guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let vars = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        ("OTEL_SERVICE_NAME", "edge-gateway"),
        ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test"),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
    ];
    // SAFETY: every test of this binary that reads these variables holds `ENV`.
    unsafe {
        for (k, v) in vars {
            std::env::set_var(k, v);
        }
    }
    let tracing = Tracing::from_env(trust_incoming).expect("tracing starts").expect("an endpoint is set");
    // SAFETY: as above.
    unsafe {
        for (k, _) in vars {
            std::env::remove_var(k);
        }
    }
    tracing
}

struct Traced {
    gw: wasmgress::Gateway,
    backend: Backend,
    receiver: Receiver,
    _dir: TempDir,
}

async fn start_traced(protocol: &str, trust_incoming: bool) -> Traced {
    let receiver = Receiver::start().await;
    start_traced_to(receiver.clone(), &format!("http://{}", receiver.addr), protocol, trust_incoming).await
}

/// A traced gateway exporting to `endpoint`; spans end up at `receiver`.
async fn start_traced_to(receiver: Receiver, endpoint: &str, protocol: &str, trust_incoming: bool) -> Traced {
    let backend = Backend::start("traced").await;
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("traced", &[backend.addr]));
    dir.write("ing.yaml", &ingress("traced", "traced.example.com", "/api", "traced"));
    dir.write(
        "down.yaml",
        &format!("{}---\n{}", service("gone", &[]), ingress("down", "down.example.com", "/", "gone")),
    );
    let mut cfg = config(dir.path());
    cfg.proxy.tracing = Some(tracing_from_env(endpoint, protocol, trust_incoming));
    let gw = wasmgress::Gateway::start(cfg).await.unwrap();
    Traced { gw, backend, receiver, _dir: dir }
}

/// A gateway with the plugins in `plugins`, exporting over http/protobuf to `receiver`.
async fn start_traced_with_plugins(dir: &TempDir, plugins: &TempDir, receiver: &Receiver) -> wasmgress::Gateway {
    let mut cfg = config(dir.path());
    cfg.plugins = Some(wasmgress::gateway::PluginConfig {
        dir: plugins.path().to_path_buf(),
        cache: None,
        runtime: wasmgress::wasm::RuntimeOptions::default(),
    });
    cfg.proxy.tracing = Some(tracing_from_env(&format!("http://{}", receiver.addr), "http/protobuf", true));
    wasmgress::Gateway::start(cfg).await.unwrap()
}

/// Waits for `n` spans of one trace.
async fn spans_of(receiver: &Receiver, trace_id: &str, n: usize) -> Vec<otlp::Received> {
    eventually(&format!("{n} spans of trace {trace_id}"), || async {
        receiver.spans().iter().filter(|s| s.trace_id() == trace_id).count() >= n
    })
    .await;
    receiver.spans().into_iter().filter(|s| s.trace_id() == trace_id).collect()
}

fn traceparent_of(seen: &Seen) -> (String, String) {
    let tp = seen.headers.get("traceparent").expect("the backend gets a traceparent").to_str().unwrap().to_string();
    assert_eq!(seen.headers.get_all("traceparent").iter().count(), 1, "exactly one traceparent");
    let parts: Vec<&str> = tp.split('-').collect();
    assert_eq!(parts.len(), 4, "{tp}");
    (parts[1].to_string(), parts[2].to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_one_trace_of_server_and_upstream_spans_over_http_protobuf() {
    let t = start_traced("http/protobuf", true).await;
    let req = Request::get(format!("http://{}/api/items?x=1", t.gw.http_addr()))
        .header("host", "traced.example.com")
        .header("user-agent", "trace-test/1.0")
        .body(Full::<Bytes>::default())
        .unwrap();
    assert_eq!(send(req).await.status, 200);
    let (trace_id, parent) = traceparent_of(&t.backend.last());
    let spans = spans_of(&t.receiver, &trace_id, 2).await;
    assert!(spans.iter().all(|s| s.transport == "http/protobuf"));
    let server = spans.iter().find(|s| s.span.kind == 2).expect("a server span");
    let upstream = spans.iter().find(|s| s.span.kind == 3).expect("a client span");
    assert_eq!(server.span.name, "GET /api");
    assert!(server.span.parent_span_id.is_empty(), "a new trace starts at the gateway");
    assert_eq!(upstream.parent_id(), server.span_id(), "upstream is the server span's child");
    assert_eq!(parent, upstream.span_id(), "the backend's parent is the upstream span");
    for (key, value) in [
        ("http.request.method", "GET"),
        ("url.path", "/api/items"),
        ("url.scheme", "http"),
        ("server.address", "traced.example.com"),
        ("http.route", "/api"),
        ("http.response.status_code", "200"),
        ("client.address", "127.0.0.1"),
        ("user_agent.original", "trace-test/1.0"),
        ("network.protocol.version", "1.1"),
        ("wasmgress.ingress", "default/traced"),
        ("wasmgress.service", "default/traced"),
    ] {
        assert_eq!(server.attr(key).as_deref(), Some(value), "server span {key}");
    }
    assert_eq!(upstream.attr("server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(upstream.attr("server.port"), Some(t.backend.addr.port().to_string()));
    assert_eq!(attribute(&server.resource, "service.name").as_deref(), Some("edge-gateway"));
    assert_eq!(attribute(&server.resource, "deployment.environment").as_deref(), Some("test"));
    // A 5xx answer (no endpoint) marks the server span as an error.
    assert_eq!(get(t.gw.http_addr(), "down.example.com", "/").await.status, 503);
    eventually("the 503's span", || async {
        t.receiver.spans().iter().any(|s| s.attr("http.response.status_code").as_deref() == Some("503"))
    })
    .await;
    let failed =
        t.receiver.spans().into_iter().find(|s| s.attr("wasmgress.ingress").as_deref() == Some("default/down"));
    let status = failed.expect("the 503's span").span.status.expect("a status");
    assert_eq!(status.code, 2, "error status");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incoming_traceparent_is_continued_and_a_stale_one_replaced_over_grpc() {
    let t = start_traced("grpc", true).await;
    let incoming_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let incoming_parent = "00f067aa0ba902b7";
    let req = Request::get(format!("http://{}/api", t.gw.http_addr()))
        .header("host", "traced.example.com")
        .header("traceparent", format!("00-{incoming_trace}-{incoming_parent}-01"))
        .body(Full::<Bytes>::default())
        .unwrap();
    assert_eq!(send(req).await.status, 200);
    let (trace_id, parent) = traceparent_of(&t.backend.last());
    assert_eq!(trace_id, incoming_trace, "the trace continues");
    assert_ne!(parent, incoming_parent, "the client's parent is replaced by the gateway's span");
    let spans = spans_of(&t.receiver, incoming_trace, 2).await;
    assert!(spans.iter().all(|s| s.transport == "grpc"));
    let server = spans.iter().find(|s| s.span.kind == 2).unwrap();
    assert_eq!(server.parent_id(), incoming_parent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_traceparent_starts_a_new_trace_linked_to_it() {
    let t = start_traced("http/protobuf", false).await;
    let incoming_trace = "0af7651916cd43dd8448eb211c80319c";
    let req = Request::get(format!("http://{}/api", t.gw.http_addr()))
        .header("host", "traced.example.com")
        .header("traceparent", format!("00-{incoming_trace}-b7ad6b7169203331-01"))
        .body(Full::<Bytes>::default())
        .unwrap();
    assert_eq!(send(req).await.status, 200);
    let (trace_id, _) = traceparent_of(&t.backend.last());
    assert_ne!(trace_id, incoming_trace);
    let spans = spans_of(&t.receiver, &trace_id, 2).await;
    let server = spans.iter().find(|s| s.span.kind == 2).unwrap();
    assert!(server.span.parent_span_id.is_empty());
    let link = server.span.links.first().expect("a link to the incoming trace");
    assert_eq!(otlp::hex(&link.trace_id), incoming_trace);
}

/// The rotel OTLP collector (a PyPI wheel shipping its binary), installed
/// by scripts/test.sh.
fn rotel_agent() -> std::path::PathBuf {
    let path = std::env::var_os("WASMGRESS_ROTEL_AGENT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/otel/rotel/rotel-agent"));
    assert!(
        path.is_file(),
        "{} is missing: scripts/test.sh installs it (pip install --target target/otel rotel==0.0.1a15)",
        path.display()
    );
    path
}

/// A running collector, killed on drop.
struct Collector {
    child: std::process::Child,
    grpc: std::net::SocketAddr,
    http: std::net::SocketAddr,
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// Starts rotel receiving OTLP over gRPC and HTTP and forwarding every
/// span to `receiver` over gRPC.
async fn collector(receiver: &Receiver, dir: &TempDir) -> Collector {
    let (grpc, http) = (free_port(), free_port());
    let child = std::process::Command::new(rotel_agent())
        .arg("start")
        .args(["--otlp-grpc-endpoint", &grpc.to_string(), "--otlp-http-endpoint", &http.to_string()])
        .args(["--exporter", "otlp", "--otlp-exporter-protocol", "grpc"])
        .args(["--otlp-exporter-endpoint", &format!("http://{}", receiver.addr)])
        .args(["--batch-timeout", "50ms"])
        .arg("--pid-file")
        .arg(dir.path().join("rotel.pid"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("rotel-agent starts");
    let collector = Collector { child, grpc, http };
    eventually("the collector listens", || async {
        tokio::net::TcpStream::connect(grpc).await.is_ok() && tokio::net::TcpStream::connect(http).await.is_ok()
    })
    .await;
    collector
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_pass_through_a_real_collector_over_grpc_and_http() {
    let receiver = Receiver::start().await;
    let dir = TempDir::new();
    let rotel = collector(&receiver, &dir).await;
    for (protocol, port) in [("grpc", rotel.grpc), ("http/protobuf", rotel.http)] {
        let t = start_traced_to(receiver.clone(), &format!("http://{port}"), protocol, true).await;
        assert_eq!(get(t.gw.http_addr(), "traced.example.com", "/api").await.status, 200);
        let (trace_id, _) = traceparent_of(&t.backend.last());
        let spans = spans_of(&receiver, &trace_id, 2).await;
        assert!(
            spans.iter().any(|s| s.span.kind == 2 && s.attr("http.route").as_deref() == Some("/api")),
            "{protocol}"
        );
        t.gw.shutdown();
        t.gw.wait().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_plugin_callback_is_a_child_span_and_a_duration_sample() {
    let receiver = Receiver::start().await;
    let backend = Backend::start("plugged").await;
    let plugins = plugin_dir(&[("noop", "test_noop"), ("headers", "test_headers")]);
    let dir = TempDir::new();
    let list = "- name: noop\n- name: headers\n  config: {request_header: \"x-env=dev\"}";
    dir.write("svc.yaml", &service("plugged", &[backend.addr]));
    dir.write("ing.yaml", &annotated_ingress("plugged", "plugged.example.com", "plugged", &plugins_annotation(list)));
    let gw = start_traced_with_plugins(&dir, &plugins, &receiver).await;
    assert!(problems(&gw, "default/plugged").is_empty(), "{:?}", problems(&gw, "default/plugged"));

    assert_eq!(get(gw.http_addr(), "plugged.example.com", "/").await.status, 200);
    let seen = backend.last();
    assert_eq!(seen.headers["x-env"], "dev", "the plugins ran");
    let (trace_id, _) = traceparent_of(&seen);
    // Server, upstream, and per plugin: request headers, response headers, log.
    let spans = spans_of(&receiver, &trace_id, 2 + 2 * 3).await;
    let server = spans.iter().find(|s| s.span.kind == 2).unwrap();
    let plugin_spans: Vec<_> = spans.iter().filter(|s| s.span.name == "plugin").collect();
    for plugin in ["noop", "headers"] {
        for phase in ["request_headers", "response_headers", "log"] {
            let span = plugin_spans
                .iter()
                .find(|s| {
                    s.attr("wasmgress.plugin").as_deref() == Some(plugin)
                        && s.attr("wasmgress.phase").as_deref() == Some(phase)
                })
                .unwrap_or_else(|| panic!("a span for {plugin} {phase}"));
            assert_eq!(span.parent_id(), server.span_id(), "{plugin} {phase} is a child of the server span");
            assert_eq!(span.attr("wasmgress.plugin.action").as_deref(), Some("continue"));
        }
    }
    let url = format!("http://{}/metrics", gw.admin_addr());
    let text = String::from_utf8(
        http_body_util::BodyExt::collect(client().get(url.parse().unwrap()).await.unwrap().into_body())
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    let count =
        metric(&text, "wasmgress_plugin_callback_duration_seconds_count{plugin=\"headers\",phase=\"request_headers\"}");
    assert!(count >= Some(1), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugins_http_call_carries_the_requests_trace() {
    let receiver = Receiver::start().await;
    let (app, auth) = (Backend::start("app").await, Backend::start("allow").await);
    let plugins = plugin_dir(&[("callout", "test_callout")]);
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("app", &[app.addr]));
    dir.write("auth.yaml", &service("auth", &[auth.addr]));
    dir.write(
        "ing.yaml",
        &annotated_ingress("i", "app.com", "app", &plugins_annotation("- name: callout\n  config: auth:80")),
    );
    let gw = start_traced_with_plugins(&dir, &plugins, &receiver).await;
    let req = Request::get(format!("http://{}/page", gw.http_addr()))
        .header("host", "app.com")
        .header("x-token", "t1")
        .body(Full::<Bytes>::default())
        .unwrap();
    assert_eq!(send(req).await.status, 200);
    let (call_trace, _) = traceparent_of(&auth.last());
    let (app_trace, _) = traceparent_of(&app.last());
    assert_eq!(call_trace, app_trace, "the plugin's call is part of the request's trace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_endpoint_tried_is_an_upstream_span() {
    let receiver = Receiver::start().await;
    let backend = Backend::start("alive").await;
    let dead = closed_port().await;
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("two", &[dead, backend.addr]));
    dir.write("ing.yaml", &ingress("two", "two.example.com", "/", "two"));
    let mut cfg = config(dir.path());
    cfg.proxy.tracing = Some(tracing_from_env(&format!("http://{}", receiver.addr), "http/protobuf", true));
    let gw = wasmgress::Gateway::start(cfg).await.unwrap();
    // Round robin starts one of two requests at the dead endpoint.
    let mut traces = Vec::new();
    for _ in 0..2 {
        assert_eq!(get(gw.http_addr(), "two.example.com", "/").await.status, 200);
        traces.push(traceparent_of(&backend.last()));
    }
    let mut retried = false;
    for (trace_id, parent) in traces {
        let spans = spans_of(&receiver, &trace_id, 2).await;
        let attempts: Vec<_> = spans.iter().filter(|s| s.span.kind == 3).collect();
        let ok = attempts.iter().find(|s| s.span_id() == parent).expect("the backend's parent is an attempt span");
        assert_eq!(ok.attr("server.port"), Some(backend.addr.port().to_string()));
        if attempts.len() == 2 {
            let failed = attempts.iter().find(|s| s.span_id() != parent).unwrap();
            assert_eq!(failed.attr("server.port"), Some(dead.port().to_string()));
            assert_eq!(failed.span.status.as_ref().map(|s| s.code), Some(2), "the refused attempt is an error");
            retried = true;
        }
    }
    assert!(retried, "one request tried the dead endpoint first");
}
