//! HTTP/2 abuse over h2c: rapid reset (CVE-2023-44487), SETTINGS and PING
//! floods, oversized header lists. Each abusive connection is closed or
//! held to bounded work, its resources are released, and other clients are
//! served meanwhile. One test per binary: it reads the process-wide
//! connection gauge.

use std::net::SocketAddr;
use std::time::Duration;

use http::StatusCode;
use tokio::io::AsyncWriteExt;
use wasmgress_tests::h2_frames::{self, *};
use wasmgress_tests::*;

async fn open_connections(admin: SocketAddr) -> Option<u64> {
    metric(&get(admin, "localhost", "/metrics").await.body, r#"wasmgress_active_connections{listener="http"}"#)
}

/// Writes `burst` `times` on a fresh h2c connection without reading; false
/// once a write stalls (the peer stopped reading).
async fn all_written(addr: SocketAddr, burst: Vec<u8>, times: usize) -> bool {
    let (read, mut write) = h2_frames::connect(addr).await;
    for _ in 0..times {
        if tokio::time::timeout(Duration::from_secs(2), write.write_all(&burst)).await.is_err() {
            drop(read);
            return false;
        }
    }
    true
}

#[tokio::test]
async fn abusive_http2_connections_are_closed_and_released() {
    let b = Backend::start("b").await;
    let dir = TempDir::new();
    route_to(&dir, "h2.com", &[b.addr]);
    let gw = start(dir.path()).await;
    let addr = gw.http_addr();
    let within = Duration::from_secs(10);

    // Rapid reset: open streams and cancel them at once, thousands of times.
    let (read, mut write) = h2_frames::connect(addr).await;
    let writer = tokio::spawn(async move {
        let block = get_block("h2.com", "/slow/50", &[]);
        let mut sent = 0u32;
        for i in 0..20_000u32 {
            let id = 1 + 2 * i;
            let mut burst = frame(HEADERS, END_HEADERS | END_STREAM, id, &block);
            burst.extend(frame(RST_STREAM, 0, id, &8u32.to_be_bytes()));
            if write.write_all(&burst).await.is_err() {
                break;
            }
            sent += 1;
        }
        sent
    });
    let server = read_until_closed(read, within).await;
    let sent = writer.await.unwrap();
    assert!(server.closed, "the rapid-reset connection was closed: {server:?}");
    assert!(server.goaway.is_some(), "with a GOAWAY saying why: {server:?}");
    let reached = b.seen().len();
    assert!(reached < sent as usize, "{reached} of {sent} reset streams reached the backend");
    assert_eq!(get(addr, "h2.com", "/").await.status, StatusCode::OK);

    // SETTINGS and PING floods, never reading the acknowledgements: the
    // gateway stops reading rather than buffer its answers without bound.
    for (what, flood) in [("SETTINGS", frame(SETTINGS, 0, 0, &[])), ("PING", frame(PING, 0, 0, &[7; 8]))] {
        assert!(!all_written(addr, flood.repeat(1000), 1000).await, "a million {what} frames unread were all taken");
        assert_eq!(get(addr, "h2.com", "/").await.status, StatusCode::OK);
    }

    // A header list over the limit: refused without reaching the backend.
    let before = b.seen().len();
    let (read, mut write) = h2_frames::connect(addr).await;
    let big = "a".repeat(15_000);
    let block = get_block("h2.com", "/big", &[("x-a", &big), ("x-b", &big), ("x-c", &big)]);
    write.write_all(&header_frames(1, &block)).await.unwrap();
    let server = read_until_closed(read, Duration::from_secs(2)).await;
    assert!(server.rst_streams + server.headers + usize::from(server.goaway.is_some()) > 0, "{server:?}");
    drop(write);
    assert!(b.seen()[before..].iter().all(|r| r.uri != "/big"), "the oversized request reached the backend");

    // Every abusive connection is gone; only the idle pool of the test client may remain.
    eventually("abusive connections released", || async {
        open_connections(gw.admin_addr()).await.is_some_and(|n| n <= 1)
    })
    .await;
    assert_eq!(get(addr, "h2.com", "/").await.status, StatusCode::OK);
    gw.shutdown();
}
