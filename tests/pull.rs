//! `jcdetect pull` and `jcdetect --pull` end to end: the binary against a fake Directory
//! Insights API on loopback (common/fake_di.rs) serving a generated replay, with late
//! arrivals, scripted faults and SIGTERM at random moments. What must hold: every event
//! delivered exactly once across any number of restarts, and the detector raising exactly
//! the replay's ground-truth alerts. (The state machine alone goes through thousands of
//! scripts in `src/pull/tests.rs`; here the real HTTP path and the process do.)

#[path = "common/fake_di.rs"]
mod fake_di;
#[path = "common/live.rs"]
mod live;

use fake_di::{FakeConfig, FakeDi, FakeEvent, Fault};
use jcdetect::decode::time::to_rfc3339;
use jcdetect::replay::{generate, AttackMix, GenConfig, Truth};
use live::{Live, TempDir, BIN};
use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::time::Duration;

const S: i64 = 1_000_000_000;
const KEY: &str = "k3y-that-must-never-show";

/// A replay: its lines and truth.
fn replay(events: u64, attacks: AttackMix, seed: u64) -> (Vec<String>, Truth) {
    let mut lines = Vec::new();
    let cfg = GenConfig {
        events,
        seed,
        attacks,
        ..GenConfig::default()
    };
    let truth = generate(&cfg, |l| {
        lines.push(
            String::from_utf8(l.to_vec())
                .unwrap()
                .trim_end()
                .to_string(),
        )
    })
    .unwrap();
    (lines, truth)
}

fn id_of(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["id"].as_str().unwrap().to_string()
}

