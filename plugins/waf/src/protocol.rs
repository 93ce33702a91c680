//! Protocol checks on the request's method and headers that are not
//! patterns on values (the Core Rule Set's 920 family): a body on a GET,
//! headers a client has no business sending, a `Content-Type` a parser
//! could read two ways, a backwards `Range`, empty `Accept` and
//! `User-Agent` headers, an address for a Host. Each finding names the header it is in. (A NUL
//! in a header is a pattern rule: a value remembered clean skips it.)

use wasmgress_sdk::Request;

use crate::rules::Severity;

/// A GET or HEAD with a body: what a smuggled second request rides in.
pub const BODY_ON_GET: u32 = 920170;
/// A header that only WebDAV, old method tunnels or proxies' own
/// machinery use, or that hides the body from inspection.
pub const RESTRICTED_HEADER: u32 = 920450;
/// A `Content-Type` that is not a media type with parameters.
pub const BAD_CONTENT_TYPE: u32 = 920470;
/// A `Content-Type` naming more than one charset.
pub const CHARSETS: u32 = 920530;

/// A `Range` whose last byte comes before its first.
pub const BAD_RANGE: u32 = 920190;
/// An `Accept` header sent empty.
pub const EMPTY_ACCEPT: u32 = 920310;
/// A `User-Agent` header sent empty.
pub const EMPTY_USER_AGENT: u32 = 920330;
/// A Host that is an IP address: a scanner sweeping addresses, not a
/// client that followed a name.
pub const HOST_IS_ADDRESS: u32 = 920350;

/// Every id these checks report.
pub const IDS: [u32; 8] = [
    BODY_ON_GET,
    RESTRICTED_HEADER,
    BAD_CONTENT_TYPE,
    CHARSETS,
    BAD_RANGE,
    EMPTY_ACCEPT,
    EMPTY_USER_AGENT,
    HOST_IS_ADDRESS,
];

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

/// Runs the checks; `found` gets each finding's id, severity, message and
/// header. One pass over the headers: most requests have a dozen, read
/// here once. The empty headers and an address for a Host score as
/// CRS scores them (a notice, a warning): alone they block nothing, two
/// of them together do.
pub fn check<'r>(request: &'r Request, found: &mut impl FnMut(u32, Severity, &'static str, &'r str)) {
    let method = request.method();
    let bodiless = method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD");
    // A chunked body has no Content-Length (and the gateway takes
    // Transfer-Encoding off, a hop-by-hop header): the body tells.
    let mut body_on_get = bodiless && request.body().is_some_and(|b| !b.is_empty());
    let critical = Severity::Critical;
    // Header names are lowercase: `Headers` keeps them so.
    for (name, value) in request.headers.iter() {
        if is_restricted(name) {
            found(RESTRICTED_HEADER, critical, "restricted header", name);
        }
        match name {
            "content-length" => body_on_get |= bodiless && value.trim() != "0",
            "content-type" if !is_media_type(value) => {
                found(BAD_CONTENT_TYPE, critical, "malformed Content-Type", name)
            }
            "content-type" if charsets(value) > 1 => {
                found(CHARSETS, critical, "Content-Type names more than one charset", name)
            }
            "range" | "request-range" if backwards_range(value) => {
                found(BAD_RANGE, Severity::Warning, "Range ends before it starts", name)
            }
            // A preflight may send no Accept worth the name.
            "accept" if blank(value) && !method.eq_ignore_ascii_case("OPTIONS") => {
                found(EMPTY_ACCEPT, Severity::Notice, "empty Accept header", name)
            }
            "user-agent" if blank(value) => found(EMPTY_USER_AGENT, Severity::Notice, "empty User-Agent header", name),
            _ => {}
        }
    }
    if body_on_get {
        found(BODY_ON_GET, critical, "GET or HEAD request with a body", "content-length");
    }
    if is_address(request.host()) {
        found(HOST_IS_ADDRESS, Severity::Warning, "Host is an IP address", "host");
    }
}

/// Whether a `bytes=` range set has a range whose last byte is before its
/// first (`bytes=10-5`): no client asks for one.
fn backwards_range(value: &str) -> bool {
    let Some(set) = value.trim().strip_prefix("bytes=") else { return false };
    set.split(',').any(|r| {
        let (first, last) = r.trim().split_once('-').unwrap_or((r, ""));
        matches!((first.trim().parse::<u64>(), last.trim().parse::<u64>()), (Ok(f), Ok(l)) if l < f)
    })
}

/// Whether a header value is empty or only spaces and tabs (a byte loop:
/// `str::trim` walks Unicode whitespace, and this runs on every request).
fn blank(value: &str) -> bool {
    value.bytes().all(|b| b == b' ' || b == b'\t')
}

/// Whether a Host (port and all) is an IPv4 or bracketed IPv6 address.
fn is_address(host: &str) -> bool {
    // Most Hosts are names: one byte tells.
    if !host.starts_with(|c: char| c.is_ascii_digit() || c == '[') {
        return false;
    }
    if let Some(v6) = host.strip_prefix('[') {
        return v6.split_once(']').is_some_and(|(addr, _)| addr.parse::<std::net::Ipv6Addr>().is_ok());
    }
    crate::session::without_port(host).parse::<std::net::Ipv4Addr>().is_ok()
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
        check(request, &mut |id, _, _, name| out.push((id, name.to_string())));
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
        let backwards = testing::get("/").header("range", "bytes=10-5").build();
        assert_eq!(findings(&backwards), vec![(BAD_RANGE, "range".into())]);
        let empty = testing::get("/").header("accept", "").header("user-agent", " ").build();
        assert_eq!(findings(&empty), vec![(EMPTY_ACCEPT, "accept".into()), (EMPTY_USER_AGENT, "user-agent".into())]);
        assert_eq!(findings(&testing::builder("OPTIONS", "/").header("accept", "").build()), vec![]);
        let by_address = testing::get("/").host("10.1.2.3:8080").build();
        assert_eq!(findings(&by_address), vec![(HOST_IS_ADDRESS, "host".into())]);
    }

    #[test]
    fn ranges_and_hosts() {
        for r in ["bytes=10-5", "bytes=0-99, 200-100", "bytes= 5 - 1"] {
            assert!(backwards_range(r), "{r}");
        }
        for r in ["bytes=0-99", "bytes=100-", "bytes=-500", "bytes=0-0,5-9", "items=9-1", ""] {
            assert!(!backwards_range(r), "{r}");
        }
        for h in ["127.0.0.1", "10.0.0.5:8080", "[::1]", "[2001:db8::1]:443"] {
            assert!(is_address(h), "{h}");
        }
        for h in ["example.com", "shop.example.com:8443", "1.2.3.example.com", "localhost", "999.1.1.1", ""] {
            assert!(!is_address(h), "{h}");
        }
    }
}
