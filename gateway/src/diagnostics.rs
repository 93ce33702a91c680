//! What the gateway tells users about their objects: one line per problem,
//! naming the object, saying what is wrong and what happened because of it.

use std::fmt;

/// How bad a problem is for the object it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The object serves, perhaps degraded (e.g. its Service has no ready endpoint).
    Warning,
    /// The object was rejected whole; it serves nothing.
    Rejected,
}

/// One problem with one object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Diagnostic {
    /// The object's kind, e.g. `Ingress`, or `file` for a manifest file.
    pub kind: &'static str,
    /// `namespace/name`, or the file path.
    pub object: String,
    pub severity: Severity,
    pub message: String,
}

/// The kind of a problem with the configuration source itself: the
/// manifest directory unreadable, or a cluster watch failing. The live
/// table may be stale while one lasts.
pub const SOURCE: &str = "source";

impl Diagnostic {
    /// Whether the problem is the source's, not one object's.
    pub fn is_source_problem(&self) -> bool {
        self.kind == SOURCE
    }

    pub fn rejected(kind: &'static str, object: impl fmt::Display, message: impl Into<String>) -> Self {
        Self { kind, object: object.to_string(), severity: Severity::Rejected, message: message.into() }
    }

    pub fn warning(kind: &'static str, object: impl fmt::Display, message: impl Into<String>) -> Self {
        Self { kind, object: object.to_string(), severity: Severity::Warning, message: message.into() }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.object, self.message)
    }
}
