//! `--follow` and `--listen` end to end: the binary on real files and loopback sockets, every
//! wait bounded (common/live.rs), the process killed at the end.

#[path = "common/live.rs"]
mod live;

use jcdetect::{Config, Emit, Engine, Options};
use live::{example_lines, plain, Live, TempDir, BIN};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn append(path: &Path, data: &[u8]) {
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .expect("open for append");
    f.write_all(data).expect("append");
}

fn concat(lines: &[Vec<u8>]) -> Vec<u8> {
    lines.concat()
}

/// Output lines the engine has written after each input line (`[k]` = after `k` lines).
fn cumulative(lines: &[Vec<u8>], emit: Emit) -> Vec<usize> {
    let opts = Options {
        emit,
        ..Options::default()
    };
    let mut engine = Engine::new(&Config::default(), opts);
    let (mut out, mut diags) = (Vec::new(), Vec::new());
    let mut cum = vec![0];
    for l in lines {
        engine.feed(l, &mut out, &mut diags);
        cum.push(out.iter().filter(|&&b| b == b'\n').count());
    }
    cum
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

// ---------------------------------------------------------------------------------------
// --follow

#[test]
fn follow_reads_growth_split_writes_rotation_and_truncation_exactly_once() {
    let lines = example_lines();
    assert_eq!(lines.len(), 32, "the example changed; adjust the phases");
    // `--emit all` writes every event too, so "exactly once" covers every line, not only
    // the alerts; the expected output is the plain filter's on the same lines.
    let expected = plain(&["--emit", "all"], &concat(&lines));
    let cum = cumulative(&lines, Emit::All);
    assert_eq!(cum[32], expected.len());
    assert!(expected.iter().any(|l| l.contains(r#""kind":"alert""#)));

    let dir = TempDir::new("follow");
    let path = dir.join("di.ndjson");
    fs::write(&path, concat(&lines[..10])).unwrap();
    let mut jc = Live::spawn(BIN, &["--emit", "all", "--follow", s(&path)]);

    // 1. What the file holds at start-up.
    jc.wait_lines(cum[10], "initial content");
    // 2. Growth, with line 11 split across two writes a poll interval apart.
    append(&path, &lines[10]);
    let (a, b) = lines[11].split_at(lines[11].len() / 2);
    append(&path, a);
    std::thread::sleep(Duration::from_millis(300));
    append(&path, &[b, &lines[12][..]].concat());
    assert_eq!(jc.wait_lines(cum[13], "growth"), &expected[..cum[13]]);

    // 3. Rotation: more lines (the last one without its newline) to the old file, rename it,
    //    create a new file at the path, all before the next poll.
    let mut tail = concat(&lines[13..16]);
    tail.pop();
    append(&path, &tail);
    fs::rename(&path, dir.join("di.ndjson.1")).unwrap();
    fs::write(&path, concat(&lines[16..22])).unwrap();
    assert_eq!(jc.wait_lines(cum[22], "rotation"), &expected[..cum[22]]);
    jc.wait_stderr("rotated", 1);

    // 4. copytruncate: copy, truncate in place, the writer goes on appending.
    fs::copy(&path, dir.join("di.ndjson.2")).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    jc.wait_stderr("truncated", 1);
    append(&path, &concat(&lines[22..]));
    jc.wait_lines(cum[32], "after truncation");

    // Nothing more may come: no line twice.
    let got = jc.settle(Duration::from_millis(700)).to_vec();
    assert_eq!(got, expected, "stderr:\n{}", jc.stderr());
    assert!(jc.running(), "--follow must keep running");
    let err = jc.stderr();
    assert!(!err.contains("invalid_json"), "{err}");
}

#[test]
fn follow_from_end_skips_what_the_file_held() {
    let lines = example_lines();
    let dir = TempDir::new("follow-end");
    let path = dir.join("di.ndjson");
    // Existing content ends inside a line: that line is skipped too.
    let mut old = concat(&lines[..10]);
    old.extend_from_slice(&lines[10][..40]);
    fs::write(&path, &old).unwrap();
    let mut jc = Live::spawn(
        BIN,
        &["--emit", "all", "--follow-from-end", "--follow", s(&path)],
    );
    std::thread::sleep(Duration::from_millis(400));
    append(&path, &lines[10][40..]);
    append(&path, &concat(&lines[11..13]));
    let expected = plain(&["--emit", "all"], &concat(&lines[11..13]));
    jc.wait_lines(expected.len(), "new lines");
    assert_eq!(jc.settle(Duration::from_millis(500)), &expected[..]);
}

#[test]
fn follow_and_listen_argument_errors_exit_2() {
    let missing = std::env::temp_dir().join("jcdetect-no-such-dir/di.ndjson");
    for (args, needle) in [
        (vec!["--follow", s(&missing)], "cannot open"),
        (
            vec!["--follow", "a.ndjson", "b.ndjson"],
            "take no other FILE",
        ),
        (
            vec!["--follow", "a", "--listen", "127.0.0.1:0"],
            "exclude each other",
        ),
        (vec!["--follow-from-end", "a.ndjson"], "needs --follow"),
        (
            vec!["--listen"],
            "a value is required for '--listen <ADDR>'",
        ),
        (vec!["--listen", "not an address"], "cannot listen on"),
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn help_and_readme_document_follow_and_listen() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let read = |rel: &str| fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel));
    let readme = read("README.md").unwrap();
    // The options table: in the README, or in docs/options.md once it moved there.
    let options = read("docs/options.md").unwrap_or_else(|_| readme.clone());
    for opt in ["--follow FILE", "--follow-from-end", "--listen ADDR"] {
        assert!(help.contains(opt), "{opt} in --help");
        assert!(
            options.contains(&format!("| `{opt}` |")),
            "{opt} in the options table"
        );
    }
    // Where they live (src/cli/input/): in the README's architecture, or docs/architecture.md.
    let arch = read("docs/architecture.md").unwrap_or_else(|_| readme.clone());
    assert!(arch.contains("follow.rs") && arch.contains("listen.rs"));
    assert!(readme.contains("### Pipelines") && readme.contains("pipeline-configs/README.md"));
}

#[test]
fn listen_on_a_busy_port_exits_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(BIN)
        .args(["--listen", &addr])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
}

// ---------------------------------------------------------------------------------------
// --listen

fn listen(extra: &[&str]) -> (Live, std::net::SocketAddr) {
    let mut args = vec!["--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let jc = Live::spawn(BIN, &args);
    let addr = jc.listen_addr();
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    (jc, addr)
}

/// 16 failed logins from one ip for 16 distinct users: one `password_spray_from_ip`.
fn spray() -> Vec<Vec<u8>> {
    (0..16)
        .map(|i| {
            format!(
                concat!(
                    r#"{{"id":"spray{i:02}","event_type":"user_login_attempt","service":"directory","#,
                    r#""organization":"o1","timestamp":"2024-06-03T10:00:{i:02}Z","#,
                    r#""initiated_by":{{"type":"user","username":"u{i:02}@example.com"}},"#,
                    r#""success":false,"client_ip":"203.0.113.50"}}"#,
                    "\n"
                ),
                i = i
            )
            .into_bytes()
        })
        .collect()
}

#[test]
fn listen_connections_share_one_state_and_keep_their_own_lines() {
    let lines = spray();
    let expected = plain(&[], &concat(&lines));
    assert_eq!(expected.len(), 1, "{expected:?}");
    assert!(expected[0].contains("password_spray_from_ip"));

    let (mut jc, addr) = listen(&[]);
    let mut a = TcpStream::connect(addr).unwrap();
    let mut b = TcpStream::connect(addr).unwrap();
    // Half of an A line, a whole B line, the rest of the A line: with one framing for all
    // connections the lines would be cut and merged.
    for pair in lines.chunks(2) {
        let (head, rest) = pair[0].split_at(pair[0].len() / 2);
        a.write_all(head).unwrap();
        a.flush().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        b.write_all(&pair[1]).unwrap();
        b.flush().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        a.write_all(rest).unwrap();
    }
    drop((a, b));
    jc.wait_lines(1, "spray alert");
    let got = jc.settle(Duration::from_millis(500)).to_vec();
    // Which line completes the spray depends on how the connections interleave; the alert
    // itself does not: one spray alert over all 16 distinct users.
    assert_eq!(got.len(), 1, "{got:?}");
    let alert: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(alert["rule"]["id"], "password_spray_from_ip");
    assert_eq!(alert["jcdetect"]["group_key"], "203.0.113.50");
    assert_eq!(alert["jcdetect"]["distinct_count"], 16);
    assert_eq!(alert["jcdetect"]["di_event_count"], 16);
    jc.wait_stderr("closed after 8 lines", 2);
    let err = jc.stderr();
    assert!(!err.contains("warning:"), "no line may be damaged:\n{err}");
}

#[test]
fn listen_survives_garbage_and_a_10_mb_line_and_names_connection_and_line() {
    let (mut jc, addr) = listen(&["--max-line-bytes", "4194304"]);
    let lines = example_lines();
    let expected = plain(&[], &concat(&lines));
    // Under this run's 4 MiB limit the 10 MB line is dropped without being buffered; the
    // garbage line is rejected as JSON; a line split across two writes is joined.
    let mut bad = TcpStream::connect(addr).unwrap();
    bad.write_all(b"garbage\n").unwrap();
    let big = vec![b'x'; 10 << 20];
    bad.write_all(&big).unwrap();
    bad.write_all(b"\n{\"not\":").unwrap();
    bad.write_all(b"\"closed\"\n").unwrap(); // valid JSON, not a DI event: no alert
    bad.write_all(&concat(&lines)).unwrap();
    drop(bad);
    jc.wait_lines(expected.len(), "alerts after the bad lines");
    assert_eq!(jc.settle(Duration::from_millis(500)), &expected[..]);
    let err = jc.stderr();
    let conn = jc.wait_stderr("tcp#1 127.0.0.1:", 1);
    // `jcdetect: tcp#1 127.0.0.1:PORT: connected`
    let name = conn
        .trim_start_matches("jcdetect: ")
        .split(": ")
        .next()
        .unwrap()
        .trim();
    assert!(
        err.contains(&format!("{name}:line 1: invalid_json")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{name}:line 2: line_too_long: 10485760 bytes")),
        "{err}"
    );
    // The server is still up and serving.
    assert!(jc.running());
    let mut again = TcpStream::connect(addr).unwrap();
    again.write_all(b"{broken\n").unwrap();
    drop(again);
    jc.wait_stderr(":line 1: invalid_json", 2);
    let err = jc.stderr();
    assert!(
        err.lines()
            .any(|l| l.contains("tcp#2 127.0.0.1:") && l.contains(":line 1: invalid_json")),
        "{err}"
    );
}

#[test]
fn listen_a_10_mb_line_under_the_default_limit_is_rejected_and_the_server_goes_on() {
    let (mut jc, addr) = listen(&[]);
    let lines = example_lines();
    let expected = plain(&[], &concat(&lines));
    let mut c = TcpStream::connect(addr).unwrap();
    let mut big = vec![b'{'; 10 << 20];
    big.push(b'\n');
    c.write_all(&big).unwrap();
    c.write_all(&concat(&lines)).unwrap();
    drop(c);
    jc.wait_lines(expected.len(), "alerts after a 10 MB line");
    assert_eq!(jc.settle(Duration::from_millis(300)), &expected[..]);
    jc.wait_stderr(":line 1: invalid_json", 1);
}

#[test]
fn listen_clients_may_reconnect_and_state_carries_over() {
    let (mut jc, addr) = listen(&[]);
    let lines = example_lines();
    let expected = plain(&[], &concat(&lines));
    let mut first = TcpStream::connect(addr).unwrap();
    first.write_all(&concat(&lines[..20])).unwrap();
    drop(first);
    // The first connection is fully read before the second starts, so the order is fixed.
    jc.wait_stderr("closed after 20 lines", 1);
    let mut second = TcpStream::connect(addr).unwrap();
    // The last line has no newline: it counts when the connection closes.
    let mut rest = concat(&lines[20..]);
    rest.pop();
    second.write_all(&rest).unwrap();
    drop(second);
    jc.wait_lines(expected.len(), "alerts over two connections");
    assert_eq!(jc.settle(Duration::from_millis(300)), &expected[..]);
    jc.wait_stderr("closed after 12 lines", 1);
    assert!(jc.running(), "a closed client must not end --listen");
}

// ---------------------------------------------------------------------------------------
// Stopping: SIGTERM/SIGINT end --follow and --listen cleanly (exit 0, alerts flushed,
// summary, --state and --stats-json written), and the state carries into the next run.

#[cfg(unix)]
#[test]
fn follow_and_listen_stop_cleanly_on_a_signal_and_save_state() {
    let lines = example_lines();
    let want = plain(&[], &concat(&lines));
    let dir = TempDir::new("stop-live");
    let state = dir.join("s.bin");
    let stats = dir.join("stats.json");
    let path = dir.join("di.ndjson");
    let follow = |extra: &[&str]| {
        let mut args = vec!["--follow", s(&path), "--state", s(&state)];
        args.extend_from_slice(extra);
        Live::spawn(BIN, &args)
    };
    // 1. --follow: 12 lines and half of the 13th (the writer is in the middle of it), then
    //    a SIGTERM. The half line is left for the next run, not reported.
    let (a, b) = lines[12].split_at(lines[12].len() / 2);
    fs::write(&path, [concat(&lines[..12]), a.to_vec()].concat()).unwrap();
    let n1 = plain(&[], &concat(&lines[..12])).len();
    let mut jc = follow(&["--stats-json", s(&stats)]);
    jc.wait_lines(n1, "first part");
    std::thread::sleep(Duration::from_millis(300));
    jc.signal("TERM");
    let status = jc.wait_exit();
    let err = jc.stderr();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("summary: 12 lines"), "{err}");
    assert!(err.contains("state: saved"), "{err}");
    assert!(!err.contains("invalid_json"), "{err}");
    assert!(fs::read_to_string(&stats)
        .unwrap()
        .contains("\"lines\": 12"));
    let mut got = jc.lines.clone();
    // 2. While it is down the writer finishes the line and writes more. The restart resumes
    //    at the half line: nothing read twice, nothing skipped.
    append(&path, &[b, &concat(&lines[13..24])[..]].concat());
    let n2 = plain(&[], &concat(&lines[..24])).len() - n1;
    let mut jc = follow(&[]);
    jc.wait_lines(n2, "second part");
    jc.signal("TERM");
    let status = jc.wait_exit();
    let err = jc.stderr();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("resuming at byte"), "{err}");
    assert!(err.contains("summary: 12 lines"), "{err}");
    got.extend(jc.lines.iter().cloned());
    // 3. --listen: the rest over TCP from that state, then a SIGINT.
    let (mut jc, addr) = listen(&["--state", s(&state)]);
    TcpStream::connect(addr)
        .unwrap()
        .write_all(&concat(&lines[24..]))
        .unwrap();
    jc.wait_lines(want.len() - got.len(), "third part");
    jc.signal("INT");
    let status = jc.wait_exit();
    let err = jc.stderr();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("state: loaded"), "{err}");
    got.extend(jc.lines.iter().cloned());
    assert_eq!(
        got, want,
        "one stream over three processes, alerts exactly once"
    );
}

#[cfg(unix)]
#[test]
fn a_closed_output_pipe_leaves_the_state_file_alone() {
    let dir = TempDir::new("stop-pipe");
    let state = dir.join("s.bin");
    let big: Vec<u8> = std::iter::repeat_n(concat(&example_lines()), 1000)
        .flatten()
        .collect();
    let input = dir.join("big.ndjson");
    fs::write(&input, &big).unwrap();
    let script = format!(
        "\"$0\" --state {} {} | head -c 1 > /dev/null",
        s(&state),
        s(&input)
    );
    let out = Command::new("sh")
        .args(["-c", &script, BIN])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.to_lowercase().contains("broken pipe"), "{err}");
    assert!(err.contains("state not saved"), "{err}");
    assert!(!state.exists());
}

