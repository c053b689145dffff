//! The pull options (`jcdetect pull`, and the filter's `--pull`): one clap definition both
//! flatten, checked into [`PullSettings`].

use super::number;
use clap::Args;
use std::path::PathBuf;

/// Where and what to pull from the Directory Insights API (`jcdetect pull`, `--pull`).
#[derive(Args)]
#[command(next_help_heading = "Pull options (with --pull, or `jcdetect pull`)")]
pub(super) struct PullOpts {
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
    pub(super) fn given(&self) -> bool {
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
    pub(super) fn check(self, now: i64) -> Result<PullSettings, String> {
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
