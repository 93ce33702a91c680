//! Rules compiled once per configuration, and their evaluation over a
//! request's fields: each field is transformed once per distinct chain,
//! and each rule adds its severity to the score at most once.

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{Regex, RegexBuilder};

use crate::config::{Config, CustomRule, Exclusion, Operator};
use crate::inspect::{Field, Target};
use crate::rules::{self, BuiltIn, Matcher, Severity, Targets};
use crate::transform::{self, Transform};

enum Test {
    Regex(Regex),
    Phrases(AhoCorasick),
    Detect(fn(&str) -> bool),
    Equals(String),
    Compare(fn(f64, f64) -> bool, f64),
}

impl Test {
    fn matches(&self, value: &str) -> bool {
        match self {
            Test::Regex(r) => r.is_match(value),
            Test::Phrases(p) => p.is_match(value),
            Test::Detect(f) => f(value),
            Test::Equals(s) => value == s,
            Test::Compare(op, n) => value.trim().parse::<f64>().is_ok_and(|v| op(v, *n)),
        }
    }
}

pub struct Rule {
    pub id: u32,
    pub severity: Severity,
    pub message: String,
    targets: Targets,
    /// Only fields of this name (lowercase for headers).
    name: Option<String>,
    chain: usize,
    test: Test,
}

/// A rule that matched, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub id: u32,
    pub severity: Severity,
    pub message: String,
    pub target: Target,
    /// The field's name (argument, header, cookie), never its value.
    pub name: String,
}

pub struct Engine {
    rules: Vec<Rule>,
    chains: Vec<Vec<Transform>>,
    exclusions: Vec<Exclusion>,
}

fn phrases(list: &[impl AsRef<[u8]>]) -> Result<AhoCorasick, String> {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostFirst)
        .build(list)
        .map_err(|e| e.to_string())
}

fn regex(pattern: &str) -> Result<Regex, String> {
    // A bounded compiled size keeps a hostile pattern from eating memory.
    RegexBuilder::new(pattern).size_limit(4 << 20).build().map_err(|e| e.to_string())
}

