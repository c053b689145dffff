//! `jcdetect generate` as users run it: the replay piped into `jcdetect`, the alerts checked
//! against the `--truth` side file.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_jcdetect");

fn temp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("jcdetect-gen-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn generated_replay_piped_into_jcdetect_matches_its_truth() {
    let (truth_path, stats_path) = (temp("truth.json"), temp("stats.json"));
    let mut gen = Command::new(BIN)
        .args(["generate", "--events", "20000", "--seed", "7", "--truth"])
        .arg(&truth_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn generate");
    let detect = Command::new(BIN)
        .args(["-q", "--stats-json"])
        .arg(&stats_path)
        .stdin(gen.stdout.take().expect("generate stdout"))
        .output()
        .expect("run jcdetect");
    let gen_out = gen.wait_with_output().expect("generate exits");
    assert!(
        gen_out.status.success(),
        "{}",
        String::from_utf8_lossy(&gen_out.stderr)
    );
    assert!(
        detect.status.success(),
        "{}",
        String::from_utf8_lossy(&detect.stderr)
    );

    let truth: Value = serde_json::from_slice(&std::fs::read(&truth_path).unwrap()).unwrap();
    let stats: Value = serde_json::from_slice(&std::fs::read(&stats_path).unwrap()).unwrap();
    let _ = (
        std::fs::remove_file(&truth_path),
        std::fs::remove_file(&stats_path),
    );
    assert_eq!(truth["events"], 20_000);
    assert_eq!(stats["events"], 20_000);
    assert_eq!(stats["bad_lines"], 0);
    assert_eq!(stats["late_events"], 0);

    // Alert counts per rule: the engine's counters against the truth file.
    let counts = |v: &Value| -> BTreeMap<String, u64> {
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
            .filter(|(_, n)| *n > 0)
            .collect()
    };
    assert_eq!(
        counts(&stats["alerts"]),
        counts(&truth["alerts"]["by_rule"])
    );
    assert_eq!(stats["alerts_total"], truth["alerts"]["total"]);

    // And the stateful alerts themselves: the same (rule, group key) pairs.
    let mut got: Vec<(String, String)> = String::from_utf8(detect.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|a| a["jcdetect"]["group_key"].is_string())
        .map(|a| {
            (
                a["rule"]["id"].as_str().unwrap().to_string(),
                a["jcdetect"]["group_key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut want: Vec<(String, String)> = truth["stateful"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["rule"].as_str().unwrap().to_string(),
                a["group_key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    want.sort();
    assert!(want.len() >= 20, "{} expected stateful alerts", want.len());
    assert_eq!(got, want);
}

#[test]
fn generate_is_deterministic_and_quiet_on_a_closed_pipe() {
    let run = |seed: &str| {
        let o = Command::new(BIN)
            .args(["generate", "--events", "3000", "--seed", seed])
            .output()
            .unwrap();
        assert!(o.status.success());
        o.stdout
    };
    let a = run("5");
    assert_eq!(a, run("5"));
    assert_ne!(a, run("6"));
    assert_eq!(a.iter().filter(|&&b| b == b'\n').count(), 3000);

    // `| head -c 100`: the reader goes away early; exit 0, nothing on stderr.
    let mut child = Command::new(BIN)
        .args(["generate", "--events", "300000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{:?}", o.status);
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn generate_usage_errors_exit_2() {
    for args in [
        &["generate"][..],
        &["generate", "--events", "x"],
        &["generate", "--events", "10", "--bogus"],
        &[
            "generate",
            "--events",
            "10",
            "--attack-mix",
            "spray=1,nope=2",
        ],
        &["generate", "--events", "100"],
        &["generate", "--events", "1000", "--users", "2"],
    ] {
        let o = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(o.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.starts_with("jcdetect: "), "{args:?}: {err}");
    }
    let o = Command::new(BIN)
        .args(["generate", "--help"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("--attack-mix"));
}
