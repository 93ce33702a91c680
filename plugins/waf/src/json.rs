//! A JSON body's keys and values, named by their paths (`json.items[3].sku`),
//! read in one pass over the text: strict RFC 8259 syntax, no tree built.
//!
//! Hand-written rather than serde_json, which took about a third of a
//! 4 KiB JSON POST's inspection in WebAssembly: a string without escapes
//! is borrowed after a byte scan, and a number is kept as the text the
//! client sent (it was parsed into an `f64` and formatted back).

use std::borrow::Cow;
use std::ops::Range;

use crate::scan;

/// A key or value of a document, in document order; a value is named by
/// its path, at this range of the names string.
pub enum JsonField<'a> {
    Key(Cow<'a, str>),
    Value(Range<usize>, Cow<'a, str>),
}

/// Longer JSON paths are cut to this many bytes in a value's name.
pub const MAX_NAME: usize = 256;

/// Deeper documents are refused (serde_json refuses them too).
const MAX_DEPTH: usize = 127;

/// How many distinct keys a document's walk remembers having given.
const SEEN_KEYS: usize = 32;

/// What is wrong with a document, and at which byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub what: &'static str,
    pub at: usize,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

/// Walks `text`, pushing its keys and its string and number values to
/// `found` (true, false and null carry no text to inspect), and the paths
/// naming the values to `names`. A key is pushed once: an array of records
/// repeats its keys in every record, and a key is a field with no name,
/// so its copies would be the same field inspected again. Past `limit` + 1
/// fields the rest of the document is only checked: nothing more would be
/// inspected, and a deep path repeated for every value would fill the memory.
pub fn walk<'a>(
    text: &'a str,
    names: &mut String,
    found: &mut Vec<JsonField<'a>>,
    limit: usize,
) -> Result<(), JsonError> {
    let mut walker = Walker { text, at: 0, path: String::from("json"), names, found, limit, seen_keys: Vec::new() };
    walker.space();
    walker.value(0)?;
    walker.space();
    if walker.at < text.len() {
        return Err(walker.error("trailing characters"));
    }
    Ok(())
}

struct Walker<'a, 'w> {
    text: &'a str,
    at: usize,
    /// The path of the value being read; grown and cut back.
    path: String,
    names: &'w mut String,
    found: &'w mut Vec<JsonField<'a>>,
    limit: usize,
    /// Keys already pushed (the first `SEEN_KEYS` distinct ones without
    /// escapes; past those, and with escapes, keys are pushed every time).
    seen_keys: Vec<&'a str>,
}

