//! The WAF plugin (built from `plugins/waf`) through the gateway: the
//! attack corpus and the benign corpus replayed at paranoia levels 1 and
//! 2 with floors on the rates, and the behaviour operators rely on.

use http::StatusCode;
use wasmgress_tests::waf::{self, WafGateway};
use wasmgress_tests::*;

/// Detection floors at paranoia level 1, per family (a little under what
/// the committed rules reach, so a regression fails here).
const FLOORS: &[(u32, f64)] = &[
    // Most of 920's misses are checks CRS scores as warnings or notices
    // (an empty Accept, a Host that is an address), which block nothing
    // alone.
    (920, 0.45),
    (921, 0.75),
    (930, 0.95),
    (931, 0.95),
    (932, 0.96),
    (933, 0.97),
    (934, 0.95),
    (941, 0.95),
    (942, 0.99),
    (943, 0.95),
    (944, 0.99),
];

/// Floors at paranoia level 2 for the families its looser rules are for,
/// so what they add is kept too.
const FLOORS_2: &[(u32, f64)] = &[(931, 0.9), (932, 0.87), (933, 0.97), (941, 0.9), (942, 0.94), (944, 0.98)];

#[tokio::test]
async fn corpora_at_paranoia_1_and_2_meet_the_detection_and_false_positive_floors() {
    let attacks = waf::attacks(&waf::corpus_dir());
    let benign = waf::benign(&waf::benign_file());
    assert!(benign.len() >= 500, "the benign corpus has {} requests", benign.len());
    let gw = WafGateway::start(&[1, 2]).await;
    let report = waf::evaluate(&gw, &attacks, &benign, &[1, 2]).await;
    eprintln!("{}", waf::table(&report));
    for (pl, floors) in [(1, FLOORS), (2, FLOORS_2)] {
        let level = &report[&pl];
        for (family, floor) in floors {
            let rate = level.detection(*family);
            assert!(
                rate >= *floor,
                "paranoia {pl}, family {family}: {:.1}% detected, floor {:.0}%; missed: {:?}",
                rate * 100.0,
                floor * 100.0,
                level.missed.iter().filter(|m| m.starts_with(&family.to_string())).collect::<Vec<_>>()
            );
        }
        assert!(level.false_positive_rate() <= 0.005, "paranoia {pl}: false positives: {:?}", level.false_positives);
    }
    gw.gateway.shutdown();
}

#[tokio::test]
async fn a_block_is_a_403_with_the_request_id_and_the_neighbour_route_is_untouched() {
    let b = Backend::start("b").await;
    // Plugin metric cells are per process and plugin name: a name of its
    // own keeps the corpus test's blocks out of this test's counts.
    let plugins = plugin_dir(&[("shop-waf", "waf"), ("header-rewrite", "header_rewrite")]);
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("s", &[b.addr]));
    let block = "- name: shop-waf";
    let detect = "- name: shop-waf\n  config: {mode: detect}";
    dir.write("a.yaml", &annotated_ingress("a", "shop.test", "s", &plugins_annotation(block)));
    dir.write("b.yaml", &annotated_ingress("b", "watch.test", "s", &plugins_annotation(detect)));
    dir.write("c.yaml", &ingress("c", "plain.test", "/", "s"));
    let bad = "- name: shop-waf\n  config: {rules: [{id: 1, message: m, targets: [args], operator: {regex: '('}}]}";
    dir.write("d.yaml", &annotated_ingress("d", "bad.test", "s", &plugins_annotation(bad)));
    // Beside a plugin that does change responses, the WAF is still skipped
    // for them and the other plugin is not.
    let both = "- name: shop-waf\n- name: header-rewrite\n  config: {response: {set: {x-frame-options: DENY}}}";
    dir.write("e.yaml", &annotated_ingress("e", "both.test", "s", &plugins_annotation(both)));
    let gw = start_with_plugins(dir.path(), plugins.path(), wasmgress::wasm::RuntimeOptions::default()).await;
    let attack = "/search?q=1%27%20OR%20%271%27%3D%271";

    let seen = b.seen().len();
    let req = http::Request::get(format!("http://{}{attack}", gw.http_addr()))
        .header("host", "shop.test")
        .header("x-request-id", "req-42")
        .body(Default::default())
        .unwrap();
    let answer = send(req).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.body.contains("req-42"), "{}", answer.body);
    assert!(!answer.body.contains("OR") && !answer.body.contains("942"), "{}", answer.body);
    assert_eq!(b.seen().len(), seen, "a blocked request never reaches the upstream");

    assert_eq!(get(gw.http_addr(), "shop.test", "/search?q=O%27Brien").await.status, StatusCode::OK);
    assert_eq!(get(gw.http_addr(), "watch.test", attack).await.status, StatusCode::OK);
    assert_eq!(get(gw.http_addr(), "plain.test", attack).await.status, StatusCode::OK);
    let answer = get(gw.http_addr(), "both.test", "/").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["x-frame-options"], "DENY");
    assert_eq!(get(gw.http_addr(), "both.test", attack).await.status, StatusCode::FORBIDDEN);

    let metrics = get(gw.admin_addr(), "admin", "/metrics").await.body;
    assert_eq!(
        metric(&metrics, r#"wasmgress_plugin_metric_waf_requests_blocked{plugin="shop-waf"}"#),
        Some(2),
        "{metrics}"
    );
    assert_eq!(metric(&metrics, r#"wasmgress_plugin_metric_waf_requests_detected{plugin="shop-waf"}"#), Some(1));
    assert!(metric(&metrics, r#"wasmgress_plugin_metric_waf_rule_942100_matches{plugin="shop-waf"}"#) >= Some(2));
    // The WAF says it does nothing with responses: the gateway runs its
    // request callbacks and ends its contexts, but calls it for no
    // response, which streams past it.
    let calls = |phase: &str| {
        metric(
            &metrics,
            &format!(r#"wasmgress_plugin_callback_duration_seconds_count{{plugin="shop-waf",phase="{phase}"}}"#),
        )
    };
    assert!(calls("request_headers") >= Some(3), "{metrics}");
    assert!(calls("log") >= Some(3), "{metrics}");
    assert_eq!(calls("response_headers"), None, "{metrics}");
    assert_eq!(calls("response_body"), None, "{metrics}");

    let problems = problems(&gw, "default/d");
    assert!(problems.iter().any(|p| p.contains("rules[0] (id 1): operator.regex")), "{problems:?}");
    assert_eq!(get(gw.http_addr(), "bad.test", "/").await.status, StatusCode::NOT_FOUND);
    gw.shutdown();
}
