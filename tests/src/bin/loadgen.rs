//! Load, soak and churn runs against a real gateway process on loopback.
//! It starts its own backends (the gateway's echo backend, a WebSocket echo
//! server), writes the manifests, starts `wasmgress run` on them, drives
//! traffic, samples the gateway's RSS from /proc and prints a table.
//! Every run is bounded in time and sends only to 127.0.0.1.
//!
//! ```text
//! loadgen connections GATEWAY_BIN PLUGIN_DIR COUNT SECONDS
//! loadgen soak        GATEWAY_BIN PLUGIN_DIR MINUTES RATE
//! loadgen churn       GATEWAY_BIN PLUGIN_DIR MINUTES CHANGES_PER_SECOND
//! ```
//! PLUGIN_DIR holds `header-rewrite.wasm` for the plugin route.
//! `bench/soak.sh` builds everything, raises the file descriptor limit and
//! runs all three.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use wasmgress_tests::{closed_port, service};

/// The routes every run serves.
const PLAIN: &str = "plain.soak";
const PLUGIN: &str = "plugin.soak";
const H2: &str = "h2.soak";
const WS: &str = "ws.soak";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: loadgen connections|soak|churn GATEWAY_BIN PLUGIN_DIR N M";
    let [scenario, bin, plugins, n, m] = args.as_slice() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let (n, m): (u64, u64) = (n.parse().expect("N is a number"), m.parse().expect("M is a number"));
    let setup = Setup::start(Path::new(bin), Path::new(plugins)).await;
    let passed = match scenario.as_str() {
        "connections" => connections(&setup, n as usize, Duration::from_secs(m)).await,
        "soak" => soak(&setup, n, m).await,
        "churn" => churn(&setup, Duration::from_secs(n * 60), m).await,
        _ => {
            eprintln!("{usage}");
            false
        }
    };
    drop(setup);
    std::process::exit(if passed { 0 } else { 1 });
}

/// Backends, manifests and the gateway process.
struct Setup {
    gateway: Child,
    http: SocketAddr,
    admin: SocketAddr,
    manifests: PathBuf,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = self.gateway.kill();
        let _ = self.gateway.wait();
        let _ = std::fs::remove_dir_all(&self.manifests);
    }
}

/// An Ingress for `host` → `svc`, with annotation lines (indented by 4) and
/// extra Prefix paths.
fn ingress(name: &str, host: &str, svc: &str, annotations: &str, extra_paths: &[&str]) -> String {
    let mut paths = String::new();
    for p in std::iter::once("/").chain(extra_paths.iter().copied()) {
        paths.push_str(&format!(
            "      - {{path: \"{p}\", pathType: Prefix, backend: {{service: {{name: {svc}, port: {{number: 80}}}}}}}}\n"
        ));
    }
    let annotations = if annotations.is_empty() { String::new() } else { format!("  annotations:\n{annotations}") };
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: default\n{annotations}spec:\n  ingressClassName: wasmgress\n  rules:\n  - host: {host}\n    http:\n      paths:\n{paths}"
    )
}

