//! Every Ingress rule translate implements, each case asserting where a
//! request lands (the Ingress conformance features: class, host rules,
//! path rules exact/prefix/mixed, wildcard host, default backend).

use std::net::SocketAddr;

use super::*;
use crate::diagnostics::Severity;

/// A Service `name` (port 80 "http" → 8080) with one ready endpoint 10.0.0.`ip`.
fn service(name: &str, ip: u8) -> String {
    format!(
        r#"
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec:
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-abc
  namespace: default
  labels: {{kubernetes.io/service-name: {name}}}
addressType: IPv4
ports: [{{name: http, port: 8080}}]
endpoints:
  - addresses: ["10.0.0.{ip}"]
    conditions: {{ready: true}}
"#
    )
}

/// An Ingress of class wasmgress with the given spec body (YAML, indented 2).
fn ingress(name: &str, created: &str, spec: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: default\n  creationTimestamp: \"{created}\"\nspec:\n  ingressClassName: wasmgress\n{spec}\n"
    )
}

/// `host` + one path rule to `svc` port 80.
fn rule(host: Option<&str>, path: &str, path_type: &str, svc: &str) -> String {
    let host = host.map(|h| format!("host: \"{h}\"\n    ")).unwrap_or_default();
    format!(
        "  rules:\n  - {host}http:\n      paths:\n      - path: \"{path}\"\n        pathType: {path_type}\n        backend: {{service: {{name: {svc}, port: {{number: 80}}}}}}\n"
    )
}

fn load(docs: &[String]) -> ClusterState {
    let mut state = ClusterState::default();
    for doc in docs {
        let values: Vec<serde_json::Value> = serde_saphyr::from_multiple(doc).expect("fixture is YAML");
        for v in values {
            state.add_object(v).expect("fixture is a valid object");
        }
    }
    state
}

fn base() -> Vec<String> {
    ["a", "b", "c", "d"].iter().enumerate().map(|(i, s)| service(s, i as u8 + 1)).collect()
}

fn with(extra: &[String]) -> ClusterState {
    let mut docs = base();
    docs.extend_from_slice(extra);
    load(&docs)
}

fn run(state: &ClusterState) -> (RouteTable, Vec<Diagnostic>) {
    translate(state, &TranslateOptions::default())
}

/// Which Service a request lands on.
fn lands(t: &RouteTable, host: &str, path: &str) -> Option<String> {
    t.lookup(host, path).map(|r| r.backend.service.name.clone())
}

const T0: &str = "2024-01-01T00:00:00Z";
const T1: &str = "2024-01-02T00:00:00Z";

// ---- IngressClass selection ----

fn class_case(class_docs: &str, ingress_meta: &str, ingress_class_name: Option<&str>, opts: TranslateOptions) -> bool {
    let class_line = ingress_class_name.map(|c| format!("  ingressClassName: {c}\n")).unwrap_or_default();
    let ing = format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: x\n{ingress_meta}spec:\n{class_line}  defaultBackend: {{service: {{name: a, port: {{number: 80}}}}}}\n"
    );
    let mut docs = base();
    docs.push(ing);
    if !class_docs.is_empty() {
        docs.push(class_docs.to_string());
    }
    let (t, _) = translate(&load(&docs), &opts);
    t.default_backend().is_some()
}

fn ingress_class(name: &str, controller: &str, default: bool) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: {name}\n  annotations: {{ingressclass.kubernetes.io/is-default-class: \"{default}\"}}\nspec:\n  controller: {controller}\n"
    )
}

const OURS: &str = "wasmgress.io/ingress-controller";

#[test]
fn class_name_of_our_ingress_class_is_ours() {
    assert!(class_case(&ingress_class("edge", OURS, false), "", Some("edge"), TranslateOptions::default()));
}

#[test]
fn class_name_of_another_controller_is_ignored() {
    assert!(!class_case(
        &ingress_class("nginx", "k8s.io/ingress-nginx", false),
        "",
        Some("nginx"),
        TranslateOptions::default()
    ));
}

#[test]
fn class_name_equal_to_flag_is_ours_without_an_ingress_class_object() {
    assert!(class_case("", "", Some("wasmgress"), TranslateOptions::default()));
}

