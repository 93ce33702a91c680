//! What a plugin sees and changes: the request, the response, their
//! headers, and the decision it returns. Plain data: the same values flow
//! through the gateway and through the native test harness.

use std::net::SocketAddr;

/// Header fields, names compared case-insensitively (kept lower-case, as
/// HTTP/2 and Proxy-Wasm hosts have them), in order, repeats allowed.
///
/// The names and values live in one string, each field as two ranges of
/// it: read from the host, a map of twenty fields is one allocation and one
/// UTF-8 check, not forty strings.
#[derive(Clone, Default)]
pub struct Headers {
    text: String,
    fields: Vec<Field>,
    changed: bool,
}

/// A field's name and value in `Headers::text`.
#[derive(Clone, Copy)]
struct Field {
    name: Span,
    value: Span,
}

/// A `start..end` byte range of a text, in 32-bit offsets (a header map is
/// far below 4 GiB).
#[derive(Clone, Copy)]
struct Span(u32, u32);

impl Span {
    #[inline]
    fn range(self) -> std::ops::Range<usize> {
        self.0 as usize..self.1 as usize
    }

    #[inline]
    fn of(self, text: &str) -> &str {
        &text[self.range()]
    }

    /// The span's bytes, for comparing names: no character-boundary checks.
    #[inline]
    fn bytes(self, text: &str) -> &[u8] {
        &text.as_bytes()[self.range()]
    }
}

impl Headers {
    /// Headers from `(name, value)` pairs.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (N, V)>) -> Self {
        let mut headers = Self::default();
        for (name, value) in pairs {
            headers.push(name.as_ref(), value.as_ref());
        }
        headers
    }

    /// Headers from a Proxy-Wasm serialized map: the field count, each
    /// field's name and value lengths (32-bit little-endian), then each
    /// name and value followed by a NUL. Pseudo-headers (`:path`…) are
    /// kept like the others. `None` when the bytes are not such a map.
    #[cfg(any(test, target_arch = "wasm32"))]
    pub(crate) fn from_serialized(mut bytes: Vec<u8>) -> Option<Self> {
        let word = |at: usize| bytes.get(at..at + 4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize);
        let count = word(0)?;
        let table = count.checked_mul(8)?.checked_add(4)?;
        if bytes.len() < table {
            return None;
        }
        let mut fields = Vec::with_capacity(count);
        let mut at: usize = 0;
        for i in 0..count {
            let (name, value) = (word(4 + 8 * i)?, word(8 + 8 * i)?);
            // Offsets from the end of the table; each string ends in a NUL.
            let value_at = at.checked_add(name)?.checked_add(1)?;
            let end = value_at.checked_add(value)?;
            fields.push(Field { name: span(table, at, at + name)?, value: span(table, value_at, end)? });
            at = end.checked_add(1)?;
        }
        if bytes.len() - table < at {
            return None;
        }
        // Each string ends in its NUL: the ranges then fall on character
        // boundaries, whatever the bytes between them.
        let nul_after = |end: u32| bytes.get(end as usize) == Some(&0);
        if !fields.iter().all(|f| nul_after(f.name.1) && nul_after(f.value.1)) {
            return None;
        }
        // The table is blanked, not cut off: the strings stay where they
        // are (no copy), and the buffer they are kept in is text.
        bytes[..table].fill(0);
        let text = match utf8(bytes) {
            Ok(text) => text,
            // Bytes that are not UTF-8 (obs-text) are replaced one field at a time.
            Err(e) => {
                let bytes = e.into_bytes();
                let part = |span: Span| String::from_utf8_lossy(&bytes[span.range()]).into_owned();
                return Some(Self::from_pairs(fields.iter().map(|f| (part(f.name), part(f.value)))));
            }
        };
        let mut headers = Self { text, fields, changed: false };
        for f in &headers.fields {
            // The gateway's names are lowercase already: looking is cheaper
            // than lowering every byte again.
            if has_upper(f.name.bytes(&headers.text)) {
                headers.text[f.name.range()].make_ascii_lowercase();
            }
        }
        Some(headers)
    }

    /// Appends `s` to the text; its span.
    fn append(&mut self, s: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(s);
        Span(start as u32, self.text.len() as u32)
    }

    fn push(&mut self, name: &str, value: &str) {
        let name = self.append(name);
        self.text[name.range()].make_ascii_lowercase();
        let value = self.append(value);
        self.fields.push(Field { name, value });
    }

    /// Removes the pseudo-headers (names starting with `:`) and returns
    /// the values of those in `names` (empty when absent).
    #[cfg(any(test, target_arch = "wasm32"))]
    pub(crate) fn take_pseudo<const N: usize>(&mut self, names: [&str; N]) -> [String; N] {
        let mut values: [String; N] = std::array::from_fn(|_| String::new());
        let text = &self.text;
        self.fields.retain(|f| {
            let name = f.name.bytes(text);
            if name.first() != Some(&b':') {
                return true;
            }
            if let Some(i) = names.iter().position(|n| n.as_bytes() == name) {
                values[i] = f.value.of(text).to_string();
            }
            false
        });
        values
    }

    /// The fields named `name` (names compared as bytes: only the values
    /// found are sliced as text).
    fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Field> + 'a {
        self.fields.iter().filter(move |f| f.name.bytes(&self.text).eq_ignore_ascii_case(name.as_bytes()))
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.named(name).next().map(|f| f.value.of(&self.text))
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.named(name).map(|f| f.value.of(&self.text))
    }

    /// Whether `name` is there at all.
    pub fn contains(&self, name: &str) -> bool {
        self.named(name).next().is_some()
    }

    /// Replaces every value of `name` with `value`.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.remove(name);
        self.add(name, value);
    }

    /// Adds a value, keeping those already there.
    pub fn add(&mut self, name: &str, value: impl Into<String>) {
        self.push(name, &value.into());
        self.changed = true;
    }

    /// Removes every value of `name`.
    pub fn remove(&mut self, name: &str) {
        let before = self.fields.len();
        let text = &self.text;
        self.fields.retain(|f| !f.name.bytes(text).eq_ignore_ascii_case(name.as_bytes()));
        self.changed |= self.fields.len() != before;
    }

    /// Moves every value of `from` to `to`.
    pub fn rename(&mut self, from: &str, to: &str) {
        if !self.contains(from) {
            return;
        }
        let to = self.append(&to.to_ascii_lowercase());
        let text = &self.text;
        for f in self.fields.iter_mut().filter(|f| f.name.bytes(text).eq_ignore_ascii_case(from.as_bytes())) {
            f.name = to;
        }
        self.changed = true;
    }

    /// Every `(name, value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|f| (f.name.of(&self.text), f.value.of(&self.text)))
    }

    /// Whether anything was set, added, removed or renamed.
    pub fn changed(&self) -> bool {
        self.changed
    }
}

