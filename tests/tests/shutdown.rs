//! SIGTERM under load starts a graceful shutdown: accepted requests
//! finish, new connections are refused. Alone in its test binary because
//! it signals its own process.

use std::collections::HashSet;
use std::time::Duration;

use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
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
    // Steady load beside them: clients on keep-alive connections sending
    // numbered requests until the gateway stops taking them.
    let load: Vec<_> = (0..8)
        .map(|c| {
            tokio::spawn(async move {
                let client = client();
                let mut outcomes = Vec::new();
                for n in 0..10_000 {
                    let path = format!("/slow/5?client={c}&n={n}");
                    let req = Request::get(format!("http://{addr}{path}")).header("host", "drain.com");
                    let answer = match client.request(req.body(Full::default()).unwrap()).await {
                        Ok(resp) => {
                            let status = resp.status();
                            let body = resp.into_body().collect().await.map(|b| b.to_bytes());
                            Some((status, body.is_ok_and(|b| b == "slow")))
                        }
                        Err(_) => None,
                    };
                    let stop = answer.is_none();
                    outcomes.push((path, answer));
                    if stop {
                        break;
                    }
                }
                outcomes
            })
        })
        .collect();
    // Fifty of the load's requests: the backend also saw the first request
    // and the three in flight.
    eventually("the load is flowing", || async { b.seen().len() >= 4 + 50 }).await;

    // SAFETY: kill(2) with our own pid and a signal tokio handles.
    let rc = unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    assert_eq!(rc, 0);

    eventually("new connections are refused", || async { tokio::net::TcpStream::connect(addr).await.is_err() }).await;
    for r in in_flight {
        let answer = r.await.unwrap();
        assert_eq!(answer.status, StatusCode::OK, "an accepted request was not dropped");
        assert_eq!(answer.body, "slow");
    }
    // Every request the backend received was answered to its client in
    // full; a client may only have failed on a request the gateway never took.
    let reached: HashSet<String> = b.seen().into_iter().map(|s| s.uri).collect();
    let mut answered = 0;
    for client in load {
        for (path, answer) in client.await.unwrap() {
            match answer {
                Some((status, whole)) => {
                    assert!(status == StatusCode::OK && whole, "{path}: {status}, whole body: {whole}");
                    answered += 1;
                }
                None => assert!(!reached.contains(&path), "{path} reached the backend but its answer was dropped"),
            }
        }
    }
    assert!(answered >= 50, "the load ran ({answered} answered)");
    tokio::time::timeout(Duration::from_secs(15), drained)
        .await
        .expect("drain finished within the grace period")
        .unwrap();
}