#[test]
fn class_name_equal_to_flag_but_owned_by_another_controller_is_ignored() {
    assert!(!class_case(
        &ingress_class("wasmgress", "example.com/other", false),
        "",
        Some("wasmgress"),
        TranslateOptions::default()
    ));
}

#[test]
fn legacy_annotation_selects_our_class() {
    let meta = "  annotations: {kubernetes.io/ingress.class: wasmgress}\n";
    assert!(class_case("", meta, None, TranslateOptions::default()));
}

#[test]
fn legacy_annotation_for_another_class_is_ignored() {
    let meta = "  annotations: {kubernetes.io/ingress.class: nginx}\n";
    assert!(!class_case("", meta, None, TranslateOptions::default()));
}

#[test]
fn class_name_field_wins_over_legacy_annotation() {
    let meta = "  annotations: {kubernetes.io/ingress.class: wasmgress}\n";
    assert!(!class_case("", meta, Some("nginx"), TranslateOptions::default()));
}

#[test]
fn classless_ingress_taken_when_our_class_is_default() {
    assert!(class_case(&ingress_class("edge", OURS, true), "", None, TranslateOptions::default()));
}

#[test]
fn classless_ingress_ignored_without_default_class() {
    assert!(!class_case(&ingress_class("edge", OURS, false), "", None, TranslateOptions::default()));
}

#[test]
fn classless_ingress_ignored_when_default_class_is_another_controllers() {
    assert!(!class_case(&ingress_class("nginx", "k8s.io/ingress-nginx", true), "", None, TranslateOptions::default()));
}

#[test]
fn classless_ingress_taken_with_watch_ingress_without_class() {
    let opts = TranslateOptions { watch_ingress_without_class: true, ..Default::default() };
    assert!(class_case("", "", None, opts));
}

#[test]
fn custom_ingress_class_flag() {
    let opts = TranslateOptions { ingress_class: "edge".into(), ..Default::default() };
    assert!(class_case("", "", Some("edge"), opts.clone()));
    assert!(!class_case("", "", Some("wasmgress"), opts));
}

// ---- hosts ----

#[test]
fn exact_host_is_case_insensitive_and_exclusive() {
    let (t, d) = run(&with(&[ingress("i", T0, &rule(Some("foo.bar.com"), "/", "Prefix", "a"))]));
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(lands(&t, "foo.bar.com", "/"), Some("a".into()));
    assert_eq!(lands(&t, "other.com", "/"), None);
}

#[test]
fn wildcard_host_matches_exactly_one_label() {
    let (t, _) = run(&with(&[ingress("i", T0, &rule(Some("*.foo.com"), "/", "Prefix", "a"))]));
    assert_eq!(lands(&t, "bar.foo.com", "/x"), Some("a".into()));
    assert_eq!(lands(&t, "baz.bar.foo.com", "/x"), None);
    assert_eq!(lands(&t, "foo.com", "/x"), None);
}

#[test]
fn exact_host_beats_wildcard() {
    let (t, _) = run(&with(&[
        ingress("w", T0, &rule(Some("*.foo.com"), "/", "Prefix", "a")),
        ingress("e", T0, &rule(Some("bar.foo.com"), "/", "Prefix", "b")),
    ]));
    assert_eq!(lands(&t, "bar.foo.com", "/"), Some("b".into()));
    assert_eq!(lands(&t, "baz.foo.com", "/"), Some("a".into()));
}

#[test]
fn rule_without_host_matches_every_host() {
    let (t, _) = run(&with(&[ingress("i", T0, &rule(None, "/", "Prefix", "a"))]));
    assert_eq!(lands(&t, "anything.example", "/x"), Some("a".into()));
    assert_eq!(lands(&t, "[::1]", "/"), Some("a".into()));
}

#[test]
fn exact_host_beats_hostless_rule() {
    let (t, _) = run(&with(&[
        ingress("any", T0, &rule(None, "/", "Prefix", "a")),
        ingress("foo", T0, &rule(Some("foo.com"), "/", "Prefix", "b")),
    ]));
    assert_eq!(lands(&t, "foo.com", "/"), Some("b".into()));
    assert_eq!(lands(&t, "bar.com", "/"), Some("a".into()));
}

