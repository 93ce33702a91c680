//! Field values that matched no rule, remembered across requests: a
//! client sends the same User-Agent and cookies on every request, and an
//! application the same paths, argument names and many of the same
//! values (page numbers, sort orders, enum fields of JSON records).
//! Inspecting a browser's User-Agent alone takes about a third of a
//! typical GET. A value is remembered only when its result could not
//! depend on anything but its target, name and value (see
//! `Engine::evaluate`), so skipping it later changes no verdict.
//!
//! The memory is a fixed table of four-way sets with the least recently
//! used of a set replaced: a stream of values never seen again (search
//! terms, ids, a client spraying them) pushes out a little at a time and
//! never empties it. Keys are compared whole, never by hash alone, so a
//! crafted value cannot collide into a skip; one aimed at a set (the hash
//! is seeded at random, foldhash) could at most push out the four values
//! of that set, which then cost what they cost without the memory.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};

use foldhash::fast::RandomState;

use crate::inspect::Target;
use crate::scan;

/// Sets of `WAYS` slots each. Four ways, not two: the few hundred values
/// a site sends on every request then seldom share a set beyond its size,
/// where they would push each other out on every request.
const SETS: usize = 512;
const WAYS: usize = 4;
/// Longer name + value pairs are not remembered: the memory stays under
/// SETS × WAYS × MAX_KEY bytes (1 MiB), in an instance of 64 MiB.
const MAX_KEY: usize = 512;

/// A remembered key and its hash.
type Slot = Option<(u64, Box<str>)>;

#[derive(Default)]
pub struct CleanValues {
    /// Per set, the most recently used key first, with its hash (compared
    /// first: most slots a lookup meets hold another key); made on first insert.
    sets: RefCell<Vec<[Slot; WAYS]>>,
    hasher: RandomState,
}

/// A key by its parts: the target's letter, `name`, a NUL, then `value`
/// (a NUL-free name makes the split unique). Lookups hash and compare the
/// parts where they are: building the key copied each part, and a small
/// copy in WebAssembly is a call out to the host.
struct Key<'k> {
    letter: u8,
    name: &'k str,
    value: &'k str,
}

impl<'k> Key<'k> {
    fn new(target: Target, name: &'k str, value: &'k str) -> Option<Self> {
        if name.len() + value.len() + 2 > MAX_KEY || scan::contains(name, 0) {
            return None;
        }
        Some(Key { letter: b'a' + target as u8, name, value })
    }

    /// Few writes, each a 128-bit multiply in software in WebAssembly: the
    /// letter and the name's length in one, the name only when there is
    /// one (most keys have none). Two keys with the same hash still
    /// differ when compared.
    fn hash(&self, hasher: &RandomState) -> u64 {
        let mut h = hasher.build_hasher();
        h.write_u64(u64::from(self.letter) | (self.name.len() as u64) << 8);
        if !self.name.is_empty() {
            h.write(self.name.as_bytes());
        }
        h.write(self.value.as_bytes());
        h.finish()
    }

    /// Whether `stored` is this key, written out (compared whole on every
    /// hit, so eight bytes at a time).
    fn is(&self, stored: &[u8]) -> bool {
        let (n, v) = (self.name.len(), self.value.len());
        stored.len() == n + v + 2
            && stored[0] == self.letter
            && stored[n + 1] == 0
            && scan::same(&stored[1..n + 1], self.name.as_bytes())
            && scan::same(&stored[n + 2..], self.value.as_bytes())
    }

    fn written(&self) -> Box<str> {
        let mut key = String::with_capacity(self.name.len() + self.value.len() + 2);
        key.push(char::from(self.letter));
        key.push_str(self.name);
        key.push('\0');
        key.push_str(self.value);
        key.into_boxed_str()
    }
}

impl CleanValues {
    /// Whether `value`, named `name` in `target`, matched nothing before.
    pub fn contains(&self, target: Target, name: &str, value: &str) -> bool {
        let Some(key) = Key::new(target, name, value) else { return false };
        let hash = key.hash(&self.hasher);
        let mut sets = self.sets.borrow_mut();
        let Some(slots) = sets.get_mut(hash as usize % SETS) else { return false };
        let holds = |slot: &Slot| slot.as_ref().is_some_and(|(h, stored)| *h == hash && key.is(stored.as_bytes()));
        // A hit becomes the most recently used.
        slots.iter().position(holds).map(|i| slots[..=i].rotate_right(1)).is_some()
    }

    /// Remembers that `value`, named `name` in `target`, matched nothing,
    /// in place of the least recently used of its set.
    pub fn insert(&self, target: Target, name: &str, value: &str) {
        let Some(key) = Key::new(target, name, value) else { return };
        let hash = key.hash(&self.hasher);
        let mut sets = self.sets.borrow_mut();
        if sets.is_empty() {
            sets.resize_with(SETS, Default::default);
        }
        let slots = &mut sets[hash as usize % SETS];
        slots.rotate_right(1);
        slots[0] = Some((hash, key.written()));
    }

    pub fn clear(&self) {
        self.sets.borrow_mut().clear();
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.sets.borrow().iter().flatten().flatten().count()
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
    fn values_in_use_outlast_a_stream_of_new_ones() {
        let c = CleanValues::default();
        c.insert(Target::Header, "user-agent", "curl/8");
        for i in 0..64 * SETS {
            // The agent comes with every request; the id is new each time.
            assert!(c.contains(Target::Header, "user-agent", "curl/8"), "forgotten after {i} new values");
            c.insert(Target::Arg, "id", &i.to_string());
        }
        // About 64 values went to each set, which holds four.
        assert_eq!(c.len(), WAYS * SETS);
        c.insert(Target::Header, "x-long", &"a".repeat(MAX_KEY));
        assert!(!c.contains(Target::Header, "x-long", &"a".repeat(MAX_KEY)));
        c.clear();
        assert!(!c.contains(Target::Header, "user-agent", "curl/8"));
    }
}
