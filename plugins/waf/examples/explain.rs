//! Explains the WAF's verdict natively: reads requests as JSON lines
//! (`method`, `uri`, `headers`, `body`; the benign corpus's format) on
//! stdin and prints, per request, the score and the rules that matched.
//!
//! `cargo run --example explain -- [CONFIG_JSON] < plugins/waf/corpus/benign.jsonl`

use std::io::BufRead;

use wasmgress_sdk::testing;

fn main() {
    let config = std::env::args().nth(1).unwrap_or_default();
    let waf: waf::Waf = testing::configure(&config).unwrap_or_else(|e| panic!("{e}"));
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        let method = v["method"].as_str().unwrap_or("GET");
        let uri = v["uri"].as_str().unwrap_or("/");
        let mut b = testing::builder(method, uri);
        if let Some(h) = v["headers"].as_object() {
            for (k, val) in h {
                if k.eq_ignore_ascii_case("host") {
                    b = b.host(val.as_str().unwrap_or(""));
                } else {
                    b = b.header(&k.to_ascii_lowercase(), val.as_str().unwrap_or(""));
                }
            }
        }
        let mut request = b.build();
        if let Some(body) = v["body"].as_str() {
            request = request.with_body(body.as_bytes().to_vec());
        }
        let started = std::time::Instant::now();
        let hits = waf.inspect(&request);
        let took = started.elapsed();
        let score: u32 = hits.iter().map(|h| h.severity.score()).sum();
        let label = v["label"].as_str().unwrap_or("");
        let ids: Vec<String> = hits.iter().map(|h| format!("{}@{:?}:{}", h.id, h.target, h.name)).collect();
        println!(
            "{score:>3} {label} {method} {} {} ({} us)",
            uri.chars().take(120).collect::<String>(),
            ids.join(" "),
            took.as_micros()
        );
    }
}
