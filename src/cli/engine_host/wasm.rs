//! `--wasm PATH` (feature `wasm-host`): the jcdetect WASM module under wasmtime, driven
//! through its C ABI (`wasm/ABI.md`) with the same calls as the native engine: its memory
//! bounded by a `Store::limiter`, every call by an epoch deadline, its JSON answers (status,
//! diagnostics, counters) decoded into the CLI's types.

use super::{Counters, Fault, WasmArgs};
use jcdetect::{Code, Diagnostic, Emit, Format, Options, Stats};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{Config, Engine, Instance, Linker, Memory, ResourceLimiter, Store, Trap, TypedFunc};
use wasmtime_wasi::preview1::{self, WasiP1Ctx};

/// What the store holds: the memory bound and (for wasip1 modules) a WASI context with no
/// files, no environment, no arguments, stdout discarded and stderr inherited.
struct State {
    limits: MemoryLimit,
    wasi: WasiP1Ctx,
}

struct MemoryLimit {
    bytes: usize,
    mb: u64,
}

impl ResourceLimiter for MemoryLimit {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.bytes {
            // Trap rather than return -1 from `memory.grow`: the module would only abort
            // on the failed allocation, with a less useful message.
            return Err(wasmtime::Error::msg(format!(
                "out of memory: the module tried to grow its memory from {} to {} MiB, over \
                 the --wasm-memory-mb limit of {} MiB",
                current >> 20,
                desired.div_ceil(1 << 20),
                self.mb
            )));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

/// Advances the engine's epoch every `tick` until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine, tick: Duration) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .ok();
        Ticker { stop, thread }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub struct Module {
    store: Store<State>,
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    dealloc: TypedFunc<(i32, i32), ()>,
    init: TypedFunc<(i32, i32, i32), i64>,
    set_time: TypedFunc<i64, ()>,
    process: TypedFunc<(i32, i32), i64>,
    flush: TypedFunc<(), i64>,
    diagnostics: TypedFunc<(), i64>,
    stats: TypedFunc<(), i64>,
    set_max_line_bytes: Option<TypedFunc<i64, ()>>,
    snapshot: Option<TypedFunc<(), i64>>,
    restore: Option<TypedFunc<(i32, i32), i64>>,
    /// The host's input buffer in module memory (ptr, capacity), reused across calls.
    input: Option<(i32, i32)>,
    /// Epoch ticks a call may run; `None` = unbounded.
    deadline_ticks: Option<u64>,
    timeout_ms: u64,
    cfg_text: String,
    opts: Options,
    /// The rule ids in catalog order: the module's counters name rules by id.
    rule_ids: Vec<String>,
    /// Inputs started so far.
    inputs: u64,
    /// The module's line counter when the current input began: its diagnostics count
    /// lines over all inputs, the CLI's per input.
    line_base: u64,
    _ticker: Option<Ticker>,
}

fn load_err(e: impl std::fmt::Display) -> Fault {
    Fault::Load(e.to_string())
}

impl Module {
    pub fn load(
        w: &WasmArgs,
        cfg_text: &str,
        opts: Options,
        rule_ids: Vec<String>,
    ) -> Result<Module, Fault> {
        let shown = w.path.display();
        let bytes = std::fs::read(&w.path).map_err(|e| load_err(format!("{shown}: {e}")))?;
        let mut config = Config::new();
        config.epoch_interruption(w.timeout_ms > 0);
        let engine = Engine::new(&config).map_err(load_err)?;
        let module = wasmtime::Module::new(&engine, &bytes)
            .map_err(|e| load_err(format!("{shown}: {e:#}")))?;
        let mut linker: Linker<State> = Linker::new(&engine);
        preview1::add_to_linker_sync(&mut linker, |s: &mut State| &mut s.wasi).map_err(load_err)?;
        let wasi = wasmtime_wasi::p2::WasiCtxBuilder::new()
            .inherit_stderr()
            .build_p1();
        let bytes_limit =
            usize::try_from(w.memory_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        let mut store = Store::new(
            &engine,
            State {
                limits: MemoryLimit {
                    bytes: bytes_limit,
                    mb: w.memory_mb,
                },
                wasi,
            },
        );
        store.limiter(|s| &mut s.limits);
        let (deadline_ticks, ticker) = if w.timeout_ms > 0 {
            // Ticks of at most 10 ms. A call starts anywhere between two ticks, so one
            // tick more than the budget: a call traps after between the budget and the
            // budget plus one tick.
            let tick_ms = (w.timeout_ms / 4).clamp(1, 10);
            let ticks = w.timeout_ms.div_ceil(tick_ms) + 1;
            store.epoch_deadline_trap();
            store.set_epoch_deadline(ticks);
            (
                Some(ticks),
                Some(Ticker::start(
                    engine.clone(),
                    Duration::from_millis(tick_ms),
                )),
            )
        } else {
            (None, None)
        };
        let what = |name: &str, m: &str| format!("{shown}: {name}: {m}");
        let instance: Instance = linker.instantiate(&mut store, &module).map_err(|e| {
            trap_message(&e, "instantiation", w.timeout_ms)
                .map(Fault::Trap)
                .unwrap_or_else(|| load_err(what("instantiate", &format!("{e:#}"))))
        })?;
        macro_rules! func {
            ($name:literal) => {
                instance
                    .get_typed_func(&mut store, $name)
                    .map_err(|e| load_err(what($name, &format!("{e:#} (see wasm/ABI.md)"))))?
            };
        }
        macro_rules! opt_func {
            ($name:literal) => {
                match instance.get_func(&mut store, $name) {
                    Some(f) => Some(
                        f.typed(&store)
                            .map_err(|e| load_err(what($name, &format!("{e:#}"))))?,
                    ),
                    None => None,
                }
            };
        }
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| load_err(what("memory", "no exported memory")))?;
        let initialize: Option<TypedFunc<(), ()>> = opt_func!("_initialize");
        let mut m = Module {
            memory,
            alloc: func!("alloc"),
            dealloc: func!("dealloc"),
            init: func!("jcdetect_init"),
            set_time: func!("jcdetect_set_time"),
            process: func!("jcdetect_process"),
            flush: func!("jcdetect_flush"),
            diagnostics: func!("jcdetect_diagnostics"),
            stats: func!("jcdetect_stats"),
            set_max_line_bytes: opt_func!("jcdetect_set_max_line_bytes"),
            snapshot: opt_func!("jcdetect_snapshot"),
            restore: opt_func!("jcdetect_restore"),
            store,
            input: None,
            deadline_ticks,
            timeout_ms: w.timeout_ms,
            cfg_text: cfg_text.to_string(),
            opts,
            rule_ids,
            inputs: 0,
            line_base: 0,
            _ticker: ticker,
        };
        if let Some(f) = initialize {
            m.arm();
            f.call(&mut m.store, ())
                .map_err(|e| m.trap(e, "_initialize"))?;
        }
        if opts.max_line_bytes != jcdetect::engine::DEFAULT_MAX_LINE_BYTES {
            let Some(f) = m.set_max_line_bytes.clone() else {
                return Err(load_err(format!(
                    "{}: --max-line-bytes needs the export `jcdetect_set_max_line_bytes` \
                     (see wasm/ABI.md)",
                    shown
                )));
            };
            m.arm();
            let n = i64::try_from(opts.max_line_bytes).unwrap_or(i64::MAX);
            f.call(&mut m.store, n)
                .map_err(|e| m.trap(e, "jcdetect_set_max_line_bytes"))?;
        }
        m.init()?;
        Ok(m)
    }