/// The common arguments of a pull against `fake`.
fn args(dir: &TempDir, fake: &FakeDi, truth: &Truth, extra: &[&str]) -> Vec<String> {
    let key = dir.join("key");
    std::fs::write(&key, format!("{KEY}\n")).unwrap();
    let mut a: Vec<String> = [
        "--api-url",
        &fake.url(),
        "--api-key-file",
        key.to_str().unwrap(),
        "--since",
        &to_rfc3339(truth.first_time),
        "--until",
        &to_rfc3339(truth.last_time),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// The fake API serving `lines`, each visible at its own time.
fn serve(lines: &[String], cfg: FakeConfig) -> FakeDi {
    FakeDi::start(
        lines
            .iter()
            .map(|l| FakeEvent::from_line(l, None))
            .collect(),
        cfg,
    )
}

fn fake_config() -> FakeConfig {
    FakeConfig {
        api_key: KEY.into(),
        ..FakeConfig::default()
    }
}

#[test]
fn pull_writes_every_event_once_in_time_order_and_counts_its_pages() {
    let (lines, truth) = replay(3000, AttackMix::none(), 7);
    let fake = serve(&lines, fake_config());
    let dir = TempDir::new("pull-basic");
    let stats = dir.join("stats.json");
    let state = dir.join("cursor.json");
    let mut a = vec!["pull".to_string()];
    a.extend(args(
        &dir,
        &fake,
        &truth,
        &[
            "--limit",
            "700",
            "--state",
            state.to_str().unwrap(),
            "--stats-json",
            stats.to_str().unwrap(),
        ],
    ));
    let out = Command::new(BIN).args(&a).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let got: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(got.len(), lines.len(), "{stderr}");
    // Each event byte for byte, in the API's (ms, id) order.
    let mut want: Vec<FakeEvent> = lines
        .iter()
        .map(|l| FakeEvent::from_line(l, None))
        .collect();
    want.sort_by(|a, b| a.key().cmp(&b.key()));
    let want: Vec<&str> = want.iter().map(|e| e.json.as_str()).collect();
    assert_eq!(got, want);
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    assert_eq!(s["pull"]["events"], 3000);
    assert_eq!(s["pull"]["pages"], 5, "3000 events in pages of 700: {s}");
    // The contract on the wire: the key in its header, ASC pages, search_after from the
    // previous page's header.
    let reqs = fake.requests();
    assert!(reqs.iter().all(|r| r.api_key_seen && r.status == 200));
    assert_eq!(reqs[0].body["sort"], "ASC");
    assert!(reqs[0].body.get("search_after").is_none());
    assert!(reqs[1].body["search_after"].is_array());
    // The key is nowhere but on the wire.
    let cursor = std::fs::read_to_string(&state).unwrap();
    for (what, text) in [("stderr", &*stderr), ("state", &*cursor)] {
        assert!(!text.contains(KEY), "the key is in {what}");
    }
    // A second run with the cursor has nothing left to deliver: no request at all.
    let before = fake.request_count();
    let again = Command::new(BIN).args(&a).output().unwrap();
    assert!(again.status.success());
    assert!(again.stdout.is_empty());
    assert_eq!(fake.request_count(), before);
}

#[test]
fn a_refused_key_or_no_key_is_a_setup_error_that_never_shows_the_key() {
    let (lines, truth) = replay(300, AttackMix::none(), 3);
    let fake = serve(
        &lines,
        FakeConfig {
            api_key: "another-key".into(),
            ..FakeConfig::default()
        },
    );
    let dir = TempDir::new("pull-key");
    let mut a = vec!["pull".to_string()];
    a.extend(args(&dir, &fake, &truth, &[]));
    let out = Command::new(BIN).args(&a).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("refused the key (401"), "{stderr}");
    assert!(!stderr.contains(KEY), "{stderr}");
    assert!(out.stdout.is_empty());
    // No key at all: said before any request.
    let n = fake.request_count();
    let out = Command::new(BIN)
        .args(["pull", "--api-url", &fake.url()])
        .env_remove("JUMPCLOUD_API_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("JUMPCLOUD_API_KEY"));
    assert_eq!(fake.request_count(), n);
    // The key from the environment works as the file does.
    let ok = Command::new(BIN)
        .args([
            "pull",
            "--api-url",
            &fake.url(),
            "--since",
            &to_rfc3339(truth.first_time),
            "--until",
            &to_rfc3339(truth.last_time),
        ])
        .env("JUMPCLOUD_API_KEY", "another-key")
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(ok.stdout.iter().filter(|&&b| b == b'\n').count(), 300);
}

/// xorshift64*, for the scripts.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// Late arrivals (by less than `lag`) and a virtual clock that crosses `until + lag` in
/// about 60 requests.
fn late_world(
    lines: &[String],
    truth: &Truth,
    rng: &mut Rng,
    lag: i64,
) -> (Vec<FakeEvent>, FakeConfig) {
    let events = lines
        .iter()
        .map(|l| {
            let mut e = FakeEvent::from_line(l, None);
            if rng.below(8) == 0 {
                e.arrival = e.ts + rng.below((lag / S) as u64) as i64 * S;
            }
            e
        })
        .collect();
    let span = truth.last_time - truth.first_time + 2 * lag;
    let cfg = FakeConfig {
        clock_start: truth.first_time,
        clock_step: (span / 60).max(S),
        // The API's clock (virtual, in the replay's year) is far off ours: only its own
        // may count.
        ..fake_config()
    };
    (events, cfg)
}

fn random_fault(rng: &mut Rng) -> Fault {
    match rng.below(9) {
        0 => Fault::Status(429, Some("0".into())),
        1 => Fault::Status(503, None),
        2 => Fault::Status(500, None),
        3 => Fault::Stall(Duration::from_millis(300)),
        4 => Fault::ResetMidBody,
        5 => Fault::Truncated,
        6 => Fault::NotAnArray,
        7 => Fault::RepeatPrevious,
        _ => Fault::WrongCount,
    }
}

#[test]
fn restarts_at_random_moments_through_faults_and_late_arrivals_lose_and_repeat_nothing() {
    let (lines, truth) = replay(4000, AttackMix::none(), 11);
    let lag = 120 * S;
    let mut scripts = 0;
    let mut restarts = 0;
    let mut faults = 0;
    for seed in 1..=8u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let (events, mut cfg) = late_world(&lines, &truth, &mut rng, lag);
        for n in 0..400u64 {
            if rng.below(6) == 0 {
                cfg.faults.insert(n, random_fault(&mut rng));
                faults += 1;
            }
        }
        let fake = FakeDi::start(events, cfg);
        let dir = TempDir::new("pull-restart");
        let state = dir.join("cursor.json");
        let mut a = vec!["pull".to_string()];
        a.extend(args(
            &dir,
            &fake,
            &truth,
            &[
                "--limit",
                &(50 + rng.below(400)).to_string(),
                "--lag-secs",
                "120",
                "--poll-secs",
                "0.02",
                "--backoff-secs",
                "0.01",
                "--timeout-secs",
                "0.1",
                "--state",
                state.to_str().unwrap(),
                "-q",
            ],
        ));
        let mut delivered: Vec<String> = Vec::new();
        for attempt in 0.. {
            assert!(attempt < 60, "seed {seed}: no end after 60 runs");
            let mut run = Live::spawn(BIN, &a);
            // Stop it at a random moment (sometimes not at all).
            std::thread::sleep(Duration::from_millis(rng.below(250)));
            let stopped = run.running() && rng.below(4) != 0;
            if stopped {
                run.signal("TERM");
                restarts += 1;
            }
            let status = run.wait_exit();
            // A signal before jcdetect installed its handler (still exec'ing) kills it;
            // it has written nothing then.
            let early = status.code().is_none() && run.lines.is_empty();
            assert!(
                status.success() || early,
                "seed {seed}: {status:?}\n{}",
                run.stderr()
            );
            delivered.extend(run.lines.iter().map(|l| id_of(l)));
            if !stopped {
                break;
            }
        }
        scripts += 1;
        let mut count: HashMap<&str, u32> = HashMap::new();
        for id in &delivered {
            *count.entry(id).or_default() += 1;
        }
        let twice: Vec<_> = count.iter().filter(|(_, &n)| n > 1).collect();
        assert!(twice.is_empty(), "seed {seed}: delivered twice: {twice:?}");
        let missing = lines
            .iter()
            .filter(|l| !count.contains_key(id_of(l).as_str()))
            .count();
        assert_eq!(missing, 0, "seed {seed}: {missing} events never delivered");
    }
    assert_eq!(scripts, 8);
    assert!(restarts >= 8, "only {restarts} restarts");
    assert!(faults > 150);
}

/// `(rule, group key)` of each stateful alert, and counts of single-event alerts.
fn alerts_of(lines: &[String]) -> (BTreeMap<(String, String), u32>, BTreeMap<String, u64>) {
    let (mut stateful, mut single) = (BTreeMap::new(), BTreeMap::new());
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let rule = v["rule"]["id"].as_str().unwrap().to_string();
        match v["jcdetect"]["group_key"].as_str() {
            Some(k) => *stateful.entry((rule, k.to_string())).or_default() += 1,
            None => *single.entry(rule).or_default() += 1,
        }
    }
    (stateful, single)
}

