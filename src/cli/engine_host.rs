//! The engine behind the filter loop and `jcdetect bench`: the native [`Engine`], or (feature
//! `wasm-host`, `--wasm PATH`) the jcdetect WASM module run under wasmtime through its C ABI
//! (`wasm/ABI.md`). Both are driven the same way, so the loop, the diagnostics reporting, the
//! summary and `--stats-json` are the same code for both.
//!
//! Bounds on a module: its linear memory may not grow past `--wasm-memory-mb` (a
//! `Store::limiter` that turns a refused `memory.grow` into a trap, so the failure is reported
//! instead of surfacing as a null allocation inside the module), and every call into it has a
//! wall-clock budget, `--wasm-timeout-ms` (epoch interruption: a ticker thread advances the
//! engine's epoch, each call gets a deadline a fixed number of ticks ahead). A trap ends the
//! run with `jcdetect: wasm module trapped: ...` and exit status 1.

use jcdetect::{Config, Diagnostic, Engine, Options, Stats};
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `--wasm` (filter and bench).
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "wasm-host"), allow(dead_code))]
pub struct WasmArgs {
    pub path: PathBuf,
    pub memory_mb: u64,
    /// Wall-clock budget of one call into the module; 0 = unbounded.
    pub timeout_ms: u64,
}

pub const DEFAULT_MEMORY_MB: u64 = 256;
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// Why a run through a module stopped.
#[derive(Debug)]
#[cfg_attr(not(feature = "wasm-host"), allow(dead_code))]
pub enum Fault {
    /// `--wasm` in a build without the feature (exit 2).
    #[cfg_attr(feature = "wasm-host", allow(dead_code))]
    Usage(String),
    /// The module could not be loaded, or does not have the ABI (exit 2: a usage error).
    Load(String),
    /// The module trapped, ran out of its bounds, or broke the ABI during a call (exit 1).
    Trap(String),
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Usage(m) => write!(f, "{m}"),
            Fault::Load(m) => write!(f, "cannot load wasm module: {m}"),
            Fault::Trap(m) => write!(f, "wasm module trapped: {m}"),
        }
    }
}

impl Fault {
    /// Report the fault and give the exit status: 2 when the module cannot be loaded (a
    /// setup error, as a config error is), 1 when it trapped during the run.
    pub fn exit(self) -> ExitCode {
        tracing::error!("{self}");
        match self {
            Fault::Usage(_) | Fault::Load(_) => ExitCode::from(2),
            Fault::Trap(_) => ExitCode::from(1),
        }
    }
}

/// The run counters, typed: the library's [`Stats`] and the window tables' own counters,
/// with the `--stats-json` document they are read from.
pub struct Counters {
    pub stats: Stats,
    /// The rule id of each entry of `stats.alerts` (catalog order).
    pub rule_ids: Vec<String>,
    /// Alerts held back by suppression.
    pub suppressed: u64,
    /// Evictions by table, ordered by table name.
    pub evictions: Vec<(String, u64)>,
    /// Bytes preallocated for the window tables.
    pub state_bytes: u64,
    /// The `--stats-json` document.
    pub json: String,
}

impl Counters {
    fn native(e: &Engine) -> Counters {
        let w = e.window_stats();
        let mut evictions: Vec<(String, u64)> = w
            .evictions
            .iter()
            .map(|&(t, n)| (t.to_string(), n))
            .collect();
        evictions.sort();
        Counters {
            stats: e.stats().clone(),
            rule_ids: e.rule_ids().map(String::from).collect(),
            suppressed: w.suppressed,
            evictions,
            state_bytes: w.bytes as u64,
            json: e.stats_json(),
        }
    }
}

/// The config text for the module: the file's, with the Sigma rules the CLI read (from
/// `[rules] paths` and `--rules`) given inline as `[rules] sigma`, since the module reads no
/// files. Unchanged without Sigma rules.
#[cfg(feature = "wasm-host")]
fn module_config(cfg: &Config, cfg_text: &str) -> String {
    if cfg.sigma.is_empty() {
        return cfg_text.to_string();
    }
    // The text was validated already: it parses.
    let mut table: toml::Table = cfg_text.parse().unwrap_or_default();
    let rules = table
        .entry("rules")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(rules) = rules {
        rules.remove("paths");
        let texts = cfg
            .sigma
            .sources
            .iter()
            .map(|s| toml::Value::String(s.text.clone()));
        rules.insert("sigma".into(), toml::Value::Array(texts.collect()));
    }
    table.to_string()
}

#[cfg_attr(feature = "wasm-host", allow(dead_code))]
pub const NO_FEATURE: &str = "jcdetect was built without the `wasm-host` feature; rebuild with \
`cargo build --release --features wasm-host`";

/// The native engine or a module.
pub enum Backend {
    Native(Box<Engine>),
    #[cfg(feature = "wasm-host")]
    Wasm(Box<wasm::Module>),
}