    /// Start the time budget of the next call.
    fn arm(&mut self) {
        if let Some(t) = self.deadline_ticks {
            self.store.set_epoch_deadline(t);
        }
    }

    fn trap(&self, e: wasmtime::Error, call: &str) -> Fault {
        Fault::Trap(
            trap_message(&e, call, self.timeout_ms).unwrap_or_else(|| format!("{call}: {e:#}")),
        )
    }

    /// Copy a packed `(len << 32) | ptr` buffer out of module memory.
    /// Call an export that takes nothing and returns a packed buffer; append the buffer.
    fn call_packed(
        &mut self,
        f: TypedFunc<(), i64>,
        call: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), Fault> {
        self.arm();
        let packed = f
            .call(&mut self.store, ())
            .map_err(|e| self.trap(e, call))?;
        self.read_packed(packed, call, out)
    }

    fn read_packed(&self, packed: i64, call: &str, out: &mut Vec<u8>) -> Result<(), Fault> {
        let ptr = (packed as u64 & 0xffff_ffff) as usize;
        let len = (packed as u64 >> 32) as usize;
        if len == 0 {
            return Ok(());
        }
        let data = self.memory.data(&self.store);
        match data.get(ptr..ptr.saturating_add(len)) {
            Some(b) => {
                out.extend_from_slice(b);
                Ok(())
            }
            None => Err(Fault::Trap(format!(
                "{call} returned a buffer outside the module's memory ({len} bytes at {ptr})"
            ))),
        }
    }