#[test]
fn the_detector_on_the_api_raises_the_replays_ground_truth_across_a_restart() {
    let (lines, truth) = replay(30_000, AttackMix::each(2), 5);
    let mut rng = Rng(99);
    let (events, cfg) = late_world(&lines, &truth, &mut rng, 120 * S);
    let fake = FakeDi::start(events, cfg);
    let dir = TempDir::new("pull-detect");
    let state = dir.join("state");
    let stats = dir.join("stats.json");
    let mut a = vec!["--pull".to_string()];
    a.extend(args(
        &dir,
        &fake,
        &truth,
        &[
            "--lag-secs",
            "120",
            "--poll-secs",
            "0.02",
            "--limit",
            "2000",
            "--state",
            state.to_str().unwrap(),
            "--stats-json",
            stats.to_str().unwrap(),
        ],
    ));
    // First run: stopped part way; the second resumes from the same state file (windows
    // and cursor together).
    let mut first = Live::spawn(BIN, &a);
    std::thread::sleep(Duration::from_millis(300));
    first.signal("TERM");
    assert!(first.wait_exit().success(), "{}", first.stderr());
    let mut second = Live::spawn(BIN, &a);
    assert!(second.wait_exit().success(), "{}", second.stderr());
    let all: Vec<String> = first.lines.iter().chain(&second.lines).cloned().collect();
    let (stateful, single) = alerts_of(&all);
    let mut want_stateful: BTreeMap<(String, String), u32> = BTreeMap::new();
    for e in &truth.stateful {
        *want_stateful
            .entry((e.rule.to_string(), e.group_key.clone()))
            .or_default() += 1;
    }
    assert_eq!(stateful, want_stateful);
    let want_single: BTreeMap<String, u64> = truth
        .single
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(r, n)| (r.to_string(), *n))
        .collect();
    assert_eq!(single, want_single);
    // The first run was stopped part way: the second had events left to read.
    assert!(
        first.stderr().contains("stopped by a signal"),
        "{}",
        first.stderr()
    );
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    let second_events = s["pull"]["events"].as_u64().unwrap();
    assert!(second_events > 0 && second_events < 30_000, "{s}");
}

