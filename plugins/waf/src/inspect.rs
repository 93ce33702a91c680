//! What of a request the rules look at: every place a client can put
//! text, decoded once from its wire format into named values.

use std::borrow::Cow;

use wasmgress_sdk::{Request, url_decode};

use crate::json::{self, JsonField};
use crate::scan;

/// Where a value came from; rules choose their targets from these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Method,
    /// The decoded path (without the query).
    Path,
    /// Path and query as sent, undecoded.
    Uri,
    /// Query, form, JSON, XML and multipart field names.
    ArgName,
    /// Their values.
    Arg,
    CookieName,
    Cookie,
    /// A request header's value; its name is the value's name.
    Header,
    /// Uploaded file names (multipart, and `X-Filename`-style headers).
    FileName,
}

impl Target {
    /// Every target, in declaration order (`ALL[t as usize] == t`).
    pub const ALL: [Target; 9] = [
        Target::Method,
        Target::Path,
        Target::Uri,
        Target::ArgName,
        Target::Arg,
        Target::CookieName,
        Target::Cookie,
        Target::Header,
        Target::FileName,
    ];
}

/// One inspected value, borrowed from the request where it is there as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    pub target: Target,
    /// The argument, cookie or header name (lowercase for headers).
    pub name: Cow<'a, str>,
    pub value: Cow<'a, str>,
}

/// Headers whose values are structured by the protocol and carry no
/// application data; attacks in them are caught by the protocol rules.
/// (A `match`: the compiler switches on the length before comparing.)
fn is_protocol_header(name: &str) -> bool {
    matches!(
        name,
        "host"
            | "cookie"
            | "accept"
            | "accept-encoding"
            | "accept-language"
            | "accept-charset"
            | "connection"
            | "content-length"
            | "content-type"
            | "cache-control"
            | "pragma"
            | "if-none-match"
            | "if-modified-since"
            | "if-match"
            | "if-unmodified-since"
            | "keep-alive"
            | "authorization"
            | "upgrade-insecure-requests"
            | "te"
            | "transfer-encoding"
            | "traceparent"
            | "tracestate"
            | "x-request-id"
            | "x-forwarded-for"
            | "x-forwarded-proto"
            | "x-forwarded-host"
            | "x-forwarded-port"
            | "x-real-ip"
            | "priority"
            | "dnt"
    )
}

/// Headers that name an uploaded file (as some upload widgets send it).
fn is_file_name_header(name: &str) -> bool {
    let letters = || name.bytes().filter(u8::is_ascii_alphanumeric);
    letters().eq(*b"xfilename") || letters().eq(*b"xfilenames")
}

/// Problems with the request's framing or body format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyProblem {
    Json(String),
    Multipart(&'static str),
}

/// What the fields of a request borrow besides the request itself.
#[derive(Default)]
pub struct Texts {
    /// A body that is not UTF-8, read lossily.
    lossy: String,
    /// The JSON paths that name a JSON body's values, one after another
    /// (one string for all, not one each).
    names: String,
}

/// How a body is read, from its Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// URL-encoded, or no Content-Type at all.
    Form,
    Json,
    Multipart,
    Xml,
    /// Anything else, inspected as one value.
    Text,
}

impl BodyKind {
    pub fn of(content_type: &str) -> Self {
        let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match mime.as_str() {
            "" | "application/x-www-form-urlencoded" => BodyKind::Form,
            "multipart/form-data" => BodyKind::Multipart,
            m if m == "application/json" || m.ends_with("+json") => BodyKind::Json,
            m if m.ends_with("/xml") || m.ends_with("+xml") => BodyKind::Xml,
            _ => BodyKind::Text,
        }
    }

    /// A JSON or XML document: what API clients send, and no link or
    /// form can.
    pub fn is_document(self) -> bool {
        matches!(self, BodyKind::Json | BodyKind::Xml)
    }
}

/// What a request's fields are, as `collect` found them.
pub struct Collected<'a> {
    /// At most `max_fields` + 1: one more than the limit tells there
    /// were more.
    pub fields: Vec<Field<'a>>,
    /// What was wrong with the body.
    pub problem: Option<BodyProblem>,
    /// Where the body's fields begin: those before are the head's.
    pub body_from: usize,
    /// How the body was read; `None` without one.
    pub body: Option<BodyKind>,
}

