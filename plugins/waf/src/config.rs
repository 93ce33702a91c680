//! The plugin's configuration, as operators write it in the
//! `wasmgress.io/plugins` annotation.

use serde::Deserialize;

use crate::rules::Severity;
use crate::transform::Transform;

fn default_threshold() -> u32 {
    5
}

fn default_paranoia() -> u8 {
    1
}

fn default_methods() -> Vec<String> {
    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].map(String::from).to_vec()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Answer 403 when the score reaches the threshold.
    #[default]
    Block,
    /// Only log and count.
    Detect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub mode: Mode,
    #[serde(default = "default_paranoia")]
    pub paranoia_level: u8,
    #[serde(default = "default_threshold")]
    pub anomaly_threshold: u32,
    /// Methods outside this list score as a protocol violation.
    #[serde(default = "default_methods")]
    pub allowed_methods: Vec<String>,
    #[serde(default)]
    pub rules: Vec<CustomRule>,
    #[serde(default)]
    pub exclusions: Vec<Exclusion>,
    /// The most text (bytes of names and values) inspected per request,
    /// and the most fields: what lies beyond is not looked at, and the
    /// request is treated as `oversize` says. They bound the CPU one
    /// request can cost (see `--plugin-callback-deadline`).
    #[serde(default = "default_inspect_bytes")]
    pub max_inspect_bytes: usize,
    #[serde(default = "default_fields")]
    pub max_fields: usize,
    #[serde(default)]
    pub oversize: Oversize,
}

fn default_inspect_bytes() -> usize {
    16 << 10
}

fn default_fields() -> usize {
    512
}

/// What to do with a request that carries more than the limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Oversize {
    /// Score it as a critical protocol violation (rule 920390): padding
    /// is the classic way to push an attack past what a WAF reads.
    #[default]
    Block,
    /// Let it through, its beginning inspected.
    Pass,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Block,
            paranoia_level: default_paranoia(),
            anomaly_threshold: default_threshold(),
            allowed_methods: default_methods(),
            rules: Vec::new(),
            exclusions: Vec::new(),
            max_inspect_bytes: default_inspect_bytes(),
            max_fields: default_fields(),
            oversize: Oversize::Block,
        }
    }
}

/// A rule of the operator's own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRule {
    pub id: u32,
    pub message: String,
    /// `args`, `arg_names`, `cookies`, `cookie_names`, `headers`, `path`,
    /// `uri`, `method`, `files`; `args:NAME`, `headers:NAME`,
    /// `cookies:NAME` for one of them.
    pub targets: Vec<String>,
    #[serde(default)]
    pub transforms: Vec<Transform>,
    pub operator: Operator,
    #[serde(default = "critical")]
    pub severity: Severity,
}

fn critical() -> Severity {
    Severity::Critical
}

/// How a custom rule tests a value.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Operator {
    Regex(String),
    Contains(String),
    /// Any of these substrings (case-insensitive).
    Phrases(Vec<String>),
    Equals(String),
    /// Numeric comparisons: the value must parse as a number.
    Gt(f64),
    Ge(f64),
    Lt(f64),
    Le(f64),
}

/// Turns rules off: all of them or `rule`/`rules`, everywhere or only for
/// paths under `path_prefix` and/or one argument (`arg`, which also
/// matches cookies and headers of that name).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    pub rule: Option<u32>,
    #[serde(default)]
    pub rules: Vec<u32>,
    pub path_prefix: Option<String>,
    pub arg: Option<String>,
}

impl Config {
    /// Checks what serde cannot: ranges and consistency.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=4).contains(&self.paranoia_level) {
            return Err(format!("paranoia_level: {} is not 1..4", self.paranoia_level));
        }
        if self.max_inspect_bytes == 0 || self.max_fields == 0 {
            return Err("max_inspect_bytes, max_fields: must be at least 1".into());
        }
        if self.anomaly_threshold == 0 {
            return Err("anomaly_threshold: must be at least 1".into());
        }
        for (i, e) in self.exclusions.iter().enumerate() {
            if e.rule.is_none() && e.rules.is_empty() && e.path_prefix.is_none() && e.arg.is_none() {
                return Err(format!("exclusions[{i}]: says nothing to exclude (rule, rules, path_prefix or arg)"));
            }
        }
        Ok(())
    }
}
