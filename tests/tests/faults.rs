//! Faults behind the gateway: backends that reset, hang or answer garbage,
//! Services that lose every endpoint, plugins failing under concurrent
//! load, a configuration source that disappears.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wasmgress_tests::*;

/// How the misbehaving backend treats the next request.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Mode {
    Good = 0,
    /// Reads the request, then resets the connection.
    Reset,
    /// Answers with something that is not HTTP.
    Garbage,
    /// Reads the request and never answers.
    Hang,
    /// Sends the head and a tenth of the declared body, then resets.
    Partial,
}

/// A raw TCP backend whose behaviour the test switches; it counts the
/// requests it read.
struct BadBackend {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    requests: Arc<AtomicUsize>,
}

impl BadBackend {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, requests) = (Arc::new(AtomicU8::new(0)), Arc::new(AtomicUsize::new(0)));
        let (m, r) = (mode.clone(), requests.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                tokio::spawn(serve_badly(stream, m.clone(), r.clone()));
            }
        });
        Self { addr, mode, requests }
    }

    fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn serve_badly(mut stream: TcpStream, mode: Arc<AtomicU8>, requests: Arc<AtomicUsize>) {
    let mut buf = Vec::new();
    loop {
        // One request: a head, and the body its Content-Length declares.
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let body_len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + body_len {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + body_len);
        requests.fetch_add(1, Ordering::SeqCst);
        let reset = |stream: TcpStream| {
            // Linger 0: close with RST, not FIN.
            let _ = stream.set_zero_linger();
            drop(stream);
        };
        match mode.load(Ordering::SeqCst) {
            0 => {
                if stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood").await.is_err() {
                    return;
                }
            }
            1 => return reset(stream),
            2 => {
                let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n").await;
                return;
            }
            3 => {
                tokio::time::sleep(DEADLINE).await;
                return;
            }
            _ => {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b").await;
                let _ = stream.flush().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                return reset(stream);
            }
        }
    }
}

#[tokio::test]
async fn misbehaving_backends_get_502_or_504_and_are_used_again_once_they_recover() {
    let bad = BadBackend::start().await;
    let well = Backend::start("well").await;
    let dir = TempDir::new();
    dir.write("svc.yaml", &format!("{}---\n{}", service("bad", &[bad.addr]), service("well", &[well.addr])));
    dir.write("bad.yaml", &annotated_ingress("bad", "bad.com", "bad", "    wasmgress.io/proxy-read-timeout: 300ms\n"));
    dir.write("well.yaml", &ingress("well", "well.com", "/", "well"));
    let gw = start(dir.path()).await;
    let a = gw.http_addr();
    let post = || {
        Request::post(format!("http://{a}/submit"))
            .header("host", "bad.com")
            .body(Full::new(Bytes::from_static(b"order=1")))
            .unwrap()
    };
    let cases = [
        (Mode::Reset, StatusCode::BAD_GATEWAY),
        (Mode::Garbage, StatusCode::BAD_GATEWAY),
        (Mode::Hang, StatusCode::GATEWAY_TIMEOUT),
    ];
    for (mode, expected) in cases {
        bad.set(mode);
        assert_eq!(get(a, "bad.com", "/").await.status, expected);
        // A POST that reached the backend is never sent twice.
        let before = bad.requests();
        assert_eq!(send(post()).await.status, expected);
        assert_eq!(bad.requests(), before + 1, "a non-idempotent request was retried");
        assert_eq!(get(a, "well.com", "/").await.status, StatusCode::OK, "the neighbour keeps serving");
    }
    // A response cut short reaches the client as cut short, never as a
    // shorter complete body.
    bad.set(Mode::Partial);
    let resp = client()
        .request(Request::get(format!("http://{a}/")).header("host", "bad.com").body(Full::default()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.into_body().collect().await.is_err(), "the truncated body must fail on the client");
    // Recovered: the same endpoint serves again.
    bad.set(Mode::Good);
    let answer = get(a, "bad.com", "/").await;
    assert_eq!((answer.status, answer.body.as_str()), (StatusCode::OK, "good"));
    assert_eq!(send(post()).await.status, StatusCode::OK);
    gw.shutdown();
}

#[tokio::test]
async fn a_service_without_endpoints_gets_503_until_they_return() {
    let b = Backend::start("b").await;
    let dir = TempDir::new();
    route_to(&dir, "ep.com", &[b.addr]);
    let gw = start(dir.path()).await;
    let a = gw.http_addr();
    assert_eq!(get(a, "ep.com", "/").await.status, StatusCode::OK);
    let generation = generation(&gw);
    dir.write("svc.yaml", &service("s", &[b.addr]).replace("ready: true", "ready: false"));
    wait_past(&gw, generation).await;
    let answer = get(a, "ep.com", "/").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        problems(&gw, "default/i").iter().any(|p| p.contains("no ready endpoints")),
        "{:?}",
        problems(&gw, "default/i")
    );
    let generation = wasmgress_tests::generation(&gw);
    dir.write("svc.yaml", &service("s", &[b.addr]));
    wait_past(&gw, generation).await;
    assert_eq!(get(a, "ep.com", "/").await.status, StatusCode::OK);
    assert!(problems(&gw, "default/i").is_empty());
    gw.shutdown();
}

