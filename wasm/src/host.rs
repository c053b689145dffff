//! The state behind the exports, in safe code so it is tested natively: one engine, its
//! output and diagnostics buffers, and the Fluent Bit filter's setup. The `ffi` module only
//! turns pointers into slices and slices into pointers.

use jcdetect::json::Obj;
use jcdetect::{Config, ConfigError, Diagnostic, Emit, Engine, Format, Options};

/// `jcdetect_init` flag bits.
pub const FLAG_OCSF: i32 = 1;
pub const FLAG_EMIT_ALL: i32 = 2;

/// Diagnostics kept between two `jcdetect_diagnostics` calls. Fluent Bit never asks for
/// them, so the queue must be bounded; every diagnostic is counted in the stats anyway.
pub const MAX_PENDING_DIAGS: usize = 1000;

/// Where the Fluent Bit filter looks for its config (WASI `Accessible_Paths`), in order.
pub const FILTER_CONFIG_PATHS: [&str; 2] = ["/etc/jcdetect/jcdetect.toml", "./jcdetect.toml"];

/// The record field that carries a TOML config on the first record.
pub const CONFIG_FIELD: &str = "jcdetect_config";

/// Pack an output buffer for the generic ABI: `(len << 32) | ptr`.
pub fn pack(ptr: u32, len: u32) -> i64 {
    ((u64::from(len) << 32) | u64::from(ptr)) as i64
}

/// A pointer/length pair the host passed that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadInput {
    /// A null pointer with a non-zero length (Fluent Bit passes 0 when its allocation failed).
    Null,
    /// The range runs past the end of linear memory.
    OutOfBounds,
}

impl BadInput {
    fn code(self) -> &'static str {
        match self {
            BadInput::Null => "null_input",
            BadInput::OutOfBounds => "bad_pointer",
        }
    }

    fn detail(self) -> &'static str {
        match self {
            BadInput::Null => "null pointer with a non-zero length; input skipped",
            BadInput::OutOfBounds => "pointer and length run past linear memory; input skipped",
        }
    }
}

/// What the Fluent Bit filter returns for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FilterOutput {
    /// Every event, with a `jcdetect` object (`category`, `rules`, `alerts`) added.
    #[default]
    Events,
    /// Only the events that raised an alert (the others are dropped), enriched the same way.
    Alerts,
}

/// The filter's settings: the core config plus the `[fluentbit]` table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FilterConfig {
    pub config: Config,
    pub output: FilterOutput,
    pub format: Format,
}

/// Parse a filter config: the CLI's TOML with an optional `[fluentbit]` table
/// (`output = "events" | "alerts"`, `format = "ecs" | "ocsf"`). Every problem is reported.
pub fn parse_filter_config(text: &str) -> Result<FilterConfig, ConfigError> {
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
        problems: vec![format!("TOML syntax: {}", e.message().trim())],
    })?;
    let mut problems = Vec::new();
    let mut fc = FilterConfig::default();
    match table.remove("fluentbit") {
        None => {}
        Some(toml::Value::Table(fb)) => {
            for (k, v) in &fb {
                match (k.as_str(), v.as_str()) {
                    ("output", Some("events")) => fc.output = FilterOutput::Events,
                    ("output", Some("alerts")) => fc.output = FilterOutput::Alerts,
                    ("format", Some("ecs")) => fc.format = Format::Ecs,
                    ("format", Some("ocsf")) => fc.format = Format::Ocsf,
                    ("output", _) => problems.push(format!(
                        "`fluentbit.output` must be \"events\" or \"alerts\" (got {v})"
                    )),
                    ("format", _) => problems.push(format!(
                        "`fluentbit.format` must be \"ecs\" or \"ocsf\" (got {v})"
                    )),
                    _ => problems.push(format!(
                        "unknown key `fluentbit.{k}` (expected `output` or `format`)"
                    )),
                }
            }
        }
        Some(v) => problems.push(format!(
            "`fluentbit` must be a table, not a {}",
            v.type_str()
        )),
    }
    match Config::from_value(&toml::Value::Table(table)) {
        Ok(c) => fc.config = c,
        Err(e) => problems.extend(e.problems),
    }
    if problems.is_empty() {
        Ok(fc)
    } else {
        Err(ConfigError { problems })
    }
}

