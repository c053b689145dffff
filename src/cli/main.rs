//! `jcdetect`: the stdin/stdout filter around the engine. I/O, arguments, logging and exit
//! codes live here; detection lives in the library.
// No `unsafe` here either: signals go through signal-hook's safe API; the only `unsafe` in
// the project is the WASM ABI shims (wasm/src/ffi.rs).
#![forbid(unsafe_code)]

use jcdetect::rules::catalog::ParamDefault;
use jcdetect::{Code, Config, Diagnostic, Emit, Engine, Format, Options};
use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

mod commands;
mod dead_letter;
mod input;
use input::{files, follow, listen};
mod engine_host;
mod shutdown;
mod state_file;

const HELP: &str = "\
jcdetect - detections for JumpCloud Directory Insights events

USAGE:
    jcdetect [OPTIONS] [FILE]...      filter NDJSON events into alerts
    jcdetect [OPTIONS] --follow FILE  follow FILE as it grows and rotates (like `tail -F`)
    jcdetect [OPTIONS] --listen ADDR  read NDJSON from TCP connections on ADDR
    jcdetect rules [--json] [--config FILE]
                                      list the rule catalog (with config applied)
    jcdetect generate --events N [--seed S] [--attack-mix SPEC] [--truth FILE]
                                      write a synthetic replay with its ground truth
                                      (`jcdetect generate --help`)
    jcdetect bench [--config FILE] [--format ecs|ocsf] [--repeat N] [--json] FILE...
                                      replay files through the engine, report throughput
                                      (`jcdetect bench --help`)

Reads DI events, one JSON object per line (a line holding a JSON array of events is also
accepted), from each FILE in turn or from standard input when no FILE (or `-`) is given, and
writes one alert per line to standard output. Diagnostics and the end-of-run summary go to
standard error.

OPTIONS:
    -c, --config FILE        TOML config: [rules.<id>] enabled / severity / parameters,
                             [allowlist] ips / users / countries. See README.
    -f, --format FORMAT      alert format: `ecs` (default) or `ocsf` (Detection Finding 2004)
    -e, --emit WHAT          `alerts` (default): only alerts; `all`: every input line too, in
                             order, with an added `jcdetect` object, each followed by its alerts
        --max-line-bytes N   reject lines longer than N bytes (default 16777216)
        --stats-json FILE    write the run's counters as JSON to FILE at the end
        --state FILE         load the window state from FILE at start (if it exists) and save
                             it there at a clean end (end of input, SIGTERM, SIGINT), so attacks
                             that span a restart are still detected; a damaged or incompatible
                             FILE is reported, moved to FILE.rejected, and the run starts with
                             empty state; a FILE that is not a state file is refused (exit 2)
        --errors FILE        append every rejected line to FILE, one record a line:
                             SOURCE<TAB>LINE<TAB>CODE<TAB>REASON<TAB>the line byte for byte
                             (`cut -f5-` gives the lines back; a line over --max-line-bytes
                             is cut to its first 64 KiB, said in REASON); not with --wasm
        --follow FILE        read FILE from the start, then keep reading as it grows; survives
                             rotation (rename + new file) and truncation; runs until stopped
        --follow-from-end    with --follow: skip what FILE holds at start-up
        --listen ADDR        accept TCP connections on ADDR (e.g. 127.0.0.1:9000; port 0 picks
                             one, printed on stderr), one NDJSON stream per connection, all
                             into one engine; runs until stopped
    -q, --quiet              no per-line diagnostics and no summary (errors only)
        --wasm PATH          run the engine as the jcdetect WASM module at PATH (wasmtime;
                             needs the `wasm-host` build feature)
        --wasm-memory-mb N   the module's memory limit (default 256)
        --wasm-timeout-ms N  time limit of one call into the module (default 10000; 0 = none)
    -h, --help               this help
    -V, --version            version

EXAMPLES:
    jcdetect tests/data/example.ndjson
    curl ... | jq -c '.[]' | jcdetect --format ocsf > alerts.ndjson
    jcdetect --emit all --config jcdetect.toml - < events.ndjson | vector -c ship.yaml
    jcdetect rules --json

SIGNALS:
    SIGTERM or SIGINT: stop reading, process what was read, flush alerts, save --state, exit
    0. A second one while stopping exits at once with status 130.

