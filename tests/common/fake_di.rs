//! A fake of JumpCloud's Directory Insights events API (`POST /insights/directory/v1/events`)
//! for the `jcdetect pull` tests: HTTP/1.1 with keep-alive on loopback, std only, one thread
//! per connection. It serves a fixed set of events under a VIRTUAL clock that moves one step
//! per request, so late arrivals, organizations and faults are scripted deterministically.
//!
//! Include it with `#[path = "common/fake_di.rs"] mod fake_di;` (not from `common/mod.rs`:
//! every other test binary would carry it as dead code).
//!
//! Where the real API leaves room, the fake decides:
//! - Times compare at millisecond precision, as the real API's store does: an event's
//!   timestamp, `start_time` (inclusive) and `end_time` (exclusive) are all truncated to the
//!   millisecond, and pages are in (ms, id) order, ids compared bytewise.
//! - Request number `n` (0-based, counting every request received on any connection, whatever
//!   its path or status) and the clock move together when a request has been read in full:
//!   request `n` sees `now = clock_start + (n + 1) * clock_step` (with a constant step).
//! - Organizations: an event with `org: Some(o)` is served only to requests with
//!   `x-org-id: o`; one with `org: None` only to requests without `x-org-id` (an empty header
//!   counts as none).
//! - A fault scripted for request `n` replaces its answer whatever the request was (a 429 for a
//!   request with a wrong key is still a 429); faults that alter "the real answer" alter that
//!   request's normal answer, error or not. Only unfaulted 200s are remembered for
//!   `RepeatPrevious`, per (org, service); it applies to paging requests (with
//!   `search_after`), and with nothing to repeat the request gets its normal answer.
#![allow(dead_code)]

use jcdetect::decode::time::{parse_rfc3339, NANOS};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const PATH: &str = "/insights/directory/v1/events";
pub const DEFAULT_LIMIT: u64 = 1_000;
pub const MAX_LIMIT: u64 = 10_000;
const MS: i64 = 1_000_000;
/// Bounds on a request, so a broken client fails fast instead of growing the fake's memory.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1024 * 1024;

/// One event the fake can serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeEvent {
    /// ns since the epoch, parsed from the event's `timestamp`.
    pub ts: i64,
    pub id: String,
    /// The organization it belongs to (see the header on `x-org-id`).
    pub org: Option<String>,
    /// Its `service` field; an event without one only matches `service: "all"`.
    pub service: Option<String>,
    /// The event's JSON text on one line, served byte for byte.
    pub json: String,
    /// Virtual ns at which it becomes visible; late arrivals have `arrival > ts`.
    pub arrival: i64,
}

impl FakeEvent {
    /// An event from one NDJSON line (trailing newline allowed), visible at its own timestamp.
    /// Panics on a line without a string `id` or an RFC 3339 `timestamp`: test data is wrong.
    pub fn from_line(line: &str, org: Option<&str>) -> FakeEvent {
        let json = line.trim_end_matches(['\n', '\r']).to_string();
        let v: Value = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("fake DI: event is not JSON ({e}): {json}"));
        let id = v["id"]
            .as_str()
            .unwrap_or_else(|| panic!("fake DI: event without a string id: {json}"))
            .to_string();
        let ts = v["timestamp"]
            .as_str()
            .and_then(|t| parse_rfc3339(t).ok())
            .unwrap_or_else(|| panic!("fake DI: event without an RFC 3339 timestamp: {json}"));
        FakeEvent {
            ts,
            id,
            org: org.map(str::to_string),
            service: v["service"].as_str().map(str::to_string),
            json,
            arrival: ts,
        }
    }

    /// The API's sort key, also what `X-Search_after` carries: (timestamp in ms, id).
    pub fn key(&self) -> (i64, &str) {
        (self.ts.div_euclid(MS), &self.id)
    }
}

/// What request `n` gets instead of its normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// This status with `{"message":"fault"}`, and a `Retry-After` header when given.
    Status(u16, Option<String>),
    /// Read the request, sleep, then close the connection without answering.
    Stall(Duration),
    /// The normal answer's headers (full Content-Length) and half its body, then close.
    ResetMidBody,
    /// The normal answer with its body cut in half and Content-Length matching the cut.
    Truncated,
    /// A 200 whose body is `{"error":"x"}`.
    NotAnArray,
    /// The paging fault (the API ignoring `search_after`): a request that carries a
    /// `search_after` gets exactly the last unfaulted 200 this (org, service) got: status,
    /// headers, body. A first page (no `search_after`) gets its normal answer.
    RepeatPrevious,
    /// The normal answer with `X-Result-Count` one more than the events in its body.
    WrongCount,
}

