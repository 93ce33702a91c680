//! Which rules a value could match at all, decided from the kinds of
//! character in it. Every byte falls in a class (letters, digits, space,
//! each ASCII punctuation mark, …); a value's mask is the set of classes
//! it contains, found in one pass. For each built-in pattern the
//! configuration works out a set of classes every match must touch — a
//! quote, a `<`, a `/` — by walking the pattern's automaton over the other
//! classes. A rule whose set misses the value's mask cannot match it and
//! is not run: most fields of an ordinary request never reach a regex.

use regex_automata::nfa::thompson::{NFA, State};
use regex_syntax::hir::literal::{ExtractKind, Extractor};

/// A set of character classes.
pub type Mask = u64;

const ALPHA: u8 = 0;
const DIGIT: u8 = 1;
const SPACE: u8 = 2;
/// `\r` and `\n`, apart from spaces: smuggling and splitting need them.
const NEWLINE: u8 = 3;
/// Tab, vertical tab, form feed.
const OTHER_SPACE: u8 = 4;
const NUL: u8 = 5;
const CONTROL: u8 = 6;
/// Bytes of non-ASCII characters.
const HIGH: u8 = 7;
/// Each ASCII punctuation mark has its own class, from 8 on.
const PUNCTUATION: &[u8; 32] = b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

const fn class_of(b: u8) -> u8 {
    match b {
        b'a'..=b'z' | b'A'..=b'Z' => ALPHA,
        b'0'..=b'9' => DIGIT,
        b' ' => SPACE,
        b'\r' | b'\n' => NEWLINE,
        b'\t' | 0x0b | 0x0c => OTHER_SPACE,
        0 => NUL,
        0x80.. => HIGH,
        0x01..=0x1f | 0x7f => CONTROL,
        _ => {
            let mut i = 0;
            while PUNCTUATION[i] != b {
                i += 1;
            }
            8 + i as u8
        }
    }
}

const CLASS: [u8; 256] = {
    let mut t = [0; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = class_of(b as u8);
        b += 1;
    }
    t
};

const fn bit(b: u8) -> Mask {
    1 << CLASS[b as usize]
}

/// In every value's mask, the empty one's too: a rule that needs [`ALL`]
/// runs on every value.
const ANY_VALUE: Mask = 1 << 40;

/// Every class: what a pattern that cannot be analysed, or matches the
/// empty string, needs.
pub const ALL: Mask = ANY_VALUE | (ANY_VALUE - 1);

/// The classes of the bytes in `s`.
pub fn mask(s: &str) -> Mask {
    s.bytes().fold(ANY_VALUE, |m, b| m | 1 << CLASS[b as usize])
}

/// Classes in which a transformation of the built-in chains can turn a
/// value into something with other classes (decoding, folding); values
/// with none of them keep their classes through every chain, but for
/// [`widen`].
pub const DECODES: Mask = bit(b'%') | bit(b'&') | bit(b'\\') | 1 << NUL | 1 << HIGH;

/// The classes of any built-in chain's view of a value of classes `m`
/// that has none of [`DECODES`]: whitespace compression and comment
/// removal turn other whitespace and comments into spaces.
pub fn widen(m: Mask) -> Mask {
    let to_space = 1 << NEWLINE | 1 << OTHER_SPACE | bit(b'/') | bit(b'*') | bit(b'-') | bit(b'#');
    if m & to_space != 0 { m | 1 << SPACE } else { m }
}

/// Whether a rule needing `needs` is reached by ordinary text: letters,
/// digits or a space are enough.
pub fn is_weak(needs: Mask) -> bool {
    needs & (1 << ALPHA | 1 << DIGIT | 1 << SPACE) != 0
}

/// The order classes are tried in when working out what a pattern needs:
/// those common in ordinary text first, so the set left is made of the
/// rarer ones.
const COMMON_FIRST: &[u8] = &[
    ALPHA,
    DIGIT,
    SPACE,
    b'.',
    b',',
    b'-',
    b'\'',
    b'/',
    b':',
    b'_',
    b'@',
    b'!',
    b'?',
    b'(',
    b')',
    b'"',
    b'=',
    b'+',
    b'&',
    b'%',
    b'#',
    b'*',
    b';',
    HIGH,
    b'[',
    b']',
    b'$',
    b'|',
    b'<',
    b'>',
    b'{',
    b'}',
    b'~',
    b'^',
    b'`',
    b'\\',
    NEWLINE,
    OTHER_SPACE,
    CONTROL,
    NUL,
];

fn class_bit(c: u8) -> Mask {
    if c < 8 { 1 << c } else { bit(c) }
}

/// A pattern's automaton with each transition labelled by the classes of
/// the bytes it reads; zero-width steps (groups, alternation, anchors and
/// word boundaries) are always taken, which can only make a match look
/// possible where it is not, never the reverse.
struct Graph {
    edges: Vec<Vec<(Mask, usize)>>,
    accepting: Vec<bool>,
    start: usize,
}

