//! End-to-end tests of the `jcdetect` binary, run as a user would: files and stdin in,
//! stdout/stderr/exit status and `--stats-json` checked. The shape of the output and
//! `jcdetect rules` are in `tests/cli_output.rs`; the argument parser in `tests/cli_args.rs`.

#[path = "common/cli.rs"]
mod helpers;

use helpers::*;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// Inputs

#[test]
fn file_stdin_and_dash_give_the_same_output() {
    let input = example();
    let by_file = jc(&[example_path().to_str().unwrap()], None);
    by_file.assert_ok();
    let by_stdin = jc(&[], Some(&input));
    by_stdin.assert_ok();
    let by_dash = jc(&["-"], Some(&input));
    by_dash.assert_ok();
    assert!(!by_file.stdout.is_empty());
    assert_eq!(by_file.stdout, by_stdin.stdout);
    assert_eq!(by_file.stdout, by_dash.stdout);
}

#[test]
fn several_files_are_read_in_turn_with_per_file_line_numbers() {
    let a = Temp::new("a.ndjson", &example());
    // Second file: a bad line 2, and a policy_delete on line 3.
    let b_text = concat!(
        r#"{"id":"65f1aa00c1d2e3f405162738","event_type":"mdm_command_result","service":"mdm","timestamp":"2024-03-12T10:00:00.000Z"}"#,
        "\n{\"id\": broken\n",
        r#"{"id":"65f1aa10c1d2e3f405162739","event_type":"policy_delete","service":"directory","initiated_by":{"type":"admin","email":"jen.barber@northwind-labs.example"},"client_ip":"81.2.69.160","timestamp":"2024-03-12T10:00:16.000Z"}"#,
        "\n"
    );
    let b = Temp::new("b.ndjson", b_text.as_bytes());
    let both = jc(&[a.s(), b.s()], None);
    both.assert_ok();
    let only_a = jc(&[a.s()], None);
    let only_b = jc(&[b.s()], None);
    let mut concat = only_a.stdout.clone();
    concat.extend_from_slice(&only_b.stdout);
    assert_eq!(
        both.stdout, concat,
        "files are processed in order, in one run"
    );
    let last = both.json().pop().unwrap();
    assert_eq!(rule_id(&last), "policy_deleted");
    assert_eq!(di_ids(&last), ["65f1aa10c1d2e3f405162739"]);
    // Line numbers restart with each file, and the diagnostic names the file.
    assert!(
        both.stderr
            .contains(&format!("{}:line 2: invalid_json", b.s())),
        "{}",
        both.stderr
    );
    // Mixing a file and stdin.
    let mixed = jc(&[a.s(), "-"], Some(b_text.as_bytes()));
    mixed.assert_ok();
    assert_eq!(mixed.stdout, concat);
    assert!(mixed.stderr.contains("<stdin>:line 2: invalid_json"));
}

#[test]
fn a_missing_file_is_a_usage_error_naming_it() {
    let missing = std::env::temp_dir().join(format!(
        "jcdetect-cli-{}-does-not-exist.ndjson",
        std::process::id()
    ));
    let missing = missing.to_str().unwrap();
    let r = jc(&[example_path().to_str().unwrap(), missing], None);
    assert_eq!(r.code(), 2, "{}", r.stderr);
    assert!(r.stderr.contains(missing), "{}", r.stderr);
    assert_no_panic(&r.stderr);
    // Files are opened before any is read: no half-done run.
    assert!(r.stdout.is_empty());
}

#[test]
fn an_unreadable_input_exits_1_and_the_others_are_still_read() {
    // A directory opens but cannot be read.
    let dir = std::env::temp_dir();
    let ex = example_path();
    let r = jc(&[dir.to_str().unwrap(), ex.to_str().unwrap()], None);
    assert_eq!(r.code(), 1, "{}", r.stderr);
    assert_no_panic(&r.stderr);
    assert!(r.stderr.contains("read error"), "{}", r.stderr);
    assert_eq!(r.stdout, jc(&[ex.to_str().unwrap()], None).stdout);
}

