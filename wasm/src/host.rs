//! The state behind the exports, in safe code so it is tested natively: one engine, its
//! output and diagnostics buffers, and the Fluent Bit filter's setup. The `ffi` module only
//! turns pointers into slices and slices into pointers.

use jcdetect::alert::json::Obj;
use jcdetect::{Config, ConfigError, Diagnostic, Emit, Engine, Format, Options};

/// `jcdetect_init` flag bits.
pub const FLAG_OCSF: i32 = 1;
pub const FLAG_EMIT_ALL: i32 = 2;

/// Diagnostics kept between two `jcdetect_diagnostics` calls. Fluent Bit never asks for
/// them, so the queue must be bounded; every diagnostic is counted in the stats anyway.
pub const MAX_PENDING_DIAGS: usize = 1000;

/// Where the Fluent Bit filter looks for its config when no directory in `Accessible_Paths`
/// has a `jcdetect.toml` (those are tried first, in their order).
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

/// Periodic snapshots of the filter's window state (`[fluentbit] state`), so a Fluent Bit
/// restart or hot reload resumes with its windows.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointConfig {
    /// The state file (the `--state` format), under a directory in `Accessible_Paths`.
    pub path: String,
    /// Event time between two checkpoints, in seconds.
    pub every_secs: i64,
    /// Records between two checkpoints, whatever the event time does.
    pub every_records: u64,
}

/// Fluent Bit does not tell the module it stops: what came after the last checkpoint is
/// lost at every stop, so they are frequent (a 4 MB state costs ~25 ms interpreted).
pub const DEFAULT_CHECKPOINT_SECS: i64 = 10;
pub const DEFAULT_CHECKPOINT_RECORDS: u64 = 10_000;

/// The filter's settings: the core config plus the `[fluentbit]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterConfig {
    pub config: Config,
    pub output: FilterOutput,
    pub format: Format,
    /// Take Fluent Bit's record time as the event time of a DI event without `timestamp`
    /// (on by default). A parser with `Time_Key timestamp` moves the event's time there; DI
    /// events otherwise always carry one. Records that are no DI event never take it: they
    /// are what used to move the clock to the ingestion time.
    pub use_record_time: bool,
    pub checkpoint: Option<CheckpointConfig>,
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig {
            config: Config::default(),
            output: FilterOutput::default(),
            format: Format::default(),
            use_record_time: true,
            checkpoint: None,
        }
    }
}

/// Parse a filter config: the CLI's TOML with an optional `[fluentbit]` table (`output`,
/// `format`, `use_record_time`, `state`, `checkpoint_secs`, `checkpoint_records`; see
/// `wasm/README.md`). Every problem is reported.
pub fn parse_filter_config(text: &str) -> Result<FilterConfig, ConfigError> {
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
        problems: vec![format!("TOML syntax: {}", e.message().trim())],
    })?;
    let mut problems = Vec::new();
    let mut fc = FilterConfig::default();
    let (mut state, mut secs, mut records) = (None, None, None);
    match table.remove("fluentbit") {
        None => {}
        Some(toml::Value::Table(fb)) => {
            for (k, v) in &fb {
                match (k.as_str(), v) {
                    ("output", toml::Value::String(s)) if s == "events" => {
                        fc.output = FilterOutput::Events
                    }
                    ("output", toml::Value::String(s)) if s == "alerts" => {
                        fc.output = FilterOutput::Alerts
                    }
                    ("format", toml::Value::String(s)) if s == "ecs" => fc.format = Format::Ecs,
                    ("format", toml::Value::String(s)) if s == "ocsf" => fc.format = Format::Ocsf,
                    ("output", _) => problems.push(format!(
                        "`fluentbit.output` must be \"events\" or \"alerts\" (got {v})"
                    )),
                    ("format", _) => problems.push(format!(
                        "`fluentbit.format` must be \"ecs\" or \"ocsf\" (got {v})"
                    )),
                    ("use_record_time", toml::Value::Boolean(b)) => fc.use_record_time = *b,
                    ("use_record_time", _) => problems.push(format!(
                        "`fluentbit.use_record_time` must be true or false (got {v})"
                    )),
                    ("state", toml::Value::String(p)) if p.starts_with('/') => {
                        state = Some(p.clone())
                    }
                    ("state", _) => problems.push(format!(
                        "`fluentbit.state` must be an absolute path in a directory listed in \
                         Accessible_Paths (got {v})"
                    )),
                    ("checkpoint_secs", toml::Value::Integer(n)) if *n >= 1 => secs = Some(*n),
                    ("checkpoint_records", toml::Value::Integer(n)) if *n >= 1 => {
                        records = Some(*n as u64)
                    }
                    ("checkpoint_secs" | "checkpoint_records", _) => problems.push(format!(
                        "`fluentbit.{k}` must be a whole number of at least 1 (got {v})"
                    )),
                    _ => problems.push(format!(
                        "unknown key `fluentbit.{k}` (expected `output`, `format`, \
                         `use_record_time`, `state`, `checkpoint_secs` or `checkpoint_records`)"
                    )),
                }
            }
        }
        Some(v) => problems.push(format!(
            "`fluentbit` must be a table, not a {}",
            v.type_str()
        )),
    }
    match state {
        Some(path) => {
            fc.checkpoint = Some(CheckpointConfig {
                path,
                every_secs: secs.unwrap_or(DEFAULT_CHECKPOINT_SECS),
                every_records: records.unwrap_or(DEFAULT_CHECKPOINT_RECORDS),
            })
        }
        None if secs.is_some() || records.is_some() => problems
            .push("`fluentbit.checkpoint_secs`/`checkpoint_records` need `fluentbit.state`".into()),
        None => {}
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
    filter: Option<FilterState>,
    /// Wall clock (ns since the epoch), for spacing checkpoints; tests set their own.
    wall_clock: fn() -> i64,
}