/// A span for `start..end` past `offset`, if both ends fit in 32 bits.
#[cfg(any(test, target_arch = "wasm32"))]
fn span(offset: usize, start: usize, end: usize) -> Option<Span> {
    let at = |n: usize| u32::try_from(offset.checked_add(n)?).ok();
    Some(Span(at(start)?, at(end)?))
}

/// Every byte's top bit, and every byte's lowest, in a word of eight.
#[cfg(any(test, target_arch = "wasm32"))]
const HIGH: u64 = 0x8080_8080_8080_8080;
#[cfg(any(test, target_arch = "wasm32"))]
const ONES: u64 = 0x0101_0101_0101_0101;

/// `bytes` as words of eight (little-endian), and the bytes after the last.
/// Tested eight at a time, a header map's checks cost a fraction of a byte
/// loop's (or of `<[u8]>::is_ascii`'s) in WebAssembly.
#[cfg(any(test, target_arch = "wasm32"))]
fn words(bytes: &[u8]) -> (impl Iterator<Item = u64> + '_, &[u8]) {
    let chunks = bytes.chunks_exact(8);
    let rest = chunks.remainder();
    (chunks.map(|w| u64::from_le_bytes(w.try_into().unwrap_or_default())), rest)
}

/// Whether `s` has an ASCII capital letter, looked for eight bytes at a time.
#[cfg(any(test, target_arch = "wasm32"))]
fn has_upper(s: &[u8]) -> bool {
    let upper_in = |w: u64| {
        if w & HIGH != 0 {
            // A byte from 0x80 would carry into the next: byte by byte.
            return w.to_le_bytes().iter().any(u8::is_ascii_uppercase);
        }
        // A byte's top bit is set by adding (0x80 - 'A') when it is at
        // least 'A', and by adding (0x80 - 'Z' - 1) when it is past 'Z'.
        let from_a = w + (0x80 - u64::from(b'A')) * ONES;
        let past_z = w + (0x80 - u64::from(b'Z') - 1) * ONES;
        from_a & !past_z & HIGH != 0
    };
    let (mut words, rest) = words(s);
    words.any(upper_in) || rest.iter().any(u8::is_ascii_uppercase)
}