impl Setup {
    async fn start(bin: &Path, plugins: &Path) -> Self {
        let echo_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let echo = echo_listener.local_addr().unwrap();
        tokio::spawn(wasmgress::echo::serve(echo_listener, "echo"));
        let ws_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws = ws_listener.local_addr().unwrap();
        tokio::spawn(websocket_echo(ws_listener));

        let manifests = std::env::temp_dir().join(format!("wasmgress-loadgen-{}", std::process::id()));
        std::fs::create_dir_all(&manifests).unwrap();
        let write = |file: &str, text: String| std::fs::write(manifests.join(file), text).unwrap();
        write("services.yaml", format!("{}---\n{}", service("echo", &[echo]), service("ws", &[ws])));
        write("plain.yaml", ingress("plain", PLAIN, "echo", "", &[]));
        write("h2.yaml", ingress("h2", H2, "echo", "", &[]));
        write("ws.yaml", ingress("ws", WS, "ws", "", &[]));
        let rewrite = "    wasmgress.io/plugins: |\n      - name: header-rewrite\n        config:\n          request:\n            set: {x-soak: \"${request_uri}\"}\n          response:\n            set: {x-rewritten: \"yes\"}\n";
        write("plugin.yaml", ingress("plugin", PLUGIN, "echo", rewrite, &[]));

        let (http, admin) = (closed_port().await, closed_port().await);
        let gateway = Command::new(bin)
            .args(["run", "--manifests"])
            .arg(&manifests)
            .arg("--plugins")
            .arg(plugins)
            .args(["--http-listen", &http.to_string(), "--admin-listen", &admin.to_string()])
            .args(["--https-listen", "off", "--access-log", "off", "--max-connections", "20000"])
            .stdout(Stdio::null())
            // Its log only when asked for: the tables are the output.
            .stderr(if std::env::var_os("LOADGEN_GATEWAY_LOG").is_some() { Stdio::inherit() } else { Stdio::null() })
            .spawn()
            .expect("start the gateway");
        let setup = Setup { gateway, http, admin, manifests };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !setup.ready().await {
            assert!(Instant::now() < deadline, "the gateway did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        setup
    }

    async fn ready(&self) -> bool {
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let Ok(resp) = client.get(format!("http://{}/readyz", self.admin).parse().unwrap()).await else {
            return false;
        };
        resp.status() == StatusCode::OK && plain_get(self.http, PLUGIN).await.is_ok_and(|s| s == 200)
    }

    /// The gateway's resident set, in MiB.
    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.gateway.id())).unwrap_or_default();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        kib / 1024.0
    }

    async fn metric(&self, series: &str) -> u64 {
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let Ok(resp) = client.get(format!("http://{}/metrics", self.admin).parse().unwrap()).await else { return 0 };
        let body = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        wasmgress_tests::metric(&String::from_utf8_lossy(&body), series).unwrap_or(0)
    }
}