EXIT STATUS:
    0 end of input reached (bad lines are reported and counted, not fatal), stopped by
      SIGTERM/SIGINT, or the output pipe was closed; 1 an input could not be read, the WASM
      module trapped, or --state / --errors / --stats-json could not be written; 2 usage or
      config error.
";

/// At most this many diagnostics per code are logged one by one; the rest are counted.
const REPORT_LIMIT: u64 = 100;

struct Args {
    config: Option<PathBuf>,
    format: Format,
    emit: Emit,
    max_line_bytes: usize,
    stats_json: Option<PathBuf>,
    state: Option<PathBuf>,
    /// `--errors FILE`: the dead-letter queue (src/cli/dead_letter.rs).
    errors: Option<String>,
    quiet: bool,
    wasm: Option<engine_host::WasmArgs>,
    files: Vec<String>,
    /// `--follow FILE` (src/cli/input/follow.rs) and `--listen ADDR` (src/cli/input/listen.rs) replace FILEs.
    follow: Option<String>,
    follow_from_end: bool,
    listen: Option<String>,
}

enum Command {
    Filter(Args),
    Rules { json: bool, config: Option<PathBuf> },
    Help,
    Version,
}

fn usage_error(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("jcdetect: {msg}\nTry `jcdetect --help`.");
    ExitCode::from(2)
}

