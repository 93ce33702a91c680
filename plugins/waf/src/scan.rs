//! Byte searches in short texts. core's `memchr` (behind `str::find`,
//! `split`, `contains` with a char) spends some two hundred WebAssembly
//! instructions a call on aligning before it searches, more than most of
//! the names and values searched here are long. These test eight bytes at
//! a time from the start, with a plain loop for the tail.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Flags, in its high bit, the first byte of `w` below `limit` (at most
/// 0x80); bytes after it may be flagged too, the ones before it never.
pub fn bytes_below(w: u64, limit: u8) -> u64 {
    w.wrapping_sub(ONES * u64::from(limit)) & !w & HIGH
}

/// Flags the first zero byte of `w`, as `bytes_below` does.
pub fn zero_bytes(w: u64) -> u64 {
    bytes_below(w, 1)
}

/// The place in its word of the first byte `flags` flags (not zero).
pub fn first_flagged(flags: u64) -> usize {
    (flags.trailing_zeros() / 8) as usize
}

/// `w` with every byte XORed with `byte`: zero where `w` had `byte`.
pub fn xor_each(w: u64, byte: u8) -> u64 {
    w ^ (ONES * u64::from(byte))
}

/// The eight bytes of `bytes` from `at` as one little-endian word.
pub fn word(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// Where `byte` first is in `s`.
pub fn find(s: &str, byte: u8) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut at = 0;
    while let Some(w) = word(bytes, at) {
        let found = zero_bytes(xor_each(w, byte));
        if found != 0 {
            return Some(at + first_flagged(found));
        }
        at += 8;
    }
    bytes[at..].iter().position(|&b| b == byte).map(|i| at + i)
}

/// Whether `s` holds `byte`.
pub fn contains(s: &str, byte: u8) -> bool {
    find(s, byte).is_some()
}

/// `s` before and after the first `byte` (an ASCII byte, so both halves
/// are whole characters).
pub fn split_once(s: &str, byte: u8) -> Option<(&str, &str)> {
    debug_assert!(byte.is_ascii());
    let i = find(s, byte)?;
    Some((&s[..i], &s[i + 1..]))
}

/// `s` without the `byte`s at its start and end (an ASCII `byte`: the
/// cuts then fall on character boundaries).
pub fn trim(s: &str, byte: u8) -> &str {
    let b = s.as_bytes();
    let start = b.iter().position(|&c| c != byte).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| c != byte).map_or(start, |e| e + 1);
    &s[start..end]
}

/// The pieces of `s` between the `byte`s (ASCII), as `str::split` gives them.
pub fn split(s: &str, byte: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match split_once(r, byte) {
            Some((piece, after)) => {
                rest = Some(after);
                Some(piece)
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// `a == b`, eight bytes at a time: WebAssembly's `memcmp` goes byte by
/// byte.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let Some(last) = a.len().checked_sub(8) else {
        return a.iter().zip(b).all(|(x, y)| x == y);
    };
    // The last word overlaps the ones before when the length is not a multiple of 8.
    (0..last).step_by(8).all(|at| word(a, at) == word(b, at)) && word(a, last) == word(b, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_str_finds() {
        let texts =
            ["", "a", "&", "abcdefg&", "abcdefgh&", "a=1&bb=22&&ccc=333&", "é日本語&x=ü", "&&&&&&&&&&&&&&&&&", "&é&"];
        for text in texts {
            for byte in [b'&', b'=', b'x', 0] {
                let c = char::from(byte);
                assert_eq!(find(text, byte), text.find(c), "{text:?} {c:?}");
                assert_eq!(contains(text, byte), text.contains(c));
                assert_eq!(split_once(text, byte), text.split_once(c));
                assert_eq!(split(text, byte).collect::<Vec<_>>(), text.split(c).collect::<Vec<_>>());
                assert_eq!(trim(text, byte), text.trim_matches(c), "{text:?} {c:?}");
            }
        }
        // Every position in and after the eight-byte steps.
        for len in 1..=20 {
            for i in 0..len {
                let mut t = "a".repeat(len);
                t.replace_range(i..=i, "&");
                assert_eq!(find(&t, b'&'), Some(i), "{t}");
            }
        }
    }

    #[test]
    fn compares_every_byte() {
        let text = "0123456789abcdefXYZ";
        for len in 0..=text.len() {
            let a = &text.as_bytes()[..len];
            assert!(same(a, a));
            for i in 0..len {
                let mut b = a.to_vec();
                b[i] ^= 1;
                assert!(!same(a, &b), "{len} {i}");
            }
            assert!(!same(a, &text.as_bytes()[..len.saturating_sub(1)]) || len == 0);
        }
    }
}
