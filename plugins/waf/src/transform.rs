//! Transformations applied to a value before rules match it: each undoes
//! one way attackers disguise a payload (escapes, entities, case, spacing).

use std::borrow::Cow;

use serde::Deserialize;

/// One transformation, named as in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// `%XX` and `%uXXXX`, repeated while something decodes (double encoding).
    UrlDecode,
    /// `&lt;`, `&#60;`, `&#x3c;` (the `;` may be missing), named entities.
    HtmlEntityDecode,
    /// JavaScript / JSON escapes: `\uXXXX`, `\xHH`, `\/`.
    JsDecode,
    Lowercase,
    /// Runs of whitespace become one space.
    CompressWhitespace,
    RemoveWhitespace,
    RemoveNulls,
    /// `/./`, `/../`, `//`, and `\` as `/`.
    NormalizePath,
    /// The value as base64 (standard or URL-safe) when it is base64.
    Base64Decode,
    /// Shell evasions: drops `\ ' " ^`, turns `,` `;` into spaces, drops
    /// spaces before `/` and `(`, lowercases and compresses whitespace.
    CmdLine,
    /// SQL and C comments (`/* */`, `--`, `#`) become a space.
    RemoveComments,
    /// Full-width forms (`＜script＞`) as their ASCII letters.
    FoldWidth,
}

impl Transform {
    /// The transformed value; `None` when it would be the same (the
    /// common case, decided from `f`, the value's [`features`]).
    fn apply_with(self, s: &str, f: u16) -> Option<String> {
        let has = |bits: u16| f & bits != 0;
        match self {
            Transform::UrlDecode => has(PERCENT).then(|| url_decode(s)),
            // Twice: `&amp;lt;` is how a second layer of encoding looks.
            Transform::HtmlEntityDecode => {
                if !has(AMP) {
                    return None;
                }
                let once = decode_entities(s)?;
                Some(decode_entities(&once).unwrap_or(once))
            }
            Transform::JsDecode => has(BACKSLASH).then(|| js_decode(s)),
            Transform::Lowercase if has(NON_ASCII) => Some(s.to_lowercase()),
            Transform::Lowercase => has(UPPER).then(|| s.to_ascii_lowercase()),
            Transform::CompressWhitespace => has(SPACE_RUN | NON_ASCII).then(|| compress_whitespace(s)),
            Transform::RemoveWhitespace => has(SPACE | NON_ASCII).then(|| {
                let mut out = String::with_capacity(s.len());
                out.extend(s.chars().filter(|c| !c.is_whitespace()));
                out
            }),
            Transform::RemoveNulls => has(NUL).then(|| s.replace('\0', "")),
            Transform::NormalizePath => Some(normalize_path(s)),
            Transform::Base64Decode => Some(base64_decode(s).unwrap_or_default()),
            Transform::CmdLine => Some(cmd_line(s)),
            Transform::RemoveComments => has(COMMENT).then(|| remove_comments(s)),
            Transform::FoldWidth => has(NON_ASCII).then(|| fold_width(s)),
        }
    }
}

const PERCENT: u16 = 1;
const AMP: u16 = 1 << 1;
const BACKSLASH: u16 = 1 << 2;
const UPPER: u16 = 1 << 3;
const NON_ASCII: u16 = 1 << 4;
/// Two spaces in a row, or whitespace other than a space.
const SPACE_RUN: u16 = 1 << 5;
const SPACE: u16 = 1 << 6;
const NUL: u16 = 1 << 7;
/// `/*`, `--` or `#`.
const COMMENT: u16 = 1 << 8;
/// A byte that means something next to another (` `, `*`, `-`): only
/// then are pairs looked at. Not a feature of its own.
const PAIRS: u16 = 1 << 15;

/// The feature each byte brings on its own.
const BYTE_FEATURES: [u16; 256] = {
    let mut t = [0; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b as u8 {
            b'%' => PERCENT,
            b'&' => AMP,
            b'\\' => BACKSLASH,
            b'A'..=b'Z' => UPPER,
            b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => SPACE_RUN | SPACE,
            0 => NUL,
            b'#' => COMMENT,
            b' ' => SPACE | PAIRS,
            b'*' | b'-' => PAIRS,
            0x80.. => NON_ASCII,
            _ => 0,
        };
        b += 1;
    }
    t
};

