//! Control- and data-plane costs of routing at scale: translating 10,000
//! Ingresses, and looking a request up in the table they make.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use wasmgress::cluster::ClusterState;
use wasmgress::routing::path;
use wasmgress::translate::{TranslateOptions, translate};

const INGRESSES: usize = 10_000;

/// 10,000 Ingresses, each with its own host, an Exact and two Prefix paths,
/// over 1,000 Services with two endpoints each; a tenth use wildcard hosts.
fn cluster() -> ClusterState {
    let mut state = ClusterState::default();
    for s in 0..1_000 {
        state
            .add_object(json!({"kind": "Service", "metadata": {"name": format!("svc-{s}"), "namespace": "default"},
                "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}))
            .unwrap();
        state
            .add_object(json!({"kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": {"name": format!("svc-{s}-x"), "namespace": "default",
                    "labels": {"kubernetes.io/service-name": format!("svc-{s}")}},
                "ports": [{"name": "http", "port": 8080}],
                "endpoints": [{"addresses": [format!("10.0.{}.{}", s / 250, s % 250)]},
                              {"addresses": [format!("10.1.{}.{}", s / 250, s % 250)]}]}))
            .unwrap();
    }
    for i in 0..INGRESSES {
        let host = if i.is_multiple_of(10) { format!("*.w{i}.example.com") } else { format!("h{i}.example.com") };
        let backend = |s: usize| json!({"service": {"name": format!("svc-{}", s % 1_000), "port": {"number": 80}}});
        state
            .add_object(json!({"kind": "Ingress", "metadata": {"name": format!("ing-{i}"), "namespace": "default"},
                "spec": {"ingressClassName": "wasmgress", "rules": [{"host": host, "http": {"paths": [
                    {"path": "/", "pathType": "Prefix", "backend": backend(i)},
                    {"path": "/api/v1", "pathType": "Prefix", "backend": backend(i + 1)},
                    {"path": "/healthz", "pathType": "Exact", "backend": backend(i + 2)}]}}]}}))
            .unwrap();
    }
    state
}

fn bench(c: &mut Criterion) {
    let state = cluster();
    let opts = TranslateOptions::default();
    let mut g = c.benchmark_group("translate");
    g.sample_size(10);
    g.bench_function("10k_ingresses", |b| b.iter(|| black_box(translate(black_box(&state), &opts))));
    g.finish();

    let (table, diagnostics) = translate(&state, &opts);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let requests: Vec<(String, String)> = (0..1_024)
        .map(|k| {
            let i = (k * 7_919) % INGRESSES;
            let host = if i.is_multiple_of(10) { format!("app.w{i}.example.com") } else { format!("h{i}.example.com") };
            let path = ["/", "/api/v1/users/42", "/healthz", "/static/app.js"][k % 4];
            (host, path.to_string())
        })
        .collect();
    for (h, p) in &requests {
        assert!(table.lookup(h, p).is_some(), "{h}{p}");
    }
    let mut n = 0;
    c.bench_function("lookup/10k_ingresses", |b| {
        b.iter(|| {
            let (h, p) = &requests[n % requests.len()];
            n += 1;
            black_box(table.lookup(black_box(h), black_box(p)))
        })
    });
    c.bench_function("path_normalize/canonical", |b| {
        b.iter(|| black_box(path::normalize(black_box("/api/v1/users/42"))))
    });
    c.bench_function("path_normalize/dot_segments", |b| {
        b.iter(|| black_box(path::normalize(black_box("/api/v1/../v2/%2e/users//42"))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
