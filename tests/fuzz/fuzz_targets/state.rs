#![no_main]
//! `cargo +nightly fuzz run --fuzz-dir tests/fuzz state`: see `checks::state` for what is checked.

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::state(data));