fn system_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// The Fluent Bit filter's settings once configured, and its checkpoint progress.
struct FilterState {
    output: FilterOutput,
    checkpoint: Option<Checkpointer>,
}

struct Checkpointer {
    cfg: CheckpointConfig,
    /// The watermark at the last checkpoint (or when the first event time was seen).
    last_watermark: Option<i64>,
    /// The wall clock then (ns since the epoch).
    last_wall: i64,
    /// Records since the last checkpoint.
    records: u64,
    /// Failed writes in a row: the first is reported, and the recovery.
    failing: u64,
}

impl Default for Host {
    fn default() -> Self {
        Host::new()
    }
}

/// Where a filter config came from, for messages.
enum Source {
    Record,
    File(String),
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
            wall_clock: system_clock,
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
        let alerts_only = self
            .filter
            .as_ref()
            .is_some_and(|f| f.output == FilterOutput::Alerts);
        let fired_before = self.engine.stats().total_alerts();
        let mut line = std::mem::take(&mut self.out);
        // The record time stamps the alerts of an event without a time of its own; it is the
        // event time only with `use_record_time` (`Options::host_time_is_event_time`).
        self.engine.process_record(
            record,
            host_time(time_sec, time_nsec),
            &mut line,
            &mut self.diags,
        );
        self.queue_diags();
        let fired = self.engine.stats().total_alerts() > fired_before;
        // One record in, at most one out: Fluent Bit records are objects, so one line.
        let first = memchr::memchr(b'\n', &line).unwrap_or(line.len());
        line.truncate(first);
        if alerts_only && !fired {
            line.clear();
        }
        line.push(0);
        self.out = line;
        self.maybe_checkpoint();
        &self.out
    }

    /// After a record: write the window state when `checkpoint_secs` of event time or
    /// `checkpoint_records` records have passed since the last write. Written to a
    /// temporary file and renamed over the state file, so a crash leaves the old or the new.
    fn maybe_checkpoint(&mut self) {
        let Some(cp) = self.filter.as_mut().and_then(|f| f.checkpoint.as_mut()) else {
            return;
        };
        cp.records += 1;
        let now = self.engine.watermark();
        let every = cp.cfg.every_secs * 1_000_000_000;
        // Event time and wall time must both have moved on: live, they move together; in a
        // replay hours of event time pass in seconds, and a checkpoint every few hundred
        // records (4 MB each, ~25 ms in Fluent Bit's interpreter) would double its cost.
        let wall = (self.wall_clock)();
        let due_by_time = match (now, cp.last_watermark) {
            (Some(now), Some(last)) => now - last >= every && wall - cp.last_wall >= every,
            (Some(_), None) => {
                cp.last_watermark = now;
                cp.last_wall = wall;
                false
            }
            (None, _) => false,
        };
        if !due_by_time && cp.records < cp.cfg.every_records {
            return;
        }
        cp.records = 0;
        cp.last_watermark = now;
        cp.last_wall = wall;
        let bytes = self.engine.snapshot();
        let path = cp.cfg.path.clone();
        match write_atomically(&path, &bytes) {
            Ok(()) => {
                if cp.failing > 0 {
                    #[cfg(target_os = "wasi")]
                    eprintln!(
                        "[jcdetect] checkpoint written to {path} again, after {} failed",
                        cp.failing
                    );
                }
                cp.failing = 0;
            }
            Err(e) => {
                cp.failing += 1;
                if cp.failing == 1 {
                    let msg = format!(
                        "cannot write the state checkpoint {path}: {e} (is its directory in \
                         Accessible_Paths and writable?); retrying at the next checkpoint"
                    );
                    #[cfg(target_os = "wasi")]
                    eprintln!("[jcdetect] {msg}");
                    let line = self.engine.stats().lines;
                    self.push_diag(line, "checkpoint_error", &msg);
                }
            }
        }
    }

    /// At start-up with `[fluentbit] state`: load the last checkpoint. A missing file is a
    /// first start; one that does not load is moved to `<path>.rejected` (kept for a look,
    /// out of the way of the next checkpoint) and the windows start empty.
    fn restore_checkpoint(&mut self, path: &str) {
        let problem = match std::fs::read(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => format!("cannot read the state checkpoint {path}: {e}"),
            Ok(bytes) => match self.engine.restore(&bytes) {
                Ok(_) => return,
                Err(e) => {
                    let aside = format!("{path}.rejected");
                    let moved = match std::fs::rename(path, &aside) {
                        Ok(()) => format!("moved to {aside}"),
                        Err(e) => format!("could not move it to {aside}: {e}"),
                    };
                    format!("the state checkpoint {path} was not loaded ({e}); {moved}")
                }
            },
        };
        #[cfg(target_os = "wasi")]
        eprintln!("[jcdetect] {problem}; starting with empty windows");
        self.push_diag(0, "checkpoint_error", &problem);
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
            host_time_is_event_time: fc.use_record_time,
            ..Options::default()
        };
        self.replace_engine(&fc.config, opts);
        self.filter = Some(FilterState {
            output: fc.output,
            checkpoint: fc.checkpoint.clone().map(|cfg| Checkpointer {
                cfg,
                last_watermark: None,
                last_wall: 0,
                records: 0,
                failing: 0,
            }),
        });
        if let Some(cp) = &fc.checkpoint {
            self.restore_checkpoint(&cp.path);
        }
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

