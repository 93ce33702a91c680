//! The cost of one plugin per request, measured in-process: the plugin
//! runs in the gateway's own runtime (wasmtime, host calls and all) on
//! `bench/waf.sh`'s requests — a GET with five query arguments and
//! browser headers, and a 4 KiB JSON order — with no sockets, proxy or
//! load generator beside it, so the figure moves little with what else
//! the machine is doing. The WAF remembers values that matched nothing,
//! so a request seen before costs less than a new one: `get-new-term` is
//! the GET with a new search term in every request, `get-new-agent` with
//! a new User-Agent, `post-new-order` the POST with a new customer and
//! comment (made before the clock starts). Prints the fastest of ten
//! batches.
//! (valgrind cannot run it — the instance pool reserves more address
//! space than valgrind allows; for instruction counts run the WAF's rules
//! natively under it: `cargo run --example profile` in `plugins/waf`.)
//!
//! `cargo run --release -p wasmgress-tests --bin plugin-cost -- [PLUGIN] [CONFIG] [BATCH] [CASE]`
//! (default: `waf` from `plugins/`, `{"paranoia_level":1}`, 300, every
//! case; a path ending in `.wasm` is loaded as it is). Compiled modules
//! are kept in the system's temporary directory, so a second run starts
//! at once.

use std::sync::Arc;
use std::time::Instant;

use wasmgress::wasm::headers::RequestHead;
use wasmgress::wasm::host::{RequestInfo, StreamState};
use wasmgress::wasm::registry::PluginRegistry;
use wasmgress::wasm::vm::PluginVm;
use wasmgress::wasm::{PluginRuntime, RuntimeOptions};

const BROWSER: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// The GET of `bench/waf.sh` with search term `term` and User-Agent `agent`.
fn get(term: &str, agent: &str) -> http::Request<()> {
    http::Request::get(format!("/search?q={term}&category=sport&sort=price_asc&page=2&size=EU+39"))
        .header("host", "waf.local")
        .header("user-agent", agent)
        .header("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
        .header("accept-language", "en-US,en;q=0.9")
        .header("referer", "https://shop.example.com/")
        .header("cookie", "session=5323451b4a95902a; theme=dark")
        .body(())
        .unwrap()
}

/// The POST of `bench/waf.sh`, `mark` added to the customer and comment.
fn post(mark: &str) -> (http::Request<()>, Vec<u8>) {
    let items: Vec<String> = (1..=31)
        .map(|i| {
            format!(
                r#"{{"sku":"SKU-10{i}","name":"Item number {i}, blue / size M","qty":{},"price":{i}.99,"note":"Gift wrap; it's for my mom's birthday"}}"#,
                i % 4 + 1
            )
        })
        .collect();
    let body = format!(
        r#"{{"customer":{{"name":"Anne-Marie O'Brien{mark}","email":"anne{mark}@example.com","city":"Saint-Étienne"}},"items":[{}],"comment":"Please deliver after 6 pm & ring twice.{mark}"}}"#,
        items.join(",")
    );
    let head = http::Request::post("/api/v1/orders")
        .header("host", "waf.local")
        .header("content-type", "application/json")
        .header("user-agent", "okhttp/4.12.0")
        .header("content-length", body.len().to_string())
        .body(())
        .unwrap();
    (head, body.into_bytes())
}

const TERM: &str = "running+shoes+for+women";

/// Request `i` of a case: the same every time, or with something new.
fn request(case: &str, i: u64) -> (http::Request<()>, Vec<u8>) {
    match case {
        "get" => (get(TERM, BROWSER), Vec::new()),
        "get-new-term" => (get(&format!("{TERM}+{i}"), BROWSER), Vec::new()),
        "get-new-agent" => (get(TERM, &format!("{BROWSER} Build/{i}")), Vec::new()),
        "post" => post(""),
        "post-new-order" => post(&format!(" {i}")),
        other => panic!("unknown case {other}"),
    }
}

const CASES: [&str; 5] = ["get", "get-new-term", "get-new-agent", "post", "post-new-order"];

/// One request through the plugin, as the proxy drives it.
fn run(vm: &mut PluginVm, request: &http::Request<()>, body: &[u8]) -> Box<StreamState> {
    let context = vm.create_context().expect("a context");
    let (parts, ()) = request.clone().into_parts();
    let info = RequestInfo {
        host: "waf.local".into(),
        scheme: "http",
        protocol: "HTTP/1.1",
        ingress: "default/waf".into(),
        ..Default::default()
    };
    let stream = Box::new(StreamState {
        request: Some(Box::new(RequestHead { parts, scheme: "http" })),
        info: Arc::new(info),
        ..Default::default()
    });
    let (mut stream, _) = vm.on_headers(context, false, stream, body.is_empty());
    if !body.is_empty() {
        stream.body = body.to_vec();
        stream.body_kind = Some(0);
        (stream, _) = vm.on_body(context, false, stream, true);
    }
    let (stream, _) = vm.finish(context, stream);
    stream
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map_or("waf", String::as_str);
    let config = args.get(1).map_or(r#"{"paranoia_level":1}"#, String::as_str);
    let batch: u32 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(300).max(1);
    let only = args.get(3).map_or("", String::as_str);
    let runtime = PluginRuntime::new(RuntimeOptions::default()).expect("plugin runtime");
    // A path to a .wasm file is taken as it is (to compare two builds).
    let (dir, name) = match name.ends_with(".wasm") {
        true => {
            let dir = wasmgress_tests::TempDir::new();
            std::fs::copy(name, dir.path().join("plugin.wasm")).expect("the .wasm file is readable");
            (dir, "plugin")
        }
        false => (wasmgress_tests::plugin_dir(&[(name, &name.replace('-', "_"))]), name),
    };
    let cache = std::env::temp_dir().join("wasmgress-plugin-cost");
    let _ = std::fs::create_dir_all(&cache);
    let (registry, problems) = PluginRegistry::load_dir(&runtime, dir.path(), Some(&cache), None);
    assert!(problems.is_empty(), "{problems:?}");
    let plugin = registry.get(name).expect("the plugin loads").clone();
    let mut vm = PluginVm::new(&runtime, &plugin, Arc::from(config.as_bytes())).expect("the plugin configures");
    for case in CASES.into_iter().filter(|case| only.is_empty() || *case == only) {
        let (request, body) = request(case, 0);
        let stream = run(&mut vm, &request, &body);
        // A refused request would be cheaper: all must pass.
        assert!(stream.local_response.is_none(), "{case}: the plugin answered itself");
        // The varied requests are made before the clock starts.
        let varied: Vec<_> = match case.contains("-new-") {
            true => (1..=10 * u64::from(batch)).map(|i| self::request(case, i)).collect(),
            false => Vec::new(),
        };
        let mut varied = varied.iter();
        let best = (0..10)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..batch {
                    let (request, body) = varied.next().map_or((&request, &body), |(r, b)| (r, b));
                    std::hint::black_box(run(&mut vm, request, body));
                }
                t.elapsed().as_secs_f64() * 1e6 / f64::from(batch)
            })
            .fold(f64::INFINITY, f64::min);
        println!("{name} {case}: {best:.1} us per request");
    }
}
