//! Proxy-Wasm plugins written with the plain `proxy-wasm` crate, built for
//! wasm32-wasip1 by the tests, run through the gateway end to end.

use std::time::Duration;

use http::StatusCode;
use wasmgress::wasm::RuntimeOptions;
use wasmgress_tests::*;

/// Plugin limits small enough for tests to reach.
fn limits() -> RuntimeOptions {
    RuntimeOptions {
        callback_deadline: Duration::from_millis(20),
        startup_deadline: Duration::from_millis(20),
        memory_limit: 16 << 20,
        max_inspect_body: 64 << 10,
    }
}

async fn start_limited(manifests: &TempDir, plugins: &TempDir) -> wasmgress::Gateway {
    start_with_plugins(manifests.path(), plugins.path(), limits()).await
}

#[tokio::test]
async fn a_proxy_wasm_plugin_reads_and_rewrites_headers_both_ways() {
    let b = Backend::start("b").await;
    let plugins = plugin_dir(&[("headers", "test_headers")]);
    let dir = TempDir::new();
    let list = r#"- name: headers
  config: {request_header: "x-env=dev", response_header: "x-frame-options=DENY", rewrite_path: "/old=/new"}"#;
    dir.write("svc.yaml", &service("s", &[b.addr]));
    dir.write("ing.yaml", &annotated_ingress("i", "plug.com", "s", &plugins_annotation(list)));
    let gw = start_limited(&dir, &plugins).await;
    assert!(problems(&gw, "default/i").is_empty(), "{:?}", problems(&gw, "default/i"));

    let req = http::Request::get(format!("http://{}/old/page?q=1", gw.http_addr()))
        .header("host", "plug.com")
        .header("x-remove-me", "secret")
        .body(Default::default())
        .unwrap();
    let answer = send(req).await;
    assert_eq!(answer.status, StatusCode::OK);
    let seen = b.last();
    assert_eq!(seen.uri, "/new/page?q=1", "the plugin rewrote :path");
    assert_eq!(seen.headers["x-env"], "dev");
    assert_eq!(seen.headers["x-plugin-saw"], "GET plug.com /old/page?q=1 missing=\"\"");
    assert!(seen.headers.get("x-remove-me").is_none());
    assert!(seen.headers.contains_key("x-plugin-header-count"));
    assert_eq!(seen.headers["host"], "plug.com");
    assert_eq!(answer.headers["x-frame-options"], "DENY");
    assert_eq!(answer.headers["x-plugin-status-seen"], "200");
    gw.shutdown();
}

#[tokio::test]
async fn a_plugin_answers_locally_and_the_upstream_is_never_called() {
    let b = Backend::start("b").await;
    let plugins = plugin_dir(&[("headers", "test_headers")]);
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("s", &[b.addr]));
    let list = "- name: headers\n  config: {deny_path: /admin, reset_path: /reset}";
    dir.write("ing.yaml", &annotated_ingress("i", "deny.com", "s", &plugins_annotation(list)));
    let gw = start_limited(&dir, &plugins).await;
    // reset_http_request (close_stream): HTTP/1.1 cannot reset one request,
    // so the client gets a 503 and its connection is closed.
    let answer = raw(gw.http_addr(), b"GET /reset HTTP/1.1\r\nHost: deny.com\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    let answer = get(gw.http_addr(), "deny.com", "/admin/users").await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.body, "denied by plugin\n");
    assert_eq!(answer.headers["x-denied-by"], "test-headers");
    assert!(b.seen().is_empty());
    assert_eq!(get(gw.http_addr(), "deny.com", "/public").await.status, StatusCode::OK);
    gw.shutdown();
}

