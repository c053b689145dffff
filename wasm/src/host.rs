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
    // The core settings as the CLI reads them, with line and column (it takes a `[fluentbit]`
    // table as is, and refuses a `fluentbit` key that is no table).
    let core = Config::from_toml_str(text);
    let Ok(mut table) = text.parse::<toml::Table>() else {
        return Err(core
            .err()
            .unwrap_or_else(|| ConfigError::new(["TOML syntax"])));
    };
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
        Some(_) => {} // reported by the core's parse
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
    let mut err = ConfigError::new(problems);
    match core {
        Ok(c) => fc.config = c,
        Err(e) => err.problems.extend(e.problems),
    }
    if err.problems.is_empty() {
        Ok(fc)
    } else {
        Err(err)
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
pub(crate) enum Source {
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
            Some(Ok((text, src))) => parse_filter_config(&text)
                .map_err(|e| match &src {
                    Source::Record => format!("`{CONFIG_FIELD}` of the first record: {e}"),
                    Source::File(p) => format!("{p}: {e}"),
                })
                .and_then(|fc| rules::load(fc, &src)),
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

// The Sigma rule files a filter config names.
mod rules;

#[cfg(test)]
mod tests;
