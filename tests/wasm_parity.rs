//! The WASM module against the native engine (feature `wasm-host`): `jcdetect --wasm` must
//! write byte-identical output, diagnostics, summary and `--stats-json` to native `jcdetect`;
//! the Fluent Bit entry point is driven the way `filter_wasm.c` drives it; the host's memory
//! and time bounds end a run cleanly.
//!
//! The modules are built here (once per test binary) when missing or older than the sources:
//! `wasm/build.sh`, or `cargo build --manifest-path wasm/Cargo.toml --release --target ...`.
//! `JCDETECT_WASM_WASIP1` / `JCDETECT_WASM_UNKNOWN` name prebuilt modules instead.
//!
//! Over 800 lines: module building, the wasmtime harness of Fluent Bit's call sequence and
//! the parity cases share their helpers (one build of the modules per test binary).
#![cfg(feature = "wasm-host")]

mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

const BIN: &str = env!("CARGO_BIN_EXE_jcdetect");

// ---------------------------------------------------------------------------------------
// Building the modules

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavour {
    /// `wasm32-wasip1`, run with WASI preview 1 linked.
    Wasip1,
    /// `wasm32-unknown-unknown`: no imports at all.
    Unknown,
    /// `wasm32-wasip1` without SIMD, the build for Fluent Bit (`target/fluentbit/`).
    FluentBit,
}

impl Flavour {
    fn target(self) -> &'static str {
        match self {
            Flavour::Wasip1 => "wasm32-wasip1",
            Flavour::Unknown => "wasm32-unknown-unknown",
            Flavour::FluentBit => "wasm32-wasip1",
        }
    }
    /// Under `wasm/target/`.
    fn dir(self) -> &'static str {
        match self {
            Flavour::Wasip1 => "wasm32-wasip1",
            Flavour::Unknown => "wasm32-unknown-unknown",
            Flavour::FluentBit => "fluentbit/wasm32-wasip1",
        }
    }
    fn env(self) -> &'static str {
        match self {
            Flavour::Wasip1 => "JCDETECT_WASM_WASIP1",
            Flavour::Unknown => "JCDETECT_WASM_UNKNOWN",
            Flavour::FluentBit => "JCDETECT_WASM_FLUENTBIT",
        }
    }
}

fn newest_mtime(dir: &Path, newest: &mut SystemTime) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        if p.is_dir() {
            newest_mtime(&p, newest);
        } else if let Ok(t) = e.metadata().and_then(|m| m.modified()) {
            *newest = (*newest).max(t);
        }
    }
}

/// The newest modification time among the sources the module is built from (not the
/// generated `wasm/pkg/` or anything under a `target/`).
fn sources_mtime() -> SystemTime {
    let root = common::root();
    let mut t = SystemTime::UNIX_EPOCH;
    newest_mtime(&root.join("src"), &mut t);
    newest_mtime(&root.join("wasm/src"), &mut t);
    newest_mtime(&root.join("wasm/.cargo"), &mut t);
    for f in [
        "Cargo.toml",
        "Cargo.lock",
        "wasm/Cargo.toml",
        "wasm/Cargo.lock",
        "wasm/build.rs",
        "wasm/build.sh",
    ] {
        if let Ok(m) = std::fs::metadata(root.join(f)).and_then(|m| m.modified()) {
            t = t.max(m);
        }
    }
    t
}

fn build(flavour: Flavour) {
    let root = common::root();
    let wasm = root.join("wasm");
    assert!(
        wasm.join("Cargo.toml").exists(),
        "wasm/Cargo.toml is missing"
    );
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    assert!(
        installed.lines().any(|l| l.trim() == flavour.target()),
        "the Rust target {t} is not installed: run `rustup target add {t}` \
         (or set {} to a prebuilt module)",
        flavour.env(),
        t = flavour.target()
    );
    let mut cmd = if wasm.join("build.sh").exists() {
        // The core modules only (the JS package needs wasm-bindgen-cli and is not used here).
        let mut c = Command::new("bash");
        c.arg(wasm.join("build.sh")).arg("--no-js");
        c
    } else {
        let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        c.args([
            "build",
            "--release",
            "--target",
            flavour.target(),
            "--manifest-path",
        ])
        .arg(wasm.join("Cargo.toml"));
        c
    };
    // The outer `cargo test` sets variables meant for this package only.
    for (k, _) in std::env::vars() {
        if k.starts_with("CARGO_") && k != "CARGO_HOME" {
            cmd.env_remove(k);
        }
    }
    eprintln!("wasm_parity: building the module: {cmd:?}");
    let status = cmd.current_dir(&root).status().expect("run the WASM build");
    assert!(status.success(), "building the WASM module failed: {cmd:?}");
}

/// The module of `flavour`, built first if missing or stale (once per test binary).
fn module(flavour: Flavour) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    static PATHS: OnceLock<Mutex<BTreeMap<&'static str, PathBuf>>> = OnceLock::new();
    let paths = PATHS.get_or_init(Default::default);
    if let Some(p) = paths.lock().unwrap().get(flavour.dir()) {
        return p.clone();
    }
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = paths.lock().unwrap().get(flavour.dir()) {
        return p.clone();
    }
    let path = match std::env::var_os(flavour.env()) {
        Some(p) => PathBuf::from(p),
        None => {
            let p = common::root()
                .join("wasm/target")
                .join(flavour.dir())
                .join("release/jcdetect_wasm.wasm");
            let stale = match std::fs::metadata(&p).and_then(|m| m.modified()) {
                Ok(t) => t < sources_mtime(),
                Err(_) => true,
            };
            if stale {
                build(flavour);
                // Cargo leaves an artifact that was already fresh untouched: mark it checked.
                if let Ok(f) = std::fs::File::options().append(true).open(&p) {
                    let _ = f.set_modified(SystemTime::now());
                }
            }
            assert!(p.exists(), "the build did not produce {}", p.display());
            p
        }
    };
    paths.lock().unwrap().insert(flavour.dir(), path.clone());
    path
}

