//! The Directory Insights API as an input (`jcdetect pull`, `jcdetect --pull`): the HTTPS
//! requests, the sleeps and the stop signal around the library's state machine
//! (`jcdetect::pull`), which decides everything else. The key is read here, sent only in the
//! `x-api-key` header, and cut out of every message.

use crate::args::PullSettings;
use crate::input::now_nanos;
use crate::shutdown::StopFlag;
use jcdetect::pull::cursor::Cursor;
use jcdetect::pull::{Failure, Puller, Reply, Request, Step};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The events endpoint, under `--api-url`.
const PATH: &str = "/insights/directory/v1/events";
/// A page of 10 000 events is some tens of MB; more is not a page of this API.
const MAX_BODY: u64 = 1 << 30;

/// How a pull ended.
pub enum End {
    /// Every event up to `--until` delivered.
    Done,
    /// SIGTERM/SIGINT.
    Stopped,
    /// The output could not be written: the run ends with this status.
    Output(ExitCode),
    /// The API refused the key or the request before it ever answered (exit 2).
    Refused(String),
}

/// What a pull hands its caller.
pub enum Out<'a> {
    /// A batch of NDJSON events to write (`Err` from the caller: the output failed).
    Events(&'a [u8]),
    /// The cursor, after a delivered batch (`quiet: false`) or before a sleep (`true`): the
    /// moment to save it.
    Checkpoint { puller: &'a Puller, quiet: bool },
}

/// The API key, read once; it never appears in a message.
struct Key(String);

impl Key {
    /// `--api-key-file FILE`, else `JUMPCLOUD_API_KEY`.
    fn load(file: Option<&Path>) -> Result<Key, String> {
        let key = match file {
            Some(f) => std::fs::read_to_string(f)
                .map_err(|e| format!("cannot read --api-key-file {}: {e}", f.display()))?,
            None => std::env::var("JUMPCLOUD_API_KEY").map_err(|_| {
                "no API key: set JUMPCLOUD_API_KEY or give --api-key-file FILE".to_string()
            })?,
        };
        let key = key.trim().to_string();
        if key.is_empty() {
            return Err("the API key is empty".into());
        }
        if key.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err("the API key holds spaces or control characters".into());
        }
        Ok(Key(key))
    }

    /// `text` with the key cut out (a server or proxy may echo it in an error body).
    fn redact(&self, text: &str) -> String {
        text.replace(&self.0, "[redacted]")
    }
}

/// The HTTPS side: one keep-alive agent.
struct Http {
    agent: ureq::Agent,
    url: String,
    key: Key,
}

/// What a reply holds, owned (the state machine borrows it).
struct Got {
    status: u16,
    headers: [Option<String>; 5],
    body: Vec<u8>,
}

impl Http {
    fn new(s: &PullSettings, key: Key) -> Result<Http, String> {
        let mut config = ureq::Agent::config_builder();
        if let Some(path) = &s.ca_file {
            config = config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&ca_certs(path)?))
                    .build(),
            );
        }
        if is_loopback(&s.api_url) {
            // A local API (a tunnel, a test server) is never behind the environment's proxy.
            config = config.proxy(None);
        }
        let agent: ureq::Agent = config
            // Error statuses are answers the state machine reads (Retry-After, messages).
            .http_status_as_error(false)
            // The key travels in a header that a redirect would carry to any host.
            .max_redirects(0)
            .timeout_global(Some(s.timeout))
            .user_agent(concat!("jcdetect/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Http {
            agent,
            url: format!("{}{PATH}", s.api_url.trim_end_matches('/')),
            key,
        })
    }

    fn send(&self, req: &Request) -> Result<Got, Failure> {
        let mut r = self
            .agent
            .post(&self.url)
            .header("x-api-key", &self.key.0)
            .header("content-type", "application/json")
            .header("accept", "application/json");
        if let Some(org) = &req.org {
            r = r.header("x-org-id", org);
        }
        let failure = |e: ureq::Error| match e {
            ureq::Error::Timeout(t) => Failure::Timeout(t.to_string()),
            e => Failure::Connection(self.key.redact(&e.to_string())),
        };
        let mut resp = r.send(req.body.as_bytes()).map_err(failure)?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let headers = [
            header("retry-after"),
            header("x-result-count"),
            header("x-limit"),
            header("x-search_after"),
            header("date"),
        ];
        let status = resp.status().as_u16();
        // A reset or a cut connection mid-body is a failed request, retried.
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(failure)?;
        Ok(Got {
            status,
            headers,
            body,
        })
    }
}

/// A pull in progress.
pub struct Pull {
    pub puller: Puller,
    http: Http,
}

impl Pull {
    /// Read the key and set up the client, starting from `--since` ([`Pull::resume`] takes
    /// a saved cursor instead).
    pub fn open(s: &PullSettings) -> Result<Pull, String> {
        let key = Key::load(s.api_key_file.as_deref())?;
        Ok(Pull {
            puller: Puller::new(s.settings.clone(), Vec::new()),
            http: Http::new(s, key)?,
        })
    }

