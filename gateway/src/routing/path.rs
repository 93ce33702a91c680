//! Request path normalisation: one canonical form for route lookup and for
//! the upstream, so `/public/../admin` or `/%2e%2e/admin` cannot slip past the
//! route that owns `/admin`.

use std::borrow::Cow;

/// Why a request path cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("request path must start with '/'")]
    NotAbsolute,
    #[error("request path has a malformed percent-escape")]
    BadEscape,
    #[error("request path has a control character")]
    ControlCharacter,
    #[error("request path has an overlong UTF-8 escape")]
    OverlongUtf8,
}

/// Normalises a request path (without its query): decodes percent-escapes of
/// unreserved characters and of `/` (so the gateway and the backend agree on
/// segment boundaries), upper-cases the remaining escapes, merges repeated
/// slashes and removes dot segments (RFC 3986 §5.2.4) without ever climbing
/// above the root. Borrows when the path is already canonical, the common case.
pub fn normalize(path: &str) -> Result<Cow<'_, str>, PathError> {
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if is_canonical(path.as_bytes())? {
        return Ok(Cow::Borrowed(path));
    }
    let decoded = decode_safe_escapes(path.as_bytes())?;
    Ok(Cow::Owned(remove_dot_segments(&decoded)))
}

/// True when no rewriting is needed; rejects control characters on the way.
fn is_canonical(bytes: &[u8]) -> Result<bool, PathError> {
    let mut canonical = true;
    let mut prev = 0u8;
    for (i, &b) in bytes.iter().enumerate() {
        if b < 0x20 || b == 0x7f {
            return Err(PathError::ControlCharacter);
        }
        match b {
            b'%' => canonical = false,
            b'/' if prev == b'/' => canonical = false,
            b'.' if prev == b'/' => {
                // "/." starts a dot segment only when followed by '/', '.', or the end.
                let next = bytes.get(i + 1).copied();
                let next2 = bytes.get(i + 2).copied();
                let dot_segment =
                    matches!(next, None | Some(b'/')) || (next == Some(b'.') && matches!(next2, None | Some(b'/')));
                if dot_segment {
                    canonical = false;
                }
            }
            _ => {}
        }
        prev = b;
    }
    Ok(canonical)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode_safe_escapes(bytes: &[u8]) -> Result<String, PathError> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'%' {
            out.push(b);
            i += 1;
            continue;
        }
        let (Some(hi), Some(lo)) = (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
        else {
            return Err(PathError::BadEscape);
        };
        let c = hi << 4 | lo;
        if c < 0x20 || c == 0x7f {
            return Err(PathError::ControlCharacter);
        }
        if overlong_lead(c, bytes.get(i + 3..i + 6)) {
            return Err(PathError::OverlongUtf8);
        }
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(c);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(hi)], HEX[usize::from(lo)]]);
        }
        i += 3;
    }
    // Only ASCII bytes were produced from escapes; the rest came from a &str.
    String::from_utf8(out).map_err(|_| PathError::BadEscape)
}

/// An escaped byte that starts an overlong UTF-8 form (`%C0%AE` for `.`):
/// no valid text is written so, only attempts to hide `.` or `/` from
/// lenient decoders behind the gateway.
fn overlong_lead(c: u8, next: Option<&[u8]>) -> bool {
    let next = match next {
        Some([b'%', hi, lo]) => hex(*hi).zip(hex(*lo)).map(|(hi, lo)| hi << 4 | lo),
        _ => None,
    };
    match c {
        0xC0 | 0xC1 => true,
        0xE0 => next.is_some_and(|n| (0x80..0xA0).contains(&n)),
        0xF0 => next.is_some_and(|n| (0x80..0x90).contains(&n)),
        _ => false,
    }
}

/// The path routes are matched on: each segment without its `;` parameters
/// (`/admin;x=1/` is `/admin/`), since servlet containers and others behind
/// the gateway drop them and would serve the path another route owns.
pub fn route_key(path: &str) -> Cow<'_, str> {
    if !path.contains(';') {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(segment.split(';').next().unwrap_or_default());
    }
    Cow::Owned(out)
}

fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let mut parts = path.split('/').skip(1).peekable();
    let mut trailing_slash = false;
    while let Some(seg) = parts.next() {
        let last = parts.peek().is_none();
        match seg {
            "" => {
                // Repeated slashes collapse; a final empty segment is a trailing slash.
                if last {
                    trailing_slash = true;
                }
            }
            "." => trailing_slash = last,
            ".." => {
                segments.pop();
                trailing_slash = last;
            }
            s => {
                segments.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut out = String::with_capacity(path.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if trailing_slash || segments.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(p: &str) -> String {
        normalize(p).unwrap().into_owned()
    }

    #[test]
    fn canonical_paths_are_borrowed() {
        for p in ["/", "/foo", "/foo/", "/foo/bar.txt", "/a/.hidden", "/a/..b", "/x..y/"] {
            assert!(matches!(normalize(p).unwrap(), Cow::Borrowed(_)), "{p}");
        }
    }

    #[test]
    fn dot_segments_cannot_climb_out() {
        assert_eq!(n("/public/../admin"), "/admin");
        assert_eq!(n("/../../admin"), "/admin");
        assert_eq!(n("/a/./b/."), "/a/b/");
        assert_eq!(n("/a/b/.."), "/a/");
        assert_eq!(n("/.."), "/");
    }

    #[test]
    fn escapes_of_dots_and_slashes_are_decoded_before_dot_removal() {
        assert_eq!(n("/public/%2e%2e/admin"), "/admin");
        assert_eq!(n("/public/%2E%2e/admin"), "/admin");
        assert_eq!(n("/public%2f..%2fadmin"), "/admin");
        assert_eq!(n("/%7euser"), "/~user");
    }

    #[test]
    fn other_escapes_are_kept_upper_cased() {
        assert_eq!(n("/a%20b"), "/a%20b");
        assert_eq!(n("/a%3fb"), "/a%3Fb");
        assert_eq!(n("/caf%c3%a9"), "/caf%C3%A9");
    }

    #[test]
    fn repeated_slashes_merge() {
        assert_eq!(n("//admin"), "/admin");
        assert_eq!(n("/a//b///"), "/a/b/");
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(normalize("foo"), Err(PathError::NotAbsolute));
        assert_eq!(normalize("/a%zz"), Err(PathError::BadEscape));
        assert_eq!(normalize("/a%2"), Err(PathError::BadEscape));
        assert_eq!(normalize("/a%00b"), Err(PathError::ControlCharacter));
        assert_eq!(normalize("/a\tb"), Err(PathError::ControlCharacter));
    }

    #[test]
    fn overlong_utf8_escapes_are_refused_and_real_text_kept() {
        for p in ["/%c0%ae%c0%ae/admin", "/%C1%9C", "/%e0%80%ae", "/%f0%80%80%ae"] {
            assert_eq!(normalize(p), Err(PathError::OverlongUtf8), "{p}");
        }
        assert_eq!(n("/%e0%a4%b9"), "/%E0%A4%B9");
        assert_eq!(n("/%f0%9f%98%80"), "/%F0%9F%98%80");
    }

    #[test]
    fn routes_match_without_segment_parameters() {
        assert_eq!(route_key("/admin;x=1/secret"), "/admin/secret");
        assert_eq!(route_key("/a;b;c/d;e"), "/a/d");
        assert_eq!(route_key(";x/y"), "/y");
        assert!(matches!(route_key("/plain/path"), Cow::Borrowed(_)));
    }
}
