//! The benches' input: a replay from the generator (`jcdetect::replay`, what
//! `jcdetect generate` writes), so the benches, the replay benchmark and the ground-truth
//! tests all measure the same realistic mix (logins of every kind dominate, ~800-byte lines,
//! the occasional 77 KB `mdm_command_result`, two of every attack story).

use jcdetect::replay::{generate, GenConfig};

/// `n` events of the default replay (seed 1), as NDJSON.
pub fn corpus(n: usize) -> Vec<u8> {
    let cfg = GenConfig {
        events: n as u64,
        ..GenConfig::default()
    };
    let mut out = Vec::with_capacity(n * 820);
    generate(&cfg, |line| out.extend_from_slice(line)).expect("bench corpus config is valid");
    out
}

/// The corpus split into lines (without newlines).
pub fn lines(buf: &[u8]) -> Vec<&str> {
    std::str::from_utf8(buf)
        .expect("corpus is UTF-8")
        .lines()
        .collect()
}