#[test]
fn wildcard_beats_hostless_rule() {
    let (t, _) = run(&with(&[
        ingress("any", T0, &rule(None, "/", "Prefix", "a")),
        ingress("w", T0, &rule(Some("*.foo.com"), "/", "Prefix", "b")),
    ]));
    assert_eq!(lands(&t, "x.foo.com", "/"), Some("b".into()));
}

// ---- paths ----

#[test]
fn exact_path_matches_only_itself() {
    let (t, _) = run(&with(&[ingress("i", T0, &rule(None, "/foo", "Exact", "a"))]));
    assert_eq!(lands(&t, "h", "/foo"), Some("a".into()));
    assert_eq!(lands(&t, "h", "/foo/"), None);
    assert_eq!(lands(&t, "h", "/foo/bar"), None);
    assert_eq!(lands(&t, "h", "/FOO"), None);
}

#[test]
fn prefix_matches_by_path_element() {
    let (t, _) = run(&with(&[ingress("i", T0, &rule(None, "/foo", "Prefix", "a"))]));
    for p in ["/foo", "/foo/", "/foo/bar", "/foo/bar/baz/"] {
        assert_eq!(lands(&t, "h", p), Some("a".into()), "{p}");
    }
    assert_eq!(lands(&t, "h", "/foobar"), None);
    assert_eq!(lands(&t, "h", "/fo"), None);
}

#[test]
fn prefix_trailing_slash_is_ignored() {
    let (t, _) = run(&with(&[ingress("i", T0, &rule(None, "/foo/", "Prefix", "a"))]));
    assert_eq!(lands(&t, "h", "/foo"), Some("a".into()));
    assert_eq!(lands(&t, "h", "/foo/x"), Some("a".into()));
}

#[test]
fn longest_prefix_wins() {
    let spec = "  rules:\n  - http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: a, port: {number: 80}}}}\n      - {path: /foo, pathType: Prefix, backend: {service: {name: b, port: {number: 80}}}}\n      - {path: /foo/bar, pathType: Prefix, backend: {service: {name: c, port: {number: 80}}}}\n";
    let (t, _) = run(&with(&[ingress("i", T0, spec)]));
    assert_eq!(lands(&t, "h", "/foo/bar/baz"), Some("c".into()));
    assert_eq!(lands(&t, "h", "/foo/baz"), Some("b".into()));
    assert_eq!(lands(&t, "h", "/foo"), Some("b".into()));
    assert_eq!(lands(&t, "h", "/other"), Some("a".into()));
}

#[test]
fn exact_beats_prefix_on_the_same_path() {
    let spec = "  rules:\n  - http:\n      paths:\n      - {path: /foo, pathType: Prefix, backend: {service: {name: a, port: {number: 80}}}}\n      - {path: /foo, pathType: Exact, backend: {service: {name: b, port: {number: 80}}}}\n";
    let (t, d) = run(&with(&[ingress("i", T0, spec)]));
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(lands(&t, "h", "/foo"), Some("b".into()));
    assert_eq!(lands(&t, "h", "/foo/"), Some("a".into()));
    assert_eq!(lands(&t, "h", "/foo/x"), Some("a".into()));
}

#[test]
fn exact_with_trailing_slash_beats_prefix_without() {
    let spec = "  rules:\n  - http:\n      paths:\n      - {path: /foo, pathType: Prefix, backend: {service: {name: a, port: {number: 80}}}}\n      - {path: /foo/, pathType: Exact, backend: {service: {name: b, port: {number: 80}}}}\n";
    let (t, _) = run(&with(&[ingress("i", T0, spec)]));
    assert_eq!(lands(&t, "h", "/foo/"), Some("b".into()));
    assert_eq!(lands(&t, "h", "/foo"), Some("a".into()));
}

#[test]
fn implementation_specific_is_a_prefix() {
    let (t, d) = run(&with(&[ingress("i", T0, &rule(None, "/api", "ImplementationSpecific", "a"))]));
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(lands(&t, "h", "/api/v1"), Some("a".into()));
    assert_eq!(lands(&t, "h", "/apis"), None);
}

