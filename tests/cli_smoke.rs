//! The binary on the README's bundled example, whose stateful alerts (spray, credential
//! stuffing) the single-event demo in `tests/cli.rs` does not exercise: determinism, OCSF,
//! `--emit all` ordering, allowlisting a spraying range; plus a mixed bad-input stream.
//! Usage errors, help, `rules` and closed pipes are covered in `tests/cli.rs`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jcdetect"))
}

fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect(l))
        .collect()
}

fn example() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/example.ndjson"
    ))
    .unwrap()
}

fn tmp(name: &str, data: &[u8]) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("jcdetect-{}-{name}", std::process::id()));
    std::fs::write(&p, data).unwrap();
    p
}

#[test]
fn file_and_stdin_agree_and_output_is_deterministic() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/example.ndjson");
    let a = bin().arg(path).output().unwrap();
    let b = run_stdin(&[], &example());
    let c = run_stdin(&["-"], &example());
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(a.stdout, c.stdout);
    assert_eq!(
        a.stdout,
        bin().arg(path).output().unwrap().stdout,
        "same input, same bytes"
    );
    let alerts = json_lines(&a.stdout);
    let ids: std::collections::BTreeSet<_> = alerts
        .iter()
        .map(|v| v["rule"]["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.len() >= 6, "{ids:?}");
    for v in &alerts {
        assert_eq!(v["event"]["kind"], "alert");
        assert_eq!(v["rule"]["ruleset"], "jcdetect");
        assert_eq!(v["observer"]["product"], "jcdetect");
        assert_eq!(v["event"]["id"].as_str().unwrap().len(), 32);
        assert!(v["@timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(!v["jcdetect"]["di_event_ids"].as_array().unwrap().is_empty());
    }
    let stderr = String::from_utf8_lossy(&a.stderr);
    assert!(
        stderr.contains("summary: 32 lines, 32 events, 0 bad lines"),
        "{stderr}"
    );
}

#[test]
fn ocsf_detection_finding_shape() {
    let ecs = json_lines(&run_stdin(&[], &example()).stdout);
    let out = run_stdin(&["--format", "ocsf"], &example());
    let ocsf = json_lines(&out.stdout);
    assert_eq!(ecs.len(), ocsf.len());
    for (e, o) in ecs.iter().zip(&ocsf) {
        assert_eq!(o["class_uid"], 2004);
        assert_eq!(o["type_uid"], 200401);
        assert_eq!(o["severity_id"], e["event"]["severity"]);
        assert_eq!(o["finding_info"]["analytic"]["uid"], e["rule"]["id"]);
        assert_eq!(o["finding_info"]["uid"], e["event"]["id"]);
        assert!(o["time"].as_i64().unwrap() > 1_700_000_000_000);
        assert!(!o["evidences"].as_array().unwrap().is_empty());
        if e["threat"].is_object() {
            assert_eq!(
                o["finding_info"]["attacks"][0]["tactic"]["uid"],
                e["threat"]["tactic"]["id"][0]
            );
        }
    }
}

#[test]
fn emit_all_passes_every_line_in_order_with_alerts_after_their_event() {
    let mut input = example();
    input.extend_from_slice(b"{not json\n");
    let out = run_stdin(&["--emit", "all"], &input);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let in_lines: Vec<&str> = std::str::from_utf8(&input).unwrap().lines().collect();
    let mut k = 0;
    let mut pending: Vec<String> = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) => {
                assert_eq!(line, in_lines[k], "bad line passed through verbatim");
                k += 1;
                continue;
            }
        };
        if v["event"]["kind"] == "alert" {
            let id = v["rule"]["id"].as_str().unwrap().to_string();
            assert_eq!(
                pending.first(),
                Some(&id),
                "alert follows the event that fired it"
            );
            pending.remove(0);
            continue;
        }
        assert!(pending.is_empty(), "missing alerts {pending:?}");
        let mut tagged = v.clone();
        let tag = tagged
            .as_object_mut()
            .unwrap()
            .remove("jcdetect")
            .expect("jcdetect object");
        let original: serde_json::Value = serde_json::from_str(in_lines[k]).unwrap();
        assert_eq!(tagged, original, "event unchanged but for the tag");
        assert!(tag["category"].is_string());
        pending = tag["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect();
        k += 1;
    }
    assert!(pending.is_empty());
    assert_eq!(k, in_lines.len(), "every input line came out");
}

#[test]
fn bad_lines_are_reported_counted_and_the_stream_goes_on() {
    let good = r#"{"id":"65a1c0de0000000000000001","event_type":"policy_delete","service":"directory","timestamp":"2024-06-03T09:00:00Z"}"#;
    let mut input = Vec::new();
    input.extend_from_slice(format!("{good}\n").as_bytes()); // 1
    input.extend_from_slice(b"{\"id\":\"x\",\"event_type\":\n"); // 2 truncated
    input.extend_from_slice(b"\xff\xfe{}\n"); // 3 invalid utf-8
    input.extend_from_slice(b"42\n"); // 4 not an object
    input.extend_from_slice(b"\n"); // 5 empty
    input.extend_from_slice(format!("[{good},{good}]\r\n").as_bytes()); // 6 array, CRLF
    input.extend_from_slice(format!("{{\"pad\":\"{}\"}}\n", "a".repeat(2_000_000)).as_bytes()); // 7 too long
    input.extend_from_slice(b"{\"event_type\":\"policy_delete\",\"success\":\"yes\",\"timestamp\":\"2024-06-03T09:01:00Z\"}\n"); // 8 wrong type
    input.extend_from_slice(b"{\"event_type\":\"policy_delete\",\"timestamp\":\"yesterday\"}\n"); // 9 bad timestamp
    let stats = std::env::temp_dir().join(format!("jcdetect-stats-{}.json", std::process::id()));
    let out = run_stdin(
        &[
            "--max-line-bytes",
            "1000000",
            "--stats-json",
            stats.to_str().unwrap(),
        ],
        &input,
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for (line, code) in [
        (2, "invalid_json"),
        (3, "invalid_utf8"),
        (4, "not_an_object"),
        (5, "empty_line"),
        (7, "line_too_long"),
        (8, "wrong_field_type"),
        (9, "bad_timestamp"),
    ] {
        assert!(
            stderr.contains(&format!("line {line}: {code}")),
            "line {line} {code}: {stderr}"
        );
    }
    assert!(!stderr.contains("panicked"));
    let alerts = json_lines(&out.stdout);
    // lines 1, 6 (two events), 8 and 9 are policy deletions
    assert_eq!(alerts.len(), 5, "{alerts:?}");
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    assert_eq!(s["lines"], 9);
    assert_eq!(s["events"], 5);
    assert_eq!(s["bad_lines"], 5);
    assert_eq!(s["diagnostics"]["wrong_field_type"], 1);
    assert_eq!(s["alerts"]["policy_deleted"], 5);
}

#[test]
fn config_changes_and_rejections() {
    let cfg = tmp(
        "ok.toml",
        b"[rules.policy_deleted]\nseverity = \"critical\"\n[rules.admin_login_without_mfa]\nenabled = false\n[allowlist]\nips = [\"198.51.100.0/24\"]\n",
    );
    let out = run_stdin(&["--config", cfg.to_str().unwrap()], &example());
    let alerts = json_lines(&out.stdout);
    let ids: Vec<&str> = alerts
        .iter()
        .map(|v| v["rule"]["id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&"admin_login_without_mfa"));
    assert!(
        !ids.contains(&"password_spray_from_ip"),
        "allowlisted ip silenced"
    );
    let pd = alerts
        .iter()
        .find(|v| v["rule"]["id"] == "policy_deleted")
        .unwrap();
    assert_eq!(pd["event"]["severity"], 5);

    let bad = tmp(
        "bad.toml",
        b"[rules.no_such_rule]\nenabled = true\n[rules.policy_deleted]\nseverity = \"urgent\"\nfoo = 1\n",
    );
    let out = bin()
        .args(["--config", bad.to_str().unwrap(), "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("3 problems"), "{err}");
    for needle in ["no_such_rule", "urgent", "rules.policy_deleted.foo"] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    let syntax = tmp("syntax.toml", b"[rules\n");
    let out = bin()
        .args(["-c", syntax.to_str().unwrap(), "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
