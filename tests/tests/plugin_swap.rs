//! Replacing a plugin module while the gateway serves: new requests get
//! the new module, requests in flight finish on the old one, and after a
//! hundred swaps the instances and the memory are back where they were.
//! (A test binary of its own: it reads the process's RSS.)

use std::time::Duration;

use http::StatusCode;
use wasmgress::gateway::PluginConfig;
use wasmgress::wasm::RuntimeOptions;
use wasmgress_tests::*;

const SWAPS: usize = 100;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number")
}

/// Installs `stem` as the plugin `swapped` the way an operator should:
/// write aside, then rename over.
fn install(plugins: &TempDir, stem: &str) {
    let from = built_plugins().join(format!("{stem}.wasm"));
    let aside = plugins.path().join(".swapped.wasm.tmp");
    std::fs::copy(from, &aside).expect("copy");
    std::fs::rename(aside, plugins.path().join("swapped.wasm")).expect("rename");
}

#[tokio::test]
async fn a_module_swapped_a_hundred_times_serves_the_new_one_and_leaks_nothing() {
    let b = Backend::start("b").await;
    let plugins = TempDir::new();
    install(&plugins, "test_noop");
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("s", &[b.addr]));
    dir.write("ing.yaml", &annotated_ingress("i", "swap.com", "s", &plugins_annotation("- name: swapped")));
    let mut cfg = config(dir.path());
    cfg.workers = 2;
    cfg.plugins = Some(PluginConfig {
        dir: plugins.path().to_path_buf(),
        cache: None,
        runtime: RuntimeOptions { memory_limit: 16 << 20, ..RuntimeOptions::default() },
    });
    let gw = wasmgress::Gateway::start(cfg).await.expect("gateway starts");

    // The state plugin stamps x-prop-plugin; the no-op one stamps nothing.
    let served_by_state = || b.last().headers.get("x-prop-plugin").is_some_and(|v| v == "swapped");
    let mut baseline = None;
    for swap in 0..SWAPS {
        let (stem, expect_state) = if swap % 2 == 0 { ("test_state", true) } else { ("test_noop", false) };
        // Every tenth swap, a request in flight across it finishes on the old module.
        let slow = (swap % 10 == 0).then(|| tokio::spawn(get(gw.http_addr(), "swap.com", "/slow/150")));
        if slow.is_some() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let before = generation(&gw);
        install(&plugins, stem);
        wait_past(&gw, before).await;
        if let Some(slow) = slow {
            assert_eq!(slow.await.unwrap().status, StatusCode::OK, "swap {swap}: the request in flight finished");
        }
        for _ in 0..4 {
            assert_eq!(get(gw.http_addr(), "swap.com", "/").await.status, StatusCode::OK);
            assert_eq!(served_by_state(), expect_state, "swap {swap}: the new module serves");
        }
        if swap == 9 {
            baseline = Some(rss_kib());
        }
    }
    let problems = gw.status().borrow().diagnostics.clone();
    assert!(problems.is_empty(), "{problems:?}");

    // Instances of replaced modules go; at most one per worker stays.
    eventually("old instances are dropped", || async {
        let metrics = get(gw.admin_addr(), "localhost", "/metrics").await.body;
        (1..=2).contains(&metric(&metrics, r#"wasmgress_plugin_instances{plugin="swapped"}"#).unwrap_or(0))
    })
    .await;
    let grown = rss_kib().saturating_sub(baseline.unwrap());
    // A leaked instance or compiled module per swap would add megabytes each;
    // 90 swaps after the baseline must stay within allocator noise.
    assert!(grown < 48 << 10, "RSS grew by {grown} KiB over {} swaps", SWAPS - 10);
    println!("RSS growth over {} swaps: {grown} KiB", SWAPS - 10);
    gw.shutdown();
}
