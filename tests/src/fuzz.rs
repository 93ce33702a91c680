//! The properties the fuzz targets in `fuzz/` check, shared with the test
//! that replays their corpora, so that every input a fuzzer kept and every
//! crash it found stays a regression test on the stable toolchain.
//! Each function panics when a property fails.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use wasmgress::cluster::ClusterState;
use wasmgress::routing::{host, path};
use wasmgress::translate::{TranslateOptions, annotations, translate};
use wasmgress::wasm::host::{RequestInfo, StreamState};
use wasmgress::wasm::registry::{Plugin, PluginRegistry};
use wasmgress::wasm::vm::PluginVm;
use wasmgress::wasm::{PluginRuntime, RuntimeOptions};

/// Manifest text (YAML) → objects → route table. Translation never panics,
/// and is a function of the objects: the same objects, read again, give
/// the same rules and the same diagnostics.
pub fn translate_manifests(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(values) = wasmgress::source::files::parse_documents(Path::new("fuzz.yaml"), &text) else { return };
    let build = || {
        let mut state = ClusterState::default();
        for v in values.clone() {
            let _ = state.add_object(v);
        }
        state
    };
    let opts = TranslateOptions { watch_ingress_without_class: true, ..TranslateOptions::default() };
    let (first, first_problems) = translate(&build(), &opts);
    let (second, second_problems) = translate(&build(), &opts);
    assert_eq!(first.rule_count(), second.rule_count());
    assert_eq!(first_problems, second_problems);
    // Looking up whatever the input mentions never panics.
    for word in text.split_whitespace().take(64) {
        if let (Ok(h), Ok(p)) = (host::normalize(word), path::normalize(&format!("/{word}"))) {
            let _ = first.lookup(&h, &path::route_key(&p));
        }
    }
}

/// Annotation values: lines of `key<TAB>value` (keys without a `/` get the
/// `wasmgress.io/` prefix), and the whole input as a plugin list. Parsing
/// never panics; what is accepted is well-formed.
pub fn annotation_values(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let map: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| {
            let key = if k.contains('/') { k.to_string() } else { format!("wasmgress.io/{k}") };
            (key, v.to_string())
        })
        .collect();
    let parsed = annotations::parse(Some(&map));
    if let Some(limit) = parsed.policy.response_timeout {
        assert!(!limit.is_zero());
    }
    for request in parsed.plugins.iter().chain(annotations::parse_plugins(&text).iter().flatten()) {
        assert!(!request.name.is_empty());
        assert!(request.name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')));
        assert!(request.sha256.as_ref().is_none_or(|h| h.len() == 64));
    }
}

/// Request paths and hosts. Normal forms are fixed points (normalising
/// twice changes nothing), paths cannot climb or hide segments, hosts
/// are lower case without port or trailing dot.
pub fn paths_and_hosts(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    check_path(&text, false);
    // The path hyper hands over for the same bytes as a request target.
    if let Ok(uri) = text.parse::<http::Uri>() {
        check_path(uri.path(), true);
    }
    if let Ok(h) = host::normalize(&text) {
        assert!(!h.bytes().any(|b| b.is_ascii_uppercase()), "{h:?}");
        assert!(!h.ends_with('.'), "{text:?} -> {h:?}");
        assert_eq!(host::normalize(&h).as_deref(), Ok(&*h), "normalising {text:?} twice");
    }
}

fn check_path(text: &str, from_request: bool) {
    if let Ok(p) = path::normalize(text) {
        assert!(p.starts_with('/'), "{p:?}");
        assert_eq!(path::normalize(&p).as_deref(), Ok(&*p), "normalising {text:?} twice");
        assert!(!p.contains("//"), "{p:?}");
        for segment in p.split('/') {
            assert!(segment != "." && segment != "..", "{text:?} -> {p:?}");
        }
        assert!(!path::route_key(&p).contains(';'));
        // What hyper accepted as a request target stays one.
        if from_request {
            assert!(p.parse::<http::Uri>().is_ok(), "{text:?} -> {p:?} is not a valid request target");
        }
    }
}

/// The fuzz-driver plugin (tests/plugins/fuzz-driver), compiled once.
fn driver() -> &'static (Arc<PluginRuntime>, Arc<Plugin>) {
    static DRIVER: OnceLock<(Arc<PluginRuntime>, Arc<Plugin>)> = OnceLock::new();
    DRIVER.get_or_init(|| {
        let opts = RuntimeOptions { memory_limit: 16 << 20, ..RuntimeOptions::default() };
        let runtime = PluginRuntime::new(opts).expect("plugin runtime");
        let dir = crate::TempDir::new();
        // Under a fuzzer the module is prebuilt (scripts/fuzz.sh): building
        // it from here would inherit the fuzzer's toolchain and flags.
        let built = if cfg!(fuzzing) {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/target/wasm32-wasip1/release")
        } else {
            crate::built_plugins()
        };
        std::fs::copy(built.join("test_fuzz_driver.wasm"), dir.path().join("driver.wasm"))
            .expect("the driver is built");
        let (registry, problems) = PluginRegistry::load_dir(&runtime, dir.path(), None, None);
        assert!(problems.is_empty(), "{problems:?}");
        let plugin = registry.get("driver").expect("the driver plugin loads").clone();
        (runtime, plugin)
    })
}

/// A program of host calls with arbitrary pointers and lengths, run by a
/// plugin on request headers: every call gets a status or traps the guest;
/// the host never panics, and the request it leaves is still a valid one.
/// Returns what the program left behind (`None` if it never ran), so tests
/// can tell the driver really reaches the host.
pub fn host_calls(data: &[u8]) -> Option<Box<StreamState>> {
    let (runtime, plugin) = driver();
    let mut vm = PluginVm::new(runtime, plugin, Arc::from(data)).ok()?;
    let context = vm.create_context().ok()?;
    let mut req = http::Request::get("/fuzz?x=1").header("host", "fuzz.example").body(()).unwrap();
    req.headers_mut().insert("x-fuzz", http::HeaderValue::from_static("1"));
    let (parts, ()) = req.into_parts();
    let info = RequestInfo { host: "fuzz.example".into(), scheme: "http", protocol: "HTTP/1.1", ..Default::default() };
    let stream = Box::new(StreamState {
        request: Some(Box::new(wasmgress::wasm::headers::RequestHead { parts, scheme: "http" })),
        info: Arc::new(info),
        ..Default::default()
    });
    let (stream, _) = vm.on_headers(context, false, stream, true);
    let (stream, _) = vm.finish(context, stream);
    if let Some(head) = &stream.request {
        assert!(head.parts.uri.path().starts_with('/') || head.parts.uri.path().is_empty());
        for (name, value) in &head.parts.headers {
            assert!(!name.as_str().is_empty());
            assert!(!value.as_bytes().contains(&b'\n'), "a header value with a line break: {value:?}");
        }
    }
    if let Some(local) = &stream.local_response {
        assert!((200..=599).contains(&local.status));
    }
    Some(stream)
}