#[tokio::test]
async fn bad_plugin_annotations_reject_that_ingress_alone() {
    let b = Backend::start("b").await;
    let plugins = plugin_dir(&[("headers", "test_headers")]);
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("s", &[b.addr]));
    dir.write("good.yaml", &ingress("good", "good.com", "/", "s"));
    let cases = [
        ("unknown", "- name: nosuch", "is not installed (installed: headers)"),
        ("refused", "- name: headers\n  config: {reject: \"yes\"}", "configuration rejected: it asks to be rejected"),
        ("pinned", &format!("- name: headers\n  sha256: {}", "0".repeat(64)), "not the pinned"),
        ("garbled", "- name: headers\n  failure: sometimes", "failure must be closed or open"),
    ];
    for (name, list, _) in &cases {
        dir.write(
            &format!("{name}.yaml"),
            &annotated_ingress(name, &format!("{name}.com"), "s", &plugins_annotation(list)),
        );
    }
    let gw = start_limited(&dir, &plugins).await;
    for (name, _, expected) in &cases {
        let p = problems(&gw, &format!("default/{name}"));
        assert!(p.iter().any(|m| m.contains(expected) && m.starts_with("rejected:")), "{name}: {p:?}");
        assert_eq!(get(gw.http_addr(), &format!("{name}.com"), "/").await.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(get(gw.http_addr(), "good.com", "/").await.status, StatusCode::OK);
    gw.shutdown();
}

/// A gateway with a hostile plugin in `mode` on hostile.com and a plain
/// route on calm.com.
async fn hostile(mode: &str, failure: &str) -> (wasmgress::Gateway, Backend, TempDir, TempDir) {
    let b = Backend::start("b").await;
    let plugins = plugin_dir(&[("hostile", "test_hostile")]);
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("s", &[b.addr]));
    dir.write("calm.yaml", &ingress("calm", "calm.com", "/", "s"));
    let list = format!("- name: hostile\n  failure: {failure}\n  config: {mode}");
    dir.write("hostile.yaml", &annotated_ingress("hostile", "hostile.com", "s", &plugins_annotation(&list)));
    let gw = start_limited(&dir, &plugins).await;
    assert!(problems(&gw, "default/hostile").is_empty(), "{:?}", problems(&gw, "default/hostile"));
    (gw, b, dir, plugins)
}

fn failures(reason: &str) -> u64 {
    wasmgress::wasm::chain::failure_counts()
        .iter()
        .filter(|(p, r, _)| p == "hostile" && *r == reason)
        .map(|(_, _, n)| n)
        .sum()
}

#[tokio::test]
async fn a_looping_plugin_is_cut_at_its_deadline_and_fails_closed() {
    let (gw, b, _d, _p) = hostile("loop", "closed").await;
    let before = failures("deadline");
    for _ in 0..3 {
        let answer = get(gw.http_addr(), "hostile.com", "/").await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!answer.body.contains("hostile"), "no internal detail: {}", answer.body);
        assert_eq!(get(gw.http_addr(), "calm.com", "/").await.status, StatusCode::OK, "the neighbour keeps serving");
    }
    assert!(failures("deadline") >= before + 3, "every loop is counted as a deadline failure");
    let metrics = get(gw.admin_addr(), "localhost", "/metrics").await.body;
    let exported = metric(&metrics, r#"wasmgress_plugin_failures_total{plugin="hostile",reason="deadline"}"#);
    assert!(exported.is_some_and(|n| n >= before + 3), "{metrics}");
    assert_eq!(b.seen().len(), 3, "only the calm requests reached the backend");
    gw.shutdown();
}

#[tokio::test]
async fn a_trapping_plugin_fails_open_when_told_to() {
    let (gw, b, _d, _p) = hostile("trap", "open").await;
    let before = failures("trap");
    for _ in 0..3 {
        assert_eq!(get(gw.http_addr(), "hostile.com", "/").await.status, StatusCode::OK);
    }
    assert_eq!(b.seen().len(), 3);
    assert!(b.last().headers.get("x-hostile").is_none());
    assert!(failures("trap") >= before + 3, "each request met a rebuilt instance that trapped again");
    gw.shutdown();
}

