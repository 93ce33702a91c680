#![no_main]
//! See wasmgress_tests::fuzz::paths_and_hosts for the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasmgress_tests::fuzz::paths_and_hosts(data));
