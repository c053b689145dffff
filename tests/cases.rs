//! Folder-driven rule cases: `tests/cases/<group>/<case>/{input.ndjson,expect.txt[,config.toml]
//! [,diagnostics.txt]}`. `expect.txt` lists the expected alerts' rule ids in emission order
//! (`#` lines are comments; `rule_id xN` stands for N repeats); `diagnostics.txt` the expected
//! diagnostics as `LINE CODE` lines (none expected without it). Every case runs; all
//! failures are reported together.

mod common;

use jcdetect::{Config, Options};
use std::path::Path;

fn expected(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        match line.rsplit_once(" x") {
            Some((id, n)) if n.parse::<usize>().is_ok() => out.extend(std::iter::repeat_n(
                id.trim().to_string(),
                n.parse().unwrap(),
            )),
            _ => out.push(line.to_string()),
        }
    }
    out
}

fn run_group(group: &str) -> usize {
    let dir = common::root().join("tests/cases").join(group);
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(msg) = run_case(case) {
            failures.push(format!(
                "{}: {msg}",
                case.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.len()
}

fn run_case(case: &Path) -> Result<(), String> {
    let cfg = match std::fs::read_to_string(case.join("config.toml")) {
        Ok(t) => Config::from_toml_str(&t).map_err(|e| e.to_string())?,
        Err(_) => Config::default(),
    };
    let input = common::read(&case.join("input.ndjson"));
    let want = expected(&String::from_utf8_lossy(&common::read(
        &case.join("expect.txt"),
    )));
    let (lines, diags) = common::run(&cfg, Options::default(), &input);
    let want_diags: Vec<String> = std::fs::read_to_string(case.join("diagnostics.txt"))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let got_diags: Vec<String> = diags
        .iter()
        .map(|d| format!("{} {}", d.line, d.code.as_str()))
        .collect();
    if got_diags != want_diags {
        return Err(format!(
            "diagnostics: expected {want_diags:?}, got {diags:?}"
        ));
    }
    let got = common::rule_ids(&lines);
    if got != want {
        return Err(format!("expected {want:?}, got {got:?}"));
    }
    Ok(())
}

#[test]
fn single_event_rule_cases() {
    let n = run_group("single");
    assert!(n >= 60, "only {n} single-event cases found");
}

#[test]
fn stateful_attack_story_cases() {
    let n = run_group("stateful");
    assert!(n >= 40, "only {n} stateful cases found");
}

#[test]
fn host_record_cases() {
    let n = run_group("hosts");
    assert!(n >= 5, "only {n} host record cases found");
}
