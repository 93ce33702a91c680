//! Protocol checks on the request's method and headers that are not
//! patterns on values (the Core Rule Set's 920 family): a body on a GET,
//! headers a client has no business sending, a `Content-Type` a parser
//! could read two ways. Each finding names the header it is in. (A NUL
//! in a header is a pattern rule: a value remembered clean skips it.)

use wasmgress_sdk::Request;

/// A GET or HEAD with a body: what a smuggled second request rides in.
pub const BODY_ON_GET: u32 = 920170;
/// A header that only WebDAV, old method tunnels or proxies' own
/// machinery use, or that hides the body from inspection.
pub const RESTRICTED_HEADER: u32 = 920450;
/// A `Content-Type` that is not a media type with parameters.
pub const BAD_CONTENT_TYPE: u32 = 920470;
/// A `Content-Type` naming more than one charset.
pub const CHARSETS: u32 = 920530;

/// Every id these checks report.
pub const IDS: [u32; 4] = [BODY_ON_GET, RESTRICTED_HEADER, BAD_CONTENT_TYPE, CHARSETS];

/// Header names a request must not carry: WebDAV locking (`If`,
/// `Lock-Token`), ranges of a request body, the httpoxy `Proxy`, method
/// overrides that let a GET act as a DELETE past the rules for it,
/// Next.js's internal `x-middleware-subrequest` (which skips its
/// middleware), and a compressed body, which the rules cannot read.
/// (A `match`: the compiler switches on the length before comparing.)
fn is_restricted(name: &str) -> bool {
    matches!(
        name,
        "content-encoding"
            | "content-range"
            | "if"
            | "lock-token"
            | "proxy"
            | "x-http-method"
            | "x-http-method-override"
            | "x-method-override"
            | "x-middleware-subrequest"
    )
}

/// Runs the checks; `found` gets each finding's id, message and header.
/// One pass over the headers: most requests have a dozen, read here once.
pub fn check<'r>(request: &'r Request, found: &mut impl FnMut(u32, &'static str, &'r str)) {
    let method = request.method();
    let bodiless = method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD");
    // A chunked body has no Content-Length (and the gateway takes
    // Transfer-Encoding off, a hop-by-hop header): the body tells.
    let mut body_on_get = bodiless && request.body().is_some_and(|b| !b.is_empty());
    // Header names are lowercase: `Headers` keeps them so.
    for (name, value) in request.headers.iter() {
        if is_restricted(name) {
            found(RESTRICTED_HEADER, "restricted header", name);
        }
        match name {
            "content-length" => body_on_get |= bodiless && value.trim() != "0",
            "content-type" if !is_media_type(value) => found(BAD_CONTENT_TYPE, "malformed Content-Type", name),
            "content-type" if charsets(value) > 1 => found(CHARSETS, "Content-Type names more than one charset", name),
            _ => {}
        }
    }
    if body_on_get {
        found(BODY_ON_GET, "GET or HEAD request with a body", "content-length");
    }
}

/// RFC 9110's `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The length of the token `s` begins with.
fn token(s: &[u8]) -> usize {
    s.iter().take_while(|b| is_tchar(**b)).count()
}

fn skip_spaces(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
    &s[n..]
}

/// Whether `value` is `type/subtype *( OWS ";" OWS [ name=value ] )`,
/// each value a token or a quoted string (RFC 9110 §8.3.1): no spaces
/// around `=`, nothing after a parameter but the next `;`.
fn is_media_type(value: &str) -> bool {
    let s = value.as_bytes();
    let n = token(s);
    let Some(rest) = s[n..].strip_prefix(b"/").filter(|_| n > 0) else { return false };
    let n = token(rest);
    if n == 0 {
        return false;
    }
    let mut rest = &rest[n..];
    loop {
        rest = skip_spaces(rest);
        let Some(after) = rest.strip_prefix(b";") else { return rest.is_empty() };
        rest = skip_spaces(after);
        if rest.is_empty() || rest[0] == b';' {
            continue;
        }
        let n = token(rest);
        let Some(after) = rest[n..].strip_prefix(b"=").filter(|_| n > 0) else { return false };
        rest = after;
        if rest.first() == Some(&b'"') {
            // A quoted string: up to the closing quote, `\` escaping one byte.
            let mut i = 1;
            loop {
                match rest.get(i) {
                    None => return false,
                    Some(b'"') => break,
                    Some(b'\\') => i += 2,
                    Some(_) => i += 1,
                }
            }
            rest = &rest[i + 1..];
        } else {
            let n = token(rest);
            if n == 0 {
                return false;
            }
            rest = &rest[n..];
        }
    }
}