/// The `jcdetect_config` field of a record: `None` when absent, `Err` when it is not a
/// string or the record is not a JSON object.
pub fn config_field(record: &[u8]) -> Option<Result<String, String>> {
    // Only the first record is looked at, but skip the parse when the key cannot be there.
    let needle = format!("\"{CONFIG_FIELD}\"");
    if !record.windows(needle.len()).any(|w| w == needle.as_bytes()) {
        return None;
    }
    let v: serde_json::Value = match serde_json::from_slice(record) {
        Ok(v) => v,
        Err(e) => return Some(Err(format!("the record is not valid JSON: {e}"))),
    };
    match v.get(CONFIG_FIELD)? {
        serde_json::Value::String(s) => Some(Ok(s.clone())),
        other => Some(Err(format!(
            "`{CONFIG_FIELD}` must be a string of TOML text, not {other}"
        ))),
    }
}

/// Fluent Bit's record time as ns since the epoch; 0/0 means the host gave none.
pub fn host_time(time_sec: u32, time_nsec: u32) -> Option<i64> {
    if time_sec == 0 && time_nsec == 0 {
        return None;
    }
    Some(i64::from(time_sec) * 1_000_000_000 + i64::from(time_nsec.min(999_999_999)))
}

/// Everything one module instance holds.
pub struct Host {
    engine: Engine,
    fallback_time: Option<i64>,
    /// The output of the last export call; the host reads it before the next call.
    out: Vec<u8>,
    /// Scratch for the engine's diagnostics.
    diags: Vec<Diagnostic>,
    /// NDJSON of the diagnostics not yet collected, at most `MAX_PENDING_DIAGS` lines.
    pending: Vec<u8>,
    pending_lines: usize,
    dropped: u64,
    null_inputs: u64,
    bad_pointers: u64,
    /// Set once the Fluent Bit filter has configured itself (on its first call).
    filter: Option<FilterOutput>,
}

impl Default for Host {
    fn default() -> Self {
        Host::new()
    }
}

/// Where a filter config came from, for messages.
enum Source {
    Record,
    File(&'static str),
}

impl Host {
    /// The default config, ECS alerts, as `jcdetect FILE` runs.
    pub fn new() -> Host {
        Host {
            engine: Engine::new(&Config::default(), Options::default()),
            fallback_time: None,
            out: Vec::with_capacity(64 << 10),
            diags: Vec::new(),
            pending: Vec::new(),
            pending_lines: 0,
            dropped: 0,
            null_inputs: 0,
            bad_pointers: 0,
            filter: None,
        }
    }

    fn replace_engine(&mut self, cfg: &Config, opts: Options) {
        // Window tables are allocated on first use, so the new engine is small until fed, and
        // the old one's memory goes back to the allocator for it to reuse.
        self.engine = Engine::new(cfg, opts);
        self.engine.set_fallback_time(self.fallback_time);
        self.pending.clear();
        self.pending_lines = 0;
        self.dropped = 0;
        self.null_inputs = 0;
        self.bad_pointers = 0;
    }

