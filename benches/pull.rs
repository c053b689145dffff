//! `jcdetect pull` throughput: the release binary paging a fake DI API on loopback
//! (`tests/common/fake_di.rs`) in pages of 10 000, stdout to /dev/null. Each run is a fresh
//! process with no cursor, so it measures what a backfill does: requests, gzip-less JSON
//! pages, the per-event head parse and dedup, and the writes. The fake serves from memory and
//! is not the bottleneck (it pages ~500 k events/s on its own).
//!
//! `cargo bench --bench pull`; `JCDETECT_BENCH_EVENTS` sets the events (default 200 000),
//! `JCDETECT_BENCH_RUNS` the runs (default 5). Prints each run and the median.

#[path = "../tests/common/fake_di.rs"]
mod fake_di;

use fake_di::{FakeConfig, FakeDi, FakeEvent};
use jcdetect::decode::time::to_rfc3339;
use jcdetect::replay::{generate, AttackMix, GenConfig};
use std::process::{Command, Stdio};
use std::time::Instant;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument that is not ours skips the bench.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && a != "pull")
    {
        return;
    }
    let n = env("JCDETECT_BENCH_EVENTS", 200_000);
    let runs = env("JCDETECT_BENCH_RUNS", 5);
    let mut events = Vec::new();
    let mut bytes = 0;
    let cfg = GenConfig {
        events: n,
        seed: 42,
        attacks: AttackMix::none(),
        ..GenConfig::default()
    };
    let truth = generate(&cfg, |l| {
        bytes += l.len();
        events.push(FakeEvent::from_line(std::str::from_utf8(l).unwrap(), None));
    })
    .unwrap();
    let fake = FakeDi::start(
        events,
        FakeConfig {
            api_key: "bench".into(),
            ..FakeConfig::default()
        },
    );
    println!(
        "pull: {n} events ({:.0} MB) from {} in pages of 10000, {runs} runs",
        bytes as f64 / 1e6,
        fake.url()
    );
    let mut rates = Vec::new();
    for run in 1..=runs {
        let t = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_jcdetect"))
            .args([
                "pull",
                "-q",
                "--api-url",
                &fake.url(),
                "--since",
                &to_rfc3339(truth.first_time),
                "--until",
                &to_rfc3339(truth.last_time),
            ])
            .env("JUMPCLOUD_API_KEY", "bench")
            .stdout(Stdio::null())
            .status()
            .expect("run jcdetect pull");
        let secs = t.elapsed().as_secs_f64();
        assert!(status.success(), "jcdetect pull failed: {status:?}");
        let rate = n as f64 / secs;
        println!("  run {run}: {secs:.3} s, {:.0} events/s", rate);
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    println!("median: {:.0} events/s", rates[rates.len() / 2]);
}
