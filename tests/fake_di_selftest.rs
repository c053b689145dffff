//! The fake Directory Insights API (`tests/common/fake_di.rs`) against a raw std::net HTTP
//! client: paging, time bounds, errors, the virtual clock, organizations, every fault and
//! keep-alive, so that a `jcdetect pull` test failure points at the client, not the fake.

#[path = "common/fake_di.rs"]
mod fake_di;

use fake_di::{FakeConfig, FakeDi, FakeEvent, Fault, PATH};
use jcdetect::decode::time::{parse_rfc3339, to_rfc3339, NANOS};
use jcdetect::replay::{generate, AttackMix, GenConfig};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const KEY: &str = "test-key";
const MS: i64 = 1_000_000;

/// `n` generated DI lines (no attack stories, so any small `n` is valid).
fn gen_lines(n: u64) -> Vec<String> {
    let cfg = GenConfig {
        events: n,
        attacks: AttackMix::none(),
        ..GenConfig::default()
    };
    let mut out = Vec::new();
    generate(&cfg, |l| out.push(String::from_utf8(l.to_vec()).unwrap())).unwrap();
    out
}

fn lines() -> &'static [String] {
    static L: OnceLock<Vec<String>> = OnceLock::new();
    L.get_or_init(|| gen_lines(300))
}

fn events(n: usize, org: Option<&str>) -> Vec<FakeEvent> {
    lines()[..n]
        .iter()
        .map(|l| FakeEvent::from_line(l, org))
        .collect()
}

/// Ids in the API's order: (ms, id).
fn sorted_ids(evs: &[FakeEvent]) -> Vec<String> {
    let mut v: Vec<&FakeEvent> = evs.iter().collect();
    v.sort_by(|a, b| a.key().cmp(&b.key()));
    v.iter().map(|e| e.id.clone()).collect()
}

fn ms_key(ts: i64, id: &str) -> String {
    json!([ts.div_euclid(MS), id]).to_string()
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    content_length: usize,
    /// False when the connection ended before Content-Length bytes.
    complete: bool,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn ids(&self) -> Vec<String> {
        let v: Vec<Value> = serde_json::from_slice(&self.body).expect("page is a JSON array");
        v.iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    }

    fn message(&self) -> String {
        let v: Value = serde_json::from_slice(&self.body).expect("error body is JSON");
        v["message"].as_str().unwrap_or("").to_string()
    }
}

/// One keep-alive connection to the fake.
struct Client(BufReader<TcpStream>);

impl Client {
    fn new(fake: &FakeDi) -> Client {
        let s = TcpStream::connect(fake.addr()).unwrap();
        // A test must fail, not hang, if the fake never answers.
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Client(BufReader::new(s))
    }

    /// Send one request; `None` when the connection closed before a status line.
    fn send(&mut self, path: &str, hdrs: &[(&str, &str)], body: &str) -> Option<Resp> {
        let mut req = format!("POST {path} HTTP/1.1\r\nHost: fake\r\n");
        for (k, v) in hdrs {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        self.0.get_mut().write_all(req.as_bytes()).unwrap();
        let mut line = String::new();
        if self.0.read_line(&mut line).unwrap() == 0 {
            return None;
        }
        let status = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.0.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').unwrap();
            headers.push((k.to_string(), v.trim().to_string()));
        }
        let mut r = Resp {
            status,
            headers,
            body: Vec::new(),
            content_length: 0,
            complete: true,
        };
        r.content_length = r.header("Content-Length").unwrap().parse().unwrap();
        (&mut self.0)
            .take(r.content_length as u64)
            .read_to_end(&mut r.body)
            .unwrap();
        r.complete = r.body.len() == r.content_length;
        Some(r)
    }

    fn query(&mut self, org: Option<&str>, body: &Value) -> Resp {
        let mut h = vec![("x-api-key", KEY), ("Content-Type", "application/json")];
        if let Some(o) = org {
            h.push(("x-org-id", o));
        }
        self.send(PATH, &h, &body.to_string()).expect("an answer")
    }

    /// True when the server has closed the connection.
    fn at_eof(&mut self) -> bool {
        self.0.fill_buf().map(|b| b.is_empty()).unwrap_or(true)
    }
}