/// `bytes` as text. ASCII, the usual header map, is recognised eight
/// bytes at a time; the full UTF-8 check runs only when a byte is not.
#[cfg(any(test, target_arch = "wasm32"))]
fn utf8(bytes: Vec<u8>) -> Result<String, std::string::FromUtf8Error> {
    let ascii = {
        let (mut words, rest) = words(&bytes);
        words.all(|w| w & HIGH == 0) && rest.is_ascii()
    };
    if ascii {
        // SAFETY: every byte is ASCII, which is UTF-8.
        return Ok(unsafe { String::from_utf8_unchecked(bytes) });
    }
    String::from_utf8(bytes)
}

/// Equal when the fields are, in order (wherever the text keeps them).
impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.changed == other.changed && self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Decodes `%XX` escapes and `+` (as form encoding does); invalid escapes
/// stay as they are.
pub fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    // Valid UTF-8 (the usual case) is taken as it is, without a copy.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The request as a plugin sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    method: String,
    /// Path and query, as sent upstream (`:path`).
    target: String,
    host: String,
    /// The request headers (Host is [`Request::host`], not one of them).
    pub headers: Headers,
    /// The client's address (the peer of the gateway's connection).
    pub client: Option<SocketAddr>,
    /// `namespace/name` of the Ingress the request came through.
    pub ingress: String,
    /// Set by the test harness; otherwise asked of the gateway on demand.
    id: Option<String>,
    body: Option<Vec<u8>>,
    target_changed: bool,
    body_changed: bool,
}

impl Request {
    /// A request for `method` and `target` (path and query) to `host`.
    pub fn new(method: impl Into<String>, target: impl Into<String>, host: impl Into<String>) -> Self {
        Self { method: method.into(), target: target.into(), host: host.into(), ..Self::default() }
    }

    /// The method (`GET`, `POST`, …).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The host the client asked for (`:authority`, i.e. Host).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.query_mark().map_or(&self.target, |at| &self.target[..at])
    }

    /// The raw query string (without `?`), empty when there is none.
    pub fn query(&self) -> &str {
        self.query_mark().map_or("", |at| &self.target[at + 1..])
    }

    /// Where the `?` is. A plain loop: the path before it is short, and
    /// `str::find` sets up a word-at-a-time search first.
    fn query_mark(&self) -> Option<usize> {
        self.target.bytes().position(|b| b == b'?')
    }

    /// Path and query, as they go upstream.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The decoded query parameters, in order.
    pub fn query_params(&self) -> Vec<(String, String)> {
        self.query()
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (url_decode(k), url_decode(v))
            })
            .collect()
    }

    /// The first value of query parameter `name`, decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_params().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The cookies the client sent, in order.
    pub fn cookies(&self) -> Vec<(String, String)> {
        self.headers
            .get_all("cookie")
            .flat_map(|h| h.split(';'))
            .filter_map(|c| {
                let (k, v) = c.trim().split_once('=')?;
                Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
            })
            .collect()
    }

    /// The value of cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Sends the request upstream with another path (and query): `target`
    /// must start with `/`.
    pub fn set_target(&mut self, target: impl Into<String>) {
        self.target = target.into();
        self.target_changed = true;
    }

    /// Replaces the path and keeps the query.
    pub fn set_path(&mut self, path: &str) {
        let target = match self.query() {
            "" => path.to_string(),
            q => format!("{path}?{q}"),
        };
        self.set_target(target);
    }

    /// The gateway's id for this request (the client's `x-request-id`, or
    /// one the gateway made up), to put in error pages and logs. Empty
    /// when the host has none.
    pub fn id(&self) -> String {
        if let Some(id) = &self.id {
            return id.clone();
        }
        #[cfg(target_arch = "wasm32")]
        if let Ok(Some(id)) = proxy_wasm::hostcalls::get_property(vec!["request", "id"]) {
            return String::from_utf8_lossy(&id).into_owned();
        }
        String::new()
    }

    /// Gives the request its id (the test harness does).
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The body, when the plugin asked for it ([`crate::Plugin::needs_request_body`]).
    pub fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    /// Replaces the body that goes upstream.
    pub fn set_body(&mut self, body: impl Into<Vec<u8>>) {
        self.body = Some(body.into());
        self.body_changed = true;
    }

    /// A copy without the body.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn head_only(&self) -> Request {
        Request {
            method: self.method.clone(),
            target: self.target.clone(),
            host: self.host.clone(),
            headers: self.headers.clone(),
            client: self.client,
            ingress: self.ingress.clone(),
            id: self.id.clone(),
            body: None,
            target_changed: self.target_changed,
            body_changed: self.body_changed,
        }
    }

    /// Gives the request its body (hosts and the test harness do).
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Whether the plugin changed the path or query.
    pub fn target_changed(&self) -> bool {
        self.target_changed
    }

    /// Whether the plugin replaced the body.
    pub fn body_changed(&self) -> bool {
        self.body_changed
    }
}

