//! Helpers for end-to-end tests: real backends on loopback, manifests in a
//! temporary directory, a gateway started in-process on ephemeral ports,
//! and plain HTTP clients.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use wasmgress::{Gateway, GatewayConfig};

/// The longest any test waits for a condition before failing.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "wasmgress-e2e-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
        Self(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes a file atomically (write + rename), as `kubectl cp` or a
    /// ConfigMap update would, so the gateway never reads half a file.
    pub fn write(&self, name: &str, text: &str) {
        let tmp = self.0.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).expect("write manifest");
        std::fs::rename(&tmp, self.0.join(name)).expect("rename manifest");
    }

    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.0.join(name)).expect("remove manifest");
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a backend saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: http::Method,
    pub uri: String,
    pub version: http::Version,
    pub headers: HeaderMap,
}

/// A real HTTP backend on loopback that records what it receives and
/// answers with its name. Paths with special behaviour:
/// `/slow/MS` answers after MS milliseconds; `/stream/N` streams N chunks,
/// one every 20 ms; `/echo` answers with the request body (its trailers as
/// `x-echo-trailer-*` headers); `/close` closes
/// the connection after answering.
pub struct Backend {
    pub name: String,
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicUsize>,
}

impl Backend {
    pub async fn start(name: &str) -> Self {
        Self::start_with(name, None).await
    }

    /// A backend serving HTTPS (HTTP/1.1) with `tls`.
    pub async fn start_tls(name: &str, tls: Arc<rustls::ServerConfig>) -> Self {
        Self::start_with(name, Some(tokio_rustls::TlsAcceptor::from(tls))).await
    }

    async fn start_with(name: &str, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind backend");
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (n, s, c) = (Arc::<str>::from(name), seen.clone(), connections.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                c.fetch_add(1, Ordering::Relaxed);
                let (n, s) = (n.clone(), s.clone());
                let svc = service_fn(move |req| backend_respond(n.clone(), s.clone(), req));
                let tls = tls.clone();
                tokio::spawn(async move {
                    let builder = auto::Builder::new(TokioExecutor::new());
                    match tls {
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                        }
                        Some(acceptor) => {
                            // A failed handshake (e.g. a client that refused our certificate) ends here.
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                            }
                        }
                    }
                });
            }
        });
        Self { name: name.into(), addr, seen, connections }
    }

    /// How many connections the backend has accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn last(&self) -> Seen {
        self.seen().pop().expect("the backend received a request")
    }
}

type BackendBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