#[derive(Debug, Clone)]
pub struct FakeConfig {
    pub api_key: String,
    /// Virtual ns at start. Default: the wall clock, in whole seconds, so the fake's `Date`
    /// agrees with the client's own clock and generated replays (2025) are all visible.
    pub clock_start: i64,
    /// Virtual ns added at every request, before answering it.
    pub clock_step: i64,
    /// ns added to the `Date` header only (a server clock that is off).
    pub date_skew: i64,
    /// Faults by request number.
    pub faults: BTreeMap<u64, Fault>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        FakeConfig {
            api_key: "test-key".into(),
            clock_start: secs * NANOS,
            clock_step: NANOS,
            date_skew: 0,
            faults: BTreeMap::new(),
        }
    }
}

/// What the fake saw of one request and how it answered.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestLog {
    pub n: u64,
    /// `x-org-id`, when sent and not empty.
    pub org: Option<String>,
    /// The request body as JSON; `Null` when it is not JSON.
    pub body: Value,
    /// The status sent; 0 when nothing was (`Stall`).
    pub status: u16,
    /// Whether `x-api-key` was sent and was the configured key.
    pub api_key_seen: bool,
    /// The fault applied, as `{:?}`.
    pub fault: Option<String>,
}

/// The fake server; dropping it stops it and closes its open connections.
pub struct FakeDi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FakeDi {
    /// Serve `events` on 127.0.0.1 (a free port) from now on.
    pub fn start(events: Vec<FakeEvent>, cfg: FakeConfig) -> FakeDi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fake DI: bind");
        let addr = listener.local_addr().expect("fake DI: local addr");
        let shared = Arc::new(Shared {
            data: Data::new(events),
            api_key: cfg.api_key,
            date_skew: cfg.date_skew,
            clock: Mutex::new(Clock {
                now: cfg.clock_start,
                step: cfg.clock_step,
                next_n: 0,
            }),
            faults: Mutex::new(cfg.faults),
            log: Mutex::new(Vec::new()),
            last_ok: Mutex::new(HashMap::new()),
            conns: Mutex::new(HashMap::new()),
            stop: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        let accept = std::thread::spawn(move || {
            for (id, stream) in (0u64..).zip(listener.incoming()) {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                // Kept so that Drop can close connections a client still holds open.
                if let Ok(c) = stream.try_clone() {
                    lock(&s.conns).insert(id, c);
                }
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    s.serve(stream);
                    lock(&s.conns).remove(&id);
                });
            }
        });
        FakeDi {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request so far, by request number.
    pub fn requests(&self) -> Vec<RequestLog> {
        let mut v = lock(&self.shared.log).clone();
        v.sort_by_key(|r| r.n);
        v
    }

    /// The virtual clock, ns.
    pub fn now(&self) -> i64 {
        lock(&self.shared.clock).now
    }

    pub fn set_now(&self, ns: i64) {
        lock(&self.shared.clock).now = ns;
    }

    pub fn set_clock_step(&self, ns: i64) {
        lock(&self.shared.clock).step = ns;
    }

    /// Requests received so far, which is the number the next one will get.
    pub fn request_count(&self) -> u64 {
        lock(&self.shared.clock).next_n
    }

    /// Script a fault for request `at_request` (one already received is never affected).
    pub fn push_fault(&self, at_request: u64, f: Fault) {
        lock(&self.shared.faults).insert(at_request, f);
    }
}

impl Drop for FakeDi {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // accept() has no timeout: a connection of our own wakes it up to see the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for (_, c) in lock(&self.shared.conns).drain() {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

/// A test thread that panicked holding a lock must not turn every later request into a panic.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Clock {
    now: i64,
    step: i64,
    next_n: u64,
}

/// The events, each (org, service) selection as its own sorted list.
struct Data {
    events: Vec<FakeEvent>,
    /// (org, Some(service)) for one service, (org, None) for `all`.
    lists: HashMap<(Option<String>, Option<String>), List>,
}

struct List {
    /// Positions in `Data::events`, in (ms, id) order.
    pos: Vec<usize>,
    /// Least arrival of `pos[i..]` and of `pos[..=i]`: a page stops scanning where nothing
    /// further can be visible yet, so a live tail does not walk every future event.
    min_from: Vec<i64>,
    min_upto: Vec<i64>,
}

impl Data {
    fn new(mut events: Vec<FakeEvent>) -> Data {
        events.sort_by(|a, b| a.key().cmp(&b.key()));
        let mut pos: HashMap<(Option<String>, Option<String>), Vec<usize>> = HashMap::new();
        for (i, e) in events.iter().enumerate() {
            pos.entry((e.org.clone(), None)).or_default().push(i);
            if let Some(s) = &e.service {
                pos.entry((e.org.clone(), Some(s.clone())))
                    .or_default()
                    .push(i);
            }
        }
        let lists = pos
            .into_iter()
            .map(|(k, pos)| {
                let arr: Vec<i64> = pos.iter().map(|&p| events[p].arrival).collect();
                let mut min_upto = arr.clone();
                for i in 1..min_upto.len() {
                    min_upto[i] = min_upto[i].min(min_upto[i - 1]);
                }
                let mut min_from = arr;
                for i in (0..min_from.len().saturating_sub(1)).rev() {
                    min_from[i] = min_from[i].min(min_from[i + 1]);
                }
                let list = List {
                    pos,
                    min_from,
                    min_upto,
                };
                (k, list)
            })
            .collect();
        Data { events, lists }
    }