fn parse_args(raw: Vec<String>) -> Result<Command, String> {
    let mut it = raw.into_iter().peekable();
    if it.peek().map(String::as_str) == Some("rules") {
        it.next();
        let (mut json, mut config) = (false, None);
        while let Some(a) = it.next() {
            match a.as_str() {
                "--json" => json = true,
                "-c" | "--config" => {
                    config = Some(PathBuf::from(it.next().ok_or("--config needs a FILE")?))
                }
                "-h" | "--help" => return Ok(Command::Help),
                other => match other.strip_prefix("--config=") {
                    Some(f) => config = Some(PathBuf::from(f)),
                    None => return Err(format!("unexpected argument `{other}` for `rules`")),
                },
            }
        }
        return Ok(Command::Rules { json, config });
    }
    let mut args = Args {
        config: None,
        format: Format::Ecs,
        emit: Emit::Alerts,
        max_line_bytes: jcdetect::engine::DEFAULT_MAX_LINE_BYTES,
        stats_json: None,
        state: None,
        errors: None,
        quiet: false,
        wasm: None,
        files: Vec::new(),
        follow: None,
        follow_from_end: false,
        listen: None,
    };
    let (mut wasm_memory_mb, mut wasm_timeout_ms) = (None, None);
    let mut only_files = false;
    while let Some(a) = it.next() {
        if only_files || a == "-" || !a.starts_with('-') {
            args.files.push(a);
            continue;
        }
        // Accept both `--opt value` and `--opt=value`.
        let (name, inline) = split_option(&a);
        let mut value = |what: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or(format!("{name} needs {what}"))
        };
        match name.as_str() {
            "--" => only_files = true,
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "-q" | "--quiet" => args.quiet = true,
            "-c" | "--config" => args.config = Some(value("a FILE")?.into()),
            "--stats-json" => args.stats_json = Some(value("a FILE")?.into()),
            "--state" => args.state = Some(value("a FILE")?.into()),
            "--errors" => args.errors = Some(value("a FILE")?),
            "--follow" => args.follow = Some(value("a FILE")?),
            "--follow-from-end" => args.follow_from_end = true,
            "--listen" => args.listen = Some(value("an ADDRESS (e.g. 127.0.0.1:9000)")?),
            "-f" | "--format" => {
                args.format = match value("ecs or ocsf")?.as_str() {
                    "ecs" => Format::Ecs,
                    "ocsf" => Format::Ocsf,
                    other => return Err(format!("unknown format `{other}` (ecs or ocsf)")),
                }
            }
            "-e" | "--emit" => {
                args.emit = match value("alerts or all")?.as_str() {
                    "alerts" => Emit::Alerts,
                    "all" => Emit::All,
                    other => return Err(format!("unknown --emit `{other}` (alerts or all)")),
                }
            }
            "--max-line-bytes" => {
                let v = value("a number of bytes")?;
                args.max_line_bytes = v
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or(format!("--max-line-bytes: `{v}` is not a positive integer"))?;
            }
            "--wasm" => {
                args.wasm = Some(engine_host::WasmArgs {
                    path: value("a PATH")?,
                    memory_mb: engine_host::DEFAULT_MEMORY_MB,
                    timeout_ms: engine_host::DEFAULT_TIMEOUT_MS,
                })
            }
            "--wasm-memory-mb" => wasm_memory_mb = Some(positive(&name, &value("a number")?)?),
            "--wasm-timeout-ms" => wasm_timeout_ms = Some(number(&name, &value("a number")?)?),
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    match (&args.follow, &args.listen) {
        (Some(_), Some(_)) => return Err("--follow and --listen exclude each other".into()),
        (Some(_), None) | (None, Some(_)) if !args.files.is_empty() => {
            return Err("--follow FILE and --listen ADDR take no other FILE".into())
        }
        (Some(_), _) | (_, Some(_)) if args.wasm.is_some() => {
            return Err(
                "--wasm runs on FILEs and stdin; it does not combine with --follow or --listen"
                    .into(),
            )
        }
        (None, _) if args.follow_from_end => return Err("--follow-from-end needs --follow".into()),
        _ => {}
    }
    if args.errors.is_some() && args.wasm.is_some() {
        return Err(
            "--errors needs the native engine: the WASM module's diagnostics do not \
                    carry the rejected lines (drop --wasm or --errors)"
                .into(),
        );
    }
    match args.wasm.as_mut() {
        Some(w) => {
            w.memory_mb = wasm_memory_mb.unwrap_or(w.memory_mb);
            w.timeout_ms = wasm_timeout_ms.unwrap_or(w.timeout_ms);
        }
        None if wasm_memory_mb.is_some() || wasm_timeout_ms.is_some() => {
            return Err("--wasm-memory-mb and --wasm-timeout-ms need --wasm PATH".into())
        }
        None => {}
    }
    Ok(Command::Filter(args))
}

/// `--opt=value` as (`--opt`, `Some(value)`); anything else as itself, with no inline value.
/// Shared by the filter's and the subcommands' argument parsers.
pub(crate) fn split_option(arg: &str) -> (String, Option<String>) {
    match arg.split_once('=') {
        Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
        _ => (arg.to_string(), None),
    }
}

fn number(name: &str, v: &str) -> Result<u64, String> {
    v.parse::<u64>()
        .map_err(|_| format!("{name}: `{v}` is not a non-negative integer"))
}

fn positive(name: &str, v: &str) -> Result<u64, String> {
    number(name, v)
        .ok()
        .filter(|&n| n > 0)
        .ok_or(format!("{name}: `{v}` is not a positive integer"))
}

fn load_config(path: &Option<PathBuf>) -> Result<Config, String> {
    load_config_text(path).map(|(c, _)| c)
}

/// The config and its TOML text (the WASM module parses the text itself).
fn load_config_text(path: &Option<PathBuf>) -> Result<(Config, String), String> {
    let Some(path) = path else {
        return Ok((Config::default(), String::new()));
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
    let cfg = Config::from_toml_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((cfg, text))
}

fn main() -> ExitCode {
    // First thing: `jcdetect bench` reports the time from here to the first event processed.
    let started = std::time::Instant::now();
    // `std::env::args` panics on an argument that is not UTF-8; report it instead.
    let mut raw = Vec::new();
    for a in std::env::args_os().skip(1) {
        match a.into_string() {
            Ok(a) => raw.push(a),
            Err(a) => {
                return usage_error(format!(
                    "argument `{}` is not valid UTF-8",
                    a.to_string_lossy()
                ))
            }
        }
    }
    if raw.first().map(String::as_str) == Some("generate") {
        return match commands::generate::parse(raw.into_iter().skip(1)) {
            Ok(Some(args)) => commands::generate::run(args),
            Ok(None) => write_stdout(commands::generate::HELP.as_bytes()),
            Err(e) => usage_error(e),
        };
    }
    if raw.first().map(String::as_str) == Some("bench") {
        return commands::bench::run(raw.split_off(1), started);
    }
    let cmd = match parse_args(raw) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    match cmd {
        Command::Help => write_stdout(HELP.as_bytes()),
        Command::Version => {
            write_stdout(format!("jcdetect {}\n", jcdetect::alert::VERSION).as_bytes())
        }
        Command::Rules { json, config } => match load_config(&config) {
            Ok(cfg) => print_rules(&cfg, json),
            Err(e) => usage_error(e),
        },
        Command::Filter(args) => run_filter(args),
    }
}

fn print_rules(cfg: &Config, json: bool) -> ExitCode {
    let engine = Engine::new(cfg, Options::default());
    let rules = &engine.rules().rules;
    let mut out = String::new();
    if json {
        let list: Vec<serde_json::Value> = rules
            .iter()
            .map(|r| {
                let mut params = serde_json::Map::new();
                for p in r.def.params {
                    let v = match p.default {
                        ParamDefault::StrList(_) => serde_json::json!(r.list(p.name)),
                        ParamDefault::Int(_) => serde_json::json!(r.int(p.name)),
                        ParamDefault::Float(_) => serde_json::json!(r.float(p.name)),
                    };
                    params.insert(p.name.to_string(), v);
                }
                let a = r.def.attack;
                serde_json::json!({
                    "id": r.def.id,
                    "name": r.def.name,
                    "description": r.def.description,
                    "kind": r.def.kind.as_str(),
                    "severity": r.severity.as_str(),
                    "tactics": a.iter().map(|a| a.tactic.id).collect::<Vec<_>>(),
                    "techniques": a.iter().map(|a| a.subtechnique.unwrap_or(a.technique).id).collect::<Vec<_>>(),
                    "enabled": r.enabled,
                    "parameters": params,
                })
            })
            .collect();
        out = serde_json::to_string_pretty(&list).unwrap_or_default();
        out.push('\n');
    } else {
        out.push_str(&format!(
            "{:<30} {:<8} {:<13} {:<7} {:<18} {}\n",
            "ID", "KIND", "SEVERITY", "ENABLED", "ATT&CK", "NAME"
        ));
        for r in rules {
            let attack = r
                .def
                .attack
                .map(|a| {
                    format!(
                        "{}/{}",
                        a.tactic.id,
                        a.subtechnique.unwrap_or(a.technique).id
                    )
                })
                .unwrap_or_else(|| "-".into());
            out.push_str(&format!(
                "{:<30} {:<8} {:<13} {:<7} {:<18} {}\n",
                r.def.id,
                r.def.kind.as_str(),
                r.severity.as_str(),
                if r.enabled { "yes" } else { "no" },
                attack,
                r.def.name
            ));
        }
    }
    write_stdout(out.as_bytes())
}

/// Write `text` to stdout; a closed pipe is a normal end (`print!` would panic on it).
fn write_stdout(text: &[u8]) -> ExitCode {
    let mut out = io::stdout().lock();
    match out.write_all(text).and_then(|_| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jcdetect: writing output: {e}");
            ExitCode::from(1)
        }
    }
}

/// Output side: block-buffered, flushed when large or when the input runs dry.
struct Sink {
    out: io::StdoutLock<'static>,
    buf: Vec<u8>,
    /// A write failed (the pipe closed, a full disk): what was left undelivered is lost.
    broken: bool,
    /// `--errors FILE`, written whenever the output is.
    errors: Option<dead_letter::DeadLetter>,
}

const FLUSH_AT: usize = 256 << 10;

enum Stop {
    /// Downstream closed the pipe: stop quietly.
    BrokenPipe,
    Io(io::Error),
}

impl Sink {
    fn flush(&mut self) -> Result<(), Stop> {
        if let Some(e) = &self.errors {
            e.flush();
        }
        if !self.buf.is_empty() {
            let r = self.out.write_all(&self.buf).and_then(|_| self.out.flush());
            self.buf.clear();
            r.map_err(|e| {
                // Whatever the error, alerts were lost: the state must not remember them.
                self.broken = true;
                if e.kind() == ErrorKind::BrokenPipe {
                    Stop::BrokenPipe
                } else {
                    Stop::Io(e)
                }
            })?;
        }
        Ok(())
    }
}

/// An input that never ends by itself (it runs until a stop signal or until stdout closes).
enum Live {
    Follow(follow::Follower),
    Listen(listen::Listener),
}

struct Reporter {
    quiet: bool,
    reported: [u64; Code::ALL.len()],
    /// `--errors FILE`: every rejected line, not only the first reports.
    errors: Option<dead_letter::DeadLetter>,
}

impl Reporter {
    fn report(&mut self, source: &str, diags: &mut Vec<Diagnostic>) {
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

fn run_filter(args: Args) -> ExitCode {
    let level = if args.quiet {
        tracing::Level::ERROR
    } else {
        tracing::Level::INFO
    };
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_max_level(level)
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .init();
    let (cfg, cfg_text) = match load_config_text(&args.config) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    // A live input (--follow, --listen) is opened first too: a bad path or a busy port is a
    // usage error before any state is allocated.
    let mut live = None;
    if let Some(path) = &args.follow {
        match follow::Follower::open(path, args.follow_from_end) {
            Ok(f) => live = Some(Live::Follow(f)),
            Err(e) => return usage_error(e),
        }
    }
    if let Some(addr) = &args.listen {
        match listen::Listener::bind(addr) {
            Ok(l) => live = Some(Live::Listen(l)),
            Err(e) => return usage_error(e),
        }
    }
    let files = if live.is_some() {
        Vec::new()
    } else if args.files.is_empty() {
        vec!["-".to_string()]
    } else {
        args.files.clone()
    };
    // Open everything first: a typo in a file name is a usage error, not a half-done run.
    let mut inputs: Vec<(String, Box<dyn Read + Send>)> = Vec::new();
    for f in &files {
        if f == "-" {
            files::grow_stdin_pipe();
            inputs.push(("<stdin>".into(), Box::new(io::stdin())));
        } else {
            match File::open(f) {
                Ok(file) => inputs.push((f.clone(), Box::new(file))),
                Err(e) => return usage_error(format!("cannot open {f}: {e}")),
            }
        }
    }
    let opts = Options {
        format: args.format,
        emit: args.emit,
        max_line_bytes: args.max_line_bytes,
        keep_rejected: args.errors.is_some(),
        ..Options::default()
    };
    let errors = match args.errors.as_deref().map(dead_letter::DeadLetter::open) {
        Some(Ok(e)) => Some(e),
        Some(Err(e)) => return usage_error(e),
        None => None,
    };
    let mut engine = match engine_host::Backend::open(&cfg, &cfg_text, opts, args.wasm.as_ref()) {
        Ok(e) => e,
        Err(e) => return fault_exit(e),
    };
    // What the CLI saved with the state: `{"follow": position}` (src/cli/input/follow.rs).
    let mut host = serde_json::Value::Null;
    if let Some(path) = &args.state {
        match state_file::load(path, &mut engine) {
            Ok(bytes) => host = serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(engine_host::Fault::Usage(msg)) => return usage_error(msg),
            Err(f) => return fault_exit(f),
        }
    }
    if let Some(Live::Follow(f)) = live.as_mut() {
        if !host["follow"].is_null() {
            f.resume(&host["follow"]);
        }
    }
    let mut sink = Sink {
        out: io::stdout().lock(),
        buf: Vec::with_capacity(FLUSH_AT * 2),
        broken: false,
        errors: errors.clone(),
    };
    let mut rep = Reporter {
        quiet: args.quiet,
        reported: [0; Code::ALL.len()],
        errors: errors.clone(),
    };
    let mut chunk = vec![0u8; files::CHUNK];
    let stop = shutdown::install();
    // --follow and --listen run on the native engine (the parser refuses them with --wasm).
    let mut saved_host = Vec::new();
    let mut status = match (live, &mut engine) {
        (Some(Live::Follow(mut f)), engine_host::Backend::Native(e)) => {
            let code = f.run(
                e,
                &mut sink,
                &mut rep,
                &mut chunk,
                &stop,
                args.state.is_some(),
            );
            saved_host = serde_json::json!({ "follow": f.position(e) })
                .to_string()
                .into_bytes();
            code
        }
        (Some(Live::Listen(l)), engine_host::Backend::Native(e)) => {
            l.run(e, &mut sink, &mut rep, args.max_line_bytes, &stop)
        }
        _ => ExitCode::SUCCESS,
    };
    // A trap in the WASM module ends the run (after writing what it had produced).
    let mut fault = None;
    if !inputs.is_empty() {
        let (names, readers): (Vec<String>, Vec<Box<dyn Read + Send>>) = inputs.into_iter().unzip();
        match files::spawn(readers, stop.clone(), args.max_line_bytes) {
            Ok((rx, back)) => {
                let r = read_loop(&rx, &back, &names, &mut engine, &mut sink, &mut rep, &stop);
                match r {
                    Ok(s) => status = s.unwrap_or(status),
                    Err(LoopEnd::Fault(f)) => fault = Some(f),
                    Err(LoopEnd::Write(e)) => {
                        tracing::error!("writing output: {e}");
                        return ExitCode::from(1);
                    }
                }
            }
            Err(e) => {
                tracing::error!("cannot start the reader thread: {e}");
                return ExitCode::from(1);
            }
        }
    }
    match sink.flush() {
        Ok(()) | Err(Stop::BrokenPipe) => {}
        Err(Stop::Io(e)) => {
            tracing::error!("writing output: {e}");
            status = ExitCode::from(1);
        }
    }
    if let Some(e) = &errors {
        e.flush();
        if e.failed() {
            status = ExitCode::from(1);
        }
    }
    if let Some(f) = fault {
        return fault_exit(f);
    }
    if let Some(path) = &args.state {
        if sink.broken {
            // Alerts that did not reach downstream would never fire again from saved state.
            tracing::warn!(
                "output not fully delivered: state not saved, {} keeps the previous run's",
                path.display()
            );
        } else {
            let bytes = match engine.snapshot(&saved_host) {
                Ok(b) => b,
                Err(f) => return fault_exit(f),
            };
            if let Err(e) = state_file::save(path, &bytes) {
                tracing::error!("cannot save --state {}: {e}", path.display());
                status = ExitCode::from(1);
            }
        }
    }
    let (stats_text, stats) = match engine.stats() {
        Ok(s) => s,
        Err(f) => return fault_exit(f),
    };
    let rule_ids: Vec<&str> = jcdetect::rules::Rules::compile(&cfg)
        .rules
        .iter()
        .map(|r| r.def.id)
        .collect();
    tracing::info!("{}", summary(&stats, &rule_ids));
    if let Some(path) = &args.stats_json {
        let json = stats_text;
        if let Err(e) = std::fs::write(path, json) {
            tracing::error!("cannot write --stats-json {}: {e}", path.display());
            status = ExitCode::from(1);
        }
    }
    status
}

/// How the FILE/stdin loop ended early.
enum LoopEnd {
    Fault(engine_host::Fault),
    Write(io::Error),
}

/// Feed the reader thread's chunks to the engine until every input ended, a stop was asked
/// for, or the output closed. `Ok(Some(1))` when an input could not be read.
fn read_loop(
    rx: &std::sync::mpsc::Receiver<files::Msg>,
    back: &std::sync::mpsc::SyncSender<Vec<u8>>,
    names: &[String],
    engine: &mut engine_host::Backend,
    sink: &mut Sink,
    rep: &mut Reporter,
    stop: &shutdown::StopFlag,
) -> Result<Option<ExitCode>, LoopEnd> {
    use std::sync::mpsc::RecvTimeoutError;
    let mut status = None;
    let mut diags = Vec::new();
    // The input being read (its line numbers restart at 1), if one has begun.
    let mut current: Option<usize> = None;
    // Once a stop is asked for, wait (bounded: the input may be idle in the middle of a
    // line) for the reader to finish the line it is in and say it stopped.
    let mut deadline: Option<std::time::Instant> = None;
    let mut stopped_at: Option<std::time::Instant> = None;
    // Whether what was fed of the current input ends with a newline.
    let mut at_line_end = true;
    loop {
        if stop.is_set() {
            // At a line boundary only a read already under way can still bring bytes; inside
            // a line (also one such a read just began) the writer gets 2 s from the stop.
            let at = *stopped_at.get_or_insert_with(std::time::Instant::now);
            let grace = if at_line_end { 50 } else { 2000 };
            let d = at + std::time::Duration::from_millis(grace);
            deadline = Some(deadline.map_or(d, |old| old.max(d)));
        }
        let wait = match deadline {
            Some(d) => d.saturating_duration_since(std::time::Instant::now()),
            None => std::time::Duration::from_millis(100),
        };
        let msg = match rx.recv_timeout(wait) {
            Ok(files::Msg::Stopped) => break,
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) if deadline.is_some() => {
                if !at_line_end {
                    tracing::warn!("the input did not finish its line within 2 s of the stop");
                }
                break;
            }
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let input = match &msg {
            files::Msg::Data { input, .. } | files::Msg::End { input, .. } => *input,
            files::Msg::Stopped => continue,
        };
        if current != Some(input) {
            engine.start_input().map_err(LoopEnd::Fault)?;
            current = Some(input);
        }
        let name = &names[input];
        match msg {
            files::Msg::Data {
                buf, len, short, ..
            } => {
                let data = &buf[..len];
                at_line_end = data.last() == Some(&b'\n');
                // Alerts need a time even when no event carried one: the reading time.
                let fed = engine
                    .set_fallback_time(now_nanos())
                    .and_then(|()| engine.feed(data, &mut sink.buf, &mut diags));
                rep.report(name, &mut diags);
                let _ = back.try_send(buf);
                fed.map_err(LoopEnd::Fault)?;
                if sink.buf.len() >= FLUSH_AT || short {
                    match sink.flush() {
                        Ok(()) => {}
                        Err(Stop::BrokenPipe) => return Ok(status),
                        Err(Stop::Io(e)) => return Err(LoopEnd::Write(e)),
                    }
                }
            }
            files::Msg::Stopped => {}
            files::Msg::End { error, .. } => {
                if let Some(e) = error {
                    tracing::error!("{name}: read error: {e}");
                    status = Some(ExitCode::from(1));
                }
                let finished = engine.finish(&mut sink.buf, &mut diags);
                rep.report(name, &mut diags);
                finished.map_err(LoopEnd::Fault)?;
                current = None;
                at_line_end = true;
            }
        }
    }
    if let Some(input) = current {
        // Stopped inside an input: a line still unterminated after the grace time is
        // processed as at the end of input (reported if it is cut short), never dropped.
        let finished = engine.finish(&mut sink.buf, &mut diags);
        rep.report(&names[input], &mut diags);
        finished.map_err(LoopEnd::Fault)?;
    }
    if stop.is_set() {
        tracing::info!("stopped by a signal; alerts flushed");
    }
    Ok(status)
}

fn now_nanos() -> Option<i64> {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    i64::try_from(d.as_nanos()).ok()
}

/// A module that cannot be loaded is a usage error (2); a trap ends the run with 1.
fn fault_exit(f: engine_host::Fault) -> ExitCode {
    eprintln!("jcdetect: {f}");
    match f {
        engine_host::Fault::Usage(_) | engine_host::Fault::Load(_) => ExitCode::from(2),
        engine_host::Fault::Trap(_) => ExitCode::from(1),
    }
}

/// The end-of-run line, from the counters as `--stats-json` has them (the same for the
/// native engine and the WASM module); `rule_ids` gives the catalog order.
fn summary(v: &serde_json::Value, rule_ids: &[&str]) -> String {
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let mut line = format!(
        "summary: {} lines, {} events, {} bad lines",
        n(&v["lines"]),
        n(&v["events"]),
        n(&v["bad_lines"])
    );
    let codes: Vec<String> = Code::ALL
        .iter()
        .map(|c| (c.as_str(), n(&v["diagnostics"][c.as_str()])))
        .filter(|&(_, k)| k > 0)
        .map(|(c, k)| format!("{c}={k}"))
        .collect();
    if !codes.is_empty() {
        line.push_str(&format!(" ({})", codes.join(" ")));
    }
    line.push_str(&format!(", {} alerts", n(&v["alerts_total"])));
    let by_rule: Vec<String> = rule_ids
        .iter()
        .map(|id| (id, n(&v["alerts"][id])))
        .filter(|&(_, k)| k > 0)
        .map(|(id, k)| format!("{id}={k}"))
        .collect();
    if !by_rule.is_empty() {
        line.push_str(&format!(" ({})", by_rule.join(" ")));
    }
    for (key, what) in [
        ("allowlisted", "allowlisted"),
        ("suppressed", "suppressed"),
        ("late_events", "late events"),
        ("future_events", "far-ahead events"),
    ] {
        if n(&v[key]) > 0 {
            line.push_str(&format!(", {} {what}", n(&v[key])));
        }
    }
    if let Some(ev) = v["state"]["evictions"].as_object() {
        let total: u64 = ev.values().map(n).sum();
        if total > 0 {
            let parts: Vec<String> = ev
                .iter()
                .filter(|(_, k)| n(k) > 0)
                .map(|(t, k)| format!("{t}={}", n(k)))
                .collect();
            line.push_str(&format!(", {total} state evictions ({})", parts.join(" ")));
        }
    }
    line
}