#[test]
fn pull_options_are_checked() {
    let cases: &[(&[&str], &str)] = &[
        (&["--api-url", "http://x"], "the pull options need --pull"),
        (&["--pull", "x.ndjson"], "takes no FILE"),
        (&["--pull", "--follow", "x"], "takes no FILE"),
        (
            &["pull", "--limit", "10001"],
            "not an integer from 1 to 10000",
        ),
        (&["pull", "--limit", "0"], "not an integer from 1 to 10000"),
        (&["pull", "--poll-secs", "0"], "not a positive number"),
        (&["pull", "--since", "yesterday"], "give a duration"),
        (&["pull", "--until", "soon"], "not an RFC 3339 time"),
        (
            &[
                "pull",
                "--since",
                "2025-01-02T00:00:00Z",
                "--until",
                "2025-01-01T00:00:00Z",
            ],
            "is after --until",
        ),
        (
            &["pull", "--api-key", "x"],
            "unexpected argument '--api-key'",
        ),
        (
            &["pull", "--service", "all", "--service", "sso"],
            "give it alone",
        ),
        (
            &["pull", "--api-url", "http://api.example.com"],
            "clear text",
        ),
        (&["pull", "--api-url", "ftp://x"], "not an http(s) URL"),
    ];
    for (argv, want) in cases {
        let out = Command::new(BIN)
            .args(*argv)
            .env_remove("JUMPCLOUD_API_KEY")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{argv:?}: {err}");
        assert!(err.contains(want), "{argv:?}: {err}");
    }
}

#[test]
fn each_http_fault_is_retried_counted_and_costs_no_event() {
    let (lines, truth) = replay(2000, AttackMix::none(), 21);
    // Request 0 answers the first page; the faults hit the paging requests after it.
    let script = [
        (1, Fault::Status(429, Some("0".into())), "rate_limited"),
        (2, Fault::Status(503, None), "unavailable"),
        (3, Fault::Status(502, None), "server_errors"),
        (4, Fault::Stall(Duration::from_millis(2500)), "timeouts"),
        (5, Fault::ResetMidBody, "connection_errors"),
        (6, Fault::Truncated, "bad_bodies"),
        (7, Fault::NotAnArray, "bad_bodies"),
        (8, Fault::WrongCount, "count_mismatches"),
        (10, Fault::RepeatPrevious, "repeated_pages"),
        (11, Fault::Status(401, None), "auth_failures"),
    ];
    let mut cfg = fake_config();
    for (n, f, _) in &script {
        cfg.faults.insert(*n, f.clone());
    }
    let fake = serve(&lines, cfg);
    let dir = TempDir::new("pull-faults");
    let stats = dir.join("stats.json");
    let mut a = vec!["pull".to_string()];
    a.extend(args(
        &dir,
        &fake,
        &truth,
        &[
            "--limit",
            "150",
            "--timeout-secs",
            "1",
            "--backoff-secs",
            "0.01",
            "--stats-json",
            stats.to_str().unwrap(),
        ],
    ));
    let out = Command::new(BIN).args(&a).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let mut ids: Vec<String> = std::str::from_utf8(&out.stdout)
        .unwrap()
        .lines()
        .map(id_of)
        .collect();
    ids.sort();
    let mut want: Vec<String> = lines.iter().map(|l| id_of(l)).collect();
    want.sort();
    assert_eq!(ids, want, "{stderr}");
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, _, counter) in &script {
        *expected.entry(counter).or_default() += 1;
    }
    for (counter, n) in &expected {
        assert_eq!(s["pull"][counter], *n, "{counter}: {s}");
    }
    assert_eq!(s["pull"]["retries"], script.len() as u64, "{s}");
    // Each retry is on stderr with its reason; the 401 after a success is an error, not fatal.
    assert!(stderr.contains("rate limited (429)"), "{stderr}");
    assert!(stderr.contains("refused the key (401"), "{stderr}");
    assert!(!stderr.contains(KEY));
}

