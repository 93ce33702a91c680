//! Replays the fuzz corpora (`fuzz/corpus/TARGET`) and every input a fuzzer
//! once failed on (`fuzz/regressions/TARGET`) through the properties the
//! fuzz targets check, on the stable toolchain: what coverage-guided runs
//! found stays found. Then a bounded number of random mutations of them,
//! for a little exploration in every run (seeded: repeatable).

use std::path::{Path, PathBuf};

use wasmgress_tests::fuzz;

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut out = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else { continue };
        for entry in entries.flatten() {
            out.push((entry.path(), std::fs::read(entry.path()).expect("read an input")));
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no corpus for {target}");
    out
}

/// A small xorshift generator: the same mutations on every run.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Flips, inserts, deletes or duplicates a few bytes.
    fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..1 + self.next() % 4 {
            let at = if out.is_empty() { 0 } else { (self.next() as usize) % out.len() };
            match self.next() % 4 {
                0 if !out.is_empty() => out[at] ^= 1 << (self.next() % 8),
                1 => out.insert(at, self.next() as u8),
                2 if !out.is_empty() => {
                    out.remove(at);
                }
                _ => {
                    let end = (at + 1 + (self.next() as usize) % 8).min(out.len());
                    let piece = out[at..end].to_vec();
                    out.splice(at..at, piece);
                }
            }
        }
        out
    }
}

/// Every input once, then `mutations` mutated inputs in all, spread over them.
fn replay(target: &str, check: fn(&[u8]), mutations: usize) {
    let mut mutator = Mutator(0x9E37_79B9_7F4A_7C15);
    let inputs = inputs(target);
    let each = mutations.div_ceil(inputs.len());
    for (path, input) in &inputs {
        let run = |data: &[u8]| {
            if std::panic::catch_unwind(|| check(data)).is_err() {
                panic!("{target}: the property failed on {} (or a mutation of it: {data:?})", path.display());
            }
        };
        run(input);
        for _ in 0..each {
            run(&mutator.mutate(input));
        }
    }
}

#[test]
fn translate_corpus() {
    replay("translate", fuzz::translate_manifests, 1000);
}

#[test]
fn annotations_corpus() {
    replay("annotations", fuzz::annotation_values, 5000);
}

#[test]
fn paths_and_hosts_corpus() {
    replay("paths_and_hosts", fuzz::paths_and_hosts, 20_000);
}

#[test]
fn host_calls_corpus() {
    replay(
        "host_calls",
        |data| {
            fuzz::host_calls(data);
        },
        1000,
    );
}

/// The driver's calls reach the host: a program that answers locally and
/// one that adds a header leave exactly that behind.
#[test]
fn the_host_call_driver_reaches_the_host() {
    // Arguments as the driver decodes them (tests/plugins/fuzz-driver).
    let raw = |v: u32| [&[0u8][..], &v.to_le_bytes()].concat();
    let at = |offset: u16| [&[1u8][..], &offset.to_le_bytes()].concat();
    let small = |v: u8| vec![2, v];
    // proxy_send_local_response(200, -, -, body "hi", -, -, -), the body
    // being the two bytes after the call's 33.
    let answer =
        [vec![15], small(200), raw(0), raw(0), at(33), small(2), raw(0), raw(0), raw(0), b"hi".to_vec()].concat();
    let answered = fuzz::host_calls(&answer).expect("the program ran").local_response.expect("a local response");
    assert_eq!((answered.status, answered.body.as_slice()), (200, &b"hi"[..]));
    // proxy_add_header_map_value(request headers, "x-add", "x-add"), the
    // name after the call's 13 bytes.
    let add = [vec![9], small(0), at(13), small(5), at(13), small(5), b"x-add".to_vec()].concat();
    let added = fuzz::host_calls(&add).expect("the program ran").request.expect("the request");
    assert_eq!(added.parts.headers["x-add"], "x-add");
    // The same calls with pointers past the end of memory change nothing.
    let wild = [vec![9], small(0), raw(0xffff_ff00), small(5), raw(0xffff_ff00), small(5)].concat();
    let untouched = fuzz::host_calls(&wild).expect("the program ran").request.expect("the request");
    assert!(untouched.parts.headers.get("x-add").is_none());
}