#[test]
fn root_prefix_catches_everything_and_root_exact_only_root() {
    let (t, _) = run(&with(&[
        ingress("p", T0, &rule(Some("p.com"), "/", "Prefix", "a")),
        ingress("e", T0, &rule(Some("e.com"), "/", "Exact", "b")),
    ]));
    assert_eq!(lands(&t, "p.com", "/any/thing"), Some("a".into()));
    assert_eq!(lands(&t, "e.com", "/"), Some("b".into()));
    assert_eq!(lands(&t, "e.com", "/x"), None);
}

#[test]
fn braces_in_a_path_are_literal() {
    let (t, d) = run(&with(&[ingress("i", T0, &rule(None, "/{id}", "Exact", "a"))]));
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(lands(&t, "h", "/{id}"), Some("a".into()));
    assert_eq!(lands(&t, "h", "/7"), None);
}

// ---- merging and conflicts ----

#[test]
fn rules_for_one_host_merge_across_ingresses() {
    let (t, d) = run(&with(&[
        ingress("one", T0, &rule(Some("shop.com"), "/cart", "Prefix", "a")),
        ingress("two", T1, &rule(Some("shop.com"), "/pay", "Exact", "b")),
    ]));
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(lands(&t, "shop.com", "/cart/1"), Some("a".into()));
    assert_eq!(lands(&t, "shop.com", "/pay"), Some("b".into()));
}

#[test]
fn on_conflict_the_oldest_ingress_wins_and_the_newer_is_told() {
    let (t, d) = run(&with(&[
        ingress("newer", T1, &rule(Some("shop.com"), "/", "Prefix", "b")),
        ingress("older", T0, &rule(Some("shop.com"), "/", "Prefix", "a")),
    ]));
    assert_eq!(lands(&t, "shop.com", "/"), Some("a".into()));
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].object, "default/newer");
    assert_eq!(d[0].severity, Severity::Warning);
    assert!(d[0].message.contains("conflicts with ingress default/older"), "{}", d[0].message);
}

#[test]
fn on_conflict_with_equal_age_the_first_name_wins() {
    let (t, d) = run(&with(&[
        ingress("zeta", T0, &rule(Some("shop.com"), "/", "Prefix", "b")),
        ingress("alpha", T0, &rule(Some("shop.com"), "/", "Prefix", "a")),
    ]));
    assert_eq!(lands(&t, "shop.com", "/"), Some("a".into()));
    assert_eq!(d[0].object, "default/zeta");
}

#[test]
fn identical_rules_in_two_ingresses_are_not_a_conflict() {
    let (t, d) = run(&with(&[
        ingress("one", T0, &rule(Some("shop.com"), "/", "Prefix", "a")),
        ingress("two", T1, &rule(Some("shop.com"), "/", "Prefix", "a")),
    ]));
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(lands(&t, "shop.com", "/"), Some("a".into()));
}

#[test]
fn prefix_with_and_without_trailing_slash_is_the_same_rule() {
    let (t, d) = run(&with(&[
        ingress("one", T0, &rule(Some("s.com"), "/foo", "Prefix", "a")),
        ingress("two", T1, &rule(Some("s.com"), "/foo/", "Prefix", "b")),
    ]));
    assert_eq!(lands(&t, "s.com", "/foo/x"), Some("a".into()));
    assert_eq!(d.len(), 1, "{d:?}");
}

// ---- backends ----

fn endpoints(t: &RouteTable, host: &str, path: &str) -> Vec<SocketAddr> {
    t.lookup(host, path).map(|r| r.backend.endpoints().to_vec()).unwrap_or_default()
}

#[test]
fn port_number_resolves_to_the_target_port_of_ready_endpoints() {
    let (t, _) = run(&with(&[ingress("i", T0, &rule(None, "/", "Prefix", "a"))]));
    assert_eq!(endpoints(&t, "h", "/"), vec!["10.0.0.1:8080".parse().unwrap()]);
}

const MULTI: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: multi, namespace: default}
spec:
  ports:
  - {name: web, port: 80, targetPort: http-web}
  - {name: admin, port: 9000, targetPort: 9001}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: multi-1, namespace: default, labels: {kubernetes.io/service-name: multi}}
addressType: IPv4
ports: [{name: web, port: 3000}, {name: admin, port: 9001}]
endpoints:
- addresses: ["10.1.0.1"]
  conditions: {ready: true}
- addresses: ["10.1.0.2"]
  conditions: {ready: false}
