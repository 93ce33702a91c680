use wasmgress_sdk::testing::{self, configure};
use wasmgress_sdk::{Decision, Request};

use super::HeaderRewrite;

fn plugin(config: &str) -> HeaderRewrite {
    configure(config).unwrap_or_else(|e| panic!("{e}"))
}

fn run(p: &HeaderRewrite, request: Request) -> (Decision, Request) {
    testing::request(p, request)
}

#[test]
fn headers_are_set_added_removed_and_renamed_with_variables() {
    let p = plugin(
        r#"{"request": {"set": {"x-client": "${client_ip}", "x-who": "${header.x-user}@${host}"},
                        "add": {"x-trace": "${method} ${query.id}"},
                        "remove": ["x-debug"], "rename": {"x-old": "x-new"}}}"#,
    );
    let r =
        testing::get("/p?id=9").host("shop.com").header("x-user", "ada").header("x-debug", "1").header("x-old", "v");
    let (decision, r) = run(&p, r.build());
    assert_eq!(decision, Decision::Continue);
    assert_eq!(r.headers.get("x-client"), Some("192.0.2.1"));
    assert_eq!(r.headers.get("x-who"), Some("ada@shop.com"));
    assert_eq!(r.headers.get("x-trace"), Some("GET 9"));
    assert_eq!(r.headers.get("x-debug"), None);
    assert_eq!(r.headers.get("x-new"), Some("v"));
}

#[test]
fn the_path_is_rewritten_like_rewrite_target_and_the_query_kept() {
    let p =
        plugin(r#"{"when": {"path_prefix": "/bar"}, "rewrite": {"regex": "^/bar(/|$)(.*)", "replacement": "/$2"}}"#);
    for (from, to) in [("/bar/baz?x=1", "/baz?x=1"), ("/bar", "/"), ("/bar/", "/"), ("/other", "/other")] {
        let (_, r) = run(&p, testing::get(from).build());
        assert_eq!(r.target(), to, "{from}");
    }
}

#[test]
fn rules_apply_only_when_their_conditions_hold() {
    let p = plugin(
        r#"{"rules": [
            {"when": {"header": {"name": "x-canary"}}, "request": {"set": {"x-pool": "canary"}}},
            {"when": {"header": {"name": "x-tier", "equals": "gold"}, "path_regex": "^/api/v[0-9]+/"},
             "request": {"set": {"x-priority": "high"}}}
        ]}"#,
    );
    let (_, r) = run(&p, testing::get("/api/v2/x").header("x-canary", "").header("x-tier", "gold").build());
    assert_eq!(r.headers.get("x-pool"), Some("canary"));
    assert_eq!(r.headers.get("x-priority"), Some("high"));
    let (_, r) = run(&p, testing::get("/api/x").header("x-tier", "gold").build());
    assert_eq!(r.headers.get("x-pool"), None);
    assert_eq!(r.headers.get("x-priority"), None, "the path does not match");
}

#[test]
fn redirects_answer_with_a_location_from_the_request() {
    let p = plugin(
        r#"{"when": {"header": {"name": "x-forwarded-proto", "equals": "http"}},
            "redirect": {"status": 308, "location": "https://${host}${request_uri}"}}"#,
    );
    let r = testing::get("/a?b=1").host("shop.com").header("x-forwarded-proto", "http").build();
    assert_eq!(run(&p, r).0, Decision::redirect(308, "https://shop.com/a?b=1"));
    let r = testing::get("/a").header("x-forwarded-proto", "https").build();
    assert_eq!(run(&p, r).0, Decision::Continue);
}

#[test]
fn response_headers_are_rewritten_for_matching_requests() {
    let p = plugin(
        r#"{"when": {"path_prefix": "/app"}, "response": {"set": {"x-frame-options": "DENY"}, "remove": ["server"]}}"#,
    );
    let request = testing::get("/app/x").build();
    let response = testing::response_with(200, &[("server", "secret/1.0")]);
    let (decision, response) = testing::response(&p, &request, response);
    assert_eq!(decision, Decision::Continue);
    assert_eq!(response.headers.get("x-frame-options"), Some("DENY"));
    assert_eq!(response.headers.get("server"), None);
    let (_, untouched) = testing::response(&p, &testing::get("/other").build(), testing::response_with(200, &[]));
    assert!(!untouched.headers.changed());
}

#[test]
fn a_bad_configuration_names_the_field() {
    let cases = [
        (r#"{"request": {"sett": {}}}"#, "unknown field `sett`"),
        (r#"{"rewrite": {"regex": "(", "replacement": "/"}}"#, "rewrite.regex: invalid regex"),
        (
            r#"{"rules": [{}, {"request": {"set": {"x-a": "${nope}"}}}]}"#,
            "rules[1].request.set.x-a: unknown variable ${nope}",
        ),
        (r#"{"redirect": {"status": 200, "location": "/"}}"#, "redirect.status: 200 is not a redirect status"),
        (r#"{"request": {"remove": ["bad name"]}}"#, "request.remove: \"bad name\" is not a valid header name"),
        (r#"{"rules": [{"rules": [{}]}]}"#, "rules[0].rules: rules do not nest"),
        (r#"{"when": {"path_regex": "[z-a]"}}"#, "when.path_regex: invalid regex"),
    ];
    for (config, expected) in cases {
        let err = configure::<HeaderRewrite>(config).err().unwrap_or_else(|| panic!("{config} was accepted"));
        assert!(err.contains(expected), "{config}: {err}");
    }
}