/// The core modules for wasmtime hosts.
const FLAVOURS: [Flavour; 2] = [Flavour::Wasip1, Flavour::Unknown];

/// Whether the module exports `name`.
fn exports(flavour: Flavour, name: &str) -> bool {
    let engine = wasmtime::Engine::default();
    let m = wasmtime::Module::from_file(&engine, module(flavour)).expect("compile the module");
    let found = m.exports().any(|e| e.name() == name);
    found
}

// ---------------------------------------------------------------------------------------
// Running the binary

struct Out {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
    stats: String,
}

fn tmp(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("jcdetect-wasm-{}-{n}-{name}", std::process::id()))
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Out {
    let stats = tmp("stats.json");
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .arg("--stats-json")
        .arg(&stats)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn jcdetect");
    if let Some(input) = stdin {
        let mut w = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = w.write_all(&input);
        });
    }
    let o = child.wait_with_output().expect("wait for jcdetect");
    let stats_text = std::fs::read_to_string(&stats).unwrap_or_default();
    let _ = std::fs::remove_file(&stats);
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!stderr.contains("panicked"), "jcdetect panicked:\n{stderr}");
    Out {
        code: o.status.code().expect("exited, not killed by a signal"),
        stdout: o.stdout,
        stderr,
        stats: stats_text,
    }
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            let cut = |s: &str| s.chars().take(600).collect::<String>();
            return format!(
                "first difference at output line {}:\nnative: {}\nwasm:   {}",
                i + 1,
                cut(x),
                cut(y)
            );
        }
    }
    format!(
        "native has {} lines, wasm {}",
        a.lines().count(),
        b.lines().count()
    )
}

/// Native and `--wasm` runs of the same arguments agree byte for byte on stdout, stderr
/// (diagnostics with their line numbers, and the summary), exit status and `--stats-json`.
/// Returns the native run.
fn assert_parity(flavour: Flavour, what: &str, args: &[&str], stdin: Option<&[u8]>) -> Out {
    let native = run(args, stdin);
    let m = module(flavour);
    let mut wargs = vec!["--wasm", m.to_str().unwrap()];
    wargs.extend_from_slice(args);
    let wasm = run(&wargs, stdin);
    let ctx = format!("{what} ({flavour:?}, args {args:?})");
    assert_eq!(native.code, 0, "{ctx}: native failed:\n{}", native.stderr);
    assert_eq!(
        wasm.code, native.code,
        "{ctx}: exit status; wasm stderr:\n{}",
        wasm.stderr
    );
    assert!(
        wasm.stdout == native.stdout,
        "{ctx}: stdout differs ({} vs {} bytes); {}",
        native.stdout.len(),
        wasm.stdout.len(),
        first_difference(&native.stdout, &wasm.stdout)
    );
    assert_eq!(wasm.stderr, native.stderr, "{ctx}: stderr differs");
    assert!(!native.stats.is_empty(), "{ctx}: no --stats-json written");
    assert_eq!(wasm.stats, native.stats, "{ctx}: --stats-json differs");
    native
}

const MODES: [&[&str]; 4] = [
    &["--format", "ecs"],
    &["--format", "ocsf"],
    &["--format", "ecs", "--emit", "all"],
    &["--format", "ocsf", "--emit", "all"],
];

fn with(mode: &[&str], files: &[String]) -> Vec<String> {
    mode.iter()
        .map(|s| s.to_string())
        .chain(files.iter().cloned())
        .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn files_under(dir: &Path, name_ends: &str, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, name_ends, out);
        } else if p.to_string_lossy().ends_with(name_ends) {
            out.push(p);
        }
    }
}

fn path_strings(v: &[PathBuf]) -> Vec<String> {
    v.iter().map(|p| p.to_string_lossy().to_string()).collect()
}

// ---------------------------------------------------------------------------------------
// Parity

#[test]
fn parity_on_bundled_and_shared_samples() {
    let mut files = Vec::new();
    files_under(
        &common::root().join("tests/fixtures/samples"),
        ".ndjson",
        &mut files,
    );
    if let Some(shared) = common::shared_samples() {
        files_under(&shared, ".ndjson", &mut files);
    }
    assert!(files.len() >= 3, "samples not found: {files:?}");
    let files = path_strings(&files);
    let enabled = tmp("login_success.toml");
    std::fs::write(&enabled, "[rules.login_success]\nenabled = true\n").unwrap();
    for flavour in FLAVOURS {
        for mode in MODES {
            assert_parity(flavour, "samples", &strs(&with(mode, &files)), None);
        }
        let mut args = vec![
            "--config".to_string(),
            enabled.to_string_lossy().to_string(),
        ];
        args.extend(with(MODES[2], &files));
        let out = assert_parity(flavour, "samples, login_success", &strs(&args), None);
        assert!(!out.stdout.is_empty());
    }
    let _ = std::fs::remove_file(enabled);
}