#[tokio::test]
async fn a_memory_bomb_hits_its_cap_and_fails_closed() {
    let (gw, _b, _d, _p) = hostile("oom", "closed").await;
    let before = failures("memory");
    assert_eq!(get(gw.http_addr(), "hostile.com", "/").await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(failures("memory") > before);
    assert_eq!(get(gw.http_addr(), "calm.com", "/").await.status, StatusCode::OK);
    gw.shutdown();
}

#[tokio::test]
async fn wild_guest_pointers_get_a_status_not_a_crash() {
    let (gw, b, _d, _p) = hostile("wild", "closed").await;
    assert_eq!(get(gw.http_addr(), "hostile.com", "/").await.status, StatusCode::OK);
    // 6 is InvalidMemoryAccess, for both host calls.
    assert_eq!(b.last().headers["x-wild-statuses"], "6,6");
    gw.shutdown();
}

#[tokio::test]
async fn a_well_behaved_plugin_gets_its_string_config_as_raw_bytes() {
    let (gw, b, _d, _p) = hostile("ok", "closed").await;
    assert_eq!(get(gw.http_addr(), "hostile.com", "/").await.status, StatusCode::OK);
    assert_eq!(b.last().headers["x-hostile"], "behaved");
    gw.shutdown();
}

/// A gateway with the body plugin (failing `failure`) on body.com and the
/// no-op plugin on noop.com, both over one backend.
async fn body_routes(failure: &str) -> (wasmgress::Gateway, Backend, TempDir, TempDir) {
    let b = Backend::start("b").await;
    let plugins = plugin_dir(&[("body", "test_body"), ("noop", "test_noop")]);
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("s", &[b.addr]));
    let list = format!("- name: body\n  failure: {failure}");
    dir.write("body.yaml", &annotated_ingress("body", "body.com", "s", &plugins_annotation(&list)));
    dir.write("noop.yaml", &annotated_ingress("noop", "noop.com", "s", &plugins_annotation("- name: noop")));
    let gw = start_limited(&dir, &plugins).await;
    assert!(problems(&gw, "default/body").is_empty(), "{:?}", problems(&gw, "default/body"));
    (gw, b, dir, plugins)
}

fn post(
    gw: &wasmgress::Gateway,
    host: &str,
    path: &str,
    body: impl Into<bytes::Bytes>,
) -> http::Request<http_body_util::Full<bytes::Bytes>> {
    http::Request::post(format!("http://{}{path}", gw.http_addr()))
        .header("host", host)
        .body(http_body_util::Full::new(body.into()))
        .unwrap()
}

#[tokio::test]
async fn a_plugin_buffers_and_rewrites_both_bodies_with_exact_lengths() {
    let (gw, b, _d, _p) = body_routes("closed").await;
    // The upstream echoes what it got: the request body as the plugin wrapped it.
    let answer = send(post(&gw, "body.com", "/echo", "hello")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "[hello]");
    assert_eq!(b.last().headers["content-length"], "7", "the upstream is told the rewritten length");
    assert_eq!(b.last().headers["x-body-length"], "5", "set from the body callback, before going upstream");
    // A streamed upstream body is held whole, rewritten, and sent with its length.
    let answer = get(gw.http_addr(), "body.com", "/stream/3").await;
    assert_eq!(answer.body, "CHUNK 0\nCHUNK 1\nCHUNK 2\n");
    assert_eq!(answer.headers["content-length"], "24");
    gw.shutdown();
}

#[tokio::test]
async fn a_body_plugin_sees_every_chunk_and_blocks_before_the_upstream_is_called() {
    let (gw, b, _d, _p) = body_routes("closed").await;
    // Chunked, so the plugin is called several times and sees the words joined.
    let request = b"POST /echo HTTP/1.1\r\nHost: body.com\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nan at\r\n5\r\ntack \r\n4\r\nhere\r\n0\r\n\r\n";
    let answer = raw(gw.http_addr(), request).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("x-blocked-by: test-body"), "{answer}");
    assert!(answer.ends_with("blocked\n"), "{answer}");
    assert!(b.seen().is_empty(), "the upstream never saw the request");

    // Trailers end the body for the body callbacks, then reach the
    // trailers callback, and go upstream with what the plugin added.
    let request = b"POST /echo HTTP/1.1\r\nHost: body.com\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nhi\r\n0\r\nx-client: 7\r\n\r\n";
    let answer = raw(gw.http_addr(), request).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("x-echo-trailer-x-client: 7"), "{answer}");
    assert!(answer.contains("x-echo-trailer-x-plugin: saw x-client=7"), "{answer}");
    assert!(answer.contains("[hi]"), "{answer}");
    gw.shutdown();
}

#[tokio::test]
async fn a_body_past_the_inspection_cap_follows_the_failure_policy() {
    let big = vec![b'x'; 100 << 10];
    let (gw, b, _d, _p) = body_routes("closed").await;
    let answer = send(post(&gw, "body.com", "/echo", big.clone())).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(b.seen().is_empty());
    gw.shutdown();

    let (gw, _b, _d, _p) = body_routes("open").await;
    let answer = send(post(&gw, "body.com", "/echo", big.clone())).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body.len(), big.len(), "the plugin is skipped, the body passes untouched");
    gw.shutdown();
}

