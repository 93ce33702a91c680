//! header-rewrite: set, add, remove and rename request and response
//! headers (values may use `${...}` variables), rewrite the path with a
//! regex like ingress-nginx's `rewrite-target`, and redirect — each rule
//! optionally only when the path or a header says so.
//!
//! ```yaml
//! wasmgress.io/plugins: |
//!   - name: header-rewrite
//!     config:
//!       request: {set: {x-client: "${client_ip}"}, remove: [x-debug]}
//!       rules:
//!         - when: {path_prefix: /bar}
//!           rewrite: {regex: "^/bar(/|$)(.*)", replacement: "/$2"}
//!         - when: {header: {name: x-forwarded-proto, equals: http}}
//!           redirect: {status: 308, location: "https://${host}${request_uri}"}
//! ```
//!
//! The top level is a rule itself; `rules` adds more, applied in order.
//! Conditions are checked against the request as the client sent it. In a
//! rewrite replacement `$N` is capture group N (`${N}` when letters follow).

mod template;

use std::collections::BTreeMap;

use regex::Regex;
use serde::Deserialize;
use template::Template;
use wasmgress_sdk::{Decision, Plugin, Request, Response};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RuleConfig {
    when: Option<WhenConfig>,
    request: Option<HeaderOpsConfig>,
    response: Option<HeaderOpsConfig>,
    rewrite: Option<RewriteConfig>,
    redirect: Option<RedirectConfig>,
    /// Only at the top level.
    #[serde(default)]
    rules: Vec<RuleConfig>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct WhenConfig {
    path_prefix: Option<String>,
    path_regex: Option<String>,
    header: Option<HeaderCondition>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderCondition {
    name: String,
    /// Absent: the header only has to be there.
    equals: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct HeaderOpsConfig {
    #[serde(default)]
    set: BTreeMap<String, String>,
    #[serde(default)]
    add: BTreeMap<String, String>,
    #[serde(default)]
    remove: Vec<String>,
    #[serde(default)]
    rename: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RewriteConfig {
    regex: String,
    replacement: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedirectConfig {
    #[serde(default = "found")]
    status: u16,
    location: String,
}

fn found() -> u16 {
    302
}

/// Header edits, ready to apply.
#[derive(Default)]
struct HeaderOps {
    remove: Vec<String>,
    rename: Vec<(String, String)>,
    set: Vec<(String, Template)>,
    add: Vec<(String, Template)>,
}

struct Condition {
    path_prefix: Option<String>,
    path_regex: Option<Regex>,
    header: Option<(String, Option<String>)>,
}

struct Rule {
    when: Option<Condition>,
    request: HeaderOps,
    response: HeaderOps,
    rewrite: Option<(Regex, String)>,
    redirect: Option<(u16, Template)>,
}

/// The plugin: its rules, compiled once.
struct HeaderRewrite {
    rules: Vec<Rule>,
}

fn header_name(name: &str, field: &str) -> Result<String, String> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(format!("{field}: {name:?} is not a valid header name"));
    }
    Ok(name.to_ascii_lowercase())
}

fn regex(pattern: &str, field: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("{field}: invalid regex: {e}"))
}

fn header_ops(config: Option<HeaderOpsConfig>, field: &str) -> Result<HeaderOps, String> {
    let Some(c) = config else { return Ok(HeaderOps::default()) };
    let templated = |map: BTreeMap<String, String>, op: &str| -> Result<Vec<(String, Template)>, String> {
        map.into_iter()
            .map(|(name, value)| {
                let name = header_name(&name, &format!("{field}.{op}"))?;
                let value = Template::parse(&value).map_err(|e| format!("{field}.{op}.{name}: {e}"))?;
                Ok((name, value))
            })
            .collect()
    };
    Ok(HeaderOps {
        remove: c.remove.iter().map(|n| header_name(n, &format!("{field}.remove"))).collect::<Result<_, _>>()?,
        rename: c
            .rename
            .iter()
            .map(|(from, to)| {
                let at = format!("{field}.rename");
                Ok((header_name(from, &at)?, header_name(to, &at)?))
            })
            .collect::<Result<_, String>>()?,
        set: templated(c.set, "set")?,
        add: templated(c.add, "add")?,
    })
}

fn rule(config: RuleConfig, field: &str) -> Result<Rule, String> {
    let at = |name: &str| if field.is_empty() { name.to_string() } else { format!("{field}.{name}") };
    let when = match config.when {
        None => None,
        Some(w) => Some(Condition {
            path_prefix: w.path_prefix,
            path_regex: w.path_regex.map(|p| regex(&p, &at("when.path_regex"))).transpose()?,
            header: w
                .header
                .map(|h| Ok::<_, String>((header_name(&h.name, &at("when.header.name"))?, h.equals)))
                .transpose()?,
        }),
    };
    let redirect = match config.redirect {
        None => None,
        Some(r) if ![301, 302, 303, 307, 308].contains(&r.status) => {
            return Err(format!(
                "{}: {} is not a redirect status (301, 302, 303, 307, 308)",
                at("redirect.status"),
                r.status
            ));
        }
        Some(r) => {
            Some((r.status, Template::parse(&r.location).map_err(|e| format!("{}: {e}", at("redirect.location")))?))
        }
    };
    Ok(Rule {
        when,
        request: header_ops(config.request, &at("request"))?,
        response: header_ops(config.response, &at("response"))?,
        rewrite: config
            .rewrite
            .map(|r| Ok::<_, String>((regex(&r.regex, &at("rewrite.regex"))?, r.replacement)))
            .transpose()?,
        redirect,
    })
}

impl Condition {
    fn holds(&self, request: &Request) -> bool {
        self.path_prefix.as_ref().is_none_or(|p| request.path().starts_with(p.as_str()))
            && self.path_regex.as_ref().is_none_or(|r| r.is_match(request.path()))
            && self.header.as_ref().is_none_or(|(name, equals)| match (request.headers.get(name), equals) {
                (Some(v), Some(want)) => v == want,
                (Some(_), None) => true,
                (None, _) => false,
            })
    }
}

impl Rule {
    fn applies(&self, request: &Request) -> bool {
        self.when.as_ref().is_none_or(|c| c.holds(request))
    }
}

impl HeaderOps {
    fn apply(&self, headers: &mut wasmgress_sdk::Headers, client_request: &Request) {
        for name in &self.remove {
            headers.remove(name);
        }
        for (from, to) in &self.rename {
            headers.rename(from, to);
        }
        for (name, value) in &self.set {
            headers.set(name, value.render(client_request));
        }
        for (name, value) in &self.add {
            headers.add(name, value.render(client_request));
        }
    }
}

impl Plugin for HeaderRewrite {
    type Config = RuleConfig;

    fn configure(config: RuleConfig) -> Result<Self, String> {
        let mut top = config;
        let nested = std::mem::take(&mut top.rules);
        let mut rules = vec![rule(top, "")?];
        for (i, r) in nested.into_iter().enumerate() {
            if !r.rules.is_empty() {
                return Err(format!("rules[{i}].rules: rules do not nest"));
            }
            rules.push(rule(r, &format!("rules[{i}]"))?);
        }
        Ok(HeaderRewrite { rules })
    }

    fn on_request(&self, request: &mut Request) -> Decision {
        let client_request = request.clone();
        for rule in self.rules.iter().filter(|r| r.applies(&client_request)) {
            if let Some((status, location)) = &rule.redirect {
                return Decision::redirect(*status, location.render(&client_request));
            }
            if let Some((regex, replacement)) = &rule.rewrite {
                let path = request.path().to_string();
                if regex.is_match(&path) {
                    let rewritten = regex.replace(&path, replacement.as_str());
                    // The upstream path always starts with `/`.
                    let rewritten =
                        if rewritten.starts_with('/') { rewritten.into_owned() } else { format!("/{rewritten}") };
                    request.set_path(&rewritten);
                }
            }
            rule.request.apply(&mut request.headers, &client_request);
        }
        Decision::Continue
    }

    fn on_response(&self, request: &Request, response: &mut Response) -> Decision {
        for rule in self.rules.iter().filter(|r| r.applies(request)) {
            rule.response.apply(&mut response.headers, request);
        }
        Decision::Continue
    }
}

wasmgress_sdk::export_plugin!(HeaderRewrite);

#[cfg(test)]
mod tests;