/// How often `charset=` appears, quoted or not: a parser that looks for
/// it in the raw text may take another one than the one that counts.
fn charsets(value: &str) -> usize {
    let lower = value.to_ascii_lowercase();
    lower
        .match_indices("charset")
        .filter(|(at, _)| skip_spaces(&lower.as_bytes()[at + 7..]).first() == Some(&b'='))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_as_clients_send_them_pass() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "application/x-www-form-urlencoded;charset=UTF-8",
            "application/x-www-form-urlencoded; charset=UTF-8;",
            "multipart/form-data; boundary=----WebKitFormBoundary26257386e03caca2",
            "multipart/form-data; boundary=\"a b;c\"",
            "text/plain; charset=\"utf-8\"",
            "application/vnd.api+json",
            "multipart/related; type=\"application/xop+xml\"; start=\"<root>\"; start-info=\"text/xml\"",
        ] {
            assert!(is_media_type(ok), "{ok}");
            assert!(charsets(ok) <= 1, "{ok}");
        }
    }

    #[test]
    fn malformed_media_types_are_caught() {
        for bad in [
            "%{(#nike='multipart/form-data').(#dm=@ognl@DEFAULT_MEMBER_ACCESS)}",
            "text/plain; charset=\"UTF-8\"; garbage",
            "multipart/form-data; boundary=  test_data_123456",
            "text/xml; blah",
            "text/",
            "/json",
            "text/plain; charset=\"open",
            "text/plain, text/html",
        ] {
            assert!(!is_media_type(bad), "{bad}");
        }
        assert_eq!(charsets("application/x-www-form-urlencoded; charset=utf-8; CHARSET=utf-7"), 2);
        assert_eq!(charsets("text/plain; charset=utf-8; boundary=\"charset=utf-7\""), 2);
        assert_eq!(charsets("text/plain; charsets-are-fun=1"), 0);
    }

    fn findings(request: &Request) -> Vec<(u32, String)> {
        let mut out = Vec::new();
        check(request, &mut |id, _, name| out.push((id, name.to_string())));
        out
    }

    #[test]
    fn requests_are_checked_header_by_header() {
        use wasmgress_sdk::testing;
        let get_with_body = testing::get("/").header("content-type", "text/plain").build().with_body(b"abc".to_vec());
        assert_eq!(findings(&get_with_body), vec![(BODY_ON_GET, "content-length".into())]);
        let webdav = testing::get("/").header("Lock-Token", "<opaquelocktoken:x>").build();
        assert_eq!(findings(&webdav), vec![(RESTRICTED_HEADER, "lock-token".into())]);
        let declared = testing::get("/").header("content-length", "3").build();
        assert_eq!(findings(&declared), vec![(BODY_ON_GET, "content-length".into())]);
        let two = testing::post("/", "a=1").header("content-type", "text/plain; charset=utf-8; charset=utf-7").build();
        assert_eq!(findings(&two), vec![(CHARSETS, "content-type".into())]);
        let ordinary = testing::post("/", "{}").header("content-type", "application/json; charset=utf-8").build();
        assert_eq!(findings(&ordinary), vec![]);
        assert_eq!(findings(&testing::builder("HEAD", "/").header("content-length", "0").build()), vec![]);
    }
}
