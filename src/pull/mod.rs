//! The Directory Insights API source, without I/O: which request to send next, what a reply
//! means (events to deliver, a fault to back off from, the end of a query), and the cursor
//! that makes a restart neither skip nor repeat events. The CLI (`src/cli/pull.rs`) sends the
//! requests, sleeps, writes the events and saves the cursor; everything that decides is here,
//! so the tests can drive it through thousands of fault scripts without a network.
//!
//! The protocol (`POST /insights/directory/v1/events`): a query is `service`, `start_time`,
//! optional `end_time`, `limit`, `sort: ASC`, and `search_after` from the previous page's
//! `X-Search_after` header; another page exists while a page is full. Each poll re-queries
//! an overlap (up to `lag` behind what it read before, by the API's clock), so events the
//! API ingests late are still read, and skips the events it already delivered by their DI
//! `id`; [`cursor`] says why that start is exact.
//!
//! Several organizations and services are pulled as separate streams whose pages are merged
//! by event time, so the detector downstream sees one stream in time order.
//!
//! Feature `pull` (on with the CLI): never in the WASM builds.

pub mod cursor;
mod reply;

use crate::decode::time::to_rfc3339;
use cursor::Cursor;
pub use reply::{parse_http_date, Failure, Reply};
use std::collections::VecDeque;

const SECOND: i64 = 1_000_000_000;
/// A full page that repeats the previous one this many times in a row ends the stream's
/// query for this poll (the next poll starts again from its cursor).
const MAX_REPEATS: u32 = 3;
/// A stream whose request failed this many times in a row is left out of the rest of the
/// poll when other streams can go on (a mistyped `--org-id` must not stop the others).
const CUT_AFTER: u32 = 5;
/// Retry-After values above this are taken as this (a misconfigured proxy must not park the
/// collector for a day).
const MAX_RETRY_AFTER: i64 = 3600 * SECOND;
/// The API's largest page.
pub const MAX_LIMIT: u32 = 10_000;

/// What to pull and how (the CLI's options, in ns).
#[derive(Debug, Clone)]
pub struct Settings {
    /// DI services (`all`, `directory`, `sso`, …); at least one.
    pub services: Vec<String>,
    /// `x-org-id`s; none: the key's own organization (no header).
    pub orgs: Vec<String>,
    /// Start of a first run (a saved cursor takes precedence).
    pub since: i64,
    /// Deliver events up to and including this time, then end.
    pub until: Option<i64>,
    /// The longest the API may take to make an event readable after its time (ingestion
    /// delay): each poll re-reads this far back.
    pub lag: i64,
    /// Between polls, once every stream has read all there is.
    pub poll: i64,
    /// Page size asked for (1..=10 000).
    pub limit: u32,
    /// First retry delay; doubles per failed attempt up to `backoff_max`.
    pub backoff: i64,
    pub backoff_max: i64,
}

impl Settings {
    /// The org × service streams, in a fixed order.
    pub fn streams(&self) -> Vec<(Option<String>, String)> {
        let orgs: Vec<Option<String>> = if self.orgs.is_empty() {
            vec![None]
        } else {
            self.orgs.iter().cloned().map(Some).collect()
        };
        orgs.iter()
            .flat_map(|o| self.services.iter().map(move |s| (o.clone(), s.clone())))
            .collect()
    }
}

/// One request to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `x-org-id`, if any.
    pub org: Option<String>,
    /// The JSON body.
    pub body: String,
}

/// The events of a delivery: NDJSON lines, in the order to write them.
#[derive(Debug, Default)]
pub struct Batch {
    pub lines: Vec<u8>,
    pub events: usize,
    /// (stream, key, time) of each event, for [`Puller::commit`].
    delivered: Vec<(usize, Box<str>, Option<i64>)>,
}

/// What the caller does next.
#[derive(Debug)]
pub enum Step {
    /// Send this request, then call [`Puller::on_reply`].
    Fetch(Request),
    /// Write these events; once they are written, call [`Puller::commit`].
    Deliver(Batch),
    /// Sleep this long (ns), then ask again: a backoff or the poll interval.
    Wait(i64),
    /// `until` reached on every stream: all events up to it are delivered.
    Done,
    /// The API refused the run before it ever answered (bad key, wrong URL, bad service):
    /// a setup error.
    Fatal(String),
}

/// A message for the log, said once where it happens.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub error: bool,
    pub text: String,
}