impl<'a> Walker<'a, '_> {
    fn error(&self, what: &'static str) -> JsonError {
        JsonError { what, at: self.at }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn full(&self) -> bool {
        self.found.len() > self.limit
    }

    /// Records a value under the current path.
    fn record(&mut self, value: Cow<'a, str>) {
        if self.full() {
            return;
        }
        let start = self.names.len();
        let end = (0..=MAX_NAME.min(self.path.len())).rev().find(|&i| self.path.is_char_boundary(i));
        self.names.push_str(&self.path[..end.unwrap_or(0)]);
        self.found.push(JsonField::Value(start..self.names.len(), value));
    }

    /// Whether `key` is not among the keys already pushed, remembering it;
    /// `None` for a key with escapes, decoded anew each time and never
    /// remembered.
    fn first_time(&mut self, key: Option<&'a str>) -> bool {
        let Some(key) = key else { return true };
        // Short texts compared eight bytes at a time: a record's few keys
        // are looked through faster than a hash of the key is made.
        if self.seen_keys.iter().any(|seen| scan::same(seen.as_bytes(), key.as_bytes())) {
            return false;
        }
        if self.seen_keys.len() < SEEN_KEYS {
            self.seen_keys.push(key);
        }
        true
    }

    fn value(&mut self, depth: usize) -> Result<(), JsonError> {
        match self.peek() {
            Some(b'{' | b'[') if depth >= MAX_DEPTH => Err(self.error("nested too deep")),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => {
                let s = self.string()?;
                self.record(s);
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => {
                let n = self.number()?;
                self.record(Cow::Borrowed(n));
                Ok(())
            }
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("unexpected end")),
        }
    }

    fn literal(&mut self, word: &'static str) -> Result<(), JsonError> {
        if !self.text[self.at..].starts_with(word) {
            return Err(self.error("expected a value"));
        }
        self.at += word.len();
        Ok(())
    }

    /// Steps over `byte` and the space after it, if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() != Some(byte) {
            return false;
        }
        self.at += 1;
        self.space();
        true
    }

    fn object(&mut self, depth: usize) -> Result<(), JsonError> {
        self.eat(b'{');
        if self.eat(b'}') {
            return Ok(());
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a key"));
            }
            let key = self.string()?;
            self.space();
            if !self.eat(b':') {
                return Err(self.error("expected ':'"));
            }
            let at = self.path.len();
            self.path.push('.');
            self.path.push_str(&key);
            let unescaped = match key {
                Cow::Borrowed(k) => Some(k),
                Cow::Owned(_) => None,
            };
            if !self.full() && self.first_time(unescaped) {
                self.found.push(JsonField::Key(key));
            }
            self.value(depth)?;
            self.path.truncate(at);
            self.space();
            if self.eat(b'}') {
                return Ok(());
            }
            if !self.eat(b',') {
                return Err(self.error("expected ',' or '}'"));
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), JsonError> {
        self.eat(b'[');
        if self.eat(b']') {
            return Ok(());
        }
        for i in 0usize.. {
            let at = self.path.len();
            self.path.push('[');
            self.path.push_str(itoa::Buffer::new().format(i));
            self.path.push(']');
            self.value(depth)?;
            self.path.truncate(at);
            self.space();
            if self.eat(b']') {
                break;
            }
            if !self.eat(b',') {
                return Err(self.error("expected ',' or ']'"));
            }
        }
        Ok(())
    }

    /// A string (at its opening quote): borrowed unless it has escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        let bytes = self.text.as_bytes();
        let start = self.at + 1;
        self.at = plain_end(bytes, start);
        if bytes.get(self.at) == Some(&b'"') {
            // Both ends are ASCII, so the slice is whole characters.
            let s = &self.text[start..self.at];
            self.at += 1;
            return Ok(Cow::Borrowed(s));
        }
        let mut out = String::with_capacity(self.at - start + 16);
        out.push_str(&self.text[start..self.at]);
        loop {
            match bytes.get(self.at).copied() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escaped = match bytes.get(self.at).copied() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => self.unicode_escape()?,
                        _ => return Err(self.error("invalid escape")),
                    };
                    out.push(escaped);
                    self.at += 1;
                    // Up to the next quote, escape or control character, as is.
                    let run = self.at;
                    self.at = plain_end(bytes, run);
                    out.push_str(&self.text[run..self.at]);
                }
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    /// Four hex digits after `u` (at the `u`), and a low surrogate's after
    /// a high one; leaves `at` on the last digit.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let high = self.hex4(self.at + 1)?;
        self.at += 4;
        let code = match high {
            0xd800..0xdc00 => {
                if self.text.as_bytes().get(self.at + 1..self.at + 3) != Some(b"\\u") {
                    return Err(self.error("lone surrogate in an escape"));
                }
                let low = self.hex4(self.at + 3)?;
                if !(0xdc00..0xe000).contains(&low) {
                    return Err(self.error("lone surrogate in an escape"));
                }
                self.at += 6;
                0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00)
            }
            0xdc00..0xe000 => return Err(self.error("lone surrogate in an escape")),
            _ => high,
        };
        char::from_u32(code).ok_or_else(|| self.error("invalid escape"))
    }

    fn hex4(&self, at: usize) -> Result<u32, JsonError> {
        let digits = self.text.as_bytes().get(at..at + 4).ok_or_else(|| self.error("invalid escape"))?;
        digits.iter().try_fold(0, |n, &d| {
            let v = (d as char).to_digit(16).ok_or_else(|| self.error("invalid escape"))?;
            Ok(n << 4 | v)
        })
    }

    /// A number, as its text.
    fn number(&mut self) -> Result<&'a str, JsonError> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let digits = |at: &mut usize| {
            let from = *at;
            while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            *at > from
        };
        let mut at = self.at;
        if bytes[at] == b'-' {
            at += 1;
        }
        match bytes.get(at).copied() {
            Some(b'0') => at += 1,
            Some(b'1'..=b'9') => {
                digits(&mut at);
            }
            _ => return Err(JsonError { what: "invalid number", at }),
        }
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            if !digits(&mut at) {
                return Err(JsonError { what: "invalid number", at });
            }
        }
        if let Some(b'e' | b'E') = bytes.get(at).copied() {
            at += 1;
            if let Some(b'+' | b'-') = bytes.get(at).copied() {
                at += 1;
            }
            if !digits(&mut at) {
                return Err(JsonError { what: "invalid number", at });
            }
        }
        self.at = at;
        Ok(&self.text[start..at])
    }
}

