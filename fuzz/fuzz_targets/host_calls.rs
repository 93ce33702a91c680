#![no_main]
//! See wasmgress_tests::fuzz::host_calls for the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wasmgress_tests::fuzz::host_calls(data);
});