/// The resident set of this process (the gateway runs in it), in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

fn plugin_failures() -> u64 {
    wasmgress::wasm::chain::failure_counts().iter().filter(|(p, _, _)| p == "hostile").map(|(_, _, n)| n).sum()
}

#[tokio::test]
async fn failing_plugins_under_concurrent_load_are_contained() {
    let b = Backend::start("b").await;
    let plugins = plugin_dir(&[("hostile", "test_hostile")]);
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("s", &[b.addr]));
    dir.write("calm.yaml", &ingress("calm", "calm.com", "/", "s"));
    for (mode, failure) in [("loop", "closed"), ("trap", "open"), ("oom", "closed")] {
        let list = format!("- name: hostile\n  failure: {failure}\n  config: {mode}");
        dir.write(
            &format!("{mode}.yaml"),
            &annotated_ingress(mode, &format!("{mode}.com"), "s", &plugins_annotation(&list)),
        );
    }
    let runtime = wasmgress::wasm::RuntimeOptions {
        callback_deadline: Duration::from_millis(5),
        memory_limit: 16 << 20,
        ..wasmgress::wasm::RuntimeOptions::default()
    };
    let mut cfg = config(dir.path());
    cfg.plugins = Some(wasmgress::gateway::PluginConfig { dir: plugins.path().to_path_buf(), cache: None, runtime });
    cfg.workers = 2;
    let gw = wasmgress::Gateway::start(cfg).await.unwrap();
    let a = gw.http_addr();
    let expected = [
        ("calm.com", StatusCode::OK),
        ("loop.com", StatusCode::SERVICE_UNAVAILABLE),
        ("trap.com", StatusCode::OK),
        ("oom.com", StatusCode::SERVICE_UNAVAILABLE),
    ];
    let round = |requests: usize| async move {
        let tasks: Vec<_> = (0..16)
            .map(|t| {
                tokio::spawn(async move {
                    let mut wrong = Vec::new();
                    for i in 0..requests {
                        let (host, status) = expected[(t + i) % expected.len()];
                        let got = get(a, host, "/").await.status;
                        if got != status {
                            wrong.push((host, got));
                        }
                    }
                    wrong
                })
            })
            .collect();
        let mut wrong = Vec::new();
        for t in tasks {
            wrong.extend(t.await.unwrap());
        }
        wrong
    };
    // Warm up (instances, pools, allocator), then load and compare.
    assert_eq!(round(8).await, vec![]);
    let failed_before = plugin_failures();
    let warm = rss_kib();
    assert_eq!(round(40).await, vec![], "every request got its route's policy");
    let after = rss_kib();
    // 16 × 40 requests, 320 of them killing an instance: instances are
    // rebuilt and freed, not accumulated (each may reserve 16 MiB).
    assert!(after < warm + 64 * 1024, "RSS grew from {warm} KiB to {after} KiB");
    let metrics = get(gw.admin_addr(), "localhost", "/metrics").await.body;
    // Absent when none is alive: the last request of each may have killed it.
    let instances = metric(&metrics, r#"wasmgress_plugin_instances{plugin="hostile"}"#).unwrap_or(0);
    assert!(instances <= 2 * 3, "at most one live instance per route and worker, not {instances}");
    // 160 requests each to the looping, trapping and memory-eating plugins,
    // each one a failure met by a fresh instance.
    assert!(plugin_failures() >= failed_before + 3 * 160, "{} -> {}", failed_before, plugin_failures());
    gw.shutdown();
}

#[tokio::test]
async fn a_vanished_manifest_directory_keeps_the_last_table_and_readyz_says_stale() {
    let b = Backend::start("b").await;
    let root = TempDir::new();
    let dir = root.path().join("manifests");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("svc.yaml"), service("s", &[b.addr])).unwrap();
    std::fs::write(dir.join("ing.yaml"), ingress("i", "stay.com", "/", "s")).unwrap();
    let mut cfg = config(&dir);
    cfg.rescan_interval = Duration::from_millis(200);
    let gw = wasmgress::Gateway::start(cfg).await.unwrap();
    let (a, admin) = (gw.http_addr(), gw.admin_addr());
    assert_eq!(get(admin, "localhost", "/readyz").await.body, "ready\n");

    std::fs::remove_dir_all(&dir).unwrap();
    eventually("readyz reports the stale configuration", || async {
        get(admin, "localhost", "/readyz").await.body.contains("stale")
    })
    .await;
    let ready = get(admin, "localhost", "/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "still serving, so still ready");
    assert!(ready.body.contains("cannot read the manifest directory"), "{}", ready.body);
    assert_eq!(get(a, "stay.com", "/").await.status, StatusCode::OK, "the last good table serves");
    let metrics = get(admin, "localhost", "/metrics").await.body;
    assert_eq!(metric(&metrics, "wasmgress_config_stale"), Some(1));

    // The directory comes back with a change: picked up, no longer stale.
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("svc.yaml"), service("s", &[b.addr])).unwrap();
    std::fs::write(dir.join("ing.yaml"), ingress("i", "back.com", "/", "s")).unwrap();
    eventually("the new configuration applies", || async { get(a, "back.com", "/").await.status == StatusCode::OK })
        .await;
    assert_eq!(get(admin, "localhost", "/readyz").await.body, "ready\n");
    gw.shutdown();
}
