use super::*;

const DELETE: &str = r#"{"id":"1","event_type":"policy_delete","service":"directory","timestamp":"2024-05-01T10:00:00Z"}"#;
const LOGIN: &str = r#"{"id":"2","event_type":"user_login_attempt","service":"directory","timestamp":"2024-05-01T10:00:01Z","success":true}"#;

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

#[test]
fn pack_puts_the_length_high_and_the_pointer_low() {
    assert_eq!(pack(0x1234, 0), 0x1234);
    assert_eq!(pack(0xffff_fff0, 7), (7i64 << 32) | 0xffff_fff0);
    assert_eq!(pack(8, u32::MAX) as u64 >> 32, u64::from(u32::MAX));
}

#[test]
fn process_matches_the_engine_and_carries_partial_lines() {
    let mut h = Host::new();
    let input = format!("{DELETE}\n{LOGIN}\n{DELETE}");
    let mut expected = Vec::new();
    let mut e = Engine::new(&Config::default(), Options::default());
    e.feed(input.as_bytes(), &mut expected, &mut Vec::new());
    e.finish(&mut expected, &mut Vec::new());
    let (a, b) = input.as_bytes().split_at(30);
    let mut got = h.process(Ok(a)).to_vec();
    assert!(got.is_empty(), "nothing before the first newline");
    got.extend_from_slice(h.process(Ok(b)));
    got.extend_from_slice(h.flush());
    assert_eq!(text(&got), text(&expected));
    assert_eq!(text(&got).lines().count(), 2);
}

#[test]
fn init_reports_ok_with_state_bytes_or_the_config_error() {
    let mut h = Host::new();
    let ok = text(h.init(Ok(b""), 0)).to_string();
    assert!(ok.starts_with(r#"{"ok":true,"state_bytes":"#), "{ok}");
    let bad = text(h.init(Ok(b"[rules.nope]\nx = 1\n"), 0)).to_string();
    let v: serde_json::Value = serde_json::from_str(&bad).unwrap();
    assert_eq!(v["ok"], false);
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains("unknown rule `nope`"), "{msg}");
    let v: serde_json::Value = serde_json::from_slice(h.init(Ok(b""), 8)).unwrap();
    assert!(v["error"].as_str().unwrap().contains("unknown flag"));
    let v: serde_json::Value = serde_json::from_slice(h.init(Err(BadInput::Null), 0)).unwrap();
    assert_eq!(v["ok"], false);
}

#[test]
fn init_flags_select_ocsf_and_emit_all() {
    let mut h = Host::new();
    h.init(
        Ok(b"[rules.policy_deleted]\nseverity = \"low\"\n"),
        FLAG_OCSF | FLAG_EMIT_ALL,
    );
    let out = text(h.process(Ok(format!("{DELETE}\n").as_bytes()))).to_string();
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0]["jcdetect"]["rules"][0], "policy_deleted");
    assert_eq!(lines[1]["class_uid"], 2004, "OCSF Detection Finding");
    assert_eq!(lines[1]["severity"], "Low");
}

#[test]
fn a_bad_pointer_outputs_nothing_and_is_diagnosed_and_counted() {
    let mut h = Host::new();
    assert!(h.process(Err(BadInput::Null)).is_empty());
    h.process(Ok(b"{oops\n"));
    let d = text(h.take_diagnostics()).to_string();
    let lines: Vec<serde_json::Value> = d
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["code"], "null_input");
    assert_eq!(lines[1]["code"], "invalid_json");
    assert_eq!(lines[1]["line"], 1);
    assert!(
        d.starts_with(r#"{"line":0,"code":"null_input","detail":"#),
        "{d}"
    );
    assert!(h.take_diagnostics().is_empty(), "collected once");
    let s: serde_json::Value = serde_json::from_slice(h.stats()).unwrap();
    assert_eq!(s["diagnostics"]["null_input"], 1);
    assert_eq!(s["diagnostics"]["invalid_json"], 1);
}