    /// `jcdetect_init`: (re)create the engine. Returns the JSON status. On failure the
    /// engine in place is kept.
    pub fn init(&mut self, cfg: Result<&[u8], BadInput>, flags: i32) -> &[u8] {
        self.out.clear();
        let result = (|| {
            let cfg = cfg.map_err(|bad| format!("config buffer: {}", bad.detail()))?;
            if flags & !(FLAG_OCSF | FLAG_EMIT_ALL) != 0 {
                return Err(format!(
                    "unknown flag bits {:#x} (bit 0: ocsf, bit 1: emit all)",
                    flags & !(FLAG_OCSF | FLAG_EMIT_ALL)
                ));
            }
            let cfg = if cfg.is_empty() {
                Config::default()
            } else {
                let text = std::str::from_utf8(cfg)
                    .map_err(|e| format!("the config is not valid UTF-8: {e}"))?;
                Config::from_toml_str(text).map_err(|e| e.to_string())?
            };
            let opts = Options {
                format: if flags & FLAG_OCSF != 0 {
                    Format::Ocsf
                } else {
                    Format::Ecs
                },
                emit: if flags & FLAG_EMIT_ALL != 0 {
                    Emit::All
                } else {
                    Emit::Alerts
                },
                ..Options::default()
            };
            Ok((cfg, opts))
        })();
        match result {
            Ok((cfg, opts)) => {
                self.replace_engine(&cfg, opts);
                self.filter = None;
                let bytes = self.engine.window_stats().bytes;
                let mut o = Obj::new(&mut self.out);
                o.bool("ok", true).int("state_bytes", bytes as i64);
                o.end();
            }
            Err(msg) => {
                let mut o = Obj::new(&mut self.out);
                o.bool("ok", false).str("error", &msg);
                o.end();
            }
        }
        &self.out
    }

    /// `jcdetect_set_time`: the host clock, for alerts while no event time is known.
    pub fn set_time(&mut self, ns: i64) {
        self.fallback_time = Some(ns);
        self.engine.set_fallback_time(Some(ns));
    }

    /// `jcdetect_process`: a chunk of NDJSON, exactly as `Engine::feed`.
    pub fn process(&mut self, chunk: Result<&[u8], BadInput>) -> &[u8] {
        self.out.clear();
        match chunk {
            Ok(chunk) => {
                self.engine.feed(chunk, &mut self.out, &mut self.diags);
                self.queue_diags();
            }
            Err(bad) => self.bad_input(bad),
        }
        &self.out
    }

    /// `jcdetect_flush`: end of stream.
    pub fn flush(&mut self) -> &[u8] {
        self.out.clear();
        self.engine.finish(&mut self.out, &mut self.diags);
        self.queue_diags();
        &self.out
    }

    /// `jcdetect_diagnostics`: the queued diagnostics as NDJSON, and the queue emptied.
    pub fn take_diagnostics(&mut self) -> &[u8] {
        self.out.clear();
        std::mem::swap(&mut self.out, &mut self.pending);
        if self.dropped > 0 {
            let detail = format!(
                "{} more diagnostics were not kept (over {MAX_PENDING_DIAGS} between two \
                 jcdetect_diagnostics calls); they are counted in jcdetect_stats",
                self.dropped
            );
            let line = self.engine.stats().lines;
            write_diag(&mut self.out, line, "diagnostics_dropped", &detail);
        }
        self.pending_lines = 0;
        self.dropped = 0;
        &self.out
    }

    /// `jcdetect_snapshot`: the window state, the bytes `jcdetect --state` writes.
    pub fn snapshot(&mut self) -> &[u8] {
        self.out = self.engine.snapshot();
        &self.out
    }

    /// `jcdetect_restore`: load a state written by `jcdetect_snapshot` (or the native CLI).
    /// Returns the JSON status; on error the engine is unchanged.
    pub fn restore(&mut self, file: Result<&[u8], BadInput>) -> &[u8] {
        let result = file
            .map_err(|bad| ("bad_input", format!("state buffer: {}", bad.detail())))
            .and_then(|f| {
                self.engine
                    .restore(f)
                    .map_err(|e| (e.kind(), e.to_string()))
            });
        self.out.clear();
        let mut o = Obj::new(&mut self.out);
        match result {
            Ok(r) => {
                o.bool("ok", true).int("keys", r.keys as i64);
                if let Some(w) = r.watermark {
                    o.int("watermark", w);
                }
            }
            Err((kind, msg)) => {
                o.bool("ok", false).str("kind", kind).str("error", &msg);
            }
        }
        o.end();
        &self.out
    }