/// Without the `wasm-host` feature, `--wasm` (filter and bench) says how to rebuild.
#[cfg(not(feature = "wasm-host"))]
#[test]
fn wasm_without_the_feature_is_a_usage_error_saying_how_to_rebuild() {
    let data = example_path();
    let data = data.to_str().unwrap();
    for args in [
        vec!["--wasm", "jcdetect.wasm", data],
        vec!["bench", "--wasm", "jcdetect.wasm", data],
    ] {
        let out = jc(&args, None);
        assert_eq!(out.code(), 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(
                "jcdetect was built without the `wasm-host` feature; rebuild with \
                 `cargo build --release --features wasm-host`"
            ),
            "{}",
            out.stderr
        );
        assert!(out.stdout.is_empty());
        assert_no_panic(&out.stderr);
    }
}

#[test]
fn wasm_bounds_need_wasm() {
    let out = jc(&["--wasm-memory-mb", "16"], Some(b""));
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("need --wasm PATH"), "{}", out.stderr);
}

#[cfg(unix)]
/// File names may be any bytes (`tests/cli_args.rs` reads one); a text option's value may not.
#[test]
fn a_non_utf8_option_value_is_a_usage_error() {
    use std::os::unix::ffi::OsStrExt;
    let addr = std::ffi::OsStr::from_bytes(b"127.0.0.1:\xff");
    let out = Command::new(BIN)
        .arg("--listen")
        .arg(addr)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid UTF-8"), "{stderr}");
    assert_no_panic(&stderr);
}

#[test]
fn output_is_flushed_while_the_input_stays_open() {
    let mut child = Command::new(BIN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().map(|l| l.unwrap());
        tx.send(first).unwrap();
        lines.count()
    });
    let line = r#"{"id":"65f1ab00c1d2e3f405162740","event_type":"policy_delete","service":"directory","timestamp":"2024-03-12T10:00:00Z"}"#;
    writeln!(stdin, "{line}").unwrap();
    stdin.flush().unwrap();
    // stdin is still open: the alert must arrive without waiting for end of input.
    let first = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("alert written before end of input")
        .expect("one output line");
    let v: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(rule_id(&v), "policy_deleted");
    drop(stdin);
    assert_eq!(reader.join().unwrap(), 0);
    let status = child.wait().unwrap();
    assert!(status.success());
}

// ---------------------------------------------------------------------------------------
// Bad input

fn ev(id: &str, event_type: &str, extra: &str, ts: &str) -> String {
    format!(
        r#"{{"id":"{id}","event_type":"{event_type}","service":"directory","organization":"65f2a1c09d3e7b4a1c8e2f11","initiated_by":{{"id":"5cec4fa3e28c2f2388dc10da","type":"admin","email":"jen.barber@northwind-labs.example"}},"client_ip":"81.2.69.160"{extra},"timestamp":"{ts}"}}"#
    )
}