fn query(fake: &FakeDi, org: Option<&str>, body: &Value) -> Resp {
    Client::new(fake).query(org, body)
}

fn all_from(ts: i64) -> Value {
    json!({ "service": "all", "start_time": to_rfc3339(ts), "limit": 10000 })
}

#[test]
fn pages_return_every_visible_event_once_in_order() {
    let evs = events(50, None);
    let start = evs.iter().map(|e| e.ts).min().unwrap();
    let fake = FakeDi::start(evs.clone(), FakeConfig::default());
    let json_of: BTreeMap<&str, &str> = evs.iter().map(|e| (&*e.id, &*e.json)).collect();
    for sort in ["ASC", "DESC"] {
        let mut want = sorted_ids(&evs);
        if sort == "DESC" {
            want.reverse();
        }
        let mut c = Client::new(&fake);
        let (mut got, mut pages, mut after) = (Vec::new(), 0, None::<Value>);
        loop {
            let mut q = all_from(start);
            (q["limit"], q["sort"]) = (7.into(), sort.into());
            if let Some(a) = &after {
                q["search_after"] = a.clone();
            }
            let r = c.query(None, &q);
            assert_eq!(r.status, 200);
            let ids = r.ids();
            let joined: Vec<&str> = ids.iter().map(|i| json_of[i.as_str()]).collect();
            assert_eq!(
                r.body,
                format!("[{}]", joined.join(",")).into_bytes(),
                "exact bytes"
            );
            assert_eq!(r.header("X-Result-Count"), Some(&*ids.len().to_string()));
            assert_eq!(
                (r.header("X-Limit"), r.header("X-Sort")),
                (Some("7"), Some(sort))
            );
            assert_eq!(r.header("Content-Type"), Some("application/json"));
            pages += 1;
            got.extend(ids.iter().cloned());
            if ids.len() < 7 {
                break;
            }
            let last = evs.iter().find(|e| &e.id == ids.last().unwrap()).unwrap();
            let sa = r.header("X-Search_after").unwrap();
            assert_eq!(sa, ms_key(last.ts, &last.id));
            after = Some(serde_json::from_str(sa).unwrap());
        }
        assert_eq!(got, want, "{sort}");
        assert_eq!(pages, 8, "{sort}: 50 events in pages of 7");
    }
}

#[test]
fn start_is_inclusive_and_end_exclusive_at_ms_precision() {
    let evs = events(300, None);
    let mut by_key = evs.clone();
    by_key.sort_by(|a, b| a.key().cmp(&b.key()));
    let (a, b) = (&by_key[100], &by_key[200]);
    let fake = FakeDi::start(evs.clone(), FakeConfig::default());
    let cases = [
        (a.ts, None),
        (a.ts, Some(b.ts)),
        (a.ts - MS, Some(a.ts + MS)),
        // Both bounds in one ms: empty, though end is after start.
        (a.ts, Some(a.ts + 1)),
    ];
    for (start, end) in cases {
        let mut q = all_from(start);
        if let Some(e) = end {
            q["end_time"] = to_rfc3339(e).into();
        }
        let want: Vec<String> = by_key
            .iter()
            .filter(|e| e.ts / MS >= start / MS && end.is_none_or(|x| e.ts / MS < x / MS))
            .map(|e| e.id.clone())
            .collect();
        let got = query(&fake, None, &q).ids();
        assert_eq!(got, want, "{start} {end:?}");
        assert_eq!(
            got.contains(&a.id),
            end != Some(a.ts + 1),
            "start is inclusive"
        );
        assert_eq!(got.contains(&b.id), end.is_none(), "end is exclusive");
    }
}