#[test]
fn parity_on_folder_cases() {
    // One run per distinct config, its cases' inputs as the FILEs in turn.
    let mut inputs = Vec::new();
    files_under(
        &common::root().join("tests/cases"),
        "input.ndjson",
        &mut inputs,
    );
    assert!(inputs.len() >= 100, "only {} cases", inputs.len());
    // Keyed by the config's text and the case's Sigma rules (the module gets them inline
    // from the CLI, as `[rules] sigma`).
    let mut by_config: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    // Each Sigma case has rules of its own, so a `--wasm` run (and a module compile, ~3 s)
    // each: these cover the inline transport of `--rules`, the detection modifiers, counting
    // and ordered windows and the built-ins beside them; all run natively in tests/cases.rs.
    const SIGMA_CASES: [&str; 4] = [
        "builtin_on__alongside_sigma",
        "detection__modifiers_and_keywords",
        "temporal_ordered__late_middle_link_pos",
        "value_count__spray_pos",
    ];
    for case in SIGMA_CASES {
        let dir = common::root().join("tests/cases/sigma").join(case);
        assert!(dir.join("rules.yml").exists(), "no Sigma case {case}");
    }
    let inputs: Vec<&PathBuf> = inputs
        .iter()
        .filter(|i| {
            let dir = i.parent().unwrap();
            let sigma = dir.parent().is_some_and(|g| g.ends_with("sigma"));
            !sigma || SIGMA_CASES.iter().any(|c| dir.ends_with(c))
        })
        .collect();
    for input in inputs {
        let cfg = input.with_file_name("config.toml");
        let rules = input.with_file_name("rules.yml");
        let rules = if rules.exists() {
            rules.to_string_lossy().to_string()
        } else {
            String::new()
        };
        let key = (std::fs::read_to_string(&cfg).unwrap_or_default(), rules);
        by_config
            .entry(key)
            .or_default()
            .push(input.to_string_lossy().to_string());
    }
    let mut alerts = 0;
    for (f, flavour) in FLAVOURS.into_iter().enumerate() {
        for (i, ((cfg_text, rules), files)) in by_config.iter().enumerate() {
            // The flavours differ in their host interface, not in the engine: both run the
            // default config, and the other configs alternate between them (each `--wasm`
            // run compiles the module, ~1 s of CI each).
            let default = cfg_text.is_empty() && rules.is_empty();
            if !default && i % FLAVOURS.len() != f {
                continue;
            }
            let mut base = Vec::new();
            let cfg_file = tmp(&format!("case{i}.toml"));
            if !cfg_text.is_empty() {
                std::fs::write(&cfg_file, cfg_text).unwrap();
                base = vec!["--config".into(), cfg_file.to_string_lossy().to_string()];
            }
            if !rules.is_empty() {
                base.extend(["--rules".to_string(), rules.clone()]);
            }
            // Every format and emit mode for the default config; OCSF with every event for
            // the others (each `--wasm` run compiles the module: keep the count down).
            let modes: &[&[&str]] = if default { &MODES } else { &[MODES[3]] };
            for mode in modes {
                let mut args = base.clone();
                args.extend(with(mode, files));
                let out = assert_parity(flavour, "cases", &strs(&args), None);
                alerts += out.stdout.iter().filter(|&&b| b == b'\n').count();
            }
            let _ = std::fs::remove_file(&cfg_file);
        }
    }
    assert!(alerts > 100, "the cases raised only {alerts} output lines");
}

#[test]
fn parity_on_test_data() {
    let mut files = Vec::new();
    files_under(&common::root().join("tests/data"), ".ndjson", &mut files);
    let files = path_strings(&files);
    for flavour in FLAVOURS {
        for mode in MODES {
            assert_parity(flavour, "tests/data", &strs(&with(mode, &files)), None);
        }
    }
}

/// `jcdetect generate --events 50000 --seed 3`, written once.
fn replay() -> &'static PathBuf {
    static R: OnceLock<PathBuf> = OnceLock::new();
    R.get_or_init(|| {
        let p = std::env::temp_dir().join(format!(
            "jcdetect-wasm-{}-replay-50000-3.ndjson",
            std::process::id()
        ));
        let o = Command::new(BIN)
            .args(["generate", "--events", "50000", "--seed", "3"])
            .output()
            .expect("jcdetect generate");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::write(&p, &o.stdout).unwrap();
        p
    })
}

#[test]
fn parity_on_generated_replay() {
    let file = replay().to_string_lossy().to_string();
    for flavour in FLAVOURS {
        for mode in MODES {
            let out = assert_parity(
                flavour,
                "replay",
                &strs(&with(mode, std::slice::from_ref(&file))),
                None,
            );
            assert!(!out.stdout.is_empty());
        }
        // From stdin too (chunks of whatever the pipe delivers).
        let data = common::read(replay());
        assert_parity(flavour, "replay on stdin", &["--emit", "all"], Some(&data));
    }
    let _ = std::fs::remove_file(replay());
}

