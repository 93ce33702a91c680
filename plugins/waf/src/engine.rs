//! Rules compiled once per configuration, and their evaluation over a
//! request's fields: each field is transformed once per distinct chain,
//! the regex rules of a chain run as one set (one pass over the value),
//! and each rule adds its severity to the score at most once.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use crate::config::{Config, CustomRule, Exclusion, Operator};
use crate::inspect::{Field, Target};
use crate::rules::{self, BuiltIn, Matcher, Severity, Targets};
use crate::transform::{self, Transform};

enum Test {
    /// Matched through its chain's regex set.
    InSet,
    Regex(Regex),
    Phrases(AhoCorasick),
    Detect(fn(&str) -> bool),
    Equals(String),
    Compare(fn(f64, f64) -> bool, f64),
}

impl Test {
    fn matches(&self, value: &str) -> bool {
        match self {
            Test::InSet => false,
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
    /// Runs on plain tokens too (see [`is_plain`]).
    plain: bool,
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

/// The regex rules of one chain, compiled together.
struct ChainSet {
    chain: usize,
    set: RegexSet,
    /// Rule index of each pattern in the set.
    rules: Vec<usize>,
    /// Targets any of them looks at.
    targets: Targets,
}

pub struct Engine {
    rules: Vec<Rule>,
    chains: Vec<Vec<Transform>>,
    /// For each chain, a shorter chain it extends (computed first and
    /// reused) and how many of its transformations that one covers.
    bases: Vec<Option<(usize, usize)>>,
    sets: Vec<ChainSet>,
    /// Indexes of the rules not in a set.
    singles: Vec<usize>,
    exclusions: Vec<Exclusion>,
}

fn phrases(list: &[impl AsRef<[u8]>]) -> Result<AhoCorasick, String> {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostFirst)
        .build(list)
        .map_err(|e| e.to_string())
}

/// A value no attack pattern needs more than a glance at: a word of
/// letters, digits, `_` and `-`, or a number.
pub fn is_plain(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() <= 64 && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'))
        || (!b.is_empty()
            && b.len() <= 32
            && b.iter().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E')))
}

/// Built-in patterns match ASCII word boundaries (`\b`): Unicode ones
/// keep the fast DFA engines from running.
fn ascii_boundaries(pattern: &str) -> String {
    pattern.replace(r"\b", r"(?-u:\b)")
}

fn regex(pattern: &str) -> Result<Regex, String> {
    // A bounded compiled size keeps a hostile pattern from eating memory.
    RegexBuilder::new(pattern).size_limit(4 << 20).build().map_err(|e| e.to_string())
}

impl Engine {
    pub fn new(config: &Config) -> Result<Engine, String> {
        let mut engine = Engine {
            rules: Vec::new(),
            chains: Vec::new(),
            bases: Vec::new(),
            sets: Vec::new(),
            singles: Vec::new(),
            exclusions: Vec::new(),
        };
        let mut patterns: Vec<(usize, String)> = Vec::new();
        for b in rules::all().into_iter().filter(|b| b.paranoia <= config.paranoia_level) {
            // Phrase lists join the regex sets as literal alternations:
            // the set's literal prefilter finds them in the same pass.
            let pattern = match b.matcher {
                Matcher::Regex(p) if !b.plain => Some(ascii_boundaries(p)),
                Matcher::Phrases(list) if !b.plain => {
                    Some(format!("(?i:{})", list.iter().map(|p| regex::escape(p)).collect::<Vec<_>>().join("|")))
                }
                _ => None,
            };
            if let Some(p) = pattern {
                regex(&p).map_err(|e| format!("built-in rule {}: {e}", b.id))?;
                patterns.push((engine.rules.len(), p));
            }
            engine.add_built_in(b)?;
        }
        for (i, c) in config.rules.iter().enumerate() {
            if engine.rules.iter().any(|r| r.id == c.id) {
                return Err(format!("rules[{i}] (id {}): the id is already taken", c.id));
            }
            engine.add_custom(c).map_err(|e| format!("rules[{i}] (id {}): {e}", c.id))?;
        }
        engine.build_sets(patterns)?;
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

    /// One regex set per chain over the built-in patterns; the other rules
    /// run one by one.
    fn build_sets(&mut self, patterns: Vec<(usize, String)>) -> Result<(), String> {
        self.bases = (0..self.chains.len())
            .map(|c| {
                let chain = &self.chains[c];
                (0..self.chains.len())
                    .filter(|&o| o != c && !self.chains[o].is_empty() && self.chains[o].len() < chain.len())
                    .filter(|&o| chain.starts_with(&self.chains[o]))
                    .max_by_key(|&o| self.chains[o].len())
                    .map(|o| (o, self.chains[o].len()))
            })
            .collect();
        for chain in 0..self.chains.len() {
            let members: Vec<&(usize, String)> =
                patterns.iter().filter(|(r, _)| self.rules[*r].chain == chain).collect();
            if members.is_empty() {
                continue;
            }
            let set = RegexSetBuilder::new(members.iter().map(|(_, p)| p))
                .size_limit(16 << 20)
                .dfa_size_limit(8 << 20)
                .build()
                .map_err(|e| format!("built-in rules: {e}"))?;
            let rules: Vec<usize> = members.iter().map(|(r, _)| *r).collect();
            let targets = rules.iter().fold(Targets::default(), |t, r| t.union(self.rules[*r].targets));
            self.sets.push(ChainSet { chain, set, rules, targets });
        }
        self.singles = (0..self.rules.len()).filter(|i| !matches!(self.rules[*i].test, Test::InSet)).collect();
        Ok(())
    }

    fn add_built_in(&mut self, b: BuiltIn) -> Result<(), String> {
        let test = match b.matcher {
            Matcher::Regex(p) if b.plain => Test::Regex(regex(&ascii_boundaries(p))?),
            Matcher::Phrases(list) if b.plain => Test::Phrases(phrases(list)?),
            Matcher::Regex(_) | Matcher::Phrases(_) => Test::InSet,
            Matcher::Detect(f) => Test::Detect(f),
        };
        let chain = self.chain(b.chain);
        self.rules.push(Rule {
            id: b.id,
            severity: b.severity,
            message: b.message.to_string(),
            targets: b.targets,
            name: b.header.map(str::to_string),
            plain: b.plain,
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
                // The operator's rules run on every value.
                plain: true,
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

    /// Whether `rule` applies to `field` and has not matched yet.
    fn applies(&self, rule: &Rule, field: &Field, path: &str, hits: &[Hit]) -> bool {
        rule.targets.contains(field.target)
            && rule.name.as_deref().is_none_or(|n| n == field.name)
            && !hits.iter().any(|h| h.id == rule.id)
            && !self.excluded(rule.id, field, path)
    }

    fn hit(rule: &Rule, field: &Field) -> Hit {
        Hit {
            id: rule.id,
            severity: rule.severity,
            message: rule.message.clone(),
            target: field.target,
            name: field.name.clone(),
        }
    }

    /// Fills `views[chain]` for `value`, from the chain it extends when
    /// there is one.
    fn view<'a>(&self, views: &mut [Option<Cow<'a, str>>], chain: usize, value: &'a str) {
        if views[chain].is_some() {
            return;
        }
        let v = match self.bases[chain] {
            Some((base, done)) => {
                self.view(views, base, value);
                let base = views[base].as_ref().expect("filled above");
                match transform::apply_all(&self.chains[chain][done..], base) {
                    Cow::Borrowed(_) => base.clone(),
                    Cow::Owned(o) => Cow::Owned(o),
                }
            }
            None => transform::apply_all(&self.chains[chain], value),
        };
        views[chain] = Some(v);
    }

    /// The rules that match `fields` (each rule once, at its first field).
    pub fn evaluate(&self, fields: &[Field], path: &str) -> Vec<Hit> {
        let mut hits: Vec<Hit> = Vec::new();
        let mut views: Vec<Option<Cow<str>>> = vec![None; self.chains.len()];
        for field in fields {
            views.iter_mut().for_each(|v| *v = None);
            let plain = is_plain(&field.value);
            for cs in &self.sets {
                if plain || !cs.targets.contains(field.target) {
                    continue;
                }
                self.view(&mut views, cs.chain, &field.value);
                let view = views[cs.chain].as_deref().unwrap_or_default();
                if !cs.set.is_match(view) {
                    continue;
                }
                for m in cs.set.matches(view).iter() {
                    let rule = &self.rules[cs.rules[m]];
                    if self.applies(rule, field, path, &hits) {
                        hits.push(Self::hit(rule, field));
                    }
                }
            }
            for &i in &self.singles {
                let rule = &self.rules[i];
                if (plain && !rule.plain) || !self.applies(rule, field, path, &hits) {
                    continue;
                }
                self.view(&mut views, rule.chain, &field.value);
                if rule.test.matches(views[rule.chain].as_deref().unwrap_or_default()) {
                    hits.push(Self::hit(rule, field));
                }
            }
        }
        hits
    }
}
