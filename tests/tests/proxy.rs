//! Requests through a real gateway to real backends on loopback.

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use wasmgress_tests::*;

#[tokio::test]
async fn hosts_paths_and_default_backend_reach_the_right_service() {
    let (foo, bar, def) = (Backend::start("foo").await, Backend::start("bar").await, Backend::start("def").await);
    let dir = TempDir::new();
    dir.write(
        "svc.yaml",
        &[service("foo", &[foo.addr]), service("bar", &[bar.addr]), service("def", &[def.addr])].join("---\n"),
    );
    dir.write("foo.yaml", &ingress("foo", "foo.mydomain.com", "/", "foo"));
    dir.write("bar.yaml", &ingress("bar", "mydomain.com", "/bar/", "bar"));
    dir.write(
        "default.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: def}\nspec:\n  ingressClassName: wasmgress\n  defaultBackend: {service: {name: def, port: {number: 80}}}\n",
    );
    let gw = start(dir.path()).await;
    let a = gw.http_addr();
    assert_eq!(get(a, "foo.mydomain.com", "/anything").await.body, "foo");
    assert_eq!(get(a, "FOO.mydomain.com:8080", "/").await.body, "foo");
    assert_eq!(get(a, "mydomain.com", "/bar").await.body, "bar");
    assert_eq!(get(a, "mydomain.com", "/bar/baz?x=1").await.body, "bar");
    assert_eq!(bar.last().uri, "/bar/baz?x=1");
    assert_eq!(get(a, "mydomain.com", "/barn").await.body, "def");
    assert_eq!(get(a, "other.com", "/").await.body, "def");
    gw.shutdown();
}

#[tokio::test]
async fn unmatched_requests_get_404_and_missing_services_503() {
    let dir = TempDir::new();
    dir.write("i.yaml", &ingress("ghost", "ghost.com", "/", "nowhere"));
    let gw = start(dir.path()).await;
    let a = gw.http_addr();
    let r = get(a, "nomatch.com", "/").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get(a, "ghost.com", "/").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!r.body.contains("nowhere"), "no internal names leak: {}", r.body);
    gw.shutdown();
}

#[tokio::test]
async fn upstream_sees_forwarded_headers_and_no_hop_by_hop_headers() {
    let b = Backend::start("b").await;
    let dir = TempDir::new();
    dir.write("all.yaml", &format!("{}---\n{}", service("b", &[b.addr]), ingress("i", "shop.com", "/", "b")));
    let gw = start(dir.path()).await;
    let req = Request::get(format!("http://{}/cart", gw.http_addr()))
        .header("host", "shop.com")
        .header("connection", "x-private")
        .header("x-private", "secret")
        .header("keep-alive", "timeout=5")
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-app", "kept")
        .body(Full::default())
        .unwrap();
    assert_eq!(send(req).await.status, StatusCode::OK);
    let seen = b.last();
    assert_eq!(seen.headers["host"], "shop.com");
    assert_eq!(seen.headers["x-forwarded-for"], "127.0.0.1", "a client cannot forge its address");
    assert_eq!(seen.headers["x-real-ip"], "127.0.0.1");
    assert_eq!(seen.headers["x-forwarded-host"], "shop.com");
    assert_eq!(seen.headers["x-forwarded-proto"], "http");
    assert_eq!(seen.headers["x-forwarded-port"], gw.http_addr().port().to_string().as_str());
    assert_eq!(seen.headers["x-app"], "kept");
    assert!(seen.headers.get("x-private").is_none());
    assert!(seen.headers.get("keep-alive").is_none());
    gw.shutdown();
}

#[tokio::test]
async fn dot_segments_cannot_bypass_a_route_and_upstream_sees_the_normalized_path() {
    let (public, admin) = (Backend::start("public").await, Backend::start("admin").await);
    let dir = TempDir::new();
    dir.write("svc.yaml", &format!("{}---\n{}", service("public", &[public.addr]), service("admin", &[admin.addr])));
    dir.write("p.yaml", &ingress("p", "app.com", "/public", "public"));
    dir.write("a.yaml", &ingress("a", "app.com", "/admin", "admin"));
    let gw = start(dir.path()).await;
    for path in ["/public/../admin", "/public/%2e%2e/admin", "/public%2f..%2fadmin", "//admin"] {
        let r = get(gw.http_addr(), "app.com", path).await;
        assert_eq!(r.body, "admin", "{path} routes to the admin route, not public");
        assert_eq!(admin.last().uri, "/admin", "{path}");
    }
    assert!(public.seen().is_empty(), "the public backend never saw an admin path");
    gw.shutdown();
}

