//! The simulated DI API the pull tests drive: sorted events with arrival times, a virtual
//! clock that moves per request, scripted faults, and a generator of event worlds.

use super::super::*;
use crate::decode::time::parse_rfc3339;

pub(super) const S: i64 = SECOND;
pub(super) const T0: i64 = 1_750_000_000 * S;

/// xorshift64*: deterministic, no dependency.
pub(super) struct Rng(pub(super) u64);
impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Clone)]
pub(super) struct Ev {
    pub(super) ts: i64,
    pub(super) id: String,
    pub(super) org: Option<String>,
    pub(super) service: String,
    pub(super) arrival: i64,
    pub(super) json: String,
}

/// Sort key of the API: (ms, id).
pub(super) fn key(e: &Ev) -> (i64, &str) {
    (e.ts.div_euclid(1_000_000), e.id.as_str())
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Fault {
    RateLimited,
    Unavailable,
    ServerError,
    Timeout,
    Reset,
    Truncated,
    NotAnArray,
    Repeat,
    WrongCount,
    NoSearchAfter,
    Unauthorized,
}

pub(super) const FAULTS: [Fault; 11] = [
    Fault::RateLimited,
    Fault::Unavailable,
    Fault::ServerError,
    Fault::Timeout,
    Fault::Reset,
    Fault::Truncated,
    Fault::NotAnArray,
    Fault::Repeat,
    Fault::WrongCount,
    Fault::NoSearchAfter,
    Fault::Unauthorized,
];

/// (org, service)
pub(super) type Stream = (Option<String>, String);

/// The simulated API: sorted events, a clock that moves per request, scripted faults.
pub(super) struct Api {
    pub(super) events: Vec<Ev>,
    pub(super) now: i64,
    pub(super) step: i64,
    /// Page size the server allows (it may be below what is asked).
    pub(super) max_limit: usize,
    pub(super) last: std::collections::HashMap<Stream, (Vec<u8>, Option<String>)>,
    /// Replies without a `Date` (the client falls back on its own clock).
    pub(super) no_date: bool,
    /// Pages without `X-Limit` (a server that caps the page size silently).
    pub(super) no_limit: bool,
    /// `search_after` ignored: every page is the query's first.
    pub(super) ignores_search_after: bool,
}

pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) retry_after: Option<String>,
    pub(super) count: Option<String>,
    pub(super) limit: Option<String>,
    pub(super) search_after: Option<String>,
    pub(super) date: Option<String>,
    pub(super) body: Vec<u8>,
}

