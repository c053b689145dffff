//! Folder-driven rule cases: `tests/cases/<group>/<case>/` holds
//!
//! - `input.ndjson`: the events;
//! - `config.toml` (optional): the config they run with;
//! - `rules.yml` (optional): Sigma rules loaded with it (`--rules rules.yml`);
//! - `expect.txt`: the expected alerts' rule ids in emission order (`#` lines are comments;
//!   `rule_id xN` stands for N repeats), the case's intent in a line or two. After the id,
//!   `key=K` and `count=N` check a window alert's group key and its count (distinct count
//!   where the rule counts distinct values);
//! - `diagnostics.txt` (optional): the expected diagnostics as `LINE CODE` lines (none
//!   expected without it);
//! - `expected.ecs.ndjson`, `expected.ocsf.ndjson`: the golden outputs, byte for byte what
//!   `jcdetect [--config config.toml] input.ndjson` and the same with `--format ocsf` write
//!   (alerts mode). An empty file means no alert.
//!
//! Every case runs; all failures are reported together. The goldens are compared byte for
//! byte, so a change in any alert byte fails here and shows in review as a diff of these
//! files. A missing golden fails too. After a deliberate change of the output, regenerate
//! every golden with
//!
//! ```sh
//! JCDETECT_BLESS=1 cargo test --test cases
//! ```
//!
//! (a run that rewrote a golden fails, naming it) and review the diff (`git diff tests/cases`)
//! before committing it. A new case needs only
//! its input, expectations and optional config: blessing writes its goldens. See also
//! `tests/cases/README.md`.

mod common;

use jcdetect::{Config, Engine, Format, Options};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The switch that rewrites the goldens instead of comparing with them.
const BLESS: &str = "JCDETECT_BLESS";

fn blessing() -> bool {
    std::env::var_os(BLESS).is_some_and(|v| !v.is_empty() && v != "0")
}

/// The golden outputs: file name and format.
const GOLDENS: [(&str, Format); 2] = [
    ("expected.ecs.ndjson", Format::Ecs),
    ("expected.ocsf.ndjson", Format::Ocsf),
];

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