impl Engine {
    pub fn new(config: &Config) -> Result<Engine, String> {
        let mut engine = Engine { rules: Vec::new(), chains: Vec::new(), exclusions: Vec::new() };
        for b in rules::all().into_iter().filter(|b| b.paranoia <= config.paranoia_level) {
            engine.add_built_in(b)?;
        }
        for (i, c) in config.rules.iter().enumerate() {
            if engine.rules.iter().any(|r| r.id == c.id) {
                return Err(format!("rules[{i}] (id {}): the id is already taken", c.id));
            }
            engine.add_custom(c).map_err(|e| format!("rules[{i}] (id {}): {e}", c.id))?;
        }
        Ok(engine)
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    fn chain(&mut self, chain: &[Transform]) -> usize {
        match self.chains.iter().position(|c| c == chain) {
            Some(i) => i,
            None => {
                self.chains.push(chain.to_vec());
                self.chains.len() - 1
            }
        }
    }

    fn add_built_in(&mut self, b: BuiltIn) -> Result<(), String> {
        let test = match b.matcher {
            Matcher::Regex(p) => Test::Regex(regex(p).map_err(|e| format!("built-in rule {}: {e}", b.id))?),
            Matcher::Phrases(list) => Test::Phrases(phrases(list)?),
            Matcher::Detect(f) => Test::Detect(f),
        };
        let chain = self.chain(b.chain);
        self.rules.push(Rule {
            id: b.id,
            severity: b.severity,
            message: b.message.to_string(),
            targets: b.targets,
            name: b.header.map(str::to_string),
            chain,
            test,
        });
        Ok(())
    }

    fn add_custom(&mut self, c: &CustomRule) -> Result<(), String> {
        if c.targets.is_empty() {
            return Err("targets: name at least one".into());
        }
        // One rule per distinct `kind:NAME` target, all with the same id.
        let mut parsed = Vec::new();
        for t in &c.targets {
            let (kind, name) = match t.split_once(':') {
                Some((k, n)) => (k, Some(n.to_string())),
                None => (t.as_str(), None),
            };
            let target = match kind {
                "args" => Targets::of(Target::Arg),
                "arg_names" => Targets::of(Target::ArgName),
                "cookies" => Targets::of(Target::Cookie),
                "cookie_names" => Targets::of(Target::CookieName),
                "headers" => Targets::of(Target::Header),
                "path" => Targets::of(Target::Path),
                "uri" => Targets::of(Target::Uri),
                "method" => Targets::of(Target::Method),
                "files" => Targets::of(Target::FileName),
                other => return Err(format!("targets: unknown target {other:?}")),
            };
            if name.is_some() && !matches!(kind, "args" | "headers" | "cookies") {
                return Err(format!("targets: {kind} takes no name"));
            }
            let name = if kind == "headers" { name.map(|n| n.to_ascii_lowercase()) } else { name };
            parsed.push((target, name));
        }
        let chain = self.chain(&c.transforms);
        for (targets, name) in parsed {
            let test = match &c.operator {
                Operator::Regex(p) => Test::Regex(regex(p).map_err(|e| format!("operator.regex: {e}"))?),
                Operator::Contains(s) => Test::Phrases(phrases(&[s.as_str()])?),
                Operator::Phrases(list) if list.is_empty() => return Err("operator.phrases: the list is empty".into()),
                Operator::Phrases(list) => Test::Phrases(phrases(list)?),
                Operator::Equals(s) => Test::Equals(s.clone()),
                Operator::Gt(n) => Test::Compare(|v, n| v > n, *n),
                Operator::Ge(n) => Test::Compare(|v, n| v >= n, *n),
                Operator::Lt(n) => Test::Compare(|v, n| v < n, *n),
                Operator::Le(n) => Test::Compare(|v, n| v <= n, *n),
            };
            self.rules.push(Rule {
                id: c.id,
                severity: c.severity,
                message: c.message.clone(),
                targets,
                name,
                chain,
                test,
            });
        }
        Ok(())
    }

    pub fn set_exclusions(&mut self, exclusions: Vec<Exclusion>) {
        self.exclusions = exclusions;
    }

    fn excluded(&self, id: u32, field: &Field, path: &str) -> bool {
        self.exclusions.iter().any(|e| {
            let rule = e.rule.is_none() && e.rules.is_empty() || e.rule == Some(id) || e.rules.contains(&id);
            let at = e.path_prefix.as_deref().is_none_or(|p| path.starts_with(p));
            let arg = e.arg.as_deref().is_none_or(|a| {
                field.name.eq_ignore_ascii_case(a)
                    || (matches!(field.target, Target::ArgName | Target::CookieName) && field.value == a)
            });
            rule && at && arg
        })
    }

    /// The rules that match `fields` (each rule once, at its first field).
    pub fn evaluate(&self, fields: &[Field], path: &str) -> Vec<Hit> {
        let mut hits: Vec<Hit> = Vec::new();
        let mut views: Vec<Option<String>> = vec![None; self.chains.len()];
        for field in fields {
            views.iter_mut().for_each(|v| *v = None);
            for rule in &self.rules {
                if !rule.targets.contains(field.target)
                    || rule.name.as_deref().is_some_and(|n| n != field.name)
                    || hits.iter().any(|h| h.id == rule.id)
                    || self.excluded(rule.id, field, path)
                {
                    continue;
                }
                let view = views[rule.chain]
                    .get_or_insert_with(|| transform::apply_all(&self.chains[rule.chain], &field.value));
                if rule.test.matches(view) {
                    hits.push(Hit {
                        id: rule.id,
                        severity: rule.severity,
                        message: rule.message.clone(),
                        target: field.target,
                        name: field.name.clone(),
                    });
                }
            }
        }
        hits
    }
}
