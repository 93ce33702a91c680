//! Header and cookie values that matched no rule, remembered across
//! requests: a client sends the same User-Agent and cookies on every
//! request, and inspecting a browser's User-Agent takes about a third of
//! a typical GET. Arguments are not remembered: they change from request
//! to request. A value is remembered only when its result could not
//! depend on anything but its target, name and value (see
//! `Engine::evaluate`), so skipping it later changes no verdict. Keys
//! are compared whole, never by hash alone, and hashed with a random key
//! (SipHash), so crafted values can neither collide into a skip nor slow
//! the table down.

use std::cell::RefCell;
use std::collections::HashSet;

use crate::inspect::Target;

/// How many values are remembered; past it the memo starts over.
const CAPACITY: usize = 1024;
/// Longer name + value pairs are not remembered (bounds the memory at
/// about CAPACITY × MAX_KEY bytes).
const MAX_KEY: usize = 512;

#[derive(Default)]
pub struct CleanValues {
    seen: RefCell<HashSet<Box<str>>>,
    /// Where the key of a lookup is built, so that lookups allocate nothing.
    key: RefCell<String>,
}

impl CleanValues {
    /// Whether values of `target` are remembered at all.
    pub fn remembers(target: Target) -> bool {
        matches!(target, Target::Header | Target::Cookie | Target::CookieName)
    }

    /// The target's letter, `name`, a NUL, then `value`: a NUL-free name
    /// makes the split unique.
    fn with_key<T>(&self, target: Target, name: &str, value: &str, f: impl FnOnce(&str) -> T) -> Option<T> {
        if name.contains('\0') || name.len() + 1 + value.len() > MAX_KEY {
            return None;
        }
        let mut key = self.key.borrow_mut();
        key.clear();
        key.push(char::from(b'a' + target as u8));
        key.push_str(name);
        key.push('\0');
        key.push_str(value);
        Some(f(&key))
    }

    /// Whether `value`, named `name` in `target`, matched nothing before.
    pub fn contains(&self, target: Target, name: &str, value: &str) -> bool {
        self.with_key(target, name, value, |k| self.seen.borrow().contains(k)).unwrap_or(false)
    }

    /// Remembers that `value`, named `name` in `target`, matched nothing.
    pub fn insert(&self, target: Target, name: &str, value: &str) {
        self.with_key(target, name, value, |k| {
            let mut seen = self.seen.borrow_mut();
            if seen.len() >= CAPACITY {
                // Many distinct values (or a client spraying them): start
                // over rather than track recency. Whoever misses pays only
                // what an inspection costs without the memory.
                seen.clear();
            }
            seen.insert(k.into());
        });
    }

    pub fn clear(&self) {
        self.seen.borrow_mut().clear();
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.seen.borrow().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_exact_pairs_only() {
        let c = CleanValues::default();
        c.insert(Target::Header, "user-agent", "curl/8");
        assert!(c.contains(Target::Header, "user-agent", "curl/8"));
        assert!(!c.contains(Target::Header, "user-agent", "curl/8 "));
        assert!(!c.contains(Target::Header, "referer", "curl/8"));
        assert!(!c.contains(Target::Cookie, "user-agent", "curl/8"));
        // The separator keeps name and value apart.
        c.insert(Target::Cookie, "a", "b\0c");
        assert!(!c.contains(Target::Cookie, "a\0b", "c"));
        assert!(!c.contains(Target::Cookie, "a", "b"));
    }

    #[test]
    fn stays_bounded() {
        let c = CleanValues::default();
        for i in 0..3 * CAPACITY {
            c.insert(Target::Header, "x-id", &i.to_string());
            assert!(c.len() <= CAPACITY);
        }
        c.insert(Target::Header, "x-long", &"a".repeat(MAX_KEY));
        assert!(!c.contains(Target::Header, "x-long", &"a".repeat(MAX_KEY)));
    }
}