    /// Resume from the saved cursors (decoded from what `--state` keeps).
    pub fn resume(&mut self, s: &PullSettings, saved: Vec<Cursor>) {
        tracing::info!(
            "pull: resuming {} stream(s) from the saved cursor",
            saved.len()
        );
        self.puller = Puller::new(s.settings.clone(), saved);
    }

    /// Run until `--until`, a stop, an output failure or a refusal, handing `out` the
    /// events and the checkpoints ([`Out`]).
    pub fn run(
        &mut self,
        stop: &StopFlag,
        out: &mut dyn FnMut(Out<'_>) -> Result<(), ExitCode>,
    ) -> End {
        loop {
            let step = self.puller.step();
            self.log_notices();
            match step {
                Step::Fetch(req) => {
                    // A page already read is delivered before stopping; a new one is not
                    // asked for.
                    if stop.is_set() {
                        return End::Stopped;
                    }
                    let sent_at = now_nanos().unwrap_or(0);
                    let clock = Instant::now();
                    match self.http.send(&req) {
                        Ok(got) => {
                            let [retry_after, count, limit, search_after, date] = &got.headers;
                            let reply = Reply {
                                status: got.status,
                                retry_after: retry_after.as_deref(),
                                result_count: count.as_deref(),
                                limit: limit.as_deref(),
                                search_after: search_after.as_deref(),
                                date: date.as_deref(),
                                elapsed: clock.elapsed().as_nanos().min(i64::MAX as u128) as i64,
                                body: &got.body,
                            };
                            self.puller.on_reply(Ok(reply), sent_at);
                        }
                        Err(f) => self.puller.on_reply(Err(f), sent_at),
                    }
                    self.log_notices();
                }
                Step::Deliver(batch) => match out(Out::Events(&batch.lines)) {
                    Ok(()) => {
                        self.puller.commit(batch);
                        let puller = &self.puller;
                        if let Err(code) = out(Out::Checkpoint {
                            puller,
                            quiet: false,
                        }) {
                            return End::Output(code);
                        }
                    }
                    Err(code) => {
                        self.puller.abandon(batch);
                        return End::Output(code);
                    }
                },
                Step::Wait(ns) => {
                    let puller = &self.puller;
                    if let Err(code) = out(Out::Checkpoint {
                        puller,
                        quiet: true,
                    }) {
                        return End::Output(code);
                    }
                    if !sleep(ns, stop) {
                        return End::Stopped;
                    }
                }
                Step::Done => return End::Done,
                Step::Fatal(msg) => return End::Refused(self.http.key.redact(&msg)),
            }
        }
    }

    fn log_notices(&mut self) {
        for n in self.puller.take_notices() {
            let text = self.http.key.redact(&n.text);
            if n.error {
                tracing::error!("pull: {text}");
            } else {
                tracing::warn!("pull: {text}");
            }
        }
    }

    /// The counters, as the `pull` object of `--stats-json`.
    pub fn stats(&self) -> serde_json::Value {
        serde_json::to_value(self.puller.counters()).unwrap_or_default()
    }
}

/// `--ca-file`: the certificates of a PEM bundle (what a TLS-inspecting proxy's CA or the
/// system's bundle is shipped as).
fn ca_certs(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("cannot read --ca-file {shown}: {e}"))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(format!("--ca-file {shown}: {e}")),
        }
    }
    if certs.is_empty() {
        return Err(format!("--ca-file {shown}: no PEM certificate in it"));
    }
    Ok(certs)
}

/// Whether `url`'s host is this machine.
pub fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        // [::1]:port
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Sleep `ns`, waking for a stop: `false` if stopped.
fn sleep(ns: i64, stop: &StopFlag) -> bool {
    let until = Instant::now() + Duration::from_nanos(ns.max(0) as u64);
    loop {
        if stop.is_set() {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// A checkpoint at most once per `every` (the cursor is small but a pull can commit
/// hundreds of pages a second).
pub struct Every {
    every: Duration,
    last: Instant,
}

impl Every {
    pub fn new(every: Duration) -> Every {
        Every {
            every,
            last: Instant::now(),
        }
    }

    pub fn due(&mut self) -> bool {
        if self.last.elapsed() >= self.every {
            self.last = Instant::now();
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_and_redaction() {
        for (url, local) in [
            ("http://127.0.0.1:8080", true),
            ("http://localhost/x", true),
            ("http://[::1]:9/", true),
            ("https://api.jumpcloud.com", false),
            ("https://10.0.0.1:443", false),
            ("127.0.0.2:80", true),
        ] {
            assert_eq!(is_loopback(url), local, "{url}");
        }
        let k = Key("s3cret".into());
        assert_eq!(
            k.redact("bad key s3cret, s3cret!"),
            "bad key [redacted], [redacted]!"
        );
    }
}
