//! `jcdetect bench`: replay NDJSON files through the engine and report throughput.
//!
//! Every FILE is read into memory first (the disk is not measured), then fed in 1 MiB chunks
//! exactly as the filter feeds what it reads; alert output goes to one reused buffer whose
//! bytes are counted and discarded. `--repeat N` replays the whole set N times, each pass
//! through a fresh engine (replaying into a warm one would make every event late).

use crate::args::Bench;
use crate::engine_host::Backend;
use crate::input::now_nanos;
use crate::output::write_stdout;
use crate::report::setup_error;
use jcdetect::{Format, Options};
use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const CHUNK: usize = 1 << 20;

/// What one run measured.
struct Report {
    files: Vec<String>,
    format: Format,
    engine: &'static str,
    repeat: u32,
    lines: u64,
    events: u64,
    bad_lines: u64,
    bytes: u64,
    output_bytes: u64,
    /// Feeding time summed over the passes (engine construction and loading excluded).
    wall: Duration,
    /// Fastest single pass.
    best_pass: Duration,
    load: Duration,
    alerts_total: u64,
    alerts: Vec<(String, u64)>,
    peak_rss_kib: Option<u64>,
    first_event: Option<Duration>,
}

/// Run `jcdetect bench` (`started` = process start).
pub fn run(args: Bench, started: Instant) -> ExitCode {
    let (cfg, cfg_text) = match super::load_config(args.config.as_deref(), &args.rules) {
        Ok(c) => c,
        Err(e) => return setup_error(e),
    };
    let opts = Options {
        format: args.format,
        ..Options::default()
    };
    let t_load = Instant::now();
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for f in &args.files {
        let data = if f.as_os_str() == "-" {
            let mut v = Vec::new();
            std::io::stdin().read_to_end(&mut v).map(|_| v)
        } else {
            std::fs::read(f)
        };
        match data {
            Ok(d) => inputs.push(d),
            Err(e) => return setup_error(format!("cannot read {}: {e}", f.display())),
        }
    }
    let load = t_load.elapsed();
    // Loading (and for WASM compiling) the engine is not measured; each pass starts afresh.
    let mut engine = match Backend::open(&cfg, &cfg_text, opts, args.wasm.as_ref()) {
        Ok(e) => e,
        Err(f) => return f.exit(),
    };
    let per_pass: u64 = inputs.iter().map(|d| d.len() as u64).sum();
    let total = per_pass * u64::from(args.repeat);
    let mut progress = Progress::new(total);
    let mut out = Vec::with_capacity(4 * CHUNK);
    let mut diags = Vec::new();
    let mut output_bytes = 0u64;
    let mut first_event = None;
    let (mut wall, mut best_pass) = (Duration::ZERO, Duration::MAX);
    let mut done = 0u64;
    let (mut lines, mut events, mut bad_lines, mut alerts_total) = (0, 0, 0, 0);
    let mut alerts: Vec<(String, u64)> = Vec::new();
    for pass in 0..args.repeat {
        if pass > 0 {
            if let Err(f) = engine.renew(&cfg) {
                return f.exit();
            }
        }
        let t0 = Instant::now();
        for input in &inputs {
            if let Err(f) = engine.start_input() {
                return f.exit();
            }
            for chunk in input.chunks(CHUNK) {
                let fed = engine
                    .set_fallback_time(now_nanos())
                    .and_then(|()| engine.feed(chunk, &mut out, &mut diags));
                if let Err(f) = fed {
                    progress.clear();
                    return f.exit();
                }
                first_event.get_or_insert_with(|| started.elapsed());
                output_bytes += out.len() as u64;
                out.clear();
                diags.clear();
                done += chunk.len() as u64;
                progress.tick(done);
            }
            if let Err(f) = engine.finish(&mut out, &mut diags) {
                return f.exit();
            }
            output_bytes += out.len() as u64;
            out.clear();
            diags.clear();
        }
        let pass = t0.elapsed();
        wall += pass;
        best_pass = best_pass.min(pass);
        let c = match engine.stats() {
            Ok(c) => c,
            Err(f) => return f.exit(),
        };
        let s = &c.stats;
        lines += s.lines;
        events += s.events;
        bad_lines += s.rejected;
        alerts_total += s.total_alerts();
        alerts.resize(c.rule_ids.len(), (String::new(), 0));
        for ((id, k), (rule, n)) in alerts.iter_mut().zip(c.rule_ids.iter().zip(&s.alerts)) {
            id.clone_from(rule);
            *k += n;
        }
    }
    progress.clear();
    let report = Report {
        files: args.files.iter().map(|f| f.display().to_string()).collect(),
        format: args.format,
        engine: engine.name(),
        repeat: args.repeat,
        lines,
        events,
        bad_lines,
        bytes: total,
        output_bytes,
        wall,
        best_pass,
        load,
        alerts_total,
        alerts,
        peak_rss_kib: peak_rss_kib(),
        first_event,
    };
    let text = if args.json {
        report.json()
    } else {
        report.text()
    };
    write_stdout(text.as_bytes())
}

/// Peak resident set size (`VmHWM`), in KiB; `None` where `/proc` has no such line.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn per_sec(n: f64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 {
        n / s
    } else {
        0.0
    }
}

