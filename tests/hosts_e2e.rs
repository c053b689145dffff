//! End to end in the real hosts: the installed layout (`pipeline-configs/install.sh
//! --prefix`) run by a real Fluent Bit and a real Vector, against the native CLI.
//!
//! Runs only when `FLUENT_BIT` / `VECTOR` name the binaries (`FLB_WAMRC` adds Fluent Bit's
//! AOT compiler, for the AOT module); otherwise each test prints SKIPPED and passes. The
//! Fluent Bit tests also need the module (`wasm/build.sh`). `JCDETECT_E2E_EVENTS` sets the
//! size of the generated replay (default 20 000). How to build the hosts: docs/testing.md, "Testing
//! in the real hosts".
//!
//! Over 800 lines: the five deployment patterns share one install-and-run harness and one
//! comparison with the native CLI, which would otherwise be copied per file.

#[path = "common/fake_di.rs"]
mod fake_di;
#[path = "common/live.rs"]
mod live;

use live::{example_path, plain, TempDir, BIN};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The host binary named by `var`, or `None` after saying the test is skipped.
fn host(var: &str, test: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            // Straight to stderr, not `eprintln!`: the test harness captures that, and CI's
            // log should say the test was skipped.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: set {var} to the host binary to run it (docs/testing.md: Testing in the real hosts)"
            );
            None
        }
    }
}

fn fluent_bit_module() -> PathBuf {
    let m = root().join("wasm/target/fluentbit/wasm32-wasip1/release/jcdetect_wasm.wasm");
    assert!(
        m.exists(),
        "FLUENT_BIT is set but {} is missing: run wasm/build.sh",
        m.display()
    );
    m
}

/// A trial install of the whole layout under a temp prefix.
struct Install {
    _dir: TempDir,
    prefix: PathBuf,
}

impl Install {
    fn new(tag: &str, extra: &[&str]) -> Install {
        let dir = TempDir::new(tag);
        let prefix = dir.join("root");
        let di_log = prefix.join("di.ndjson");
        let mut cmd = Command::new(root().join("pipeline-configs/install.sh"));
        cmd.arg("--prefix")
            .arg(&prefix)
            .arg("--di-log")
            .arg(&di_log)
            .arg("--bin")
            .arg(BIN)
            .args(extra);
        let out = cmd.output().expect("run install.sh");
        assert!(
            out.status.success(),
            "install.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Install { _dir: dir, prefix }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.prefix.join(rel)
    }

    fn di_log(&self) -> PathBuf {
        self.path("di.ndjson")
    }

    /// Rewrite an installed file.
    fn edit(&self, rel: &str, f: impl FnOnce(String) -> String) {
        let p = self.path(rel);
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, f(text)).unwrap();
    }
}

/// Wait for a child, killing it past `limit`.
fn wait_bounded(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn json_lines(out: &[u8], what: &str) -> Vec<Value> {
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_slice(l).unwrap_or_else(|e| {
                panic!(
                    "{what}: a stdout line is not JSON ({e}): {}",
                    String::from_utf8_lossy(l)
                )
            })
        })
        .collect()
}

