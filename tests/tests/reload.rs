//! Live reconfiguration: routes follow the manifest directory, and a swap of
//! the route table never cuts a request, a stream or a WebSocket in flight.

use futures_util::{SinkExt, StreamExt};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use tokio_tungstenite::tungstenite::Message;
use wasmgress_tests::*;

#[tokio::test]
async fn routes_follow_file_edits() {
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    let dir = TempDir::new();
    dir.write("svc.yaml", &format!("{}---\n{}", service("one", &[one.addr]), service("two", &[two.addr])));
    let gw = start(dir.path()).await;
    let a = gw.http_addr();
    assert_eq!(get(a, "live.com", "/").await.status, StatusCode::NOT_FOUND);

    let g = generation(&gw);
    dir.write("ing.yaml", &ingress("live", "live.com", "/", "one"));
    wait_past(&gw, g).await;
    assert_eq!(get(a, "live.com", "/").await.body, "one");

    let g = generation(&gw);
    dir.write("ing.yaml", &ingress("live", "live.com", "/", "two"));
    wait_past(&gw, g).await;
    assert_eq!(get(a, "live.com", "/").await.body, "two");

    let g = generation(&gw);
    dir.remove("ing.yaml");
    wait_past(&gw, g).await;
    assert_eq!(get(a, "live.com", "/").await.status, StatusCode::NOT_FOUND);
    gw.shutdown();
}

#[tokio::test]
async fn endpoint_changes_are_followed() {
    let (one, two) = (Backend::start("one").await, Backend::start("two").await);
    let dir = TempDir::new();
    dir.write("ing.yaml", &ingress("i", "ep.com", "/", "s"));
    dir.write("svc.yaml", &service("s", &[one.addr]));
    let gw = start(dir.path()).await;
    assert_eq!(get(gw.http_addr(), "ep.com", "/").await.body, "one");
    let g = generation(&gw);
    dir.write("svc.yaml", &service("s", &[two.addr]));
    wait_past(&gw, g).await;
    assert_eq!(get(gw.http_addr(), "ep.com", "/").await.body, "two");
    let g = generation(&gw);
    dir.write("svc.yaml", &service("s", &[]));
    wait_past(&gw, g).await;
    assert_eq!(get(gw.http_addr(), "ep.com", "/").await.status, StatusCode::SERVICE_UNAVAILABLE);
    gw.shutdown();
}

#[tokio::test]
async fn an_in_flight_request_finishes_on_the_old_table() {
    let b = Backend::start("slow").await;
    let dir = TempDir::new();
    route_to(&dir, "slow.com", &[b.addr]);
    let gw = start(dir.path()).await;
    let addr = gw.http_addr();
    let in_flight = tokio::spawn(async move { get(addr, "slow.com", "/slow/700").await });
    eventually("the backend has the request", || async { !b.seen().is_empty() }).await;
    let g = generation(&gw);
    dir.remove("ing.yaml");
    wait_past(&gw, g).await;
    assert_eq!(get(addr, "slow.com", "/").await.status, StatusCode::NOT_FOUND, "the route is gone");
    let answer = in_flight.await.unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "slow");
    gw.shutdown();
}

#[tokio::test]
async fn a_streaming_response_survives_a_reconfiguration() {
    let b = Backend::start("stream").await;
    let dir = TempDir::new();
    route_to(&dir, "stream.com", &[b.addr]);
    let gw = start(dir.path()).await;
    let req = Request::get(format!("http://{}/stream/40", gw.http_addr()))
        .header("host", "stream.com")
        .body(Full::default())
        .unwrap();
    let resp = client().request(req).await.unwrap();
    let mut body = resp.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(&first[..], b"chunk 0\n");
    let g = generation(&gw);
    dir.remove("ing.yaml");
    wait_past(&gw, g).await;
    let rest = body.collect().await.expect("the stream was not cut").to_bytes();
    let text = String::from_utf8_lossy(&rest);
    assert_eq!(text.lines().count(), 39);
    assert!(text.ends_with("chunk 39\n"));
    gw.shutdown();
}