/// A stream with every kind of bad line, between good events. Returns the bytes and the
/// expected (DI id, rule id) of every alert, in order.
fn bad_stream() -> (Vec<u8>, Vec<(&'static str, &'static str)>) {
    let mut s: Vec<u8> = Vec::new();
    let mut line = |b: &[u8]| {
        s.extend_from_slice(b);
        s.push(b'\n');
    };
    // 1: good
    line(
        ev(
            "65f1b0000000000000000001",
            "policy_delete",
            "",
            "2024-03-12T09:00:00Z",
        )
        .as_bytes(),
    );
    // 2: truncated
    line(br#"{"id":"65f1b0000000000000000002","event_type":"policy_del"#);
    // 3: malformed
    line(br#"{"id":"65f1b0000000000000000003",,"event_type":"policy_delete"}"#);
    // 4: invalid UTF-8: repaired (U+FFFD), reported, processed (no timestamp: reported too)
    line(b"{\"id\":\"65f1b0000000000000000004\",\"event_type\":\"policy_delete\",\"x\":\"\xc3\x28\"}");
    // 5: an array of two events
    let a = ev(
        "65f1b0000000000000000005",
        "user_create",
        r#","resource":{"type":"user","username":"temp.user"}"#,
        "2024-03-12T09:00:05Z",
    );
    let b = ev(
        "65f1b0000000000000000006",
        "policy_delete",
        "",
        "2024-03-12T09:00:06Z",
    );
    line(format!("[{a},{b}]").as_bytes());
    // 6: not an object
    line(b"42");
    // 7: empty
    line(b"");
    // 8: CRLF ending
    let crlf = ev(
        "65f1b0000000000000000008",
        "admin_totp_disable",
        "",
        "2024-03-12T09:00:08Z",
    );
    line(format!("{crlf}\r").as_bytes());
    // 9: a 2 MB line (valid JSON, but over --max-line-bytes 1000000)
    let pad = "x".repeat(2 << 20);
    line(
        ev(
            "65f1b0000000000000000009",
            "policy_delete",
            &format!(r#","pad":"{pad}""#),
            "2024-03-12T09:00:09Z",
        )
        .as_bytes(),
    );
    // 10: wrong-typed field: reported, ignored, the event still processed
    line(
        ev(
            "65f1b000000000000000000a",
            "passwordvault_credential_export",
            r#","success":"yes""#,
            "2024-03-12T09:00:10Z",
        )
        .as_bytes(),
    );
    // 11: good, and the last line has no newline
    s.extend_from_slice(
        ev(
            "65f1b000000000000000000b",
            "application_create",
            "",
            "2024-03-12T09:00:11Z",
        )
        .as_bytes(),
    );
    let expected = vec![
        ("65f1b0000000000000000001", "policy_deleted"),
        ("65f1b0000000000000000004", "policy_deleted"),
        ("65f1b0000000000000000005", "user_created"),
        ("65f1b0000000000000000006", "policy_deleted"),
        ("65f1b0000000000000000008", "admin_mfa_disabled"),
        ("65f1b000000000000000000a", "credential_export"),
        ("65f1b000000000000000000b", "sso_app_added"),
    ];
    (s, expected)
}

#[test]
fn bad_lines_are_reported_counted_and_skipped() {
    let (input, expected) = bad_stream();
    let file = Temp::new("bad.ndjson", &input);
    let st_file = Temp::path_only("bad-file-stats.json");
    let st_stdin = Temp::path_only("bad-stdin-stats.json");
    let by_file = jc(
        &[
            "--max-line-bytes",
            "1000000",
            "--stats-json",
            st_file.s(),
            file.s(),
        ],
        None,
    );
    by_file.assert_ok();
    // Through a pipe the 2 MB line arrives in many small reads.
    let by_stdin = jc(
        &["--max-line-bytes", "1000000", "--stats-json", st_stdin.s()],
        Some(&input),
    );
    by_stdin.assert_ok();
    assert_eq!(by_file.stdout, by_stdin.stdout);

    let alerts = by_stdin.json();
    let got: Vec<(&str, &str)> = alerts.iter().map(|a| (di_ids(a)[0], rule_id(a))).collect();
    assert_eq!(got, expected, "the good events around bad lines all fire");

    for (line, code) in [
        (2, "invalid_json"),
        (3, "invalid_json"),
        (4, "invalid_utf8"),
        (6, "not_an_object"),
        (7, "empty_line"),
        (9, "line_too_long"),
        (10, "wrong_field_type"),
    ] {
        for (r, name) in [(&by_stdin, "<stdin>"), (&by_file, file.s())] {
            let want = format!("{name}:line {line}: {code}");
            assert!(r.stderr.contains(&want), "`{want}` in:\n{}", r.stderr);
        }
    }
    assert!(by_stdin.stderr.contains("summary:"));

    for s in [stats(&st_file), stats(&st_stdin)] {
        assert_eq!(s["lines"], 11, "{s}");
        assert_eq!(s["events"], 7, "{s}");
        assert_eq!(s["bad_lines"], 5, "{s}");
        let d = &s["diagnostics"];
        for (code, n) in [
            ("invalid_json", 2),
            ("invalid_utf8", 1),
            ("not_an_object", 1),
            ("empty_line", 1),
            ("line_too_long", 1),
            ("wrong_field_type", 1),
            ("missing_timestamp", 1),
            ("bad_timestamp", 0),
        ] {
            assert_eq!(d[code], n, "diagnostics.{code} in {s}");
        }
        let mut by_rule: HashMap<&str, u64> = HashMap::new();
        for (_, r) in &expected {
            *by_rule.entry(r).or_default() += 1;
        }
        for (id, n) in s["alerts"].as_object().unwrap() {
            assert_eq!(
                n.as_u64().unwrap(),
                by_rule.get(id.as_str()).copied().unwrap_or(0),
                "alerts.{id}"
            );
        }
        assert_eq!(s["alerts"].as_object().unwrap().len(), catalog().len());
        assert_eq!(s["alerts_total"], expected.len());
    }
}

#[test]
fn an_over_long_line_is_rejected_whatever_its_content() {
    // Not JSON, no newline at the end, far over the limit: one line_too_long, then nothing.
    let mut input = ev(
        "65f1b1000000000000000001",
        "policy_delete",
        "",
        "2024-03-12T09:00:00Z",
    )
    .into_bytes();
    input.push(b'\n');
    input.extend(std::iter::repeat_n(b'[', 300_000));
    let st = Temp::path_only("long-stats.json");
    let r = jc(
        &["--max-line-bytes", "100000", "--stats-json", st.s()],
        Some(&input),
    );
    r.assert_ok();
    assert_eq!(rule_ids(&r.json()), ["policy_deleted"]);
    assert!(r.stderr.contains("line 2: line_too_long"), "{}", r.stderr);
    let s = stats(&st);
    assert_eq!(
        (s["lines"].as_u64(), s["bad_lines"].as_u64()),
        (Some(2), Some(1))
    );
}

#[test]
fn quiet_silences_diagnostics_and_summary() {
    let (input, expected) = bad_stream();
    let r = jc(&["--quiet", "--max-line-bytes", "1000000"], Some(&input));
    r.assert_ok();
    assert_eq!(r.stderr, "", "--quiet writes nothing to stderr");
    assert_eq!(r.json().len(), expected.len());
    let r = jc(&["-q"], Some(b"nope\n"));
    r.assert_ok();
    assert_eq!(r.stderr, "");
}

// ---------------------------------------------------------------------------------------
// Config

#[test]
fn config_disables_a_rule() {
    let input = example();
    let default = jc(&[], Some(&input)).json();
    assert!(rule_ids(&default).contains(&"policy_deleted".to_string()));
    let (r, _cfg) = with_config("[rules.policy_deleted]\nenabled = false\n", &[], &input);
    r.assert_ok();
    let expected: Vec<Value> = default
        .into_iter()
        .filter(|a| rule_id(a) != "policy_deleted")
        .collect();
    assert_eq!(r.json(), expected);
}

#[test]
fn config_changes_a_severity() {
    let input = example();
    let default = jc(&[], Some(&input)).json();
    let before = default
        .iter()
        .find(|a| rule_id(a) == "user_created")
        .unwrap();
    assert_eq!(before["event"]["severity"], 2);
    let toml = "[rules.user_created]\nseverity = \"critical\"\n";
    let (r, _cfg) = with_config(toml, &[], &input);
    r.assert_ok();
    let after = r.json();
    assert_eq!(after.len(), default.len());
    for (a, d) in after.iter().zip(&default) {
        if rule_id(a) == "user_created" {
            assert_eq!(a["event"]["severity"], 5);
            assert_eq!(a["event"]["risk_score"], 99);
        } else {
            assert_eq!(a, d, "other alerts unchanged");
        }
    }
    let (o, _cfg) = with_config(toml, &["--format", "ocsf"], &input);
    let f = o
        .json()
        .into_iter()
        .find(|f| f["finding_info"]["analytic"]["uid"] == "user_created")
        .unwrap();
    assert_eq!(f["severity_id"], 5);
    assert_eq!(f["severity"], "Critical");
}

#[test]
fn config_allowlists_an_ip_range() {
    let input = example();
    let default = jc(&[], Some(&input)).json();
    let from_jen = |a: &Value| a["source"]["ip"] == "81.2.69.160";
    let silenced = default.iter().filter(|a| from_jen(a)).count();
    assert!(
        silenced >= 3,
        "the example has several alerts from that address"
    );
    let st = Temp::path_only("allow-stats.json");
    let (r, _cfg) = with_config(
        "[allowlist]\nips = [\"81.2.69.0/24\", \"2001:db8::/32\"]\n",
        &["--stats-json", st.s()],
        &input,
    );
    r.assert_ok();
    let expected: Vec<Value> = default.iter().filter(|a| !from_jen(a)).cloned().collect();
    assert!(!expected.is_empty());
    assert_eq!(r.json(), expected);
    assert_eq!(stats(&st)["allowlisted"], silenced);
    assert!(r.stderr.contains(&format!("{silenced} allowlisted")));
}

#[test]
fn a_config_with_several_problems_lists_them_all() {
    let toml = "\
[rules.no_such_rule]
enabled = true

[rules.policy_deleted]
severity = \"urgent\"

[rules.user_created]
colour = \"red\"
";
    let (r, _cfg) = with_config(toml, &[], &example());
    assert_eq!(r.code(), 2, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    assert_no_panic(&r.stderr);
    for needle in ["3 problems", "no_such_rule", "urgent", "colour"] {
        assert!(r.stderr.contains(needle), "`{needle}` in:\n{}", r.stderr);
    }
    // `rules --config` validates the same way.
    let cfg = Temp::new("bad.toml", toml.as_bytes());
    let r = jc(&["rules", "--config", cfg.s()], None);
    assert_eq!(r.code(), 2);
    assert!(r.stderr.contains("3 problems"));
}

#[test]
fn a_toml_syntax_error_is_a_usage_error() {
    let (r, cfg) = with_config("[rules.policy_deleted\nenabled = \n", &[], &example());
    assert_eq!(r.code(), 2, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("TOML"), "{}", r.stderr);
    assert!(r.stderr.contains(cfg.s()), "names the file: {}", r.stderr);
    // A config file that does not exist.
    let r = jc(&["--config", "/nonexistent/jcdetect.toml", "-"], Some(b""));
    assert_eq!(r.code(), 2);
    assert!(r.stderr.contains("/nonexistent/jcdetect.toml"));
}

// ---------------------------------------------------------------------------------------
// Arguments

#[test]
fn help_mentions_every_option() {
    for flag in ["--help", "-h"] {
        let r = jc(&[flag], None);
        r.assert_ok();
        for opt in [
            "--config",
            "--format",
            "--emit",
            "--max-line-bytes",
            "--stats-json",
            "--quiet",
            "rules",
        ] {
            assert!(r.out().contains(opt), "{opt} in --help");
        }
    }
    let r = jc(&["--version"], None);
    r.assert_ok();
    assert!(r.out().starts_with("jcdetect "));
}

#[test]
fn bad_arguments_are_usage_errors() {
    for args in [
        &["--no-such-option"][..],
        &["--format", "xml"],
        &["--emit", "some"],
        &["--max-line-bytes", "0"],
        &["--max-line-bytes", "lots"],
        &["--config"],
        &["rules", "--yaml"],
    ] {
        let r = jc(args, Some(&example()));
        assert_eq!(r.code(), 2, "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?}");
        assert!(r.stderr.contains("--help"), "{args:?} points to --help");
        assert_no_panic(&r.stderr);
    }
    let r = jc(&["--no-such-option"], None);
    assert!(r.stderr.contains("--no-such-option"));
}

// ---------------------------------------------------------------------------------------
// Broken pipe

#[test]
fn a_closed_output_pipe_ends_the_run_quietly() {
    // Large enough that the output is many times a pipe buffer.
    let one = example();
    let mut big = Vec::with_capacity(one.len() * 500);
    for _ in 0..500 {
        big.extend_from_slice(&one);
    }
    let file = Temp::new("big.ndjson", &big);
    drop(big);
    for format in ["ecs", "ocsf"] {
        let mut child = Command::new(BIN)
            .args(["--format", format, "--emit", "all", file.s()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let err_reader = std::thread::spawn(move || {
            let mut s = String::new();
            stderr.read_to_string(&mut s).unwrap();
            s
        });
        {
            let mut out = BufReader::new(child.stdout.take().unwrap());
            let mut first = String::new();
            out.read_line(&mut first).unwrap();
            assert!(first.starts_with('{'));
            // Reader closes here.
        }
        let status = child.wait().unwrap();
        let stderr = err_reader.join().unwrap();
        assert_eq!(status.code(), Some(0), "{format}: stderr:\n{stderr}");
        assert_no_panic(&stderr);
        assert!(
            !stderr.to_lowercase().contains("broken pipe"),
            "{format}: quiet on a closed pipe:\n{stderr}"
        );
    }
}

#[cfg(unix)]
#[test]
fn help_version_and_rules_are_quiet_on_a_closed_pipe() {
    // The reader (`true`) is gone by the time jcdetect writes: the write gets EPIPE.
    let script = r#"(sleep 0.2
"$0" --help; echo "help=$?" >&2
"$0" --version; echo "version=$?" >&2
"$0" rules --json; echo "rules=$?" >&2) | true"#;
    let out = Command::new("sh")
        .args(["-c", script, BIN])
        .stdin(Stdio::null())
        .output()
        .expect("sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_no_panic(&stderr);
    for want in ["help=0", "version=0", "rules=0"] {
        assert!(stderr.lines().any(|l| l == want), "{want} in:\n{stderr}");
    }
}

// ---------------------------------------------------------------------------------------
// The bundled example

#[test]
fn the_bundled_example_fires_several_rules_cleanly() {
    let st = Temp::path_only("example-stats.json");
    let r = jc(
        &[example_path().to_str().unwrap(), "--stats-json", st.s()],
        None,
    );
    r.assert_ok();
    let alerts = r.json();
    let distinct: BTreeSet<String> = rule_ids(&alerts).into_iter().collect();
    assert!(distinct.len() >= 6, "{distinct:?}");
    // A single-event demo: no stateful rule fires on it.
    for id in &distinct {
        assert_eq!(catalog()[id]["kind"], "single", "{id}");
    }
    // The story's beats.
    for id in [
        "admin_login_without_mfa",
        "user_created",
        "user_added_to_group",
        "policy_deleted",
        "admin_mfa_disabled",
        "device_admin_granted",
        "credential_export",
        "embargoed_location",
    ] {
        assert!(distinct.contains(id), "{id} fires on the example");
    }
    // No diagnostics: the summary is the only stderr line.
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    assert!(lines[0].contains("summary:"), "{}", r.stderr);
    let s = stats(&st);
    let n = example()
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64;
    assert!((25..=40).contains(&n));
    assert_eq!(s["lines"], n);
    assert_eq!(s["events"], n);
    assert_eq!(s["bad_lines"], 0);
    assert_eq!(s["alerts_total"], alerts.len());
    assert_eq!(s["late_events"], 0);
    assert!(s["diagnostics"]
        .as_object()
        .unwrap()
        .values()
        .all(|v| v == 0));
    // DI ids and timestamps are realistic: 24 hex (or RADIUS UUIDs), RFC 3339, in order.
    let mut last = i64::MIN;
    for l in String::from_utf8(example()).unwrap().lines() {
        let e: Value = serde_json::from_str(l).unwrap();
        let id = e["id"].as_str().unwrap();
        assert!(
            (id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()))
                || (id.len() == 36 && e["service"] == "radius"),
            "{id}"
        );
        let t = nanos(e["timestamp"].as_str().unwrap());
        assert!(t >= last);
        last = t;
    }
}

#[test]
fn many_input_files_are_read_in_turn_to_the_end() {
    // More files than the reader's pool of chunks: each file's end must hand its chunk back
    // (a lost chunk per file once left the reader waiting for one forever).
    let example =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.ndjson"))
            .unwrap();
    let files: Vec<Temp> = (0..12)
        .map(|i| Temp::new(&format!("many-{i}.ndjson"), &example))
        .collect();
    let mut child = Command::new(BIN)
        .arg("--quiet")
        .args(files.iter().map(|f| f.s()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).unwrap();
        out
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("jcdetect did not finish 12 files within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    // One state across the files: the same alerts as the twelve copies on one stream.
    let whole = jc(&["--quiet"], Some(&example.repeat(12)));
    assert_eq!(reader.join().unwrap().as_bytes(), &whole.stdout[..]);
}
