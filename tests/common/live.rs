//! A long-running `jcdetect` (`--follow`, `--listen`) under test: stdout read line by line on
//! a thread, stderr collected, every wait bounded in time, killed on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_jcdetect");
/// The longest any single wait may take before the test fails (CI must never hang).
pub const TIMEOUT: Duration = Duration::from_secs(10);

pub fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/example.ndjson")
}

/// The example's lines, each with its newline.
pub fn example_lines() -> Vec<Vec<u8>> {
    let data = std::fs::read(example_path()).expect("read example");
    data.split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

/// What the plain filter writes for `input` with `args`.
pub fn plain(args: &[&str], input: &[u8]) -> Vec<String> {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn jcdetect");
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().expect("wait for jcdetect");
    writer.join().unwrap().expect("write stdin");
    assert!(out.status.success(), "plain run failed: {:?}", out.status);
    String::from_utf8(out.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(str::to_string)
        .collect()
}

/// A fresh temp directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("jcdetect-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Live {
    child: Child,
    /// The child's stdin, when started with [`Live::spawn_piped`].
    pub stdin: Option<std::process::ChildStdin>,
    out: Receiver<String>,
    err: Arc<Mutex<Vec<String>>>,
    /// stdout lines received so far.
    pub lines: Vec<String>,
}

impl Live {
    /// Start `jcdetect ARGS` with stdin closed (as Vector's exec source does).
    pub fn spawn<S: AsRef<std::ffi::OsStr>>(program: &str, args: &[S]) -> Live {
        Live::start(program, args, false)
    }

    /// Start `jcdetect ARGS` with stdin a pipe the test writes to (`live.stdin`).
    pub fn spawn_piped<S: AsRef<std::ffi::OsStr>>(program: &str, args: &[S]) -> Live {
        Live::start(program, args, true)
    }

    fn start<S: AsRef<std::ffi::OsStr>>(program: &str, args: &[S], piped: bool) -> Live {
        let mut child = Command::new(program)
            .args(args)
            .stdin(if piped { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn jcdetect");
        let (tx, out) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let err = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&err);
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        Live {
            stdin: child.stdin.take(),
            child,
            out,
            err,
            lines: Vec::new(),
        }
    }

    pub fn stderr(&self) -> String {
        self.err.lock().unwrap().join("\n")
    }

    /// Wait until at least `n` stdout lines arrived.
    pub fn wait_lines(&mut self, n: usize, what: &str) -> &[String] {
        let deadline = Instant::now() + TIMEOUT;
        while self.lines.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.out.recv_timeout(left) {
                Ok(line) => self.lines.push(line),
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => panic!(
                    "{what}: {} of {n} output lines after {TIMEOUT:?}\nstderr:\n{}",
                    self.lines.len(),
                    self.stderr()
                ),
            }
        }
        &self.lines
    }

    /// Collect whatever else arrives within `d` (to catch duplicates).
    pub fn settle(&mut self, d: Duration) -> &[String] {
        let deadline = Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.out.recv_timeout(left) {
                Ok(line) => self.lines.push(line),
                Err(_) => return &self.lines,
            }
        }
    }

    /// Wait until `n` stderr lines contain `needle`; return the first such line.
    pub fn wait_stderr(&self, needle: &str, n: usize) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            {
                let err = self.err.lock().unwrap();
                let hits: Vec<&String> = err.iter().filter(|l| l.contains(needle)).collect();
                if hits.len() >= n {
                    return hits[0].clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "no `{needle}` (x{n}) on stderr after {TIMEOUT:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The address printed by `--listen`.
    pub fn listen_addr(&self) -> SocketAddr {
        let line = self.wait_stderr("listening on ", 1);
        let addr = line.rsplit(' ').next().unwrap();
        addr.parse()
            .unwrap_or_else(|e| panic!("bad address in `{line}`: {e}"))
    }

    /// Send a signal (`TERM`, `INT`, ...) with kill(1).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([format!("-{sig}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill -{sig} failed");
    }

    /// Wait (bounded) for the process to exit; then collect the rest of its stdout.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                while let Ok(line) = self.out.recv_timeout(Duration::from_millis(500)) {
                    self.lines.push(line);
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running {TIMEOUT:?} after being asked to stop\nstderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
