//! Helpers shared by the integration tests.
#![allow(dead_code)]

use jcdetect::{Config, Diagnostic, Engine, Options};
use std::path::{Path, PathBuf};

/// Run `input` through a fresh engine; return the output lines and diagnostics.
pub fn run(cfg: &Config, opts: Options, input: &[u8]) -> (Vec<String>, Vec<Diagnostic>) {
    let mut engine = Engine::new(cfg, opts);
    let (mut out, mut diags) = (Vec::new(), Vec::new());
    engine.feed(input, &mut out, &mut diags);
    engine.finish(&mut out, &mut diags);
    let text = String::from_utf8(out).expect("output is UTF-8");
    (text.lines().map(str::to_string).collect(), diags)
}

/// The `rule.id` of every ECS alert line.
pub fn rule_ids(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("alert is JSON");
            v["rule"]["id"].as_str().expect("rule.id").to_string()
        })
        .collect()
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/samples` next to the project, when present.
pub fn shared_samples() -> Option<PathBuf> {
    let p = root().join("../shared/samples");
    p.join("SOURCES.md").exists().then_some(p)
}

pub fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// Resident set size and its peak, in KiB, from /proc (Linux).
pub fn rss_kib() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}