/// The fields of `request`.
pub fn collect<'a>(request: &'a Request, texts: &'a mut Texts, max_fields: usize) -> Collected<'a> {
    let Texts { lossy, names } = texts;
    // The head's fields, and (like a JSON body's list) one for every
    // eight bytes of body: doubling from 32 copied a big form's list often.
    let body_fields_guess = request.body().map_or(0, |b| b.len() / 8);
    let mut fields = Vec::with_capacity((32 + body_fields_guess).min(max_fields + 1));
    let pushed = std::cell::Cell::new(0);
    let mut push = |target, name, value| {
        if fields.len() <= max_fields {
            fields.push(Field { target, name, value });
            pushed.set(fields.len());
        }
    };
    push(Target::Method, as_is(""), as_is(request.method()));
    push(Target::Path, as_is(""), url_decode_path(request.path()));
    push(Target::Uri, as_is(""), as_is(request.target()));
    form_fields(request.query(), &mut push);
    let mut content_type = "";
    // Header names are lowercase: `Headers` keeps them so.
    for (name, value) in request.headers.iter() {
        match name {
            "cookie" => cookies(value, &mut push),
            "content-type" => content_type = value,
            _ => {}
        }
        if is_file_name_header(name) {
            push(Target::FileName, as_is(name), as_is(value));
        }
        if !is_protocol_header(name) {
            push(Target::Header, as_is(name), as_is(value));
        }
    }
    let body_from = pushed.get();
    let kind = request.body().filter(|b| !b.is_empty()).map(|_| BodyKind::of(content_type));
    let problem = match (request.body(), kind) {
        (Some(body), Some(kind)) => {
            let text: &'a str = match std::str::from_utf8(body) {
                Ok(text) => text,
                Err(_) => {
                    *lossy = String::from_utf8_lossy(body).into_owned();
                    lossy
                }
            };
            body_fields(kind, content_type, text, names, max_fields, &mut push)
        }
        _ => None,
    };
    Collected { fields, problem, body_from, body: kind }
}

/// A value taken as it is.
const fn as_is(s: &str) -> Cow<'_, str> {
    Cow::Borrowed(s)
}

/// The path with `%XX` decoded but `+` kept (it is not a space in paths).
fn url_decode_path(path: &str) -> Cow<'_, str> {
    if scan::contains(path, b'%') { Cow::Owned(url_decode(&path.replace('+', "%2B"))) } else { as_is(path) }
}

/// A form or query component decoded, borrowed when there is nothing to decode.
fn form_decode(s: &str) -> Cow<'_, str> {
    if scan::contains(s, b'%') {
        Cow::Owned(url_decode(s))
    } else if scan::contains(s, b'+') {
        Cow::Owned(s.replace('+', " "))
    } else {
        as_is(s)
    }
}

type Push<'a, 'p> = dyn FnMut(Target, Cow<'a, str>, Cow<'a, str>) + 'p;

fn form_fields<'a>(query: &'a str, push: &mut Push<'a, '_>) {
    for pair in scan::split(query, b'&').filter(|p| !p.is_empty()) {
        let (name, value) = scan::split_once(pair, b'=').unwrap_or((pair, ""));
        let name = form_decode(name);
        push(Target::ArgName, as_is(""), name.clone());
        push(Target::Arg, name, form_decode(value));
    }
}

fn cookies<'a>(header: &'a str, push: &mut Push<'a, '_>) {
    // Trimmed as bytes: a char pattern decodes UTF-8 at both ends.
    for c in scan::split(header, b';').map(str::trim_ascii).filter(|c| !c.is_empty()) {
        let (name, value) = scan::split_once(c, b'=').unwrap_or((c, ""));
        let name = name.trim_ascii();
        push(Target::CookieName, as_is(""), as_is(name));
        push(Target::Cookie, as_is(name), as_is(scan::trim(value.trim_ascii(), b'"')));
    }
}

fn body_fields<'a>(
    kind: BodyKind,
    content_type: &str,
    text: &'a str,
    names: &'a mut String,
    max_fields: usize,
    push: &mut Push<'a, '_>,
) -> Option<BodyProblem> {
    match kind {
        BodyKind::Form => form_fields(text, push),
        BodyKind::Json => {
            // Sized for a field every eight bytes (a 4 KiB order has one every
            // thirteen): growing by doubling copied the list eight times.
            let mut found = Vec::with_capacity((text.len() / 8).min(max_fields + 1));
            let parsed = json::walk(text, names, &mut found, max_fields);
            // The paths are all written: the values can borrow their names.
            let names: &'a String = names;
            for f in found {
                match f {
                    JsonField::Key(key) => push(Target::ArgName, as_is(""), key),
                    JsonField::Value(at, value) => push(Target::Arg, as_is(&names[at]), value),
                }
            }
            if let Err(e) = parsed {
                push(Target::Arg, as_is("body"), as_is(text));
                return Some(BodyProblem::Json(e.to_string()));
            }
        }
        BodyKind::Multipart => {
            let Some(boundary) = boundary(content_type) else {
                push(Target::Arg, as_is("body"), as_is(text));
                return Some(BodyProblem::Multipart("no boundary"));
            };
            return multipart_fields(text, &boundary, push).err().map(BodyProblem::Multipart);
        }
        BodyKind::Xml => xml_fields(text, push),
        BodyKind::Text => push(Target::Arg, as_is("body"), as_is(text)),
    }
    None
}

fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_string())
    })
}

fn multipart_fields<'a>(body: &'a str, boundary: &str, push: &mut Push<'a, '_>) -> Result<(), &'static str> {
    let delimiter = format!("--{boundary}");
    let mut parts = body.split(delimiter.as_str());
    if parts.next().is_none() {
        return Err("no parts");
    }
    let mut seen = false;
    for part in parts {
        if part.starts_with("--") {
            return if seen { Ok(()) } else { Err("no parts") };
        }
        let part = part.strip_prefix("\r\n").or_else(|| part.strip_prefix('\n')).unwrap_or(part);
        let (head, content) =
            part.split_once("\r\n\r\n").or_else(|| part.split_once("\n\n")).ok_or("a part without headers")?;
        let content = content.strip_suffix("\r\n").or_else(|| content.strip_suffix('\n')).unwrap_or(content);
        let mut name = None;
        let mut file_name = None;
        let mut text = true;
        for line in head.lines() {
            let (k, v) = line.split_once(':').unwrap_or((line, ""));
            match k.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for p in v.split(';').skip(1) {
                        if let Some((pk, pv)) = p.trim().split_once('=') {
                            let pv = pv.trim().trim_matches('"');
                            match pk.trim().to_ascii_lowercase().as_str() {
                                "name" => name = Some(pv),
                                "filename" | "filename*" => file_name = Some(pv),
                                _ => {}
                            }
                        }
                    }
                }
                "content-type" => text = v.trim().to_ascii_lowercase().starts_with("text/"),
                _ => {}
            }
        }
        let name = name.ok_or("a part without a name")?;
        seen = true;
        push(Target::ArgName, as_is(""), as_is(name));
        match file_name {
            Some(f) => {
                push(Target::FileName, as_is(name), as_is(f));
                // Uploaded contents are data, not arguments; text files are
                // still looked at (scripts uploaded as text).
                if text {
                    push(Target::Arg, as_is(name), as_is(content));
                }
            }
            None => push(Target::Arg, as_is(name), as_is(content)),
        }
    }
    Err("no closing boundary")
}

