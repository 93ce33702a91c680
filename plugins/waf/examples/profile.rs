//! Inspects the benchmark's two requests (a GET with five query arguments
//! and browser headers, a 4 KiB JSON order), and the GET with a
//! User-Agent never seen before on every request, natively in a loop and prints
//! the time per request: a quick way to profile the rules with
//! `perf record`, not a benchmark (`bench/waf.sh` measures the plugin in
//! the gateway, beside a route without it).
//!
//! `cargo run --release --example profile [get|get-new-agent|post] [BATCH]`; under
//! `valgrind --tool=callgrind` a small batch counts instructions, which
//! unlike time do not depend on what else the machine is doing.

use wasmgress_sdk::testing;

const BROWSER: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

fn main() {
    let waf: waf::Waf = testing::configure("").unwrap();
    let get_with = |agent: &str| {
        testing::get("/search?q=running+shoes+for+women&category=sport&sort=price_asc&page=2&size=EU+39")
            .header("user-agent", agent)
            .header("accept", "text/html")
            .header("referer", "https://shop.example.com/")
            .header("cookie", "session=5323451b4a95902a; theme=dark")
            .build()
    };
    let get = get_with(BROWSER);
    let mut items = String::new();
    for i in 1..=31 {
        items.push_str(&format!("{{\"sku\":\"SKU-10{i}\",\"name\":\"Item number {i}, blue / size M\",\"qty\":{},\"price\":{i}.99,\"note\":\"Gift wrap; it's for my mom's birthday\"}},", i % 4 + 1));
    }
    items.pop();
    let body = format!(
        "{{\"customer\":{{\"name\":\"Anne-Marie O'Brien\",\"email\":\"anne@example.com\"}},\"items\":[{items}],\"comment\":\"Please deliver after 6 pm & ring twice.\"}}"
    );
    let post = testing::post("/api/v1/orders", body.clone()).header("content-type", "application/json").build();
    let only = std::env::args().nth(1).unwrap_or_default();
    let n: u32 = std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(300);
    if only == "get-new-agent" {
        // A new User-Agent per request, made before the clock starts.
        let new_agents: Vec<_> = (0..10 * n).map(|i| get_with(&format!("{BROWSER} Build/{i}"))).collect();
        let mut requests = new_agents.iter();
        let best = fastest(n, || {
            std::hint::black_box(waf.inspect(requests.next().expect("ten batches of requests")));
        });
        println!("get-new-agent: {best:.1} us");
        return;
    }
    for (name, r) in [("get", &get), ("post", &post)] {
        if !only.is_empty() && only != name {
            continue;
        }
        assert!(waf.inspect(r).is_empty(), "{name}: {:?}", waf.inspect(r));
        let best = fastest(n, || {
            std::hint::black_box(waf.inspect(r));
        });
        println!("{name}: {best:.1} us (body {} bytes)", body.len());
    }
}

/// Microseconds per call of `inspect` in the fastest of ten batches of
/// `n`: the batch least disturbed by the machine.
fn fastest(n: u32, mut inspect: impl FnMut()) -> f64 {
    (0..10)
        .map(|_| {
            let t = std::time::Instant::now();
            for _ in 0..n {
                inspect();
            }
            t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        })
        .fold(f64::INFINITY, f64::min)
}