/// `--follow-from-end` stopped while still skipping the partial line it started in: the
/// resumed run keeps skipping it instead of reading its tail as a line.
#[cfg(unix)]
#[test]
fn follow_from_end_resumes_inside_the_skipped_line() {
    let lines = example_lines();
    let dir = TempDir::new("stop-from-end");
    let (path, state) = (dir.join("di.ndjson"), dir.join("s.bin"));
    let (a, b) = lines[5].split_at(lines[5].len() / 2);
    fs::write(&path, [concat(&lines[..5]), a.to_vec()].concat()).unwrap();
    let args = [
        "--follow",
        s(&path),
        "--follow-from-end",
        "--state",
        s(&state),
    ];
    let mut jc = Live::spawn(BIN, &args);
    std::thread::sleep(Duration::from_millis(500));
    jc.signal("TERM");
    assert_eq!(jc.wait_exit().code(), Some(0), "{}", jc.stderr());
    append(&path, &[b, &concat(&lines[6..9])[..]].concat());
    let mut jc = Live::spawn(BIN, &args);
    jc.wait_stderr("resuming at byte", 1);
    std::thread::sleep(Duration::from_millis(500));
    jc.signal("TERM");
    assert_eq!(jc.wait_exit().code(), Some(0));
    let err = jc.stderr();
    assert!(!err.contains("invalid_json"), "{err}");
    assert!(err.contains("summary: 3 lines"), "{err}");
}

