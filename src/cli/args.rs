//! The command line: one clap definition for the filter and every subcommand, then the checks
//! clap's attributes do not express (which options go together), each with its own message.
//!
//! Usage errors (exit 2) are clap's: what is wrong, a hint for a misspelt option, the usage
//! of the command at fault (`jcdetect generate ...` for `generate`) and a pointer to its
//! `--help`. Problems found later (a FILE that cannot be opened, a bad config) are not usage
//! errors: they are reported without that pointer (`crate::report::setup_error`).

use crate::engine_host::{WasmArgs, DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_MS};
use crate::output::write_stdout;
use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use jcdetect::replay::{AttackMix, GenConfig};
use jcdetect::{Emit, Format};
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

/// Where and what to pull from the Directory Insights API (`jcdetect pull`, `--pull`).
#[derive(Args)]
#[command(next_help_heading = "Pull options (with --pull, or `jcdetect pull`)")]
struct PullOpts {
    /// The API's base URL (a proxy, a test server) [default: https://api.jumpcloud.com]
    #[arg(long, value_name = "URL")]
    api_url: Option<String>,
    /// Pull this organization (x-org-id; repeat for several; multi-tenant administrators)
    #[arg(long = "org-id", value_name = "ID")]
    org_id: Vec<String>,
    /// Pull this DI service: all, directory, sso, radius, systems, ldap, mdm, ... (repeat
    /// for several) [default: all]
    #[arg(long, value_name = "NAME")]
    service: Vec<String>,
    /// Where a first run starts: a duration back from now (90s, 30m, 2h, 7d) or an RFC 3339
    /// time; a run with a saved cursor (--state) resumes from it instead [default: 1h]
    #[arg(long, value_name = "DURATION|TIME")]
    since: Option<String>,
    /// Deliver every event with a time up to and including TIME (RFC 3339), then exit 0
    /// (once the API has had --lag-secs to ingest it)
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Seconds between polls once everything available is read [default: 30]
    #[arg(long, value_name = "N", value_parser = seconds)]
    poll_secs: Option<f64>,
    /// The longest the API takes to make an event readable after its time (ingestion
    /// delay): each poll re-reads this far back and skips what it delivered [default: 180]
    #[arg(long, value_name = "N", value_parser = seconds_or_zero)]
    lag_secs: Option<f64>,
    /// Events per request, 1 to 10000 [default: 10000]
    #[arg(long, value_name = "N", value_parser = page_limit)]
    limit: Option<u32>,
    /// Read the API key from FILE (default: the JUMPCLOUD_API_KEY environment variable;
    /// never give the key on the command line)
    #[arg(long, value_name = "FILE")]
    api_key_file: Option<PathBuf>,
    /// Trust the CA certificates in FILE (PEM) instead of the bundled Mozilla roots: a
    /// TLS-inspecting proxy's CA, or the system's bundle
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Time limit of one request, in seconds; a stop waits for it [default: 60]
    #[arg(long, value_name = "N", value_parser = seconds)]
    timeout_secs: Option<f64>,
    /// First retry delay after a failed request, in seconds; it doubles up to 60 (a
    /// Retry-After from the API takes precedence) [default: 1]
    #[arg(long, value_name = "N", value_parser = seconds)]
    backoff_secs: Option<f64>,
    /// While running, save --state at most every N seconds (between pages for `jcdetect
    /// pull`'s cursor; between polls for --pull's windows and cursor) [default: 1 for
    /// `jcdetect pull`, 60 with --pull]
    #[arg(long, value_name = "N", value_parser = seconds)]
    checkpoint_secs: Option<f64>,
}

impl PullOpts {
    fn given(&self) -> bool {
        self.api_url.is_some()
            || !self.org_id.is_empty()
            || !self.service.is_empty()
            || self.since.is_some()
            || self.until.is_some()
            || self.poll_secs.is_some()
            || self.lag_secs.is_some()
            || self.limit.is_some()
            || self.api_key_file.is_some()
            || self.ca_file.is_some()
            || self.timeout_secs.is_some()
            || self.backoff_secs.is_some()
            || self.checkpoint_secs.is_some()
    }