/// Run counters (`--stats-json` → `pull`).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Counters {
    /// Polls read to their end.
    pub polls: u64,
    pub requests: u64,
    pub pages: u64,
    pub events: u64,
    /// Already delivered (the overlap re-read, a repeated page, a duplicate in a page).
    pub duplicates: u64,
    /// Older than the query's start (the API should not return them).
    pub before_start: u64,
    /// After `--until` (not delivered).
    pub after_until: u64,
    pub without_id: u64,
    pub without_timestamp: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub unavailable: u64,
    pub server_errors: u64,
    pub client_errors: u64,
    pub auth_failures: u64,
    pub timeouts: u64,
    pub connection_errors: u64,
    pub bad_bodies: u64,
    pub count_mismatches: u64,
    pub repeated_pages: u64,
    pub missing_search_after: u64,
    /// Server clock minus local clock at the last reply with a `Date`, in seconds.
    pub clock_skew_secs: i64,
}

/// One org × service: its cursor and its query of this poll.
struct Stream {
    cursor: Cursor,
    /// Events older than this are skipped in this poll's query.
    lower: i64,
    /// `search_after` for the next page, as the server sent it.
    after: Option<String>,
    /// The query's `start_time` (whole seconds, at or before `lower`).
    from: i64,
    /// All pages of this poll's query are read.
    exhausted: bool,
    /// `until` is behind us: nothing more to read, ever.
    done: bool,
    /// Read and not yet delivered, in page order.
    buf: VecDeque<Pending>,
    /// The bytes the pending events point into.
    page: Vec<u8>,
    /// (X-Search_after, body hash) of the last full page, to see a repeat.
    last_page: Option<(Option<String>, u64)>,
    repeats: u32,
    /// Server time of this poll's first answered page: what the API had then, this poll
    /// reads.
    poll_now: Option<i64>,
    /// The newest event time delivered in this poll.
    poll_read: Option<i64>,
    /// This poll's query was cut short (a repeating page): it does not prove anything read.
    cut: bool,
    /// The millisecond of the last event of the previous page of this query: a page with
    /// older events is one the server sent before.
    prev_last_ms: Option<i64>,
    /// The API answered this stream in this run: a refusal is no longer a setup error.
    answered: bool,
    /// Polls in a row this stream was left out of for failing: then one try per poll, so
    /// a stream that stays down does not hold the others up poll after poll.
    failing: u32,
    /// The largest page of this query (a page smaller than that is the last).
    max_page: usize,
}

struct Pending {
    key: Box<str>,
    ts: Option<i64>,
    start: usize,
    end: usize,
}

/// The pull's state machine. Call [`Puller::step`] and do what it says.
pub struct Puller {
    settings: Settings,
    streams: Vec<Stream>,
    /// The stream whose request is out (or will be retried).
    asking: Option<usize>,
    attempt: u32,
    wait: Option<i64>,
    /// A batch handed out and not committed yet.
    uncommitted: bool,
    /// A poll has ended; the next one starts after `poll`.
    between_polls: bool,
    counters: Counters,
    notices: Vec<Notice>,
    skew_said: bool,
    /// Why the run cannot go on (reported by `next`).
    fatal: Option<String>,
    /// No poll has ended yet: a refusal now is a setup error.
    first_poll: bool,
}

