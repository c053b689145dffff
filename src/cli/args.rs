//! The command line: one clap definition for the filter and every subcommand, then the checks
//! clap's attributes do not express (which options go together), each with its own message.
//!
//! Usage errors (exit 2) are clap's: what is wrong, a hint for a misspelt option, the usage
//! of the command at fault (`jcdetect generate ...` for `generate`) and a pointer to its
//! `--help`. Problems found later (a FILE that cannot be opened, a bad config) are not usage
//! errors: they are reported without that pointer (`crate::report::setup_error`).

mod pull;

use crate::engine_host::{WasmArgs, DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_MS};
use crate::output::write_stdout;
use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use jcdetect::replay::{AttackMix, GenConfig};
use jcdetect::{Emit, Format};
use pull::PullOpts;
pub use pull::PullSettings;
use std::path::PathBuf;
use std::process::ExitCode;

/// What to run, checked.
pub enum Command {
    Filter(Filter),
    Pull(Pull),
    Rules(RulesArgs),
    Generate(Generate),
    Bench(Bench),
    Completions(clap_complete::Shell),
}

/// Parse `std::env::args_os()`. Help and version are printed here (`Err(0)`); a usage error
/// is reported here (`Err(2)`).
pub fn parse() -> Result<Command, ExitCode> {
    let cli = Cli::try_parse().map_err(exit)?;
    cli.check().map_err(exit)
}

/// A usage error of `jcdetect SUBCOMMAND` (`None`: of the filter), printed like clap's own.
pub fn usage_error(subcommand: Option<&str>, msg: impl std::fmt::Display) -> ExitCode {
    exit(error(subcommand, ErrorKind::ValueValidation, msg))
}

fn error(subcommand: Option<&str>, kind: ErrorKind, msg: impl std::fmt::Display) -> clap::Error {
    let mut cmd = Cli::command();
    // Built, so a subcommand's usage line names the binary (`jcdetect generate ...`).
    cmd.build();
    match subcommand.and_then(|s| cmd.find_subcommand_mut(s)) {
        Some(sub) => sub.error(kind, msg),
        None => cmd.error(kind, msg),
    }
}

/// Print what clap has to say: help and version on stdout (exit 0), a usage error on stderr
/// in jcdetect's style (`jcdetect: ...`, exit 2).
fn exit(e: clap::Error) -> ExitCode {
    let text = e.render().to_string();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => write_stdout(text.as_bytes()),
        _ => {
            let text = text.strip_prefix("error: ").unwrap_or(&text);
            eprint!("jcdetect: {text}");
            ExitCode::from(2)
        }
    }
}

const USAGE: &str = "\
jcdetect [OPTIONS] [FILE]...
       jcdetect [OPTIONS] --follow FILE
       jcdetect [OPTIONS] --listen ADDR
       jcdetect [OPTIONS] --pull [PULL OPTIONS]
       jcdetect <COMMAND> [OPTIONS]";

const LONG_ABOUT: &str = "\
jcdetect - detections for JumpCloud Directory Insights events

Reads DI events, one JSON object per line (a line holding a JSON array of events is also \
accepted), from each FILE in turn or from standard input when no FILE (or `-`) is given, and \
writes one alert per line to standard output. Diagnostics and the end-of-run summary go to \
standard error.";

const AFTER_HELP: &str = "\
Examples:
  jcdetect tests/data/example.ndjson
  curl ... | jq -c '.[]' | jcdetect --format ocsf > alerts.ndjson
  jcdetect --emit all --config jcdetect.toml - < events.ndjson | vector -c ship.yaml
  JUMPCLOUD_API_KEY=... jcdetect --pull --state /var/lib/jcdetect/state
  jcdetect rules --json
  jcdetect completions bash > ~/.local/share/bash-completion/completions/jcdetect

Signals:
  SIGTERM or SIGINT: stop reading, process what was read, flush alerts, save --state, exit 0.
  A second one while stopping exits at once with status 130.

Exit status:
  0  end of input reached (bad lines are reported and counted, not fatal), stopped by
     SIGTERM/SIGINT, or the output pipe was closed
  1  an input could not be read, the WASM module trapped, or --state / --errors /
     --stats-json could not be written
  2  usage or config error (also a FILE that cannot be opened, a busy --listen port; with
     --pull, a missing API key or an API that refuses the key or the request at start)";