/// `--state` through the module writes the same bytes as native, and a state file moves
/// between the two: a replay cut in two halves, each half run by native or WASM in turn
/// from the other's state, raises exactly the alerts of one native run over the whole.
#[test]
fn state_files_are_the_same_bytes_native_and_wasm() {
    let o = Command::new(BIN)
        .args(["generate", "--events", "20000", "--seed", "5"])
        .output()
        .expect("jcdetect generate");
    assert!(o.status.success());
    let lines: Vec<&[u8]> = o.stdout.split_inclusive(|&b| b == b'\n').collect();
    let (first, second) = lines.split_at(lines.len() / 2);
    let (a, b, all) = (tmp("a.ndjson"), tmp("b.ndjson"), tmp("all.ndjson"));
    std::fs::write(&a, first.concat()).unwrap();
    std::fs::write(&b, second.concat()).unwrap();
    std::fs::write(&all, &o.stdout).unwrap();
    let s = |p: &PathBuf| p.to_str().unwrap().to_string();
    let whole = run(&[&s(&all)], None);
    assert!(whole.stdout.len() > 1000);
    for flavour in FLAVOURS {
        let m = module(flavour);
        let m = m.to_str().unwrap();
        let (sn, sw) = (tmp("native.state"), tmp("wasm.state"));
        let n1 = run(&["--state", &s(&sn), &s(&a)], None);
        let w1 = run(&["--wasm", m, "--state", &s(&sw), &s(&a)], None);
        assert_eq!(w1.code, 0, "{flavour:?}: {}", w1.stderr);
        assert_eq!(w1.stdout, n1.stdout, "{flavour:?}: first half");
        assert!(
            std::fs::read(&sw).unwrap() == std::fs::read(&sn).unwrap(),
            "{flavour:?}: state files differ"
        );
        // Cross over: WASM goes on from the native state, native from the WASM state.
        let w2 = run(&["--wasm", m, "--state", &s(&sn), &s(&b)], None);
        let n2 = run(&["--state", &s(&sw), &s(&b)], None);
        assert_eq!(w2.code, 0, "{flavour:?}: {}", w2.stderr);
        assert!(w2.stderr.contains("state: loaded"), "{}", w2.stderr);
        assert_eq!(w2.stdout, n2.stdout, "{flavour:?}: second half");
        let mut joined = n1.stdout.clone();
        joined.extend_from_slice(&w2.stdout);
        assert!(
            joined == whole.stdout,
            "{flavour:?}: halves differ from the whole"
        );
        let _ = std::fs::remove_file(&sn);
        let _ = std::fs::remove_file(&sw);
    }
    for p in [a, b, all] {
        let _ = std::fs::remove_file(p);
    }
}