impl Graph {
    fn new(nfa: &NFA) -> Graph {
        let range = |start: u8, end: u8| (start..=end).fold(0, |m, b| m | bit(b));
        let edges = nfa
            .states()
            .iter()
            .map(|s| match s {
                State::ByteRange { trans } => vec![(range(trans.start, trans.end), trans.next.as_usize())],
                State::Sparse(sparse) => {
                    sparse.transitions.iter().map(|t| (range(t.start, t.end), t.next.as_usize())).collect()
                }
                State::Dense(dense) => {
                    dense.transitions.iter().enumerate().map(|(b, next)| (bit(b as u8), next.as_usize())).collect()
                }
                State::Look { next, .. } | State::Capture { next, .. } => vec![(ALL, next.as_usize())],
                State::Union { alternates } => alternates.iter().map(|n| (ALL, n.as_usize())).collect(),
                State::BinaryUnion { alt1, alt2 } => vec![(ALL, alt1.as_usize()), (ALL, alt2.as_usize())],
                State::Fail | State::Match { .. } => Vec::new(),
            })
            .collect();
        let accepting = nfa.states().iter().map(|s| matches!(s, State::Match { .. })).collect();
        Graph { edges, accepting, start: nfa.start_anchored().as_usize() }
    }

    /// Whether some string of only the classes in `allowed` matches.
    fn matches_within(&self, allowed: Mask) -> bool {
        let mut seen = vec![false; self.edges.len()];
        let mut stack = vec![self.start];
        seen[self.start] = true;
        while let Some(s) = stack.pop() {
            if self.accepting[s] {
                return true;
            }
            for &(m, next) in &self.edges[s] {
                // Zero-width steps carry ALL, which an empty `allowed`
                // still lets through.
                if (m == ALL || m & allowed != 0) && !seen[next] {
                    seen[next] = true;
                    stack.push(next);
                }
            }
        }
        false
    }
}

/// A set of classes every match of `pattern` contains at least one of
/// ([`ALL`] when it matches the empty string or cannot be analysed).
pub fn needs(pattern: &str) -> Mask {
    let Ok(nfa) = NFA::new(pattern) else { return ALL };
    let graph = Graph::new(&nfa);
    let mut allowed: Mask = 0;
    if graph.matches_within(allowed) {
        return ALL;
    }
    for &c in COMMON_FIRST {
        let wider = allowed | class_bit(c);
        if !graph.matches_within(wider) {
            allowed = wider;
        }
    }
    (ANY_VALUE - 1) & !allowed
}

/// Literals one of which begins every match of `pattern`, when the
/// pattern has such a finite set and none of them is empty: a value that
/// contains none of them cannot match.
pub fn prefixes(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::parse(pattern).ok()?;
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
    let literals = seq.literals()?;
    if literals.is_empty() || literals.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    Some(literals.iter().map(|l| l.as_bytes().to_vec()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_has_one_class_and_masks_see_them() {
        assert!(CLASS.iter().all(|&c| c < 40));
        assert_eq!(mask("ab C1"), ANY_VALUE | 1 << ALPHA | 1 << DIGIT | 1 << SPACE);
        assert_eq!(mask("<é\r"), ANY_VALUE | bit(b'<') | 1 << HIGH | 1 << NEWLINE);
        assert_ne!(mask("") & ALL, 0);
    }

    #[test]
    fn needs_finds_the_rare_classes_a_match_must_touch() {
        assert_eq!(needs(r"<\s*script"), bit(b'<'));
        // Either a quote or a semicolon: both alternatives are kept.
        assert_eq!(needs(r"'\s*or|;\s*drop"), bit(b'\'') | bit(b';'));
        // Letters alone can match: only values without a letter are skipped.
        assert_eq!(needs(r"(?i)\bunion\b"), 1 << ALPHA);
        assert_eq!(needs(r"a?"), ALL);
    }

    #[test]
    fn prefixes_begin_every_match() {
        let p = prefixes(r"(?:select|;)\s*sleep\b").unwrap();
        assert!(p.contains(&b"select".to_vec()) && p.contains(&b";".to_vec()), "{p:?}");
        assert_eq!(prefixes(r"\w+@"), None);
        assert_eq!(prefixes(r"(?:^|x)y?"), None);
    }

    #[test]
    fn a_value_without_the_needed_classes_never_matches() {
        let patterns = [r"<\s*script", r"(?i)\$\{jndi:", r"\.\./", r"[\r\n]\s*http/\d", r"(?:^|;)\s*rm\s"];
        let values = ["hello world", "O'Brien, 12 High St.", "a/b/c", "${jndi:x}", "../x", "x\r\nHTTP/1", "; rm -f"];
        for p in patterns {
            let re = regex::Regex::new(p).unwrap();
            for v in values {
                if re.is_match(v) {
                    assert_ne!(needs(p) & mask(v), 0, "{p} matches {v:?}");
                }
            }
        }
    }
}