#[test]
fn one_state_file_one_jcdetect_and_a_pull_state_is_never_set_aside() {
    let (lines, truth) = replay(500, AttackMix::none(), 8);
    let fake = serve(&lines, fake_config());
    let dir = TempDir::new("pull-lock");
    let state = dir.join("state");
    // A live pull (no --until) holds the state file...
    let key = dir.join("key");
    std::fs::write(&key, KEY).unwrap();
    let first = to_rfc3339(truth.first_time);
    let url = fake.url();
    let live_args = [
        "pull",
        "--api-url",
        &url,
        "--api-key-file",
        key.to_str().unwrap(),
        "--since",
        &first,
        "--poll-secs",
        "0.05",
        "--state",
        state.to_str().unwrap(),
    ];
    let mut live = Live::spawn(BIN, &live_args);
    live.wait_lines(500, "the live pull");
    // ... so a second one on it is refused.
    let out = Command::new(BIN).args(live_args).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another jcdetect"));
    live.signal("TERM");
    assert!(live.wait_exit().success());
    // The filter's state with the --pull cursor in it, read with other tables: refused and
    // left in place (set aside, the run would start over from --since).
    let fstate = dir.join("fstate");
    let mut a = vec!["--pull".to_string()];
    a.extend(args(
        &dir,
        &fake,
        &truth,
        &["--state", fstate.to_str().unwrap()],
    ));
    assert!(Command::new(BIN)
        .args(&a)
        .output()
        .unwrap()
        .status
        .success());
    let cfg = dir.join("small.toml");
    std::fs::write(&cfg, "[state]\nmemory_mb = 8\n").unwrap();
    a.extend(["--config".to_string(), cfg.to_str().unwrap().to_string()]);
    let out = Command::new(BIN).args(&a).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("it also holds the API cursor"), "{err}");
    assert!(fstate.exists());
}

#[test]
fn a_long_pull_checkpoints_its_windows_and_cursor_so_a_crash_repeats_nothing_read_before() {
    let (lines, truth) = replay(3000, AttackMix::each(1), 6);
    let fake = serve(&lines, fake_config());
    let dir = TempDir::new("pull-checkpoint");
    let state = dir.join("state");
    let stats = dir.join("stats.json");
    let key = dir.join("key");
    std::fs::write(&key, KEY).unwrap();
    let base: Vec<String> = [
        "--pull",
        "--api-url",
        &fake.url(),
        "--api-key-file",
        key.to_str().unwrap(),
        "--since",
        &to_rfc3339(truth.first_time),
        "--state",
        state.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Live (no --until), checkpointing between polls; killed without a chance to save.
    let mut live_args = base.clone();
    live_args.extend(["--poll-secs", "0.1", "--checkpoint-secs", "0.1"].map(String::from));
    let mut live = Live::spawn(BIN, &live_args);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !state.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(state.exists(), "no checkpoint: {}", live.stderr());
    std::thread::sleep(Duration::from_millis(500));
    live.signal("KILL");
    let _ = live.wait_exit();
    let first_alerts = live.lines.len();
    assert!(first_alerts > 0, "{}", live.stderr());
    // The next run starts from the checkpoint: every event was read before the kill, so
    // nothing is read or raised again.
    let mut again = base.clone();
    again.extend([
        "--until".to_string(),
        to_rfc3339(truth.last_time),
        "--stats-json".to_string(),
        stats.to_str().unwrap().to_string(),
    ]);
    let out = Command::new(BIN).args(&again).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "alerts raised again");
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    assert_eq!(s["pull"]["events"], 0, "{s}");
}

#[test]
fn ca_file_is_read_at_start() {
    let (lines, truth) = replay(300, AttackMix::none(), 4);
    let fake = serve(&lines, fake_config());
    let dir = TempDir::new("pull-ca");
    let not_pem = dir.join("not.pem");
    std::fs::write(&not_pem, "just text\n").unwrap();
    let missing = dir.join("missing.pem");
    // tests/data/test-ca.pem: a self-signed CA made for these tests (public part only).
    let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/test-ca.pem");
    for (file, want) in [
        (&missing, Err("cannot read --ca-file")),
        (&not_pem, Err("no PEM certificate")),
        (&ca, Ok(300)),
    ] {
        let mut a = vec!["pull".to_string()];
        a.extend(args(
            &dir,
            &fake,
            &truth,
            &["--ca-file", file.to_str().unwrap()],
        ));
        let out = Command::new(BIN).args(&a).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        match want {
            Err(msg) => {
                assert_eq!(out.status.code(), Some(2), "{err}");
                assert!(err.contains(msg), "{err}");
            }
            Ok(n) => {
                assert!(out.status.success(), "{err}");
                assert_eq!(out.stdout.iter().filter(|&&b| b == b'\n').count(), n);
            }
        }
    }
}