    /// `jcdetect_stats`: the CLI's `--stats-json` document, plus `diagnostics.null_input` /
    /// `diagnostics.bad_pointer` when the host passed unreadable buffers.
    pub fn stats(&mut self) -> &[u8] {
        self.out.clear();
        if self.null_inputs == 0 && self.bad_pointers == 0 {
            self.out
                .extend_from_slice(self.engine.stats_json().as_bytes());
        } else {
            let mut v = self.engine.stats_value();
            if let Some(d) = v.get_mut("diagnostics").and_then(|d| d.as_object_mut()) {
                d.insert("null_input".into(), self.null_inputs.into());
                d.insert("bad_pointer".into(), self.bad_pointers.into());
            }
            let mut t = serde_json::to_string_pretty(&v).unwrap_or_default();
            t.push('\n');
            self.out.extend_from_slice(t.as_bytes());
        }
        &self.out
    }

    /// `jcdetect_filter` (Fluent Bit): one record in, one NUL-terminated record out; an
    /// empty string drops the record. The first call configures the filter.
    pub fn filter(
        &mut self,
        record: Result<&[u8], BadInput>,
        time_sec: u32,
        time_nsec: u32,
    ) -> &[u8] {
        self.out.clear();
        let record = match record {
            Ok(r) => r,
            Err(bad) => {
                // A failure never passes the record through: drop it.
                self.bad_input(bad);
                self.out.push(0);
                return &self.out;
            }
        };
        if self.filter.is_none() {
            if let Some(cfg) = config_field(record) {
                // A control record configures and is dropped; a broken config becomes a
                // visible error record instead, so the mistake reaches the pipeline.
                self.setup_filter(Some(cfg.map(|t| (t, Source::Record))), true);
                self.out.push(0);
                return &self.out;
            }
            self.setup_filter(read_filter_config_file(), false);
        }
        let fired_before = self.engine.stats().total_alerts();
        let mut line = std::mem::take(&mut self.out);
        self.engine.process_record(
            record,
            host_time(time_sec, time_nsec),
            &mut line,
            &mut self.diags,
        );
        self.queue_diags();
        let fired = self.engine.stats().total_alerts() > fired_before;
        // One record in, at most one out: Fluent Bit records are objects, so one line.
        let first = line.split(|&b| b == b'\n').next().unwrap_or(&[]).len();
        line.truncate(first);
        if self.filter == Some(FilterOutput::Alerts) && !fired {
            line.clear();
        }
        line.push(0);
        self.out = line;
        &self.out
    }

    /// Configure the filter from the config found (`None`: none found, use defaults). A bad
    /// config runs the defaults, with a `config_error` diagnostic and, for a record config,
    /// an error record left in `out`.
    fn setup_filter(&mut self, found: Option<Result<(String, Source), String>>, from_record: bool) {
        let parsed = match found {
            None => Ok(FilterConfig::default()),
            Some(Err(e)) => Err(e),
            Some(Ok((text, src))) => parse_filter_config(&text).map_err(|e| match src {
                Source::Record => format!("`{CONFIG_FIELD}` of the first record: {e}"),
                Source::File(p) => format!("{p}: {e}"),
            }),
        };
        match parsed {
            Ok(fc) => self.setup_engine(&fc),
            Err(msg) => {
                // Fluent Bit shows the module's stderr in its log; stdout is its output.
                #[cfg(target_os = "wasi")]
                eprintln!("[jcdetect] config error, running with the defaults: {msg}");
                self.setup_engine(&FilterConfig::default());
                self.push_diag(0, "config_error", &msg);
                if from_record {
                    let mut o = Obj::new(&mut self.out);
                    o.obj("jcdetect", |j| {
                        j.str("error", "config").str("message", &msg);
                    });
                    o.end();
                }
            }
        }
    }

    fn setup_engine(&mut self, fc: &FilterConfig) {
        let opts = Options {
            format: fc.format,
            emit: Emit::Embedded,
            ..Options::default()
        };
        self.replace_engine(&fc.config, opts);
        self.filter = Some(fc.output);
    }

    fn bad_input(&mut self, bad: BadInput) {
        match bad {
            BadInput::Null => self.null_inputs += 1,
            BadInput::OutOfBounds => self.bad_pointers += 1,
        }
        let line = self.engine.stats().lines;
        self.push_diag(line, bad.code(), bad.detail());
    }