impl Report {
    fn events_per_sec(&self) -> f64 {
        per_sec(self.events as f64, self.wall)
    }

    fn mb_per_sec(&self) -> f64 {
        per_sec(self.bytes as f64 / 1e6, self.wall)
    }

    fn format_name(&self) -> &'static str {
        match self.format {
            Format::Ecs => "ecs",
            Format::Ocsf => "ocsf",
        }
    }

    fn json(&self) -> String {
        let alerts: serde_json::Map<String, serde_json::Value> = self
            .alerts
            .iter()
            .map(|(id, n)| (id.to_string(), (*n).into()))
            .collect();
        let v = serde_json::json!({
            "files": self.files,
            "format": self.format_name(),
            "engine": self.engine,
            "repeat": self.repeat,
            "lines": self.lines,
            "events": self.events,
            "bad_lines": self.bad_lines,
            "bytes": self.bytes,
            "output_bytes": self.output_bytes,
            "wall_secs": self.wall.as_secs_f64(),
            "best_pass_secs": self.best_pass.as_secs_f64(),
            "events_per_sec": self.events_per_sec(),
            "mb_per_sec": self.mb_per_sec(),
            "alerts_total": self.alerts_total,
            "alerts": alerts,
            "peak_rss_bytes": self.peak_rss_kib.map(|k| k * 1024),
            "first_event_secs": self.first_event.map(|d| d.as_secs_f64()),
            "load_secs": self.load.as_secs_f64(),
        });
        let mut t = v.to_string();
        t.push('\n');
        t
    }

    fn text(&self) -> String {
        let by_rule: Vec<String> = self
            .alerts
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(id, n)| format!("{id}={n}"))
            .collect();
        let rss = match self.peak_rss_kib {
            Some(k) => format!(
                "{:.1} MiB (VmHWM; includes the {:.2} MiB of input held in memory)",
                k as f64 / 1024.0,
                (self.bytes / u64::from(self.repeat)) as f64 / (1 << 20) as f64
            ),
            None => "n/a".into(),
        };
        let first = match self.first_event {
            Some(d) => format!(
                "{:.2} ms after process start (loading the input took {:.2} ms)",
                d.as_secs_f64() * 1e3,
                self.load.as_secs_f64() * 1e3
            ),
            None => "n/a (no input)".into(),
        };
        let mut t = String::new();
        t.push_str(&format!(
            "jcdetect bench: {} ({}, {}, {} pass{})\n",
            self.files.join(" "),
            self.format_name(),
            self.engine,
            self.repeat,
            if self.repeat == 1 { "" } else { "es" }
        ));
        t.push_str(&format!(
            "  events       {} ({} lines, {} bad)\n",
            self.events, self.lines, self.bad_lines
        ));
        t.push_str(&format!(
            "  bytes        {} in, {} out\n",
            self.bytes, self.output_bytes
        ));
        t.push_str(&format!(
            "  wall         {:.3} s{}\n",
            self.wall.as_secs_f64(),
            if self.repeat > 1 {
                format!(" (best pass {:.3} s)", self.best_pass.as_secs_f64())
            } else {
                String::new()
            }
        ));
        t.push_str(&format!("  events/s     {:.0}\n", self.events_per_sec()));
        t.push_str(&format!("  MB/s         {:.1}\n", self.mb_per_sec()));
        t.push_str(&format!("  alerts       {}", self.alerts_total));
        if !by_rule.is_empty() {
            t.push_str(&format!(" ({})", by_rule.join(" ")));
        }
        t.push('\n');
        t.push_str(&format!("  peak RSS     {rss}\n"));
        t.push_str(&format!("  first event  {first}\n"));
        t
    }
}

/// A one-line progress bar on stderr, only when stderr is a terminal, at most ~10 updates a
/// second, and only once a replay has run for a moment (short runs print nothing).
struct Progress {
    enabled: bool,
    total: u64,
    start: Instant,
    next: Instant,
    drawn: bool,
}

const PROGRESS_EVERY: Duration = Duration::from_millis(100);
const PROGRESS_AFTER: Duration = Duration::from_millis(300);

impl Progress {
    fn new(total: u64) -> Progress {
        let start = Instant::now();
        Progress {
            enabled: std::io::stderr().is_terminal() && total > 0,
            total,
            start,
            next: start + PROGRESS_AFTER,
            drawn: false,
        }
    }

    fn tick(&mut self, done: u64) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if now < self.next {
            return;
        }
        self.next = now + PROGRESS_EVERY;
        let frac = done as f64 / self.total as f64;
        const WIDTH: usize = 30;
        let filled = ((frac * WIDTH as f64) as usize).min(WIDTH);
        let mbs = per_sec(done as f64 / 1e6, now - self.start);
        let line = format!(
            "\r[{}{}] {:5.1}%  {:.0} / {:.0} MB  {:.1} MB/s ",
            "#".repeat(filled),
            "-".repeat(WIDTH - filled),
            frac * 100.0,
            done as f64 / 1e6,
            self.total as f64 / 1e6,
            mbs
        );
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes()).and_then(|_| err.flush());
        self.drawn = true;
    }

    fn clear(&mut self) {
        if self.drawn {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(b"\r\x1b[2K").and_then(|_| err.flush());
            self.drawn = false;
        }
    }
}
