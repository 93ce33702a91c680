//! Rules compiled once per configuration, and their evaluation over a
//! request's fields. A built-in rule runs only on a value that has a
//! character class it needs and, when every match begins with one of a
//! few literals, one of those ([`gate`]); the literals of all rules on a
//! transformation chain are looked for in one pass. Each field is
//! transformed at most once per chain, and each rule adds its severity to
//! the score at most once. Values that matched nothing are remembered
//! and not inspected again while they stay in [`CleanValues`].

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::{Regex, RegexBuilder};

use crate::clean::CleanValues;
use crate::config::{Config, CustomRule, Exclusion, Operator};
use crate::gate::{self, Mask};
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
    /// Runs on plain tokens too (see [`is_plain`]).
    plain: bool,
    chain: usize,
    /// Character classes a matching value has at least one of.
    needs: Mask,
    /// Whether every match begins with one of the rule's literals in its
    /// chain's [`Literals`].
    by_literal: bool,
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

/// The literals that begin the matches of a chain's rules, for one pass
/// over a value that tells which of those rules could match.
struct Literals {
    automaton: AhoCorasick,
    /// The rule each literal belongs to.
    rules: Vec<usize>,
}

pub struct Engine {
    rules: Vec<Rule>,
    chains: Vec<Vec<Transform>>,
    /// For each chain, a shorter chain it extends (computed first and
    /// reused) and how many of its transformations that one covers.
    bases: Vec<Option<(usize, usize)>>,
    /// Per chain.
    literals: Vec<Option<Literals>>,
    /// The rules looking at each target, by `Target as usize`.
    by_target: Vec<Vec<usize>>,
    /// The same, only those that run on plain tokens: most argument
    /// names and many values are plain, and most rules skip them.
    plain_by_target: Vec<Vec<usize>>,
    exclusions: Vec<Exclusion>,
    /// Targets where a field's name can change what matches (see
    /// [`Engine::named_targets`]), worked out once per configuration.
    named: Targets,
    clean: CleanValues,
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
    // A bounded compiled size keeps a hostile pattern from eating memory,
    // and a bounded lazy-DFA cache per rule keeps hostile values from
    // growing ~60 caches to the default 2 MiB each inside the instance's
    // memory limit (past it the search falls back to a slower engine).
    RegexBuilder::new(pattern).size_limit(4 << 20).dfa_size_limit(256 << 10).build().map_err(|e| e.to_string())
}