#[derive(Parser)]
#[command(
    name = "jcdetect",
    version,
    about = "jcdetect - detections for JumpCloud Directory Insights events",
    long_about = LONG_ABOUT,
    override_usage = USAGE,
    after_help = AFTER_HELP,
    // `jcdetect rules` is the command; in `jcdetect x.ndjson rules`, `rules` is a FILE.
    args_conflicts_with_subcommands = true,
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    filter: FilterArgs,
}

#[derive(Subcommand)]
enum Sub {
    /// List the rule catalog (with a config applied)
    Rules(RulesArgs),
    /// Pull DI events from the Directory Insights API and write them as NDJSON
    #[command(long_about = "\
Pull DI events from the Directory Insights API (POST /insights/directory/v1/events) and write \
them to standard output, one JSON object a line, for any pipeline. Pages are read in time \
order; each poll re-reads --lag-secs back for events the API ingested late and skips what it \
already delivered, and --state keeps the cursor across restarts, so nothing is skipped or \
written twice. The API key comes from JUMPCLOUD_API_KEY or --api-key-file.

SIGTERM or SIGINT: finish the page being read, save --state, exit 0.

Exit status: 0 at --until or when stopped; 1 if --state or the output cannot be written; 2 for \
a usage error, a missing key, or an API that refuses the key or the request at start.")]
    Pull(PullArgs),
    /// Write a deterministic synthetic DI replay with its ground truth
    Generate(GenerateArgs),
    /// Replay files through the engine and report throughput
    Bench(BenchArgs),
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
}

/// The alert format.
#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    /// ECS (the default)
    Ecs,
    /// OCSF Detection Finding (2004)
    Ocsf,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Ecs => Format::Ecs,
            FormatArg::Ocsf => Format::Ocsf,
        }
    }
}

/// What the filter writes.
#[derive(Clone, Copy, ValueEnum)]
enum EmitArg {
    /// Only alerts (the default)
    Alerts,
    /// Every input line too, in order, with an added `jcdetect` object, each followed by its
    /// alerts
    All,
}

#[derive(Args)]
struct FilterArgs {
    /// TOML config: [rules.<id>] enabled / severity / parameters, [allowlist] ips / users /
    /// countries, [state] memory_mb ... (see docs/options.md)
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Sigma rule file, or directory of them (*.yml, *.yaml, searched recursively); repeat
    /// for several. Added to `[rules] paths` of the config (docs/sigma.md)
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Alert format
    #[arg(short, long, value_name = "FORMAT", default_value = "ecs")]
    format: FormatArg,
    /// What to write: only alerts, or every input line too
    #[arg(short, long, value_name = "WHAT", default_value = "alerts")]
    emit: EmitArg,
    /// Reject lines longer than N bytes (without buffering them)
    #[arg(long, value_name = "N", default_value_t = jcdetect::engine::DEFAULT_MAX_LINE_BYTES,
          value_parser = positive::<usize>)]
    max_line_bytes: usize,
    /// Write the run's counters as JSON to FILE at the end
    #[arg(long, value_name = "FILE")]
    stats_json: Option<PathBuf>,
    /// Keep the window state in FILE across restarts
    ///
    /// Loaded at start (if it exists) and saved at a clean end (end of input, SIGTERM,
    /// SIGINT), so attacks that span a restart are still detected. A damaged or incompatible
    /// FILE is reported, moved to FILE.rejected, and the run starts with empty state; a FILE
    /// that is not a state file is refused (exit 2).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Append every rejected line to FILE (a dead-letter queue; not with --wasm)
    ///
    /// One record a line: SOURCE<TAB>LINE<TAB>CODE<TAB>REASON<TAB>the line byte for byte
    /// (`cut -f5-` gives the lines back; a line over --max-line-bytes is cut to its first
    /// 64 KiB, said in REASON).
    #[arg(long, value_name = "FILE")]
    errors: Option<PathBuf>,
    /// Read FILE from the start, then keep reading as it grows, like `tail -F`
    ///
    /// Survives rotation (rename + new file) and truncation; runs until stopped. FILE must
    /// exist at start-up.
    #[arg(long, value_name = "FILE")]
    follow: Option<PathBuf>,
    /// With --follow: skip what FILE holds at start-up
    #[arg(long)]
    follow_from_end: bool,
    /// Accept TCP connections on ADDR (e.g. 127.0.0.1:9000), one NDJSON stream each
    ///
    /// Port 0 picks one, printed on stderr. All connections go into one engine (one shared
    /// state); runs until stopped.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Read events from the Directory Insights API, with the pull options below; runs
    /// until stopped, or to --until
    #[arg(long)]
    pull: bool,
    /// No per-line diagnostics and no summary (errors only)
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    wasm: WasmOpts,
    /// Input files (`-` = standard input, the default)
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    // Last: its help heading applies to what follows it.
    #[command(flatten)]
    pull_opts: PullOpts,
}