/// A WebSocket echo server on loopback.
async fn websocket_backend() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() && ws.send(msg).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_websocket_stays_open_across_a_reconfiguration() {
    let ws_addr = websocket_backend().await;
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("ws", &[ws_addr]));
    dir.write("ing.yaml", &ingress("i", "ws.com", "/", "ws"));
    let gw = start(dir.path()).await;
    let tcp = tokio::net::TcpStream::connect(gw.http_addr()).await.unwrap();
    let (mut ws, resp) =
        tokio_tungstenite::client_async("ws://ws.com/chat", tcp).await.expect("upgrade through the gateway");
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    ws.send(Message::text("before")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("before"));

    let g = generation(&gw);
    dir.remove("ing.yaml");
    wait_past(&gw, g).await;
    assert_eq!(get(gw.http_addr(), "ws.com", "/").await.status, StatusCode::NOT_FOUND);

    ws.send(Message::text("after")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("after"));
    ws.close(None).await.unwrap();
    gw.shutdown();
}

#[tokio::test]
async fn a_broken_edit_keeps_the_last_good_routes_and_is_reported() {
    let b = Backend::start("b").await;
    let dir = TempDir::new();
    route_to(&dir, "keep.com", &[b.addr]);
    let gw = start(dir.path()).await;
    let g = generation(&gw);
    dir.write("ing.yaml", "kind: Ingress\nmetadata: {name: [broken\n");
    wait_past(&gw, g).await;
    assert_eq!(get(gw.http_addr(), "keep.com", "/").await.body, "b");
    let diag = admin_get(gw.admin_addr(), "/diagnostics").await;
    assert!(diag.contains("ing.yaml") && diag.contains("last good version keeps serving"), "{diag}");
    gw.shutdown();
}

#[tokio::test]
async fn a_rejected_ingress_does_not_disturb_the_others() {
    let b = Backend::start("b").await;
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("s", &[b.addr]));
    dir.write("good.yaml", &ingress("good", "good.com", "/", "s"));
    let gw = start(dir.path()).await;
    let g = generation(&gw);
    dir.write("bad.yaml", &ingress("bad", "bad.com", "no-slash", "s"));
    wait_past(&gw, g).await;
    assert_eq!(get(gw.http_addr(), "good.com", "/").await.body, "b");
    assert_eq!(get(gw.http_addr(), "bad.com", "/").await.status, StatusCode::NOT_FOUND);
    let status = gw.status().borrow().clone();
    let d = status.diagnostics.iter().find(|d| d.object == "default/bad").expect("a diagnostic names the bad Ingress");
    assert!(d.message.contains("must start with '/'"), "{d}");
    gw.shutdown();
}

#[tokio::test]
async fn a_burst_of_changes_is_coalesced() {
    let b = Backend::start("b").await;
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("s", &[b.addr]));
    let gw = start(dir.path()).await;
    let g = generation(&gw);
    const N: u64 = 50;
    for i in 0..N {
        dir.write(&format!("ing-{i}.yaml"), &ingress(&format!("i{i}"), &format!("h{i}.com"), "/", "s"));
    }
    let mut status = gw.status();
    let all = status.wait_for(|s| s.rules == N as usize);
    tokio::time::timeout(DEADLINE, all).await.expect("all rules applied").unwrap();
    let applied = generation(&gw) - g;
    assert!(applied < N, "{N} file writes took {applied} translations");
    for i in [0, N - 1] {
        assert_eq!(get(gw.http_addr(), &format!("h{i}.com"), "/").await.status, StatusCode::OK);
    }
    gw.shutdown();
}

/// GET on the admin port.
async fn admin_get(addr: std::net::SocketAddr, path: &str) -> String {
    get(addr, "localhost", path).await.body
}