#[tokio::test]
async fn bodies_stream_through_a_plugin_that_does_not_hold_them() {
    let (gw, _b, _d, _p) = body_routes("closed").await;
    let big: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let answer = send(post(&gw, "noop.com", "/echo", big.clone())).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body.as_bytes(), &big[..], "every byte, in order, past the inspection cap");
    let answer = get(gw.http_addr(), "noop.com", "/stream/3").await;
    assert_eq!(answer.body, "chunk 0\nchunk 1\nchunk 2\n");
    gw.shutdown();
}

#[tokio::test]
async fn a_plugin_pauses_on_an_http_call_to_a_service_and_resumes_or_refuses() {
    let app = Backend::start("app").await;
    let allow = Backend::start("allow").await;
    let plugins = plugin_dir(&[("callout", "test_callout")]);
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("s", &[app.addr]));
    dir.write("auth.yaml", &service("auth", &[allow.addr]));
    dir.write(
        "ing.yaml",
        &annotated_ingress("i", "app.com", "s", &plugins_annotation("- name: callout\n  config: auth:80")),
    );
    let list = "- name: callout\n  config: nosuch.default.svc.cluster.local:80";
    dir.write("lost.yaml", &annotated_ingress("lost", "lost.com", "s", &plugins_annotation(list)));
    let gw = start_limited(&dir, &plugins).await;

    let with_token = |host: &str, token: &str| {
        http::Request::get(format!("http://{}/page", gw.http_addr()))
            .header("host", host)
            .header("x-token", token)
            .body(Default::default())
            .unwrap()
    };
    let answer = send(with_token("app.com", "t1")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body, "app");
    assert_eq!(allow.last().uri, "/t1", "the auth Service got the call");
    assert_eq!(app.last().headers["x-auth-said"], "allow", "set from the call's response, after the pause");

    // The call outlives its 300 ms timeout: a failed call, refused.
    let answer = send(with_token("app.com", "slow/3000")).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.body, "denied (call failed)\n");
    // A Service that does not exist is a failed call too.
    let answer = send(with_token("lost.com", "t2")).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(app.seen().len(), 1, "only the allowed request reached the app");
    gw.shutdown();
}

#[tokio::test]
async fn timers_shared_data_metrics_and_properties_reach_a_plugin() {
    let b = Backend::start("b").await;
    let plugins = plugin_dir(&[("state", "test_state")]);
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("s", &[b.addr]));
    dir.write("ing.yaml", &annotated_ingress("stateful", "state.com", "s", &plugins_annotation("- name: state")));
    let gw = start_limited(&dir, &plugins).await;

    let req = http::Request::get(format!("http://{}/a/b?q=1", gw.http_addr()))
        .header("host", "state.com")
        .header("x-request-id", "req-42")
        .body(Default::default())
        .unwrap();
    let answer = send(req).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["x-prop-code"], "200", "response.code, an 8-byte integer");
    assert_eq!(answer.headers["x-request-path-seen"], "/a/b?q=1");
    let seen = b.last().headers;
    assert_eq!(seen["x-hits"], "1");
    assert_eq!(seen["x-last-logged-status"], "<none>");
    assert_eq!(seen["x-prop-path"], "/a/b?q=1");
    assert_eq!(seen["x-prop-url-path"], "/a/b");
    assert_eq!(seen["x-prop-host"], "state.com");
    assert_eq!(seen["x-prop-method"], "GET");
    assert_eq!(seen["x-prop-id"], "req-42");
    assert!(seen["x-prop-source"].to_str().unwrap().starts_with("127.0.0.1:"));
    let port: u16 = seen["x-prop-source-port"].to_str().unwrap().parse().unwrap();
    assert!(port > 0);
    assert_eq!(seen["x-prop-ingress"], "default/stateful");
    assert_eq!(seen["x-prop-plugin"], "state");
    assert_eq!(seen["x-prop-request-id-header"], "req-42", "request.headers.NAME");

    // Concurrent requests on both workers: compare-and-swap never loses a hit.
    let requests = (0..20).map(|_| get(gw.http_addr(), "state.com", "/"));
    futures_util::future::join_all(requests).await;
    assert_eq!(b.last().headers["x-last-logged-status"], "200", "on_log read the response status");
    let mut hits: Vec<u64> = b.seen().iter().map(|s| s.headers["x-hits"].to_str().unwrap().parse().unwrap()).collect();
    hits.sort();
    assert_eq!(hits, (1..=21).collect::<Vec<_>>());

    // The root context ticks every 10 ms on each instance.
    eventually("on_tick runs", || async {
        let answer = get(gw.http_addr(), "state.com", "/").await;
        answer.status == StatusCode::OK && b.last().headers["x-ticks"].to_str().unwrap().parse::<u64>().unwrap() >= 3
    })
    .await;

    let metrics = get(gw.admin_addr(), "localhost", "/metrics").await.body;
    let exported = metric(&metrics, r#"wasmgress_plugin_metric_requests{plugin="state"}"#);
    assert_eq!(exported, Some(b.seen().len() as u64), "one count per request, summed over instances: {metrics}");
    gw.shutdown();
}