#[derive(Args)]
struct WasmOpts {
    /// Run the engine as the jcdetect WASM module at PATH (wasmtime; needs the `wasm-host`
    /// build feature)
    #[arg(long, value_name = "PATH")]
    wasm: Option<PathBuf>,
    /// The module's memory limit, in MiB [default: 256]
    #[arg(long, value_name = "N", value_parser = positive::<u64>)]
    wasm_memory_mb: Option<u64>,
    /// Time limit of one call into the module, in ms; 0 = none [default: 10000]
    #[arg(long, value_name = "N", value_parser = number::<u64>)]
    wasm_timeout_ms: Option<u64>,
}

impl WasmOpts {
    fn check(self) -> Result<Option<WasmArgs>, String> {
        match self.wasm {
            Some(path) => Ok(Some(WasmArgs {
                path,
                memory_mb: self.wasm_memory_mb.unwrap_or(DEFAULT_MEMORY_MB),
                timeout_ms: self.wasm_timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
            })),
            None if self.wasm_memory_mb.is_some() || self.wasm_timeout_ms.is_some() => {
                Err("--wasm-memory-mb and --wasm-timeout-ms need --wasm PATH".into())
            }
            None => Ok(None),
        }
    }
}

#[derive(Args)]
pub struct PullArgs {
    /// Keep the cursor in FILE (saved at most once a second while pages come, before each
    /// sleep, and at the end)
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Write the run's counters as JSON to FILE at the end
    #[arg(long, value_name = "FILE")]
    stats_json: Option<PathBuf>,
    /// Errors only on standard error
    #[arg(short, long)]
    quiet: bool,
    // Last: its help heading applies to what follows it.
    #[command(flatten)]
    opts: PullOpts,
}

/// `jcdetect pull`, checked.
pub struct Pull {
    pub source: PullSettings,
    pub state: Option<PathBuf>,
    pub stats_json: Option<PathBuf>,
    pub quiet: bool,
}

#[derive(Args)]
pub struct RulesArgs {
    /// Print the catalog as JSON (with every rule's parameters)
    #[arg(long)]
    pub json: bool,
    /// TOML config to apply, as for the filter
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Sigma rules to list with the catalog, as for the filter
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Check Sigma rule files or directories: every problem at once, as FILE:LINE:COL, and
    /// exit 1 if there is any; nothing runs
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub check: Vec<PathBuf>,
}

#[derive(Args)]
#[command(
    override_usage = "jcdetect generate --events N [OPTIONS] > replay.ndjson",
    long_about = "Write a deterministic synthetic DI replay to stdout (the same seed gives the \
                  same bytes) with attack stories for every stateful rule, and its ground truth \
                  (--truth FILE)."
)]
struct GenerateArgs {
    /// Events (= lines) to write
    #[arg(long, value_name = "N", value_parser = positive::<u64>,
          required_unless_present = "sigma_rules")]
    events: Option<u64>,
    /// Write N synthetic Sigma rules (a benchmark's rule set, docs/sigma.md) instead of events
    #[arg(long, value_name = "N", value_parser = positive::<usize>, conflicts_with = "events")]
    sigma_rules: Option<usize>,
    /// Seed; the same seed gives the same bytes
    #[arg(long, value_name = "S", default_value_t = GenConfig::default().seed,
          value_parser = number::<u64>)]
    seed: u64,
    /// Attack stories: `none`, or kind=N items separated by commas (unnamed kinds get 0;
    /// `all=N` sets every kind). Kinds: spray, stuffing, brute, brute_only, lockout,
    /// admin_country, user_country, travel, sso_burst, mfa_bypass [default: all=2]
    #[arg(long, value_name = "SPEC", value_parser = AttackMix::parse)]
    attack_mix: Option<AttackMix>,
    /// Directory users
    #[arg(long, value_name = "N", default_value_t = GenConfig::default().users,
          value_parser = number::<u32>)]
    users: u32,
    /// Administrators among them
    #[arg(long, value_name = "N", default_value_t = GenConfig::default().admins,
          value_parser = number::<u32>)]
    admins: u32,
    /// Size of the background ip space
    #[arg(long, value_name = "N", default_value_t = GenConfig::default().ips,
          value_parser = number::<u64>)]
    ips: u64,
    /// Share of logins from a fresh ip of the user's city
    #[arg(long, value_name = "F", default_value_t = GenConfig::default().roaming,
          value_parser = number::<f64>)]
    roaming: f64,
    /// Share of background events delivered up to 60 s late
    #[arg(long, value_name = "F", default_value_t = GenConfig::default().out_of_order,
          value_parser = number::<f64>)]
    out_of_order: f64,
    /// Write the ground truth (expected alerts, counts) as JSON to FILE
    #[arg(long, value_name = "FILE")]
    truth: Option<PathBuf>,
}

