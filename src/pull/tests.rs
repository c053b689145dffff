//! The pull state machine against a simulated DI API (in memory, a virtual clock): every
//! event delivered exactly once through random fault scripts, late arrivals and restarts
//! at random steps. The same contract over real HTTP is `tests/pull.rs`.

use super::*;
use crate::decode::time::parse_rfc3339;

mod sim;
use sim::*;

/// What a run delivered: each event's `n`, in delivery order, and the final counters.
struct Run {
    /// The API's quirks in this run.
    quirks: String,
    delivered: Vec<u64>,
    restarts: u32,
    counters: Vec<Counters>,
}

/// How a simulated run goes.
#[derive(Clone, Copy, Debug)]
struct Opts {
    fault_pct: u64,
    restart_permille: u64,
    /// No `--until`: poll until the clock is well past the last arrival, then stop.
    live: bool,
    /// A restart may come with another `--lag-secs` (never below the late arrivals' delay).
    lag_changes: bool,
}

/// Drive pullers against the API until `Done` (or, live, until everything had time to
/// arrive), restarting from the saved cursor at random steps and injecting faults at random
/// requests.
fn drive(w: &World, rng: &mut Rng, o: Opts) -> Run {
    let mut api = Api {
        events: w.events.clone(),
        now: T0,
        step: S,
        max_limit: if rng.chance(20) { 5 } else { 10_000 },
        last: Default::default(),
        no_date: rng.chance(15),
        no_limit: rng.chance(15),
        ignores_search_after: false,
    };
    let mut run = Run {
        quirks: format!(
            "{o:?} max_limit {} no_date {} no_limit {}",
            api.max_limit, api.no_date, api.no_limit
        ),
        delivered: Vec::new(),
        restarts: 0,
        counters: Vec::new(),
    };
    let mut settings = w.settings.clone();
    if o.live {
        settings.until = None;
    }
    let end = w.events.iter().map(|e| e.arrival).max().unwrap_or(T0) + 3 * settings.lag;
    let mut p = Puller::new(settings.clone(), Vec::new());
    // Streams the API answered in this process: a refusal of another is a setup error.
    let mut answered = std::collections::HashSet::new();
    // Live: the polls of this process once the clock passed `end`.
    let mut polls_past_end: Option<u64> = None;
    for _ in 0..200_000 {
        if rng.below(1000) < o.restart_permille {
            // A clean stop: the cursor as committed, through its JSON.
            let saved = cursor::decode(&p.cursor_json()).unwrap();
            run.counters.push(p.counters().clone());
            if o.lag_changes && rng.chance(30) {
                settings.lag = [60, 90, 120, 240][rng.below(4) as usize] * S;
            }
            p = Puller::new(settings.clone(), saved);
            run.restarts += 1;
            answered.clear();
            polls_past_end = None;
        }
        match p.step() {
            Step::Fetch(req) => {
                let mut fault = rng
                    .chance(o.fault_pct)
                    .then(|| FAULTS[rng.below(FAULTS.len() as u64) as usize]);
                let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
                let stream = (
                    req.org.clone(),
                    body["service"].as_str().unwrap().to_string(),
                );
                // A refusal before the stream's first answer is the fatal start-up error,
                // tested apart.
                if matches!(fault, Some(Fault::Unauthorized)) && !answered.contains(&stream) {
                    fault = None;
                }
                let sent = api.now;
                let a = api.answer(&req, fault);
                let reply = a.as_ref().map(Answer::reply);
                if matches!(&reply, Ok(r) if r.status == 200) {
                    answered.insert(stream);
                }
                // Our clock: hours off the API's, which wins whenever it sends a `Date`.
                let local = if api.no_date { sent } else { sent - 3600 * S };
                p.on_reply(reply.map_err(|e| e.clone()), local);
            }
            Step::Deliver(b) => {
                run.delivered.extend(numbers(&b));
                p.commit(b);
            }
            Step::Wait(ns) => {
                assert!(ns >= 0);
                // Sleeping moves the server's clock too.
                api.now += ns;
                // Live: done once a whole poll ran after everything had time to arrive.
                if o.live && api.now > end {
                    let polls = p.counters().polls;
                    match polls_past_end {
                        Some(at) if polls >= at + 2 => {
                            run.counters.push(p.counters().clone());
                            return run;
                        }
                        None => polls_past_end = Some(polls),
                        _ => {}
                    }
                }
            }
            Step::Done => {
                assert!(!o.live, "Done without --until");
                run.counters.push(p.counters().clone());
                return run;
            }
            Step::Fatal(m) => panic!("fatal: {m}"),
        }
    }
    panic!("no end after 200 000 steps: {:?}", p.counters());
}