    /// (Re)create the module's engine: `jcdetect_init(config, flags)`.
    pub fn init(&mut self) -> Result<(), Fault> {
        self.inputs = 0;
        self.line_base = 0;
        let cfg = self.cfg_text.clone();
        let (ptr, _) = self.input_buffer(cfg.len())?;
        if !cfg.is_empty() {
            self.memory
                .write(&mut self.store, ptr as usize, cfg.as_bytes())
                .map_err(|e| Fault::Trap(format!("writing the config: {e}")))?;
        }
        let mut flags = 0;
        if self.opts.format == Format::Ocsf {
            flags |= 1;
        }
        if self.opts.emit == Emit::All {
            flags |= 2;
        }
        self.arm();
        let packed = self
            .init
            .call(&mut self.store, (ptr, cfg.len() as i32, flags))
            .map_err(|e| self.trap(e, "jcdetect_init"))?;
        let mut text = Vec::new();
        self.read_packed(packed, "jcdetect_init", &mut text)?;
        let st: Status = serde_json::from_slice(&text)
            .map_err(|e| Fault::Trap(format!("jcdetect_init returned no JSON object ({e})")))?;
        if st.ok {
            Ok(())
        } else {
            Err(Fault::Trap(format!(
                "jcdetect_init failed: {}",
                st.error.as_deref().unwrap_or("no error message")
            )))
        }
    }

    /// The host's input buffer, at least `len` bytes (grown by `alloc`, never shrunk).
    fn input_buffer(&mut self, len: usize) -> Result<(i32, i32), Fault> {
        let len = i32::try_from(len.max(1))
            .map_err(|_| Fault::Trap(format!("input of {len} bytes is over 2 GiB")))?;
        if let Some((ptr, cap)) = self.input {
            if cap >= len {
                return Ok((ptr, cap));
            }
            self.input = None;
            self.arm();
            self.dealloc
                .call(&mut self.store, (ptr, cap))
                .map_err(|e| self.trap(e, "dealloc"))?;
        }
        // Room for the 1 MiB chunks of the filter loop at once.
        let cap = len.max(1 << 20);
        self.arm();
        let ptr = self
            .alloc
            .call(&mut self.store, cap)
            .map_err(|e| self.trap(e, "alloc"))?;
        if ptr == 0 {
            return Err(Fault::Trap(format!(
                "alloc({cap}) failed (returned 0): the module is out of memory"
            )));
        }
        self.input = Some((ptr, cap));
        Ok((ptr, cap))
    }

    /// A new input: line numbers restart (the module's counter is offset here).
    pub fn start_input(&mut self) -> Result<(), Fault> {
        self.inputs += 1;
        self.line_base = if self.inputs == 1 {
            0
        } else {
            self.stats()?.stats.lines
        };
        Ok(())
    }

    pub fn set_time(&mut self, ns: i64) -> Result<(), Fault> {
        self.arm();
        self.set_time
            .call(&mut self.store, ns)
            .map_err(|e| self.trap(e, "jcdetect_set_time"))
    }

    pub fn feed(
        &mut self,
        chunk: &[u8],
        out: &mut Vec<u8>,
        diags: &mut Vec<Diagnostic>,
    ) -> Result<(), Fault> {
        let (ptr, _) = self.input_buffer(chunk.len())?;
        self.memory
            .write(&mut self.store, ptr as usize, chunk)
            .map_err(|e| Fault::Trap(format!("writing the input: {e}")))?;
        self.arm();
        let packed = self
            .process
            .call(&mut self.store, (ptr, chunk.len() as i32))
            .map_err(|e| self.trap(e, "jcdetect_process"))?;
        self.read_packed(packed, "jcdetect_process", out)?;
        self.drain_diagnostics(diags)
    }

    pub fn finish(&mut self, out: &mut Vec<u8>, diags: &mut Vec<Diagnostic>) -> Result<(), Fault> {
        self.call_packed(self.flush.clone(), "jcdetect_flush", out)?;
        self.drain_diagnostics(diags)
    }

    fn drain_diagnostics(&mut self, diags: &mut Vec<Diagnostic>) -> Result<(), Fault> {
        let mut text = Vec::new();
        self.call_packed(self.diagnostics.clone(), "jcdetect_diagnostics", &mut text)?;
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            #[derive(serde::Deserialize)]
            struct D {
                line: u64,
                code: String,
                detail: String,
            }
            let d: D = serde_json::from_slice(line).map_err(|e| {
                Fault::Trap(format!(
                    "jcdetect_diagnostics returned a bad line ({e}): {}",
                    String::from_utf8_lossy(line)
                ))
            })?;
            let line = d.line.saturating_sub(self.line_base);
            match Code::ALL.into_iter().find(|c| c.as_str() == d.code) {
                Some(code) => diags.push(Diagnostic {
                    line,
                    code,
                    detail: d.detail,
                    raw: None,
                }),
                // The module's own codes (`null_input`, `bad_pointer`,
                // `diagnostics_dropped`...): not line problems the CLI reports per code.
                None => tracing::warn!("wasm module: line {line}: {}: {}", d.code, d.detail),
            }
        }
        Ok(())
    }