#[tokio::test]
async fn the_plugin_directory_is_watched_and_a_broken_module_keeps_the_last_good_one() {
    let b = Backend::start("b").await;
    let plugins = plugin_dir(&[("headers", "test_headers")]);
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("s", &[b.addr]));
    let list = "- name: headers\n  config: {deny_path: /admin}";
    dir.write("ing.yaml", &annotated_ingress("i", "deny.com", "s", &plugins_annotation(list)));
    dir.write("late.yaml", &annotated_ingress("late", "late.com", "s", &plugins_annotation("- name: late")));
    let gw = start_limited(&dir, &plugins).await;
    assert!(problems(&gw, "default/late").iter().any(|m| m.contains("\"late\" is not installed")));

    // A module cut short (a copy caught half-way) does not take the plugin away.
    let before = generation(&gw);
    std::fs::write(plugins.path().join("headers.wasm"), b"\0asm\x01\0\0\0garbage").unwrap();
    wait_past(&gw, before).await;
    let all = gw.status().borrow().diagnostics.clone();
    assert!(all.iter().any(|d| d.message.contains("still serving the version with sha256")), "{all:?}");
    assert_eq!(get(gw.http_addr(), "deny.com", "/admin").await.status, StatusCode::FORBIDDEN);

    // Installing the missing plugin brings the Ingress that wanted it in.
    let before = generation(&gw);
    std::fs::copy(built_plugins().join("test_noop.wasm"), plugins.path().join("late.wasm")).unwrap();
    wait_past(&gw, before).await;
    eventually("the late plugin is picked up", || async {
        get(gw.http_addr(), "late.com", "/").await.status == StatusCode::OK
    })
    .await;
    assert!(problems(&gw, "default/late").is_empty());
    gw.shutdown();
}

#[tokio::test]
async fn a_huge_header_from_a_plugin_gets_an_error_and_harms_nobody() {
    let (gw, _b, _d, _p) = hostile("huge", "closed").await;
    let answer = get(gw.http_addr(), "hostile.com", "/").await;
    // The upstream refuses a 4 MiB header: an error answer, not a hang or a crash.
    assert!(answer.status.is_server_error() || answer.status.is_client_error(), "{}", answer.status);
    assert_eq!(get(gw.http_addr(), "calm.com", "/").await.status, StatusCode::OK);
    gw.shutdown();
}

#[tokio::test]
async fn a_plugin_cannot_smuggle_a_header_through_a_value() {
    let (gw, b, _d, _p) = hostile("smuggle", "closed").await;
    assert_eq!(get(gw.http_addr(), "hostile.com", "/").await.status, StatusCode::OK);
    let seen = b.last().headers;
    assert_eq!(seen["x-hostile"], "smuggler", "the plugin ran");
    assert!(seen.get("x-injected").is_none() && seen.get("x-split").is_none(), "the invalid value was dropped");
    gw.shutdown();
}

#[tokio::test]
async fn a_plugin_written_with_the_sdk_runs_and_its_config_errors_name_the_field() {
    let b = Backend::start("b").await;
    let plugins = plugin_dir(&[("hello", "hello")]);
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("s", &[b.addr]));
    let list = "- name: hello\n  config: {path: /hello, greeting: Hi}";
    dir.write("ing.yaml", &annotated_ingress("i", "hello.com", "s", &plugins_annotation(list)));
    let bad = "- name: hello\n  config: {path: /hello, greeting: Hi, colour: red}";
    dir.write("bad.yaml", &annotated_ingress("bad", "bad.com", "s", &plugins_annotation(bad)));
    let gw = start_limited(&dir, &plugins).await;

    let answer = get(gw.http_addr(), "hello.com", "/hello?name=Ada").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "Hi, Ada!\n");
    assert!(b.seen().is_empty());
    assert_eq!(get(gw.http_addr(), "hello.com", "/shop").await.status, StatusCode::OK);
    assert_eq!(b.last().headers["x-hello"], "default/i");
    let p = problems(&gw, "default/bad");
    assert!(p.iter().any(|m| m.contains("unknown field `colour`")), "{p:?}");
    gw.shutdown();
}