/// The upstream's response as a plugin sees it (headers only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    status: u16,
    /// The response headers.
    pub headers: Headers,
    status_changed: bool,
}

impl Response {
    /// A response with `status` and `headers`.
    pub fn new(status: u16, headers: Headers) -> Self {
        Self { status, headers, status_changed: false }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Changes the status the client gets.
    pub fn set_status(&mut self, status: u16) {
        self.status = status;
        self.status_changed = true;
    }

    /// Whether the plugin changed the status.
    pub fn status_changed(&self) -> bool {
        self.status_changed
    }
}

/// An answer the plugin gives itself instead of the upstream's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    /// The status code.
    pub status: u16,
    /// Header fields, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl LocalResponse {
    /// Adds a header to the answer.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Sets the answer's body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// What a plugin decided about a request or response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go on, with whatever the plugin changed.
    Continue,
    /// Answer with this instead (the upstream is not called, or its
    /// response is replaced).
    Respond(LocalResponse),
}

impl Decision {
    /// Starts a local answer with `status`: add headers and a body to it.
    pub fn respond(status: u16) -> LocalResponse {
        LocalResponse { status, headers: Vec::new(), body: Vec::new() }
    }

    /// A redirect to `location` (301, 302, 307 or 308).
    pub fn redirect(status: u16, location: impl Into<String>) -> Decision {
        Decision::Respond(Self::respond(status).header("location", location))
    }
}