pub(super) fn http_date(t: i64) -> String {
    // Enough for the tests: the parser's inverse over whole seconds.
    let secs = t.div_euclid(S);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let text = crate::decode::time::to_rfc3339(days * 86_400 * S);
    let (y, m, d) = (&text[0..4], &text[5..7], &text[8..10]);
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][m.parse::<usize>().unwrap() - 1];
    format!(
        "Mon, {d} {month} {y} {:02}:{:02}:{:02} GMT",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

impl Api {
    pub(super) fn answer(
        &mut self,
        req: &Request,
        fault: Option<Fault>,
    ) -> Result<Answer, Failure> {
        self.now += self.step;
        let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
        let service = body["service"].as_str().unwrap().to_string();
        let start = parse_rfc3339(body["start_time"].as_str().unwrap()).unwrap();
        let end = body["end_time"].as_str().map(|t| parse_rfc3339(t).unwrap());
        if let Some(e) = end {
            assert!(e > start, "the client sent a start after the end");
        }
        let limit = (body["limit"].as_u64().unwrap() as usize).min(self.max_limit);
        let after: Option<(i64, String)> = body
            .get("search_after")
            .filter(|_| !self.ignores_search_after)
            .map(|a| (a[0].as_i64().unwrap(), a[1].as_str().unwrap().to_string()));
        let date = (!self.no_date).then(|| http_date(self.now));
        let plain = |status: u16| Answer {
            status,
            retry_after: None,
            count: None,
            limit: None,
            search_after: None,
            date: date.clone(),
            body: b"{\"message\":\"no\"}".to_vec(),
        };
        match fault {
            Some(Fault::RateLimited) => {
                let mut a = plain(429);
                a.retry_after = Some("1".into());
                return Ok(a);
            }
            Some(Fault::Unavailable) => return Ok(plain(503)),
            Some(Fault::ServerError) => return Ok(plain(500)),
            Some(Fault::Unauthorized) => return Ok(plain(401)),
            Some(Fault::Timeout) => return Err(Failure::Timeout("read".into())),
            Some(Fault::Reset) => return Err(Failure::Connection("reset mid-body".into())),
            Some(Fault::NotAnArray) => {
                let mut a = plain(200);
                a.body = b"{\"error\":\"x\"}".to_vec();
                return Ok(a);
            }
            // The paging fault: `search_after` ignored, the previous page again.
            Some(Fault::Repeat) if after.is_some() => {
                if let Some((b, sa)) = self.last.get(&(req.org.clone(), service.clone())) {
                    let mut a = plain(200);
                    a.body = b.clone();
                    a.search_after = sa.clone();
                    a.count = Some(a.body.iter().filter(|&&c| c == b'{').count().to_string());
                    a.limit = Some(limit.to_string());
                    // Only a repeat of a full page can be told from a real page.
                    return Ok(a);
                }
            }
            _ => {}
        }
        let page: Vec<&Ev> = self
            .events
            .iter()
            .filter(|e| e.arrival <= self.now)
            .filter(|e| e.org == req.org && (service == "all" || e.service == service))
            .filter(|e| e.ts >= start && end.is_none_or(|end| e.ts < end))
            .filter(|e| {
                after
                    .as_ref()
                    .is_none_or(|(ms, id)| key(e) > (*ms, id.as_str()))
            })
            .take(limit)
            .collect();
        let mut body = b"[".to_vec();
        for (n, e) in page.iter().enumerate() {
            if n > 0 {
                body.push(b',');
            }
            body.extend_from_slice(e.json.as_bytes());
        }
        let search_after = page.last().map(|e| format!("[{},\"{}\"]", key(e).0, e.id));
        let full = body.clone();
        if let Some(Fault::Truncated) = fault {
            body.truncate(body.len() / 2);
        } else {
            body.push(b']');
            self.last.insert(
                (req.org.clone(), service),
                (body.clone(), search_after.clone()),
            );
        }
        let mut count = page.len();
        if let Some(Fault::WrongCount) = fault {
            count += 1;
        }
        drop(full);
        Ok(Answer {
            status: 200,
            retry_after: None,
            count: Some(count.to_string()),
            limit: (!self.no_limit).then(|| limit.to_string()),
            search_after: match fault {
                Some(Fault::NoSearchAfter) => None,
                _ => search_after,
            },
            date,
            body,
        })
    }
}

pub(super) struct World {
    pub(super) events: Vec<Ev>,
    pub(super) settings: Settings,
}

/// Events over `span` seconds for two orgs × a few services, some arriving late (by less
/// than `late_max`), a few without an id or sharing a millisecond.
pub(super) fn world(rng: &mut Rng, n: usize, orgs: usize, late_max: i64) -> World {
    let services = ["directory", "sso", "systems"];
    let mut events = Vec::new();
    let mut t = T0;
    for i in 0..n {
        // Bursts: many events in the same second or millisecond, to stress paging ties.
        t += match rng.below(4) {
            0 => 0,
            1 => 1_000_000 * rng.below(3) as i64,
            _ => S * rng.below(4) as i64,
        };
        let org = (orgs > 0).then(|| format!("org{}", rng.below(orgs as u64)));
        let service = services[rng.below(3) as usize].to_string();
        let late = if rng.chance(10) {
            rng.below(late_max as u64 / S as u64) as i64 * S
        } else {
            0
        };
        let id = format!("{:024x}", rng.next() as u128 * 7 + i as u128);
        let ts_text = crate::decode::time::to_rfc3339(t);
        let json = if rng.chance(2) {
            // No id: the source keys it by its bytes.
            format!("{{\"service\":\"{service}\",\"n\":{i},\"timestamp\":\"{ts_text}\"}}")
        } else {
            format!("{{\"id\":\"{id}\",\"service\":\"{service}\",\"n\":{i},\"timestamp\":\"{ts_text}\"}}")
        };
        events.push(Ev {
            ts: t,
            // The API's own sort id, also for events whose JSON has none.
            id,
            org,
            service,
            arrival: t + late,
            json,
        });
    }
    events.sort_by(|a, b| key(a).cmp(&key(b)));
    let until = events.last().map(|e| e.ts).unwrap_or(T0);
    World {
        settings: Settings {
            services: vec!["all".into()],
            orgs: (0..orgs).map(|o| format!("org{o}")).collect(),
            since: T0,
            until: Some(until),
            lag: 120 * S,
            poll: 10 * S,
            limit: 1 + rng.below(40) as u32,
            backoff: S,
            backoff_max: 60 * S,
        },
        events,
    }
}

impl Answer {
    /// The reply as the transport would hand it to the puller.
    pub(super) fn reply(&self) -> Reply<'_> {
        Reply {
            status: self.status,
            retry_after: self.retry_after.as_deref(),
            result_count: self.count.as_deref(),
            limit: self.limit.as_deref(),
            search_after: self.search_after.as_deref(),
            date: self.date.as_deref(),
            elapsed: 0,
            body: &self.body,
        }
    }
}

/// The `n` of each event of a delivered batch, in order.
pub(super) fn numbers(b: &Batch) -> Vec<u64> {
    b.lines
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| {
            let v: serde_json::Value = serde_json::from_slice(line).unwrap();
            v["n"].as_u64().unwrap()
        })
        .collect()
}
