//! The engine: bytes in, alert bytes out. No I/O, no clock, no globals.
//!
//! ```
//! use jcdetect::{Config, Engine, Options};
//! let mut engine = Engine::new(&Config::default(), Options::default());
//! let (mut out, mut diags) = (Vec::new(), Vec::new());
//! engine.feed(br#"{"id":"1","event_type":"policy_delete","service":"directory","timestamp":"2024-05-01T10:00:00Z"}
//! "#, &mut out, &mut diags);
//! engine.finish(&mut out, &mut diags);
//! let alert = String::from_utf8(out).unwrap();
//! assert!(alert.contains(r#""rule":{"id":"policy_deleted""#));
//! ```

use crate::alert::embed::pass_tagged;
use crate::alert::message::{
    alert_uid, message, reason, window_alert_uid, window_message, window_reason,
};
use crate::alert::{Alert, Format};
use crate::config::{Allowlist, Config};
use crate::decode::time::parse_rfc3339;
use crate::decode::{decode, Event};
use crate::diag::{Code, Diagnostic, RawLine, Stats};
use crate::frame::{Frame, Framer};
use crate::rules::catalog::{Cond, Severity};
use crate::rules::{Category, Rules};
use crate::state::{open as open_state, Reader, StateError, Writer};
use crate::windows::watermark::{Verdict, Watermark};
use crate::windows::{Fired, WindowStats, Windows};
use serde_json::value::RawValue;
use std::net::IpAddr;

// Users' Sigma rules and correlations on an event.
mod sigma;
// Fluent Bit's `{"log": "<line>"}` records.
mod wrapper;
use sigma::Tag;

/// What the engine writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Emit {
    /// Only alert records.
    #[default]
    Alerts,
    /// Every input event (tagged with a `jcdetect` object), each followed by its alerts.
    All,
    /// Every input event, one line each, with its alerts inside the added `jcdetect` object
    /// (`"alerts":[...]`): one record in, one record out, for hosts that cannot add records
    /// (Fluent Bit's `wasm` filter). Rejected lines pass through unchanged, as with `All`.
    Embedded,
}

/// What [`Engine::restore`] loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// Occupied keys over all tables.
    pub keys: u64,
    /// The stream's watermark when the state was saved (ns).
    pub watermark: Option<i64>,
    /// The host bytes given to [`Engine::snapshot_with`] (empty for [`Engine::snapshot`]).
    pub host: Vec<u8>,
}

/// Engine options that are not detection settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub format: Format,
    pub emit: Emit,
    /// Lines longer than this are rejected without being buffered.
    pub max_line_bytes: usize,
    /// Hand each rejected line's bytes to the caller in [`Diagnostic::raw`] (the CLI's
    /// `--errors FILE`). Off by default: nothing is copied on the hot path.
    pub keep_rejected: bool,
    /// The host's record time ([`Engine::process_record`]) is the event time of an event
    /// without a usable `timestamp`, windows included. Off by default: it then only stamps
    /// that event's alerts. A host's time is most often when it read the record, and it would
    /// move the watermark as any event time does.
    pub host_time_is_event_time: bool,
}

/// With [`Options::keep_rejected`], how much of a `line_too_long` line is kept (the rest is
/// discarded unbuffered, as without the option).
pub use crate::frame::REJECTED_PREFIX_BYTES;

/// Default line limit: 16 MiB, far above the 77 KB `mdm_command_result` events.
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 << 20;

impl Default for Options {
    fn default() -> Self {
        Options {
            format: Format::Ecs,
            emit: Emit::Alerts,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            keep_rejected: false,
            host_time_is_event_time: false,
        }
    }
}

/// The detection engine. Feed it lines (or chunks of lines) and it appends NDJSON output to
/// the caller's buffer and reports bad input as [`Diagnostic`]s.
pub struct Engine {
    rules: Rules,
    /// Users' Sigma rules and correlations (their windows live in `windows`).
    sigma: std::sync::Arc<crate::sigma::set::RuleSet>,
    windows: Windows,
    /// How far the stream has got in event time (late and far-ahead events skip windows).
    clock: Watermark,
    allowlist: Allowlist,
    opts: Options,
    stats: Stats,
    /// Number of the line being processed (1-based; 0 before the first).
    line: u64,
    /// Time for alerts when neither the event nor any earlier one had a usable time; set by
    /// the host (the CLI passes its clock), never read from a clock here.
    fallback_time: Option<i64>,
    /// Lines out of the chunks fed.
    framer: Framer,
    /// Scratch buffers reused across events.
    alert_buf: Vec<u8>,
    fired: Vec<Tag>,
    stateful: Vec<Fired>,
    /// Inside a Fluent Bit `{"log": "<line>"}` wrapper (one level only, see `unwrap_log`).
    unwrapping: bool,
    /// The category of the last event evaluated (for the tag of a wrapper record).
    last_category: Option<Category>,
}

