//! Diagnostics (bad input reports) and run counters.

use std::fmt;

/// Why a line (or a field of it) could not be used. A bounded set: counters are kept per
/// code, never per value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// The line is not valid UTF-8. Each bad sequence is read as U+FFFD and the line
    /// processed (an invalid byte must not hide an event from the rules).
    InvalidUtf8,
    /// The line is not valid JSON (syntax, truncation, nesting too deep). Skipped.
    InvalidJson,
    /// Valid JSON, but not an object (or an array element that is not one). Skipped.
    NotAnObject,
    /// Longer than the configured maximum. Skipped without being buffered.
    LineTooLong,
    /// Nothing but white space. Skipped.
    EmptyLine,
    /// A known field has the wrong JSON type; the field is ignored, the event processed.
    WrongFieldType,
    /// No `timestamp` (and no host time): single-event rules only.
    MissingTimestamp,
    /// `timestamp` is not RFC 3339 or out of range: single-event rules only.
    BadTimestamp,
    /// `timestamp` is far ahead of the stream (`[state] max_future_secs`) and no later
    /// event corroborates it yet: single-event rules only.
    FutureTimestamp,
    /// A JSON object with none of the DI envelope's `event_type`, `service`, `id`,
    /// `organization` (as strings): not a DI event but a host's own record (e.g. a line its
    /// parser rejected, stamped with the host's clock). Skipped by the rules and the clock.
    NotADiEvent,
}

impl Code {
    pub const ALL: [Code; 10] = [
        Code::InvalidUtf8,
        Code::InvalidJson,
        Code::NotAnObject,
        Code::LineTooLong,
        Code::EmptyLine,
        Code::WrongFieldType,
        Code::MissingTimestamp,
        Code::BadTimestamp,
        Code::FutureTimestamp,
        Code::NotADiEvent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidUtf8 => "invalid_utf8",
            Code::InvalidJson => "invalid_json",
            Code::NotAnObject => "not_an_object",
            Code::LineTooLong => "line_too_long",
            Code::EmptyLine => "empty_line",
            Code::WrongFieldType => "wrong_field_type",
            Code::MissingTimestamp => "missing_timestamp",
            Code::BadTimestamp => "bad_timestamp",
            Code::FutureTimestamp => "future_timestamp",
            Code::NotADiEvent => "not_a_di_event",
        }
    }

    /// Whether the line was rejected (as opposed to processed with a field ignored).
    pub fn rejects_line(self) -> bool {
        matches!(
            self,
            Code::InvalidJson
                | Code::NotAnObject
                | Code::NotADiEvent
                | Code::LineTooLong
                | Code::EmptyLine
        )
    }
}

/// One report about one input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line number in the current input.
    pub line: u64,
    pub code: Code,
    pub detail: String,
    /// The rejected line itself, only when the engine was asked for it
    /// ([`crate::Options::keep_rejected`]) and only for codes that reject the line
    /// ([`Code::rejects_line`]); `None` otherwise. Not part of the `Display` text.
    pub raw: Option<RawLine>,
}

/// The bytes of a rejected line, as they came in: CR of a CRLF ending and a BOM included,
/// the newline excluded. For an array element that is not an object, that element's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLine {
    /// The line, or for `line_too_long` (never buffered whole) only its first
    /// [`crate::frame::REJECTED_PREFIX_BYTES`] bytes.
    pub bytes: Vec<u8>,
    /// Length of the whole line; more than `bytes.len()` when only a prefix was kept.
    pub len: usize,
}

impl RawLine {
    /// Whether `bytes` is only the start of the line.
    pub fn truncated(&self) -> bool {
        self.bytes.len() < self.len
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: {}: {}",
            self.line,
            self.code.as_str(),
            self.detail
        )
    }
}

/// Counters of a run. Keys are bounded: codes and rule ids, never users or IPs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Input lines seen (blank ones included).
    pub lines: u64,
    /// Events decoded and run through the rules.
    pub events: u64,
    /// Lines (or array elements) rejected.
    pub rejected: u64,
    /// Diagnostics by code, indexed like [`Code::ALL`].
    pub by_code: [u64; Code::ALL.len()],
    /// Alerts emitted, by rule index.
    pub alerts: Vec<u64>,
    /// Alerts silenced by the allowlist.
    pub allowlisted: u64,
    /// Events too far behind the newest one to enter the windows (single-event rules still
    /// saw them).
    pub late: u64,
    /// Events too far ahead of the stream to enter the windows (see [`Code::FutureTimestamp`]).
    pub ahead: u64,
    /// Fluent Bit `{"log": "<line>"}` records whose line was processed.
    pub unwrapped: u64,
}

impl Stats {
    pub fn count(&mut self, code: Code) {
        let i = Code::ALL.iter().position(|&c| c == code).unwrap_or(0);
        self.by_code[i] += 1;
        if code.rejects_line() {
            self.rejected += 1;
        }
    }
    pub fn code_count(&self, code: Code) -> u64 {
        Code::ALL
            .iter()
            .position(|&c| c == code)
            .map(|i| self.by_code[i])
            .unwrap_or(0)
    }
    pub fn total_alerts(&self) -> u64 {
        self.alerts.iter().sum()
    }
}
