//! Access log lines and Prometheus metrics after known traffic.

use std::sync::mpsc;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use wasmgress::telemetry::access::Sink;
use wasmgress_tests::*;

async fn metrics_text(gw: &wasmgress::Gateway) -> String {
    let url = format!("http://{}/metrics", gw.admin_addr());
    let resp = client().get(url.parse().unwrap()).await.unwrap();
    String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

/// The lines logged so far, parsed.
fn lines(rx: &mpsc::Receiver<String>) -> Vec<Value> {
    rx.try_iter().map(|l| serde_json::from_str(l.trim_end()).expect("each line is JSON")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_one_json_line_and_metrics_count_it() {
    let backend = Backend::start("logged").await;
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("logged", &[backend.addr]));
    dir.write("ing.yaml", &ingress("log-ing", "log.example.com", "/", "logged"));
    dir.write("empty.yaml", &service("log-empty", &[]));
    dir.write("down.yaml", &ingress("log-down", "down.example.com", "/", "log-empty"));
    let (tx, rx) = mpsc::channel();
    let mut cfg = config(dir.path());
    cfg.proxy.access_log = Sink::Lines(tx);
    let gw = wasmgress::Gateway::start(cfg).await.unwrap();

    for _ in 0..3 {
        assert_eq!(get(gw.http_addr(), "log.example.com", "/a?secret=1").await.status, 200);
    }
    let post = Request::post(format!("http://{}/upload", gw.http_addr()))
        .header("host", "log.example.com")
        .body(Full::new(Bytes::from_static(b"12345")))
        .unwrap();
    assert_eq!(send(post).await.status, 200);
    assert_eq!(get(gw.http_addr(), "down.example.com", "/").await.status, 503);
    assert_eq!(get(gw.http_addr(), "nowhere.example.com", "/x").await.status, 404);

    let mut logged = Vec::new();
    eventually("six lines logged", || {
        logged.extend(lines(&rx));
        let n = logged.len();
        async move { n >= 6 }
    })
    .await;
    assert_eq!(logged.len(), 6, "{logged:#?}");
    // Lines are written as responses finish, which need not be the order sent.
    let find = |f: &dyn Fn(&Value) -> bool| logged.iter().find(|l| f(l)).expect("a matching line").clone();
    let first = &find(&|l| l["method"] == "GET" && l["status"] == 200);
    assert_eq!(first["method"], "GET");
    assert_eq!(first["host"], "log.example.com");
    assert_eq!(first["path"], "/a", "the query is not logged");
    assert_eq!(first["status"], 200);
    assert_eq!(first["ingress"], "default/log-ing");
    assert_eq!(first["service"], "default/logged");
    assert_eq!(first["decision"], "upstream");
    assert_eq!(first["upstream"], backend.addr.to_string());
    assert_eq!(first["bytes_out"], "logged".len());
    assert_eq!(first["protocol"], "HTTP/1.1");
    assert!(first["duration_ms"].as_f64().unwrap() >= first["upstream_ms"].as_f64().unwrap());
    assert!(first["time"].as_str().unwrap().ends_with('Z'));
    let upload = &find(&|l| l["method"] == "POST");
    assert_eq!((upload["method"].as_str(), upload["bytes_in"].as_u64()), (Some("POST"), Some(5)));
    let down = &find(&|l| l["status"] == 503);
    assert_eq!((down["status"].as_u64(), down["decision"].as_str()), (Some(503), Some("gateway")));
    assert!(down.get("upstream").is_none());
    let lost = &find(&|l| l["status"] == 404);
    assert_eq!((lost["status"].as_u64(), lost.get("ingress")), (Some(404), None));

    let text = metrics_text(&gw).await;
    let series = |s: &str| metric(&text, s).unwrap_or_else(|| panic!("{s} missing in\n{text}"));
    let labels = "ingress=\"default/log-ing\",service=\"default/logged\"";
    assert_eq!(series(&format!("wasmgress_requests_total{{{labels},method=\"GET\",status=\"2xx\"}}")), 3);
    assert_eq!(series(&format!("wasmgress_requests_total{{{labels},method=\"POST\",status=\"2xx\"}}")), 1);
    assert_eq!(series(&format!("wasmgress_request_duration_seconds_count{{{labels}}}")), 4);
    assert_eq!(series(&format!("wasmgress_upstream_duration_seconds_count{{{labels}}}")), 4);
    assert_eq!(series(&format!("wasmgress_request_body_bytes_total{{{labels}}}")), 5);
    assert_eq!(series(&format!("wasmgress_response_body_bytes_total{{{labels}}}")), 4 * "logged".len() as u64);
    let down_labels = "ingress=\"default/log-down\",service=\"default/log-empty\"";
    assert_eq!(series(&format!("wasmgress_requests_total{{{down_labels},method=\"GET\",status=\"5xx\"}}")), 1);
    assert!(series("wasmgress_route_rules") >= 2);
    assert!(series("wasmgress_config_reloads_total{result=\"clean\"}") >= 1);

    // A connection held open shows in the gauge.
    let held = tokio::net::TcpStream::connect(gw.http_addr()).await.unwrap();
    eventually("the open connection is counted", || async {
        metric(&metrics_text(&gw).await, "wasmgress_active_connections{listener=\"http\"}").unwrap_or(0) >= 1
    })
    .await;
    drop(held);
}