// ---------------------------------------------------------------------------------------
// stdin pipe

#[test]
fn a_pipe_writer_sending_one_line_at_a_time_gets_each_lines_alerts_before_the_next() {
    // As Vector's console sink writes: an event per write. After two small reads the reader
    // pauses to gather writes (`src/cli/input/files.rs`); the alerts of what was read must still go out
    // at once, not wait for more input.
    let lines = example_lines();
    let cum = cumulative(&lines, Emit::Alerts);
    let mut jc = Live::spawn_piped(BIN, &["--quiet", "-"]);
    let mut stdin = jc.stdin.take().unwrap();
    for (i, l) in lines.iter().enumerate() {
        stdin.write_all(l).unwrap();
        stdin.flush().unwrap();
        jc.wait_lines(cum[i + 1], &format!("the alerts of line {}", i + 1));
    }
    drop(stdin);
    let expected = plain(&[], &concat(&lines));
    assert_eq!(jc.settle(Duration::from_millis(300)), &expected[..]);
}

#[test]
fn a_signal_right_after_the_first_is_the_same_stop() {
    // A terminal's Ctrl-C reaches jcdetect and Vector together, and Vector's SIGTERM to its
    // `exec` child follows at once: still one clean stop, with the state saved.
    let lines = example_lines();
    let dir = TempDir::new("two-signals");
    let (state, path) = (dir.join("s.bin"), dir.join("di.ndjson"));
    fs::write(&path, concat(&lines)).unwrap();
    let mut jc = Live::spawn(BIN, &["--follow", s(&path), "--state", s(&state)]);
    jc.wait_lines(plain(&[], &concat(&lines)).len(), "the alerts");
    jc.signal("INT");
    std::thread::sleep(Duration::from_millis(50));
    jc.signal("TERM");
    let status = jc.wait_exit();
    let err = jc.stderr();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("state: saved"), "{err}");
    assert!(state.exists());
}