#[tokio::test]
async fn round_robin_spreads_requests_over_ready_endpoints() {
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    let dir = TempDir::new();
    route_to(&dir, "rr.com", &[one.addr, two.addr]);
    let gw = start(dir.path()).await;
    for _ in 0..10 {
        assert_eq!(get(gw.http_addr(), "rr.com", "/").await.status, StatusCode::OK);
    }
    assert_eq!(one.seen().len(), 5);
    assert_eq!(two.seen().len(), 5);
    gw.shutdown();
}

#[tokio::test]
async fn a_refused_connect_is_retried_on_another_endpoint_with_the_body_intact() {
    let live = Backend::start("live").await;
    let dead = closed_port().await;
    let dir = TempDir::new();
    route_to(&dir, "retry.com", &[dead, live.addr]);
    let gw = start(dir.path()).await;
    for i in 0..6 {
        let body = format!("payload {i}");
        let req = Request::post(format!("http://{}/echo", gw.http_addr()))
            .header("host", "retry.com")
            .body(Full::new(Bytes::from(body.clone())))
            .unwrap();
        let r = send(req).await;
        assert_eq!(r.status, StatusCode::OK, "request {i}");
        assert_eq!(r.body, body, "request {i}: the body survived the failed attempt");
    }
    gw.shutdown();
}

#[tokio::test]
async fn upstream_connections_are_kept_alive_and_reused() {
    let b = Backend::start("b").await;
    let dir = TempDir::new();
    route_to(&dir, "pool.com", &[b.addr]);
    let gw = start(dir.path()).await;
    for _ in 0..30 {
        assert_eq!(get(gw.http_addr(), "pool.com", "/").await.status, StatusCode::OK);
    }
    assert_eq!(b.seen().len(), 30);
    // One pool per worker, requests one at a time: at most one connection each.
    assert!(b.connections() <= 2, "30 requests opened {} upstream connections", b.connections());
    gw.shutdown();
}

#[tokio::test]
async fn an_upstream_closing_connections_costs_no_request() {
    let b = Backend::start("b").await;
    let dir = TempDir::new();
    route_to(&dir, "close.com", &[b.addr]);
    let gw = start(dir.path()).await;
    for i in 0..10 {
        // The backend closes the connection after every other answer.
        let path = if i % 2 == 0 { "/close" } else { "/" };
        assert_eq!(get(gw.http_addr(), "close.com", path).await.status, StatusCode::OK, "request {i}");
    }
    assert!(b.connections() >= 5, "closed connections were not reused");
    gw.shutdown();
}

#[tokio::test]
async fn requests_beyond_the_busy_connection_cap_wait_for_a_connection() {
    let b = Backend::start("b").await;
    let dir = TempDir::new();
    route_to(&dir, "capped.com", &[b.addr]);
    let mut cfg = config(dir.path());
    cfg.workers = 1;
    cfg.proxy.upstream.max_connections_per_endpoint = 2;
    let gw = wasmgress::Gateway::start(cfg).await.unwrap();
    let a = gw.http_addr();
    let requests: Vec<_> =
        (0..6).map(|_| tokio::spawn(async move { get(a, "capped.com", "/slow/200").await })).collect();
    for r in requests {
        let answer = r.await.unwrap();
        assert_eq!((answer.status, answer.body.as_str()), (StatusCode::OK, "b"));
    }
    assert_eq!(b.connections(), 2, "six concurrent requests over two upstream connections");
    gw.shutdown();
}

#[tokio::test]
async fn all_endpoints_refusing_gives_502() {
    let dir = TempDir::new();
    dir.write(
        "all.yaml",
        &format!("{}---\n{}", service("s", &[closed_port().await]), ingress("i", "down.com", "/", "s")),
    );
    let gw = start(dir.path()).await;
    assert_eq!(get(gw.http_addr(), "down.com", "/").await.status, StatusCode::BAD_GATEWAY);
    gw.shutdown();
}