impl Puller {
    /// A puller for `settings`, resuming from `saved` cursors (from a state file) where they
    /// match a stream.
    pub fn new(settings: Settings, saved: Vec<Cursor>) -> Puller {
        let (cursors, dropped) = cursor::resume(saved, &settings.streams(), settings.since);
        let mut notices = Vec::new();
        for c in dropped {
            notices.push(Notice {
                error: false,
                text: format!(
                    "the saved cursor of {} is dropped: not pulled in this run",
                    stream_name(&c.org, &c.service)
                ),
            });
        }
        let streams = cursors
            .into_iter()
            .map(|cursor| Stream {
                cursor,
                lower: 0,
                after: None,
                from: 0,
                exhausted: true,
                done: false,
                buf: VecDeque::new(),
                page: Vec::new(),
                last_page: None,
                repeats: 0,
                poll_now: None,
                poll_read: None,
                cut: false,
                prev_last_ms: None,
                answered: false,
                failing: 0,
                max_page: 0,
            })
            .collect();
        let mut p = Puller {
            settings,
            streams,
            asking: None,
            attempt: 0,
            wait: None,
            uncommitted: false,
            between_polls: false,
            counters: Counters::default(),
            notices,
            skew_said: false,
            fatal: None,
            first_poll: true,
        };
        p.start_poll();
        p
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Messages since the last call.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    /// The cursors, as JSON: what a state file keeps. Only committed events count.
    pub fn cursor_json(&self) -> Vec<u8> {
        let cursors: Vec<Cursor> = self.streams.iter().map(|s| s.cursor.clone()).collect();
        cursor::encode(&cursors)
    }

    /// What to do next.
    pub fn step(&mut self) -> Step {
        if self.uncommitted {
            // A caller bug, said rather than risking a skipped or repeated event.
            return Step::Fatal("internal: a batch was not committed before the next step".into());
        }
        if let Some(f) = &self.fatal {
            return Step::Fatal(f.clone());
        }
        if let Some(w) = self.wait.take() {
            return Step::Wait(w);
        }
        if let Some(i) = self.asking {
            return Step::Fetch(self.request(i));
        }
        if self.between_polls {
            self.between_polls = false;
            self.start_poll();
        }
        // A stream with nothing buffered and more to read must be read before the merge can
        // go on: its next event may be the oldest.
        if let Some(i) = (0..self.streams.len()).find(|&i| {
            let s = &self.streams[i];
            !s.done && !s.exhausted && s.buf.is_empty()
        }) {
            self.asking = Some(i);
            return Step::Fetch(self.request(i));
        }
        if self.streams.iter().any(|s| !s.buf.is_empty()) {
            return Step::Deliver(self.merge());
        }
        // Every stream read to its end for this poll: all the API had when the poll began.
        if self.streams.iter().all(|s| s.done || !s.cut) {
            self.counters.polls += 1;
        }
        self.first_poll = false;
        let (until, lag) = (self.settings.until, self.settings.lag);
        for s in &mut self.streams {
            if let (false, false, Some(p)) = (s.done, s.cut, s.poll_now) {
                s.cursor.advance(until.unwrap_or(i64::MAX), p, lag);
            }
        }
        if let Some(until) = until {
            // Events up to `until` can reach the API until `lag` after it: done once a poll
            // that began after that (by the API's clock) has read them all.
            if self.streams.iter().all(|s| s.cursor.complete(until, lag)) {
                return Step::Done;
            }
        }
        self.between_polls = true;
        Step::Wait(self.settings.poll)
    }

    /// The written batch: its events are delivered and will never be delivered again.
    pub fn commit(&mut self, batch: Batch) {
        self.uncommitted = false;
        let mut touched = vec![false; self.streams.len()];
        for (i, key, ts) in batch.delivered {
            let s = &mut self.streams[i];
            // An event without a time is kept as if at the poll's time: as long as the
            // overlap can return it.
            s.cursor
                .seen
                .insert(key, ts.or(s.poll_now).unwrap_or(s.lower));
            if let Some(t) = ts {
                s.poll_read = Some(s.poll_read.map_or(t, |r| r.max(t)));
            }
            touched[i] = true;
        }
        self.counters.events += batch.events as u64;
        let lag = self.settings.lag;
        for (i, t) in touched.into_iter().enumerate() {
            let s = &mut self.streams[i];
            let (true, Some(read), Some(p)) = (t, s.poll_read, s.poll_now) else {
                continue;
            };
            // Pages come in (millisecond, id) order: everything before this millisecond
            // that the API had at `p` is delivered (`cursor` says why that holds whatever
            // the cursor held before).
            let read = read.div_euclid(1_000_000) * 1_000_000 - 1;
            s.cursor.advance(read, p, lag);
        }
    }

    /// A batch that could not be written: its events stay undelivered (the run is ending;
    /// the saved cursor does not include them).
    pub fn abandon(&mut self, _batch: Batch) {
        self.uncommitted = false;
    }

    fn start_poll(&mut self) {
        let lag = self.settings.lag;
        for s in &mut self.streams {
            if let Some(until) = self.settings.until {
                // Complete already (a restart after the end): nothing to ask.
                s.done |= s.cursor.complete(until, lag);
            }
            if s.done {
                continue;
            }
            s.lower = s.cursor.lower_bound(lag);
            // Whole seconds: any API accepts them.
            s.from = s.lower;
            s.after = None;
            s.exhausted = false;
            s.last_page = None;
            s.repeats = 0;
            s.poll_now = None;
            s.poll_read = None;
            s.cut = false;
            s.prev_last_ms = None;
            s.max_page = 0;
        }
    }

    fn request(&self, i: usize) -> Request {
        let s = &self.streams[i];
        let mut body = serde_json::Map::new();
        body.insert("service".into(), s.cursor.service.clone().into());
        body.insert("start_time".into(), to_rfc3339(s.from).into());
        if let Some(until) = self.settings.until {
            // One second past `until`, so an API that ends its range exclusively still
            // returns events at `until`; later ones are dropped here.
            body.insert("end_time".into(), to_rfc3339(until + SECOND).into());
        }
        body.insert("limit".into(), self.settings.limit.into());
        body.insert("sort".into(), "ASC".into());
        if let Some(after) = &s.after {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(after) {
                body.insert("search_after".into(), v);
            }
        }
        Request {
            org: s.cursor.org.clone(),
            body: serde_json::Value::Object(body).to_string(),
        }
    }

    /// The request of stream `i` is answered (for good).
    fn settle(&mut self, _i: usize) {
        self.asking = None;
        self.attempt = 0;
    }

    /// Try the same request again after a backoff (or the server's Retry-After).
    fn retry(&mut self, i: usize, retry_after: Option<i64>, why: String) {
        self.counters.retries += 1;
        let backoff = self
            .settings
            .backoff
            .saturating_mul(1i64 << self.attempt.min(30))
            .min(self.settings.backoff_max);
        self.attempt += 1;
        // The server's Retry-After, but never less than the first backoff: `0` again and
        // again must not become a busy loop.
        let wait = retry_after.map_or(backoff, |r| {
            r.min(MAX_RETRY_AFTER).max(self.settings.backoff)
        });
        // Other streams with something left to read in this poll.
        let others = (0..self.streams.len()).any(|j| {
            let o = &self.streams[j];
            j != i && !o.done && (!o.exhausted || !o.buf.is_empty())
        });
        let tries = if self.streams[i].failing > 0 {
            1
        } else {
            CUT_AFTER
        };
        if self.attempt >= tries && others {
            let s = &mut self.streams[i];
            s.exhausted = true;
            s.cut = true;
            s.failing += 1;
            let text = format!(
                "{}: {why}; {} failures in a row: left out of this poll so the other streams go on (the next poll tries it again from its cursor)",
                stream_name(&s.cursor.org, &s.cursor.service),
                self.attempt
            );
            self.notices.push(Notice { error: true, text });
            self.settle(i);
            return;
        }
        let s = &self.streams[i];
        self.notices.push(Notice {
            error: self.attempt > 3,
            text: format!(
                "{}: {why}; retry {} in {:.3} s",
                stream_name(&s.cursor.org, &s.cursor.service),
                self.attempt,
                wait as f64 / SECOND as f64
            ),
        });
        self.asking = Some(i);
        self.wait = Some(wait);
    }

    /// A refusal: fatal before the API ever answered this stream in this run, retried loudly
    /// after.
    fn refused(&mut self, i: usize, msg: String, retry_after: Option<i64>) {
        if !self.streams[i].answered && self.first_poll {
            self.asking = None;
            self.wait = None;
            // `next` reports it.
            self.fatal = Some(msg);
            return;
        }
        self.attempt = self.attempt.max(4);
        self.retry(i, retry_after, msg);
    }

    /// Merge the buffered events of every stream by event time, up to the point where a
    /// stream runs dry and must be read again.
    fn merge(&mut self) -> Batch {
        let mut batch = Batch::default();
        loop {
            let mut best: Option<(i64, usize)> = None;
            for (i, s) in self.streams.iter().enumerate() {
                if let Some(p) = s.buf.front() {
                    // An event without a time goes first: it cannot be placed.
                    let t = p.ts.unwrap_or(i64::MIN);
                    if best.is_none_or(|(bt, _)| t < bt) {
                        best = Some((t, i));
                    }
                }
            }
            let Some((_, i)) = best else { break };
            let s = &mut self.streams[i];
            let Some(p) = s.buf.pop_front() else { break };
            batch.lines.extend_from_slice(&s.page[p.start..p.end]);
            batch.events += 1;
            batch.delivered.push((i, p.key, p.ts));
            if s.buf.is_empty() && !s.exhausted && !s.done {
                break;
            }
        }
        self.uncommitted = true;
        batch
    }
}

/// Every element is a JSON object (an event).
fn events_are_objects(events: &[&serde_json::value::RawValue]) -> bool {
    events.iter().all(|e| e.get().starts_with('{'))
}

fn stream_name(org: &Option<String>, service: &str) -> String {
    match org {
        Some(o) => format!("org {o} service {service}"),
        None => format!("service {service}"),
    }
}

#[cfg(test)]
mod tests;