/// What a value contains that some transformation would change, in one pass.
fn features(s: &str) -> u16 {
    let b = s.as_bytes();
    let mut f = b.iter().fold(0, |f, &c| f | BYTE_FEATURES[c as usize]);
    if f & PAIRS != 0 {
        for pair in b.windows(2) {
            match (pair[0], pair[1]) {
                (b' ', b' ') => f |= SPACE_RUN,
                (b'/', b'*') | (b'-', b'-') => f |= COMMENT,
                _ => {}
            }
        }
    }
    f & !PAIRS
}

/// Applies `chain` in order, copying only when something changes.
pub fn apply_all<'a>(chain: &[Transform], s: &'a str) -> Cow<'a, str> {
    let mut out = Cow::Borrowed(s);
    if chain.is_empty() {
        return out;
    }
    let mut f = features(s);
    for t in chain {
        if let Some(changed) = t.apply_with(&out, f) {
            f = features(&changed);
            out = Cow::Owned(changed);
        }
    }
    out
}

fn hex(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

fn url_decode_once(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let wide = (i + 5 < b.len() && (b[i + 1] | 0x20) == b'u')
                .then(|| (2..6).try_fold(0u32, |acc, k| Some(acc << 4 | hex(b[i + k])?)))
                .flatten();
            if let Some(c) = wide {
                let mut buf = [0; 4];
                out.extend_from_slice(char::from_u32(c).unwrap_or('\u{fffd}').encode_utf8(&mut buf).as_bytes());
                i += 6;
                continue;
            }
            if i + 2 < b.len()
                && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
            {
                out.push((h << 4 | l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes until stable (at most three rounds: `%252e` is `.`).
pub fn url_decode(s: &str) -> String {
    let mut cur = s.to_string();
    for _ in 0..3 {
        if !crate::scan::contains(&cur, b'%') {
            break;
        }
        let next = url_decode_once(&cur);
        if next == cur {
            break;
        }
        cur = next;
    }
    cur
}

/// The named entities, by first letter, each as (name, character):
/// longest first, so that the first name the letters start with is the
/// longest known one. Looking up only the names of the value's first
/// letter keeps the `&`s of a query string (`&category=`) cheap.
fn entities(first: u8) -> &'static [(&'static [u8], char)] {
    match first {
        b'a' => &[(b"apos", '\''), (b"amp", '&'), (b"ast", '*')],
        b'b' => &[(b"bsol", '\\')],
        b'c' => &[(b"colon", ':'), (b"comma", ',')],
        b'd' => &[(b"dollar", '$')],
        b'e' => &[(b"equals", '='), (b"excl", '!')],
        b'g' => &[(b"grave", '`'), (b"gt", '>')],
        b'l' => &[
            (b"lbrace", '{'),
            (b"lbrack", '['),
            (b"lowbar", '_'),
            (b"lcub", '{'),
            (b"lpar", '('),
            (b"lsqb", '['),
            (b"lt", '<'),
        ],
        b'n' => &[(b"newline", '\n'), (b"nbsp", ' '), (b"num", '#')],
        b'p' => &[(b"percnt", '%'), (b"period", '.'), (b"plus", '+')],
        b'q' => &[(b"quest", '?'), (b"quot", '"')],
        b'r' => &[(b"rbrace", '}'), (b"rbrack", ']'), (b"rcub", '}'), (b"rpar", ')'), (b"rsqb", ']')],
        b's' => &[(b"semi", ';'), (b"sol", '/')],
        b't' => &[(b"tab", '\t')],
        b'v' => &[(b"vert", '|')],
        _ => &[],
    }
}

/// The longest name [`entities`] knows: a name is looked up by at most
/// this many lowercased letters (raise it with a longer name).
const LONGEST_ENTITY: usize = 7;

/// `s` with its entities decoded; `None` when it has none (an `&` alone,
/// as in a query string, is not one).
fn decode_entities(s: &str) -> Option<String> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut from = 0;
    while let Some(at) = s.as_bytes()[from..].iter().position(|&b| b == b'&').map(|i| i + from) {
        from = at + 1;
        if let Some((decoded, used)) = decode_entity(&s[at + 1..]) {
            let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
            o.push_str(&s[copied..at]);
            o.push(decoded);
            copied = at + 1 + used;
            from = copied;
        }
    }
    let mut out = out?;
    out.push_str(&s[copied..]);
    Some(out)
}

/// `s` follows an `&`: the character and how many bytes it used.
fn decode_entity(s: &str) -> Option<(char, usize)> {
    let b = s.as_bytes();
    let semi = |n: usize| if b.get(n) == Some(&b';') { n + 1 } else { n };
    if b.first() == Some(&b'#') {
        let (radix, start) = if matches!(b.get(1), Some(b'x' | b'X')) { (16, 2) } else { (10, 1) };
        // Leading zeros are legal and used to dodge naive decoders.
        let zeros = b[start..].iter().take_while(|c| **c == b'0').count();
        let digits = b[start + zeros..].iter().take_while(|c| (**c as char).is_digit(radix)).count().min(8);
        if zeros + digits == 0 {
            return None;
        }
        let n =
            if digits == 0 { 0 } else { u32::from_str_radix(&s[start + zeros..start + zeros + digits], radix).ok()? };
        return Some((char::from_u32(n).unwrap_or('\u{fffd}'), semi(start + zeros + digits)));
    }
    let mut letters = [0u8; LONGEST_ENTITY];
    let mut len = 0;
    for (l, c) in letters.iter_mut().zip(b.iter().take_while(|c| c.is_ascii_alphabetic())) {
        *l = c.to_ascii_lowercase();
        len += 1;
    }
    // Longest known name that the letters start with (`&ltscript` is `<script`).
    let letters = &letters[..len];
    let (name, c) = entities(*letters.first()?).iter().find(|(name, _)| letters.starts_with(name))?;
    Some((*c, semi(name.len())))
}

pub fn js_decode(s: &str) -> String {
    if !crate::scan::contains(s, b'\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut start = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        let (decoded, used) = match b.get(i + 1) {
            Some(b'u') if i + 5 < b.len() => match (2..6).try_fold(0u32, |acc, k| Some(acc << 4 | hex(b[i + k])?)) {
                Some(c) => (char::from_u32(c), 6),
                None => (None, 0),
            },
            Some(b'x') if i + 3 < b.len() => match (hex(b[i + 2]), hex(b[i + 3])) {
                (Some(h), Some(l)) => (char::from_u32(h << 4 | l), 4),
                _ => (None, 0),
            },
            Some(c @ (b'/' | b'\\' | b'"' | b'\'')) => (Some(*c as char), 2),
            _ => (None, 0),
        };
        match decoded {
            Some(c) => {
                out.push_str(&s[start..i]);
                out.push(c);
                i += used;
                start = i;
            }
            None => i += 1,
        }
    }
    out.push_str(&s[start..]);
    out
}

pub fn compress_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() || c == '\u{b}' {
            space = true;
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    if space {
        out.push(' ');
    }
    out
}

pub fn normalize_path(s: &str) -> String {
    let s = s.replace('\\', "/");
    let absolute = s.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in crate::scan::split(&s, b'/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            seg => parts.push(seg),
        }
    }
    let mut out = if absolute { "/".to_string() } else { String::new() };
    out.push_str(&parts.join("/"));
    if s.ends_with('/') && !out.ends_with('/') {
        out.push('/');
    }
    out
}