#[test]
fn bad_requests_are_refused() {
    let fake = FakeDi::start(events(10, None), FakeConfig::default());
    let t = "2025-03-03T06:00:00Z";
    let before = "2025-03-03T05:00:00Z";
    let ok = json!({ "service": "all", "start_time": t });
    let with = |k: &str, v: Value| {
        let mut q = ok.clone();
        q[k] = v;
        q.to_string()
    };
    const NOT_AFTER: &str = "Start Time not after End Time";
    let (k, p) = (Some(KEY), PATH);
    // (x-api-key, path, body, status, part of the message)
    let cases = [
        (k, p, ok.to_string(), 200, ""),
        (k, p, with("end_time", t.into()), 400, NOT_AFTER),
        (k, p, with("end_time", before.into()), 400, NOT_AFTER),
        (k, p, with("limit", 10001.into()), 400, "limit"),
        (k, p, with("limit", 0.into()), 400, "limit"),
        (k, p, with("limit", 10000.into()), 200, ""),
        (k, p, with("sort", "sideways".into()), 400, "sort"),
        (k, p, with("search_after", json!([1])), 400, "search_after"),
        (k, p, json!({ "start_time": t }).to_string(), 400, "service"),
        (
            k,
            p,
            json!({ "service": "all" }).to_string(),
            400,
            "start_time",
        ),
        (
            k,
            p,
            with("start_time", "yesterday".into()),
            400,
            "start_time",
        ),
        (k, p, "not json".into(), 400, "JSON object"),
        (None, p, ok.to_string(), 401, "Unauthorized"),
        (Some("nope"), p, ok.to_string(), 401, "Unauthorized"),
        (k, "/insights/directory/v2/events", ok.to_string(), 404, ""),
    ];
    let mut c = Client::new(&fake);
    for (i, (key, path, body, status, msg)) in cases.iter().enumerate() {
        let mut hdrs = vec![("Content-Type", "application/json")];
        hdrs.extend(key.map(|k| ("x-api-key", k)));
        let r = c.send(path, &hdrs, body).unwrap();
        assert_eq!(r.status, *status, "case {i}: {body}");
        assert!(r.message().contains(msg), "case {i}: {}", r.message());
        let log = &fake.requests()[i];
        assert_eq!((log.n, log.status), (i as u64, *status));
        assert_eq!(log.api_key_seen, *key == Some(KEY), "case {i}");
        assert_eq!(log.body, serde_json::from_str(body).unwrap_or(Value::Null));
    }
}

#[test]
fn late_events_appear_once_the_clock_passes_their_arrival() {
    let mut evs = events(30, None);
    let start = evs.iter().map(|e| e.ts).min().unwrap();
    let c0 = evs.iter().map(|e| e.ts).max().unwrap() + 3600 * NANOS;
    evs[5].arrival = c0 + 2 * NANOS + NANOS / 2;
    let late = evs[5].id.clone();
    let cfg = FakeConfig {
        clock_start: c0,
        ..FakeConfig::default()
    };
    let fake = FakeDi::start(evs, cfg);
    let seen: Vec<bool> = (0..4)
        .map(|_| query(&fake, None, &all_from(start)).ids().contains(&late))
        .collect();
    assert_eq!(seen, [false, false, true, true]);
    assert_eq!(fake.now(), c0 + 4 * NANOS);
    // Clock before every event: nothing is visible (the early stop of the scan included).
    fake.set_now(start - NANOS);
    fake.set_clock_step(0);
    let r = query(&fake, None, &all_from(start));
    assert_eq!((r.ids().len(), r.header("X-Search_after")), (0, None));
}

#[test]
fn events_are_served_to_their_org_and_service_only() {
    let mut evs = events(20, Some("a"));
    evs.extend(
        lines()[20..40]
            .iter()
            .map(|l| FakeEvent::from_line(l, Some("b"))),
    );
    // Generated events all have a service: every 7th loses it, as some real DI events lack one.
    evs.extend(lines()[40..].iter().enumerate().map(|(i, l)| {
        let mut v: Value = serde_json::from_str(l).unwrap();
        if i % 7 == 0 {
            v.as_object_mut().unwrap().remove("service");
        }
        FakeEvent::from_line(&v.to_string(), None)
    }));
    let start = evs.iter().map(|e| e.ts).min().unwrap();
    let fake = FakeDi::start(evs.clone(), FakeConfig::default());
    let of = |org: Option<&str>, svc: &str| -> Vec<FakeEvent> {
        let keep = |e: &&FakeEvent| {
            e.org.as_deref() == org && (svc == "all" || e.service.as_deref() == Some(svc))
        };
        evs.iter().filter(keep).cloned().collect()
    };
    let mut services: Vec<&str> = evs.iter().filter_map(|e| e.service.as_deref()).collect();
    services.sort();
    services.dedup();
    assert!(services.len() > 1, "{services:?}");
    assert!(
        evs.iter().any(|e| e.service.is_none()),
        "some events have no service"
    );
    let mut cases: Vec<(Option<&str>, &str)> =
        vec![(Some("a"), "all"), (Some("b"), "all"), (Some("c"), "all")];
    cases.extend(services.iter().map(|s| (None, *s)));
    cases.extend([
        (None, "all"),
        (None, "nosuchservice"),
        (Some("a"), services[0]),
    ]);
    for (org, svc) in cases {
        let mut q = all_from(start);
        q["service"] = svc.into();
        let r = query(&fake, org, &q);
        let want = sorted_ids(&of(org, svc));
        assert_eq!(r.ids(), want, "{org:?} {svc}");
        assert_eq!(r.header("X-Search_after").is_some(), !want.is_empty());
    }
    assert_eq!(fake.requests()[0].org.as_deref(), Some("a"));
}