fn cases(group: &str) -> Vec<PathBuf> {
    let dir = common::root().join("tests/cases").join(group);
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

/// Runs `check` on every case of `group`; panics listing every failure.
fn each_case(group: &str, check: impl Fn(&Path) -> Result<(), String>) -> usize {
    let cases = cases(group);
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(msg) = check(case) {
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

fn config(case: &Path) -> Result<Config, String> {
    let cfg = match std::fs::read_to_string(case.join("config.toml")) {
        Ok(t) => Config::from_toml_str(&t).map_err(|e| e.in_file("config.toml").to_string())?,
        Err(_) => Config::default(),
    };
    match std::fs::read_to_string(case.join("rules.yml")) {
        Ok(text) => cfg
            .with_sigma(&[jcdetect::sigma::set::Source {
                origin: "rules.yml".into(),
                text,
            }])
            .map_err(|e| e.join("\n")),
        Err(_) => Ok(cfg),
    }
}

/// Whether alert `line` is what expectation `want` says: its rule id, and each `key=` and
/// `count=` given.
fn alert_is(want: &str, line: &str) -> bool {
    let v: serde_json::Value = serde_json::from_str(line).expect("alert is JSON");
    let mut words = want.split_whitespace();
    if v["rule"]["id"].as_str() != words.next() {
        return false;
    }
    let j = &v["jcdetect"];
    words.all(|w| match w.split_once('=') {
        Some(("key", k)) => j["group_key"].as_str() == Some(k),
        Some(("count", n)) => {
            let got = j.get("distinct_count").unwrap_or(&j["count"]);
            got.as_u64().map(|g| g.to_string()).as_deref() == Some(n)
        }
        _ => false,
    })
}

/// The engine's whole output for `input`, as the CLI writes it in alerts mode.
fn output(cfg: &Config, format: Format, input: &[u8]) -> Vec<u8> {
    let opts = Options {
        format,
        ..Options::default()
    };
    let mut engine = Engine::new(cfg, opts);
    let (mut out, mut diags) = (Vec::new(), Vec::new());
    engine.feed(input, &mut out, &mut diags);
    engine.finish(&mut out, &mut diags);
    out
}

/// Where `got` first differs from `want`, for a failure message (not the whole file).
fn first_difference(want: &[u8], got: &[u8]) -> String {
    let (w, g): (Vec<&[u8]>, Vec<&[u8]>) = (
        want.split_inclusive(|&b| b == b'\n').collect(),
        got.split_inclusive(|&b| b == b'\n').collect(),
    );
    let show = |l: Option<&&[u8]>| match l {
        Some(l) => String::from_utf8_lossy(l)
            .trim_end_matches('\n')
            .to_string(),
        None => "(end of output)".into(),
    };
    let i = (0..w.len().max(g.len()))
        .find(|&i| w.get(i) != g.get(i))
        .unwrap_or(0);
    format!(
        "{} lines expected, {} written; line {} differs:\n    expected: {}\n    written:  {}",
        w.len(),
        g.len(),
        i + 1,
        show(w.get(i)),
        show(g.get(i))
    )
}

fn run_case(case: &Path) -> Result<(), String> {
    let cfg = config(case)?;
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
    let same = want.len() == lines.len() && want.iter().zip(&lines).all(|(w, l)| alert_is(w, l));
    if !same {
        let got: Vec<String> = lines
            .iter()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("alert is JSON");
                let j = &v["jcdetect"];
                let mut s = v["rule"]["id"].as_str().unwrap_or("?").to_string();
                if let Some(k) = j["group_key"].as_str() {
                    let n = j.get("distinct_count").unwrap_or(&j["count"]);
                    s.push_str(&format!(" key={k} count={n}"));
                }
                s
            })
            .collect();
        return Err(format!("expected {want:?}, got {got:?}"));
    }
    let mut problems = Vec::new();
    for (name, format) in GOLDENS {
        let out = output(&cfg, format, &input);
        let path = case.join(name);
        if blessing() {
            // A rewritten golden fails the run, so a blessing run (or a JCDETECT_BLESS left
            // set) never passes for a change nobody reviewed.
            if std::fs::read(&path).ok().as_deref() != Some(&out[..]) {
                std::fs::write(&path, &out).map_err(|e| format!("{name}: {e}"))?;
                problems.push(format!(
                    "{name} rewritten ({BLESS} is set): review `git diff tests/cases`, then \
                     run again without {BLESS}"
                ));
            }
            continue;
        }
        match std::fs::read(&path) {
            Ok(golden) if golden == out => {}
            Ok(golden) => problems.push(format!(
                "{name} differs ({BLESS}=1 cargo test --test cases rewrites it; review the \
                 diff): {}",
                first_difference(&golden, &out)
            )),
            Err(e) => problems.push(format!(
                "{name}: {e} (write it with {BLESS}=1 cargo test --test cases)"
            )),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n  "))
    }
}

#[test]
fn single_event_rule_cases() {
    let n = each_case("single", run_case);
    assert!(n >= 60, "only {n} single-event cases found");
}

#[test]
fn stateful_attack_story_cases() {
    let n = each_case("stateful", run_case);
    assert!(n >= 40, "only {n} stateful cases found");
}

#[test]
fn sigma_rule_cases() {
    let n = each_case("sigma", run_case);
    assert!(n >= 10, "only {n} Sigma cases found");
}

#[test]
fn host_record_cases() {
    let n = each_case("hosts", run_case);
    assert!(n >= 5, "only {n} host record cases found");
}

/// The goldens are the engine's output; this checks that the `jcdetect` binary writes the
/// same bytes for every case, both formats, so they are exactly what the CLI writes.
#[test]
fn the_cli_writes_the_engine_output() {
    let cli = |case: &Path| -> Result<(), String> {
        let cfg = config(case)?;
        let input_path = case.join("input.ndjson");
        let input = common::read(&input_path);
        for (name, format) in GOLDENS {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_jcdetect"));
            cmd.arg("--quiet");
            if case.join("config.toml").exists() {
                cmd.arg("--config").arg(case.join("config.toml"));
            }
            if case.join("rules.yml").exists() {
                cmd.arg("--rules").arg(case.join("rules.yml"));
            }
            if format == Format::Ocsf {
                cmd.args(["--format", "ocsf"]);
            }
            let run = cmd.arg(&input_path).output().map_err(|e| e.to_string())?;
            if !run.status.success() {
                return Err(format!(
                    "jcdetect exited with {}: {}",
                    run.status,
                    String::from_utf8_lossy(&run.stderr)
                ));
            }
            let engine = output(&cfg, format, &input);
            if run.stdout != engine {
                return Err(format!(
                    "{name}: the CLI and the engine differ: {}",
                    first_difference(&engine, &run.stdout)
                ));
            }
        }
        Ok(())
    };
    for group in ["single", "stateful", "hosts", "sigma"] {
        each_case(group, cli);
    }
}
