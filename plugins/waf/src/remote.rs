//! Remote file inclusion by address (the Core Rule Set's 931130, from
//! paranoia level 2): an argument that is a URL on another host, in a
//! scheme a server-side fetcher or include follows (`http`, `ftp`,
//! `file`, `gopher`, `ldap`, `jar`, …). An application that takes URLs
//! in arguments (a redirect target, a webhook) turns it off for them with
//! an exclusion.

/// A URL on another host in an argument.
pub const OFF_SITE_URL: u32 = 931130;
pub const MESSAGE: &str = "URL to another host in an argument (remote file inclusion)";

/// Whether `scheme` (lowercase) is one a fetcher follows.
fn fetched(scheme: &[u8]) -> bool {
    matches!(
        scheme,
        b"http"
            | b"https"
            | b"ftp"
            | b"ftps"
            | b"sftp"
            | b"tftp"
            | b"file"
            | b"local_file"
            | b"gopher"
            | b"ldap"
            | b"ldaps"
            | b"ldapi"
            | b"dict"
            | b"jar"
            | b"netdoc"
            | b"php"
            | b"phar"
            | b"zip"
            | b"expect"
            | b"smb"
            | b"nfs"
            | b"ssh2"
            | b"rsync"
            | b"svn"
            | b"git"
            | b"data"
            | b"glob"
    )
}

/// Whether `value` (a decoded argument) is a URL whose host is not `host`
/// (the request's Host, port included) or one of its subdomains.
pub fn off_site(value: &str, host: &str) -> bool {
    let value = value.trim_start().as_bytes();
    // `url:` and `jar:` wrap another URL (`jar:http://…!/a`).
    let mut rest = value;
    for wrapper in [&b"url:"[..], b"jar:"] {
        if rest.len() > wrapper.len() && rest[..wrapper.len()].eq_ignore_ascii_case(wrapper) {
            rest = &rest[wrapper.len()..];
        }
    }
    let Some(colon) = rest.iter().position(|&b| b == b':') else { return false };
    let (scheme, after) = (&rest[..colon], &rest[colon + 1..]);
    if scheme.is_empty() || scheme.len() > 16 || !after.starts_with(b"//") {
        return false;
    }
    let mut lower = [0u8; 16];
    lower[..scheme.len()].copy_from_slice(scheme);
    lower[..scheme.len()].make_ascii_lowercase();
    if !fetched(&lower[..scheme.len()]) {
        return false;
    }
    let authority = &after[2..];
    // Past credentials, the first `@` ending them, as a lenient parser
    // reads `http://example.com/@evil.test/` (a strict one reads another
    // host: the difference is the attack).
    let authority = match authority.iter().position(|&b| b == b'@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let end = authority.iter().position(|&b| matches!(b, b'/' | b'?' | b'#' | b'\\')).unwrap_or(authority.len());
    // Ports count: another port of the same host is another server.
    !crate::session::same_host(&authority[..end], host.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::off_site;

    #[test]
    fn urls_to_other_hosts_are_caught() {
        for url in [
            "file://foo.bar",
            "ftp://foo.bar",
            "http://foo.bar",
            "HTTPS://evilexample.com/",
            "https://example.com.evil.com/",
            "https://example.com:1234/",
            "http://example.com/:asd@evil.com/",
            "url:file:///etc/passwd",
            "jar:http://evil.co/b.zip!a",
            "gopher://google.com/_SSRFTest!",
            "ldap://127.0.0.1/",
            "local_file://something",
        ] {
            assert!(off_site(url, "example.com"), "{url}");
        }
    }

    #[test]
    fn own_urls_and_other_text_pass() {
        for value in [
            "https://example.com/",
            "http://www.example.com/some/path",
            "http://foo:bar@example.com/",
            "mailto:ann@example.org",
            "see https://elsewhere.test/ for details",
            "10:30",
            "C:\\Users\\bob",
            "javascript://comment",
        ] {
            assert!(!off_site(value, "example.com"), "{value}");
        }
    }
}