/// A WebSocket server echoing every message.
async fn websocket_echo(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
            while let Some(Ok(msg)) = ws.next().await {
                if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// One GET on a fresh connection; the status.
async fn plain_get(gw: SocketAddr, host: &str) -> Result<u16, String> {
    let stream = TcpStream::connect(gw).await.map_err(|e| e.to_string())?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = Request::get("/").header("host", host).body(Empty::<Bytes>::new()).unwrap();
    let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    resp.into_body().collect().await.map_err(|e| e.to_string())?;
    Ok(status)
}

/// Outcomes of one period: latencies of answered requests, 5xx, errors,
/// and what each unexpected outcome was.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    server_errors: u64,
    other_status: u64,
    failures: u64,
    unexpected: std::collections::BTreeMap<String, u64>,
}

impl Tally {
    fn record(&mut self, started: Instant, outcome: Result<u16, String>) {
        let unexpected = match outcome {
            Ok(s) if s < 400 => {
                self.latencies_us.push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
                return;
            }
            Ok(s) if s >= 500 => {
                self.server_errors += 1;
                format!("status {s}")
            }
            Ok(s) => {
                self.other_status += 1;
                format!("status {s}")
            }
            Err(e) => {
                self.failures += 1;
                e
            }
        };
        *self.unexpected.entry(unexpected).or_default() += 1;
    }

    /// Prints what went wrong, if anything did.
    fn explain(&self) {
        for (what, n) in &self.unexpected {
            eprintln!("  {n} × {what}");
        }
    }

    fn percentile(&mut self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        self.latencies_us.sort_unstable();
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }
}

type Shared = Arc<Mutex<Tally>>;

/// COUNT keep-alive connections held open, each sending one request every
/// two seconds (staggered), for the duration.
async fn connections(setup: &Setup, count: usize, duration: Duration) -> bool {
    let idle_rss = setup.rss_mib();
    let tally: Shared = Arc::default();
    let opened = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + duration;
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        let (tally, opened, gw) = (tally.clone(), opened.clone(), setup.http);
        tasks.push(tokio::spawn(async move {
            let connect = async {
                let stream = TcpStream::connect(gw).await.map_err(|e| e.to_string())?;
                hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                    .await
                    .map_err(|e| e.to_string())
            };
            let (mut send, conn) = match connect.await {
                Ok(c) => c,
                Err(e) => return tally.lock().unwrap().record(Instant::now(), Err(e)),
            };
            tokio::spawn(conn);
            opened.fetch_add(1, Ordering::Relaxed);
            // Spread the first requests over the first two seconds.
            tokio::time::sleep(Duration::from_millis((i as u64 * 2000) / count as u64)).await;
            let mut tick = tokio::time::interval(Duration::from_secs(2));
            while Instant::now() < end {
                tick.tick().await;
                let started = Instant::now();
                let req = Request::get("/").header("host", PLAIN).body(Empty::new()).unwrap();
                let outcome = async {
                    let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
                    let status = resp.status().as_u16();
                    resp.into_body().collect().await.map_err(|e| e.to_string())?;
                    Ok(status)
                }
                .await;
                let failed = outcome.is_err();
                tally.lock().unwrap().record(started, outcome);
                if failed {
                    return;
                }
            }
        }));
    }
    // Sample while everything is open.
    tokio::time::sleep(duration / 2).await;
    let open_rss = setup.rss_mib();
    let gauge = setup.metric(r#"wasmgress_active_connections{listener="http"}"#).await;
    for t in tasks {
        let _ = t.await;
    }
    let mut t = Mutex::into_inner(Arc::try_unwrap(tally).ok().unwrap()).unwrap();
    let answered = t.latencies_us.len();
    let (p50, p99) = (t.percentile(0.5), t.percentile(0.99));
    println!(
        "| connections | held open | gateway gauge | requests answered | 5xx | failed | p50 ms | p99 ms | RSS idle MiB | RSS all open MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {count} | {} | {gauge} | {answered} | {} | {} | {p50:.2} | {p99:.2} | {idle_rss:.1} | {open_rss:.1} |",
        opened.load(Ordering::Relaxed),
        t.server_errors,
        t.failures,
    );
    t.explain();
    t.server_errors == 0 && t.failures == 0 && t.other_status == 0 && opened.load(Ordering::Relaxed) == count as u64
}

/// Clients for every class: pooled HTTP/1.1 connections, and one h2c
/// connection multiplexing its requests.
#[derive(Clone)]
struct Clients {
    h1: hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>,
    h2: hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
    gw: SocketAddr,
}

impl Clients {
    async fn new(gw: SocketAddr) -> Self {
        let h1 = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http();
        let stream = TcpStream::connect(gw).await.expect("connect for h2c");
        let (h2, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2c handshake");
        tokio::spawn(conn);
        Self { h1, h2, gw }
    }

    async fn get(&self, host: &str, path: &str) -> Result<u16, String> {
        let resp = if host == H2 {
            // HTTP/2 routes by :authority, so the URI carries the host.
            let req = Request::get(format!("http://{host}{path}")).body(Empty::new()).unwrap();
            self.h2.clone().send_request(req).await.map_err(|e| e.to_string())?
        } else {
            let req =
                Request::get(format!("http://{}{path}", self.gw)).header("host", host).body(Empty::new()).unwrap();
            self.h1.request(req).await.map_err(|e| e.to_string())?
        };
        let status = resp.status().as_u16();
        if host == H2 && resp.version() != http::Version::HTTP_2 {
            return Err("not HTTP/2".into());
        }
        if host == PLUGIN && status == 200 && resp.headers().get("x-rewritten").is_none() {
            return Err("the plugin did not run".into());
        }
        resp.into_body().collect().await.map_err(|e| e.to_string())?;
        Ok(status)
    }
}

/// Sends `rate` requests a second, round-robin over `hosts`, open loop
/// (a slow answer does not slow the sending), until `end`.
async fn fixed_rate(clients: Clients, hosts: &'static [&'static str], rate: u64, end: Instant, tally: Shared) {
    let per_tick = (rate / 100).max(1);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(per_tick as f64 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut n = 0usize;
    while Instant::now() < end {
        tick.tick().await;
        for _ in 0..per_tick {
            let host = hosts[n % hosts.len()];
            n += 1;
            let (clients, tally) = (clients.clone(), tally.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let outcome = clients.get(host, "/").await;
                tally.lock().unwrap().record(started, outcome);
            });
        }
    }
}

/// WebSocket clients through the gateway, each sending a message a second
/// and waiting for its echo.
async fn websockets(gw: SocketAddr, count: usize, end: Instant, tally: Shared) {
    let mut tasks = Vec::new();
    for i in 0..count {
        let tally = tally.clone();
        tasks.push(tokio::spawn(async move {
            let request = http::Request::get(format!("ws://{gw}/chat"))
                .header("host", WS)
                .header("connection", "Upgrade")
                .header("upgrade", "websocket")
                .header("sec-websocket-version", "13")
                .header("sec-websocket-key", tokio_tungstenite::tungstenite::handshake::client::generate_key())
                .body(())
                .unwrap();
            let Ok(stream) = TcpStream::connect(gw).await else {
                return tally.lock().unwrap().record(Instant::now(), Err("connect".into()));
            };
            let mut ws = match tokio_tungstenite::client_async(request, stream).await {
                Ok((ws, _)) => ws,
                Err(e) => return tally.lock().unwrap().record(Instant::now(), Err(e.to_string())),
            };
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut n = 0u64;
            while Instant::now() < end {
                tick.tick().await;
                let started = Instant::now();
                let text = format!("{i}-{n}");
                n += 1;
                let echoed = async {
                    ws.send(Message::text(text.clone())).await.map_err(|e| e.to_string())?;
                    match ws.next().await {
                        Some(Ok(Message::Text(t))) if t.as_str() == text => Ok(101),
                        other => Err(format!("{other:?}")),
                    }
                };
                let outcome = echoed.await;
                let failed = outcome.is_err();
                tally.lock().unwrap().record(started, outcome);
                if failed {
                    return;
                }
            }
            let _ = ws.close(None).await;
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// A fixed rate over plain, plugin and h2 routes plus WebSockets for
/// `minutes`; a row per minute.
async fn soak(setup: &Setup, minutes: u64, rate: u64) -> bool {
    let end = Instant::now() + Duration::from_secs(minutes * 60);
    let tally: Shared = Arc::default();
    let clients = Clients::new(setup.http).await;
    static HOSTS: [&str; 3] = [PLAIN, PLUGIN, H2];
    let load = tokio::spawn(fixed_rate(clients, &HOSTS, rate, end, tally.clone()));
    let sockets = tokio::spawn(websockets(setup.http, 50, end, tally.clone()));
    println!("| minute | requests | 5xx | failed | p50 ms | p99 ms | gateway RSS MiB |");
    println!("|---|---|---|---|---|---|---|");
    let (mut p99s, mut rss, mut bad) = (Vec::new(), Vec::new(), 0);
    for minute in 1..=minutes {
        tokio::time::sleep_until((end - Duration::from_secs((minutes - minute) * 60)).into()).await;
        let mut t = std::mem::take(&mut *tally.lock().unwrap());
        let (p50, p99) = (t.percentile(0.5), t.percentile(0.99));
        let r = setup.rss_mib();
        println!(
            "| {minute} | {} | {} | {} | {p50:.2} | {p99:.2} | {r:.1} |",
            t.latencies_us.len() as u64 + t.server_errors + t.failures + t.other_status,
            t.server_errors,
            t.failures
        );
        bad += t.server_errors + t.failures + t.other_status;
        t.explain();
        p99s.push(p99);
        rss.push(r);
    }
    let _ = load.await;
    let _ = sockets.await;
    // Requests still in flight at the end belong to no minute: count their failures too.
    let late = std::mem::take(&mut *tally.lock().unwrap());
    bad += late.server_errors + late.failures + late.other_status;
    late.explain();
    let steady = |v: &[f64]| v.get(1..).filter(|s| !s.is_empty()).unwrap_or(v).to_vec();
    let (p99s, rss) = (steady(&p99s), steady(&rss));
    let p99_range = (p99s.iter().copied().fold(f64::INFINITY, f64::min), p99s.iter().copied().fold(0.0, f64::max));
    let growth = (rss.last().unwrap_or(&0.0) / rss.first().unwrap_or(&1.0) - 1.0) * 100.0;
    println!(
        "\nfrom minute 2: p99 {:.2}–{:.2} ms; RSS {:.1} → {:.1} MiB ({growth:+.1}%); failed or 5xx: {bad}",
        p99_range.0,
        p99_range.1,
        rss.first().unwrap_or(&0.0),
        rss.last().unwrap_or(&0.0)
    );
    bad == 0 && growth < 5.0
}

/// `changes` Ingress edits a second (ten churning Ingresses: a timeout
/// annotation and an extra path come and go) while 500 requests a second go
/// to a stable route and to the churning hosts, which always keep `/`.
async fn churn(setup: &Setup, duration: Duration, changes: u64) -> bool {
    let end = Instant::now() + duration;
    const CHURNING: usize = 10;
    static HOSTS: [&str; 11] = [
        PLAIN,
        "churn0.soak",
        "churn1.soak",
        "churn2.soak",
        "churn3.soak",
        "churn4.soak",
        "churn5.soak",
        "churn6.soak",
        "churn7.soak",
        "churn8.soak",
        "churn9.soak",
    ];
    let write = |i: usize, version: u64| {
        let annotations = format!("    wasmgress.io/proxy-read-timeout: \"{}s\"\n", 5 + version % 5);
        let extra = format!("/v{version}");
        let extra: Vec<&str> = if version.is_multiple_of(2) { vec![&extra] } else { vec![] };
        let text = ingress(&format!("churn{i}"), HOSTS[1 + i], "echo", &annotations, &extra);
        // Written whole and renamed in, as a ConfigMap update would appear.
        let tmp = setup.manifests.join(format!(".churn{i}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, setup.manifests.join(format!("churn{i}.yaml"))).unwrap();
    };
    for i in 0..CHURNING {
        write(i, 0);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while plain_get(setup.http, HOSTS[CHURNING]).await != Ok(200) {
        assert!(Instant::now() < deadline, "the churning Ingresses never appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reloads_before = setup.metric(r#"wasmgress_config_reloads_total{result="clean"}"#).await;
    let tally: Shared = Arc::default();
    let load = tokio::spawn(fixed_rate(Clients::new(setup.http).await, &HOSTS, 500, end, tally.clone()));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / changes as f64));
    let mut edits = 0u64;
    while Instant::now() < end {
        tick.tick().await;
        edits += 1;
        write((edits % CHURNING as u64) as usize, edits);
    }
    let _ = load.await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let reloads = setup.metric(r#"wasmgress_config_reloads_total{result="clean"}"#).await - reloads_before;
    let mut t = std::mem::take(&mut *tally.lock().unwrap());
    let answered = t.latencies_us.len();
    let (p50, p99) = (t.percentile(0.5), t.percentile(0.99));
    println!(
        "| minutes | Ingress edits | tables applied | requests answered | failed | 5xx | other | p50 ms | p99 ms | RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {edits} | {reloads} | {answered} | {} | {} | {} | {p50:.2} | {p99:.2} | {:.1} |",
        duration.as_secs() / 60,
        t.failures,
        t.server_errors,
        t.other_status,
        setup.rss_mib()
    );
    t.explain();
    t.failures == 0 && t.server_errors == 0 && t.other_status == 0
}
