//! Property test: the fixed-memory windowed rules agree with a naive reference model that
//! keeps every event and recounts on each one, on random streams small enough for the
//! tables; and shuffling events within the allowed lateness does not change which
//! (rule, key) pairs alert.

use jcdetect::{Config, Engine, Options};
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap, HashSet};

const W: i64 = 600; // window, s
const BASE: i64 = 1_717_200_000; // 2024-06-01T00:00:00Z

#[derive(Debug, Clone)]
struct Ev {
    n: usize,
    t: i64,
    actor: u8,
    ip: u8,
    sso: bool,
    ok: bool,
}

fn config() -> Config {
    Config::from_toml_str(
        r#"
[rules.password_spray_from_ip]
threshold = 3
suppress_secs = 0
[rules.brute_force_attempts]
threshold = 3
suppress_secs = 0
[rules.brute_force_then_success]
threshold = 3
suppress_secs = 0
[rules.sso_failure_burst]
threshold = 2
suppress_secs = 0
[rules.credential_stuffing_success]
enabled = false
[state]
allowed_lateness_secs = 300
"#,
    )
    .unwrap()
}

fn line(e: &Ev) -> String {
    let (et, svc, outcome) = if e.sso {
        (
            "sso_auth",
            "sso",
            format!(r#""sso_token_success":{}"#, e.ok),
        )
    } else {
        (
            "user_login_attempt",
            "directory",
            format!(r#""success":{}"#, e.ok),
        )
    };
    format!(
        r#"{{"id":"{:024x}","event_type":"{et}","service":"{svc}",{outcome},"client_ip":"192.0.2.{}","initiated_by":{{"type":"user","username":"User{}"}},"timestamp":"{}"}}"#,
        e.n,
        e.ip,
        e.actor,
        jcdetect::time::to_rfc3339((BASE + e.t) * 1_000_000_000)
    )
}

/// (rule id, group key, index of the triggering event) for every stateful alert.
fn engine_alerts(events: &[Ev]) -> Vec<(String, String, usize)> {
    let mut engine = Engine::new(&config(), Options::default());
    let mut got = Vec::new();
    for e in events {
        let (mut out, mut diags) = (Vec::new(), Vec::new());
        engine.process_line(line(e).as_bytes(), &mut out, &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        for l in String::from_utf8(out).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            if let Some(key) = v["jcdetect"]["group_key"].as_str() {
                got.push((
                    v["rule"]["id"].as_str().unwrap().to_string(),
                    key.to_string(),
                    e.n,
                ));
            }
        }
    }
    got
}

/// The reference: keep every event seen, recount per event, in processing order.
fn model_alerts(events: &[Ev]) -> Vec<(String, String, usize)> {
    let mut seen: Vec<&Ev> = Vec::new();
    let mut newest: Option<i64> = None;
    let mut got = Vec::new();
    for e in events {
        if newest.is_some_and(|n| e.t < n - 300) {
            continue; // late: skips the windows
        }
        newest = Some(newest.map_or(e.t, |n| n.max(e.t)));
        seen.push(e);
        let actor = format!("user{}", e.actor);
        let in_window = |a: i64, x: &Ev| x.t >= a && x.t <= a + W;
        // Best window of length W that contains e.t, over events matching `pred`.
        let best = |pred: &dyn Fn(&Ev) -> bool, distinct: bool| -> usize {
            let mut best = 0;
            for s in seen
                .iter()
                .filter(|x| pred(x) && x.t >= e.t - W && x.t <= e.t)
            {
                let members = seen.iter().filter(|x| pred(x) && in_window(s.t, x));
                let n = if distinct {
                    members.map(|x| x.actor).collect::<HashSet<_>>().len()
                } else {
                    members.count()
                };
                best = best.max(n);
            }
            best
        };
        let svc_of = |x: &Ev| x.sso;
        if !e.ok {
            let ip_fail = |x: &Ev| !x.ok && x.ip == e.ip;
            if best(&ip_fail, true) > 3 {
                got.push((
                    "password_spray_from_ip".into(),
                    format!("192.0.2.{}", e.ip),
                    e.n,
                ));
            }
            let bf = |x: &Ev| !x.ok && x.actor == e.actor && svc_of(x) == svc_of(e);
            if best(&bf, false) >= 3 {
                let svc = if e.sso { "sso" } else { "directory" };
                got.push(("brute_force_attempts".into(), format!("{actor}|{svc}"), e.n));
            }
            if e.sso {
                let sso = |x: &Ev| !x.ok && x.sso && x.actor == e.actor;
                if best(&sso, false) > 2 {
                    got.push(("sso_failure_burst".into(), actor.clone(), e.n));
                }
            }
        } else {
            let n = seen
                .iter()
                .filter(|x| {
                    !x.ok
                        && x.actor == e.actor
                        && svc_of(x) == svc_of(e)
                        && x.t <= e.t
                        && x.t >= e.t - W
                })
                .count();
            if n >= 3 {
                let svc = if e.sso { "sso" } else { "directory" };
                got.push((
                    "brute_force_then_success".into(),
                    format!("{actor}|{svc}"),
                    e.n,
                ));
            }
        }
    }
    got
}

fn stream() -> impl Strategy<Value = Vec<Ev>> {
    prop::collection::vec((0i64..150, 0u8..6, 0u8..3, any::<bool>(), 0u8..10), 1..60).prop_map(
        |raw| {
            let mut t = 0;
            raw.into_iter()
                .enumerate()
                .map(|(n, (gap, actor, ip, sso, ok))| {
                    t += gap;
                    Ev {
                        n,
                        t,
                        actor,
                        ip,
                        sso,
                        ok: ok < 2,
                    }
                })
                .collect()
        },
    )
}

fn keys(a: &[(String, String, usize)]) -> BTreeSet<(String, String)> {
    a.iter().map(|(r, k, _)| (r.clone(), k.clone())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn in_order_matches_the_naive_model(events in stream()) {
        prop_assert_eq!(engine_alerts(&events), model_alerts(&events));
    }

    #[test]
    fn shuffling_within_lateness_keeps_the_alerting_keys(
        events in stream(),
        jitter in prop::collection::vec(0i64..120, 60),
    ) {
        // Reorder by a perturbed time: no event moves more than 120 s, inside the 300 s
        // lateness, so every event still enters the windows.
        let mut shuffled = events.clone();
        let mut pos: HashMap<usize, i64> = HashMap::new();
        for e in &events {
            pos.insert(e.n, e.t + jitter[e.n % jitter.len()]);
        }
        shuffled.sort_by_key(|e| (pos[&e.n], e.n));
        prop_assert_eq!(
            keys(&engine_alerts(&shuffled)).into_iter().filter(|(r, _)| r != "brute_force_then_success").collect::<BTreeSet<_>>(),
            keys(&engine_alerts(&events)).into_iter().filter(|(r, _)| r != "brute_force_then_success").collect::<BTreeSet<_>>()
        );
    }
}