    /// Check and resolve against the clock (`--since 2h`). The key is read later
    /// (`crate::pull`): a missing key is a setup error, not a usage error.
    fn check(self, now: i64) -> Result<PullSettings, String> {
        let ns = |secs: f64| (secs * 1e9).round() as i64;
        let since = match self.since.as_deref() {
            None => now - 3600 * 1_000_000_000,
            Some(v) => since(v, now)?,
        };
        let until = match self.until.as_deref() {
            None => None,
            Some(v) => Some(
                jcdetect::decode::time::parse_rfc3339(v.trim())
                    .map_err(|_| format!("--until {v:?}: not an RFC 3339 time"))?,
            ),
        };
        if let Some(u) = until {
            if since > u {
                return Err(format!(
                    "--since ({}) is after --until ({})",
                    jcdetect::decode::time::to_rfc3339(since),
                    jcdetect::decode::time::to_rfc3339(u)
                ));
            }
        }
        let mut services = self.service;
        if services.is_empty() {
            services.push("all".into());
        }
        if let Some(s) = services.iter().find(|s| s.trim().is_empty()) {
            return Err(format!("--service {s:?}: empty"));
        }
        // Streams must not overlap: each keeps its own record of what it delivered.
        dedup(&mut services);
        if services.len() > 1 && services.iter().any(|s| s == "all") {
            return Err("--service all already holds every service: give it alone".into());
        }
        let mut orgs = self.org_id;
        dedup(&mut orgs);
        let api_url = self
            .api_url
            .unwrap_or_else(|| "https://api.jumpcloud.com".into());
        let scheme = api_url
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("https") => {}
            Some("http") if crate::input::pull::is_loopback(&api_url) => {}
            Some("http") => {
                return Err(format!(
                    "--api-url {api_url}: the key would travel in clear text; use https (http \
                     is for this machine only)"
                ))
            }
            _ => return Err(format!("--api-url {api_url}: not an http(s) URL")),
        }
        let backoff = ns(self.backoff_secs.unwrap_or(1.0));
        Ok(PullSettings {
            api_url,
            api_key_file: self.api_key_file,
            ca_file: self.ca_file,
            timeout: std::time::Duration::from_secs_f64(self.timeout_secs.unwrap_or(60.0)),
            checkpoint: self.checkpoint_secs.map(std::time::Duration::from_secs_f64),
            settings: jcdetect::pull::Settings {
                services,
                orgs,
                since,
                until,
                lag: ns(self.lag_secs.unwrap_or(180.0)),
                poll: ns(self.poll_secs.unwrap_or(30.0)),
                limit: self.limit.unwrap_or(jcdetect::pull::MAX_LIMIT),
                backoff,
                backoff_max: backoff.max(60 * 1_000_000_000),
            },
        })
    }
}

/// Remove repeated values, keeping the first of each.
fn dedup(v: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    v.retain(|s| seen.insert(s.clone()));
}

/// `--since`: a duration back from `now` (`90s`, `30m`, `2h`, `7d`, plain seconds) or an
/// RFC 3339 time.
fn since(v: &str, now: i64) -> Result<i64, String> {
    let v = v.trim();
    if let Ok(t) = jcdetect::decode::time::parse_rfc3339(v) {
        return Ok(t);
    }
    let (num, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v, "s"),
    };
    let mult: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    match num.parse::<i64>() {
        Ok(n) if mult > 0 => n
            .checked_mul(mult)
            .and_then(|s| s.checked_mul(1_000_000_000))
            .map(|d| now - d)
            .ok_or_else(|| format!("--since {v:?}: too far back")),
        _ => Err(format!(
            "--since {v:?}: give a duration (90s, 30m, 2h, 7d) or an RFC 3339 time"
        )),
    }
}

/// The pull's settings, checked.
pub struct PullSettings {
    pub api_url: String,
    pub api_key_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub timeout: std::time::Duration,
    /// `--checkpoint-secs` (each command has its own default).
    pub checkpoint: Option<std::time::Duration>,
    pub settings: jcdetect::pull::Settings,
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
    #[arg(long, value_name = "N", value_parser = positive::<u64>)]
    events: u64,
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
            Some(Sub::Generate(a)) => {
                let sub = Some("generate");
                let cfg = GenConfig {
                    events: a.events,
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
                })
            }
            Some(Sub::Bench(a)) => Command::Bench(Bench {
                config: a.config,
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

/// Seconds, decimal, positive (`0.5`).
fn seconds(v: &str) -> Result<f64, String> {
    number::<f64>(v)
        .ok()
        .filter(|n| n.is_finite() && *n > 0.0 && *n < 1e9)
        .ok_or_else(|| "not a positive number of seconds".to_string())
}

/// Seconds, decimal, zero or more.
fn seconds_or_zero(v: &str) -> Result<f64, String> {
    number::<f64>(v)
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0 && *n < 1e9)
        .ok_or_else(|| "not a number of seconds".to_string())
}

/// An API page size: 1 to 10000.
fn page_limit(v: &str) -> Result<u32, String> {
    number::<u32>(v)
        .ok()
        .filter(|n| (1..=jcdetect::pull::MAX_LIMIT).contains(n))
        .ok_or_else(|| format!("not an integer from 1 to {}", jcdetect::pull::MAX_LIMIT))
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
