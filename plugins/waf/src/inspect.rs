//! What of a request the rules look at: every place a client can put
//! text, decoded once from its wire format into named values.

use serde_json::Value as Json;
use wasmgress_sdk::{Request, url_decode};

/// Where a value came from; rules choose their targets from these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// One inspected value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub target: Target,
    /// The argument, cookie or header name (lowercase for headers).
    pub name: String,
    pub value: String,
}

/// Headers whose values are structured by the protocol and carry no
/// application data; attacks in them are caught by the protocol rules.
const PROTOCOL_HEADERS: &[&str] = &[
    "host",
    "cookie",
    "accept",
    "accept-encoding",
    "accept-language",
    "accept-charset",
    "connection",
    "content-length",
    "content-type",
    "cache-control",
    "pragma",
    "if-none-match",
    "if-modified-since",
    "if-match",
    "if-unmodified-since",
    "keep-alive",
    "authorization",
    "upgrade-insecure-requests",
    "te",
    "transfer-encoding",
    "traceparent",
    "tracestate",
    "x-request-id",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-real-ip",
    "priority",
    "dnt",
];

/// Headers that name an uploaded file (as some upload widgets send it).
fn is_file_name_header(name: &str) -> bool {
    let n: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    n == "xfilename" || n == "xfilenames"
}

/// Problems with the request's framing or body format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyProblem {
    Json(String),
    Multipart(&'static str),
}

/// Every field of `request`, and what was wrong with its body.
pub fn collect(request: &Request) -> (Vec<Field>, Option<BodyProblem>) {
    let mut fields = Vec::with_capacity(16);
    let mut push = |target, name: &str, value: &str| {
        fields.push(Field { target, name: name.to_string(), value: value.to_string() })
    };
    push(Target::Method, "", request.method());
    push(Target::Path, "", &url_decode_path(request.path()));
    push(Target::Uri, "", request.target());
    form_fields(request.query(), &mut push);
    let mut content_type = String::new();
    for (name, value) in request.headers.iter() {
        let name = name.to_ascii_lowercase();
        match name.as_str() {
            "cookie" => cookies(value, &mut push),
            "content-type" => content_type = value.to_string(),
            _ => {}
        }
        if is_file_name_header(&name) {
            push(Target::FileName, &name, value);
        }
        if !PROTOCOL_HEADERS.contains(&name.as_str()) {
            push(Target::Header, &name, value);
        }
    }
    let problem = match request.body() {
        Some(body) if !body.is_empty() => body_fields(&content_type, body, &mut push),
        _ => None,
    };
    (fields, problem)
}

/// The path with `%XX` decoded but `+` kept (it is not a space in paths).
fn url_decode_path(path: &str) -> String {
    url_decode(&path.replace('+', "%2B"))
}

type Push<'a> = dyn FnMut(Target, &str, &str) + 'a;

fn form_fields(query: &str, push: &mut Push) {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        push(Target::ArgName, "", &url_decode(name));
        push(Target::Arg, &url_decode(name), &url_decode(value));
    }
}

fn cookies(header: &str, push: &mut Push) {
    for c in header.split(';').map(str::trim).filter(|c| !c.is_empty()) {
        let (name, value) = c.split_once('=').unwrap_or((c, ""));
        push(Target::CookieName, "", name.trim());
        push(Target::Cookie, name.trim(), value.trim().trim_matches('"'));
    }
}