impl Engine {
    pub fn new(config: &Config) -> Result<Engine, String> {
        let mut engine = Engine {
            rules: Vec::new(),
            chains: Vec::new(),
            bases: Vec::new(),
            literals: Vec::new(),
            by_target: Vec::new(),
            plain_by_target: Vec::new(),
            exclusions: Vec::new(),
            named: Targets::default(),
            clean: CleanValues::default(),
        };
        let mut prefixes = Vec::new();
        for b in rules::all().into_iter().filter(|b| b.paranoia <= config.paranoia_level) {
            if let Some(p) = engine.add_built_in(b)? {
                prefixes.push((engine.rules.len() - 1, p));
            }
        }
        for (i, c) in config.rules.iter().enumerate() {
            if engine.rules.iter().any(|r| r.id == c.id) {
                return Err(format!("rules[{i}] (id {}): the id is already taken", c.id));
            }
            engine.add_custom(c).map_err(|e| format!("rules[{i}] (id {}): {e}", c.id))?;
        }
        engine.find_bases();
        engine.collect_literals(prefixes)?;
        engine.by_target = Target::ALL
            .iter()
            .map(|&t| (0..engine.rules.len()).filter(|&r| engine.rules[r].targets.contains(t)).collect())
            .collect();
        engine.plain_by_target = engine
            .by_target
            .iter()
            .map(|rules| rules.iter().copied().filter(|&r| engine.rules[r].plain).collect())
            .collect();
        engine.named = engine.named_targets();
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

    /// For each chain, the longest other chain it starts with.
    fn find_bases(&mut self) {
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
    }

    /// One automaton per chain over the prefixes of its rules.
    fn collect_literals(&mut self, prefixes: Vec<(usize, Vec<Vec<u8>>)>) -> Result<(), String> {
        self.literals = (0..self.chains.len()).map(|_| None).collect();
        for chain in 0..self.chains.len() {
            let mut rules = Vec::new();
            let mut literals = Vec::new();
            for (rule, list) in prefixes.iter().filter(|(r, _)| self.rules[*r].chain == chain) {
                for l in list {
                    rules.push(*rule);
                    literals.push(l.as_slice());
                }
            }
            for &r in &rules {
                self.rules[r].by_literal = true;
            }
            if literals.is_empty() {
                continue;
            }
            // A DFA: the fastest scan, and the literals are few enough for
            // its size.
            let automaton = AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::DFA))
                .build(&literals)
                .map_err(|e| format!("built-in rules: {e}"))?;
            self.literals[chain] = Some(Literals { automaton, rules });
        }
        Ok(())
    }

    /// Adds `b`, returning the literals its matches begin with.
    fn add_built_in(&mut self, b: BuiltIn) -> Result<Option<Vec<Vec<u8>>>, String> {
        // The pattern the gates are worked out from: the rule's regex, or
        // its phrase list as one.
        let (pattern, test) = match b.matcher {
            Matcher::Regex(p) => {
                let p = ascii_boundaries(p);
                let re = regex(&p).map_err(|e| format!("built-in rule {}: {e}", b.id))?;
                (Some(p), Test::Regex(re))
            }
            Matcher::Phrases(list) => {
                let p = format!("(?i:{})", list.iter().map(|p| regex::escape(p)).collect::<Vec<_>>().join("|"));
                (Some(p), Test::Phrases(phrases(list)?))
            }
            Matcher::Detect(f) => (None, Test::Detect(f)),
        };
        let needs = pattern.as_deref().map_or(gate::ALL, gate::needs);
        // Literals are looked for only where the classes say little: a
        // rule that needs a `<` or a `$` is seldom reached anyway.
        let prefixes = match b.matcher {
            // A phrase list on a lowercased view is its own literals: the
            // chain's one pass finds them, and the list runs only then.
            Matcher::Phrases(list) if b.chain.contains(&Transform::Lowercase) => {
                Some(list.iter().map(|p| p.to_ascii_lowercase().into_bytes()).collect())
            }
            _ => pattern.as_deref().filter(|_| gate::is_weak(needs)).and_then(gate::prefixes),
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
            needs,
            by_literal: false,
            test,
        });
        Ok(prefixes)
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
                // Custom chains may decode into anything.
                needs: gate::ALL,
                by_literal: false,
                test,
            });
        }
        Ok(())
    }

    pub fn set_exclusions(&mut self, exclusions: Vec<Exclusion>) {
        self.exclusions = exclusions;
        self.named = self.named_targets();
        self.clean.clear();
    }

    /// Forgets the values remembered as clean (after a warm-up
    /// whose values are not the clients').
    pub fn forget_clean(&self) {
        self.clean.clear();
    }

    /// Whether an exclusion turns rule `id` off for a finding that is not
    /// a rule's (a protocol check's) in `target`, named `name`, on `path`.
    pub fn excludes(&self, id: u32, target: Target, name: &str, path: &str) -> bool {
        if self.exclusions.is_empty() {
            return false;
        }
        // Argument names are fields' values: the name is both here.
        let field = Field { target, name: Cow::Borrowed(name), value: Cow::Borrowed(name) };
        self.excluded(id, &field, Some(path))
    }

    /// Whether an exclusion turns rule `id` off for `field` on `path`
    /// (with `None`: on every path).
    fn excluded(&self, id: u32, field: &Field, path: Option<&str>) -> bool {
        self.exclusions.iter().any(|e| {
            let rule = e.rule.is_none() && e.rules.is_empty() || e.rule == Some(id) || e.rules.contains(&id);
            let at = match (e.path_prefix.as_deref(), path) {
                (None, _) => true,
                (Some(prefix), Some(path)) => path.starts_with(prefix),
                (Some(_), None) => false,
            };
            let arg = e.arg.as_deref().is_none_or(|a| {
                field.name.eq_ignore_ascii_case(a)
                    || (matches!(field.target, Target::ArgName | Target::CookieName) && field.value == a)
            });
            rule && at && arg
        })
    }

    fn hit(rule: &Rule, field: &Field) -> Hit {
        Hit {
            id: rule.id,
            severity: rule.severity,
            message: rule.message.clone(),
            target: field.target,
            name: field.name.to_string(),
        }
    }

    /// Makes `chain`'s view of `value`, from the chain it extends when
    /// there is one, and returns it.
    fn view<'v, 'a>(&self, views: &'v mut Views<'a>, chain: usize, value: &'a str) -> &'v str {
        if views.text[chain].is_none() {
            let text = match self.bases[chain] {
                Some((base, done)) => {
                    self.view(views, base, value);
                    let base = views.text[base].expect("made above");
                    match transform::apply_all(&self.chains[chain][done..], &views.texts[base]) {
                        Cow::Borrowed(_) => None,
                        Cow::Owned(changed) => Some(Cow::Owned(changed)),
                    }
                    .map_or(base, |changed| views.add(changed))
                }
                None => views.add(transform::apply_all(&self.chains[chain], value)),
            };
            views.text[chain] = Some(text);
        }
        views.get(chain)
    }

    /// Targets where a field's name can change what matches: rules
    /// limited to one header or argument, exclusions for an argument.
    fn named_targets(&self) -> Targets {
        if self.exclusions.iter().any(|e| e.arg.is_some()) {
            return Targets::ALL;
        }
        self.rules.iter().filter(|r| r.name.is_some()).fold(Targets::default(), |t, r| t.union(r.targets))
    }

    /// The rules that match `fields` (each rule once, at its first field).
    pub fn evaluate(&self, fields: &[Field], path: &str) -> Vec<Hit> {
        let mut hits: Vec<Hit> = Vec::new();
        // Made at the first value not remembered as clean.
        let mut work: Option<Work> = None;
        let named = self.named;
        for field in fields {
            // Where names change nothing, a value is remembered whatever
            // its name: JSON arrays of records repeat their keys and many
            // of their values, and only the first of a request is inspected.
            let key_name = if named.contains(field.target) { &*field.name } else { "" };
            if self.clean.contains(field.target, key_name, &field.value) {
                continue;
            }
            let before = hits.len();
            // Whether the outcome depends on this field alone: no rule was
            // passed over for what else is in the request (an earlier
            // match) or where it goes (an exclusion for some paths).
            let mut on_its_own = true;
            let Work { views, masks, scanned, begun } = match work.as_mut() {
                Some(w) => w.clear(),
                None => work.insert(Work::new(self.chains.len(), self.rules.len())),
            };
            let plain = is_plain(&field.value);
            let raw = gate::mask(&field.value);
            // Without anything to decode every view has the raw value's
            // classes (widened for whitespace); otherwise each view's own
            // classes decide, once it is made.
            let decodes = raw & gate::DECODES != 0;
            let upper = if decodes { gate::ALL } else { gate::widen(raw) };
            let rules = if plain { &self.plain_by_target } else { &self.by_target };
            for &i in &rules[field.target as usize] {
                let rule = &self.rules[i];
                if rule.needs & upper == 0 || rule.name.as_deref().is_some_and(|n| n != field.name) {
                    continue;
                }
                if hits.iter().any(|h| h.id == rule.id) {
                    on_its_own = false;
                    continue;
                }
                if !self.exclusions.is_empty() && self.excluded(rule.id, field, Some(path)) {
                    on_its_own &= self.excluded(rule.id, field, None);
                    continue;
                }
                let chain = rule.chain;
                let view = self.view(views, chain, &field.value);
                if decodes
                    && rule.needs != gate::ALL
                    && rule.needs & *masks[chain].get_or_insert_with(|| gate::mask(view)) == 0
                {
                    continue;
                }
                if rule.by_literal {
                    if !scanned[chain] {
                        scanned[chain] = true;
                        if let Some(l) = &self.literals[chain] {
                            for m in l.automaton.find_overlapping_iter(view) {
                                begun[l.rules[m.pattern().as_usize()]] = true;
                            }
                        }
                    }
                    if !begun[i] {
                        continue;
                    }
                }
                if rule.test.matches(view) {
                    hits.push(Self::hit(rule, field));
                }
            }
            if on_its_own && hits.len() == before {
                self.clean.insert(field.target, key_name, &field.value);
            }
        }
        hits
    }
}