    /// The page for `q` at virtual time `now`: positions in `events`, in the page's order.
    fn page(&self, org: &Option<String>, q: &Query, now: i64) -> Vec<usize> {
        let svc = (q.service != "all").then(|| q.service.clone());
        let Some(l) = self.lists.get(&(org.clone(), svc)) else {
            return Vec::new();
        };
        let first = |pred: &dyn Fn((i64, &str)) -> bool| {
            l.pos.partition_point(|&p| pred(self.events[p].key()))
        };
        let mut lo = first(&|k| k.0 < q.start_ms);
        let mut hi = q.end_ms.map_or(l.pos.len(), |e| first(&|k| k.0 < e));
        let limit = q.limit as usize;
        let mut out = Vec::with_capacity(limit.min(hi.saturating_sub(lo)));
        let visible = |i: usize| self.events[l.pos[i]].arrival <= now;
        if q.desc {
            if let Some((ms, id)) = &q.search_after {
                hi = hi.min(first(&|k| k < (*ms, id.as_str())));
            }
            for i in (lo..hi).rev() {
                if out.len() == limit || l.min_upto[i] > now {
                    break;
                }
                if visible(i) {
                    out.push(l.pos[i]);
                }
            }
        } else {
            if let Some((ms, id)) = &q.search_after {
                lo = lo.max(first(&|k| k <= (*ms, id.as_str())));
            }
            for i in lo..hi {
                if out.len() == limit || l.min_from[i] > now {
                    break;
                }
                if visible(i) {
                    out.push(l.pos[i]);
                }
            }
        }
        out
    }
}

/// A valid request body.
struct Query {
    service: String,
    start_ms: i64,
    end_ms: Option<i64>,
    limit: u64,
    desc: bool,
    search_after: Option<(i64, String)>,
}

impl Query {
    /// The body, or the 400 message for it.
    fn parse(v: &Value) -> Result<Query, String> {
        let Some(o) = v.as_object() else {
            return Err("request body must be a JSON object".into());
        };
        let time = |name: &str| -> Result<Option<i64>, String> {
            match o.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => parse_rfc3339(s)
                    .map(Some)
                    .map_err(|_| format!("{name} is not an RFC 3339 time")),
                Some(_) => Err(format!("{name} must be a string")),
            }
        };
        let service = match o.get("service") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err("service is required".into()),
        };
        let start = time("start_time")?.ok_or("start_time is required")?;
        let end = time("end_time")?;
        if end.is_some_and(|e| e <= start) {
            return Err("Start Time not after End Time".into());
        }
        let limit = match o.get("limit") {
            None | Some(Value::Null) => DEFAULT_LIMIT,
            Some(v) => match v.as_u64() {
                Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => return Err(format!("limit must be 1..={MAX_LIMIT}")),
            },
        };
        let desc = match o.get("sort").and_then(Value::as_str) {
            None => false,
            Some("ASC") => false,
            Some("DESC") => true,
            Some(_) => return Err("sort must be ASC or DESC".into()),
        };
        let search_after = match o.get("search_after") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => match (a.first().and_then(Value::as_i64), a.get(1)) {
                (Some(ms), Some(Value::String(id))) if a.len() == 2 => Some((ms, id.clone())),
                _ => return Err("search_after must be [epoch_ms, \"id\"]".into()),
            },
            Some(_) => return Err("search_after must be [epoch_ms, \"id\"]".into()),
        };
        Ok(Query {
            service,
            start_ms: start.div_euclid(MS),
            end_ms: end.map(|e| e.div_euclid(MS)),
            limit,
            desc,
            search_after,
        })
    }
}

