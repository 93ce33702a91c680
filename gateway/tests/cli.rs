//! The `wasmgress` binary as a user runs it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_wasmgress");

fn examples() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples")
}

#[test]
fn validate_accepts_the_examples() {
    let out = Command::new(BIN).arg("validate").arg(examples()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("0 rejected"), "{stdout}");
}

#[test]
fn validate_names_each_rejected_object_and_fails() {
    let dir = std::env::temp_dir().join(format!("wasmgress-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("bad.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: shop, namespace: web}\nspec:\n  ingressClassName: wasmgress\n  rules:\n  - http:\n      paths:\n      - {path: \"/[\", pathType: Exact, backend: {service: {name: s, port: {number: 80}}}}\n      - {path: /x, pathType: Regex, backend: {service: {name: s, port: {number: 80}}}}\n",
    )
    .unwrap();
    let out = Command::new(BIN).arg("validate").arg(&dir).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("error: web/shop: rejected: rules[0].http.paths[1]: unknown pathType \"Regex\""),
        "{stdout}"
    );
    assert!(stdout.contains("1 Ingresses, 0 path rules, 1 rejected"), "{stdout}");
}

/// Reads one HTTP/1.0 response to a GET with `host`.
fn http_get(addr: &str, host: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn demo_serves_the_walkthrough_and_stops_on_sigterm() {
    let mut child = Command::new(BIN)
        .args(["demo", "--http-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .arg("--manifests")
        .arg(examples())
        .env("WASMGRESS_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        assert!(Instant::now() < deadline, "the demo did not print its address");
        let line = lines.next().expect("demo output").unwrap();
        if let Some(rest) = line.split(" on http://").nth(1).filter(|_| line.starts_with("wasmgress demo")) {
            break rest.trim().to_string();
        }
    };
    let nacos = http_get(&addr, "dev.nacos.com", "/");
    assert!(nacos.contains("backend: nacos-service"), "{nacos}");
    assert!(http_get(&addr, "foo.mydomain.com", "/").contains("backend: foo"));
    let bar = http_get(&addr, "mydomain.com", "/bar/x");
    assert!(bar.contains("backend: bar") && bar.contains("path: /bar/x"), "{bar}");
    assert!(http_get(&addr, "unknown.example", "/").contains("backend: default-http-backend"));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "the demo exits cleanly on SIGTERM: {status}");
}
