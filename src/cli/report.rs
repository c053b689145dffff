//! Everything jcdetect says on stderr, in one style: `jcdetect: MESSAGE`, and
//! `jcdetect: warning: MESSAGE` for a warning (a bad input line, a state file set aside).
//! Messages go through `tracing` ([`init`] installs the formatter); `--quiet` keeps errors only.
//!
//! The per-line diagnostics ([`Reporter`]: the first [`REPORT_LIMIT`] of each code, the rest
//! counted), the end-of-run [`summary`], and the exit of a setup error ([`setup_error`]).

use crate::dead_letter::DeadLetter;
use crate::engine_host::Counters;
use jcdetect::{Code, Diagnostic};
use std::fmt;
use std::process::ExitCode;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// At most this many diagnostics per code are logged one by one; the rest are counted.
const REPORT_LIMIT: u64 = 100;

/// Send log messages to stderr as `jcdetect: ...` lines; with `quiet`, errors only.
pub fn init(quiet: bool) {
    let level = if quiet { Level::ERROR } else { Level::INFO };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_ansi(false)
        .event_format(Style)
        .init();
}

/// `jcdetect: ` and, below error and info, the level.
struct Style;

impl<S, N> FormatEvent<S, N> for Style
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::ERROR | Level::INFO => "",
            Level::WARN => "warning: ",
            Level::DEBUG => "debug: ",
            Level::TRACE => "trace: ",
        };
        write!(w, "jcdetect: {level}")?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// A problem found before the run (a config, a FILE that cannot be opened, a busy port): the
/// arguments were well-formed, so no usage follows. Exit status 2.
pub fn setup_error(msg: impl fmt::Display) -> ExitCode {
    tracing::error!("{msg}");
    ExitCode::from(2)
}

/// Logs each input's diagnostics, and records rejected lines in `--errors FILE`.
pub struct Reporter {
    quiet: bool,
    reported: [u64; Code::ALL.len()],
    /// `--errors FILE`: every rejected line, not only the first reports.
    errors: Option<DeadLetter>,
}

impl Reporter {
    pub fn new(quiet: bool, errors: Option<DeadLetter>) -> Reporter {
        Reporter {
            quiet,
            reported: [0; Code::ALL.len()],
            errors,
        }
    }

    /// Report (and drain) the diagnostics of input `source` (a file name, `<stdin>`, a
    /// connection).
    pub fn report(&mut self, source: &str, diags: &mut Vec<Diagnostic>) {
        for d in diags.drain(..) {
            if let Some(e) = &self.errors {
                e.record(source, &d);
            }
            let i = Code::ALL.iter().position(|&c| c == d.code).unwrap_or(0);
            self.reported[i] += 1;
            if self.quiet {
                continue;
            }
            if self.reported[i] <= REPORT_LIMIT {
                tracing::warn!("{source}:{d}");
            }
            if self.reported[i] == REPORT_LIMIT {
                tracing::warn!(
                    "{source}: further `{}` reports are only counted (see the summary)",
                    d.code.as_str()
                );
            }
        }
    }
}

/// The end-of-run line (the same for the native engine and the WASM module).
pub fn summary(c: &Counters) -> String {
    let s = &c.stats;
    let mut line = format!(
        "summary: {} lines, {} events, {} bad lines",
        s.lines, s.events, s.rejected
    );
    let codes: Vec<String> = Code::ALL
        .iter()
        .zip(s.by_code)
        .filter(|&(_, k)| k > 0)
        .map(|(c, k)| format!("{}={k}", c.as_str()))
        .collect();
    if !codes.is_empty() {
        line.push_str(&format!(" ({})", codes.join(" ")));
    }
    line.push_str(&format!(", {} alerts", s.total_alerts()));
    let by_rule: Vec<String> = c
        .rule_ids
        .iter()
        .zip(&s.alerts)
        .filter(|&(_, &k)| k > 0)
        .map(|(id, k)| format!("{id}={k}"))
        .collect();
    if !by_rule.is_empty() {
        line.push_str(&format!(" ({})", by_rule.join(" ")));
    }
    for (n, what) in [
        (s.allowlisted, "allowlisted"),
        (c.suppressed, "suppressed"),
        (s.late, "late events"),
        (s.ahead, "far-ahead events"),
    ] {
        if n > 0 {
            line.push_str(&format!(", {n} {what}"));
        }
    }
    let total: u64 = c.evictions.iter().map(|(_, n)| n).sum();
    if total > 0 {
        let parts: Vec<String> = c
            .evictions
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(t, n)| format!("{t}={n}"))
            .collect();
        line.push_str(&format!(", {total} state evictions ({})", parts.join(" ")));
    }
    line
}