- addresses: ["10.1.0.3"]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: multi-2, namespace: default, labels: {kubernetes.io/service-name: multi}}
addressType: IPv4
ports: [{name: web, port: 3000}, {name: admin, port: 9001}]
endpoints:
- addresses: ["10.1.0.4"]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: other, namespace: default, labels: {kubernetes.io/service-name: unrelated}}
addressType: IPv4
ports: [{name: web, port: 3000}]
endpoints:
- addresses: ["10.9.9.9"]
"#;

fn multi_ingress(port: &str) -> String {
    ingress("m", T0, &format!("  defaultBackend: {{service: {{name: multi, port: {port}}}}}"))
}

#[test]
fn named_target_port_resolves_through_the_slice_port_name() {
    let (t, d) = run(&with(&[MULTI.to_string(), multi_ingress("{number: 80}")]));
    assert!(d.is_empty(), "{d:?}");
    let eps: Vec<String> = t.default_backend().unwrap().backend.endpoints().iter().map(|e| e.to_string()).collect();
    assert_eq!(eps, ["10.1.0.1:3000", "10.1.0.3:3000", "10.1.0.4:3000"]);
}

#[test]
fn service_port_by_name_resolves() {
    let (t, _) = run(&with(&[MULTI.to_string(), multi_ingress("{name: admin}")]));
    let eps: Vec<String> = t.default_backend().unwrap().backend.endpoints().iter().map(|e| e.to_string()).collect();
    assert_eq!(eps, ["10.1.0.1:9001", "10.1.0.3:9001", "10.1.0.4:9001"]);
}

#[test]
fn not_ready_endpoints_are_left_out_and_unset_ready_counts_as_ready() {
    let (t, _) = run(&with(&[MULTI.to_string(), multi_ingress("{number: 80}")]));
    let eps = t.default_backend().unwrap().backend.endpoints();
    assert!(!eps.iter().any(|e| e.ip().to_string() == "10.1.0.2"));
    assert!(eps.iter().any(|e| e.ip().to_string() == "10.1.0.3"));
}

#[test]
fn missing_service_keeps_the_route_and_warns() {
    let (t, d) = run(&with(&[ingress("i", T0, &rule(None, "/", "Prefix", "ghost"))]));
    let r = t.lookup("h", "/").expect("route stays so the request gets 503, not 404");
    assert!(r.backend.service_missing);
    assert!(r.backend.endpoints().is_empty());
    assert_eq!(d[0].severity, Severity::Warning);
    assert!(d[0].message.contains("service default/ghost not found"), "{}", d[0].message);
}

#[test]
fn service_without_ready_endpoints_warns() {
    let svc =
        "apiVersion: v1\nkind: Service\nmetadata: {name: idle, namespace: default}\nspec:\n  ports: [{port: 80}]\n";
    let (t, d) = run(&with(&[svc.into(), ingress("i", T0, &rule(None, "/", "Prefix", "idle"))]));
    assert!(t.lookup("h", "/").unwrap().backend.endpoints().is_empty());
    assert!(d[0].message.contains("has no ready endpoints"), "{d:?}");
}

#[test]
fn unknown_service_port_warns() {
    let (t, d) = run(&with(&[MULTI.to_string(), multi_ingress("{number: 81}")]));
    assert!(t.default_backend().unwrap().backend.endpoints().is_empty());
    assert!(d[0].message.contains("has no port 81"), "{d:?}");
}

#[test]
fn resource_backends_are_reported_and_not_served() {
    let spec = "  rules:\n  - http:\n      paths:\n      - {path: /static, pathType: Prefix, backend: {resource: {apiGroup: k8s.example.com, kind: StorageBucket, name: assets}}}\n      - {path: /, pathType: Prefix, backend: {service: {name: a, port: {number: 80}}}}\n";
    let (t, d) = run(&with(&[ingress("i", T0, spec)]));
    assert_eq!(lands(&t, "h", "/static/x"), Some("a".into()));
    assert!(d[0].message.contains("resource backends are not supported"), "{d:?}");
}