#[tokio::test]
async fn a_slow_upstream_gets_504_after_the_ingress_read_timeout() {
    let b = Backend::start("slow").await;
    let dir = TempDir::new();
    let ing = ingress("i", "slow.com", "/", "s").replace(
        "metadata: {name: i, namespace: default}",
        "metadata: {name: i, namespace: default, annotations: {wasmgress.io/proxy-read-timeout: 200ms}}",
    );
    dir.write("all.yaml", &format!("{}---\n{ing}", service("s", &[b.addr])));
    let gw = start(dir.path()).await;
    assert_eq!(get(gw.http_addr(), "slow.com", "/slow/5000").await.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(get(gw.http_addr(), "slow.com", "/slow/0").await.status, StatusCode::OK);
    gw.shutdown();
}

#[tokio::test]
async fn bad_hosts_are_rejected_with_400() {
    let dir = TempDir::new();
    let gw = start(dir.path()).await;
    let r = raw(gw.http_addr(), b"GET / HTTP/1.1\r\nHost: user@evil.com\r\nConnection: close\r\n\r\n").await;
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    let r = raw(gw.http_addr(), b"GET / HTTP/1.0\r\n\r\n").await;
    assert!(r.starts_with("HTTP/1.0 400") || r.starts_with("HTTP/1.1 400"), "{r}");
    gw.shutdown();
}

#[tokio::test]
async fn absolute_form_uri_wins_over_host() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let dir = TempDir::new();
    dir.write("svc.yaml", &format!("{}---\n{}", service("a", &[a.addr]), service("b", &[b.addr])));
    dir.write("a.yaml", &ingress("a", "a.com", "/", "a"));
    dir.write("b.yaml", &ingress("b", "b.com", "/", "b"));
    let gw = start(dir.path()).await;
    let r = raw(gw.http_addr(), b"GET http://b.com/x HTTP/1.1\r\nHost: a.com\r\nConnection: close\r\n\r\n").await;
    assert!(r.starts_with("HTTP/1.1 200") && r.ends_with("b"), "{r}");
    assert!(a.seen().is_empty());
    gw.shutdown();
}

#[tokio::test]
async fn h2c_requests_are_proxied_to_http1_upstreams() {
    let b = Backend::start("b").await;
    let dir = TempDir::new();
    route_to(&dir, "h2.com", &[b.addr]);
    let gw = start(dir.path()).await;
    // Speak h2 prior knowledge on a socket to the gateway, with :authority h2.com.
    let tcp = tokio::net::TcpStream::connect(gw.http_addr()).await.unwrap();
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), hyper_util::rt::TokioIo::new(tcp))
            .await
            .expect("h2c handshake");
    tokio::spawn(conn);
    let req = Request::get("http://h2.com/h2?q=1")
        .header("cookie", "a=1")
        .header("cookie", "b=2")
        .body(Full::<Bytes>::default())
        .unwrap();
    let resp = h2.send_request(req).await.expect("h2c answer");
    assert_eq!(resp.version(), http::Version::HTTP_2);
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(status, StatusCode::OK, "{body:?}");
    let seen = b.last();
    assert_eq!(seen.uri, "/h2?q=1");
    assert_eq!(seen.headers["cookie"], "a=1; b=2");
    assert_eq!(seen.headers["host"], "h2.com", "HTTP/1.1 upstreams get Host from :authority");
    gw.shutdown();
}

#[tokio::test]
async fn request_and_response_bodies_stream_through() {
    let b = Backend::start("b").await;
    let dir = TempDir::new();
    route_to(&dir, "big.com", &[b.addr]);
    // Over the default 1 MiB limit, as uploads are, with the annotation that lifts it.
    dir.write("ing.yaml", &annotated_ingress("i", "big.com", "s", "    wasmgress.io/proxy-body-size: 8m\n"));
    let gw = start(dir.path()).await;
    let big: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let req = Request::post(format!("http://{}/echo", gw.http_addr()))
        .header("host", "big.com")
        .body(Full::new(Bytes::from(big.clone())))
        .unwrap();
    let resp = client().request(req).await.unwrap();
    let got = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(got.len(), big.len());
    assert!(got == big, "the 4 MB body came back byte for byte");

    // Declared request trailers reach the upstream.
    let request = b"POST /echo HTTP/1.1\r\nHost: big.com\r\nTrailer: x-checksum\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nhi\r\n0\r\nx-checksum: 99\r\n\r\n";
    let answer = raw(gw.http_addr(), request).await;
    assert!(answer.contains("x-echo-trailer-x-checksum: 99"), "{answer}");
    gw.shutdown();
}

#[tokio::test]
async fn a_client_too_slow_to_send_its_headers_is_disconnected() {
    let b = Backend::start("b").await;
    let dir = TempDir::new();
    route_to(&dir, "slowloris.com", &[b.addr]);
    let mut cfg = config(dir.path());
    cfg.listener.header_read_timeout = std::time::Duration::from_millis(300);
    let gw = wasmgress::Gateway::start(cfg).await.unwrap();
    // Half a request line, then silence: the gateway must hang up.
    let answer = raw_until_closed(gw.http_addr(), b"GET / HTTP/1.1\r\nHost: slowl").await.expect("the gateway hung up");
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(b.seen().is_empty());
    // A well-behaved client on the same gateway is served.
    assert_eq!(get(gw.http_addr(), "slowloris.com", "/").await.status, StatusCode::OK);
    gw.shutdown();
}