#[test]
fn stats_are_the_cli_document() {
    let mut h = Host::new();
    h.process(Ok(format!("{DELETE}\n").as_bytes()));
    let s = text(h.stats()).to_string();
    let mut e = Engine::new(&Config::default(), Options::default());
    e.feed(
        format!("{DELETE}\n").as_bytes(),
        &mut Vec::new(),
        &mut Vec::new(),
    );
    assert_eq!(s, e.stats_json());
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    assert_eq!(v["alerts"]["policy_deleted"], 1);
    assert!(
        v["diagnostics"].get("null_input").is_none(),
        "absent unless it happened"
    );
}

#[test]
fn pending_diagnostics_are_bounded() {
    let mut h = Host::new();
    let bad = "x\n".repeat(MAX_PENDING_DIAGS + 5);
    h.process(Ok(bad.as_bytes()));
    let d = text(h.take_diagnostics()).to_string();
    assert_eq!(d.lines().count(), MAX_PENDING_DIAGS + 1);
    assert!(d
        .lines()
        .last()
        .unwrap()
        .contains(r#""code":"diagnostics_dropped""#));
    assert!(d.lines().last().unwrap().contains("5 more"));
}

#[test]
fn set_time_stamps_alerts_of_events_without_time() {
    let mut h = Host::new();
    h.set_time(1_714_557_600_000_000_000);
    let out = text(h.process(Ok(
        br#"{"id":"1","event_type":"policy_delete","service":"directory"}
"#,
    )))
    .to_string();
    assert!(
        out.contains(r#""@timestamp":"2024-05-01T10:00:00"#),
        "{out}"
    );
}

#[test]
fn config_field_is_found_only_as_a_string_field() {
    assert_eq!(config_field(DELETE.as_bytes()), None);
    let rec = br#"{"jcdetect_config":"[fluentbit]\noutput = \"alerts\"\n"}"#;
    assert_eq!(
        config_field(rec),
        Some(Ok("[fluentbit]\noutput = \"alerts\"\n".to_string()))
    );
    assert!(matches!(
        config_field(br#"{"jcdetect_config":3}"#),
        Some(Err(_))
    ));
    // Mentioned inside a value only: not a field.
    assert_eq!(config_field(br#"{"msg":"see \"jcdetect_config\""}"#), None);
}

#[test]
fn filter_config_strips_fluentbit_and_reports_every_problem() {
    let fc = parse_filter_config(
        "[fluentbit]\noutput = \"alerts\"\nformat = \"ocsf\"\n[rules.user_updated]\nenabled = false\n",
    )
    .unwrap();
    assert_eq!(fc.output, FilterOutput::Alerts);
    assert_eq!(fc.format, Format::Ocsf);
    assert_eq!(fc.config.rule("user_updated").unwrap().enabled, Some(false));
    let e =
        parse_filter_config("[fluentbit]\noutput = \"x\"\ncolour = 1\n[rules.nope]\n").unwrap_err();
    assert_eq!(e.problems.len(), 3, "{e}");
    assert_eq!(parse_filter_config("").unwrap(), FilterConfig::default());
}

#[test]
fn host_time_is_ns_and_zero_means_none() {
    assert_eq!(host_time(0, 0), None);
    assert_eq!(host_time(1, 5), Some(1_000_000_005));
    assert_eq!(
        host_time(u32::MAX, 0),
        Some(i64::from(u32::MAX) * 1_000_000_000)
    );
}

fn filter<'a>(h: &'a mut Host, rec: &str) -> &'a str {
    let out = h.filter(Ok(rec.as_bytes()), 1_714_557_600, 0);
    let (last, body) = out.split_last().unwrap();
    assert_eq!(*last, 0, "NUL-terminated");
    assert!(!body.contains(&0));
    text(body)
}

#[test]
fn filter_enriches_each_event_and_keeps_its_bytes() {
    let mut h = Host::new();
    let out = filter(&mut h, DELETE).to_string();
    assert!(out.starts_with(&DELETE[..DELETE.len() - 1]), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["jcdetect"]["rules"][0], "policy_deleted");
    assert_eq!(v["jcdetect"]["alerts"][0]["rule"]["id"], "policy_deleted");
    let quiet: serde_json::Value = serde_json::from_str(filter(&mut h, LOGIN)).unwrap();
    assert_eq!(quiet["jcdetect"]["alerts"], serde_json::json!([]));
}

#[test]
fn filter_alerts_mode_from_the_first_record_drops_quiet_events() {
    let mut h = Host::new();
    let control = r#"{"jcdetect_config":"[fluentbit]\noutput = \"alerts\"\n"}"#;
    assert_eq!(filter(&mut h, control), "", "the control record is dropped");
    assert_eq!(filter(&mut h, LOGIN), "", "no alert: dropped");
    assert!(filter(&mut h, DELETE).contains(r#""rules":["policy_deleted"]"#));
    // Later records are never config: processed (and here dropped) as records, and this
    // one is no DI event.
    assert_eq!(filter(&mut h, control), "");
    assert_eq!(h.engine.stats().events, 2);
    assert_eq!(h.engine.stats().code_count(jcdetect::Code::NotADiEvent), 1);
}

#[test]
fn filter_reports_a_bad_record_config_and_runs_the_defaults() {
    let mut h = Host::new();
    let out = filter(&mut h, r#"{"jcdetect_config":"[rules.nope]\n"}"#).to_string();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["jcdetect"]["error"], "config");
    assert!(v["jcdetect"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown rule `nope`"));
    assert!(
        filter(&mut h, LOGIN).contains(r#""jcdetect":{"#),
        "events mode"
    );
    assert!(text(h.take_diagnostics()).contains(r#""code":"config_error""#));
}

#[test]
fn the_record_time_is_the_time_of_a_di_event_without_one_unless_turned_off() {
    // A parser with `Time_Key timestamp` moves the event's time into the record time.
    let no_ts = r#"{"id":"9","event_type":"policy_delete","service":"directory"}"#;
    let mut h = Host::new();
    // Two records agree on the time (a watermark needs two), and it is theirs.
    let out = text(h.filter(Ok(no_ts.as_bytes()), 1_714_557_600, 0)).to_string();
    h.filter(Ok(no_ts.as_bytes()), 1_714_557_610, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim_end_matches('\0')).unwrap();
    assert_eq!(
        v["jcdetect"]["alerts"][0]["@timestamp"],
        "2024-05-01T10:00:00.000Z"
    );
    assert!(h.take_diagnostics().is_empty(), "{:?}", h.pending);
    assert_eq!(h.engine.watermark(), Some(1_714_557_610 * 1_000_000_000));
    // Turned off, the record time only stamps the alerts.
    let mut h = Host::new();
    filter(
        &mut h,
        r#"{"jcdetect_config":"[fluentbit]\nuse_record_time = false\n"}"#,
    );
    let v: serde_json::Value = serde_json::from_str(filter(&mut h, no_ts)).unwrap();
    assert_eq!(
        v["jcdetect"]["alerts"][0]["@timestamp"],
        "2024-05-01T10:00:00.000Z"
    );
    filter(&mut h, no_ts);
    assert!(text(h.take_diagnostics()).contains("missing_timestamp"));
    assert_eq!(h.engine.watermark(), None);
}

/// A failed login of `user` from one ip, `secs` after 2024-05-01T09:30:00Z.
fn failure(user: usize, secs: u32) -> String {
    format!(
        r#"{{"id":"f{user:05}","event_type":"user_login_attempt","service":"directory","success":false,"client_ip":"203.0.113.9","initiated_by":{{"type":"user","username":"user{user}"}},"timestamp":"2024-05-01T09:{:02}:{:02}Z"}}"#,
        30 + secs / 60,
        secs % 60
    )
}

fn alert_ids(out: &str) -> Vec<String> {
    if out.is_empty() {
        return Vec::new();
    }
    let v: serde_json::Value = serde_json::from_str(out).unwrap();
    v["jcdetect"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule"]["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_record_that_is_no_di_event_does_not_move_the_clock() {
    // The real Fluent Bit run: logins 30 min old, one line the parser rejected (it
    // arrives as {"log": ...} with the ingestion time), then a spray of 40 failures.
    // Ingestion time is 10:00, half an hour after the events.
    let ingest = 1_714_557_600;
    let mut h = Host::new();
    let mut fired = Vec::new();
    for i in 0..3 {
        let login = failure(900 + i, i as u32).replace(r#""success":false"#, r#""success":true"#);
        h.filter(Ok(login.as_bytes()), ingest, 0);
    }
    let bad = h
        .filter(Ok(br#"{"log":"this is not json"}"#), ingest, 0)
        .to_vec();
    assert_eq!(
        bad, b"{\"log\":\"this is not json\"}\0",
        "passed on unchanged"
    );
    for i in 0..40 {
        let out = h.filter(Ok(failure(i, 60 + i as u32).as_bytes()), ingest, 0);
        fired.extend(alert_ids(text(&out[..out.len() - 1])));
    }
    assert_eq!(fired, ["password_spray_from_ip"]);
    let s: serde_json::Value = serde_json::from_slice(h.stats()).unwrap();
    assert_eq!(s["diagnostics"]["invalid_json"], 1);
    assert_eq!(s["unwrapped"], 1);
    assert_eq!(s["late_events"], 0);
}

#[test]
fn a_log_record_holding_an_array_carries_all_its_alerts() {
    let mut h = Host::new();
    let events: Vec<String> = (0..16).map(|i| failure(i, i as u32 * 10)).collect();
    let rec = serde_json::json!({ "log": format!("[{}]", events.join(",")) }).to_string();
    let out = filter(&mut h, &rec).to_string();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["log"],
        serde_json::from_str::<serde_json::Value>(&rec).unwrap()["log"]
    );
    assert_eq!(v["jcdetect"]["category"], "batch");
    assert_eq!(
        v["jcdetect"]["rules"],
        serde_json::json!(["password_spray_from_ip"])
    );
    assert_eq!(alert_ids(&out), ["password_spray_from_ip"]);
    assert_eq!(h.engine.stats().events, 16);
    // A single event in `log`: the record goes on whole, the host's other fields too,
    // tagged with the event's category and alerts.
    let one =
        serde_json::json!({ "log": DELETE, "stream": "stdout", "kubernetes": { "pod": "p" } })
            .to_string();
    let v: serde_json::Value = serde_json::from_str(filter(&mut h, &one)).unwrap();
    assert_eq!(v["log"], DELETE);
    assert_eq!(v["stream"], "stdout");
    assert_eq!(v["kubernetes"]["pod"], "p");
    assert_eq!(v["jcdetect"]["category"], "policy_change");
    assert_eq!(v["jcdetect"]["rules"][0], "policy_deleted");
    assert_eq!(alert_ids(&v.to_string()), ["policy_deleted"]);
}

#[test]
fn an_input_jcdetect_key_is_replaced_not_repeated() {
    let mut h = Host::new();
    let rec = r#"{"id":"1","jcdetect":{"old":true},"event_type":"policy_delete","service":"directory","timestamp":"2024-05-01T10:00:00Z"}"#;
    let out = filter(&mut h, rec).to_string();
    // Ours, and the one inside its alert; the input's is gone.
    assert_eq!(out.matches("\"jcdetect\":").count(), 2, "{out}");
    assert!(!out.contains("\"old\""), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["jcdetect"]["rules"][0], "policy_deleted");
    assert_eq!(v["id"], "1");
}

/// A scratch directory for one test.
fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("jcdetect-wasm-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn checkpointing(path: &std::path::Path, records: u64) -> String {
    serde_json::json!({
        "jcdetect_config": format!(
            "[fluentbit]\nstate = \"{}\"\ncheckpoint_records = {records}\n",
            path.display()
        )
    })
    .to_string()
}

#[test]
fn checkpoints_carry_the_windows_across_a_restart() {
    let dir = scratch("ckpt");
    let state = dir.join("state.bin");
    let control = checkpointing(&state, 4);
    let mut h = Host::new();
    assert_eq!(filter(&mut h, &control), "");
    for i in 0..12 {
        assert!(alert_ids(filter(&mut h, &failure(i, i as u32 * 10))).is_empty());
    }
    assert!(state.exists(), "written after 4, 8 and 12 records");
    assert!(!dir.join("state.bin.tmp").exists(), "renamed into place");
    // Fluent Bit restarts: a new instance, the same config. The 12 failures are back.
    let mut h = Host::new();
    filter(&mut h, &control);
    let mut fired = Vec::new();
    for i in 12..16 {
        fired.extend(alert_ids(filter(&mut h, &failure(i, i as u32 * 10))));
    }
    assert_eq!(fired, ["password_spray_from_ip"]);
    assert!(h.take_diagnostics().is_empty());
    // Without the checkpoint the same four would not fire.
    let mut fresh = Host::new();
    let fired: Vec<String> = (12..16)
        .flat_map(|i| alert_ids(filter(&mut fresh, &failure(i, i as u32 * 10))))
        .collect();
    assert!(fired.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn checkpoints_follow_event_time_too() {
    let dir = scratch("ckpt-time");
    let state = dir.join("state.bin");
    let control = serde_json::json!({
        "jcdetect_config": format!(
            "[fluentbit]\nstate = \"{}\"\ncheckpoint_secs = 30\n",
            state.display()
        )
    })
    .to_string();
    static WALL: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let mut h = Host::new();
    h.wall_clock = || WALL.load(std::sync::atomic::Ordering::Relaxed);
    let wall = |secs: i64| WALL.store(secs * 1_000_000_000, std::sync::atomic::Ordering::Relaxed);
    filter(&mut h, &control);
    // The watermark is set by the second event (10 s); checkpoints count from there.
    filter(&mut h, &failure(0, 0));
    filter(&mut h, &failure(1, 10));
    filter(&mut h, &failure(2, 39));
    assert!(!state.exists(), "29 s of event time: not yet");
    filter(&mut h, &failure(3, 40));
    assert!(
        !state.exists(),
        "30 s of event time but no wall time: a replay, not yet"
    );
    wall(29);
    filter(&mut h, &failure(4, 41));
    assert!(!state.exists(), "29 s of wall time: not yet");
    wall(30);
    filter(&mut h, &failure(5, 42));
    assert!(state.exists(), "30 s of event time and of wall time");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_damaged_checkpoint_is_moved_aside_and_reported() {
    let dir = scratch("ckpt-bad");
    let state = dir.join("state.bin");
    std::fs::write(&state, b"not a state file").unwrap();
    let mut h = Host::new();
    filter(&mut h, &checkpointing(&state, 1));
    let d = text(h.take_diagnostics()).to_string();
    assert!(
        d.contains("checkpoint_error") && d.contains("rejected"),
        "{d}"
    );
    assert_eq!(
        std::fs::read(dir.join("state.bin.rejected")).unwrap(),
        b"not a state file"
    );
    filter(&mut h, LOGIN);
    assert!(state.exists(), "the next checkpoint writes a good file");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_checkpoint_that_cannot_be_written_is_reported_once() {
    let mut h = Host::new();
    let missing = std::path::Path::new("/nonexistent-jcdetect-dir/state.bin");
    filter(&mut h, &checkpointing(missing, 1));
    for _ in 0..3 {
        filter(&mut h, LOGIN);
    }
    let d = text(h.take_diagnostics()).to_string();
    assert_eq!(d.matches("checkpoint_error").count(), 1, "{d}");
    assert!(d.contains("Accessible_Paths"), "{d}");
}

#[test]
fn checkpoint_keys_are_checked() {
    for (cfg, want) in [
        ("[fluentbit]\nstate = \"rel/state.bin\"\n", "absolute path"),
        (
            "[fluentbit]\nstate = \"/s\"\ncheckpoint_secs = 0\n",
            "at least 1",
        ),
        (
            "[fluentbit]\ncheckpoint_records = 5\n",
            "need `fluentbit.state`",
        ),
        ("[fluentbit]\nuse_record_time = \"yes\"\n", "true or false"),
    ] {
        let e = parse_filter_config(cfg).unwrap_err().to_string();
        assert!(e.contains(want), "{cfg}: {e}");
    }
    let fc = parse_filter_config("[fluentbit]\nstate = \"/var/lib/jcdetect/fb.state\"\n").unwrap();
    assert_eq!(
        fc.checkpoint,
        Some(CheckpointConfig {
            path: "/var/lib/jcdetect/fb.state".into(),
            every_secs: DEFAULT_CHECKPOINT_SECS,
            every_records: DEFAULT_CHECKPOINT_RECORDS,
        })
    );
}

#[test]
fn filter_drops_a_null_record_and_counts_it() {
    let mut h = Host::new();
    assert_eq!(h.filter(Err(BadInput::Null), 1, 0), b"\0");
    let s: serde_json::Value = serde_json::from_slice(h.stats()).unwrap();
    assert_eq!(s["diagnostics"]["null_input"], 1);
    assert!(text(h.take_diagnostics()).contains("null_input"));
}