pub fn base64_decode(s: &str) -> Option<String> {
    let s = s.trim().trim_end_matches('=');
    if s.len() < 8 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = acc << 6 | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    String::from_utf8(out).ok()
}

pub fn cmd_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '\'' | '"' | '^' => {}
            ',' | ';' => out.push(' '),
            '/' | '(' => {
                while out.ends_with(' ') {
                    out.pop();
                }
                out.push(c);
            }
            c => out.extend(c.to_lowercase()),
        }
    }
    compress_whitespace(&out)
}

pub fn remove_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let next = ["/*", "--", "#"].iter().filter_map(|m| rest.find(m).map(|i| (i, *m))).min();
        let Some((at, marker)) = next else { break };
        out.push_str(&rest[..at]);
        out.push(' ');
        rest = &rest[at + marker.len()..];
        let end = if marker == "/*" { rest.find("*/").map(|i| i + 2) } else { rest.find('\n').map(|i| i + 1) };
        match end {
            Some(e) => rest = &rest[e..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

pub fn fold_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xff01 + 0x21).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html_entity_decode(s: &str) -> String {
        decode_entities(s).unwrap_or_else(|| s.to_string())
    }

    #[test]
    fn decodes_repeatedly_and_unicode_escapes() {
        assert_eq!(url_decode("%252e%252e%252f"), "../");
        assert_eq!(url_decode("%uff1cscript%u0020"), "＜script ");
        assert_eq!(url_decode("100%"), "100%");
        assert_eq!(fold_width("＜script＞"), "<script>");
    }

    #[test]
    fn features_name_what_each_transformation_would_change() {
        let cases: &[(&str, u16)] = &[
            ("", 0),
            ("plain", 0),
            ("a b", SPACE),
            ("a  b", SPACE | SPACE_RUN),
            ("a\tb", SPACE | SPACE_RUN),
            ("a-b*c", 0),
            ("1 -- x", SPACE | COMMENT),
            ("/*x*/", COMMENT),
            ("#", COMMENT),
            ("%41&amp;\\", PERCENT | AMP | BACKSLASH),
            ("Ab\0é", UPPER | NUL | NON_ASCII),
        ];
        for (s, f) in cases {
            assert_eq!(features(s), *f, "{s:?}");
        }
    }

    #[test]
    fn entities_with_and_without_semicolons() {
        assert_eq!(html_entity_decode("&lt;a&gt; &#60;b&#x3e; &LBRACE;&#36;x"), "<a> <b> {$x");
        assert_eq!(html_entity_decode("ja&Tab;vascript&colon;"), "ja\tvascript:");
        assert_eq!(html_entity_decode("a&NewLine;b&newlinex&lbrackets"), "a\nb\nx[ets");
        assert_eq!(html_entity_decode("jav&#13ascript"), "jav\rascript");
        assert_eq!(html_entity_decode("fish & chips &unknown;"), "fish & chips &unknown;");
        assert_eq!(html_entity_decode("&#x24;&#0000000000000000123;"), "${");
    }

    #[test]
    fn every_named_entity_decodes_under_its_first_letter() {
        let mut names = 0;
        for first in 0..=u8::MAX {
            let group = entities(first);
            for (i, (name, c)) in group.iter().enumerate() {
                names += 1;
                assert_eq!(name[0], first);
                assert!(name.len() <= LONGEST_ENTITY && name.iter().all(u8::is_ascii_lowercase));
                // No shorter name before it that it starts with: the longest wins.
                assert!(!group[..i].iter().any(|(other, _)| name.starts_with(other)), "{name:?}");
                let name = std::str::from_utf8(name).unwrap();
                assert_eq!(html_entity_decode(&format!("x&{name};y")), format!("x{c}y"));
                assert_eq!(html_entity_decode(&format!("&{}1", name.to_uppercase())), format!("{c}1"));
            }
        }
        assert_eq!(names, 35);
        assert_eq!(html_entity_decode("?q=a&category=b&sort=c&page=2&size=d"), "?q=a&category=b&sort=c&page=2&size=d");
    }

    #[test]
    fn js_escapes() {
        assert_eq!(js_decode(r"$\u007Bjndi \x3cscript\/"), "${jndi <script/");
        assert_eq!(js_decode(r"C:\temp\new"), r"C:\temp\new");
    }

    #[test]
    fn paths_shell_comments_base64() {
        assert_eq!(normalize_path("/a/./b/../../etc//passwd"), "/etc/passwd");
        assert_eq!(normalize_path("..\\..\\win.ini"), "win.ini");
        assert_eq!(cmd_line("c'a't /e\"t\"c/pass\\wd;w^hoami"), "cat/etc/passwd whoami");
        assert_eq!(remove_comments("sel/*x*/ect 1-- y\nz"), "sel ect 1 z");
        assert_eq!(base64_decode("SSBsb3ZlIFBIUAo=").as_deref(), Some("I love PHP\n"));
        assert_eq!(base64_decode("not base64!"), None);
        assert_eq!(compress_whitespace("a \t\n b"), "a b");
    }
}