async fn backend_respond(
    name: Arc<str>,
    seen: Arc<Mutex<Vec<Seen>>>,
    req: Request<Incoming>,
) -> Result<Response<BackendBody>, Infallible> {
    seen.lock().unwrap().push(Seen {
        method: req.method().clone(),
        uri: req.uri().to_string(),
        version: req.version(),
        headers: req.headers().clone(),
    });
    let path = req.uri().path().to_string();
    let text = |s: String| Full::new(Bytes::from(s)).boxed();
    let mut echoed_trailers = None;
    let body = if let Some(ms) = path.strip_prefix("/slow/") {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
        text(name.to_string())
    } else if let Some(n) = path.strip_prefix("/stream/") {
        let n: usize = n.parse().unwrap_or(1);
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1);
        tokio::spawn(async move {
            for i in 0..n {
                if tx.send(Ok(Frame::data(Bytes::from(format!("chunk {i}\n"))))).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        StreamBody::new(tokio_stream_from(rx)).boxed()
    } else if path == "/trailers" {
        // A gRPC-style answer: data, then the status in trailers.
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        trailers.insert("grpc-message", "served-by-backend".parse().unwrap());
        let frames = vec![Ok(Frame::data(Bytes::from(name.to_string()))), Ok(Frame::trailers(trailers))];
        StreamBody::new(futures_util::stream::iter(frames)).boxed()
    } else if path == "/echo" {
        let collected = req.into_body().collect().await.ok();
        echoed_trailers = collected.as_ref().and_then(|c| c.trailers().cloned());
        Full::new(collected.map(|c| c.to_bytes()).unwrap_or_default()).boxed()
    } else {
        text(name.to_string())
    };
    let mut resp = Response::new(body);
    resp.headers_mut().insert("x-backend", name.parse().unwrap());
    for (name, value) in echoed_trailers.iter().flatten() {
        let echoed = http::HeaderName::try_from(format!("x-echo-trailer-{name}")).unwrap();
        resp.headers_mut().insert(echoed, value.clone());
    }
    if path == "/close" {
        resp.headers_mut().insert("connection", "close".parse().unwrap());
    }
    Ok(resp)
}

/// An mpsc receiver as a stream, without pulling in tokio-stream.
fn tokio_stream_from<T>(mut rx: tokio::sync::mpsc::Receiver<T>) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// A Service and one EndpointSlice per endpoint (each may have its own port),
/// all ready.
pub fn service(name: &str, endpoints: &[SocketAddr]) -> String {
    let mut out = format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  ports: [{{name: http, port: 80, targetPort: 8080}}]\n"
    );
    for (i, ep) in endpoints.iter().enumerate() {
        out.push_str(&format!(
            "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {name}-{i}\n  namespace: default\n  labels: {{kubernetes.io/service-name: {name}}}\naddressType: IPv4\nports: [{{name: http, port: {}}}]\nendpoints:\n- addresses: [\"{}\"]\n  conditions: {{ready: true}}\n",
            ep.port(),
            ep.ip()
        ));
    }
    out
}

/// An Ingress of our class routing `host` + Prefix `path` to `svc` port 80.
pub fn ingress(name: &str, host: &str, path: &str, svc: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  ingressClassName: wasmgress\n  rules:\n  - host: {host}\n    http:\n      paths:\n      - {{path: \"{path}\", pathType: Prefix, backend: {{service: {{name: {svc}, port: {{number: 80}}}}}}}}\n"
    )
}

/// A gateway config on ephemeral loopback ports for `dir`.
pub fn config(dir: &Path) -> GatewayConfig {
    let mut cfg = GatewayConfig::new(dir);
    cfg.http_listen = "127.0.0.1:0".parse().unwrap();
    cfg.admin_listen = "127.0.0.1:0".parse().unwrap();
    cfg.https_listen = Some("127.0.0.1:0".parse().unwrap());
    // Tests rely on filesystem events, not on the periodic rescan.
    cfg.rescan_interval = Duration::from_secs(3600);
    cfg.proxy.upstream.connect_timeout = Duration::from_secs(2);
    cfg.listener.shutdown_grace = Duration::from_secs(10);
    cfg
}

pub async fn start(dir: &Path) -> Gateway {
    Gateway::start(config(dir)).await.expect("gateway starts")
}

/// A gateway for the manifests in `dir` with plugins from `plugins`, under
/// `runtime`'s limits.
pub async fn start_with_plugins(dir: &Path, plugins: &Path, runtime: wasmgress::wasm::RuntimeOptions) -> Gateway {
    let mut cfg = config(dir);
    cfg.plugins = Some(wasmgress::gateway::PluginConfig { dir: plugins.to_path_buf(), cache: None, runtime });
    Gateway::start(cfg).await.expect("gateway starts")
}

/// What the gateway reports about `object` (`namespace/name`).
pub fn problems(gw: &Gateway, object: &str) -> Vec<String> {
    gw.status().borrow().diagnostics.iter().filter(|d| d.object == object).map(|d| d.message.clone()).collect()
}

/// Waits until the gateway has applied a table past `generation`.
pub async fn wait_past(gw: &Gateway, generation: u64) -> u64 {
    let mut status = gw.status();
    let fut = status.wait_for(|s| s.generation > generation);
    tokio::time::timeout(DEADLINE, fut)
        .await
        .expect("the gateway reloaded in time")
        .expect("status channel open")
        .generation
}

/// The generation currently applied.
pub fn generation(gw: &Gateway) -> u64 {
    gw.status().borrow().generation
}

/// Polls `f` until it returns true, failing after `DEADLINE`.
pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    while !f().await {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A plain HTTP/1.1 client with connection pooling.
pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

/// A response with its body read.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

/// GET `path` from the gateway with a Host header.
pub async fn get(gw: SocketAddr, host: &str, path: &str) -> Answer {
    send(Request::get(format!("http://{gw}{path}")).header("host", host).body(Full::default()).unwrap()).await
}

pub async fn send(req: Request<Full<Bytes>>) -> Answer {
    let resp = client().request(req).await.expect("the gateway answers");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Answer { status: parts.status, headers: parts.headers, body: String::from_utf8_lossy(&body).into_owned() }
}

/// Writes raw bytes on a fresh connection and reads until the peer closes:
/// for requests no well-behaved client would send. `None` when the peer
/// kept the connection open past `DEADLINE`.
pub async fn raw_until_closed(addr: SocketAddr, request: &[u8]) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    let mut out = Vec::new();
    match tokio::time::timeout(DEADLINE, s.read_to_end(&mut out)).await {
        Ok(_) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

/// Like [`raw_until_closed`], for requests the gateway must answer and close.
pub async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    raw_until_closed(addr, request).await.expect("the gateway answered and closed the connection")
}

/// A loopback address where nothing listens (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

/// Builds a workspace of plugins for wasm32-wasip1 (release), once per
/// test binary, and returns the directory of its `.wasm` files.
fn build_wasm_workspace(root: &Path) -> PathBuf {
    let target = root.join("target");
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--target", "wasm32-wasip1", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building {} failed (is the wasm32-wasip1 target installed?)", root.display());
    target.join("wasm32-wasip1/release")
}

/// The test plugins in `tests/plugins` (plain `proxy-wasm` crate), built.
pub fn built_plugins() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| build_wasm_workspace(&Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins"))).clone()
}

/// The plugins in `plugins/` (written with wasmgress-sdk), built.
pub fn built_sdk_plugins() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| build_wasm_workspace(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins"))).clone()
}

/// A plugin directory holding the named plugins: `(installed name, crate
/// file stem)`, from the test plugins or, failing that, from `plugins/`.
pub fn plugin_dir(plugins: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new();
    for (name, stem) in plugins {
        let file = format!("{stem}.wasm");
        let mut from = built_plugins().join(&file);
        if !from.exists() {
            from = built_sdk_plugins().join(&file);
        }
        std::fs::copy(&from, dir.path().join(format!("{name}.wasm"))).expect("copy plugin");
    }
    dir
}

/// An Ingress like [`ingress`] with annotations (a YAML mapping body).
pub fn annotated_ingress(name: &str, host: &str, svc: &str, annotations: &str) -> String {
    ingress(name, host, "/", svc).replace(
        &format!("metadata: {{name: {name}, namespace: default}}"),
        &format!("metadata:\n  name: {name}\n  namespace: default\n  annotations:\n{annotations}"),
    )
}

/// The `wasmgress.io/plugins` annotation, indented for [`annotated_ingress`].
pub fn plugins_annotation(list: &str) -> String {
    let body: String = list.lines().map(|l| format!("      {l}\n")).collect();
    format!("    wasmgress.io/plugins: |\n{body}")
}

/// Writes one route into `dir`: Service `s` (in `svc.yaml`) over
/// `endpoints`, and Ingress `i` (in `ing.yaml`) sending `host` to it.
pub fn route_to(dir: &TempDir, host: &str, endpoints: &[SocketAddr]) {
    dir.write("svc.yaml", &service("s", endpoints));
    dir.write("ing.yaml", &ingress("i", host, "/", "s"));
}

/// The value of one series in a Prometheus text exposition, e.g.
/// `metric(&body, r#"wasmgress_plugin_instances{plugin="x"}"#)`.
pub fn metric(exposition: &str, series: &str) -> Option<u64> {
    exposition.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

pub mod fuzz;
pub mod h2_frames;
pub mod kube_api;
pub mod otlp;
pub mod rbac;
pub mod waf;