impl Engine {
    pub fn new(cfg: &Config, opts: Options) -> Engine {
        let rules = Rules::compile(cfg);
        let sigma = cfg.sigma.clone();
        let stats = Stats {
            alerts: vec![0; rules.rules.len() + sigma.rules.len() + sigma.correlations.len()],
            ..Stats::default()
        };
        let windows = Windows::new(&rules, &sigma, cfg);
        Engine {
            rules,
            sigma,
            windows,
            clock: Watermark::new(
                cfg.state.allowed_lateness_secs,
                cfg.state.max_jump_secs,
                cfg.state.max_future_secs,
            ),
            allowlist: cfg.allowlist.clone(),
            opts,
            stats,
            line: 0,
            fallback_time: None,
            framer: Framer::new(opts.max_line_bytes, opts.keep_rejected),
            alert_buf: Vec::with_capacity(4096),
            fired: Vec::new(),
            stateful: Vec::new(),
            unwrapping: false,
            last_category: None,
        }
    }

    /// The watermark: how far the stream has got in event time (ns), once any event had one.
    pub fn watermark(&self) -> Option<i64> {
        self.clock.current()
    }

    /// Counters and sizes of the window state.
    pub fn window_stats(&self) -> WindowStats {
        self.windows.stats()
    }

    /// Key capacity of each window table.
    pub fn window_capacities(&self) -> Vec<(&'static str, usize)> {
        self.windows.capacities()
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The users' Sigma rules and correlations.
    pub fn sigma(&self) -> &crate::sigma::set::RuleSet {
        &self.sigma
    }

    /// Every rule's id in the order of [`Stats::alerts`]: the built-in catalog, then the
    /// Sigma rules, then the Sigma correlations.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules
            .rules
            .iter()
            .map(|r| r.def.id)
            .chain(self.sigma.metas.iter().map(|m| m.id.as_str()))
            .chain(self.sigma.correlations.iter().map(|c| c.meta.id.as_str()))
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// The run counters as a JSON value: the `--stats-json` document (also the WASM
    /// modules' `jcdetect_stats` and the JS `stats()`).
    pub fn stats_value(&self) -> serde_json::Value {
        let s = &self.stats;
        let w = self.window_stats();
        let mut diags = serde_json::Map::new();
        for c in Code::ALL {
            diags.insert(c.as_str().into(), s.code_count(c).into());
        }
        let mut alerts = serde_json::Map::new();
        for (id, n) in self.rule_ids().zip(&s.alerts) {
            alerts.insert(id.into(), (*n).into());
        }
        let table = |rows: &[(&'static str, u64)]| {
            rows.iter()
                .map(|(t, n)| (t.to_string(), serde_json::Value::from(*n)))
                .collect::<serde_json::Map<_, _>>()
        };
        let capacity: Vec<(&'static str, u64)> = self
            .window_capacities()
            .into_iter()
            .map(|(t, n)| (t, n as u64))
            .collect();
        let mut v = serde_json::json!({
            "lines": s.lines,
            "events": s.events,
            "bad_lines": s.rejected,
            "diagnostics": diags,
            "alerts_total": s.total_alerts(),
            "alerts": alerts,
            "allowlisted": s.allowlisted,
            "late_events": s.late,
            "future_events": s.ahead,
            "unwrapped": s.unwrapped,
            "suppressed": w.suppressed,
            "state": {
                "bytes": w.bytes,
                "evictions": table(&w.evictions),
                "capacity": table(&capacity),
            },
        });
        // Each Sigma correlation's table, by rule id (only when there are some).
        if !w.correlations.is_empty() {
            let per: serde_json::Map<_, _> = w
                .correlations
                .iter()
                .map(|(id, cap, ev)| {
                    (
                        id.clone(),
                        serde_json::json!({"capacity": cap, "evictions": ev}),
                    )
                })
                .collect();
            v["state"]["correlations"] = per.into();
        }
        v
    }

    /// [`Engine::stats_value`] as the text `--stats-json` writes (pretty, newline-terminated).
    pub fn stats_json(&self) -> String {
        let mut t = serde_json::to_string_pretty(&self.stats_value()).unwrap_or_default();
        t.push('\n');
        t
    }

    /// The window state (tables, suppression, watermark) as a state file's bytes
    /// (`src/state.rs`). Counters and line numbers are per run and not included.
    pub fn snapshot(&self) -> Vec<u8> {
        self.snapshot_with(&[])
    }

    /// [`Engine::snapshot`] carrying `host` bytes of the caller's own (the CLI keeps the
    /// position in a followed file there), saved and checked with the state, so both are
    /// written in one atomic step. [`Engine::restore`] gives them back.
    pub fn snapshot_with(&self, host: &[u8]) -> Vec<u8> {
        let mut w = Writer::for_state();
        for t in self.clock.to_parts() {
            w.i64(t);
        }
        w.u32(host.len() as u32);
        w.bytes(host);
        self.windows.save(&mut w);
        w.seal()
    }

    /// Bytes of a line fed but not finished yet (its newline has not arrived): a host that
    /// saves its read position saves it this much earlier, at the line's start.
    pub fn pending_bytes(&self) -> usize {
        self.framer.pending_bytes()
    }

    /// Load a state written by [`Engine::snapshot`] with the same table sizes. On error the
    /// engine's state is unchanged (a fresh engine stays fresh).
    pub fn restore(&mut self, file: &[u8]) -> Result<Restored, StateError> {
        let mut r = Reader::new(open_state(file)?);
        let parts = [r.i64()?, r.i64()?];
        let n = r.u32()? as usize;
        let host = r.take(n)?.to_vec();
        let keys = self.windows.load(&mut r)?;
        self.clock.set_parts(parts);
        Ok(Restored {
            keys,
            watermark: self.clock.current(),
            host,
        })
    }

    /// Run with another config (rules, thresholds, Sigma rules, budget) from here on,
    /// keeping what the stream has built: the watermark, the line being read, the counters
    /// (alert counts by rule id), and the windows of every rule that still has a table for
    /// them ([`Windows::carry_from`]). The window keys carried.
    pub fn reload(&mut self, cfg: &Config) -> u64 {
        let mut next = Engine::new(cfg, self.opts);
        let now = self.clock.current().unwrap_or(i64::MIN);
        let keys = next.windows.carry_from(&mut self.windows, now);
        next.clock = self.clock;
        let counts: std::collections::HashMap<String, u64> = self
            .rule_ids()
            .map(String::from)
            .zip(self.stats.alerts.iter().copied())
            .collect();
        let alerts: Vec<u64> = next
            .rule_ids()
            .map(|id| counts.get(id).copied().unwrap_or(0))
            .collect();
        next.stats = Stats {
            alerts,
            ..self.stats.clone()
        };
        next.line = self.line;
        next.fallback_time = self.fallback_time;
        next.framer = std::mem::take(&mut self.framer);
        *self = next;
        keys
    }

    /// Time to stamp alerts with when no event time is known yet (ns since the epoch).
    pub fn set_fallback_time(&mut self, t: Option<i64>) {
        self.fallback_time = t;
    }

    /// Restart line numbering (a new input file begins). State is kept.
    pub fn start_input(&mut self) {
        self.line = 0;
        self.framer.reset();
    }

    /// Feed a chunk of NDJSON. Complete lines are processed straight from `chunk`; a trailing
    /// partial line is kept until the next call or [`Engine::finish`].
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>, diags: &mut Vec<Diagnostic>) {
        // The framer lends lines out of itself while the engine processes them.
        let mut framer = std::mem::take(&mut self.framer);
        framer.feed(chunk, |f| self.on_frame(f, out, diags));
        self.framer = framer;
    }

    /// End of input: process a final line that had no newline.
    pub fn finish(&mut self, out: &mut Vec<u8>, diags: &mut Vec<Diagnostic>) {
        let mut framer = std::mem::take(&mut self.framer);
        framer.finish(|f| self.on_frame(f, out, diags));
        self.framer = framer;
    }

    fn on_frame(&mut self, f: Frame<'_>, out: &mut Vec<u8>, diags: &mut Vec<Diagnostic>) {
        match f {
            Frame::Line(line) => self.process_line(line, out, diags),
            Frame::TooLong { len, prefix } => self.too_long(len, prefix, diags),
        }
    }

    fn too_long(&mut self, len: usize, prefix: Vec<u8>, diags: &mut Vec<Diagnostic>) {
        self.line += 1;
        self.stats.lines += 1;
        self.report(
            Code::LineTooLong,
            format!(
                "{len} bytes, over the limit of {} (--max-line-bytes)",
                self.opts.max_line_bytes
            ),
            diags,
        );
        if self.opts.keep_rejected {
            if let Some(d) = diags.last_mut() {
                d.raw = Some(RawLine { bytes: prefix, len });
            }
        }
    }

    /// Count and report a line of `len` bytes that the host dropped for being over
    /// `max_line_bytes` without handing it over, as [`Engine::feed`] does for its own input.
    /// For hosts that frame lines themselves (the CLI's TCP listener frames each connection).
    pub fn reject_long_line(&mut self, len: usize, diags: &mut Vec<Diagnostic>) {
        self.reject_long_line_prefix(len, &[], diags);
    }

    /// [`Engine::reject_long_line`] with the start of the line the host kept (with
    /// [`Options::keep_rejected`] its first [`REJECTED_PREFIX_BYTES`] go into
    /// [`Diagnostic::raw`]; ignored otherwise).
    pub fn reject_long_line_prefix(
        &mut self,
        len: usize,
        prefix: &[u8],
        diags: &mut Vec<Diagnostic>,
    ) {
        let f = self.framer.dropped(len, prefix);
        self.on_frame(f, &mut Vec::new(), diags);
    }

    fn report(&mut self, code: Code, detail: String, diags: &mut Vec<Diagnostic>) {
        self.stats.count(code);
        diags.push(Diagnostic {
            line: self.line,
            code,
            detail,
            raw: None,
        });
    }

    /// Report a rejected line; with `keep_rejected` its bytes go along.
    fn reject(&mut self, code: Code, detail: String, raw: &[u8], diags: &mut Vec<Diagnostic>) {
        self.report(code, detail, diags);
        if self.opts.keep_rejected {
            if let Some(d) = diags.last_mut() {
                d.raw = Some(RawLine {
                    bytes: raw.to_vec(),
                    len: raw.len(),
                });
            }
        }
    }

    /// Process one line (without its newline). A trailing CR and a UTF-8 BOM are ignored.
    pub fn process_line(&mut self, line: &[u8], out: &mut Vec<u8>, diags: &mut Vec<Diagnostic>) {
        self.process_record(line, None, out, diags)
    }

    /// Process one record with the host's time for it (Fluent Bit gives one): for an event
    /// without a usable `timestamp` it stamps the alerts, and with
    /// [`Options::host_time_is_event_time`] it is the event time.
    pub fn process_record(
        &mut self,
        line: &[u8],
        host_time: Option<i64>,
        out: &mut Vec<u8>,
        diags: &mut Vec<Diagnostic>,
    ) {
        self.line += 1;
        self.stats.lines += 1;
        // A rejected line is handed back as it came (CR and BOM included).
        let verbatim = line;
        let mut line = line.strip_suffix(b"\r").unwrap_or(line);
        line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        match std::str::from_utf8(line) {
            Ok(text) => self.process_text(text, verbatim, line, host_time, out, diags),
            Err(e) => {
                // Repaired, not skipped: one stray byte in a username must not hide the
                // event from the rules (Fluent Bit repairs such lines too before the filter).
                self.report(
                    Code::InvalidUtf8,
                    format!(
                        "invalid UTF-8 at byte {}; each bad sequence read as U+FFFD",
                        e.valid_up_to()
                    ),
                    diags,
                );
                // A rejected line still goes on as it came.
                let text = String::from_utf8_lossy(line);
                self.process_text(&text, verbatim, line, host_time, out, diags);
            }
        }
    }

    /// One line's text. `verbatim` is what a rejection reports (`Diagnostic::raw`) and `pass`
    /// what it hands downstream in `--emit all`/embedded mode: the line itself, or for an
    /// unwrapped Fluent Bit record the record.
    fn process_text(
        &mut self,
        text: &str,
        verbatim: &[u8],
        pass: &[u8],
        host_time: Option<i64>,
        out: &mut Vec<u8>,
        diags: &mut Vec<Diagnostic>,
    ) {
        let trimmed = text.trim_start_matches([' ', '\t']);
        match trimmed.as_bytes().first() {
            None => {
                self.reject(Code::EmptyLine, "empty line".into(), verbatim, diags);
            }
            Some(b'[') => self.process_array(text, verbatim, pass, host_time, out, diags),
            _ => self.process_object(text, verbatim, pass, host_time, out, diags),
        }
    }

    fn process_array(
        &mut self,
        text: &str,
        verbatim: &[u8],
        pass: &[u8],
        host_time: Option<i64>,
        out: &mut Vec<u8>,
        diags: &mut Vec<Diagnostic>,
    ) {
        match serde_json::from_str::<Vec<&RawValue>>(text) {
            Ok(items) => {
                for item in items {
                    let item = item.get();
                    self.process_object(
                        item,
                        item.as_bytes(),
                        item.as_bytes(),
                        host_time,
                        out,
                        diags,
                    );
                }
            }
            Err(e) => {
                self.reject(Code::InvalidJson, json_error(&e), verbatim, diags);
                self.pass_raw(pass, out);
            }
        }
    }

    /// `verbatim`/`pass`: what a rejection reports and hands on (see `process_text`).
    fn process_object(
        &mut self,
        text: &str,
        verbatim: &[u8],
        pass: &[u8],
        host_time: Option<i64>,
        out: &mut Vec<u8>,
        diags: &mut Vec<Diagnostic>,
    ) {
        let ev = match decode(text) {
            Ok(ev) => ev,
            Err(e) => {
                let code = if e.is_not_an_object() {
                    Code::NotAnObject
                } else {
                    Code::InvalidJson
                };
                self.reject(code, e.to_string(), verbatim, diags);
                self.pass_raw(pass, out);
                return;
            }
        };
        if !ev.is_di_event() {
            // Not a DI event: a host's own record (Vector's `message`/`host`/`timestamp` when
            // its parse failed) or Fluent Bit's wrapper of a line its parser rejected. Such
            // a record never reaches the rules or the clock: its time is the host's.
            if !self.unwrapping {
                if let Some(line) = crate::frame::log_field(text) {
                    self.unwrap_log(text, verbatim, &line, host_time, out, diags);
                    return;
                }
            }
            self.reject(
                Code::NotADiEvent,
                "none of `event_type`, `service`, `id`, `organization`: not a DI event; \
                 not evaluated"
                    .into(),
                verbatim,
                diags,
            );
            self.pass_raw(pass, out);
            return;
        }
        self.stats.events += 1;
        if let Some(field) = ev.wrong_type {
            self.report(
                Code::WrongFieldType,
                format!("field `{field}` has an unexpected JSON type; ignored"),
                diags,
            );
        }
        let host_event_time = host_time.filter(|_| self.opts.host_time_is_event_time);
        let event_time = match ev.timestamp.as_deref() {
            Some(ts) => match parse_rfc3339(ts) {
                Ok(t) => Some(t),
                Err(_) => {
                    let shown: String = ts.chars().take(40).collect();
                    self.report(
                        Code::BadTimestamp,
                        format!("timestamp `{shown}` is not RFC 3339 UTC in years 1678-2261"),
                        diags,
                    );
                    None
                }
            },
            None => {
                if host_event_time.is_none() {
                    self.report(Code::MissingTimestamp, "no `timestamp` field".into(), diags);
                }
                None
            }
        };
        let time = event_time.or(host_event_time);
        // Windows see events in time: not too late, not too far ahead (`src/windows/watermark.rs`).
        let window_time = match time.map(|t| (t, self.clock.observe(t))) {
            Some((t, Verdict::InTime { now })) => Some((t, now)),
            Some((_, Verdict::Late)) => {
                self.stats.late += 1;
                None
            }
            Some((_, Verdict::Ahead { by_secs })) => {
                self.stats.ahead += 1;
                self.report(
                    Code::FutureTimestamp,
                    format!(
                        "timestamp is {by_secs} s ahead of the stream (over [state] \
                         max_future_secs); stateful rules skip it"
                    ),
                    diags,
                );
                None
            }
            None => None,
        };
        // Alerts of an event without a time of its own take the host's time for it.
        self.evaluate(text, &ev, time.or(host_time), window_time, out);
    }

    /// Run the rules on a decoded event and write its output.
    fn evaluate(
        &mut self,
        raw: &str,
        ev: &Event<'_>,
        time: Option<i64>,
        window_time: Option<(i64, i64)>,
        out: &mut Vec<u8>,
    ) {
        let category = self.rules.category(ev);
        self.last_category = Some(category);
        // Alerts go straight into `out` unless the event itself must be written first.
        let tagged = self.opts.emit != Emit::Alerts;
        let mut alerts = if tagged {
            let mut buf = std::mem::take(&mut self.alert_buf);
            buf.clear();
            buf
        } else {
            std::mem::take(out)
        };
        let mut fired = std::mem::take(&mut self.fired);
        fired.clear();
        let alert_time = time.or(self.clock.stream_time()).or(self.fallback_time);
        let silenced = !self.allowlist.is_empty() && allowlisted(&self.allowlist, ev);
        let mut hits: smallvec::SmallVec<[(usize, &'static [Cond]); 4]> = smallvec::SmallVec::new();
        self.rules.matches(ev, |i, branch| hits.push((i, branch)));
        for (i, branch) in hits {
            if silenced {
                self.stats.allowlisted += 1;
                continue;
            }
            let rule = &self.rules.rules[i];
            let severity = if rule.def.severity_from_event {
                ev.priority
                    .as_deref()
                    .and_then(Severity::parse)
                    .unwrap_or(rule.severity)
            } else {
                rule.severity
            };
            let info = rule.info();
            let alert = Alert {
                rule: info,
                severity,
                time: alert_time,
                event: ev,
                category,
                uid: alert_uid(&info, ev, raw),
                message: message(&info, ev),
                reason: reason(rule, branch, ev),
                evidence: None,
            };
            alert.encode(self.opts.format, &mut alerts);
            self.stats.alerts[i] += 1;
            fired.push(Tag::Builtin(rule.def.id));
        }
        let mut stateful = std::mem::take(&mut self.stateful);
        stateful.clear();
        // An allowlisted actor, ip or country is trusted: its events neither fire nor count
        // in windows (so naming a service account inside a spray cannot hide the spray).
        if let (Some((t, now)), false) = (window_time, silenced) {
            self.windows.observe(&self.rules, ev, t, now, &mut stateful);
        }
        for f in stateful.drain(..) {
            if silenced {
                self.stats.allowlisted += 1;
                continue;
            }
            let rule = &self.rules.rules[f.rule];
            let e = &f.evidence;
            let info = rule.info();
            let alert = Alert {
                rule: info,
                severity: rule.severity,
                time: alert_time,
                event: ev,
                category,
                uid: window_alert_uid(&info, e, ev, raw),
                message: window_message(&info, e),
                reason: window_reason(e),
                evidence: Some(f.evidence),
            };
            alert.encode(self.opts.format, &mut alerts);
            self.stats.alerts[f.rule] += 1;
            fired.push(Tag::Builtin(rule.def.id));
        }
        self.stateful = stateful;
        if !self.sigma.is_empty() {
            let at = sigma::At {
                raw,
                ev,
                category,
                time: alert_time,
                window_time,
                silenced,
            };
            self.run_sigma(&at, &mut alerts, &mut fired);
        }
        if self.opts.emit == Emit::Embedded {
            pass_tagged(
                raw,
                category.as_str(),
                &self.tag_names(&fired),
                Some(&alerts),
                out,
            );
            self.alert_buf = alerts;
        } else if tagged {
            pass_tagged(raw, category.as_str(), &self.tag_names(&fired), None, out);
            out.extend_from_slice(&alerts);
            self.alert_buf = alerts;
        } else {
            *out = alerts;
        }
        self.fired = fired;
    }

    /// In `--emit all` (and embedded) mode a rejected line still goes downstream, unchanged.
    fn pass_raw(&self, raw: &[u8], out: &mut Vec<u8>) {
        if self.opts.emit != Emit::Alerts {
            out.extend_from_slice(raw);
            out.push(b'\n');
        }
    }
}

/// serde_json's message without its "at line 1" (the line is ours to number).
fn json_error(e: &serde_json::Error) -> String {
    let s = e.to_string();
    let msg = s.split(" at line ").next().unwrap_or(&s);
    format!("{msg} (column {})", e.column())
}

fn allowlisted(a: &Allowlist, ev: &Event<'_>) -> bool {
    if let Some(actor) = ev.actor() {
        if a.users.iter().any(|u| u.eq_ignore_ascii_case(actor)) {
            return true;
        }
    }
    // The canonical form (as windows and alerts key it), so an allowlisted address is
    // matched whichever way the event spells it.
    if let Some(ip) = ev.source_ip_key().and_then(|s| s.parse::<IpAddr>().ok()) {
        if a.ips.iter().any(|c| c.contains(ip)) {
            return true;
        }
    }
    if let Some(cc) = ev.country() {
        if a.countries.iter().any(|c| c.eq_ignore_ascii_case(cc)) {
            return true;
        }
    }
    false
}
