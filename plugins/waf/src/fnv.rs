//! FNV-1a hashing for the short strings the rules look up on every value
//! (command names): SipHash's set-up cost would be most of
//! the work, and nothing here needs its resistance to chosen keys — the
//! sets are fixed at build time.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

pub type FnvSet<T> = HashSet<T, BuildHasherDefault<Fnv>>;
