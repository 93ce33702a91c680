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

/// The walkthrough's echo backends listen on fixed ports: one demo at a time.
static DEMO: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `wasmgress demo` on ports of its choosing, serving `manifests`.
fn demo(manifests: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["demo", "--http-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .arg("--manifests")
        .arg(manifests)
        .env("WASMGRESS_LOG", "warn")
        .stdout(Stdio::piped());
    cmd
}

/// Starts the demo `cmd`; returns it and the address it serves.
fn start_demo(cmd: &mut Command) -> (std::process::Child, String) {
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        assert!(Instant::now() < deadline, "the demo did not print its address");
        let line = lines.next().expect("the demo exited before it served (its stderr is above)").unwrap();
        if let Some(rest) = line.split(" on http://").nth(1).filter(|_| line.starts_with("wasmgress demo")) {
            break rest.trim().to_string();
        }
    };
    // Keep reading what it prints: a closed pipe would fail its next line.
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}

/// Stops the demo the way a supervisor does; true when it exited cleanly.
fn stop(mut child: std::process::Child) -> std::process::ExitStatus {
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap()
}

#[test]
fn demo_serves_the_walkthrough_and_stops_on_sigterm() {
    let _one = DEMO.lock().unwrap_or_else(|e| e.into_inner());
    let (child, addr) = start_demo(&mut demo(&examples()));
    let nacos = http_get(&addr, "dev.nacos.com", "/");
    assert!(nacos.contains("backend: nacos-service"), "{nacos}");
    assert!(http_get(&addr, "foo.mydomain.com", "/").contains("backend: foo"));
    let bar = http_get(&addr, "mydomain.com", "/bar/x");
    assert!(bar.contains("backend: bar") && bar.contains("path: /bar/x"), "{bar}");
    assert!(http_get(&addr, "unknown.example", "/").contains("backend: default-http-backend"));
    let status = stop(child);
    assert!(status.success(), "the demo exits cleanly on SIGTERM: {status}");
}

/// The smallest Proxy-Wasm plugin: a memory, the ABI version marker and
/// a context-create callback that does nothing (every other callback
/// absent, so the host lets the request through).
fn noop_plugin() -> Vec<u8> {
    fn section(id: u8, content: &[u8]) -> Vec<u8> {
        // Every length here is under 128: one LEB128 byte.
        [&[id, content.len() as u8][..], content].concat()
    }
    fn export(name: &str, kind: u8, index: u8) -> Vec<u8> {
        [&[name.len() as u8], name.as_bytes(), &[kind, index]].concat()
    }
    let (func, memory) = (0, 2);
    [
        &b"\0asm\x01\0\0\0"[..],
        // Types: () -> () and (i32, i32) -> ().
        &section(1, &[2, 0x60, 0, 0, 0x60, 2, 0x7f, 0x7f, 0]),
        // Functions: one of each type.
        &section(3, &[2, 0, 1]),
        // One memory of one page.
        &section(5, &[1, 0, 1]),
        &section(
            7,
            &[
                &[3][..],
                &export("memory", memory, 0),
                &export("proxy_abi_version_0_2_1", func, 0),
                &export("proxy_on_context_create", func, 1),
            ]
            .concat(),
        ),
        // Code: two empty bodies (no locals, `end`).
        &section(10, &[2, 2, 0, 0x0b, 2, 0, 0x0b]),
    ]
    .concat()
}

#[test]
fn plugins_run_where_the_instance_pool_cannot_be_reserved() {
    // The pool asks for terabytes of address space up front; under a
    // limit (here 16 GiB) the gateway maps instances on demand instead
    // of failing to start.
    let _one = DEMO.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!("wasmgress-limited-{}", std::process::id()));
    let (manifests, plugins) = (dir.join("manifests"), dir.join("plugins"));
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(examples().join("walkthrough.yaml"), manifests.join("walkthrough.yaml")).unwrap();
    std::fs::write(
        manifests.join("noop.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: noop\n  namespace: default\n  annotations:\n    wasmgress.io/plugins: '[{name: noop}]'\nspec:\n  ingressClassName: wasmgress\n  rules:\n  - host: noop.example\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: foo, port: {name: http}}}}\n",
    )
    .unwrap();
    std::fs::write(plugins.join("noop.wasm"), noop_plugin()).unwrap();
    let mut cmd = demo(&manifests);
    cmd.arg("--plugins").arg(&plugins);
    // SAFETY: setrlimit(2) only, in the child before exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: 16 << 30, rlim_max: 16 << 30 };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
        });
    }
    let (child, addr) = start_demo(&mut cmd);
    let answers: Vec<String> = (0..3).map(|_| http_get(&addr, "noop.example", "/through")).collect();
    let status = stop(child);
    let _ = std::fs::remove_dir_all(&dir);
    for answer in &answers {
        assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
        assert!(answer.contains("backend: foo") && answer.contains("path: /through"), "{answer}");
    }
    assert!(status.success(), "{status}");
}