#[tokio::test]
async fn header_rewrite_rewrites_paths_and_headers_and_redirects() {
    let b = Backend::start("b").await;
    let plugins = plugin_dir(&[("header-rewrite", "header_rewrite")]);
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("s", &[b.addr]));
    let list = r#"- name: header-rewrite
  config:
    request: {set: {x-client: "${client_ip}", x-asked: "${request_uri}"}, remove: [x-debug]}
    response: {set: {x-frame-options: DENY}}
    rules:
      - when: {path_prefix: /bar}
        rewrite: {regex: "^/bar(/|$)(.*)", replacement: "/$2"}
      - when: {header: {name: x-legacy-client, equals: "yes"}}
        redirect: {status: 308, location: "https://${host}${request_uri}"}"#;
    dir.write("ing.yaml", &annotated_ingress("i", "rw.com", "s", &plugins_annotation(list)));
    let gw = start_limited(&dir, &plugins).await;
    assert!(problems(&gw, "default/i").is_empty(), "{:?}", problems(&gw, "default/i"));

    let req = http::Request::get(format!("http://{}/bar/baz?q=1", gw.http_addr()))
        .header("host", "rw.com")
        .header("x-debug", "1")
        .body(Default::default())
        .unwrap();
    let answer = send(req).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["x-frame-options"], "DENY");
    let seen = b.last();
    assert_eq!(seen.uri, "/baz?q=1");
    assert_eq!(seen.headers["x-client"], "127.0.0.1");
    assert_eq!(seen.headers["x-asked"], "/bar/baz?q=1");
    assert!(seen.headers.get("x-debug").is_none());

    let req = http::Request::get(format!("http://{}/shop?x=1", gw.http_addr()))
        .header("host", "rw.com")
        .header("x-legacy-client", "yes")
        .body(Default::default())
        .unwrap();
    let answer = send(req).await;
    assert_eq!(answer.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(answer.headers["location"], "https://rw.com/shop?x=1");
    assert_eq!(b.seen().len(), 1, "a redirect never reaches the upstream");
    gw.shutdown();
}

#[tokio::test]
async fn an_sdk_plugin_and_a_plain_proxy_wasm_plugin_behave_alike() {
    let b = Backend::start("b").await;
    let plugins = plugin_dir(&[("header-rewrite", "header_rewrite"), ("headers", "test_headers")]);
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("s", &[b.addr]));
    // The same three effects, configured in each plugin's own terms.
    let sdk = r#"- name: header-rewrite
  config:
    request: {set: {x-env: dev}, remove: [x-remove-me]}
    response: {set: {x-frame-options: DENY}}
    rewrite: {regex: "^/old(.*)", replacement: "/new$1"}"#;
    let plain = r#"- name: headers
  config: {request_header: "x-env=dev", response_header: "x-frame-options=DENY", rewrite_path: "/old=/new"}"#;
    dir.write("sdk.yaml", &annotated_ingress("sdk", "sdk.com", "s", &plugins_annotation(sdk)));
    dir.write("plain.yaml", &annotated_ingress("plain", "plain.com", "s", &plugins_annotation(plain)));
    let gw = start_limited(&dir, &plugins).await;

    let mut outcomes = Vec::new();
    for host in ["sdk.com", "plain.com"] {
        let req = http::Request::get(format!("http://{}/old/page?q=1", gw.http_addr()))
            .header("host", host)
            .header("x-remove-me", "secret")
            .body(Default::default())
            .unwrap();
        let answer = send(req).await;
        let seen = b.last();
        outcomes.push((
            answer.status,
            answer.headers.get("x-frame-options").cloned(),
            seen.uri,
            seen.headers.get("x-env").cloned(),
            seen.headers.get("x-remove-me").cloned(),
        ));
    }
    assert_eq!(outcomes[0], outcomes[1], "sdk.com and plain.com");
    assert_eq!(outcomes[0].2, "/new/page?q=1");
    gw.shutdown();
}
