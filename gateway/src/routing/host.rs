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
        &authority[..=end]
    } else {
        match authority.rsplit_once(':') {
            Some((h, port)) => {
                check_port(port)?;
                h
            }
            None => authority,
        }
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.bytes().any(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'[' | b']' | b':'))) {
        return Err(HostError::BadCharacter);
    }
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
}