#[test]
fn routes_to_one_service_share_one_backend() {
    let spec = "  rules:\n  - host: x.com\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: a, port: {number: 80}}}}\n  - host: y.com\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: a, port: {number: 80}}}}\n";
    let (t, _) = run(&with(&[ingress("i", T0, spec)]));
    let x = t.lookup("x.com", "/").unwrap();
    let y = t.lookup("y.com", "/").unwrap();
    assert!(Arc::ptr_eq(&x.backend, &y.backend));
}

// ---- default backend ----

#[test]
fn spec_default_backend_serves_what_matches_nothing() {
    let spec = format!(
        "  defaultBackend: {{service: {{name: d, port: {{number: 80}}}}}}\n{}",
        rule(Some("foo.com"), "/app", "Prefix", "a")
    );
    let (t, _) = run(&with(&[ingress("i", T0, &spec)]));
    assert_eq!(lands(&t, "foo.com", "/app"), Some("a".into()));
    assert_eq!(lands(&t, "foo.com", "/other"), Some("d".into()));
    assert_eq!(lands(&t, "unknown.com", "/"), Some("d".into()));
    assert_eq!(t.lookup("unknown.com", "/").unwrap().path_match, PathMatch::DefaultBackend);
}

#[test]
fn flag_default_backend_serves_when_no_ingress_has_one() {
    let opts = TranslateOptions { default_backend_service: Some(ObjectKey::new("default", "c")), ..Default::default() };
    let (t, d) = translate(&with(&[ingress("i", T0, &rule(Some("foo.com"), "/", "Prefix", "a"))]), &opts);
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(lands(&t, "bar.com", "/"), Some("c".into()));
    assert_eq!(endpoints(&t, "bar.com", "/"), vec!["10.0.0.3:8080".parse().unwrap()]);
}

#[test]
fn spec_default_backend_overrides_the_flag() {
    let opts = TranslateOptions { default_backend_service: Some(ObjectKey::new("default", "c")), ..Default::default() };
    let spec = "  defaultBackend: {service: {name: d, port: {number: 80}}}";
    let (t, _) = translate(&with(&[ingress("i", T0, spec)]), &opts);
    assert_eq!(lands(&t, "bar.com", "/"), Some("d".into()));
}

#[test]
fn oldest_default_backend_wins() {
    let (t, d) = run(&with(&[
        ingress("new", T1, "  defaultBackend: {service: {name: b, port: {number: 80}}}"),
        ingress("old", T0, "  defaultBackend: {service: {name: a, port: {number: 80}}}"),
    ]));
    assert_eq!(lands(&t, "x", "/"), Some("a".into()));
    assert_eq!(d[0].object, "default/new");
    assert!(d[0].message.contains("default/old"));
}

#[test]
fn without_default_backend_nothing_matches() {
    let (t, _) = run(&with(&[ingress("i", T0, &rule(Some("foo.com"), "/app", "Prefix", "a"))]));
    assert_eq!(lands(&t, "foo.com", "/"), None);
    assert_eq!(lands(&t, "bar.com", "/app"), None);
}

// ---- rejection of bad objects ----

fn assert_rejected_alone(bad_spec: &str, expect: &str) {
    let (t, d) =
        run(&with(&[ingress("bad", T0, bad_spec), ingress("good", T1, &rule(Some("good.com"), "/", "Prefix", "b"))]));
    assert_eq!(lands(&t, "good.com", "/"), Some("b".into()), "the good Ingress keeps serving");
    assert_eq!(lands(&t, "bad.com", "/"), None, "the bad Ingress serves nothing");
    let bad: Vec<_> = d.iter().filter(|d| d.object == "default/bad").collect();
    assert!(!bad.is_empty() && bad.iter().all(|d| d.severity == Severity::Rejected), "{d:?}");
    assert!(bad.iter().any(|d| d.message.contains(expect)), "expected {expect:?} in {bad:?}");
}

fn two_paths(second_path: &str, second_type: &str) -> String {
    format!(
        "  rules:\n  - host: bad.com\n    http:\n      paths:\n      - {{path: /, pathType: Prefix, backend: {{service: {{name: a, port: {{number: 80}}}}}}}}\n      - {{path: \"{second_path}\", pathType: {second_type}, backend: {{service: {{name: a, port: {{number: 80}}}}}}}}\n"
    )
}

