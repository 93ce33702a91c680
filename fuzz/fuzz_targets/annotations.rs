#![no_main]
//! See wasmgress_tests::fuzz::annotation_values for the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasmgress_tests::fuzz::annotation_values(data));
