//! SIGTERM starts a graceful shutdown: accepted requests finish, new
//! connections are refused. Alone in its test binary because it signals
//! its own process.

use std::time::Duration;

use http::StatusCode;
use wasmgress_tests::*;

#[tokio::test]
async fn sigterm_drains_in_flight_requests_and_then_refuses_connections() {
    let b = Backend::start("slow").await;
    let dir = TempDir::new();
    route_to(&dir, "drain.com", &[b.addr]);
    let gw = start(dir.path()).await;
    let addr = gw.http_addr();
    assert_eq!(get(addr, "drain.com", "/").await.status, StatusCode::OK, "serving before the signal");

    let signal = wasmgress::gateway::shutdown_signal().expect("signal handlers install");
    let drained = tokio::spawn(async move {
        signal.await;
        gw.shutdown();
        gw.wait().await;
    });
    let in_flight: Vec<_> =
        (0..3).map(|_| tokio::spawn(async move { get(addr, "drain.com", "/slow/600").await })).collect();
    eventually("the backend holds the in-flight requests", || async { b.seen().len() >= 4 }).await;

    // SAFETY: kill(2) with our own pid and a signal tokio handles.
    let rc = unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    assert_eq!(rc, 0);

    eventually("new connections are refused", || async { tokio::net::TcpStream::connect(addr).await.is_err() }).await;
    for r in in_flight {
        let answer = r.await.unwrap();
        assert_eq!(answer.status, StatusCode::OK, "an accepted request was not dropped");
        assert_eq!(answer.body, "slow");
    }
    tokio::time::timeout(Duration::from_secs(15), drained)
        .await
        .expect("drain finished within the grace period")
        .unwrap();
}