    fn queue_diags(&mut self) {
        let mut diags = std::mem::take(&mut self.diags);
        for d in diags.drain(..) {
            self.push_diag(d.line, d.code.as_str(), &d.detail);
        }
        self.diags = diags;
    }

    fn push_diag(&mut self, line: u64, code: &str, detail: &str) {
        if self.pending_lines >= MAX_PENDING_DIAGS {
            self.dropped += 1;
            return;
        }
        write_diag(&mut self.pending, line, code, detail);
        self.pending_lines += 1;
    }
}

fn write_diag(out: &mut Vec<u8>, line: u64, code: &str, detail: &str) {
    let mut o = Obj::new(out);
    o.int("line", line as i64)
        .str("code", code)
        .str("detail", detail);
    o.end();
    out.push(b'\n');
}

/// The first config file found in the preopened directories; missing files are skipped.
fn read_filter_config_file() -> Option<Result<(String, Source), String>> {
    for path in FILTER_CONFIG_PATHS {
        match std::fs::read_to_string(path) {
            Ok(text) => return Some(Ok((text, Source::File(path)))),
            Err(e) if not_there(&e) => {}
            Err(e) => return Some(Err(format!("cannot read {path}: {e}"))),
        }
    }
    None
}

/// A path outside every preopened directory (or no WASI at all) reads as "no file".
fn not_there(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    // WASI's ENOTCAPABLE: the path is under no preopened directory.
    const ENOTCAPABLE: i32 = 76;
    matches!(e.kind(), NotFound | Unsupported | PermissionDenied)
        || (cfg!(target_os = "wasi") && e.raw_os_error() == Some(ENOTCAPABLE))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELETE: &str = r#"{"id":"1","event_type":"policy_delete","service":"directory","timestamp":"2024-05-01T10:00:00Z"}"#;
    const LOGIN: &str = r#"{"id":"2","event_type":"user_login_attempt","service":"directory","timestamp":"2024-05-01T10:00:01Z","success":true}"#;

    fn text(b: &[u8]) -> &str {
        std::str::from_utf8(b).unwrap()
    }

    #[test]
    fn pack_puts_the_length_high_and_the_pointer_low() {
        assert_eq!(pack(0x1234, 0), 0x1234);
        assert_eq!(pack(0xffff_fff0, 7), (7i64 << 32) | 0xffff_fff0);
        assert_eq!(pack(8, u32::MAX) as u64 >> 32, u64::from(u32::MAX));
    }

    #[test]
    fn process_matches_the_engine_and_carries_partial_lines() {
        let mut h = Host::new();
        let input = format!("{DELETE}\n{LOGIN}\n{DELETE}");
        let mut expected = Vec::new();
        let mut e = Engine::new(&Config::default(), Options::default());
        e.feed(input.as_bytes(), &mut expected, &mut Vec::new());
        e.finish(&mut expected, &mut Vec::new());
        let (a, b) = input.as_bytes().split_at(30);
        let mut got = h.process(Ok(a)).to_vec();
        assert!(got.is_empty(), "nothing before the first newline");
        got.extend_from_slice(h.process(Ok(b)));
        got.extend_from_slice(h.flush());
        assert_eq!(text(&got), text(&expected));
        assert_eq!(text(&got).lines().count(), 2);
    }

    #[test]
    fn init_reports_ok_with_state_bytes_or_the_config_error() {
        let mut h = Host::new();
        let ok = text(h.init(Ok(b""), 0)).to_string();
        assert!(ok.starts_with(r#"{"ok":true,"state_bytes":"#), "{ok}");
        let bad = text(h.init(Ok(b"[rules.nope]\nx = 1\n"), 0)).to_string();
        let v: serde_json::Value = serde_json::from_str(&bad).unwrap();
        assert_eq!(v["ok"], false);
        let msg = v["error"].as_str().unwrap();
        assert!(msg.contains("unknown rule `nope`"), "{msg}");
        let v: serde_json::Value = serde_json::from_slice(h.init(Ok(b""), 8)).unwrap();
        assert!(v["error"].as_str().unwrap().contains("unknown flag"));
        let v: serde_json::Value = serde_json::from_slice(h.init(Err(BadInput::Null), 0)).unwrap();
        assert_eq!(v["ok"], false);
    }

    #[test]
    fn init_flags_select_ocsf_and_emit_all() {
        let mut h = Host::new();
        h.init(
            Ok(b"[rules.policy_deleted]\nseverity = \"low\"\n"),
            FLAG_OCSF | FLAG_EMIT_ALL,
        );
        let out = text(h.process(Ok(format!("{DELETE}\n").as_bytes()))).to_string();
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert_eq!(lines[0]["jcdetect"]["rules"][0], "policy_deleted");
        assert_eq!(lines[1]["class_uid"], 2004, "OCSF Detection Finding");
        assert_eq!(lines[1]["severity"], "Low");
    }

    #[test]
    fn a_bad_pointer_outputs_nothing_and_is_diagnosed_and_counted() {
        let mut h = Host::new();
        assert!(h.process(Err(BadInput::Null)).is_empty());
        h.process(Ok(b"{oops\n"));
        let d = text(h.take_diagnostics()).to_string();
        let lines: Vec<serde_json::Value> = d
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["code"], "null_input");
        assert_eq!(lines[1]["code"], "invalid_json");
        assert_eq!(lines[1]["line"], 1);
        assert!(
            d.starts_with(r#"{"line":0,"code":"null_input","detail":"#),
            "{d}"
        );
        assert!(h.take_diagnostics().is_empty(), "collected once");
        let s: serde_json::Value = serde_json::from_slice(h.stats()).unwrap();
        assert_eq!(s["diagnostics"]["null_input"], 1);
        assert_eq!(s["diagnostics"]["invalid_json"], 1);
    }

    #[test]
    fn stats_are_the_cli_document() {
        let mut h = Host::new();
        h.process(Ok(format!("{DELETE}\n").as_bytes()));
        let s = text(h.stats()).to_string();
        let mut e = Engine::new(&Config::default(), Options::default());
        e.feed(
            format!("{DELETE}\n").as_bytes(),
            &mut Vec::new(),
            &mut Vec::new(),
        );
        assert_eq!(s, e.stats_json());
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["alerts"]["policy_deleted"], 1);
        assert!(
            v["diagnostics"].get("null_input").is_none(),
            "absent unless it happened"
        );
    }

    #[test]
    fn pending_diagnostics_are_bounded() {
        let mut h = Host::new();
        let bad = "x\n".repeat(MAX_PENDING_DIAGS + 5);
        h.process(Ok(bad.as_bytes()));
        let d = text(h.take_diagnostics()).to_string();
        assert_eq!(d.lines().count(), MAX_PENDING_DIAGS + 1);
        assert!(d
            .lines()
            .last()
            .unwrap()
            .contains(r#""code":"diagnostics_dropped""#));
        assert!(d.lines().last().unwrap().contains("5 more"));
    }

    #[test]
    fn set_time_stamps_alerts_of_events_without_time() {
        let mut h = Host::new();
        h.set_time(1_714_557_600_000_000_000);
        let out = text(h.process(Ok(
            br#"{"id":"1","event_type":"policy_delete","service":"directory"}
"#,
        )))
        .to_string();
        assert!(
            out.contains(r#""@timestamp":"2024-05-01T10:00:00"#),
            "{out}"
        );
    }

    #[test]
    fn config_field_is_found_only_as_a_string_field() {
        assert_eq!(config_field(DELETE.as_bytes()), None);
        let rec = br#"{"jcdetect_config":"[fluentbit]\noutput = \"alerts\"\n"}"#;
        assert_eq!(
            config_field(rec),
            Some(Ok("[fluentbit]\noutput = \"alerts\"\n".to_string()))
        );
        assert!(matches!(
            config_field(br#"{"jcdetect_config":3}"#),
            Some(Err(_))
        ));
        // Mentioned inside a value only: not a field.
        assert_eq!(config_field(br#"{"msg":"see \"jcdetect_config\""}"#), None);
    }

    #[test]
    fn filter_config_strips_fluentbit_and_reports_every_problem() {
        let fc = parse_filter_config(
            "[fluentbit]\noutput = \"alerts\"\nformat = \"ocsf\"\n[rules.user_updated]\nenabled = false\n",
        )
        .unwrap();
        assert_eq!(fc.output, FilterOutput::Alerts);
        assert_eq!(fc.format, Format::Ocsf);
        assert_eq!(fc.config.rule("user_updated").unwrap().enabled, Some(false));
        let e = parse_filter_config("[fluentbit]\noutput = \"x\"\ncolour = 1\n[rules.nope]\n")
            .unwrap_err();
        assert_eq!(e.problems.len(), 3, "{e}");
        assert_eq!(parse_filter_config("").unwrap(), FilterConfig::default());
    }

    #[test]
    fn host_time_is_ns_and_zero_means_none() {
        assert_eq!(host_time(0, 0), None);
        assert_eq!(host_time(1, 5), Some(1_000_000_005));
        assert_eq!(
            host_time(u32::MAX, 0),
            Some(i64::from(u32::MAX) * 1_000_000_000)
        );
    }

    fn filter<'a>(h: &'a mut Host, rec: &str) -> &'a str {
        let out = h.filter(Ok(rec.as_bytes()), 1_714_557_600, 0);
        let (last, body) = out.split_last().unwrap();
        assert_eq!(*last, 0, "NUL-terminated");
        assert!(!body.contains(&0));
        text(body)
    }

    #[test]
    fn filter_enriches_each_event_and_keeps_its_bytes() {
        let mut h = Host::new();
        let out = filter(&mut h, DELETE).to_string();
        assert!(out.starts_with(&DELETE[..DELETE.len() - 1]), "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["jcdetect"]["rules"][0], "policy_deleted");
        assert_eq!(v["jcdetect"]["alerts"][0]["rule"]["id"], "policy_deleted");
        let quiet: serde_json::Value = serde_json::from_str(filter(&mut h, LOGIN)).unwrap();
        assert_eq!(quiet["jcdetect"]["alerts"], serde_json::json!([]));
    }

    #[test]
    fn filter_alerts_mode_from_the_first_record_drops_quiet_events() {
        let mut h = Host::new();
        let control = r#"{"jcdetect_config":"[fluentbit]\noutput = \"alerts\"\n"}"#;
        assert_eq!(filter(&mut h, control), "", "the control record is dropped");
        assert_eq!(filter(&mut h, LOGIN), "", "no alert: dropped");
        assert!(filter(&mut h, DELETE).contains(r#""rules":["policy_deleted"]"#));
        // Later records are never config: processed (and here dropped) as events.
        assert_eq!(filter(&mut h, control), "");
        assert_eq!(h.engine.stats().events, 3);
    }

    #[test]
    fn filter_reports_a_bad_record_config_and_runs_the_defaults() {
        let mut h = Host::new();
        let out = filter(&mut h, r#"{"jcdetect_config":"[rules.nope]\n"}"#).to_string();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["jcdetect"]["error"], "config");
        assert!(v["jcdetect"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown rule `nope`"));
        assert!(
            filter(&mut h, LOGIN).contains(r#""jcdetect":{"#),
            "events mode"
        );
        assert!(text(h.take_diagnostics()).contains(r#""code":"config_error""#));
    }

    #[test]
    fn filter_uses_the_record_time_when_the_event_has_none() {
        let mut h = Host::new();
        let out = filter(
            &mut h,
            r#"{"id":"9","event_type":"policy_delete","service":"directory"}"#,
        )
        .to_string();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["jcdetect"]["alerts"][0]["@timestamp"],
            "2024-05-01T10:00:00.000Z"
        );
        assert!(
            h.take_diagnostics().is_empty(),
            "no missing_timestamp with a record time"
        );
    }

    #[test]
    fn filter_drops_a_null_record_and_counts_it() {
        let mut h = Host::new();
        assert_eq!(h.filter(Err(BadInput::Null), 1, 0), b"\0");
        let s: serde_json::Value = serde_json::from_slice(h.stats()).unwrap();
        assert_eq!(s["diagnostics"]["null_input"], 1);
        assert!(text(h.take_diagnostics()).contains("null_input"));
    }
}