/// `jcdetect generate`, checked.
pub struct Generate {
    pub cfg: GenConfig,
    pub truth: Option<PathBuf>,
    /// `--sigma-rules N`: write N synthetic Sigma rules instead of events.
    pub sigma_rules: Option<usize>,
}

#[derive(Args)]
#[command(long_about = "\
Reads every FILE (`-` = standard input) into memory, then feeds it to the engine in 1 MiB \
chunks as the filter does, discarding the alerts (their bytes are counted), and prints events, \
lines, bytes, wall time, events/s, MB/s (10^6 bytes), alerts by rule, peak RSS and the time \
from process start to the first chunk processed. A progress bar is drawn on standard error \
when it is a terminal.")]
struct BenchArgs {
    /// TOML config, as for the filter
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Sigma rule file, or directory of them (*.yml, *.yaml, searched recursively); repeat
    /// for several. Added to `[rules] paths` of the config (docs/sigma.md)
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Alert format
    #[arg(short, long, value_name = "FORMAT", default_value = "ecs")]
    format: FormatArg,
    /// Replay the files N times (each pass with a fresh engine)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = positive::<u32>)]
    repeat: u32,
    /// Print the result as one JSON object
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    wasm: WasmOpts,
    /// Files to replay (`-` = standard input)
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

/// `jcdetect bench`, checked.
pub struct Bench {
    pub config: Option<PathBuf>,
    pub rules: Vec<PathBuf>,
    pub format: Format,
    pub repeat: u32,
    pub json: bool,
    pub wasm: Option<WasmArgs>,
    pub files: Vec<PathBuf>,
}

/// The filter's input.
pub enum Input {
    /// FILEs in turn (`-` = standard input); standard input when none is given.
    Files(Vec<PathBuf>),
    /// `--follow FILE [--follow-from-end]`
    Follow { path: PathBuf, from_end: bool },
    /// `--listen ADDR`
    Listen(String),
    /// `--pull`
    Pull(PullSettings),
}

/// The filter (`jcdetect [OPTIONS] ...`), checked.
pub struct Filter {
    pub config: Option<PathBuf>,
    pub rules: Vec<PathBuf>,
    pub format: Format,
    pub emit: Emit,
    pub max_line_bytes: usize,
    pub stats_json: Option<PathBuf>,
    pub state: Option<PathBuf>,
    pub errors: Option<PathBuf>,
    pub quiet: bool,
    pub wasm: Option<WasmArgs>,
    pub input: Input,
}

impl Cli {
    /// Verify what clap cannot: which options go together.
    fn check(self) -> Result<Command, clap::Error> {
        Ok(match self.command {
            None => Command::Filter(
                self.filter
                    .check()
                    .map_err(|(kind, msg)| error(None, kind, msg))?,
            ),
            Some(Sub::Rules(a)) => Command::Rules(a),
            Some(Sub::Pull(a)) => Command::Pull(Pull {
                source: a
                    .opts
                    .check(crate::input::now_nanos().unwrap_or(0))
                    .map_err(|e| error(Some("pull"), ErrorKind::ValueValidation, e))?,
                state: a.state,
                stats_json: a.stats_json,
                quiet: a.quiet,
            }),
            Some(Sub::Completions { shell }) => Command::Completions(shell),
            Some(Sub::Generate(a)) if a.sigma_rules.is_some() => Command::Generate(Generate {
                cfg: GenConfig {
                    seed: a.seed,
                    ..GenConfig::default()
                },
                truth: None,
                sigma_rules: a.sigma_rules,
            }),
            Some(Sub::Generate(a)) => {
                let sub = Some("generate");
                let cfg = GenConfig {
                    events: a.events.unwrap_or(0),
                    seed: a.seed,
                    users: a.users,
                    admins: a.admins,
                    ips: a.ips,
                    roaming: a.roaming,
                    out_of_order: a.out_of_order,
                    attacks: a.attack_mix.unwrap_or(GenConfig::default().attacks),
                    ..GenConfig::default()
                };
                cfg.validate()
                    .map_err(|e| error(sub, ErrorKind::ValueValidation, e))?;
                Command::Generate(Generate {
                    cfg,
                    truth: a.truth,
                    sigma_rules: None,
                })
            }
            Some(Sub::Bench(a)) => Command::Bench(Bench {
                config: a.config,
                rules: a.rules,
                format: a.format.into(),
                repeat: a.repeat,
                json: a.json,
                wasm: a
                    .wasm
                    .check()
                    .map_err(|e| error(Some("bench"), ErrorKind::MissingRequiredArgument, e))?,
                files: a.files,
            }),
        })
    }
}

impl FilterArgs {
    fn check(self) -> Result<Filter, (ErrorKind, String)> {
        use ErrorKind::{ArgumentConflict as Conflict, MissingRequiredArgument as Missing};
        let wasm = self.wasm.check().map_err(|e| (Missing, e))?;
        if self.pull {
            if self.follow.is_some() || self.listen.is_some() || !self.files.is_empty() {
                return Err((
                    Conflict,
                    "--pull reads the API: it takes no FILE, --follow or --listen".into(),
                ));
            }
            if wasm.is_some() {
                return Err((
                    Conflict,
                    "--wasm runs on FILEs and stdin; it does not combine with --pull".into(),
                ));
            }
        } else if self.pull_opts.given() {
            return Err((Missing, "the pull options need --pull".into()));
        }
        let input = match (self.follow, self.listen) {
            _ if self.pull => Input::Pull(
                self.pull_opts
                    .check(crate::input::now_nanos().unwrap_or(0))
                    .map_err(|e| (ErrorKind::ValueValidation, e))?,
            ),
            (Some(_), Some(_)) => {
                return Err((Conflict, "--follow and --listen exclude each other".into()))
            }
            (Some(_), None) | (None, Some(_)) if !self.files.is_empty() => {
                return Err((
                    Conflict,
                    "--follow FILE and --listen ADDR take no other FILE".into(),
                ))
            }
            (Some(_), _) | (_, Some(_)) if wasm.is_some() => {
                return Err((
                    Conflict,
                    "--wasm runs on FILEs and stdin; it does not combine with --follow or \
                     --listen"
                        .into(),
                ))
            }
            (Some(path), None) => Input::Follow {
                path,
                from_end: self.follow_from_end,
            },
            (None, _) if self.follow_from_end => {
                return Err((Missing, "--follow-from-end needs --follow".into()))
            }
            (None, Some(addr)) => Input::Listen(addr),
            (None, None) => Input::Files(self.files),
        };
        if self.errors.is_some() && wasm.is_some() {
            return Err((
                Conflict,
                "--errors needs the native engine: the WASM module's diagnostics do not carry \
                 the rejected lines (drop --wasm or --errors)"
                    .into(),
            ));
        }
        Ok(Filter {
            config: self.config,
            rules: self.rules,
            format: self.format.into(),
            emit: match self.emit {
                EmitArg::Alerts => Emit::Alerts,
                EmitArg::All => Emit::All,
            },
            max_line_bytes: self.max_line_bytes,
            stats_json: self.stats_json,
            state: self.state,
            errors: self.errors,
            quiet: self.quiet,
            wasm,
            input,
        })
    }
}

/// A number (surrounding white space ignored).
fn number<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| "not a valid number".to_string())
}

/// A positive integer.
fn positive<T: std::str::FromStr + Default + PartialOrd>(v: &str) -> Result<T, String> {
    number::<T>(v)
        .ok()
        .filter(|n| *n > T::default())
        .ok_or_else(|| "not a positive integer".to_string())
}

/// `jcdetect completions SHELL`: the completion script on stdout.
pub fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "jcdetect", &mut script);
    write_stdout(&script)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