/// Where the plain run of string text from `at` ends: the first quote,
/// backslash or control character (or the end). Eight bytes at a time:
/// a string is most of a JSON body, and a byte loop took some seven
/// instructions a byte.
fn plain_end(bytes: &[u8], mut at: usize) -> usize {
    while let Some(w) = scan::word(bytes, at) {
        let found = scan::zero_bytes(scan::xor_each(w, b'"'))
            | scan::zero_bytes(scan::xor_each(w, b'\\'))
            | scan::bytes_below(w, 0x20);
        if found != 0 {
            return at + scan::first_flagged(found);
        }
        at += 8;
    }
    while bytes.get(at).is_some_and(|&b| b != b'"' && b != b'\\' && b >= 0x20) {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys and values `walk` finds, as (name, text) with keys named "key".
    fn fields(text: &str) -> Result<Vec<(String, String)>, JsonError> {
        let (mut names, mut found) = (String::new(), Vec::new());
        walk(text, &mut names, &mut found, usize::MAX - 1)?;
        Ok(found
            .into_iter()
            .map(|f| match f {
                JsonField::Key(k) => ("key".to_string(), k.into_owned()),
                JsonField::Value(at, v) => (names[at].to_string(), v.into_owned()),
            })
            .collect())
    }

    /// A path as it names a value: at most MAX_NAME bytes.
    fn cut(path: &str) -> String {
        let end = (0..=MAX_NAME.min(path.len())).rev().find(|&i| path.is_char_boundary(i));
        path[..end.unwrap_or(0)].to_string()
    }

    /// The same from serde_json's tree (numbers as serde_json prints them).
    fn reference(v: &serde_json::Value, path: &mut String, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::String(s) => out.push((cut(path), s.clone())),
            serde_json::Value::Number(n) => out.push((cut(path), n.to_string())),
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let at = path.len();
                    path.push_str(&format!("[{i}]"));
                    reference(item, path, out);
                    path.truncate(at);
                }
            }
            serde_json::Value::Object(map) => {
                for (k, item) in map {
                    out.push(("key".to_string(), k.clone()));
                    let at = path.len();
                    path.push('.');
                    path.push_str(k);
                    reference(item, path, out);
                    path.truncate(at);
                }
            }
            _ => {}
        }
    }

    /// Takes the keys out of `fields`: each once, sorted.
    fn distinct_keys(fields: &mut Vec<(String, String)>) -> Vec<String> {
        let mut keys: Vec<String> = fields.iter().filter(|(n, _)| n == "key").map(|(_, k)| k.clone()).collect();
        fields.retain(|(n, _)| n != "key");
        keys.sort();
        keys.dedup();
        keys
    }

    /// `walk` and serde_json agree on whether `text` is JSON, and on what
    /// it holds: the same keys (`walk` gives a key once, serde_json's tree
    /// has it in every object) and values (numbers compared as numbers:
    /// `walk` keeps their text).
    fn agrees(text: &str) {
        let ours = fields(text);
        let theirs = serde_json::from_str::<serde_json::Value>(text);
        assert_eq!(ours.is_ok(), theirs.is_ok(), "{text:?}: {ours:?} / {theirs:?}");
        if let (Ok(mut ours), Ok(v)) = (ours, theirs) {
            let mut expected = Vec::new();
            reference(&v, &mut String::from("json"), &mut expected);
            assert_eq!(distinct_keys(&mut ours), distinct_keys(&mut expected), "{text:?}");
            // serde_json's objects are sorted by key: compare in that order.
            ours.sort_by(|a, b| a.0.cmp(&b.0));
            expected.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(ours.len(), expected.len(), "{text:?}");
            for ((name, ours), (their_name, theirs)) in ours.iter().zip(&expected) {
                assert_eq!(name, their_name, "{text:?}");
                if ours != theirs {
                    let (a, b) = (ours.parse::<f64>(), theirs.parse::<f64>());
                    assert!(a.is_ok() && a == b, "{text:?}: {ours:?} vs {theirs:?}");
                }
            }
        }
    }

    #[test]
    fn a_key_is_given_once_unless_escaped_or_past_the_first_distinct_ones() {
        let keys = |text: &str| -> Vec<String> {
            fields(text).unwrap().into_iter().filter(|(n, _)| n == "key").map(|(_, k)| k).collect()
        };
        let records = r#"[{"sku":"A","qty":1,"tags":[{"sku":"B"}]},{"qty":2,"sku":"C"},{"sku":"D","note":"x"}]"#;
        assert_eq!(keys(records), ["sku", "qty", "tags", "note"]);
        // An escaped key is decoded each time it is read, and given each time.
        assert_eq!(keys(r#"[{"s\u006bu":1},{"s\u006bu":2},{"sku":3}]"#), ["sku", "sku", "sku"]);
        // Past the first SEEN_KEYS distinct keys, keys are given every time.
        let many: Vec<String> = (0..=SEEN_KEYS).map(|i| format!(r#""k{i}":0"#)).collect();
        let text = format!("[{{{}}},{{{}}}]", many.join(","), many.join(","));
        let given = keys(&text);
        assert_eq!(given.len(), SEEN_KEYS + 2, "{given:?}");
        assert_eq!(given.iter().filter(|k| **k == format!("k{SEEN_KEYS}")).count(), 2);
        // Values are all there, with their paths.
        let values: Vec<_> = fields(records).unwrap().into_iter().filter(|(n, _)| n != "key").collect();
        assert_eq!(values.len(), 7);
        assert!(values.contains(&("json[0].tags[0].sku".to_string(), "B".to_string())));
    }

    const SEEDS: [&str; 4] = [
        r#"{"user":{"name":"Anne-Marie O'Brien","tags":["a",2,-3.5e2,true,null]},"ok":false}"#,
        r#"[{"k\"ey":"caf\u00e9 \ud83d\ude00 \n\t\\ \/"}, [], {}, 0, -0.25, 1E+3, ""]"#,
        " \t\n{ \"a\" : [ 1 , 2 ] , \"b\" : \"x\" }\r\n",
        r#""just a string""#,
    ];

    #[test]
    fn agrees_with_serde_json_on_documents_and_their_mutations() {
        let mut cases: Vec<String> = SEEDS.iter().map(|s| s.to_string()).collect();
        cases.extend(
            [
                "",
                " ",
                "{",
                "}",
                "[",
                "]",
                "[1,]",
                "{\"a\":1,}",
                "{\"a\" 1}",
                "{a:1}",
                "{'a':1}",
                "01",
                "1.",
                ".5",
                "-",
                "+1",
                "1e",
                "1e+",
                "- 1",
                "0x10",
                "NaN",
                "tru",
                "nul",
                "true false",
                "\"\\x\"",
                "\"\\u12\"",
                "\"\\ud800\"",
                "\"\\udc00\"",
                "\"\\ud800\\u0041\"",
                "\"a\u{1}b\"",
                "\"tab\there\"",
                "[\"é\", \"日本\"]",
                "{\"a\":{\"b\":{\"c\":[[[\"deep\"]]]}}}",
                "1 2",
                "[1 2]",
                "{\"a\":1 \"b\":2}",
                "\"\\\"\"",
            ]
            .map(String::from),
        );
        cases.push("[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH));
        cases.push("[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1));
        cases.push("{\"a\":".repeat(MAX_DEPTH) + "1" + &"}".repeat(MAX_DEPTH));
        cases.push("{\"a\":".repeat(MAX_DEPTH + 1) + "1" + &"}".repeat(MAX_DEPTH + 1));
        // Every seed with one byte dropped, or replaced by one of the
        // characters that matter to the syntax.
        for seed in SEEDS {
            let bytes = seed.as_bytes();
            for i in 0..bytes.len() {
                let mut dropped = bytes.to_vec();
                dropped.remove(i);
                cases.extend(String::from_utf8(dropped).ok());
                for b in *b"{}[]\":,\\ 0-.eEtu" {
                    let mut replaced = bytes.to_vec();
                    replaced[i] = b;
                    cases.extend(String::from_utf8(replaced).ok());
                }
            }
        }
        assert!(cases.len() > 2000);
        for case in &cases {
            agrees(case);
        }
    }

    #[test]
    fn plain_runs_end_at_the_first_quote_backslash_or_control_character() {
        // Every stop byte at every position of a 20-byte run (both the
        // eight-byte steps and the tail), after plain ASCII and UTF-8 text.
        for fill in ["abcdefghijklmnopqrst", "é日本語abcdefghijkl"] {
            let text = fill.as_bytes();
            assert_eq!(plain_end(text, 0), text.len());
            for stop in [b'"', b'\\', 0, 0x1f] {
                for i in 0..text.len() {
                    let mut t = text.to_vec();
                    t[i] = stop;
                    // From anywhere before it, the run ends there.
                    for from in 0..=i {
                        assert_eq!(plain_end(&t, from), i, "{stop} at {i} from {from}");
                    }
                    assert_eq!(plain_end(&t, i + 1), t.len(), "{stop} at {i}, from after it");
                }
            }
            // 0x20 and bytes above it (DEL, UTF-8) are plain.
            assert_eq!(plain_end(b" \x7f\x80\xff ~!#", 0), 8);
        }
    }

    #[test]
    fn values_are_borrowed_unless_escaped_and_numbers_keep_their_text() {
        let text = r#"{"a":"plain","b":"esc\"aped","c":1.50,"d":-0,"e":1e400}"#;
        let (mut names, mut found) = (String::new(), Vec::new());
        walk(text, &mut names, &mut found, 100).unwrap();
        let values: Vec<_> = found
            .iter()
            .filter_map(|f| match f {
                JsonField::Value(at, v) => Some((&names[at.clone()], v)),
                JsonField::Key(_) => None,
            })
            .collect();
        assert!(matches!(values[0].1, Cow::Borrowed("plain")));
        assert!(matches!(values[1].1, Cow::Owned(s) if s == "esc\"aped"));
        let numbers: Vec<_> = values[2..].iter().map(|(n, v)| (*n, v.as_ref())).collect();
        assert_eq!(numbers, [("json.c", "1.50"), ("json.d", "-0"), ("json.e", "1e400")]);
    }

    #[test]
    fn errors_say_what_and_where() {
        assert_eq!(
            walk("[1,]", &mut String::new(), &mut Vec::new(), 10).unwrap_err().to_string(),
            "expected a value at byte 3"
        );
        assert_eq!(
            walk("{} x", &mut String::new(), &mut Vec::new(), 10).unwrap_err().to_string(),
            "trailing characters at byte 3"
        );
    }
}
