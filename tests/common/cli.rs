//! Helpers of the `jcdetect` binary's end-to-end tests (`tests/cli.rs`, `tests/cli_output.rs`):
//! run it, temp files, the catalog, alert fields.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

pub const BIN: &str = env!("CARGO_BIN_EXE_jcdetect");

pub fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/single_event_demo.ndjson")
}

pub fn example() -> Vec<u8> {
    std::fs::read(example_path()).expect("tests/data/single_event_demo.ndjson")
}

/// A temp file removed on drop; names are unique per process and call.
pub struct Temp(pub PathBuf);

impl Temp {
    pub fn new(name: &str, content: &[u8]) -> Temp {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("jcdetect-cli-{}-{n}-{name}", std::process::id()));
        std::fs::write(&p, content).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        Temp(p)
    }
    /// A path for the binary to create (e.g. `--stats-json`).
    pub fn path_only(name: &str) -> Temp {
        let t = Temp::new(name, b"");
        let _ = std::fs::remove_file(&t.0);
        t
    }
    pub fn s(&self) -> &str {
        self.0.to_str().expect("temp path is UTF-8")
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub struct Run {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .expect("exited normally, not by a signal")
    }
    pub fn out(&self) -> &str {
        std::str::from_utf8(&self.stdout).expect("stdout is UTF-8")
    }
    /// stdout as JSON values, one per line.
    pub fn json(&self) -> Vec<Value> {
        self.out()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
    pub fn assert_ok(&self) -> &Run {
        assert_eq!(self.code(), 0, "stderr:\n{}", self.stderr);
        assert_no_panic(&self.stderr);
        self
    }
}

pub fn assert_no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "panic on stderr:\n{stderr}"
    );
}

/// Run the binary; `stdin` is piped in (from a thread, so large inputs cannot deadlock), or
/// stdin is closed when `None`.
pub fn jc(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn jcdetect");
    let writer = stdin.map(|data| {
        let mut pipe = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            // The binary may legitimately stop reading early (usage errors).
            let _ = pipe.write_all(&data);
        })
    });
    let out = child.wait_with_output().expect("wait for jcdetect");
    if let Some(w) = writer {
        w.join().unwrap();
    }
    Run {
        status: out.status,
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `jcdetect rules --json`, by rule id.
pub fn catalog() -> &'static BTreeMap<String, Value> {
    static C: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    C.get_or_init(|| {
        let r = jc(&["rules", "--json"], None);
        assert_eq!(r.code(), 0, "{}", r.stderr);
        let list: Vec<Value> = serde_json::from_slice(&r.stdout).expect("rules --json is JSON");
        list.into_iter()
            .map(|r| (r["id"].as_str().unwrap().to_string(), r))
            .collect()
    })
}

pub fn severity_number(name: &str) -> u64 {
    match name {
        "informational" => 1,
        "low" => 2,
        "medium" => 3,
        "high" => 4,
        "critical" => 5,
        other => panic!("unknown severity {other}"),
    }
}

pub fn is_alert(v: &Value) -> bool {
    v["event"]["kind"] == "alert" && v["observer"]["product"] == "jcdetect"
}

pub fn rule_id(v: &Value) -> &str {
    v["rule"]["id"].as_str().expect("rule.id")
}

pub fn rule_ids(alerts: &[Value]) -> Vec<String> {
    alerts.iter().map(|a| rule_id(a).to_string()).collect()
}

pub fn di_ids(alert: &Value) -> Vec<&str> {
    alert["jcdetect"]["di_event_ids"]
        .as_array()
        .expect("jcdetect.di_event_ids")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

pub fn ms(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("`{rfc3339}` is not RFC 3339: {e}"))
        .timestamp_millis()
}

pub fn nanos(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("`{rfc3339}` is not RFC 3339: {e}"))
        .timestamp_nanos_opt()
        .unwrap()
}

pub fn stats(path: &Temp) -> Value {
    let text = std::fs::read_to_string(&path.0).expect("--stats-json file written");
    serde_json::from_str(&text).expect("--stats-json is JSON")
}

/// Split output bytes into lines (without the newline); a final newline ends the last line.
pub fn byte_lines(out: &[u8]) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
    assert_eq!(v.pop(), Some(&b""[..]), "output ends with a newline");
    v
}

/// A JumpCloud-raised alert (no ATT&CK mapping, severity from the event): not in the
/// example, added where a test needs every output shape.
pub const JC_ALERT: &str = r#"{"id":"65f02e11a4c7b9d3e5f60718","event_type":"alert_created","service":"alerts","organization":"65f2a1c09d3e7b4a1c8e2f11","@version":"1","priority":"critical","resource":{"id":"65f02e11a4c7b9d3e5f60719","type":"alert","name":"Device offline for 7 days"},"timestamp":"2024-03-12T09:31:00.250Z"}"#;

pub fn example_plus_jc_alert() -> Vec<u8> {
    let mut input = example();
    input.extend_from_slice(JC_ALERT.as_bytes());
    input.push(b'\n');
    input
}

/// Run with `--config` a temp file holding `toml` (kept alive by the returned `Temp`).
pub fn with_config(toml: &str, args: &[&str], input: &[u8]) -> (Run, Temp) {
    let cfg = Temp::new("config.toml", toml.as_bytes());
    let mut a = vec!["--config", cfg.s()];
    a.extend_from_slice(args);
    (jc(&a, Some(input)), cfg)
}