/// One HTTP request, read in full.
struct Request {
    method: String,
    path: String,
    /// Names lowercased.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    close: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One answer; `Content-Length` is among `headers` so that faults can lie about it.
#[derive(Clone)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn new(status: u16, date: &str, n: u64, body: Vec<u8>) -> Answer {
        let headers = vec![
            ("Date", date.to_string()),
            ("Content-Type", "application/json".to_string()),
            ("Content-Length", body.len().to_string()),
            ("X-Request-Id", format!("fake-{n}")),
        ];
        Answer {
            status,
            headers,
            body,
        }
    }

    fn message(status: u16, date: &str, n: u64, msg: &str) -> Answer {
        let body = serde_json::json!({ "message": msg })
            .to_string()
            .into_bytes();
        Answer::new(status, date, n, body)
    }

    fn set(&mut self, name: &'static str, value: String) {
        match self.headers.iter_mut().find(|(k, _)| *k == name) {
            Some(h) => h.1 = value,
            None => self.headers.push((name, value)),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    fn head(&self, close: bool) -> Vec<u8> {
        let mut h = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (k, v) in &self.headers {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        if close {
            h.push_str("Connection: close\r\n");
        }
        h.push_str("\r\n");
        h.into_bytes()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Fault",
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 §5.6.7).
pub fn imf_fixdate(ns: i64) -> String {
    chrono::DateTime::from_timestamp(ns.div_euclid(NANOS), 0)
        .map(|d| d.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default()
}

struct Shared {
    data: Data,
    api_key: String,
    date_skew: i64,
    clock: Mutex<Clock>,
    faults: Mutex<BTreeMap<u64, Fault>>,
    log: Mutex<Vec<RequestLog>>,
    /// The last unfaulted 200 per (org, service), for `Fault::RepeatPrevious`.
    last_ok: Mutex<HashMap<(Option<String>, String), Answer>>,
    conns: Mutex<HashMap<u64, TcpStream>>,
    stop: AtomicBool,
}

impl Shared {
    /// Answer requests on one connection until it closes, a fault drops it or the fake stops.
    fn serve(&self, stream: TcpStream) {
        // Headers and body go out in separate writes: no Nagle delay on the second.
        let _ = stream.set_nodelay(true);
        let mut r = BufReader::new(stream);
        while !self.stop.load(Ordering::SeqCst) {
            let Ok(Some(req)) = read_request(&mut r) else {
                return;
            };
            if !self.respond(&req, r.get_mut()) || req.close {
                let _ = r.get_ref().shutdown(Shutdown::Both);
                return;
            }
        }
    }

    /// Answer one request; false when the connection must close.
    fn respond(&self, req: &Request, w: &mut TcpStream) -> bool {
        let (n, now) = {
            let mut c = lock(&self.clock);
            c.now += c.step;
            c.next_n += 1;
            (c.next_n - 1, c.now)
        };
        let date = imf_fixdate(now + self.date_skew);
        let org = req
            .header("x-org-id")
            .filter(|o| !o.is_empty())
            .map(str::to_string);
        let mut log = RequestLog {
            n,
            org,
            body: serde_json::from_slice(&req.body).unwrap_or(Value::Null),
            status: 0,
            api_key_seen: req.header("x-api-key") == Some(self.api_key.as_str()),
            fault: None,
        };
        let (mut ans, service) = self.answer(req, &log, now, &date);
        let fault = lock(&self.faults).remove(&n);
        log.fault = fault.as_ref().map(|f| format!("{f:?}"));
        let (mut cut, mut keep) = (None, true);
        match fault {
            None => {
                if let (200, Some(s)) = (ans.status, &service) {
                    lock(&self.last_ok).insert((log.org.clone(), s.clone()), ans.clone());
                }
            }
            Some(Fault::Status(code, retry)) => {
                ans = Answer::message(code, &date, n, "fault");
                if let Some(r) = retry {
                    ans.set("Retry-After", r);
                }
            }
            Some(Fault::Stall(d)) => {
                lock(&self.log).push(log);
                std::thread::sleep(d);
                return false;
            }
            Some(Fault::ResetMidBody) => (cut, keep) = (Some(ans.body.len() / 2), false),
            Some(Fault::Truncated) => {
                ans.body.truncate(ans.body.len() / 2);
                ans.set("Content-Length", ans.body.len().to_string());
            }
            Some(Fault::NotAnArray) => {
                ans = Answer::new(200, &date, n, br#"{"error":"x"}"#.to_vec())
            }
            Some(Fault::RepeatPrevious) => {
                let paging = log.body.get("search_after").is_some();
                let key = service.filter(|_| paging).map(|s| (log.org.clone(), s));
                let prev = key.and_then(|k| lock(&self.last_ok).get(&k).cloned());
                match prev {
                    Some(p) => ans = p,
                    None => {
                        log.fault = Some("RepeatPrevious (nothing to repeat: normal answer)".into())
                    }
                }
            }
            Some(Fault::WrongCount) => {
                if let Some(c) = ans
                    .get("X-Result-Count")
                    .and_then(|c| c.parse::<u64>().ok())
                {
                    ans.set("X-Result-Count", (c + 1).to_string());
                }
            }
        }
        // Logged before the answer goes out: a client that has its answer sees its log entry.
        log.status = ans.status;
        lock(&self.log).push(log);
        let body = &ans.body[..cut.unwrap_or(ans.body.len())];
        let sent = w
            .write_all(&ans.head(req.close || !keep))
            .and_then(|()| w.write_all(body))
            .and_then(|()| w.flush());
        sent.is_ok() && keep
    }

    /// The normal answer, and the service of a valid query (what `RepeatPrevious` keys on).
    fn answer(
        &self,
        req: &Request,
        log: &RequestLog,
        now: i64,
        date: &str,
    ) -> (Answer, Option<String>) {
        let n = log.n;
        let path = req.path.split('?').next().unwrap_or("");
        if path != PATH {
            return (Answer::message(404, date, n, "Not Found"), None);
        }
        if req.method != "POST" {
            let mut a = Answer::message(405, date, n, "Method Not Allowed");
            a.set("Allow", "POST".into());
            return (a, None);
        }
        if !log.api_key_seen {
            return (Answer::message(401, date, n, "Unauthorized"), None);
        }
        let q = match Query::parse(&log.body) {
            Ok(q) => q,
            Err(m) => return (Answer::message(400, date, n, &m), None),
        };
        let page = self.data.page(&log.org, &q, now);
        let events = &self.data.events;
        let size: usize = page.iter().map(|&p| events[p].json.len() + 1).sum();
        let mut out = Vec::with_capacity(size + 2);
        out.push(b'[');
        for (k, &p) in page.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            out.extend_from_slice(events[p].json.as_bytes());
        }
        out.push(b']');
        let mut a = Answer::new(200, date, n, out);
        a.set("X-Result-Count", page.len().to_string());
        a.set("X-Limit", q.limit.to_string());
        a.set("X-Sort", if q.desc { "DESC" } else { "ASC" }.into());
        if let Some(&p) = page.last() {
            let sa = serde_json::to_string(&events[p].key()).unwrap_or_default();
            a.set("X-Search_after", sa);
        }
        (a, Some(q.service))
    }
}

/// The next request on the connection; `None` at a clean end (EOF between requests).
fn read_request(r: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let mut line = Vec::new();
    let mut head = 0;
    let mut next_line = |r: &mut BufReader<TcpStream>, line: &mut Vec<u8>| -> io::Result<usize> {
        line.clear();
        let n = r.by_ref().take(MAX_HEAD as u64).read_until(b'\n', line)?;
        head += n;
        if head > MAX_HEAD {
            return Err(bad("request head too large"));
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        Ok(n)
    };
    // Blank lines before a request line are allowed (RFC 9112 §2.2).
    loop {
        if next_line(r, &mut line)? == 0 {
            return Ok(None);
        }
        if !line.is_empty() {
            break;
        }
    }
    let request_line = String::from_utf8_lossy(&line).into_owned();
    let mut parts = request_line.split_whitespace();
    let (method, path, version) = match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(p), Some(v)) => (m.to_string(), p.to_string(), v.to_string()),
        _ => return Err(bad("bad request line")),
    };
    let mut headers = Vec::new();
    loop {
        if next_line(r, &mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let (k, v) = text.split_once(':').ok_or_else(|| bad("bad header"))?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if header("transfer-encoding").is_some() {
        return Err(bad("chunked requests are not supported"));
    }
    let len: usize = match header("content-length") {
        Some(v) => v.parse().map_err(|_| bad("bad Content-Length"))?,
        None => 0,
    };
    if len > MAX_BODY {
        return Err(bad("request body too large"));
    }
    let connection = header("connection").unwrap_or("").to_ascii_lowercase();
    let close = connection.contains("close")
        || (version == "HTTP/1.0" && !connection.contains("keep-alive"));
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok(Some(Request {
        method,
        path,
        headers,
        body,
        close,
    }))
}