fn check(w: &World, run: &Run, what: &str) {
    let mut got = run.delivered.clone();
    got.sort_unstable();
    let want: Vec<u64> = {
        let mut v: Vec<u64> = w
            .events
            .iter()
            .map(|e| {
                let v: serde_json::Value = serde_json::from_str(&e.json).unwrap();
                v["n"].as_u64().unwrap()
            })
            .collect();
        v.sort_unstable();
        v
    };
    let dup = got.windows(2).find(|p| p[0] == p[1]);
    assert!(dup.is_none(), "{what}: event {dup:?} delivered twice");
    let missing: Vec<u64> = want
        .iter()
        .filter(|n| got.binary_search(n).is_err())
        .copied()
        .collect();
    assert!(missing.is_empty(), "{what}: never delivered: {missing:?}");
    assert_eq!(got, want, "{what}");
}

#[test]
fn exactly_once_through_faults_late_arrivals_and_restarts() {
    let mut faults_seen = 0u64;
    let mut restarts = 0u64;
    let mut late_seen = 0u64;
    // SEED=N runs that one script (to reproduce a failure).
    let seeds = match std::env::var("SEED") {
        Ok(v) => v.parse().unwrap()..=v.parse().unwrap(),
        Err(_) => 1..=3000u64,
    };
    for seed in seeds {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let n = 20 + rng.below(200) as usize;
        let orgs = rng.below(3) as usize;
        let w = world(&mut rng, n, orgs, 60 * S);
        late_seen += w.events.iter().filter(|e| e.arrival > e.ts).count() as u64;
        let mut w = w;
        if rng.chance(30) {
            // Several services side by side (the events use only these three).
            w.settings.services = vec!["directory".into(), "sso".into(), "systems".into()];
        }
        let o = Opts {
            fault_pct: [0, 5, 20, 40][rng.below(4) as usize],
            restart_permille: [0, 3, 10][rng.below(3) as usize],
            live: rng.chance(30),
            lag_changes: rng.chance(30),
        };
        let run = drive(&w, &mut rng, o);
        check(
            &w,
            &run,
            &format!("seed {seed} ({}, {:?})", run.quirks, w.settings.services),
        );
        restarts += run.restarts as u64;
        faults_seen += run
            .counters
            .iter()
            .map(|c| c.retries + c.repeated_pages)
            .sum::<u64>();
    }
    // The scripts did exercise what they claim to.
    assert!(faults_seen > 20_000, "{faults_seen} faults");
    assert!(restarts > 2_000, "{restarts} restarts");
    assert!(late_seen > 2_000, "{late_seen} late events");
}

#[test]
fn each_fault_is_counted_and_survived() {
    for (k, f) in FAULTS.iter().enumerate() {
        let mut rng = Rng(77 + k as u64);
        let w = world(&mut rng, 120, 0, 30 * S);
        let mut w = w;
        w.settings.limit = 10;
        let mut api = Api {
            events: w.events.clone(),
            now: T0,
            step: S,
            max_limit: 10_000,
            last: Default::default(),
            no_date: false,
            no_limit: false,
            ignores_search_after: false,
        };
        let mut p = Puller::new(w.settings.clone(), Vec::new());
        let mut delivered = Vec::new();
        let mut requests = 0;
        loop {
            match p.step() {
                Step::Fetch(req) => {
                    requests += 1;
                    // The fault on the third request and the one after it.
                    let fault = (requests == 3 || requests == 4).then_some(*f);
                    let a = api.answer(&req, fault);
                    let reply = a.as_ref().map(Answer::reply);
                    p.on_reply(reply.map_err(|e| e.clone()), api.now);
                }
                Step::Deliver(b) => {
                    delivered.extend(numbers(&b));
                    p.commit(b);
                }
                Step::Wait(ns) => api.now += ns,
                Step::Done => break,
                Step::Fatal(m) => panic!("{f:?}: fatal: {m}"),
            }
        }
        let c = p.counters().clone();
        let counted = match f {
            Fault::RateLimited => c.rate_limited,
            Fault::Unavailable => c.unavailable,
            Fault::ServerError => c.server_errors,
            Fault::Timeout => c.timeouts,
            Fault::Reset => c.connection_errors,
            Fault::Truncated | Fault::NotAnArray => c.bad_bodies,
            Fault::Repeat => c.repeated_pages,
            Fault::WrongCount => c.count_mismatches,
            Fault::NoSearchAfter => c.missing_search_after,
            Fault::Unauthorized => c.auth_failures,
        };
        // A missing header matters only on a full page; a repeat needs a page before it.
        let want = if matches!(f, Fault::NoSearchAfter | Fault::Repeat) {
            1..=2
        } else {
            2..=2
        };
        assert!(want.contains(&counted), "{f:?}: {c:?}");
        check(
            &w,
            &Run {
                quirks: String::new(),
                delivered,
                restarts: 0,
                counters: vec![],
            },
            &format!("{f:?}"),
        );
    }
}