/// What the evaluation of one field keeps, made once per request.
struct Work<'a> {
    views: Views<'a>,
    /// Per chain, the character classes of its view.
    masks: Vec<Option<Mask>>,
    /// Per chain, whether its literals were looked for.
    scanned: Vec<bool>,
    /// Per rule, whether one of its literals was found.
    begun: Vec<bool>,
}

impl<'a> Work<'a> {
    fn new(chains: usize, rules: usize) -> Self {
        Work {
            views: Views { text: vec![None; chains], texts: Vec::new() },
            masks: vec![None; chains],
            scanned: vec![false; chains],
            begun: vec![false; rules],
        }
    }

    /// Ready for the next field.
    fn clear(&mut self) -> &mut Self {
        self.views.clear();
        self.masks.iter_mut().for_each(|m| *m = None);
        self.scanned.iter_mut().for_each(|s| *s = false);
        self.begun.iter_mut().for_each(|b| *b = false);
        self
    }
}

/// One field's value as each chain sees it, made on first use; a chain
/// that changes nothing shares the text of the one it extends.
struct Views<'a> {
    /// Per chain, the index of its text.
    text: Vec<Option<usize>>,
    texts: Vec<Cow<'a, str>>,
}

impl<'a> Views<'a> {
    fn clear(&mut self) {
        self.text.iter_mut().for_each(|t| *t = None);
        self.texts.clear();
    }