/// SIGHUP under `--follow`: the rules are read again; a new rule fires from then on, a
/// correlation in progress goes on from the events before the reload, and a broken rule
/// file is reported while the rules in place go on.
#[test]
fn sighup_reloads_the_rules_and_keeps_the_windows() {
    let dir = TempDir::new("sighup");
    let rules = dir.join("rules.yml");
    let base = "title: f\nname: fail\nlogsource: {product: jumpcloud}\ndetection:\n  s: {event_type: user_login_attempt, success: false}\n  condition: s\n---\ntitle: burst\nname: burst\ncorrelation: {type: event_count, rules: [fail], group-by: [initiated_by.username], timespan: 10m, condition: {gte: 4}}\n";
    fs::write(&rules, base).unwrap();
    let log = dir.join("di.ndjson");
    let fail = |n: u32| {
        format!(
            "{{\"id\":\"h{n}\",\"event_type\":\"user_login_attempt\",\"service\":\"sso\",\"success\":false,\"initiated_by\":{{\"username\":\"eve\"}},\"timestamp\":\"2024-05-01T10:00:{n:02}Z\"}}\n"
        )
    };
    fs::write(&log, fail(0) + &fail(1)).unwrap();
    let mut jc = Live::spawn(
        BIN,
        &["-c", "/dev/null", "--rules", s(&rules), "--follow", s(&log)],
    );
    std::thread::sleep(Duration::from_millis(500));
    // A new single-event rule; the correlation unchanged.
    let added = format!("{base}---\ntitle: eve\nname: eve_seen\nlogsource: {{product: jumpcloud}}\ndetection:\n  s: {{initiated_by.username: eve}}\n  condition: s\n");
    fs::write(&rules, &added).unwrap();
    jc.signal("HUP");
    jc.wait_stderr("SIGHUP: reloaded", 1);
    append(&log, (fail(2) + &fail(3)).as_bytes());
    let got: Vec<String> = jc
        .wait_lines(3, "after the reload")
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["rule"]["id"].to_string())
        .collect();
    // The 4th failure completes the burst begun before the reload (its alert comes with the
    // failed-login rule's turn, before the new rule's, in file order).
    assert_eq!(got, ["\"eve_seen\"", "\"burst\"", "\"eve_seen\""]);
    // A broken file: reported, the rules in place go on.
    fs::write(&rules, "title: x\ndetection: [\n").unwrap();
    jc.signal("HUP");
    jc.wait_stderr("SIGHUP: not reloaded", 1);
    append(&log, fail(4).as_bytes());
    // The 5th failure: the built-in brute_force_attempts, then the new rule, still loaded.
    let after = jc.wait_lines(5, "after a refused reload").to_vec();
    assert!(after[3].contains("brute_force_attempts"), "{}", after[3]);
    assert!(after[4].contains("eve_seen"), "{}", after[4]);
    assert!(jc.running());
}
