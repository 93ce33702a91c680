//! Inspects the benchmark's two requests (a GET with five query arguments
//! and browser headers, a 4 KiB JSON order) natively in a loop and prints
//! the time per request: a quick way to profile the rules with
//! `perf record`, not a benchmark (`bench/waf.sh` measures the plugin in
//! the gateway, beside a route without it). The WAF remembers values that
//! matched nothing, so the same request again costs less than a new one:
//! `get-new-term` has a new search term in every request, `get-new-agent`
//! a new User-Agent, `post-new-order` a new customer and comment.
//!
//! `cargo run --release --example profile [get|get-new-term|get-new-agent|post|post-new-order] [BATCH]`; under
//! `valgrind --tool=callgrind` a small batch counts instructions, which
//! unlike time do not depend on what else the machine is doing.

use wasmgress_sdk::testing;

const BROWSER: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// The GET's search term.
const TERM: &str = "running+shoes+for+women";

fn main() {
    let waf: waf::Waf = testing::configure("").unwrap();
    let get_with = |term: &str, agent: &str| {
        testing::get(&format!("/search?q={term}&category=sport&sort=price_asc&page=2&size=EU+39"))
            .header("user-agent", agent)
            .header("accept", "text/html")
            .header("referer", "https://shop.example.com/")
            .header("cookie", "session=5323451b4a95902a; theme=dark")
            .build()
    };
    let post_with = |n: &str| {
        let mut items = String::new();
        for i in 1..=31 {
            items.push_str(&format!("{{\"sku\":\"SKU-10{i}\",\"name\":\"Item number {i}, blue / size M\",\"qty\":{},\"price\":{i}.99,\"note\":\"Gift wrap; it's for my mom's birthday\"}},", i % 4 + 1));
        }
        items.pop();
        let body = format!(
            "{{\"customer\":{{\"name\":\"Anne-Marie O'Brien{n}\",\"email\":\"anne{n}@example.com\"}},\"items\":[{items}],\"comment\":\"Please deliver after 6 pm & ring twice.{n}\"}}"
        );
        testing::post("/api/v1/orders", body).header("content-type", "application/json").build()
    };
    let only = std::env::args().nth(1).unwrap_or_default();
    let n: u32 = std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(300);
    // The cases with something new in every request: the requests are
    // made before the clock starts.
    let varied = |i: u32| match only.as_str() {
        "get-new-agent" => Some(get_with(TERM, &format!("{BROWSER} Build/{i}"))),
        "get-new-term" => Some(get_with(&format!("{TERM}+{i}"), BROWSER)),
        "post-new-order" => Some(post_with(&format!(" {i}"))),
        _ => None,
    };
    if varied(0).is_some() {
        let requests: Vec<_> = (0..10 * n).filter_map(varied).collect();
        let mut requests = requests.iter();
        let best = fastest(n, || {
            std::hint::black_box(waf.inspect(requests.next().expect("ten batches of requests")));
        });
        println!("{only}: {best:.1} us");
        return;
    }
    for (name, r) in [("get", &get_with(TERM, BROWSER)), ("post", &post_with(""))] {
        if !only.is_empty() && only != name {
            continue;
        }
        assert!(waf.inspect(r).is_empty(), "{name}: {:?}", waf.inspect(r));
        let best = fastest(n, || {
            std::hint::black_box(waf.inspect(r));
        });
        println!("{name}: {best:.1} us");
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
