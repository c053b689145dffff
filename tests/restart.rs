//! Restarts and shutdown, end to end: `jcdetect --state FILE` stopped by SIGTERM/SIGINT in
//! the middle of attack stories and started again must raise exactly the alerts of one
//! uninterrupted run; stopping flushes alerts and finishes the line being read; damaged and
//! foreign state files are handled as `--help` says.

#[path = "common/live.rs"]
mod live;

use jcdetect::replay::{generate, AttackMix, GenConfig};
use live::{plain, Live, TempDir, BIN};
use std::io::Write;
use std::process::Command;

fn replay() -> Vec<u8> {
    let cfg = GenConfig {
        events: 20_000,
        seed: 11,
        users: 300,
        admins: 10,
        attacks: AttackMix::each(2),
        ..GenConfig::default()
    };
    let mut out = Vec::new();
    generate(&cfg, |l| {
        out.extend_from_slice(l);
        out.push(b'\n');
    })
    .expect("generator config");
    out
}

/// A line that raises one single-event alert naming `tag`, so the test knows when every
/// line before it has been processed and its alerts written.
fn marker(tag: &str) -> Vec<u8> {
    format!(
        "{{\"id\":\"{tag}\",\"event_type\":\"policy_delete\",\"service\":\"directory\",\
         \"resource\":{{\"id\":\"{tag}\",\"type\":\"policy\"}}}}\n"
    )
    .into_bytes()
}

/// Feed `data` split at `cuts` (line indices) to one process per segment, each stopped by
/// a signal once it has processed its segment. Returns the alerts, markers removed.
fn run_segments(data: &[u8], cuts: &[usize], state: Option<&std::path::Path>) -> Vec<String> {
    let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(lines.len());
    let mut alerts = Vec::new();
    for (n, seg) in bounds.windows(2).enumerate() {
        let mut args = vec!["-".to_string()];
        if let Some(p) = state {
            args.extend(["--state".into(), p.display().to_string()]);
        }
        let mut live = Live::spawn_piped(BIN, &args);
        let tag = format!("marker-{n}");
        let mut input = lines[seg[0]..seg[1]].concat();
        input.extend(marker(&tag));
        let mut stdin = live.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            stdin.write_all(&input).unwrap();
            stdin // kept open: the process must stop on the signal, not at end of input
        });
        let mut seen = 0;
        while !live.lines.iter().any(|l| l.contains(&tag)) {
            seen += 1;
            live.wait_lines(seen, &tag);
        }
        let _stdin = writer.join().unwrap();
        live.signal(if n % 2 == 0 { "TERM" } else { "INT" });
        let status = live.wait_exit();
        let err = live.stderr();
        assert_eq!(status.code(), Some(0), "segment {n}:\n{err}");
        if state.is_some() {
            assert!(err.contains("state: saved"), "segment {n}:\n{err}");
            if n > 0 {
                assert!(err.contains("state: loaded"), "segment {n}:\n{err}");
            }
        }
        alerts.extend(
            live.lines
                .iter()
                .filter(|l| !l.contains("marker-"))
                .cloned(),
        );
    }
    alerts
}

#[cfg(unix)]
#[test]
fn stopped_and_restarted_mid_attack_every_alert_fires_exactly_once() {
    let data = replay();
    let whole = plain(&[], &data);
    let stateful = whole.iter().filter(|l| l.contains("\"group_key\"")).count();
    assert!(
        stateful >= 10,
        "the replay raises stateful alerts ({stateful})"
    );
    let dir = TempDir::new("restart");
    let state = dir.join("state.bin");
    // Cuts every 2,500 lines fall inside attack stories, which span many lines.
    let cuts: Vec<usize> = (1..8).map(|i| i * 2_500).collect();
    let restarted = run_segments(&data, &cuts, Some(&state));
    assert!(
        restarted == whole,
        "restarts changed the alerts: {} vs {} lines",
        restarted.len(),
        whole.len()
    );
    // Without the state file the same restarts lose alerts: the test can tell.
    let forgetful = run_segments(&data, &cuts, None);
    assert!(forgetful != whole, "restarts without --state lost nothing?");
}