impl Backend {
    /// A native engine, or the module at `wasm.path` initialized with `cfg_text` (already
    /// validated by the caller: config errors are reported the same way for both).
    pub fn open(
        cfg: &Config,
        cfg_text: &str,
        opts: Options,
        wasm: Option<&WasmArgs>,
    ) -> Result<Backend, Fault> {
        match wasm {
            None => Ok(Backend::Native(Box::new(Engine::new(cfg, opts)))),
            #[cfg(feature = "wasm-host")]
            Some(w) => {
                let rule_ids = Engine::new(cfg, opts)
                    .rule_ids()
                    .map(String::from)
                    .collect();
                let text = module_config(cfg, cfg_text);
                Ok(Backend::Wasm(Box::new(wasm::Module::load(
                    w, &text, opts, rule_ids,
                )?)))
            }
            #[cfg(not(feature = "wasm-host"))]
            Some(_) => {
                let _ = cfg_text;
                Err(Fault::Usage(NO_FEATURE.into()))
            }
        }
    }

    /// A fresh engine with the same config (window state and counters start empty).
    pub fn renew(&mut self, cfg: &Config) -> Result<(), Fault> {
        match self {
            Backend::Native(e) => {
                let opts = *e.options();
                **e = Engine::new(cfg, opts);
                Ok(())
            }
            #[cfg(feature = "wasm-host")]
            Backend::Wasm(m) => m.init(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Native(_) => "native",
            #[cfg(feature = "wasm-host")]
            Backend::Wasm(_) => "wasm",
        }
    }

    /// `Engine::start_input`: a new input begins (line numbers restart, state is kept).
    pub fn start_input(&mut self) -> Result<(), Fault> {
        match self {
            Backend::Native(e) => {
                e.start_input();
                Ok(())
            }
            #[cfg(feature = "wasm-host")]
            Backend::Wasm(m) => m.start_input(),
        }
    }

    pub fn set_fallback_time(&mut self, t: Option<i64>) -> Result<(), Fault> {
        match self {
            Backend::Native(e) => {
                e.set_fallback_time(t);
                Ok(())
            }
            #[cfg(feature = "wasm-host")]
            Backend::Wasm(m) => match t {
                Some(t) => m.set_time(t),
                None => Ok(()),
            },
        }
    }

    /// `Engine::feed`: output appended to `out`, diagnostics to `diags`.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        out: &mut Vec<u8>,
        diags: &mut Vec<Diagnostic>,
    ) -> Result<(), Fault> {
        match self {
            Backend::Native(e) => {
                e.feed(chunk, out, diags);
                Ok(())
            }
            #[cfg(feature = "wasm-host")]
            Backend::Wasm(m) => m.feed(chunk, out, diags),
        }
    }

    /// `Engine::finish`: end of the current input.
    pub fn finish(&mut self, out: &mut Vec<u8>, diags: &mut Vec<Diagnostic>) -> Result<(), Fault> {
        match self {
            Backend::Native(e) => {
                e.finish(out, diags);
                Ok(())
            }
            #[cfg(feature = "wasm-host")]
            Backend::Wasm(m) => m.finish(out, diags),
        }
    }

    /// The run counters (and the `--stats-json` document).
    pub fn stats(&mut self) -> Result<Counters, Fault> {
        match self {
            Backend::Native(e) => Ok(Counters::native(e)),
            #[cfg(feature = "wasm-host")]
            Backend::Wasm(m) => m.stats(),
        }
    }

    /// `Engine::snapshot_with`: the `--state` file's bytes, with the CLI's `host` bytes (the
    /// module keeps none: `--follow`, their only user, runs natively).
    pub fn snapshot(&mut self, host: &[u8]) -> Result<Vec<u8>, Fault> {
        match self {
            Backend::Native(e) => Ok(e.snapshot_with(host)),
            #[cfg(feature = "wasm-host")]
            Backend::Wasm(m) => m.snapshot(),
        }
    }

    /// `Engine::restore`, its outcome as the module's JSON status reports it.
    pub fn restore(&mut self, file: &[u8]) -> Result<StateLoad, Fault> {
        match self {
            Backend::Native(e) => Ok(match e.restore(file) {
                Ok(r) => StateLoad::Loaded {
                    keys: r.keys,
                    watermark: r.watermark,
                    host: r.host,
                },
                Err(jcdetect::state::StateError::NotAStateFile) => StateLoad::NotAStateFile,
                Err(err) => StateLoad::Refused(err.to_string()),
            }),
            #[cfg(feature = "wasm-host")]
            Backend::Wasm(m) => {
                let st = m.restore(file)?;
                Ok(if st.ok {
                    StateLoad::Loaded {
                        keys: st.keys,
                        watermark: st.watermark,
                        host: Vec::new(),
                    }
                } else if st.kind.as_deref() == Some("not_a_state_file") {
                    StateLoad::NotAStateFile
                } else {
                    StateLoad::Refused(st.error.unwrap_or_else(|| "refused".into()))
                })
            }
        }
    }
}

/// What loading a `--state` file gave.
pub enum StateLoad {
    Loaded {
        keys: u64,
        watermark: Option<i64>,
        /// The CLI's own bytes saved with the state (the `--follow` position).
        host: Vec<u8>,
    },
    NotAStateFile,
    /// Damaged, from another version, or sized by another configuration: why.
    Refused(String),
}

#[cfg(feature = "wasm-host")]
mod wasm;