/// Every diagnostic code, CRLF, a BOM, arrays, a final line without a newline, a line over
/// the limit, over two files (line numbers restart per file).
#[test]
fn parity_on_bad_lines() {
    let good = r#"{"id":"a1","event_type":"policy_delete","service":"directory","timestamp":"2024-05-01T10:00:00Z"}"#;
    let mut a: Vec<u8> = Vec::new();
    a.extend_from_slice(b"\xEF\xBB\xBF");
    a.extend_from_slice(good.as_bytes());
    a.extend_from_slice(b"\r\n");
    a.extend_from_slice(b"\n");
    a.extend_from_slice(b"   \t\n");
    a.extend_from_slice(b"{\"id\":\"x\xff\"}\n");
    a.extend_from_slice(b"{\"id\":\n");
    a.extend_from_slice(b"[1,2]\n");
    a.extend_from_slice(b"42\n");
    a.extend_from_slice(b"\"text\"\n");
    a.extend_from_slice(
        br#"{"id":"w","event_type":7,"service":"directory","timestamp":"2024-05-01T10:00:01Z"}"#,
    );
    a.push(b'\n');
    a.extend_from_slice(br#"{"id":"m","event_type":"policy_delete","service":"directory"}"#);
    a.push(b'\n');
    a.extend_from_slice(
        br#"{"id":"b","event_type":"policy_delete","service":"directory","timestamp":"yesterday"}"#,
    );
    a.push(b'\n');
    a.extend_from_slice(format!("[{good},{good},3]\n").as_bytes());
    // Host records: Vector's own (not a DI event) and Fluent Bit's wrappers of a rejected line.
    a.extend_from_slice(br#"{"message":"{\"id\":","host":"h","timestamp":"2024-05-01T10:30:00Z"}"#);
    a.push(b'\n');
    let wrapped = serde_json::json!({ "log": format!("[{good},{good}]") }).to_string();
    a.extend_from_slice(wrapped.as_bytes());
    a.push(b'\n');
    a.extend_from_slice(br#"{"log":"not json","jcdetect":{"x":1}}"#);
    a.push(b'\n');
    a.extend_from_slice(&vec![b'x'; 3000]);
    a.push(b'\n');
    a.extend_from_slice(good.as_bytes()); // no final newline
    let fa = tmp("bad-a.ndjson");
    std::fs::write(&fa, &a).unwrap();
    let fb = tmp("bad-b.ndjson");
    std::fs::write(&fb, b"{not json\n\n{\"id\":\"c\"}\n{\"unterminated\":").unwrap();
    let files = path_strings(&[fa.clone(), fb.clone()]);
    for flavour in FLAVOURS {
        for mode in [MODES[0], MODES[3]] {
            let native = assert_parity(flavour, "bad lines", &strs(&with(mode, &files)), None);
            for code in [
                "invalid_utf8",
                "invalid_json",
                "not_an_object",
                "not_a_di_event",
                "empty_line",
                "wrong_field_type",
                "missing_timestamp",
                "bad_timestamp",
            ] {
                assert!(
                    native.stderr.contains(code),
                    "no {code} in:\n{}",
                    native.stderr
                );
            }
            assert!(
                native.stderr.contains("bad-b.ndjson:line 1: invalid_json"),
                "{}",
                native.stderr
            );
        }
        // The line limit is a host option passed on to the module, through the optional
        // export `jcdetect_set_max_line_bytes`; without it the host refuses the option.
        let args = with(&["--max-line-bytes", "2000", "--emit", "all"], &files);
        if exports(flavour, "jcdetect_set_max_line_bytes") {
            let native = assert_parity(flavour, "bad lines, --max-line-bytes", &strs(&args), None);
            assert!(native.stderr.contains("line_too_long"), "{}", native.stderr);
        } else {
            let m = module(flavour);
            let mut wargs = vec!["--wasm", m.to_str().unwrap()];
            wargs.extend(strs(&args));
            let out = run(&wargs, None);
            assert_eq!(out.code, 2, "{flavour:?}: {}", out.stderr);
            assert!(
                out.stderr.contains("--max-line-bytes needs the export"),
                "{flavour:?}: {}",
                out.stderr
            );
            assert!(out.stdout.is_empty());
        }
        // And from stdin.
        assert_parity(flavour, "bad lines on stdin", &["--emit", "all"], Some(&a));
    }
    let _ = std::fs::remove_file(fa);
    let _ = std::fs::remove_file(fb);
}

// ---------------------------------------------------------------------------------------
// Bounds and failures

#[test]
fn module_that_cannot_grow_its_memory_fails_cleanly() {
    let cfg = tmp("mem64.toml");
    std::fs::write(&cfg, "[state]\nmemory_mb = 64\n").unwrap();
    let file = replay().to_string_lossy().to_string();
    for flavour in FLAVOURS {
        let m = module(flavour);
        let out = run(
            &[
                "--wasm",
                m.to_str().unwrap(),
                "--wasm-memory-mb",
                "16",
                "--config",
                cfg.to_str().unwrap(),
                &file,
            ],
            None,
        );
        assert_eq!(out.code, 1, "{flavour:?}: stderr:\n{}", out.stderr);
        assert!(
            out.stderr.contains("jcdetect: wasm module trapped:")
                && out.stderr.contains("--wasm-memory-mb"),
            "{flavour:?}: {}",
            out.stderr
        );
        // The same run with room enough succeeds.
        let ok = run(
            &[
                "--wasm",
                m.to_str().unwrap(),
                "--config",
                cfg.to_str().unwrap(),
                &file,
            ],
            None,
        );
        assert_eq!(ok.code, 0, "{flavour:?}: {}", ok.stderr);
    }
    let _ = std::fs::remove_file(cfg);
}

#[test]
fn call_over_the_time_bound_traps_cleanly() {
    // One line holding a ~15 MB array of events: a single `jcdetect_process` call that runs
    // far longer than 20 ms (about a second).
    let data = common::read(replay());
    let mut line = Vec::with_capacity(16 << 20);
    line.push(b'[');
    for l in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if line.len() + l.len() > 15 << 20 {
            break;
        }
        if line.len() > 1 {
            line.push(b',');
        }
        line.extend_from_slice(l);
    }
    line.extend_from_slice(b"]\n");
    let file = tmp("array.ndjson");
    std::fs::write(&file, &line).unwrap();
    for flavour in FLAVOURS {
        let m = module(flavour);
        let out = run(
            &[
                "--wasm",
                m.to_str().unwrap(),
                "--wasm-timeout-ms",
                "20",
                file.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(out.code, 1, "{flavour:?}: stderr:\n{}", out.stderr);
        assert!(
            out.stderr.contains("jcdetect: wasm module trapped:")
                && out
                    .stderr
                    .contains("jcdetect_process: the call ran longer than the time bound of 20 ms"),
            "{flavour:?}: {}",
            out.stderr
        );
        // The default bound lets the same input through.
        let ok = run(
            &["--wasm", m.to_str().unwrap(), file.to_str().unwrap()],
            None,
        );
        assert_eq!(ok.code, 0, "{flavour:?}: {}", ok.stderr);
    }
    let _ = std::fs::remove_file(file);
}

#[test]
fn missing_or_broken_module_is_a_usage_error() {
    let out = run(&["--wasm", "/nonexistent/jcdetect.wasm"], Some(b""));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot load wasm module"),
        "{}",
        out.stderr
    );
    let junk = tmp("junk.wasm");
    std::fs::write(&junk, b"\0asm junk").unwrap();
    let out = run(&["--wasm", junk.to_str().unwrap()], Some(b""));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot load wasm module"),
        "{}",
        out.stderr
    );
    let _ = std::fs::remove_file(junk);
}

#[test]
fn bench_runs_the_module() {
    let file = replay().to_string_lossy().to_string();
    let m = module(Flavour::Wasip1);
    let mut counts = Vec::new();
    for extra in [vec![], vec!["--wasm", m.to_str().unwrap()]] {
        let mut args = vec!["bench", "--json"];
        args.extend(extra);
        args.push(&file);
        let o = Command::new(BIN)
            .args(&args)
            .output()
            .expect("jcdetect bench");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).expect("bench --json");
        counts.push((
            v["engine"].clone(),
            v["events"].clone(),
            v["alerts"].clone(),
            v["output_bytes"].clone(),
        ));
    }
    assert_eq!(counts[0].0, "native");
    assert_eq!(counts[1].0, "wasm");
    assert_eq!(counts[0].1, counts[1].1);
    assert_eq!(counts[0].2, counts[1].2);
    assert_eq!(counts[0].3, counts[1].3);
}

// ---------------------------------------------------------------------------------------
// Fluent Bit's call sequence, with the wasmtime crate

/// The module instantiated as Fluent Bit's `filter_wasm` uses it.
struct FluentBit {
    store: wasmtime::Store<wasmtime_wasi::preview1::WasiP1Ctx>,
    memory: wasmtime::Memory,
    malloc: wasmtime::TypedFunc<i32, i32>,
    free: wasmtime::TypedFunc<i32, ()>,
    filter: wasmtime::TypedFunc<(i32, i32, i32, i32, i32, i32), i32>,
}

impl FluentBit {
    fn new(flavour: Flavour) -> FluentBit {
        FluentBit::with_dirs(flavour, &[])
    }

    /// With these `(guest, host)` directories preopened, as Fluent Bit's `Accessible_Paths`.
    fn with_dirs(flavour: Flavour, dirs: &[(&str, &Path)]) -> FluentBit {
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::from_file(&engine, module(flavour)).expect("compile");
        let mut linker = wasmtime::Linker::new(&engine);
        wasmtime_wasi::preview1::add_to_linker_sync(&mut linker, |s| s).unwrap();
        let mut builder = wasmtime_wasi::p2::WasiCtxBuilder::new();
        builder.inherit_stderr();
        for (guest, host) in dirs {
            builder
                .preopened_dir(
                    host,
                    guest,
                    wasmtime_wasi::DirPerms::all(),
                    wasmtime_wasi::FilePerms::all(),
                )
                .expect("preopen");
        }
        let wasi = builder.build_p1();
        let mut store = wasmtime::Store::new(&engine, wasi);
        let instance = linker
            .instantiate(&mut store, &module)
            .expect("instantiate");
        if let Some(init) = instance.get_func(&mut store, "_initialize") {
            init.call(&mut store, &[], &mut []).expect("_initialize");
        }
        FluentBit {
            memory: instance.get_memory(&mut store, "memory").expect("memory"),
            malloc: instance
                .get_typed_func(&mut store, "malloc")
                .expect("malloc"),
            free: instance.get_typed_func(&mut store, "free").expect("free"),
            filter: instance
                .get_typed_func(&mut store, "jcdetect_filter")
                .expect("jcdetect_filter"),
            store,
        }
    }

    /// `wasm_runtime_module_dup_data`: malloc, then copy `data` and a NUL.
    fn dup(&mut self, data: &[u8]) -> i32 {
        let p = self
            .malloc
            .call(&mut self.store, data.len() as i32 + 1)
            .expect("malloc");
        assert_ne!(p, 0, "malloc failed");
        let mut buf = data.to_vec();
        buf.push(0);
        self.memory
            .write(&mut self.store, p as usize, &buf)
            .unwrap();
        p
    }

    fn c_string(&self, p: i32) -> String {
        let mem = self.memory.data(&self.store);
        let start = p as usize;
        let len = mem[start..]
            .iter()
            .position(|&b| b == 0)
            .expect("NUL-terminated output");
        String::from_utf8(mem[start..start + len].to_vec()).expect("UTF-8 output")
    }

    /// One record through `flb_wasm_call_function_format_json`.
    fn call(&mut self, tag: &str, sec: u32, nsec: u32, record: &[u8]) -> String {
        let t = self.dup(tag.as_bytes());
        let r = self.dup(record);
        let out = self
            .filter
            .call(
                &mut self.store,
                (
                    t,
                    tag.len() as i32,
                    sec as i32,
                    nsec as i32,
                    r,
                    record.len() as i32,
                ),
            )
            .expect("jcdetect_filter trapped");
        let text = self.c_string(out);
        self.free.call(&mut self.store, t).unwrap();
        self.free.call(&mut self.store, r).unwrap();
        text
    }

    fn call_null(&mut self, tag: &str) -> String {
        let t = self.dup(tag.as_bytes());
        let out = self
            .filter
            .call(&mut self.store, (t, tag.len() as i32, 0, 0, 0, 0))
            .expect("a null record must not trap");
        let text = self.c_string(out);
        self.free.call(&mut self.store, t).unwrap();
        text
    }
}

/// The `jcdetect.alerts` of a filter output (none for a dropped record).
fn filter_alerts(out: &str) -> Vec<Value> {
    if out.is_empty() {
        return Vec::new();
    }
    let v: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"));
    assert!(v.is_object(), "not a JSON object: {out}");
    v["jcdetect"]["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn native_alerts(lines: &[&[u8]]) -> Vec<Value> {
    let mut input = Vec::new();
    for l in lines {
        input.extend_from_slice(l);
        input.push(b'\n');
    }
    let (out, _) = common::run(
        &jcdetect::Config::default(),
        jcdetect::Options::default(),
        &input,
    );
    out.iter()
        .map(|l| serde_json::from_str(l).expect("alert JSON"))
        .collect()
}

#[test]
fn fluent_bit_call_sequence() {
    let o = Command::new(BIN)
        .args(["generate", "--events", "3000", "--seed", "11"])
        .output()
        .expect("generate");
    assert!(o.status.success());
    let lines: Vec<&[u8]> = o
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let want = native_alerts(&lines);
    assert!(!want.is_empty(), "the stream raises no alert");
    for flavour in [Flavour::FluentBit, Flavour::Wasip1, Flavour::Unknown] {
        let mut fb = FluentBit::new(flavour);
        let mut got = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let out = fb.call("jumpcloud.di", 1_700_000_000 + i as u32, 0, l);
            assert!(
                !out.is_empty(),
                "{flavour:?}: the default mode keeps every event"
            );
            let v: Value = serde_json::from_str(&out).expect("output JSON");
            assert!(v["jcdetect"]["category"].is_string(), "{flavour:?}: {out}");
            got.extend(filter_alerts(&out));
        }
        assert_eq!(got.len(), want.len(), "{flavour:?}: alert count");
        assert!(
            got == want,
            "{flavour:?}: the filter's alerts differ from native"
        );

        // Alerts-only mode (a first, control record holding the config): records without
        // alerts are dropped.
        let mut fb = FluentBit::new(flavour);
        let control = br#"{"jcdetect_config":"[fluentbit]\noutput = \"alerts\"\n"}"#;
        assert_eq!(fb.call("jumpcloud.di", 1_700_000_000, 0, control), "");
        let mut got = Vec::new();
        let mut dropped = 0;
        for (i, l) in lines.iter().enumerate() {
            let out = fb.call("jumpcloud.di", 1_700_000_000 + i as u32, 0, l);
            dropped += usize::from(out.is_empty());
            got.extend(filter_alerts(&out));
        }
        assert!(
            dropped > lines.len() / 2,
            "{flavour:?}: only {dropped} dropped"
        );
        assert!(
            got == want,
            "{flavour:?}: alerts-only mode differs from native"
        );

        // State persists across calls: a spray over 16 separate calls fires once.
        let case = common::root().join("tests/cases/stateful/password_spray__pos_16_users_5min");
        let spray = common::read(&case.join("input.ndjson"));
        let spray_lines: Vec<&[u8]> = spray
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        assert!(spray_lines.len() >= 16);
        let mut fb = FluentBit::new(flavour);
        let mut fired = Vec::new();
        for l in &spray_lines {
            for a in filter_alerts(&fb.call("jumpcloud.di", 1_700_000_000, 0, l)) {
                fired.push(a["rule"]["id"].as_str().unwrap_or_default().to_string());
            }
        }
        assert_eq!(fired, ["password_spray_from_ip"], "{flavour:?}");

        // A record without `timestamp` takes the Fluent Bit time.
        let rec = br#"{"id":"nt1","event_type":"policy_delete","service":"directory"}"#;
        let alerts = filter_alerts(&fb.call("jumpcloud.di", 1_700_000_000, 500_000_000, rec));
        assert_eq!(alerts.len(), 1, "{flavour:?}");
        let ts = alerts[0]["@timestamp"].as_str().unwrap_or_default();
        assert!(
            ts.starts_with("2023-11-14T22:13:20.5"),
            "{flavour:?}: @timestamp {ts}"
        );

        // A null record pointer (Fluent Bit's failed allocation) neither traps nor breaks
        // the instance.
        let out = fb.call_null("jumpcloud.di");
        assert!(out.is_empty() || out.starts_with('{'), "{flavour:?}: {out}");
        let again = fb.call("jumpcloud.di", 1_700_000_001, 0, rec);
        assert_eq!(filter_alerts(&again).len(), 1, "{flavour:?}: {again}");
    }
}

// ---------------------------------------------------------------------------------------
// The Fluent Bit module's files: config and checkpoints through WASI preopened directories
// (Fluent Bit's `Accessible_Paths`). These ran under Node's WASI until Node 20's
// implementation crashed the test process at random (a uvwasi memory assertion at GC).

/// A fresh directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("jcdetect-fb-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const DELETE: &[u8] = br#"{"id":"1","event_type":"policy_delete","service":"directory","timestamp":"2024-05-01T10:00:00Z"}"#;
const LOGIN: &[u8] = br#"{"id":"2","event_type":"user_login_attempt","service":"directory","timestamp":"2024-05-01T10:00:01Z","success":true}"#;

#[test]
fn fluent_bit_module_reads_its_config_from_a_preopened_directory() {
    let etc = Scratch::new("etc");
    std::fs::write(
        etc.0.join("jcdetect.toml"),
        "[fluentbit]\noutput = \"alerts\"\n[rules.policy_deleted]\nseverity = \"low\"\n",
    )
    .unwrap();
    // The first preopened directory has no config; the second one's is used.
    let empty = Scratch::new("empty");
    let mut fb = FluentBit::with_dirs(
        Flavour::FluentBit,
        &[("/var/empty", &empty.0), ("/etc/jcdetect", &etc.0)],
    );
    assert_eq!(
        fb.call("jumpcloud.di", 1_714_557_600, 0, LOGIN),
        "",
        "alerts mode drops events that fired nothing"
    );
    let out: Value = serde_json::from_str(&fb.call("jumpcloud.di", 1_714_557_600, 0, DELETE))
        .expect("output JSON");
    let alert = &out["jcdetect"]["alerts"][0];
    assert_eq!(alert["rule"]["id"], "policy_deleted");
    assert_eq!(
        alert["event"]["risk_score"], 21,
        "the configured severity (low)"
    );

    // Without a config file the defaults run and every event comes out.
    let mut fb = FluentBit::with_dirs(Flavour::FluentBit, &[("/etc/jcdetect", &empty.0)]);
    let login: Value =
        serde_json::from_str(&fb.call("jumpcloud.di", 1_714_557_600, 0, LOGIN)).unwrap();
    assert_eq!(login["jcdetect"]["alerts"], serde_json::json!([]));
    let delete: Value =
        serde_json::from_str(&fb.call("jumpcloud.di", 1_714_557_600, 0, DELETE)).unwrap();
    assert_eq!(delete["jcdetect"]["rules"][0], "policy_deleted");
}

#[test]
fn fluent_bit_module_checkpoints_and_a_new_instance_restores() {
    let etc = Scratch::new("etc");
    let var = Scratch::new("var");
    std::fs::write(
        etc.0.join("jcdetect.toml"),
        "[fluentbit]\nstate = \"/srv/jc-state/fb.state\"\ncheckpoint_records = 2\n",
    )
    .unwrap();
    let dirs: [(&str, &Path); 2] = [("/opt/jc-etc", &etc.0), ("/srv/jc-state", &var.0)];
    let failure = |i: u32| {
        format!(
            r#"{{"id":"f{i}","event_type":"user_login_attempt","service":"directory","success":false,"client_ip":"203.0.113.5","initiated_by":{{"type":"user","username":"user{i}"}},"timestamp":"2024-05-01T09:30:{:02}Z"}}"#,
            i * 3
        )
    };
    let rules = |out: String| -> Vec<String> {
        filter_alerts(&out)
            .iter()
            .map(|a| a["rule"]["id"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let mut fb = FluentBit::with_dirs(Flavour::FluentBit, &dirs);
    for i in 0..12 {
        let fired = rules(fb.call("jumpcloud.di", 1_714_557_600, 0, failure(i).as_bytes()));
        assert!(fired.is_empty(), "failure {i}: {fired:?}");
    }
    assert!(var.0.join("fb.state").exists(), "checkpoint written");
    assert!(!var.0.join("fb.state.tmp").exists(), "renamed into place");

    // The last four failures, in a new instance (a restart).
    let restart_with_four_more = || {
        let mut fb = FluentBit::with_dirs(Flavour::FluentBit, &dirs);
        (12..16)
            .flat_map(|i| rules(fb.call("jumpcloud.di", 1_714_557_600, 0, failure(i).as_bytes())))
            .collect::<Vec<_>>()
    };
    // The spray crosses its threshold on the restored windows.
    let fired = restart_with_four_more();
    assert_eq!(fired, ["password_spray_from_ip"]);

    // Without the checkpoint the same four failures stay below the threshold.
    std::fs::remove_file(var.0.join("fb.state")).unwrap();
    let fired = restart_with_four_more();
    assert!(fired.is_empty(), "{fired:?}");
}

/// The user's path: a directory holding a Sigma file with a single-event rule and a
/// `value_count` correlation is checked, then run natively, under `--wasm` and in the Fluent
/// Bit module (its config's `[rules] paths`, read through `Accessible_Paths`), with the same
/// alerts everywhere (wasm/test/js.test.mjs runs it from JavaScript).
#[test]
fn sigma_rules_dropped_in_a_directory_run_the_same_everywhere() {
    let dir = common::root().join("tests/data/sigma/rules");
    let events = common::root().join("tests/data/sigma/events.ndjson");
    let (dir_s, events_s) = (dir.to_str().unwrap(), events.to_str().unwrap());
    let check = Command::new(BIN)
        .args(["rules", "--check", dir_s])
        .output()
        .expect("rules --check");
    assert!(check.status.success(), "{check:?}");
    assert!(String::from_utf8_lossy(&check.stdout).contains("no problems"));

    // Native, and the core modules under wasmtime, byte for byte.
    let mut native = Vec::new();
    for flavour in FLAVOURS {
        let out = assert_parity(flavour, "sigma", &["--rules", dir_s, events_s], None);
        native = out.stdout;
    }
    let native: Vec<Value> = String::from_utf8_lossy(&native)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = native
        .iter()
        .map(|a| a["rule"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["portal_spray", "admin_login_offsite"]);
    assert_eq!(native[0]["jcdetect"]["group_key"], "203.0.113.50");
    assert_eq!(
        native[0]["rule"]["uuid"],
        "8a9b0c1d-2e3f-4a5b-9c6d-7e8f9a0b1c2d"
    );
    assert_eq!(
        native[0]["threat"]["technique"]["subtechnique"]["id"][0],
        "T1110.003"
    );

    // The Fluent Bit module: jcdetect.toml names the rules directory beside it.
    let etc = Scratch::new("sigma");
    std::fs::write(
        etc.0.join("jcdetect.toml"),
        "[fluentbit]\noutput = \"alerts\"\n[rules]\npaths = [\"rules\"]\n",
    )
    .unwrap();
    std::fs::create_dir(etc.0.join("rules")).unwrap();
    std::fs::copy(dir.join("portal.yml"), etc.0.join("rules/portal.yml")).unwrap();
    let mut fb = FluentBit::with_dirs(Flavour::FluentBit, &[("/etc/jcdetect", &etc.0)]);
    let mut got = Vec::new();
    for line in common::read(&events)
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
    {
        got.extend(filter_alerts(&fb.call(
            "jumpcloud.di",
            1_717_405_200,
            0,
            line,
        )));
    }
    assert_eq!(got, native, "the Fluent Bit module's alerts are native's");

    // A broken rule file in the directory: the module says so on stderr and runs the
    // defaults (the built-in catalog only), as with any bad config.
    std::fs::write(etc.0.join("rules/broken.yml"), "title: x\ndetection: [\n").unwrap();
    let mut fb = FluentBit::with_dirs(Flavour::FluentBit, &[("/etc/jcdetect", &etc.0)]);
    let mut ids = Vec::new();
    for line in common::read(&events)
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
    {
        let out = fb.call("jumpcloud.di", 1_717_405_200, 0, line);
        let v: Value = serde_json::from_str(&out).expect("defaults pass every record on");
        ids.extend(
            v["jcdetect"]["rules"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
    }
    assert!(!ids.iter().any(|r| r == "portal_spray"), "{ids:?}");
}