#[cfg(unix)]
#[test]
fn a_stop_reports_a_line_the_writer_never_finishes() {
    let dir = TempDir::new("stop-partial");
    let state = dir.join("s.bin");
    let mut live = Live::spawn_piped(BIN, &["--state", state.to_str().unwrap()]);
    let mut stdin = live.stdin.take().unwrap();
    // Two complete lines, then one the writer does not finish within the 2 s grace.
    let mut input = marker("first");
    input.extend(marker("second"));
    input.extend(b"{\"id\":\"cut\",\"event_type\":\"policy_del");
    stdin.write_all(&input).unwrap();
    live.wait_lines(2, "both markers");
    live.signal("TERM");
    let status = live.wait_exit();
    let err = live.stderr();
    assert_eq!(status.code(), Some(0), "{err}");
    // The cut line is not dropped silently: it is reported with its line number.
    assert!(err.contains("<stdin>:line 3: invalid_json"), "{err}");
    assert!(err.contains("summary: 3 lines"), "{err}");
    assert!(state.exists());
    drop(stdin);
}

#[test]
fn damaged_state_is_moved_aside_and_the_run_starts_fresh() {
    let dir = TempDir::new("state-damaged");
    let state = dir.join("s.bin");
    let example = live::example_path();
    let run = |extra: &[&str]| {
        Command::new(BIN)
            .args(["--state", state.to_str().unwrap()])
            .args(extra)
            .arg(&example)
            .output()
            .unwrap()
    };
    let first = run(&[]);
    assert!(first.status.success());
    let good = std::fs::read(&state).unwrap();
    // Truncated: reported, kept as s.bin.rejected, fresh start, new state saved.
    std::fs::write(&state, &good[..good.len() / 2]).unwrap();
    let out = run(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("truncated") && err.contains("starting with empty state"),
        "{err}"
    );
    assert!(dir.join("s.bin.rejected").exists());
    // A fresh start on the same events gives the first run's alerts.
    assert_eq!(out.stdout, first.stdout);
    // Another configuration: incompatible, also moved aside.
    let cfg = dir.join("c.toml");
    std::fs::write(&cfg, "[state]\nmemory_mb = 8\n").unwrap();
    let out = run(&["--config", cfg.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("different configuration"), "{err}");
}

#[test]
fn a_file_that_is_not_state_is_never_overwritten() {
    let dir = TempDir::new("state-foreign");
    let precious = dir.join("events.ndjson");
    std::fs::copy(live::example_path(), &precious).unwrap();
    let before = std::fs::read(&precious).unwrap();
    let out = Command::new(BIN)
        .args(["--state", precious.to_str().unwrap()])
        .arg(live::example_path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a jcdetect state file"), "{err}");
    assert_eq!(std::fs::read(&precious).unwrap(), before);
    assert!(out.stdout.is_empty(), "no run happened");
}

#[cfg(unix)]
#[test]
fn a_stop_completes_the_line_in_progress() {
    let mut live = Live::spawn_piped(BIN, &["-"]);
    let mut stdin = live.stdin.take().unwrap();
    stdin.write_all(&marker("first")).unwrap();
    live.wait_lines(1, "first marker");
    let second = marker("second");
    let (head, tail) = second.split_at(20);
    stdin.write_all(head).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    live.signal("TERM");
    // The writer finishes its line after the signal, within the grace, then more follows
    // that must stay unread.
    std::thread::sleep(std::time::Duration::from_millis(300));
    stdin.write_all(tail).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    // By now the reader has stopped at the end of line 2: this stays in the pipe.
    let _ = stdin.write_all(&marker("third"));
    let status = live.wait_exit();
    let err = live.stderr();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(!err.contains("invalid_json"), "{err}");
    assert!(err.contains("summary: 2 lines"), "{err}");
    assert!(live.lines.iter().any(|l| l.contains("second")), "{err}");
    assert!(!live.lines.iter().any(|l| l.contains("third")), "{err}");
}

/// A stop while data is flowing (written in pieces that cut lines anywhere) ends at a line
/// boundary: no line is cut, and the output is exactly a plain run's on the lines counted.
#[cfg(unix)]
#[test]
fn a_stop_mid_stream_cuts_no_line() {
    let data = replay();
    let mut live = Live::spawn_piped(BIN, &["-"]);
    let mut stdin = live.stdin.take().unwrap();
    let feed = data.clone();
    let writer = std::thread::spawn(move || {
        for piece in feed.chunks(40_000) {
            if stdin.write_all(piece).is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(3));
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(400));
    live.signal("TERM");
    let status = live.wait_exit();
    let err = live.stderr();
    assert_eq!(status.code(), Some(0), "{err}");
    let n: usize = err
        .split("summary: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no summary:\n{err}"));
    let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
    assert!(
        n > 0 && n < lines.len(),
        "stopped after {n} of {} lines",
        lines.len()
    );
    assert!(!err.contains("invalid_json"), "{err}");
    assert_eq!(live.lines, plain(&[], &lines[..n].concat()));
    drop(live);
    let _ = writer.join();
}
