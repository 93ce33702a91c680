//! Hostile and broken HTTP/1.1 clients: each gets the answer a careful
//! proxy gives, nothing ambiguous reaches a backend, and a well-behaved
//! client is served by the same gateway at the same time.

use std::net::SocketAddr;
use std::time::Duration;

use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasmgress_tests::*;

/// The status line of a raw exchange, or what happened instead.
fn status_of(answer: &str) -> &str {
    answer.lines().next().unwrap_or("<closed without an answer>")
}

/// One backend behind `well.com`, for the client that behaves.
async fn serves_the_well_behaved(gw: SocketAddr) {
    let answer = get(gw, "well.com", "/").await;
    assert_eq!((answer.status, answer.body.as_str()), (StatusCode::OK, "well"));
}

fn well_behaved_route(dir: &TempDir, well: &Backend) {
    dir.write(
        "well.yaml",
        &format!("{}---\n{}", service("well", &[well.addr]), ingress("well", "well.com", "/", "well")),
    );
}

#[tokio::test]
async fn slow_headers_and_slow_bodies_are_cut_off() {
    let (b, well) = (Backend::start("b").await, Backend::start("well").await);
    let dir = TempDir::new();
    route_to(&dir, "slow.com", &[b.addr]);
    well_behaved_route(&dir, &well);
    let mut cfg = config(dir.path());
    cfg.listener.header_read_timeout = Duration::from_millis(400);
    cfg.proxy.intake.body_timeout = Duration::from_millis(400);
    let gw = wasmgress::Gateway::start(cfg).await.unwrap();

    // Slowloris: the head trickles in a byte at a time, each byte well
    // inside any per-read timeout; the whole head is what is timed.
    let mut s = TcpStream::connect(gw.http_addr()).await.unwrap();
    let head = b"GET / HTTP/1.1\r\nHost: slow.com\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut cut_after = None;
    for (i, byte) in head.iter().enumerate() {
        if s.write_all(&[*byte]).await.is_err() {
            cut_after = Some(i);
            break;
        }
        serves_the_well_behaved(gw.http_addr()).await;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, s.read_to_end(&mut rest)).await.expect("the gateway hung up");
    let rest = String::from_utf8_lossy(&rest);
    assert!(cut_after.is_some() || rest.is_empty() || rest.starts_with("HTTP/1.1 408"), "{rest}");
    assert!(!rest.contains("200 OK"), "a trickled head must not be served: {rest}");

    // A body that stalls half-way: 408, and the connection is closed.
    let mut s = TcpStream::connect(gw.http_addr()).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: slow.com\r\nContent-Length: 10\r\n\r\nabc").await.unwrap();
    serves_the_well_behaved(gw.http_addr()).await;
    let mut answer = Vec::new();
    tokio::time::timeout(DEADLINE, s.read_to_end(&mut answer)).await.expect("closed").unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(status_of(&answer), "HTTP/1.1 408 Request Timeout", "{answer}");
    assert!(b.seen().iter().all(|r| r.uri != "/"), "the trickled request never reached the backend");
    serves_the_well_behaved(gw.http_addr()).await;
    gw.shutdown();
}