#[test]
fn a_refusal_before_any_answer_is_fatal_and_later_only_loud() {
    let mut rng = Rng(5);
    let w = world(&mut rng, 50, 0, 0);
    let mut p = Puller::new(w.settings.clone(), Vec::new());
    let Step::Fetch(_) = p.step() else { panic!() };
    let reply = Reply {
        status: 401,
        body: b"{\"message\":\"Unauthorized\"}",
        ..Reply::default()
    };
    p.on_reply(Ok(reply), T0);
    match p.step() {
        Step::Fatal(m) => {
            assert!(
                m.contains("refused the key (401: {\"message\":\"Unauthorized\"})"),
                "{m}"
            );
            assert!(m.contains("JUMPCLOUD_API_KEY"), "{m}");
        }
        s => panic!("{s:?}"),
    }
    // A 400 at start (a service the API does not know) is fatal too, with its message.
    let mut p = Puller::new(w.settings.clone(), Vec::new());
    let _ = p.step();
    let bad = Reply {
        status: 400,
        body: b"{\"message\":\"bad service\"}",
        ..Reply::default()
    };
    p.on_reply(Ok(bad), T0);
    assert!(matches!(p.step(), Step::Fatal(m) if m.contains("bad service")));
}

#[test]
fn requests_carry_the_contract() {
    let mut s = world(&mut Rng(9), 10, 2, 0).settings;
    s.services = vec!["sso".into(), "directory".into()];
    s.limit = 10_000;
    let mut p = Puller::new(s.clone(), Vec::new());
    let Step::Fetch(r) = p.step() else { panic!() };
    assert_eq!(r.org.as_deref(), Some("org0"));
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["service"], "sso");
    assert_eq!(v["limit"], 10_000);
    assert_eq!(v["sort"], "ASC");
    assert_eq!(v["start_time"], crate::decode::time::to_rfc3339(T0));
    // `until` is inclusive: the range asked for ends a second past it.
    let end = parse_rfc3339(v["end_time"].as_str().unwrap()).unwrap();
    assert_eq!(end, s.until.unwrap() + S);
    assert!(v.get("search_after").is_none());
    assert_eq!(s.streams().len(), 4);
}

#[test]
fn retry_after_is_honoured_and_backoff_doubles_to_its_cap() {
    let mut s = world(&mut Rng(3), 30, 0, 0).settings;
    s.backoff = S;
    s.backoff_max = 4 * S;
    let mut p = Puller::new(s, Vec::new());
    let mut waits = Vec::new();
    for (status, retry_after) in [
        (503, None),
        (500, None),
        (429, Some("7")),
        (503, None),
        (503, None),
        (503, None),
        (429, Some("Mon, 16 Jun 2025 00:00:10 GMT")),
    ] {
        let Step::Fetch(_) = p.step() else { panic!() };
        let reply = Reply {
            status,
            retry_after,
            date: Some("Mon, 16 Jun 2025 00:00:00 GMT"),
            body: b"{}",
            ..Reply::default()
        };
        p.on_reply(Ok(reply), T0);
        let Step::Wait(w) = p.step() else { panic!() };
        waits.push(w / S);
    }
    // 1, 2, then the server's 7, then 8 capped to 4 (the attempts go on counting), and a
    // Retry-After date 10 s after the reply's Date.
    assert_eq!(waits, [1, 2, 7, 4, 4, 4, 10]);
    let c = p.counters();
    assert_eq!(
        (c.unavailable, c.server_errors, c.rate_limited, c.retries),
        (4, 1, 2, 7)
    );
    // A success resets the backoff.
    let Step::Fetch(_) = p.step() else { panic!() };
    let ok = Reply {
        status: 200,
        body: b"[]",
        ..Reply::default()
    };
    p.on_reply(Ok(ok), T0);
    let Step::Wait(poll) = p.step() else { panic!() };
    assert_eq!(poll, 10 * S, "the poll interval, not a backoff");
}

