//! The checks the Kubernetes API server makes on Ingress hosts and paths,
//! made again here because file mode has no API server in front of it.

use crate::routing::PathMatch;

/// Checks a rule host: a lower-case DNS name, optionally `*.` + DNS name.
pub fn host(host: &str) -> Result<(), String> {
    let name = host.strip_prefix("*.").unwrap_or(host);
    if name.is_empty() || name.len() > 253 {
        return Err(format!("host {host:?} is not a valid DNS name"));
    }
    if name.contains('*') {
        return Err(format!("host {host:?}: a wildcard is only allowed as the whole first label (\"*.example.com\")"));
    }
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Err(format!("host {host:?}: an IP address is not allowed as an Ingress host"));
    }
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "host {host:?} is not a valid DNS name (lower-case letters, digits, '-' and '.', labels of 1-63 characters)"
            ));
        }
    }
    Ok(())
}

/// Parses a pathType; the error names the accepted values.
pub fn path_type(path_type: &str) -> Result<PathMatch, String> {
    match path_type {
        "Exact" => Ok(PathMatch::Exact),
        // ImplementationSpecific is matched as Prefix: the behaviour users of
        // other controllers mostly rely on for plain paths.
        "Prefix" | "ImplementationSpecific" => Ok(PathMatch::Prefix),
        other => Err(format!("unknown pathType {other:?} (use Exact, Prefix or ImplementationSpecific)")),
    }
}

/// Checks a path for its pathType the way the API server does for Exact and
/// Prefix: absolute, and free of segments that normalisation would rewrite.
pub fn path(path: &str, path_type: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("path {path:?} must start with '/'"));
    }
    if path.bytes().any(|b| b < 0x20 || b == 0x7f || b == b'?' || b == b'#') {
        return Err(format!("path {path:?} must not contain control characters, '?' or '#'"));
    }
    if path_type == "ImplementationSpecific" {
        return Ok(());
    }
    for bad in ["//", "/./", "/../", "%2f", "%2F"] {
        if path.contains(bad) {
            return Err(format!("path {path:?} must not contain {bad:?} for pathType {path_type}"));
        }
    }
    for bad in ["/..", "/."] {
        if path.ends_with(bad) {
            return Err(format!("path {path:?} must not end with {bad:?} for pathType {path_type}"));
        }
    }
    Ok(())
}

/// Whether an ImplementationSpecific path looks like a regular expression
/// (as ingress-nginx users write them), which is matched literally here.
pub fn looks_like_regex(path: &str) -> bool {
    path.contains(['(', ')', '*', '$', '^', '|', '[', ']', '+', '\\'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert!(host("foo.bar.com").is_ok());
        assert!(host("*.bar.com").is_ok());
        assert!(host("localhost").is_ok());
        assert!(host("Foo.com").is_err());
        assert!(host("foo.*.com").is_err());
        assert!(host("*").is_err());
        assert!(host("10.0.0.1").is_err());
        assert!(host("-a.com").is_err());
        assert!(host("a..com").is_err());
        assert!(host("a_b.com").is_err());
    }

    #[test]
    fn paths() {
        assert!(path("/", "Prefix").is_ok());
        assert!(path("/foo/bar", "Exact").is_ok());
        assert!(path("foo", "Prefix").is_err());
        assert!(path("/a//b", "Prefix").is_err());
        assert!(path("/a/../b", "Exact").is_err());
        assert!(path("/a/.", "Prefix").is_err());
        assert!(path("/a%2Fb", "Prefix").is_err());
        assert!(path("/a?b", "Prefix").is_err());
        assert!(path("/a//b", "ImplementationSpecific").is_ok());
        assert_eq!(
            path_type("Regex").unwrap_err(),
            "unknown pathType \"Regex\" (use Exact, Prefix or ImplementationSpecific)"
        );
    }
}