    fn add(&mut self, text: Cow<'a, str>) -> usize {
        self.texts.push(text);
        self.texts.len() - 1
    }

    fn get(&self, chain: usize) -> &str {
        self.text[chain].map_or("", |t| &self.texts[t])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Engine {
        /// What [`Engine::evaluate`] would find if it ran every rule on
        /// every field: no gates, no literals, no skipping of repeats.
        fn evaluate_everything(&self, fields: &[Field], path: &str) -> Vec<Hit> {
            let mut hits: Vec<Hit> = Vec::new();
            for field in fields {
                for rule in &self.rules {
                    if !rule.targets.contains(field.target)
                        || (is_plain(&field.value) && !rule.plain)
                        || rule.name.as_deref().is_some_and(|n| n != field.name)
                        || hits.iter().any(|h| h.id == rule.id)
                        || self.excluded(rule.id, field, Some(path))
                    {
                        continue;
                    }
                    if rule.test.matches(&transform::apply_all(&self.chains[rule.chain], &field.value)) {
                        hits.push(Self::hit(rule, field));
                    }
                }
            }
            hits
        }
    }

    /// Pieces of attacks and of ordinary text, joined at random below.
    const PIECES: &[&str] = &[
        "select",
        " union ",
        "all ",
        "from users",
        "' or '1'='1",
        "\" or 1=1--",
        "1;",
        "; drop table x",
        "sleep(5)",
        "<script>",
        "</script>",
        "<img src=x onerror=alert(1)>",
        "document.cookie = 'sid=1; Domain=.example.test'",
        "$Version",
        "a\u{0}b",
        "x%00.php",
        "bar\r\nbaz",
        "x%0d%0a<html>",
        "POST /a HTTP/1.1",
        "<meta http-equiv=\"Set-Cookie\" content=\"sid=1\">",
        "javascript:",
        "&lt;",
        "&#x3c;",
        "&#60",
        "\\x3c",
        "\\u003c",
        "%3C",
        "%253C",
        "%2e%2e%2f",
        "../",
        "..\\",
        "/etc/passwd",
        "c:\\windows\\win.ini",
        "${jndi:ldap://",
        "${",
        "}",
        "$(id)",
        "`id`",
        "| cat /etc/shadow",
        "&& whoami",
        ";ls -la",
        "powershell -enc",
        "cmd.exe /c",
        "<?php",
        "system('id')",
        "php://filter",
        "O:8:\"stdClass\":0:{}",
        "__proto__",
        "constructor.prototype",
        "http://169.254.169.254/",
        "http://127.0.0.1/",
        "java.lang.Runtime",
        ".getRuntime().exec(",
        "rO0AB",
        "/*",
        "*/",
        "--",
        "#",
        "\t",
        "\r\n",
        "\n",
        " ",
        "  ",
        "\0",
        "é",
        "＜",
        "Ｓ",
        "O'Brien",
        "rock & roll",
        "Hello, World!",
        "price: 9.99",
        "a=b",
        "x[y]",
        "(",
        ")",
        "{",
        "@",
        "data:text/html,",
        "while(true)",
        "require('child_process')",
        "+ADw-",
        "¼script¾",
        "information_schema",
        "waitfor delay '0:0:5'",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
        "item number 1, blue / size M",
        "Gift wrap; it's for mom",
        "\r\nGET /x HTTP/1.1",
        "/proc/self/environ",
        "backup.sql",
        "mosConfig_absolute_path=http://x",
        "http://x.example/shell.txt?",
        "() {",
        "alias x=curl",
        " ~+ ",
        "!-2",
        "shell.php",
        "allow_url_include=1",
        "$_GET",
        "base64_decode(",
        "$f('x')",
        "Kernel.exec(",
        "http://localhost/",
        "<x xmlns=y>",
        "<iframe",
        "document.cookie",
        "window['x']",
        "case when 1 then",
        "merge into",
        "[$ne]",
        "count(",
        "xp_cmdshell",
        "varchar",
        "::jsonb",
        "' @> '",
        "'",
        "'=",
        "\x01",
        "nikto",
        "sqlmap/1.7",
        "invoke-webrequest",
        ".user.ini",
        "{ls,-la}",
        "[][(![]+[])]",
        "alert`1`",
        "pg_catalog",
        "4294967295",
        "alter table t character set x",
        "x';",
        "a.jsp",
        "java x runtime",
        "KztAAU",
        "shell.php.jpg",
        "50 % é",
        "1 regexp 1",
        "ansible all -m ping",
        "1;.shell whoami",
        "x;. rm -rf /",
        "for(;;){}",
        "password__isnull",
        "cat /et*/*wd",
        "!!",
        "\r\na001 login x y",
        "array_diff (",
        "1 is not 2",
        "&&(d!==",
        "\"'",
        "xunionselectfrom",
        "1 or glob (id,id)",
        "encode(lo_get(16400),'base64')::int",
    ];

    /// A small deterministic generator (xorshift), so failures repeat.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    fn values() -> Vec<String> {
        let mut values: Vec<String> = PIECES.iter().map(|p| p.to_string()).collect();
        // Every string of the benign corpus, and each request whole.
        fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::String(s) => out.push(s.clone()),
                serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
                serde_json::Value::Object(o) => o.iter().for_each(|(k, v)| {
                    out.push(k.clone());
                    strings(v, out)
                }),
                _ => {}
            }
        }
        for line in include_str!("../corpus/benign.jsonl").lines().step_by(3) {
            strings(&serde_json::from_str(line).unwrap(), &mut values);
            values.push(line.to_string());
        }
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let n = 1 + random.below(5);
            values.push((0..n).map(|_| PIECES[random.below(PIECES.len())]).collect());
        }
        values
    }

    #[test]
    fn gates_never_hide_a_match() {
        let config: Config = serde_json::from_str(r#"{"paranoia_level": 4}"#).unwrap();
        let engine = Engine::new(&config).unwrap();
        let targets = [
            Target::Arg,
            Target::ArgName,
            Target::Cookie,
            Target::CookieName,
            Target::Header,
            Target::Path,
            Target::Uri,
            Target::FileName,
        ];
        let mut by_rule = std::collections::BTreeMap::new();
        for value in values() {
            for &target in &targets {
                let name = if target == Target::Header { "user-agent" } else { "x" };
                let fields = [Field { target, name: Cow::Borrowed(name), value: Cow::Borrowed(&value) }];
                let everything: Vec<u32> = engine.evaluate_everything(&fields, "/").iter().map(|h| h.id).collect();
                for id in &everything {
                    *by_rule.entry(*id).or_insert(0) += 1;
                }
                let gated: Vec<u32> = engine.evaluate(&fields, "/").iter().map(|h| h.id).collect();
                assert_eq!(gated, everything, "{target:?} {value:?}");
                // Again, now that a clean value is remembered.
                let again: Vec<u32> = engine.evaluate(&fields, "/").iter().map(|h| h.id).collect();
                assert_eq!(again, everything, "{target:?} {value:?}, the second time");
            }
        }
        // The samples reach every rule, so every gate was put to the test.
        let missed: Vec<u32> = engine.rules.iter().map(|r| r.id).filter(|id| !by_rule.contains_key(id)).collect();
        assert!(missed.is_empty(), "no sample matches {missed:?}");
    }

    #[test]
    fn only_values_clean_on_their_own_are_remembered() {
        let attack = "<script>alert(1)</script>";
        let field = |target: Target, name: &'static str, value: &'static str| Field {
            target,
            name: Cow::Borrowed(name),
            value: Cow::Borrowed(value),
        };
        let header = field(Target::Header, "user-agent", attack);
        let mut engine = Engine::new(&Config::default()).unwrap();
        // Clean: remembered, and still clean the next time.
        let browser = [field(Target::Header, "user-agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0")];
        assert!(engine.evaluate(&browser, "/").is_empty());
        assert_eq!(engine.clean.len(), 1);
        assert!(engine.evaluate(&browser, "/").is_empty());
        assert_eq!(engine.clean.len(), 1);
        // Where a name matters (a rule for the User-Agent only), a value
        // clean under one name is not clean under another.
        let scanner = |name| [field(Target::Header, name, "sqlmap/1.8")];
        assert!(engine.evaluate(&scanner("accept"), "/").is_empty());
        assert!(engine.evaluate(&scanner("user-agent"), "/").iter().any(|h| h.id == 913100));
        // Arguments too: remembered whatever their name, unless an
        // exclusion names one (below).
        let page = |name| [field(Target::Arg, name, "2")];
        assert!(engine.evaluate(&page("page"), "/").is_empty());
        assert_eq!(engine.clean.len(), 3);
        assert!(engine.evaluate(&page("p"), "/").is_empty());
        assert_eq!(engine.clean.len(), 3, "the same value under another name is the same key");
        // Passed over because the same rules matched an argument first:
        // alone, the header must still match.
        let alone = engine.evaluate(std::slice::from_ref(&header), "/");
        assert!(!alone.is_empty());
        let both = [field(Target::Arg, "q", attack), header.clone()];
        assert!(engine.evaluate(&both, "/").iter().all(|h| h.target == Target::Arg));
        assert_eq!(engine.evaluate(std::slice::from_ref(&header), "/"), alone);
        // Passed over by an exclusion for one path only: elsewhere it matches.
        let everything = Exclusion { rule: None, rules: vec![], path_prefix: Some("/upload".into()), arg: None };
        engine.set_exclusions(vec![everything]);
        assert!(engine.evaluate(std::slice::from_ref(&header), "/upload/a").is_empty());
        assert_eq!(engine.evaluate(std::slice::from_ref(&header), "/"), alone);
        assert_eq!(engine.clean.len(), 0, "set_exclusions forgets");
        // An exclusion for one argument on every path: its value is
        // remembered as clean under that name only.
        engine.set_exclusions(vec![Exclusion { rule: None, rules: vec![], path_prefix: None, arg: Some("q".into()) }]);
        assert!(engine.evaluate(&[field(Target::Arg, "q", attack)], "/").is_empty());
        assert_eq!(engine.clean.len(), 1);
        assert!(!engine.evaluate(&[field(Target::Arg, "search", attack)], "/").is_empty());
    }

    #[test]
    fn repeated_values_are_inspected_once_unless_names_matter() {
        let field = |name: &'static str, value: &'static str| Field {
            target: Target::Arg,
            name: Cow::Borrowed(name),
            value: Cow::Borrowed(value),
        };
        let fields = [field("a", "<script>"), field("b", "<script>")];
        let mut engine = Engine::new(&Config::default()).unwrap();
        let names = |hits: Vec<Hit>| hits.into_iter().map(|h| h.name).collect::<Vec<_>>();
        assert!(names(engine.evaluate(&fields, "/")).iter().all(|n| n == "a"));
        // An exclusion for `a` makes the same value under `b` count.
        engine.set_exclusions(vec![Exclusion { rule: None, rules: vec![], path_prefix: None, arg: Some("a".into()) }]);
        let found = names(engine.evaluate(&fields, "/"));
        assert!(!found.is_empty() && found.iter().all(|n| n == "b"), "{found:?}");
    }
}