/// Answers for a script of two organizations: `bad` is refused or failing.
fn two_orgs(bad_status: u16, answered_first: bool) -> (Puller, Vec<u64>) {
    let mut rng = Rng(17);
    let mut w = world(&mut rng, 60, 2, 0);
    w.settings.limit = 10;
    let mut api = Api {
        events: w.events.clone(),
        now: T0,
        step: S,
        max_limit: 10_000,
        last: Default::default(),
        no_date: false,
        no_limit: false,
        ignores_search_after: false,
    };
    let mut p = Puller::new(w.settings.clone(), Vec::new());
    let mut delivered = Vec::new();
    let mut org1_answered = false;
    for _ in 0..2000 {
        match p.step() {
            Step::Fetch(req) => {
                let bad = req.org.as_deref() == Some("org1") && (org1_answered || !answered_first);
                let a = if bad {
                    api.now += S;
                    Ok(Answer {
                        status: bad_status,
                        retry_after: None,
                        count: None,
                        limit: None,
                        search_after: None,
                        date: Some(http_date(api.now)),
                        body: b"{\"message\":\"no\"}".to_vec(),
                    })
                } else {
                    org1_answered |= req.org.as_deref() == Some("org1");
                    api.answer(&req, None)
                };
                let a = a.unwrap();
                let reply = a.reply();
                p.on_reply(Ok(reply), api.now);
            }
            Step::Deliver(b) => {
                delivered.extend(numbers(&b));
                p.commit(b);
            }
            Step::Wait(ns) => api.now += ns,
            Step::Done | Step::Fatal(_) => break,
        }
    }
    let org0 = w
        .events
        .iter()
        .filter(|e| e.org.as_deref() == Some("org0"))
        .count() as u64;
    (p, vec![delivered.len() as u64, org0])
}

#[test]
fn a_refused_second_stream_is_fatal_at_start_and_a_failing_one_does_not_stop_the_others() {
    // org1 refused on its very first request, after org0 answered: still a setup error.
    let (mut p, _) = two_orgs(403, false);
    assert!(matches!(p.step(), Step::Fatal(m) if m.contains("refused the key (403")));
    // org1 answered once, then fails for good: org0's events all come through, org1's poll
    // is cut after a few failures (and tried again each poll).
    let (p, n) = two_orgs(503, true);
    assert!(n[0] >= n[1] && n[1] > 0, "{n:?}");
    assert!(p.counters().unavailable >= CUT_AFTER as u64);
}

#[test]
fn a_server_that_ignores_search_after_or_sends_pages_out_of_order_loses_nothing() {
    for (ignores, shuffle) in [(true, false), (false, true)] {
        let mut rng = Rng(23);
        let mut w = world(&mut rng, 150, 0, 0);
        // Paging by time needs a page to hold more than any one second's events.
        w.settings.limit = 25;
        let mut api = Api {
            events: w.events.clone(),
            now: T0,
            step: S,
            max_limit: 10_000,
            last: Default::default(),
            no_date: false,
            no_limit: false,
            ignores_search_after: ignores,
        };
        let mut p = Puller::new(w.settings.clone(), Vec::new());
        let mut delivered = Vec::new();
        let mut n = 0;
        loop {
            match p.step() {
                Step::Fetch(req) => {
                    n += 1;
                    let mut a = api.answer(&req, None).unwrap();
                    if shuffle && n % 3 == 0 {
                        // Every third page reversed: out of time order.
                        let v: Vec<serde_json::Value> = serde_json::from_slice(&a.body).unwrap();
                        let rev: Vec<_> = v.into_iter().rev().collect();
                        a.body = serde_json::to_vec(&rev).unwrap();
                    }
                    let reply = a.reply();
                    p.on_reply(Ok(reply), api.now);
                }
                Step::Deliver(b) => {
                    delivered.extend(numbers(&b));
                    p.commit(b);
                }
                Step::Wait(ns) => api.now += ns,
                Step::Done => break,
                Step::Fatal(m) => panic!("{m}"),
            }
            assert!(n < 20_000, "no end");
        }
        let run = Run {
            quirks: String::new(),
            delivered,
            restarts: 0,
            counters: vec![],
        };
        check(&w, &run, &format!("ignores {ignores} shuffle {shuffle}"));
        let c = p.counters();
        if ignores {
            assert!(c.repeated_pages > 0, "{c:?}");
        } else {
            assert!(c.bad_bodies > 0, "{c:?}");
        }
    }
}