fn body_fields(content_type: &str, body: &[u8], push: &mut Push) -> Option<BodyProblem> {
    let text = String::from_utf8_lossy(body);
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let mime = mime.as_str();
    if mime.is_empty() || mime == "application/x-www-form-urlencoded" {
        form_fields(&text, push);
    } else if mime == "application/json" || mime.ends_with("+json") {
        match serde_json::from_str::<Json>(&text) {
            Ok(doc) => json_fields(&doc, "json", push),
            Err(e) => {
                push(Target::Arg, "body", &text);
                return Some(BodyProblem::Json(e.to_string()));
            }
        }
    } else if mime == "multipart/form-data" {
        let Some(boundary) = boundary(content_type) else {
            push(Target::Arg, "body", &text);
            return Some(BodyProblem::Multipart("no boundary"));
        };
        return multipart_fields(&text, &boundary, push).err().map(BodyProblem::Multipart);
    } else if mime.ends_with("/xml") || mime.ends_with("+xml") {
        xml_fields(&text, push);
    } else {
        push(Target::Arg, "body", &text);
    }
    None
}

/// Strings, numbers and keys of a JSON document; names are JSON paths.
fn json_fields(doc: &Json, path: &str, push: &mut Push) {
    match doc {
        Json::Object(map) => {
            for (k, v) in map {
                push(Target::ArgName, "", k);
                json_fields(v, &format!("{path}.{k}"), push);
            }
        }
        Json::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                json_fields(v, &format!("{path}[{i}]"), push);
            }
        }
        Json::String(s) => push(Target::Arg, path, s),
        Json::Number(n) => push(Target::Arg, path, &n.to_string()),
        Json::Bool(_) | Json::Null => {}
    }
}

fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_string())
    })
}

fn multipart_fields(body: &str, boundary: &str, push: &mut Push) -> Result<(), &'static str> {
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
                            let pv = pv.trim().trim_matches('"').to_string();
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
        push(Target::ArgName, "", &name);
        match file_name {
            Some(f) => {
                push(Target::FileName, &name, &f);
                // Uploaded contents are data, not arguments; text files are
                // still looked at (scripts uploaded as text).
                if text {
                    push(Target::Arg, &name, content);
                }
            }
            None => push(Target::Arg, &name, content),
        }
    }
    Err("no closing boundary")
}

/// Attribute values and text of an XML document (entities are left for
/// the transformations, as every value gets them).
fn xml_fields(body: &str, push: &mut Push) {
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        let text = rest[..open].trim();
        if !text.is_empty() {
            push(Target::Arg, "xml", text);
        }
        rest = &rest[open..];
        if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = after.find("]]>").unwrap_or(after.len());
            push(Target::Arg, "xml", &after[..end]);
            rest = after.get(end + 3..).unwrap_or("");
            continue;
        }
        let close = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[1..close];
        if tag.starts_with('!') && !tag.starts_with("!--") {
            // A declaration (DOCTYPE, ENTITY) is itself suspicious: keep it.
            push(Target::Arg, "xml", &rest[..close.min(rest.len())]);
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
            push(Target::Arg, "xml", &value[..end]);
            attrs = value.get(end + 1..).unwrap_or("");
        }
        rest = rest.get(close + 1..).unwrap_or("");
    }
    let text = rest.trim();
    if !text.is_empty() {
        push(Target::Arg, "xml", text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmgress_sdk::testing;

    fn values(request: Request, target: Target) -> Vec<(String, String)> {
        collect(&request).0.into_iter().filter(|f| f.target == target).map(|f| (f.name, f.value)).collect()
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
        assert!(matches!(collect(&bad).1, Some(BodyProblem::Json(_))));
    }

    #[test]
    fn multipart_names_values_and_file_names() {
        let body = "--XX\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.php\"\r\nContent-Type: application/octet-stream\r\n\r\nBIN\r\n--XX--\r\n";
        let r = testing::post("/", body).header("content-type", "multipart/form-data; boundary=XX").build();
        assert_eq!(values(r.clone(), Target::Arg), [pair("title", "hello")]);
        assert_eq!(values(r.clone(), Target::FileName), [pair("f", "a.php")]);
        assert_eq!(collect(&r).1, None);
        let open = testing::post("/", "--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb")
            .header("content-type", "multipart/form-data; boundary=XX")
            .build();
        assert_eq!(collect(&open).1, Some(BodyProblem::Multipart("no closing boundary")));
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
