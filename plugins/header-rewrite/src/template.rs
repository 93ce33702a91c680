//! Header values and redirect locations with `${...}` variables, parsed
//! once at configure time and filled in per request.

use wasmgress_sdk::Request;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Host,
    /// The path, without the query.
    Path,
    /// The raw query string, without `?`.
    Query,
    /// Path and query.
    RequestUri,
    Method,
    ClientIp,
    Header(String),
    QueryParam(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Part>);

impl Template {
    /// Parses `text`; `$$` is a literal `$`. The error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            literal.push_str(&rest[..at]);
            rest = &rest[at..];
            if let Some(after) = rest.strip_prefix("$$") {
                literal.push('$');
                rest = after;
                continue;
            }
            let Some(body) = rest.strip_prefix("${") else {
                return Err(format!("a `$` not starting a `${{variable}}` in {text:?} (write `$$` for a dollar)"));
            };
            let Some(end) = body.find('}') else { return Err(format!("unclosed `${{` in {text:?}")) };
            let name = &body[..end];
            let part = match name {
                "host" => Part::Host,
                "path" => Part::Path,
                "query" => Part::Query,
                "request_uri" => Part::RequestUri,
                "method" => Part::Method,
                "client_ip" => Part::ClientIp,
                n => match n.split_once('.') {
                    Some(("header", h)) if !h.is_empty() => Part::Header(h.to_ascii_lowercase()),
                    Some(("query", q)) if !q.is_empty() => Part::QueryParam(q.to_string()),
                    _ => {
                        return Err(format!(
                            "unknown variable ${{{n}}} (known: host, path, query, request_uri, method, client_ip, header.NAME, query.NAME)"
                        ));
                    }
                },
            };
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(part);
            rest = &body[end + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template(parts))
    }

    /// The text for `request`; a missing header or parameter is empty.
    pub fn render(&self, request: &Request) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Host => out.push_str(request.host()),
                Part::Path => out.push_str(request.path()),
                Part::Query => out.push_str(request.query()),
                Part::RequestUri => out.push_str(request.target()),
                Part::Method => out.push_str(request.method()),
                Part::ClientIp => {
                    if let Some(c) = request.client {
                        out.push_str(&c.ip().to_string());
                    }
                }
                Part::Header(h) => out.push_str(request.headers.get(h).unwrap_or("")),
                Part::QueryParam(q) => out.push_str(&request.query_param(q).unwrap_or_default()),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmgress_sdk::testing;

    #[test]
    fn variables_are_filled_from_the_request() {
        let t = Template::parse("${method} https://${host}${path}?${query} ${header.X-Id} ${query.q} ${client_ip} $$5")
            .unwrap();
        let r = testing::get("/a/b?q=x+y").host("shop.com").header("x-id", "7").build();
        assert_eq!(t.render(&r), "GET https://shop.com/a/b?q=x+y 7 x y 192.0.2.1 $5");
        assert_eq!(Template::parse("${request_uri}").unwrap().render(&r), "/a/b?q=x+y");
    }

    #[test]
    fn bad_templates_say_why() {
        assert!(Template::parse("${nope}").unwrap_err().contains("unknown variable ${nope}"));
        assert!(Template::parse("${host").unwrap_err().contains("unclosed"));
        assert!(Template::parse("cost: $5").unwrap_err().contains("$$"));
        assert!(Template::parse("${header.}").unwrap_err().contains("unknown variable"));
    }
}