#[tokio::test]
async fn connections_over_the_limit_wait_for_a_free_slot() {
    let well = Backend::start("well").await;
    let dir = TempDir::new();
    well_behaved_route(&dir, &well);
    let mut cfg = config(dir.path());
    cfg.listener.max_connections = 3;
    cfg.workers = 1;
    let gw = wasmgress::Gateway::start(cfg).await.unwrap();
    let addr = gw.http_addr();

    let mut idle = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        // A request answered proves the connection holds a slot.
        s.write_all(b"GET / HTTP/1.1\r\nHost: well.com\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        idle.push(s);
    }
    // The fourth connection is held in the backlog: no answer while the
    // three stay open...
    let mut fourth = TcpStream::connect(addr).await.unwrap();
    fourth.write_all(b"GET / HTTP/1.1\r\nHost: well.com\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    let early = tokio::time::timeout(Duration::from_millis(300), fourth.read_to_end(&mut buf)).await;
    assert!(early.is_err(), "answered beyond the limit: {}", String::from_utf8_lossy(&buf));
    let metrics = get(gw.admin_addr(), "localhost", "/metrics").await.body;
    assert!(metric(&metrics, r#"wasmgress_connection_limit_reached_total{listener="http"}"#) >= Some(1), "{metrics}");
    // ...and served as soon as one closes.
    drop(idle.pop());
    tokio::time::timeout(DEADLINE, fourth.read_to_end(&mut buf)).await.expect("served once a slot freed").unwrap();
    assert_eq!(status_of(&String::from_utf8_lossy(&buf)), "HTTP/1.1 200 OK");
    gw.shutdown();
}

#[tokio::test]
async fn oversized_request_lines_and_heads_get_414_and_431() {
    let (b, well) = (Backend::start("b").await, Backend::start("well").await);
    let dir = TempDir::new();
    route_to(&dir, "big.com", &[b.addr]);
    well_behaved_route(&dir, &well);
    let gw = start(dir.path()).await;
    let a = gw.http_addr();
    let line = |target_len: usize| {
        format!("GET /{} HTTP/1.1\r\nHost: big.com\r\nConnection: close\r\n\r\n", "a".repeat(target_len))
    };
    // Within the head budget (32 KiB) but over the target limit (8 KiB).
    assert_eq!(status_of(&raw(a, line(9 << 10).as_bytes()).await), "HTTP/1.1 414 URI Too Long");
    // Over the whole head budget: hyper stops reading at it.
    assert_eq!(status_of(&raw(a, line(40 << 10).as_bytes()).await), "HTTP/1.1 431 Request Header Fields Too Large");
    let big_header = format!("GET / HTTP/1.1\r\nHost: big.com\r\nX-Big: {}\r\n\r\n", "a".repeat(40 << 10));
    assert_eq!(status_of(&raw(a, big_header.as_bytes()).await), "HTTP/1.1 431 Request Header Fields Too Large");
    let many: String = (0..101).map(|i| format!("X-{i}: a\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\nHost: big.com\r\n{many}\r\n");
    assert_eq!(status_of(&raw(a, many.as_bytes()).await), "HTTP/1.1 431 Request Header Fields Too Large");
    assert!(b.seen().is_empty(), "nothing oversized reached the backend");
    // Just under the limits is served.
    let fits = format!("GET /{} HTTP/1.1\r\nHost: big.com\r\nConnection: close\r\n\r\n", "a".repeat(8000));
    assert_eq!(status_of(&raw(a, fits.as_bytes()).await), "HTTP/1.1 200 OK");
    serves_the_well_behaved(a).await;
    gw.shutdown();
}

#[tokio::test]
async fn bodies_over_the_ingress_limit_get_413() {
    let (b, open, well) = (Backend::start("b").await, Backend::start("open").await, Backend::start("well").await);
    let dir = TempDir::new();
    dir.write("svc.yaml", &format!("{}---\n{}", service("b", &[b.addr]), service("open", &[open.addr])));
    dir.write("ing.yaml", &annotated_ingress("small", "small.com", "b", "    wasmgress.io/proxy-body-size: 1k\n"));
    dir.write("open.yaml", &annotated_ingress("open", "open.com", "open", "    wasmgress.io/proxy-body-size: \"0\"\n"));
    well_behaved_route(&dir, &well);
    let mut cfg = config(dir.path());
    cfg.proxy.intake.max_body = Some(4 << 10);
    let gw = wasmgress::Gateway::start(cfg).await.unwrap();
    let a = gw.http_addr();
    let post = |host: &str, body: &str| {
        format!(
            "POST /echo HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let chunked = |host: &str, body: &str| {
        format!(
            "POST /echo HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        )
    };
    let (under, over, huge) = ("x".repeat(1024), "x".repeat(1025), "x".repeat(64 << 10));

    // A declared length over the limit is refused before the upstream is asked.
    assert_eq!(status_of(&raw(a, post("small.com", &over).as_bytes()).await), "HTTP/1.1 413 Payload Too Large");
    assert!(b.seen().is_empty());
    // A chunked body is counted as it streams.
    assert_eq!(status_of(&raw(a, chunked("small.com", &over).as_bytes()).await), "HTTP/1.1 413 Payload Too Large");
    let echoed = raw(a, post("small.com", &under).as_bytes()).await;
    assert!(echoed.starts_with("HTTP/1.1 200") && echoed.ends_with(&under), "{echoed}");
    let echoed = raw(a, chunked("small.com", &under).as_bytes()).await;
    assert!(echoed.starts_with("HTTP/1.1 200") && echoed.ends_with(&under), "{echoed}");
    // The gateway's own limit holds where no annotation says otherwise; "0" lifts it.
    let well_post = format!(
        "POST / HTTP/1.1\r\nHost: well.com\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{huge}",
        huge.len()
    );
    assert_eq!(status_of(&raw(a, well_post.as_bytes()).await), "HTTP/1.1 413 Payload Too Large");
    let echoed = raw(a, chunked("open.com", &huge).as_bytes()).await;
    assert!(echoed.starts_with("HTTP/1.1 200") && echoed.ends_with(&huge), "{}", &echoed[..200]);
    serves_the_well_behaved(a).await;
    gw.shutdown();
}

#[tokio::test]
async fn smuggling_attempts_are_refused_or_framed_once() {
    let (b, well) = (Backend::start("b").await, Backend::start("well").await);
    let dir = TempDir::new();
    route_to(&dir, "s.com", &[b.addr]);
    well_behaved_route(&dir, &well);
    let gw = start(dir.path()).await;
    let a = gw.http_addr();
    let refused: &[(&str, &[u8])] = &[
        (
            "different Content-Lengths",
            b"POST /echo HTTP/1.1\r\nHost: s.com\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
        ),
        ("a Content-Length list", b"POST /echo HTTP/1.1\r\nHost: s.com\r\nContent-Length: 4, 5\r\n\r\nabcde"),
        ("a signed Content-Length", b"POST /echo HTTP/1.1\r\nHost: s.com\r\nContent-Length: +4\r\n\r\nabcd"),
        ("an unknown coding", b"POST /echo HTTP/1.1\r\nHost: s.com\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
        (
            "a coding after chunked",
            b"POST /echo HTTP/1.1\r\nHost: s.com\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        ),
        (
            "a coding before chunked",
            b"POST /echo HTTP/1.1\r\nHost: s.com\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        ),
        (
            "chunked twice",
            b"POST /echo HTTP/1.1\r\nHost: s.com\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ),
        (
            "a space before the colon",
            b"POST /echo HTTP/1.1\r\nHost: s.com\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        ),
        ("chunked in HTTP/1.0", b"POST /echo HTTP/1.0\r\nHost: s.com\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ("a NUL in a header", b"GET / HTTP/1.1\r\nHost: s.com\r\nX-A: a\0b\r\n\r\n"),
        ("a control character in a header", b"GET / HTTP/1.1\r\nHost: s.com\r\nX-A: a\x01b\r\n\r\n"),
        ("a bare CR", b"GET / HTTP/1.1\r\nHost: s.com\r\nX-A: a\rX-B: b\r\n\r\n"),
        ("a folded header", b"GET / HTTP/1.1\r\nHost: s.com\r\nX-A: a\r\n b\r\n\r\n"),
        (
            "a chunk size overflowing 64 bits",
            b"POST /echo HTTP/1.1\r\nHost: s.com\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nabcd\r\n0\r\n\r\n",
        ),
        (
            "a chunk size that is not hex",
            b"POST /echo HTTP/1.1\r\nHost: s.com\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabcd\r\n0\r\n\r\n",
        ),
    ];
    for (what, request) in refused {
        let answer = raw(a, request).await;
        assert_eq!(status_of(&answer), "HTTP/1.1 400 Bad Request", "{what}: {answer}");
        serves_the_well_behaved(a).await;
    }
    // Only the chunk-size cases may have reached the backend, and with no body.
    assert!(b.seen().iter().all(|r| r.headers.get("content-length").is_none()), "{:?}", b.seen());

    // Content-Length and Transfer-Encoding together: chunked wins, the length
    // is dropped (RFC 9112 §6.1) and the connection is closed after the
    // answer, so the bytes smuggled behind the body are never read as a request.
    let before = b.seen().len();
    let smuggle = b"POST /echo HTTP/1.1\r\nHost: s.com\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: s.com\r\n\r\n";
    let answer = raw(a, smuggle).await;
    assert_eq!(status_of(&answer), "HTTP/1.1 200 OK", "{answer}");
    assert!(answer.ends_with("abc"), "the body is the chunked one: {answer}");
    assert_eq!(answer.matches("HTTP/1.1").count(), 1, "one answer, the smuggled request unread: {answer}");
    let seen = b.seen();
    assert_eq!(seen.len(), before + 1, "{seen:?}");
    let forwarded = seen.last().unwrap();
    assert!(forwarded.headers.get("content-length").is_none() || forwarded.headers["content-length"] == "3");
    assert!(seen.iter().all(|r| r.uri != "/smuggled"));

    // Duplicate equal lengths mean one length (RFC 9110 §8.6).
    let answer = raw(a, b"POST /echo HTTP/1.1\r\nHost: s.com\r\nContent-Length: 4\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd").await;
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("abcd"), "{answer}");
    assert_eq!(b.last().headers.get_all("content-length").iter().count(), 1);

    // Bare LF line ends (RFC 9112 §2.2 lets a recipient accept them): the
    // request reaches the backend re-framed with CRLF, as one request.
    let answer = raw(a, b"GET /lf HTTP/1.1\nHost: s.com\nConnection: close\n\n").await;
    assert_eq!(status_of(&answer), "HTTP/1.1 200 OK");
    assert_eq!(b.last().uri, "/lf");

    // TRACE would echo credentials back (cross-site tracing).
    let answer = raw(a, b"TRACE / HTTP/1.1\r\nHost: s.com\r\nCookie: secret\r\nConnection: close\r\n\r\n").await;
    assert_eq!(status_of(&answer), "HTTP/1.1 405 Method Not Allowed");
    assert!(!answer.contains("secret"));
    gw.shutdown();
}

#[tokio::test]
async fn host_games_never_reach_the_wrong_tenant() {
    let (a_be, b_be, def) = (Backend::start("a").await, Backend::start("b").await, Backend::start("def").await);
    let dir = TempDir::new();
    dir.write(
        "svc.yaml",
        &[service("a", &[a_be.addr]), service("b", &[b_be.addr]), service("def", &[def.addr])].join("---\n"),
    );
    dir.write("a.yaml", &ingress("a", "a.com", "/", "a"));
    dir.write("b.yaml", &ingress("b", "b.com", "/", "b"));
    dir.write(
        "default.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: def, namespace: default}\nspec:\n  ingressClassName: wasmgress\n  defaultBackend: {service: {name: def, port: {number: 80}}}\n",
    );
    let gw = start(dir.path()).await;
    let gw_addr = gw.http_addr();
    let ask = |head: &'static str| async move {
        let answer = raw(gw_addr, format!("{head}Connection: close\r\n\r\n").as_bytes()).await;
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
        (status_of(&answer).to_string(), body)
    };
    let bad = "HTTP/1.1 400 Bad Request".to_string();
    assert_eq!(ask("GET / HTTP/1.1\r\n").await.0, bad, "no Host");
    assert_eq!(ask("GET / HTTP/1.1\r\nHost: a.com\r\nHost: b.com\r\n").await.0, bad, "two Hosts");
    assert_eq!(ask("GET / HTTP/1.1\r\nHost: b.com@a.com\r\n").await.0, bad, "user-info");
    assert_eq!(ask("GET http://b.com@a.com/ HTTP/1.1\r\nHost: a.com\r\n").await.0, bad, "user-info in the URI");
    assert_eq!(ask("GET / HTTP/1.1\r\nHost: a.com:80x\r\n").await.0, bad, "a bad port");
    assert_eq!(ask("GET / HTTP/1.1\r\nHost: a.com/b.com\r\n").await.0, bad, "a path in Host");
    assert_eq!(ask("GET / HTTP/1.1\r\nHost: a.com..\r\n").await.0, bad, "an empty label");
    assert_eq!(ask("GET / HTTP/1.1\r\nHost: a.com:1:80\r\n").await.0, bad, "two ports");
    for (head, tenant) in [
        ("GET / HTTP/1.1\r\nHost: A.COM\r\n", "a"),
        ("GET / HTTP/1.1\r\nHost: a.com.\r\n", "a"),
        ("GET / HTTP/1.1\r\nHost: a.com:8080\r\n", "a"),
        ("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n", "def"),
        ("GET / HTTP/1.1\r\nHost: xa.com\r\n", "def"),
    ] {
        assert_eq!(ask(head).await, ("HTTP/1.1 200 OK".to_string(), tenant.to_string()), "{head:?}");
    }
    // The absolute-form URI decides (RFC 9112 §3.2.2), and the upstream is
    // told the host it was routed by, not the Host the client also sent.
    assert_eq!(ask("GET http://b.com/x HTTP/1.1\r\nHost: a.com\r\n").await.1, "b");
    assert_eq!(b_be.last().headers["host"], "b.com");
    assert!(a_be.seen().iter().all(|r| r.headers["host"] != "b.com"));
    assert!(b_be.seen().iter().all(|r| r.headers["host"] == "b.com"));
    gw.shutdown();
}

#[tokio::test]
async fn path_games_cannot_reach_a_route_they_should_not() {
    let (admin, public) = (Backend::start("admin").await, Backend::start("public").await);
    let dir = TempDir::new();
    dir.write("svc.yaml", &format!("{}---\n{}", service("admin", &[admin.addr]), service("public", &[public.addr])));
    dir.write("admin.yaml", &ingress("admin", "p.com", "/admin", "admin"));
    dir.write("public.yaml", &ingress("public", "p.com", "/", "public"));
    let gw = start(dir.path()).await;
    let a = gw.http_addr();
    let ask = |path: &'static str| async move {
        let answer =
            raw(a, format!("GET {path} HTTP/1.1\r\nHost: p.com\r\nConnection: close\r\n\r\n").as_bytes()).await;
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
        (status_of(&answer).to_string(), body)
    };
    // Every spelling a backend could read as /admin is routed as /admin.
    for path in [
        "/admin/x",
        "/public/../admin/x",
        "/public/%2e%2e/admin/x",
        "/public/%2E%2e%2fadmin/x",
        "/%61dmin/x",
        "/admin%2fx",
        "//admin/x",
        "/./admin/x",
        "/admin;jsessionid=1/x",
        "/admin;/x",
    ] {
        assert_eq!(ask(path).await, ("HTTP/1.1 200 OK".to_string(), "admin".to_string()), "{path}");
    }
    // Overlong UTF-8 dots, control characters and broken escapes are refused.
    for path in ["/%c0%ae%c0%ae/admin/x", "/%c0%afadmin/x", "/a%00/admin", "/admin%zz", "/%e0%80%ae/admin"] {
        assert_eq!(ask(path).await.0, "HTTP/1.1 400 Bad Request", "{path}");
    }
    for path in ["/", "/administrator", "/x/admin", "/ADMIN"] {
        assert_eq!(ask(path).await.1, "public", "{path}");
    }
    // The public backend never saw a path that leads into /admin.
    for seen in public.seen() {
        let lower = seen.uri.to_ascii_lowercase();
        assert!(!lower.contains("..") && !lower.contains("%2e") && !lower.contains("%2f"), "{}", seen.uri);
        assert!(!lower.starts_with("/admin/") && !lower.starts_with("/admin;"), "{}", seen.uri);
    }
    gw.shutdown();
}
