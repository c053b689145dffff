//! `jcdetect bench`: its JSON result names every field, and counts what the filter does on the
//! same input; `--wasm` fails clearly until the WASM host exists (issue 6).

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jcdetect"))
}

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/example.ndjson");

fn bench_json(args: &[&str]) -> serde_json::Value {
    let out = bin()
        .arg("bench")
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench {args:?} failed: {stderr}");
    // Not a terminal here: no progress bar, nothing on stderr.
    assert!(stderr.is_empty(), "unexpected stderr: {stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.lines().count(),
        1,
        "one JSON object on one line: {text}"
    );
    serde_json::from_str(&text).unwrap()
}

/// (events, alerts) as the filter counts them on `args`.
fn filter_counts(args: &[&str]) -> (u64, u64) {
    // Unique per call: tests run in parallel threads of one process.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let stats = std::env::temp_dir().join(format!(
        "jcdetect-bench-cli-{}-{n}.json",
        std::process::id()
    ));
    let out = bin()
        .args(args)
        .arg("--quiet")
        .arg("--stats-json")
        .arg(&stats)
        .arg(EXAMPLE)
        .output()
        .unwrap();
    assert!(out.status.success());
    let alerts = String::from_utf8(out.stdout).unwrap().lines().count() as u64;
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let _ = std::fs::remove_file(&stats);
    assert_eq!(s["alerts_total"].as_u64(), Some(alerts));
    (s["events"].as_u64().unwrap(), alerts)
}

#[test]
fn json_result_has_every_field_and_matches_the_filter() {
    let v = bench_json(&[EXAMPLE]);
    for key in [
        "files",
        "format",
        "engine",
        "repeat",
        "lines",
        "events",
        "bad_lines",
        "bytes",
        "output_bytes",
        "wall_secs",
        "best_pass_secs",
        "events_per_sec",
        "mb_per_sec",
        "alerts_total",
        "alerts",
        "peak_rss_bytes",
        "first_event_secs",
        "load_secs",
    ] {
        assert!(v.get(key).is_some(), "field `{key}` in {v}");
    }
    let (events, alerts) = filter_counts(&[]);
    assert!(events > 0 && alerts > 0);
    assert_eq!(v["events"].as_u64(), Some(events));
    assert_eq!(v["alerts_total"].as_u64(), Some(alerts));
    let by_rule: u64 = v["alerts"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(by_rule, alerts);
    assert_eq!(
        v["bytes"].as_u64(),
        Some(std::fs::metadata(EXAMPLE).unwrap().len())
    );
    assert_eq!(v["lines"].as_u64(), Some(32));
    assert_eq!(v["format"], "ecs");
    assert!(v["wall_secs"].as_f64().unwrap() > 0.0);
    assert!(v["events_per_sec"].as_f64().unwrap() > 0.0);
    assert!(v["output_bytes"].as_u64().unwrap() > 0);
    assert!(v["first_event_secs"].as_f64().unwrap() > 0.0);
    if cfg!(target_os = "linux") {
        assert!(v["peak_rss_bytes"].as_u64().unwrap() > 0);
    }
}

#[test]
fn ocsf_and_repeat_count_every_pass() {
    let v = bench_json(&["--format", "ocsf", "--repeat", "3", EXAMPLE]);
    let (events, alerts) = filter_counts(&["--format", "ocsf"]);
    assert_eq!(v["format"], "ocsf");
    assert_eq!(v["repeat"].as_u64(), Some(3));
    assert_eq!(v["events"].as_u64(), Some(3 * events));
    assert_eq!(v["alerts_total"].as_u64(), Some(3 * alerts));
}

#[test]
fn text_result_names_the_figures() {
    let out = bin().args(["bench", EXAMPLE]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for label in [
        "events",
        "bytes",
        "wall",
        "events/s",
        "MB/s",
        "alerts",
        "peak RSS",
        "first event",
    ] {
        assert!(text.contains(label), "`{label}` in:\n{text}");
    }
}

/// `--wasm` needs the `wasm-host` feature; with it, a missing module is a usage error (the
/// WASM bench itself is checked in `tests/wasm_parity.rs`).
#[test]
fn wasm_without_a_module_exits_2() {
    let out = bin()
        .args(["bench", "--wasm", "/nonexistent/jcdetect.wasm", EXAMPLE])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    let want = if cfg!(feature = "wasm-host") {
        "cannot load wasm module: /nonexistent/jcdetect.wasm"
    } else {
        "jcdetect was built without the `wasm-host` feature"
    };
    assert!(err.contains(want), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["bench"][..],
        &["bench", "--repeat", "0", EXAMPLE],
        &["bench", "--format", "xml", EXAMPLE],
        &["bench", "--bogus", EXAMPLE],
        &["bench", "/nonexistent/events.ndjson"],
    ] {
        let out = bin().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?} explains itself");
    }
}