#[test]
fn relative_path_rejects_the_ingress_alone() {
    assert_rejected_alone(&two_paths("api", "Prefix"), "must start with '/'");
}

#[test]
fn dot_segment_path_rejects_the_ingress_alone() {
    assert_rejected_alone(&two_paths("/a/../b", "Exact"), "must not contain \"/../\"");
}

#[test]
fn unknown_path_type_rejects_the_ingress_alone() {
    assert_rejected_alone(&two_paths("/x", "Regex"), "unknown pathType \"Regex\"");
}

#[test]
fn bad_annotation_rejects_the_ingress_alone() {
    let spec = rule(Some("bad.com"), "/", "Prefix", "a");
    let doc = ingress("bad", T0, &spec).replace(
        "  namespace: default\n",
        "  namespace: default\n  annotations: {wasmgress.io/proxy-read-timeout: forever}\n",
    );
    let (t, d) = run(&with(&[doc, ingress("good", T1, &rule(Some("good.com"), "/", "Prefix", "b"))]));
    assert_eq!(lands(&t, "bad.com", "/"), None);
    assert_eq!(lands(&t, "good.com", "/"), Some("b".into()));
    assert!(d[0].message.contains("wasmgress.io/proxy-read-timeout"), "{d:?}");
    assert_eq!(d[0].severity, Severity::Rejected);
}

#[test]
fn read_timeout_annotation_reaches_the_route_policy() {
    let doc = ingress("i", T0, &rule(None, "/", "Prefix", "a")).replace(
        "  namespace: default\n",
        "  namespace: default\n  annotations: {wasmgress.io/proxy-read-timeout: 750ms}\n",
    );
    let (t, d) = run(&with(&[doc]));
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(t.lookup("h", "/").unwrap().policy.response_timeout, Some(std::time::Duration::from_millis(750)));
}

#[test]
fn unknown_annotation_warns_and_still_serves() {
    let doc = ingress("i", T0, &rule(None, "/", "Prefix", "a"))
        .replace("  namespace: default\n", "  namespace: default\n  annotations: {wasmgress.io/rewrite: x}\n");
    let (t, d) = run(&with(&[doc]));
    assert_eq!(lands(&t, "h", "/"), Some("a".into()));
    assert_eq!(d[0].severity, Severity::Warning);
}

#[test]
fn missing_port_rejects_the_ingress_alone() {
    let spec = "  rules:\n  - host: bad.com\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: a}}}\n";
    assert_rejected_alone(spec, "port is required");
}

#[test]
fn invalid_host_rejects_the_ingress_alone() {
    let spec = "  rules:\n  - host: Bad_Host.com\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: a, port: {number: 80}}}}\n";
    assert_rejected_alone(spec, "is not a valid DNS name");
}

#[test]
fn exact_without_path_rejects_the_ingress_alone() {
    let spec = "  rules:\n  - host: bad.com\n    http:\n      paths:\n      - {pathType: Exact, backend: {service: {name: a, port: {number: 80}}}}\n";
    assert_rejected_alone(spec, "path is required for pathType Exact");
}

#[test]
fn backend_without_service_rejects_the_ingress_alone() {
    let spec =
        "  rules:\n  - host: bad.com\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {}}\n";
    assert_rejected_alone(spec, "backend names no service");
}

#[test]
fn implementation_specific_regex_is_matched_literally_with_a_warning() {
    let (t, d) = run(&with(&[ingress("i", T0, &rule(None, "/api(/|$)(.*)", "ImplementationSpecific", "a"))]));
    assert_eq!(lands(&t, "h", "/api/x"), None);
    assert!(d[0].message.contains("looks like a regular expression"), "{d:?}");
}

#[test]
fn translation_is_deterministic() {
    let state = with(&[
        ingress("newer", T1, &rule(Some("shop.com"), "/", "Prefix", "b")),
        ingress("older", T0, &rule(Some("shop.com"), "/", "Prefix", "a")),
        ingress("ghost", T0, &rule(None, "/", "Prefix", "nope")),
    ]);
    let (_, d1) = run(&state);
    let mut reversed = state.clone();
    reversed.ingresses.reverse();
    let (t2, d2) = run(&reversed);
    assert_eq!(d1, d2);
    assert_eq!(lands(&t2, "shop.com", "/"), Some("a".into()));
}
