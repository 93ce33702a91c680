//! Host names as the route table keys them: lower case, no port, no
//! trailing dot.

use std::borrow::Cow;

/// Why a Host (or `:authority`) cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("host has user information")]
    UserInfo,
    #[error("host has a character that is not allowed")]
    BadCharacter,
    #[error("host has a malformed port")]
    BadPort,
}

/// Normalises a Host header or URI authority for lookup. An IPv6 literal keeps
/// its brackets (`[::1]`), as Ingress hosts never name IPs anyway.
pub fn normalize(authority: &str) -> Result<Cow<'_, str>, HostError> {
    if authority.contains('@') {
        return Err(HostError::UserInfo);
    }
    let host = if authority.starts_with('[') {
        let end = authority.find(']').ok_or(HostError::BadCharacter)?;
        let rest = &authority[end + 1..];
        if !rest.is_empty() {
            check_port(rest.strip_prefix(':').ok_or(HostError::BadPort)?)?;
        }
        let literal = &authority[1..end];
        if literal.is_empty() || !literal.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
            return Err(HostError::BadCharacter);
        }
        &authority[..=end]
    } else {
        let name = match authority.rsplit_once(':') {
            Some((h, port)) => {
                check_port(port)?;
                h
            }
            None => authority,
        };
        // One trailing dot is the fully qualified form of the same name;
        // any other empty label is no name at all.
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
            return Err(HostError::BadCharacter);
        }
        if name.bytes().any(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))) {
            return Err(HostError::BadCharacter);
        }
        name
    };
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Ok(Cow::Owned(host.to_ascii_lowercase()))
    } else {
        Ok(Cow::Borrowed(host))
    }
}

fn check_port(port: &str) -> Result<(), HostError> {
    if !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(HostError::BadPort)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_case_and_trailing_dots_are_ignored() {
        assert_eq!(normalize("Foo.Example.COM:8080").unwrap(), "foo.example.com");
        assert_eq!(normalize("foo.example.com.").unwrap(), "foo.example.com");
        assert_eq!(normalize("foo.example.com.:80").unwrap(), "foo.example.com");
        assert!(matches!(normalize("foo.com").unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn ipv6_literals_keep_brackets() {
        assert_eq!(normalize("[::1]:8080").unwrap(), "[::1]");
        assert_eq!(normalize("[::1]").unwrap(), "[::1]");
    }

    #[test]
    fn hostile_hosts_are_rejected() {
        assert_eq!(normalize("user@foo.com"), Err(HostError::UserInfo));
        assert_eq!(normalize("foo.com:80x"), Err(HostError::BadPort));
        assert_eq!(normalize("foo.com:"), Err(HostError::BadPort));
        assert_eq!(normalize("foo com"), Err(HostError::BadCharacter));
        assert_eq!(normalize("foo/com"), Err(HostError::BadCharacter));
    }

    #[test]
    fn malformed_names_are_rejected_so_normal_forms_are_fixed_points() {
        // Each of these once normalised to a name that normalised again to
        // another ("x:1:2" -> "x:1" -> "x"), breaking the fixed-point
        // property the paths_and_hosts fuzz target checks.
        for bad in ["x:1:2", "a..b", ".a", "a..", "a]b", "[zz]", "[]", "[::1", "a[::1]"] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize("[::ABC]:443").unwrap(), "[::abc]");
        assert_eq!(normalize("").unwrap(), "");
    }
}