/// The native CLI's alerts for `input`.
fn native(input: &[u8]) -> Vec<Value> {
    plain(&["--quiet"], input)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn rule_ids(alerts: &[Value]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| a["rule"]["id"].as_str().unwrap_or("?").to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Inputs

/// `jcdetect generate` replay of `JCDETECT_E2E_EVENTS` events.
fn replay() -> Vec<u8> {
    let n = std::env::var("JCDETECT_E2E_EVENTS").unwrap_or_else(|_| "20000".into());
    let out = Command::new(BIN)
        .args(["generate", "--events", &n, "--seed", "12"])
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

/// The bundled MIT samples, then the others from ../shared/samples when present.
fn samples() -> Vec<u8> {
    let mut data = Vec::new();
    let mut dirs = vec![root().join("tests/fixtures/samples")];
    dirs.push(root().join("../shared/samples"));
    for d in dirs.iter().filter(|d| d.exists()) {
        let mut files: Vec<PathBuf> = walk(d)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "ndjson"))
            .collect();
        files.sort();
        for f in files {
            data.extend(std::fs::read(f).unwrap());
            if data.last() != Some(&b'\n') {
                data.push(b'\n');
            }
        }
    }
    data
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A login of `user` from `ip`, `secs` after `t0` (Unix seconds).
fn login(i: usize, t0: i64, secs: i64, user: &str, ok: bool, ip: &str) -> String {
    let t = t0 + secs;
    let ts = chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S.000Z");
    format!(
        r#"{{"id":"{i:024x}","event_type":"user_login_attempt","service":"directory","organization":"641b3db57090821c0b2f8183","timestamp":"{ts}","initiated_by":{{"type":"user","username":"{user}"}},"success":{ok},"client_ip":"{ip}","mfa":false}}"#
    )
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The real Fluent Bit run of the issue: three logins half an hour old, a line Fluent Bit's
/// parser rejects (it gets the ingestion time), then a spray of 40 failures.
fn stale_logins_a_bad_line_and_a_spray() -> Vec<u8> {
    let t0 = now_secs() - 1800;
    let mut lines: Vec<String> = (0..3)
        .map(|i| {
            login(
                i,
                t0,
                i as i64,
                &format!("ok.user{i}"),
                true,
                "198.51.100.7",
            )
        })
        .collect();
    lines.push("this is not json".into());
    for i in 0..40 {
        let user = format!("victim{i}");
        lines.push(login(
            10 + i,
            t0,
            10 + 5 * i as i64,
            &user,
            false,
            "203.0.113.66",
        ));
    }
    (lines.join("\n") + "\n").into_bytes()
}

/// A spray delivered as JSON-array lines (as the DI API and the S3 exporter write pages).
fn spray_as_arrays() -> Vec<u8> {
    let t0 = 1_717_405_200;
    let evs: Vec<String> = (0..20)
        .map(|i| {
            login(
                100 + i,
                t0,
                10 * i as i64,
                &format!("v{i}"),
                false,
                "203.0.113.9",
            )
        })
        .collect();
    format!("[{}]\n[{}]\n", evs[..10].join(","), evs[10..].join(",")).into_bytes()
}

/// Invalid UTF-8 inside events of a spray, and an event with its own `jcdetect` key.
fn odd_bytes() -> Vec<u8> {
    let t0 = 1_717_405_200;
    let mut data = Vec::new();
    for i in 0..20 {
        let ev = login(
            200 + i,
            t0,
            10 * i as i64,
            &format!("w{i}"),
            false,
            "203.0.113.10",
        );
        let ev = ev.into_bytes();
        if i % 5 == 0 {
            // `"mfa":false}` -> `"mfa":false,"ua":"caf\xe9"}`
            data.extend_from_slice(&ev[..ev.len() - 1]);
            data.extend_from_slice(b",\"ua\":\"caf\xe9\xff\"}");
        } else {
            data.extend_from_slice(&ev);
        }
        data.push(b'\n');
    }
    data.extend_from_slice(
        br#"{"id":"65a1c0de00000000000000ff","event_type":"policy_delete","service":"directory","organization":"o","timestamp":"2024-06-03T09:20:00Z","jcdetect":{"from":"upstream"}}"#,
    );
    data.push(b'\n');
    data
}

// ---------------------------------------------------------------------------------------
// Fluent Bit

/// The installed wasm config, made to exit at the end of the file.
fn fluent_bit_config(inst: &Install) -> PathBuf {
    let cfg = inst.path("etc/jcdetect/fluent-bit-e2e.yaml");
    let text = std::fs::read_to_string(inst.path("etc/jcdetect/fluent-bit-wasm.yaml")).unwrap();
    let text = text.replace(
        "      read_from_head: true\n",
        "      read_from_head: true\n      exit_on_eof: true\n",
    );
    assert!(text.contains("exit_on_eof"));
    std::fs::write(&cfg, text).unwrap();
    cfg
}

/// Append `input` to the DI log and run Fluent Bit to its end: its records and log.
fn run_fluent_bit(fb: &Path, inst: &Install, input: &[u8]) -> (Vec<Value>, String) {
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(inst.di_log())
        .unwrap();
    log.write_all(input).unwrap();
    drop(log);
    let cfg = fluent_bit_config(inst);
    let mut child = Command::new(fb)
        .arg("-c")
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fluent-bit");
    let mut out = Vec::new();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        stdout.read_to_end(&mut out).unwrap();
        out
    });
    let mut err = String::new();
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        stderr.read_to_string(&mut err).unwrap();
        err
    });
    let st = wait_bounded(&mut child, Duration::from_secs(600), "fluent-bit");
    let out = reader.join().unwrap();
    let err = err_reader.join().unwrap();
    assert!(st.success(), "fluent-bit failed ({st}):\n{err}");
    // Every stdout line is a record: no runtime warning in the data stream.
    (json_lines(&out, "fluent-bit"), err)
}