    /// `jcdetect_stats`: the module's `--stats-json` document, read into [`Counters`].
    pub fn stats(&mut self) -> Result<Counters, Fault> {
        let mut text = Vec::new();
        self.call_packed(self.stats.clone(), "jcdetect_stats", &mut text)?;
        let json = String::from_utf8(text)
            .map_err(|_| Fault::Trap("jcdetect_stats returned no UTF-8 text".into()))?;
        let doc: StatsDoc = serde_json::from_str(&json)
            .map_err(|e| Fault::Trap(format!("jcdetect_stats returned no JSON ({e})")))?;
        let mut by_code = [0; Code::ALL.len()];
        for (n, code) in by_code.iter_mut().zip(Code::ALL) {
            *n = doc.diagnostics.get(code.as_str()).copied().unwrap_or(0);
        }
        let alerts = self
            .rule_ids
            .iter()
            .map(|id| doc.alerts.get(id.as_str()).copied().unwrap_or(0))
            .collect();
        Ok(Counters {
            stats: Stats {
                lines: doc.lines,
                events: doc.events,
                rejected: doc.bad_lines,
                by_code,
                alerts,
                allowlisted: doc.allowlisted,
                late: doc.late_events,
                ahead: doc.future_events,
                unwrapped: doc.unwrapped,
            },
            rule_ids: self.rule_ids.clone(),
            suppressed: doc.suppressed,
            evictions: doc.state.evictions.into_iter().collect(),
            state_bytes: doc.state.bytes,
            json,
        })
    }

    fn no_state(&self) -> Fault {
        Fault::Usage(
            "--state: this module has no jcdetect_snapshot/jcdetect_restore exports \
             (see wasm/ABI.md)"
                .into(),
        )
    }

    /// `jcdetect_snapshot`: the state file's bytes.
    pub fn snapshot(&mut self) -> Result<Vec<u8>, Fault> {
        let f = self.snapshot.clone().ok_or_else(|| self.no_state())?;
        let mut out = Vec::new();
        self.call_packed(f, "jcdetect_snapshot", &mut out)?;
        Ok(out)
    }

    /// `jcdetect_restore`: its JSON status.
    pub fn restore(&mut self, file: &[u8]) -> Result<Status, Fault> {
        let f = self.restore.clone().ok_or_else(|| self.no_state())?;
        let (ptr, _) = self.input_buffer(file.len())?;
        self.memory
            .write(&mut self.store, ptr as usize, file)
            .map_err(|e| Fault::Trap(format!("writing the state: {e}")))?;
        self.arm();
        let packed = f
            .call(&mut self.store, (ptr, file.len() as i32))
            .map_err(|e| self.trap(e, "jcdetect_restore"))?;
        let mut text = Vec::new();
        self.read_packed(packed, "jcdetect_restore", &mut text)?;
        serde_json::from_slice(&text)
            .map_err(|e| Fault::Trap(format!("jcdetect_restore returned no JSON ({e})")))
    }
}

/// What `jcdetect_init` and `jcdetect_restore` return (wasm/ABI.md); a field the
/// answer lacks is its default.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct Status {
    pub ok: bool,
    pub error: Option<String>,
    /// Why a state was refused (`not_a_state_file`, ...).
    pub kind: Option<String>,
    pub keys: u64,
    pub watermark: Option<i64>,
}

/// The `--stats-json` document as the module writes it (`Engine::stats_value`); a
/// counter it lacks is 0.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct StatsDoc {
    lines: u64,
    events: u64,
    bad_lines: u64,
    diagnostics: BTreeMap<String, u64>,
    alerts: BTreeMap<String, u64>,
    allowlisted: u64,
    late_events: u64,
    future_events: u64,
    unwrapped: u64,
    suppressed: u64,
    state: StateDoc,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct StateDoc {
    bytes: u64,
    evictions: BTreeMap<String, u64>,
}

/// A one-line reason for a failed call, when it is a trap or a bound.
fn trap_message(e: &wasmtime::Error, call: &str, timeout_ms: u64) -> Option<String> {
    if let Some(t) = e.downcast_ref::<Trap>() {
        return Some(match t {
            Trap::Interrupt => format!(
                "{call}: the call ran longer than the time bound of {timeout_ms} ms \
                 (--wasm-timeout-ms)"
            ),
            other => format!("{call}: {other}"),
        });
    }
    // A refused `memory.grow` (see `MemoryLimit`): the root cause is our message.
    let root = e.root_cause().to_string();
    root.starts_with("out of memory")
        .then(|| format!("{call}: {root}"))
}