impl From<LocalResponse> for Decision {
    fn from(r: LocalResponse) -> Self {
        Decision::Respond(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_case_insensitive_and_track_changes() {
        let mut h = Headers::from_pairs([("Content-Type", "text/plain"), ("x-a", "1"), ("X-A", "2")]);
        assert_eq!(h.get("content-type"), Some("text/plain"));
        assert_eq!(h.get_all("x-a").collect::<Vec<_>>(), ["1", "2"]);
        assert!(!h.changed());
        h.remove("x-missing");
        assert!(!h.changed(), "removing nothing changes nothing");
        h.set("X-A", "3");
        assert_eq!(h.get_all("x-a").collect::<Vec<_>>(), ["3"]);
        h.rename("content-type", "x-original-type");
        assert_eq!(h.get("x-original-type"), Some("text/plain"));
        assert!(h.changed());
    }

    /// A map as a Proxy-Wasm host serializes it.
    fn serialize(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
        for (n, v) in pairs {
            out.extend((n.len() as u32).to_le_bytes());
            out.extend((v.len() as u32).to_le_bytes());
        }
        for (n, v) in pairs {
            out.extend(*n);
            out.push(0);
            out.extend(*v);
            out.push(0);
        }
        out
    }

    #[test]
    fn serialized_maps_are_read_into_one_buffer() {
        let pairs: [(&[u8], &[u8]); 5] = [
            (b":method", b"GET"),
            (b":path", b"/a?b=1"),
            (b"User-Agent", b"curl/8"),
            (b"x-empty", b""),
            (b"x-a", "caf\u{e9}".as_bytes()),
        ];
        let mut h = Headers::from_serialized(serialize(&pairs)).unwrap();
        assert_eq!(h.iter().count(), 5);
        let [method, authority, path] = h.take_pseudo([":method", ":authority", ":path"]);
        assert_eq!((method.as_str(), authority.as_str(), path.as_str()), ("GET", "", "/a?b=1"));
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            [("user-agent", "curl/8"), ("x-empty", ""), ("x-a", "caf\u{e9}")],
            "lowercase names, pseudo-headers taken out"
        );
        assert_eq!(h, Headers::from_pairs([("user-agent", "curl/8"), ("x-empty", ""), ("x-a", "caf\u{e9}")]));
        assert!(!h.changed());
        // Changes after reading: the text grows, the fields follow.
        h.rename("x-a", "X-B");
        h.add("x-a", "new");
        h.remove("x-empty");
        assert_eq!(h.iter().collect::<Vec<_>>(), [("user-agent", "curl/8"), ("x-b", "caf\u{e9}"), ("x-a", "new")]);
        assert!(h.changed());

        // Bytes that are not UTF-8 are replaced in their field only.
        let h = Headers::from_serialized(serialize(&[(b"x-a", b"\xffok"), (b"x-b", b"fine")])).unwrap();
        assert_eq!(h.iter().collect::<Vec<_>>(), [("x-a", "\u{fffd}ok"), ("x-b", "fine")]);
        assert_eq!(Headers::from_serialized(serialize(&[])).unwrap(), Headers::default());
    }

    #[test]
    fn capitals_are_seen_at_every_place_and_only_capitals() {
        for len in 1..20 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut name = vec![b'a'; len];
                    name[at] = b;
                    assert_eq!(has_upper(&name), b.is_ascii_uppercase(), "{b:#x} at {at} of {len}");
                }
            }
        }
        assert!(!has_upper(b""));
        assert!(has_upper("\u{e9}\u{e9}\u{e9}\u{e9}Z".as_bytes()), "after bytes from 0x80");
    }

    #[test]
    fn the_text_check_sees_a_non_ascii_byte_anywhere() {
        for at in 0..20 {
            let mut bytes = vec![b'a'; 20];
            bytes[at] = 0xff;
            assert!(utf8(bytes).is_err(), "0xff at {at}");
            let text = format!("{}\u{e9}{}", "a".repeat(at), "a".repeat(19 - at));
            assert_eq!(utf8(text.clone().into_bytes()).as_deref(), Ok(text.as_str()), "\u{e9} at {at}");
        }
        assert_eq!(utf8(Vec::new()).as_deref(), Ok(""));
    }

    #[test]
    fn malformed_serialized_maps_are_refused() {
        let good = serialize(&[(b"a", b"1"), (b"bb", b"22")]);
        assert!(Headers::from_serialized(good.clone()).is_some());
        // Cut anywhere: too short for its table or its strings.
        for len in 0..good.len() {
            assert!(Headers::from_serialized(good[..len].to_vec()).is_none(), "{len}");
        }
        // A count or lengths far beyond the bytes.
        let mut huge = good.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Headers::from_serialized(huge).is_none());
        let mut long = good.clone();
        long[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Headers::from_serialized(long).is_none());
        // Lengths that do not land on the NULs (a name one byte longer,
        // its value one shorter): refused, not sliced mid-character.
        let mut shifted = serialize(&[(b"a", "\u{e9}".as_bytes())]);
        shifted[4..8].copy_from_slice(&2u32.to_le_bytes());
        shifted[8..12].copy_from_slice(&1u32.to_le_bytes());
        assert!(Headers::from_serialized(shifted).is_none());
        let mut missing = good;
        let last = missing.len() - 1;
        missing[last] = b'x';
        assert!(Headers::from_serialized(missing).is_none());
    }

    #[test]
    fn requests_parse_query_and_cookies() {
        let mut r = Request::new("GET", "/shop/cart?id=7&q=a+b%21&flag&bad=%zz", "shop.com");
        r.headers = Headers::from_pairs([("cookie", "session=abc; theme=\"dark\""), ("cookie", "x=1")]);
        assert_eq!(r.path(), "/shop/cart");
        assert_eq!(r.query_param("q").as_deref(), Some("a b!"));
        assert_eq!(r.query_param("flag").as_deref(), Some(""));
        assert_eq!(r.query_param("bad").as_deref(), Some("%zz"), "an invalid escape stays");
        assert_eq!(r.cookie("theme").as_deref(), Some("dark"));
        assert_eq!(r.cookie("x").as_deref(), Some("1"));
        r.set_path("/cart");
        assert_eq!(r.target(), "/cart?id=7&q=a+b%21&flag&bad=%zz");
        assert!(r.target_changed());
    }

    #[test]
    fn url_decoding_keeps_what_is_not_an_escape_and_replaces_bad_utf8() {
        assert_eq!(url_decode("a+b%21%e2%82%ac"), "a b!€");
        assert_eq!(url_decode("100%25%zz%4"), "100%%zz%4");
        assert_eq!(url_decode("%ff%c3"), "\u{fffd}\u{fffd}");
    }

    #[test]
    fn decisions_are_values() {
        let d: Decision = Decision::respond(403).header("X-Why", "policy").body("no\n").into();
        assert_eq!(
            d,
            Decision::Respond(LocalResponse {
                status: 403,
                headers: vec![("x-why".into(), "policy".into())],
                body: b"no\n".to_vec()
            })
        );
        let Decision::Respond(r) = Decision::redirect(301, "https://a/") else { panic!() };
        assert_eq!(r.headers, [("location".to_string(), "https://a/".to_string())]);
    }
}