/// Request 1 of each case is faulted; 0 (the first page) and 2 (the second page again) are not.
#[test]
fn each_fault_does_what_it_says() {
    type Check = fn(prev: &Resp, faulted: Option<Resp>, good: &Resp, took: Duration);
    let cases: Vec<(Fault, bool, Check)> = vec![
        (Fault::Status(429, Some("7".into())), false, |_, f, _, _| {
            let f = f.unwrap();
            assert_eq!((f.status, f.header("Retry-After")), (429, Some("7")));
        }),
        (Fault::Status(503, None), true, |_, f, _, _| {
            let f = f.unwrap();
            assert_eq!((f.status, f.header("Retry-After")), (503, None));
        }),
        (
            Fault::Stall(Duration::from_millis(250)),
            false,
            |_, f, _, took| {
                assert!(f.is_none() && took >= Duration::from_millis(250));
            },
        ),
        (Fault::ResetMidBody, false, |_, f, good, _| {
            let f = f.unwrap();
            assert!(!f.complete && f.content_length == good.body.len());
            assert_eq!(f.body, good.body[..good.body.len() / 2]);
        }),
        (Fault::Truncated, false, |_, f, good, _| {
            let f = f.unwrap();
            assert!(f.status == 200 && f.complete);
            assert_eq!(f.body, good.body[..good.body.len() / 2]);
            assert!(serde_json::from_slice::<Value>(&f.body).is_err());
        }),
        (Fault::NotAnArray, true, |_, f, _, _| {
            let f = f.unwrap();
            assert_eq!((f.status, &f.body[..]), (200, &br#"{"error":"x"}"#[..]));
        }),
        (Fault::RepeatPrevious, false, |prev, f, good, _| {
            let f = f.unwrap();
            assert_eq!(
                (f.status, &f.headers, &f.body),
                (prev.status, &prev.headers, &prev.body)
            );
            assert_ne!(f.body, good.body);
        }),
        (Fault::WrongCount, false, |_, f, good, _| {
            let f = f.unwrap();
            assert_eq!(f.body, good.body);
            let n = good.ids().len() + 1;
            assert_eq!(f.header("X-Result-Count"), Some(&*n.to_string()));
        }),
    ];
    for (fault, at_run_time, check) in cases {
        let evs = events(40, None);
        let start = evs.iter().map(|e| e.ts).min().unwrap();
        let mut cfg = FakeConfig::default();
        if !at_run_time {
            cfg.faults.insert(1, fault.clone());
        }
        let c0 = cfg.clock_start;
        let fake = FakeDi::start(evs, cfg);
        if at_run_time {
            fake.push_fault(1, fault.clone());
        }
        let q = json!({ "service": "all", "start_time": to_rfc3339(start), "limit": 10 });
        let prev = query(&fake, None, &q);
        let mut q2 = q.clone();
        q2["search_after"] = serde_json::from_str(prev.header("X-Search_after").unwrap()).unwrap();
        let t = Instant::now();
        let faulted = Client::new(&fake).send(PATH, &[("x-api-key", KEY)], &q2.to_string());
        let took = t.elapsed();
        let good = query(&fake, None, &q2);
        assert_eq!(good.ids().len(), 10);
        check(&prev, faulted, &good, took);
        assert_eq!(
            fake.now(),
            c0 + 3 * NANOS,
            "{fault:?}: the clock still moves"
        );
        let log = fake.requests();
        let faults: Vec<Option<String>> = log.iter().map(|l| l.fault.clone()).collect();
        assert_eq!(faults, [None, Some(format!("{fault:?}")), None]);
    }
}

#[test]
fn date_header_follows_the_virtual_clock() {
    let t0 = parse_rfc3339("1994-11-06T08:49:00Z").unwrap();
    for skew in [0, -3600 * NANOS] {
        let cfg = FakeConfig {
            clock_start: t0,
            clock_step: 37 * NANOS,
            date_skew: skew,
            ..FakeConfig::default()
        };
        let fake = FakeDi::start(events(5, None), cfg);
        let mut c = Client::new(&fake);
        let date = |r: Resp| {
            let d = chrono::DateTime::parse_from_rfc2822(r.header("Date").unwrap()).unwrap();
            (r.header("Date").unwrap().to_string(), d.timestamp() * NANOS)
        };
        let (text, t) = date(c.send("/elsewhere", &[], "").unwrap());
        assert_eq!(t, t0 + 37 * NANOS + skew);
        if skew == 0 {
            assert_eq!(text, "Sun, 06 Nov 1994 08:49:37 GMT");
        }
        fake.set_clock_step(60 * NANOS);
        for k in 1..4 {
            let (_, t) = date(c.query(None, &all_from(t0)));
            assert_eq!(t, t0 + 37 * NANOS + k * 60 * NANOS + skew);
            assert_eq!(fake.now(), t - skew);
        }
    }
}

#[test]
fn connections_are_kept_alive_and_requests_numbered_across_them() {
    let fake = FakeDi::start(events(20, None), FakeConfig::default());
    let mut conns = [Client::new(&fake), Client::new(&fake)];
    let q = all_from(0);
    for n in 0..4 {
        let r = conns[n % 2].query(None, &q);
        assert_eq!(
            (r.status, r.header("X-Request-Id")),
            (200, Some(&*format!("fake-{n}")))
        );
        assert_eq!(r.header("Connection"), None);
    }
    let [mut a, mut b] = conns;
    let r = a
        .send(
            PATH,
            &[("x-api-key", KEY), ("Connection", "close")],
            &q.to_string(),
        )
        .unwrap();
    assert_eq!((r.status, r.header("Connection")), (200, Some("close")));
    assert!(a.at_eof(), "closed after Connection: close");
    assert_eq!(
        b.query(None, &q).status,
        200,
        "the other connection lives on"
    );
    let ns: Vec<u64> = fake.requests().iter().map(|l| l.n).collect();
    assert_eq!(ns, [0, 1, 2, 3, 4, 5]);
    let addr = fake.addr();
    drop(fake);
    assert!(b.at_eof(), "dropping the fake closes its connections");
    assert!(TcpStream::connect(addr).is_err(), "and stops listening");
}

#[test]
fn full_pages_of_ten_thousand_are_served_fast() {
    let evs: Vec<FakeEvent> = gen_lines(25_000)
        .iter()
        .map(|l| FakeEvent::from_line(l, None))
        .collect();
    let bytes: usize = evs.iter().map(|e| e.json.len()).sum();
    let want = sorted_ids(&evs);
    let fake = FakeDi::start(evs, FakeConfig::default());
    let mut c = Client::new(&fake);
    // Timed: the fake's side only (pages follow the headers); the bodies are parsed after.
    let (mut pages, mut after) = (Vec::new(), None::<Value>);
    let t = Instant::now();
    loop {
        let mut q = all_from(0);
        if let Some(a) = after.take() {
            q["search_after"] = a;
        }
        let r = c.query(None, &q);
        let n: usize = r.header("X-Result-Count").unwrap().parse().unwrap();
        if n == 10_000 {
            after = Some(serde_json::from_str(r.header("X-Search_after").unwrap()).unwrap());
        }
        pages.push(r);
        if n < 10_000 {
            break;
        }
    }
    let took = t.elapsed();
    let got: Vec<String> = pages.iter().flat_map(Resp::ids).collect();
    assert_eq!(got, want);
    eprintln!(
        "fake DI: 25000 events ({} MB) served in {took:?}: {:.0} events/s",
        bytes / 1_000_000,
        25_000.0 / took.as_secs_f64()
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}
