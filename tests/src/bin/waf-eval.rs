//! Replays the WAF corpora through a gateway on loopback and prints
//! detection per attack family and paranoia level, and the false-positive
//! rate on the benign corpus.
//!
//! `cargo run -p wasmgress-tests --bin waf-eval [LEVEL...]` (default 1 2);
//! `WAF_CORPUS` points at the attack corpus (default `../shared/waf-corpus`).
//! `--missed` lists what passed.

use wasmgress_tests::waf;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let show_missed = args.iter().any(|a| a == "--missed");
    let mut levels: Vec<u8> = args.iter().filter_map(|a| a.parse().ok()).filter(|l| (1..=4).contains(l)).collect();
    if levels.is_empty() {
        levels = vec![1, 2];
    }
    let attacks = waf::attacks(&waf::corpus_dir());
    let benign = waf::benign(&waf::benign_file());
    let gw = waf::WafGateway::start(&levels).await;
    let report = waf::evaluate(&gw, &attacks, &benign, &levels).await;
    print!("{}", waf::table(&report));
    let metrics = wasmgress_tests::get(gw.gateway.admin_addr(), "admin", "/metrics").await.body;
    for line in metrics.lines().filter(|l| l.starts_with("wasmgress_plugin_failures_total")) {
        println!("{line}");
    }
    if show_missed {
        for (pl, level) in &report {
            println!("\nparanoia {pl}: missed {}", level.missed.join(" "));
            for fp in &level.false_positives {
                println!("paranoia {pl}: false positive {fp}");
            }
        }
    }
    gw.gateway.shutdown();
}