fn embedded_alerts(records: &[Value]) -> Vec<Value> {
    records
        .iter()
        .flat_map(|r| {
            r["jcdetect"]["alerts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

fn fluent_bit_matches_native(fb: &Path, inst: &Install, what: &str) {
    for (name, input) in [
        ("the example", std::fs::read(example_path()).unwrap()),
        ("the samples", samples()),
        ("a replay", replay()),
        (
            "a bad line in a spray",
            stale_logins_a_bad_line_and_a_spray(),
        ),
        ("array lines", spray_as_arrays()),
    ] {
        let _ = std::fs::remove_file(inst.di_log());
        for f in ["fluent-bit-tail.db", "fluent-bit.state"] {
            let _ = std::fs::remove_file(inst.path(&format!("var/lib/jcdetect/{f}")));
        }
        let (records, log) = run_fluent_bit(fb, inst, &input);
        let want = native(&input);
        let got = embedded_alerts(&records);
        assert_eq!(
            rule_ids(&got),
            rule_ids(&want),
            "{what}, {name}: rules differ"
        );
        assert_eq!(got, want, "{what}, {name}: alerts differ");
        assert!(
            !want.is_empty() || name == "the samples",
            "{name}: no alerts"
        );
        assert!(
            !log.contains("command or a reactor"),
            "{what}: WAMR's reactor warning:\n{log}"
        );
        eprintln!(
            "{what}, {name}: {} records, {} alerts, as native",
            records.len(),
            got.len()
        );
    }
    // Odd bytes: both repair and alert; the repaired text differs (Fluent Bit maps bad bytes
    // to private-use characters), so the rules are compared, and one `jcdetect` key each.
    let _ = std::fs::remove_file(inst.di_log());
    let _ = std::fs::remove_file(inst.path("var/lib/jcdetect/fluent-bit-tail.db"));
    let _ = std::fs::remove_file(inst.path("var/lib/jcdetect/fluent-bit.state"));
    let input = odd_bytes();
    let (records, _) = run_fluent_bit(fb, inst, &input);
    assert_eq!(
        rule_ids(&embedded_alerts(&records)),
        rule_ids(&native(&input))
    );
    assert!(rule_ids(&native(&input)).contains(&"password_spray_from_ip".to_string()));
    let last = records.last().unwrap();
    assert!(last["jcdetect"].get("from").is_none(), "{last}");
}

#[test]
fn fluent_bit_interpreter_gives_native_alerts() {
    let Some(fb) = host("FLUENT_BIT", "fluent_bit_interpreter_gives_native_alerts") else {
        return;
    };
    let module = fluent_bit_module();
    let inst = Install::new("e2e-fb", &["--wasm", module.to_str().unwrap()]);
    fluent_bit_matches_native(&fb, &inst, "interpreter");
}

/// A user's Sigma rule directory beside the installed jcdetect.toml (`[rules] paths`): the
/// filter in real Fluent Bit reads it through `Accessible_Paths` and raises native's alerts.
#[test]
fn fluent_bit_runs_the_sigma_rules_its_config_names() {
    let Some(fb) = host(
        "FLUENT_BIT",
        "fluent_bit_runs_the_sigma_rules_its_config_names",
    ) else {
        return;
    };
    let module = fluent_bit_module();
    let inst = Install::new("e2e-fb-sigma", &["--wasm", module.to_str().unwrap()]);
    let rules = root().join("tests/data/sigma/rules");
    let dir = inst.path("etc/jcdetect/rules");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(rules.join("portal.yml"), dir.join("portal.yml")).unwrap();
    let toml = inst.path("etc/jcdetect/jcdetect.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str("\n[rules]\npaths = [\"rules\"]\n");
    std::fs::write(&toml, text).unwrap();
    let input = std::fs::read(root().join("tests/data/sigma/events.ndjson")).unwrap();
    let (records, log) = run_fluent_bit(&fb, &inst, &input);
    let got = embedded_alerts(&records);
    let want: Vec<Value> = plain(&["--quiet", "--rules", rules.to_str().unwrap()], &input)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        rule_ids(&want).contains(&"portal_spray".to_string()),
        "{want:?}"
    );
    assert_eq!(
        got, want,
        "Fluent Bit's alerts are native's; its log:\n{log}"
    );
}

#[test]
fn fluent_bit_aot_gives_native_alerts() {
    let Some(fb) = host("FLUENT_BIT", "fluent_bit_aot_gives_native_alerts") else {
        return;
    };
    let Some(wamrc) = host("FLB_WAMRC", "fluent_bit_aot_gives_native_alerts") else {
        return;
    };
    let module = fluent_bit_module();
    let inst = Install::new(
        "e2e-fb-aot",
        &[
            "--wasm",
            module.to_str().unwrap(),
            "--wamrc",
            wamrc.to_str().unwrap(),
        ],
    );
    let cfg = std::fs::read_to_string(inst.path("etc/jcdetect/fluent-bit-wasm.yaml")).unwrap();
    assert!(
        cfg.contains("jcdetect-fluentbit.aot"),
        "the config names the AOT file"
    );
    fluent_bit_matches_native(&fb, &inst, "AOT");
}

#[test]
fn fluent_bit_checkpoints_carry_the_windows_across_a_restart() {
    let Some(fb) = host(
        "FLUENT_BIT",
        "fluent_bit_checkpoints_carry_the_windows_across_a_restart",
    ) else {
        return;
    };
    let module = fluent_bit_module();
    let inst = Install::new("e2e-fb-ckpt", &["--wasm", module.to_str().unwrap()]);
    // Checkpoint after every record, so the first run's last record is in the state.
    inst.edit("etc/jcdetect/jcdetect.toml", |t| {
        t.replace("checkpoint_records = 10000", "checkpoint_records = 1")
    });
    let t0 = 1_717_405_200;
    let spray: Vec<String> = (0..16)
        .map(|i| {
            login(
                300 + i,
                t0,
                10 * i as i64,
                &format!("u{i}"),
                false,
                "203.0.113.77",
            )
        })
        .collect();
    let first = spray[..12].join("\n") + "\n";
    let (records, _) = run_fluent_bit(&fb, &inst, first.as_bytes());
    assert_eq!(records.len(), 12);
    assert!(embedded_alerts(&records).is_empty());
    let state = inst.path("var/lib/jcdetect/fluent-bit.state");
    assert!(state.exists(), "checkpoint written");
    // A restart: the tail db resumes after the first 12, the checkpoint brings their windows.
    let rest = spray[12..].join("\n") + "\n";
    let (records, _) = run_fluent_bit(&fb, &inst, rest.as_bytes());
    assert_eq!(records.len(), 4, "the tail db resumed at the offset");
    assert_eq!(
        rule_ids(&embedded_alerts(&records)),
        ["password_spray_from_ip"]
    );
    // The native CLI reads the same file format.
    let out = Command::new(BIN)
        .args(["--quiet", "--state"])
        .arg(&state)
        .arg("/dev/null")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------
// Vector

/// A Vector process whose stdout lines are collected as they come.
struct Running {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    got: Vec<Value>,
    err: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Running {
    fn start(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start");
        let (tx, lines) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let err = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = std::sync::Arc::clone(&err);
        let e = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(e).lines() {
                let Ok(l) = l else { break };
                let mut s = sink.lock().unwrap();
                s.push_str(&l);
                s.push('\n');
            }
        });
        Running {
            child,
            lines,
            got: Vec::new(),
            err,
        }
    }

    fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    /// Collect stdout until `n` records came (or `limit` passed), then `settle` more.
    fn collect(&mut self, n: usize, limit: Duration, settle: Duration) -> &[Value] {
        let deadline = Instant::now() + limit;
        while self.got.len() < n && Instant::now() < deadline {
            if let Ok(l) = self.lines.recv_timeout(Duration::from_millis(100)) {
                self.got.push(
                    serde_json::from_str(&l)
                        .unwrap_or_else(|e| panic!("stdout line not JSON ({e}): {l}")),
                );
            }
        }
        let until = Instant::now() + settle;
        while Instant::now() < until {
            if let Ok(l) = self.lines.recv_timeout(Duration::from_millis(50)) {
                self.got.push(serde_json::from_str(&l).unwrap());
            }
        }
        &self.got
    }

    fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status();
    }

    fn finish(&mut self, limit: Duration) -> std::process::ExitStatus {
        let st = wait_bounded(&mut self.child, limit, "vector");
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.got.push(serde_json::from_str(&l).unwrap());
        }
        st
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A failed test: ask first, so run.sh stops the stages it started in sessions of
        // their own (a SIGKILL would leave them running).
        if self.child.try_wait().ok().flatten().is_none() {
            self.signal("TERM");
            let deadline = Instant::now() + Duration::from_secs(20);
            while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every key of a record that Vector, not jcdetect, would have added.
fn vector_fields(records: &[Value]) -> Vec<String> {
    let mut leaked = Vec::new();
    for r in records {
        for k in ["source_type", "command", "pid", "stream"] {
            if r.get(k).is_some() {
                leaked.push(k.to_string());
            }
        }
        if r["host"].is_string() {
            leaked.push("host (a string)".into());
        }
    }
    leaked.sort();
    leaked.dedup();
    leaked
}

/// The example with a broken line, a CRLF ending and an array line in it.
fn example_with_a_bad_line() -> (Vec<u8>, Vec<u8>) {
    let lines: Vec<Vec<u8>> = live::example_lines();
    let mut data = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if i == 5 {
            data.extend_from_slice(b"{\"id\":\"broken\",\"event_type\":\"user_lo\n");
        }
        data.extend_from_slice(l);
    }
    // The native reference: the same events without the broken line.
    (data, lines.concat())
}

/// Run `cmd` on the example with a broken line in the installed DI log, until it printed the
/// native alerts: what it printed (no host field may leak into it), and the native alerts.
fn run_on_the_example_with_a_bad_line(
    inst: &Install,
    cmd: Command,
) -> (Running, Vec<Value>, Vec<Value>) {
    let (data, clean) = example_with_a_bad_line();
    std::fs::write(inst.di_log(), &data).unwrap();
    let want = native(&clean);
    let mut run = Running::start(cmd);
    let got = run
        .collect(want.len(), Duration::from_secs(60), Duration::from_secs(2))
        .to_vec();
    assert_eq!(
        vector_fields(&got),
        Vec::<String>::new(),
        "host fields leaked"
    );
    (run, got, want)
}

fn vector_validate(vector: &Path, cfg: &Path) {
    let out = Command::new(vector)
        .args(["validate", "--no-environment"])
        .arg(cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "vector validate {}: {}{}",
        cfg.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn vector_configs_validate() {
    let Some(vector) = host("VECTOR", "vector_configs_validate") else {
        return;
    };
    let inst = Install::new("e2e-vec-validate", &[]);
    for cfg in [
        "vector-pipe.yaml",
        "vector-pipe-ship.yaml",
        "vector-exec.yaml",
        "vector-sandwich.yaml",
        "vector-pull.yaml",
        "vector-pull-detect.yaml",
    ] {
        vector_validate(&vector, &inst.path(&format!("etc/jcdetect/{cfg}")));
    }
}

fn run_sh(inst: &Install, host_var: &str, host: &Path, pattern: &str) -> Command {
    let mut cmd = Command::new(inst.path("usr/local/lib/jcdetect/run.sh"));
    cmd.arg(pattern).arg("--quiet").env(host_var, host);
    cmd
}

/// A pipe pattern through `run.sh`: native alerts, the bad line kept aside, a clean stop.
fn pipe_pattern(host_var: &str, pattern: &str) {
    let Some(host_bin) = host(host_var, pattern) else {
        return;
    };
    let inst = Install::new(&format!("e2e-{pattern}"), &[]);
    let cmd = run_sh(&inst, host_var, &host_bin, pattern);
    let (mut run, got, want) = run_on_the_example_with_a_bad_line(&inst, cmd);
    assert_eq!(got, want, "{}", run.stderr());
    let bad = b"{\"id\":\"broken\",\"event_type\":\"user_lo";
    let kept = if host_var == "VECTOR" {
        // Vector's parse fails: the line goes to the dead-letter file as read.
        std::fs::read(inst.path("var/log/jcdetect/vector-pipe-dead-letter.log")).unwrap()
    } else {
        // Fluent Bit passes it on as {"log": ...}: jcdetect rejects it into --errors.
        std::fs::read(inst.path(&format!("var/log/jcdetect/{pattern}-rejected.ndjson"))).unwrap()
    };
    assert!(
        kept.windows(bad.len()).any(|w| w == bad)
            || String::from_utf8_lossy(&kept)
                .contains(r#"{\"id\":\"broken\",\"event_type\":\"user_lo"#),
        "the bad line is kept aside: {}",
        String::from_utf8_lossy(&kept)
    );
    run.signal("TERM");
    let st = run.finish(Duration::from_secs(60));
    assert!(st.success(), "run.sh after SIGTERM: {st}\n{}", run.stderr());
    assert_eq!(run.got.len(), want.len(), "no alert after the stop");
    assert!(inst
        .path(&format!("var/lib/jcdetect/{pattern}.state"))
        .exists());
}

#[test]
fn vector_pipe_gives_native_alerts_and_dead_letters_a_bad_line() {
    pipe_pattern("VECTOR", "vector-pipe");
}

#[test]
fn fluent_bit_pipe_gives_native_alerts() {
    pipe_pattern("FLUENT_BIT", "fluent-bit-pipe");
}

/// A pipe stopped mid-stream as systemd or a Ctrl-C does, then restarted: every alert
/// once, none lost to the collect stage's checkpoint.
fn pipe_stopped_mid_stream(host_var: &str, pattern: &str) {
    let Some(host_bin) = host(host_var, pattern) else {
        return;
    };
    let inst = Install::new(&format!("e2e-stop-{pattern}"), &[]);
    let data = replay();
    let want = native(&data);
    // The log grows while the pipe runs (20 chunks, 150 ms apart: longer than Fluent Bit's
    // 1 s flush), so the stop finds events on their way through every stage.
    let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
    let chunks: Vec<Vec<u8>> = lines
        .chunks(lines.len().div_ceil(20))
        .map(|c| c.concat())
        .collect();
    let log = inst.di_log();
    std::fs::write(&log, &chunks[0]).unwrap();
    let rest_chunks = chunks[1..].to_vec();
    let writer = std::thread::spawn(move || {
        for c in rest_chunks {
            std::thread::sleep(Duration::from_millis(150));
            let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
            f.write_all(&c).unwrap();
        }
    });
    // SIGTERM to run.sh's process group, as a terminal's Ctrl-C or systemd does (the stages
    // run in sessions of their own, so only run.sh gets it).
    let mut cmd = run_sh(&inst, host_var, &host_bin, pattern);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut first = Running::start(cmd);
    first.collect(want.len() / 3, Duration::from_secs(120), Duration::ZERO);
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", first.child.id())])
        .status();
    // Vector gives its sinks up to 60 s to drain (the sandwich's socket sink uses them).
    let st = first.finish(Duration::from_secs(120));
    writer.join().unwrap();
    assert!(st.success(), "{st}: {}", first.stderr());
    let mut got = std::mem::take(&mut first.got);
    eprintln!(
        "{pattern}: {} of {} alerts before the stop",
        got.len(),
        want.len()
    );
    assert!(got.len() < want.len(), "stopped before the end");
    let mut second = Running::start(run_sh(&inst, host_var, &host_bin, pattern));
    let rest = want.len().saturating_sub(got.len());
    got.extend(
        second
            .collect(rest, Duration::from_secs(300), Duration::from_secs(3))
            .iter()
            .cloned(),
    );
    // At least once: nothing lost; an alert raised again after the restart has the same id
    // (deterministic ids deduplicate downstream).
    let ids = |v: &[Value]| {
        let mut ids: Vec<String> = v.iter().map(|a| a["event"]["id"].to_string()).collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let (got_ids, want_ids) = (ids(&got), ids(&want));
    let lost = want_ids
        .iter()
        .filter(|i| got_ids.binary_search(i).is_err())
        .count();
    assert_eq!(
        lost,
        0,
        "{pattern}: {lost} of {} alerts lost",
        want_ids.len()
    );
    eprintln!(
        "{pattern}: {} alerts delivered for {} distinct, {} repeated after the restart",
        got.len(),
        want.len(),
        got.len() - ids(&got).len()
    );
}

#[test]
fn vector_pipe_stopped_mid_stream_loses_nothing() {
    pipe_stopped_mid_stream("VECTOR", "vector-pipe");
}

#[test]
fn fluent_bit_pipe_stopped_mid_stream_loses_nothing() {
    pipe_stopped_mid_stream("FLUENT_BIT", "fluent-bit-pipe");
}

fn vector_child_pattern(pattern: &str) {
    let Some(vector) = host("VECTOR", pattern) else {
        return;
    };
    let inst = Install::new(&format!("e2e-{pattern}"), &[]);
    let cfg = inst.path(&format!("etc/jcdetect/{pattern}.yaml"));
    let mut cmd = Command::new(&vector);
    cmd.arg("--config").arg(&cfg);
    let (mut run, got, want) = run_on_the_example_with_a_bad_line(&inst, cmd);
    let log = run.stderr();
    assert_eq!(rule_ids(&got), rule_ids(&want), "{log}");
    assert_eq!(got, want);
    assert!(
        !log.contains("ERROR"),
        "{pattern}: errors in Vector's log:\n{log}"
    );
    run.signal("TERM");
    let st = run.finish(Duration::from_secs(60));
    assert!(st.success(), "{st}");
    // A restart with the state: nothing again.
    let mut cmd = Command::new(&vector);
    cmd.arg("--config").arg(&cfg);
    let mut again = Running::start(cmd);
    let repeated = again
        .collect(1, Duration::from_secs(5), Duration::from_secs(1))
        .to_vec();
    assert!(
        repeated.is_empty(),
        "{pattern}: {} alerts delivered again after a restart",
        repeated.len()
    );
}

#[test]
fn vector_exec_gives_native_alerts_once() {
    vector_child_pattern("vector-exec");
}

#[test]
fn vector_sandwich_gives_native_alerts() {
    vector_child_pattern("vector-sandwich");
}

#[test]
fn vector_shows_a_failing_childs_errors() {
    let Some(vector) = host("VECTOR", "vector_shows_a_failing_childs_errors") else {
        return;
    };
    let inst = Install::new("e2e-vec-child", &[]);
    // No DI log: jcdetect --follow exits 2 with its reason, and Vector must show it.
    let mut cmd = Command::new(&vector);
    cmd.arg("--config")
        .arg(inst.path("etc/jcdetect/vector-exec.yaml"));
    let run = Running::start(cmd);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !run.stderr().contains("di.ndjson") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = run.stderr();
    assert!(
        log.contains("di.ndjson"),
        "jcdetect's error does not reach Vector's log:\n{log}"
    );
}

// ---------------------------------------------------------------------------------------
// The DI API patterns: `jcdetect pull` run by the hosts against a fake API on loopback.

/// A fake DI API serving a generated replay, and the installed layout's key file for it.
fn pull_setup(inst: &Install) -> (fake_di::FakeDi, Vec<String>, String) {
    let lines: Vec<String> = replay()
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| String::from_utf8(l.to_vec()).unwrap())
        .collect();
    let events = lines
        .iter()
        .map(|l| fake_di::FakeEvent::from_line(l, None))
        .collect();
    let fake = fake_di::FakeDi::start(
        events,
        fake_di::FakeConfig {
            api_key: "e2e-key".into(),
            ..fake_di::FakeConfig::default()
        },
    );
    std::fs::write(inst.path("etc/jcdetect/api-key"), "e2e-key\n").unwrap();
    let first = lines
        .iter()
        .map(|l| fake_di::FakeEvent::from_line(l, None).ts)
        .min()
        .unwrap();
    let since = jcdetect::decode::time::to_rfc3339(first);
    let ids = lines.iter().map(|l| id_of(l)).collect();
    (fake, ids, since)
}

fn id_of(line: &str) -> String {
    let v: Value = serde_json::from_str(line).unwrap();
    v["id"].as_str().unwrap_or_default().to_string()
}

/// Every id exactly once.
fn assert_once(got: &[String], want: &[String], what: &str) {
    let mut count = std::collections::HashMap::new();
    for id in got {
        *count.entry(id.as_str()).or_insert(0u32) += 1;
    }
    let twice = count.values().filter(|&&n| n > 1).count();
    let missing = want
        .iter()
        .filter(|id| !count.contains_key(id.as_str()))
        .count();
    assert_eq!((twice, missing), (0, 0), "{what}: twice, missing");
    assert_eq!(got.len(), want.len(), "{what}");
}

#[test]
fn vector_pull_delivers_every_event_once_across_stops() {
    let Some(vector) = host(
        "VECTOR",
        "vector_pull_delivers_every_event_once_across_stops",
    ) else {
        return;
    };
    let inst = Install::new("e2e-vec-pull", &[]);
    let (fake, want, since) = pull_setup(&inst);
    // Small pages, so that the stops below land mid-stream.
    inst.edit("etc/jcdetect/vector-pull.yaml", |t| {
        t.replacen(
            "      - pull\n",
            &format!(
                "      - pull\n      - --api-url\n      - {}\n      - --since\n      - \"{since}\"\n      - --limit\n      - \"50\"\n      - --poll-secs\n      - \"0.2\"\n",
                fake.url()
            ),
            1,
        )
    });
    let cfg = inst.path("etc/jcdetect/vector-pull.yaml");
    let mut got: Vec<String> = Vec::new();
    for (n, stop_after) in [300u64, 700, 1500, 0].into_iter().enumerate() {
        let mut cmd = Command::new(&vector);
        cmd.arg("--config").arg(&cfg);
        let mut run = Running::start(cmd);
        if stop_after > 0 {
            std::thread::sleep(Duration::from_millis(stop_after));
        } else {
            // The last run: until everything came, and a little more (nothing twice).
            let left = want.len() - got.len();
            run.collect(left, Duration::from_secs(120), Duration::from_secs(2));
        }
        run.signal("TERM");
        let st = run.finish(Duration::from_secs(60));
        assert!(st.success(), "run {n}: {st}\n{}", run.stderr());
        got.extend(
            run.got
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_string()),
        );
    }
    assert_once(&got, &want, "vector-pull");
}

#[test]
fn fluent_bit_pull_delivers_every_event_once() {
    let Some(fb) = host("FLUENT_BIT", "fluent_bit_pull_delivers_every_event_once") else {
        return;
    };
    let inst = Install::new("e2e-fb-pull", &[]);
    let (fake, want, since) = pull_setup(&inst);
    // Runs every 2 s instead of every minute.
    inst.edit("etc/jcdetect/fluent-bit-pull.conf", |t| {
        // (The header quotes the command too: changed alike.)
        let t = t.replace(
            " pull --api-key-file",
            &format!(
                " pull --api-url {} --since {since} --limit 500 --api-key-file",
                fake.url()
            ),
        );
        t.replace("Interval_Sec  60", "Interval_Sec  2")
    });
    let cfg = inst.path("etc/jcdetect/fluent-bit-pull.conf");
    let mut got: Vec<String> = Vec::new();
    for (n, secs) in [3u64, 8].into_iter().enumerate() {
        let mut cmd = Command::new(&fb);
        cmd.arg("-c").arg(&cfg);
        let mut run = Running::start(cmd);
        if n == 1 {
            let left = want.len() - got.len();
            run.collect(left, Duration::from_secs(60), Duration::from_secs(secs));
        } else {
            std::thread::sleep(Duration::from_secs(secs));
        }
        run.signal("TERM");
        let st = run.finish(Duration::from_secs(30));
        assert!(st.success(), "run {n}: {st}\n{}", run.stderr());
        got.extend(
            run.got
                .iter()
                .filter_map(|v| v["id"].as_str().map(str::to_string)),
        );
    }
    assert_once(&got, &want, "fluent-bit-pull");
}