/// Write `bytes` to `path` through `<path>.tmp` and a rename (atomic within a directory).
fn write_atomically(path: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = format!("{path}.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    // On disk before it replaces the old one: a power cut leaves one whole file or the other.
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The first config file found: `jcdetect.toml` in each preopened directory (Fluent Bit's
/// `Accessible_Paths`, in order), then [`FILTER_CONFIG_PATHS`]; missing files are skipped.
fn read_filter_config_file() -> Option<Result<(String, Source), String>> {
    let mut paths: Vec<String> = preopened_dirs()
        .into_iter()
        .map(|d| format!("{}/jcdetect.toml", d.trim_end_matches('/')))
        .collect();
    paths.extend(FILTER_CONFIG_PATHS.iter().map(|p| p.to_string()));
    for path in paths {
        match std::fs::read_to_string(&path) {
            Ok(text) => return Some(Ok((text, Source::File(path)))),
            Err(e) if not_there(&e) => {}
            Err(e) => return Some(Err(format!("cannot read {path}: {e}"))),
        }
    }
    None
}

/// The directories the host preopened, in order (WASI file descriptors 3, 4, ...).
#[cfg(target_os = "wasi")]
fn preopened_dirs() -> Vec<String> {
    #[repr(C)]
    struct Prestat {
        /// 0: a directory.
        tag: u8,
        name_len: u32,
    }
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        fn fd_prestat_get(fd: u32, out: *mut Prestat) -> u16;
        fn fd_prestat_dir_name(fd: u32, path: *mut u8, len: u32) -> u16;
    }
    let mut dirs = Vec::new();
    // Preopens are numbered from 3 without gaps; the first fd that is not one ends them.
    for fd in 3..64 {
        let mut p = Prestat {
            tag: 1,
            name_len: 0,
        };
        // SAFETY: WASI preview 1 writes a `prestat` (u8 tag, u32 length, C layout) to `p`.
        if unsafe { fd_prestat_get(fd, &mut p) } != 0 {
            break;
        }
        if p.tag != 0 || p.name_len > 4096 {
            continue;
        }
        let mut name = vec![0u8; p.name_len as usize];
        // SAFETY: `name` has exactly the `name_len` bytes the host writes.
        if unsafe { fd_prestat_dir_name(fd, name.as_mut_ptr(), p.name_len) } == 0 {
            if let Ok(n) = String::from_utf8(name) {
                dirs.push(n.trim_end_matches('\0').to_string());
            }
        }
    }
    dirs
}

#[cfg(not(target_os = "wasi"))]
fn preopened_dirs() -> Vec<String> {
    Vec::new()
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
        // Later records are never config: processed (and here dropped) as records, and this
        // one is no DI event.
        assert_eq!(filter(&mut h, control), "");
        assert_eq!(h.engine.stats().events, 2);
        assert_eq!(h.engine.stats().code_count(jcdetect::Code::NotADiEvent), 1);
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
    fn the_record_time_is_the_time_of_a_di_event_without_one_unless_turned_off() {
        // A parser with `Time_Key timestamp` moves the event's time into the record time.
        let no_ts = r#"{"id":"9","event_type":"policy_delete","service":"directory"}"#;
        let mut h = Host::new();
        // Two records agree on the time (a watermark needs two), and it is theirs.
        let out = text(h.filter(Ok(no_ts.as_bytes()), 1_714_557_600, 0)).to_string();
        h.filter(Ok(no_ts.as_bytes()), 1_714_557_610, 0);
        let v: serde_json::Value = serde_json::from_str(out.trim_end_matches('\0')).unwrap();
        assert_eq!(
            v["jcdetect"]["alerts"][0]["@timestamp"],
            "2024-05-01T10:00:00.000Z"
        );
        assert!(h.take_diagnostics().is_empty(), "{:?}", h.pending);
        assert_eq!(h.engine.watermark(), Some(1_714_557_610 * 1_000_000_000));
        // Turned off, the record time only stamps the alerts.
        let mut h = Host::new();
        filter(
            &mut h,
            r#"{"jcdetect_config":"[fluentbit]\nuse_record_time = false\n"}"#,
        );
        let v: serde_json::Value = serde_json::from_str(filter(&mut h, no_ts)).unwrap();
        assert_eq!(
            v["jcdetect"]["alerts"][0]["@timestamp"],
            "2024-05-01T10:00:00.000Z"
        );
        filter(&mut h, no_ts);
        assert!(text(h.take_diagnostics()).contains("missing_timestamp"));
        assert_eq!(h.engine.watermark(), None);
    }

    /// A failed login of `user` from one ip, `secs` after 2024-05-01T09:30:00Z.
    fn failure(user: usize, secs: u32) -> String {
        format!(
            r#"{{"id":"f{user:05}","event_type":"user_login_attempt","service":"directory","success":false,"client_ip":"203.0.113.9","initiated_by":{{"type":"user","username":"user{user}"}},"timestamp":"2024-05-01T09:{:02}:{:02}Z"}}"#,
            30 + secs / 60,
            secs % 60
        )
    }

    fn alert_ids(out: &str) -> Vec<String> {
        if out.is_empty() {
            return Vec::new();
        }
        let v: serde_json::Value = serde_json::from_str(out).unwrap();
        v["jcdetect"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["rule"]["id"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn a_record_that_is_no_di_event_does_not_move_the_clock() {
        // The real Fluent Bit run: logins 30 min old, one line the parser rejected (it
        // arrives as {"log": ...} with the ingestion time), then a spray of 40 failures.
        // Ingestion time is 10:00, half an hour after the events.
        let ingest = 1_714_557_600;
        let mut h = Host::new();
        let mut fired = Vec::new();
        for i in 0..3 {
            let login =
                failure(900 + i, i as u32).replace(r#""success":false"#, r#""success":true"#);
            h.filter(Ok(login.as_bytes()), ingest, 0);
        }
        let bad = h
            .filter(Ok(br#"{"log":"this is not json"}"#), ingest, 0)
            .to_vec();
        assert_eq!(
            bad, b"{\"log\":\"this is not json\"}\0",
            "passed on unchanged"
        );
        for i in 0..40 {
            let out = h.filter(Ok(failure(i, 60 + i as u32).as_bytes()), ingest, 0);
            fired.extend(alert_ids(text(&out[..out.len() - 1])));
        }
        assert_eq!(fired, ["password_spray_from_ip"]);
        let s: serde_json::Value = serde_json::from_slice(h.stats()).unwrap();
        assert_eq!(s["diagnostics"]["invalid_json"], 1);
        assert_eq!(s["unwrapped"], 1);
        assert_eq!(s["late_events"], 0);
    }

    #[test]
    fn a_log_record_holding_an_array_carries_all_its_alerts() {
        let mut h = Host::new();
        let events: Vec<String> = (0..16).map(|i| failure(i, i as u32 * 10)).collect();
        let rec = serde_json::json!({ "log": format!("[{}]", events.join(",")) }).to_string();
        let out = filter(&mut h, &rec).to_string();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["log"],
            serde_json::from_str::<serde_json::Value>(&rec).unwrap()["log"]
        );
        assert_eq!(v["jcdetect"]["category"], "batch");
        assert_eq!(
            v["jcdetect"]["rules"],
            serde_json::json!(["password_spray_from_ip"])
        );
        assert_eq!(alert_ids(&out), ["password_spray_from_ip"]);
        assert_eq!(h.engine.stats().events, 16);
        // A single event in `log`: the record goes on whole, the host's other fields too,
        // tagged with the event's category and alerts.
        let one =
            serde_json::json!({ "log": DELETE, "stream": "stdout", "kubernetes": { "pod": "p" } })
                .to_string();
        let v: serde_json::Value = serde_json::from_str(filter(&mut h, &one)).unwrap();
        assert_eq!(v["log"], DELETE);
        assert_eq!(v["stream"], "stdout");
        assert_eq!(v["kubernetes"]["pod"], "p");
        assert_eq!(v["jcdetect"]["category"], "policy_change");
        assert_eq!(v["jcdetect"]["rules"][0], "policy_deleted");
        assert_eq!(alert_ids(&v.to_string()), ["policy_deleted"]);
    }

    #[test]
    fn an_input_jcdetect_key_is_replaced_not_repeated() {
        let mut h = Host::new();
        let rec = r#"{"id":"1","jcdetect":{"old":true},"event_type":"policy_delete","service":"directory","timestamp":"2024-05-01T10:00:00Z"}"#;
        let out = filter(&mut h, rec).to_string();
        // Ours, and the one inside its alert; the input's is gone.
        assert_eq!(out.matches("\"jcdetect\":").count(), 2, "{out}");
        assert!(!out.contains("\"old\""), "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["jcdetect"]["rules"][0], "policy_deleted");
        assert_eq!(v["id"], "1");
    }

    /// A scratch directory for one test.
    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("jcdetect-wasm-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn checkpointing(path: &std::path::Path, records: u64) -> String {
        serde_json::json!({
            "jcdetect_config": format!(
                "[fluentbit]\nstate = \"{}\"\ncheckpoint_records = {records}\n",
                path.display()
            )
        })
        .to_string()
    }

    #[test]
    fn checkpoints_carry_the_windows_across_a_restart() {
        let dir = scratch("ckpt");
        let state = dir.join("state.bin");
        let control = checkpointing(&state, 4);
        let mut h = Host::new();
        assert_eq!(filter(&mut h, &control), "");
        for i in 0..12 {
            assert!(alert_ids(filter(&mut h, &failure(i, i as u32 * 10))).is_empty());
        }
        assert!(state.exists(), "written after 4, 8 and 12 records");
        assert!(!dir.join("state.bin.tmp").exists(), "renamed into place");
        // Fluent Bit restarts: a new instance, the same config. The 12 failures are back.
        let mut h = Host::new();
        filter(&mut h, &control);
        let mut fired = Vec::new();
        for i in 12..16 {
            fired.extend(alert_ids(filter(&mut h, &failure(i, i as u32 * 10))));
        }
        assert_eq!(fired, ["password_spray_from_ip"]);
        assert!(h.take_diagnostics().is_empty());
        // Without the checkpoint the same four would not fire.
        let mut fresh = Host::new();
        let fired: Vec<String> = (12..16)
            .flat_map(|i| alert_ids(filter(&mut fresh, &failure(i, i as u32 * 10))))
            .collect();
        assert!(fired.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn checkpoints_follow_event_time_too() {
        let dir = scratch("ckpt-time");
        let state = dir.join("state.bin");
        let control = serde_json::json!({
            "jcdetect_config": format!(
                "[fluentbit]\nstate = \"{}\"\ncheckpoint_secs = 30\n",
                state.display()
            )
        })
        .to_string();
        static WALL: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
        let mut h = Host::new();
        h.wall_clock = || WALL.load(std::sync::atomic::Ordering::Relaxed);
        let wall =
            |secs: i64| WALL.store(secs * 1_000_000_000, std::sync::atomic::Ordering::Relaxed);
        filter(&mut h, &control);
        // The watermark is set by the second event (10 s); checkpoints count from there.
        filter(&mut h, &failure(0, 0));
        filter(&mut h, &failure(1, 10));
        filter(&mut h, &failure(2, 39));
        assert!(!state.exists(), "29 s of event time: not yet");
        filter(&mut h, &failure(3, 40));
        assert!(
            !state.exists(),
            "30 s of event time but no wall time: a replay, not yet"
        );
        wall(29);
        filter(&mut h, &failure(4, 41));
        assert!(!state.exists(), "29 s of wall time: not yet");
        wall(30);
        filter(&mut h, &failure(5, 42));
        assert!(state.exists(), "30 s of event time and of wall time");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_checkpoint_is_moved_aside_and_reported() {
        let dir = scratch("ckpt-bad");
        let state = dir.join("state.bin");
        std::fs::write(&state, b"not a state file").unwrap();
        let mut h = Host::new();
        filter(&mut h, &checkpointing(&state, 1));
        let d = text(h.take_diagnostics()).to_string();
        assert!(
            d.contains("checkpoint_error") && d.contains("rejected"),
            "{d}"
        );
        assert_eq!(
            std::fs::read(dir.join("state.bin.rejected")).unwrap(),
            b"not a state file"
        );
        filter(&mut h, LOGIN);
        assert!(state.exists(), "the next checkpoint writes a good file");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_checkpoint_that_cannot_be_written_is_reported_once() {
        let mut h = Host::new();
        let missing = std::path::Path::new("/nonexistent-jcdetect-dir/state.bin");
        filter(&mut h, &checkpointing(missing, 1));
        for _ in 0..3 {
            filter(&mut h, LOGIN);
        }
        let d = text(h.take_diagnostics()).to_string();
        assert_eq!(d.matches("checkpoint_error").count(), 1, "{d}");
        assert!(d.contains("Accessible_Paths"), "{d}");
    }

    #[test]
    fn checkpoint_keys_are_checked() {
        for (cfg, want) in [
            ("[fluentbit]\nstate = \"rel/state.bin\"\n", "absolute path"),
            (
                "[fluentbit]\nstate = \"/s\"\ncheckpoint_secs = 0\n",
                "at least 1",
            ),
            (
                "[fluentbit]\ncheckpoint_records = 5\n",
                "need `fluentbit.state`",
            ),
            ("[fluentbit]\nuse_record_time = \"yes\"\n", "true or false"),
        ] {
            let e = parse_filter_config(cfg).unwrap_err().to_string();
            assert!(e.contains(want), "{cfg}: {e}");
        }
        let fc =
            parse_filter_config("[fluentbit]\nstate = \"/var/lib/jcdetect/fb.state\"\n").unwrap();
        assert_eq!(
            fc.checkpoint,
            Some(CheckpointConfig {
                path: "/var/lib/jcdetect/fb.state".into(),
                every_secs: DEFAULT_CHECKPOINT_SECS,
                every_records: DEFAULT_CHECKPOINT_RECORDS,
            })
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