/// Attribute values and text of an XML document (entities are left for
/// the transformations, as every value gets them).
fn xml_fields<'a>(body: &'a str, push: &mut Push<'a, '_>) {
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        let text = rest[..open].trim();
        if !text.is_empty() {
            push(Target::Arg, as_is("xml"), as_is(text));
        }
        rest = &rest[open..];
        if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = after.find("]]>").unwrap_or(after.len());
            push(Target::Arg, as_is("xml"), as_is(&after[..end]));
            rest = after.get(end + 3..).unwrap_or("");
            continue;
        }
        let close = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[1..close];
        if tag.starts_with('!') && !tag.starts_with("!--") {
            // A declaration (DOCTYPE, ENTITY) is itself suspicious: keep it.
            push(Target::Arg, as_is("xml"), as_is(&rest[..close.min(rest.len())]));
        }
        let mut attrs = tag;
        while let Some(eq) = attrs.find('=') {
            let after = attrs[eq + 1..].trim_start();
            let Some(q) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                attrs = &attrs[eq + 1..];
                continue;
            };
            let value = &after[1..];
            let end = value.find(q).unwrap_or(value.len());
            push(Target::Arg, as_is("xml"), as_is(&value[..end]));
            attrs = value.get(end + 1..).unwrap_or("");
        }
        rest = rest.get(close + 1..).unwrap_or("");
    }
    let text = rest.trim();
    if !text.is_empty() {
        push(Target::Arg, as_is("xml"), as_is(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmgress_sdk::testing;

    #[test]
    fn json_bodies_are_collected_up_to_the_limit() {
        // A long key above many values: each value's path repeats it.
        let key = "k".repeat(10_000);
        let body = format!(r#"{{"{key}":[{}],"after":"<script>"}}"#, vec!["1"; 5000].join(","));
        let request = testing::post("/", body).header("content-type", "application/json").build();
        let mut texts = Texts::default();
        let Collected { fields, problem, .. } = collect(&request, &mut texts, 100);
        assert_eq!(problem, None, "the whole document is still checked");
        assert_eq!(fields.len(), 101, "one past the limit tells there were more");
        assert!(fields.iter().all(|f| f.name.len() <= json::MAX_NAME));
        drop(fields);
        assert!(texts.names.len() <= 101 * json::MAX_NAME);
        let bad = testing::post("/", format!(r#"{{"a":[{}],}}"#, vec!["1"; 5000].join(",")))
            .header("content-type", "application/json")
            .build();
        assert!(matches!(collect(&bad, &mut Texts::default(), 100).problem, Some(BodyProblem::Json(_))));
    }

    fn values(request: Request, target: Target) -> Vec<(String, String)> {
        let mut texts = Texts::default();
        collect(&request, &mut texts, 512)
            .fields
            .into_iter()
            .filter(|f| f.target == target)
            .map(|f| (f.name.into_owned(), f.value.into_owned()))
            .collect()
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.to_string(), b.to_string())
    }

    #[test]
    fn query_form_cookies_headers() {
        let r = testing::post("/a%20b?x=1+2&flag", "name=O%27Brien")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", "s=abc; theme=\"dark\"")
            .header("user-agent", "curl/8")
            .header("accept", "*/*")
            .build();
        assert_eq!(values(r.clone(), Target::Arg), [pair("x", "1 2"), pair("flag", ""), pair("name", "O'Brien")]);
        assert_eq!(values(r.clone(), Target::Cookie), [pair("s", "abc"), pair("theme", "dark")]);
        assert_eq!(values(r.clone(), Target::Header), [pair("user-agent", "curl/8")]);
        assert_eq!(values(r, Target::Path), [pair("", "/a b")]);
    }

    #[test]
    fn json_paths_and_keys() {
        let r = testing::post("/", r#"{"user":{"name":"x","tags":["a",2]},"__proto__":{"y":true}}"#)
            .header("content-type", "application/json")
            .build();
        assert_eq!(
            values(r.clone(), Target::Arg),
            [pair("json.user.name", "x"), pair("json.user.tags[0]", "a"), pair("json.user.tags[1]", "2")]
        );
        let names: Vec<String> = values(r, Target::ArgName).into_iter().map(|(_, v)| v).collect();
        assert!(names.contains(&"__proto__".to_string()), "{names:?}");
        let bad = testing::post("/", "{").header("content-type", "application/json").build();
        assert!(matches!(collect(&bad, &mut Texts::default(), 512).problem, Some(BodyProblem::Json(_))));
    }

    #[test]
    fn multipart_names_values_and_file_names() {
        let body = "--XX\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.php\"\r\nContent-Type: application/octet-stream\r\n\r\nBIN\r\n--XX--\r\n";
        let r = testing::post("/", body).header("content-type", "multipart/form-data; boundary=XX").build();
        assert_eq!(values(r.clone(), Target::Arg), [pair("title", "hello")]);
        assert_eq!(values(r.clone(), Target::FileName), [pair("f", "a.php")]);
        assert_eq!(collect(&r, &mut Texts::default(), 512).problem, None);
        let open = testing::post("/", "--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb")
            .header("content-type", "multipart/form-data; boundary=XX")
            .build();
        assert_eq!(
            collect(&open, &mut Texts::default(), 512).problem,
            Some(BodyProblem::Multipart("no closing boundary"))
        );
    }

    #[test]
    fn body_kinds_from_content_types() {
        let document = |t: &str| BodyKind::of(t).is_document();
        assert!(document("application/json; charset=utf-8"));
        assert!(document("Application/LD+JSON"));
        assert!(document("text/xml"));
        assert!(!document("application/x-www-form-urlencoded"));
        assert!(!document("multipart/form-data; boundary=xml"));
        assert_eq!(BodyKind::of(""), BodyKind::Form);
        assert_eq!(BodyKind::of("text/plain"), BodyKind::Text);
    }

    #[test]
    fn xml_attributes_and_text() {
        let r = testing::post("/", r#"<?xml version="1.0"?><a probe="x&lt;y">text <b>more</b></a>"#)
            .header("content-type", "application/xml")
            .build();
        let v: Vec<String> = values(r, Target::Arg).into_iter().map(|(_, v)| v).collect();
        assert_eq!(v, ["1.0", "x&lt;y", "text", "more"]);
    }

    #[test]
    fn file_name_headers() {
        let r = testing::get("/up").header("X_Filename", "a.php").header("x.filename", "b.phtml").build();
        assert_eq!(values(r, Target::FileName), [pair("x_filename", "a.php"), pair("x.filename", "b.phtml")]);
    }
}
