//! Property tests of the stateful rules (catalog section B, `src/windows/`) against a naive
//! reference model that keeps every event and recounts on each arrival.
//!
//! Streams are dense: 2–7 actors, or in a quarter of the cases 8–20 (so distinct tables fill
//! too; the same names are the locked accounts), 1–3 source ips,
//! 1–2 organizations, up to 120 events over 12, 20, 40 or 120 minutes, mostly on a grid of
//! 3–30 s steps (so many events share a time and windows end exactly on events), so
//! thresholds are reached, missed by one, and a key's fixed memory fills. Names are spelt in
//! three cases (one identity). The config uses small thresholds and the catalog's windows and
//! suppression periods (or, in half the cases, no suppression at all); `impossible_travel` is
//! off, and alerts without a `jcdetect.group_key` (single-event rules) are ignored.
//!
//! Up to 3 lines of a stream are delivered twice (an at-least-once pipeline): the same event
//! counts once, but each arrival is evaluated.
//!
//! Shuffled streams are delivered in order of (t + d, n) with a delay d of 0–300 s per event,
//! so each event is at most 300 s behind the newest one delivered before it, the lateness
//! itself: none is late
//! (the runs check the engine reports no late event, no diagnostic and no eviction).
//!
//! * A: in time order the engine's alerts are the model's, exactly.
//! * B: delivered out of order within the allowed lateness, the (rule, key) pairs that alert
//!   are those of the in-order run, and the model's.
//! * C: out of order, each (rule, key)'s first alert is triggered by the same event in the
//!   engine and in the model (later re-alerts of a key denser than its memory may differ).
//! * D: out of order, `brute_force_then_success` and `credential_stuffing_success`, whose
//!   tables keep what they need after a key fires, alert exactly as the model does.
//!
//! The model, per arriving event `e` at time `t` (all events here are in time):
//! * count rules: fire iff some window `[a, a + W]` containing `t` holds at least the fire
//!   count of the key's events seen so far;
//! * `brute_force_then_success`: a success at `s` fires iff the key's failures in `[s − W, s]`
//!   reach the threshold; a failure fires for each success already seen whose count it just
//!   brought to the threshold (gate time: that success);
//! * `credential_stuffing_success`: a success at `s` fires iff some failure time `T` of the ip
//!   with enough distinct actors in `[T − W, T]` has `T ≤ s ≤ T + success_window`; a failure
//!   fires for each success it newly arms;
//! * `mfa_bypass_suspected`: every success without MFA at `n` that has an MFA success of the
//!   same actor and event type at `m ≤ n ≤ m + horizon` alerts once, when the later of the
//!   two arrives;
//! * suppression per (rule, key): a firing at gate time `g` is held back iff the key has
//!   alerted and `g` is less than `suppress_secs` from one of its alerts, on either side (a
//!   late event may complete a window before the latest alert); `suppress_secs = 0` never
//!   holds back.
//!
//! Over 800 lines: the naive reference model is half of it and belongs beside the
//! properties that compare the engine with it.

use jcdetect::{Config, Engine, Options};
use proptest::prelude::*;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

/// 2024-06-01T12:00:00Z, s.
const BASE: i64 = 1_717_243_200;
/// The config's `[state] allowed_lateness_secs`.
const LATENESS: i64 = 300;
/// Largest delivery delay of a shuffled event: under the lateness, so nothing is late.
const MAX_DELAY: i64 = 300;
const MAX_EVENTS: usize = 120;

/// The stateful rules in catalog order (the order alerts of one event are compared in).
const RULES: [&str; 10] = [
    "password_spray_from_ip",
    "credential_stuffing_success",
    "brute_force_then_success",
    "brute_force_attempts",
    "multiple_accounts_locked",
    "admin_multi_country_login",
    "user_multi_country_login",
    "impossible_travel",
    "sso_failure_burst",
    "mfa_bypass_suspected",
];
const SPRAY: usize = 0;
const STUFFING: usize = 1;
const BF_SUCCESS: usize = 2;
const BF_ATTEMPTS: usize = 3;
const LOCKED: usize = 4;
const USER_CC: usize = 6;
const TRAVEL: usize = 7;
const SSO: usize = 8;
const MFA: usize = 9;

/// Single-event rules these streams can trigger (they carry no group key and are ignored).
const SINGLE_EVENT: [&str; 1] = ["account_locked"];

const COUNTRIES: [&str; 3] = ["US", "DE", "FR"];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// `user_login_attempt`, service `directory`.
    Login,
    /// `sso_auth`, service `sso`.
    Sso,
    /// `user_lockout`, service `directory`, `resource.username` locked.
    Lockout,
}

#[derive(Clone)]
struct Ev {
    /// Index in time order; also the DI `id`.
    n: usize,
    /// Seconds after `BASE`.
    t: i64,
    kind: Kind,
    /// The actor (logins) or the locked account (lockouts): the identity after lower-casing,
    /// which is what the model compares.
    who: u8,
    /// How the name is spelt: `User1`, `user1`, `USER1` (one identity).
    case: u8,
    ip: u8,
    org: u8,
    ok: bool,
    mfa: Option<bool>,
    cc: Option<&'static str>,
    /// Delivery delay (s) when shuffled.
    delay: i64,
}

impl Ev {
    fn login(&self) -> bool {
        self.kind != Kind::Lockout
    }

    fn failure(&self) -> bool {
        self.login() && !self.ok
    }

    fn success(&self) -> bool {
        self.login() && self.ok
    }

    /// The name as written in the event.
    fn name(&self) -> String {
        let stem = match (self.kind, self.case) {
            (Kind::Lockout, 0) => "Acct",
            (Kind::Lockout, 1) => "acct",
            (Kind::Lockout, _) => "ACCT",
            (_, 0) => "User",
            (_, 1) => "user",
            _ => "USER",
        };
        format!("{stem}{}", self.who)
    }

    /// The identity the engine keys on (lower-cased).
    fn ident(&self) -> String {
        self.name().to_lowercase()
    }

    fn ip_str(&self) -> String {
        format!("192.0.2.{}", self.ip + 1)
    }

    fn org_str(&self) -> String {
        format!("5f{:022x}", u32::from(self.org) + 1)
    }

    fn event_type(&self) -> &'static str {
        match self.kind {
            Kind::Login => "user_login_attempt",
            Kind::Sso => "sso_auth",
            Kind::Lockout => "user_lockout",
        }
    }

    fn service(&self) -> &'static str {
        match self.kind {
            Kind::Sso => "sso",
            _ => "directory",
        }
    }

    fn line(&self) -> String {
        let id = format!("65a1{:020x}", self.n);
        let ts = jcdetect::decode::time::to_rfc3339((BASE + self.t) * 1_000_000_000);
        let (et, svc, org) = (self.event_type(), self.service(), self.org_str());
        if self.kind == Kind::Lockout {
            return format!(
                r#"{{"id":"{id}","event_type":"{et}","service":"{svc}","resource":{{"username":"{}"}},"organization":"{org}","timestamp":"{ts}"}}"#,
                self.name()
            );
        }
        let outcome = if self.kind == Kind::Sso {
            "sso_token_success"
        } else {
            "success"
        };
        let mut s = format!(
            r#"{{"id":"{id}","event_type":"{et}","service":"{svc}","{outcome}":{},"client_ip":"{}","initiated_by":{{"type":"user","username":"{}"}},"organization":"{org}","timestamp":"{ts}""#,
            self.ok,
            self.ip_str(),
            self.name()
        );
        if let Some(cc) = self.cc {
            s += &format!(r#","geoip":{{"country_code":"{cc}"}}"#);
        }
        if let Some(m) = self.mfa {
            s += &format!(r#","mfa":{m}"#);
        }
        s + "}"
    }
}

/// `(n, t, kind, actor, ip, ok, mfa, country)`; lockouts `(n, t, lockout, account, org)`.
impl fmt::Debug for Ev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == Kind::Lockout {
            return write!(
                f,
                "({}, {}, lockout, {}, org{})",
                self.n,
                self.t,
                self.name(),
                self.org
            );
        }
        write!(
            f,
            "({}, {}, {}, {}, ip{}, {}, {}, {})",
            self.n,
            self.t,
            if self.kind == Kind::Sso {
                "sso"
            } else {
                "login"
            },
            self.name(),
            self.ip + 1,
            if self.ok { "ok" } else { "FAIL" },
            match self.mfa {
                None => "-",
                Some(true) => "mfa",
                Some(false) => "nomfa",
            },
            self.cc.unwrap_or("-")
        )
    }
}

/// One stateful alert: rule (index in `RULES`), group key, and the arriving event's `n`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Alert {
    rule: usize,
    key: String,
    n: usize,
}

impl fmt::Debug for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]@{}", RULES[self.rule], self.key, self.n)
    }
}

/// A rule's settings as the model uses them (times in s).
#[derive(Clone, Copy)]
struct Knob {
    threshold: usize,
    window: i64,
    suppress: i64,
}

/// The config under test and the same numbers for the model.
struct Params {
    toml: String,
    spray: Knob,
    stuffing: Knob,
    success_window: i64,
    bf_success: Knob,
    bf_attempts: Knob,
    locked: Knob,
    user_cc: Knob,
    sso: Knob,
    mfa_horizon: i64,
}

impl Params {
    /// Small thresholds; catalog windows; catalog suppression, or none (`zero_suppress`).
    fn small(zero_suppress: bool) -> Params {
        let k = |threshold, window, suppress| Knob {
            threshold,
            window,
            suppress: if zero_suppress { 0 } else { suppress },
        };
        let p = Params {
            toml: String::new(),
            spray: k(3, 600, 600),
            stuffing: k(3, 600, 3600),
            success_window: 3600,
            bf_success: k(3, 600, 600),
            bf_attempts: k(3, 600, 600),
            locked: k(3, 900, 900),
            user_cc: k(1, 3600, 3600),
            sso: k(2, 600, 600),
            mfa_horizon: 30 * 86_400,
        };
        let mut toml = String::new();
        for (id, k) in [
            ("password_spray_from_ip", p.spray),
            ("credential_stuffing_success", p.stuffing),
            ("brute_force_then_success", p.bf_success),
            ("brute_force_attempts", p.bf_attempts),
            ("multiple_accounts_locked", p.locked),
            ("user_multi_country_login", p.user_cc),
            ("sso_failure_burst", p.sso),
        ] {
            toml += &format!("[rules.{id}]\nthreshold = {}\n", k.threshold);
            if zero_suppress {
                toml += "suppress_secs = 0\n";
            }
        }
        toml += "[rules.impossible_travel]\nenabled = false\n";
        toml += &format!("[state]\nallowed_lateness_secs = {LATENESS}\n");
        Params { toml, ..p }
    }

    /// The catalog defaults (an empty config).
    fn defaults() -> Params {
        let k = |threshold, window, suppress| Knob {
            threshold,
            window,
            suppress,
        };
        Params {
            toml: String::new(),
            spray: k(15, 600, 600),
            stuffing: k(7, 600, 3600),
            success_window: 3600,
            bf_success: k(5, 600, 600),
            bf_attempts: k(5, 600, 600),
            locked: k(3, 900, 900),
            user_cc: k(1, 3600, 3600),
            sso: k(5, 600, 600),
            mfa_horizon: 30 * 86_400,
        }
    }

    fn config(&self) -> Config {
        Config::from_toml_str(&self.toml).unwrap()
    }
}

/// The fields of an alert record the tests read.
#[derive(Deserialize)]
struct Record {
    rule: RuleRef,
    jcdetect: Option<Evidence>,
}

#[derive(Deserialize)]
struct RuleRef {
    id: String,
}

#[derive(Deserialize)]
struct Evidence {
    group_key: Option<String>,
}

/// Run the engine on `arrivals` (in that order); the stateful alerts, those of one event in
/// catalog order. Panics on anything that would make the comparison meaningless: a
/// diagnostic, a late or far-ahead event, an evicted key, an unexpected alert.
fn engine_run(p: &Params, arrivals: &[Ev]) -> Vec<Alert> {
    let mut engine = Engine::new(&p.config(), Options::default());
    let mut got = Vec::new();
    for e in arrivals {
        let (mut out, mut diags) = (Vec::new(), Vec::new());
        engine.process_line(e.line().as_bytes(), &mut out, &mut diags);
        assert!(diags.is_empty(), "event {e:?}: {diags:?}");
        let mut batch = Vec::new();
        for l in String::from_utf8(out).unwrap().lines() {
            let v: Record = serde_json::from_str(l).unwrap();
            let id = v.rule.id.as_str();
            match v.jcdetect.and_then(|j| j.group_key) {
                Some(key) => {
                    let rule = RULES
                        .iter()
                        .position(|r| *r == id)
                        .unwrap_or_else(|| panic!("{id} has a group key: {l}"));
                    assert_ne!(rule, TRAVEL, "impossible_travel is disabled: {l}");
                    batch.push(Alert { rule, key, n: e.n });
                }
                None => assert!(SINGLE_EVENT.contains(&id), "unexpected alert {l}"),
            }
        }
        batch.sort();
        got.extend(batch);
    }
    let stats = engine.stats();
    assert_eq!((stats.late, stats.ahead), (0, 0), "late / ahead events");
    let evicted = engine.window_stats().evictions;
    assert!(
        evicted.iter().all(|&(_, n)| n == 0),
        "evictions {evicted:?}"
    );
    got
}

/// The largest count (or distinct count of the identities) of `pts` (time, `who`) in a
/// window `[a, a + w]` that contains `t`. The best start is at one of the points.
fn best(t: i64, w: i64, pts: &[(i64, u8)], distinct: bool) -> usize {
    pts.iter()
        .filter(|(a, _)| *a >= t - w && *a <= t)
        .map(|(a, _)| {
            let inside = pts.iter().filter(|(x, _)| *x >= *a && *x <= a + w);
            if distinct {
                distinct_ids(inside.map(|(_, id)| *id))
            } else {
                inside.count()
            }
        })
        .max()
        .unwrap_or(0)
}

/// How many distinct identities (`Ev::who`, or a country's index: all below 32).
fn distinct_ids(ids: impl Iterator<Item = u8>) -> usize {
    ids.fold(0u32, |m, id| m | 1 << id).count_ones() as usize
}

fn country_id(cc: &str) -> u8 {
    COUNTRIES.iter().position(|c| *c == cc).unwrap() as u8
}

/// Credential stuffing: the failure times `T` of one ip whose `[T − W, T]` holds enough
/// distinct actors. `fails` is (time, `who`).
fn stuffing_marks(p: &Params, fails: &[(i64, u8)]) -> Vec<i64> {
    let w = p.stuffing.window;
    fails
        .iter()
        .filter(|(big_t, _)| {
            let inside = fails
                .iter()
                .filter(|(x, _)| *x >= big_t - w && *x <= *big_t);
            distinct_ids(inside.map(|(_, a)| *a)) >= p.stuffing.threshold
        })
        .map(|(t, _)| *t)
        .collect()
}

fn armed(p: &Params, marks: &[i64], s: i64) -> bool {
    marks.iter().any(|&m| m <= s && s <= m + p.success_window)
}

/// Suppression gates: the earliest and latest alert time per (rule, key) once armed.
#[derive(Default)]
struct Gates(HashMap<(usize, String), (i64, i64)>);

impl Gates {
    /// Whether a firing of `rule` for `key` at gate time `g` alerts: not when it is less than
    /// `suppress` from an alert of the key, on either side.
    fn pass(&mut self, rule: usize, key: &str, g: i64, suppress: i64) -> bool {
        let slot = (rule, key.to_string());
        match self.0.get(&slot).copied() {
            Some((lo, hi)) if suppress > 0 && g > lo - suppress && g < hi + suppress => false,
            Some((lo, hi)) => {
                self.0.insert(slot, (lo.min(g), hi.max(g)));
                true
            }
            None => {
                self.0.insert(slot, (g, g));
                true
            }
        }
    }
}

/// The reference: keep every event, recount on each arrival, in arrival order.
fn model(p: &Params, arrivals: &[Ev]) -> Vec<Alert> {
    let mut seen: Vec<&Ev> = Vec::new();
    let mut gates = Gates::default();
    // Successes without MFA that have not alerted (yet).
    let mut unmatched: Vec<&Ev> = Vec::new();
    let mut got = Vec::new();
    for e in arrivals {
        let t = e.t;
        let mut batch: Vec<Alert> = Vec::new();
        let mut fire = |gates: &mut Gates, rule: usize, key: String, g: i64, suppress: i64| {
            if gates.pass(rule, &key, g, suppress) {
                batch.push(Alert { rule, key, n: e.n });
            }
        };
        let ip_fails = |seen: &[&Ev]| -> Vec<(i64, u8)> {
            seen.iter()
                .filter(|x| x.failure() && x.ip == e.ip)
                .map(|x| (x.t, x.who))
                .collect()
        };
        let marks_before = if e.failure() {
            stuffing_marks(p, &ip_fails(&seen))
        } else {
            Vec::new()
        };
        // A redelivered event (at-least-once pipelines) is the same event: it counts once, but
        // its arrival is evaluated again.
        let fresh = !seen.iter().any(|x| x.n == e.n);
        if fresh {
            seen.push(e);
        }
        let same_actor = |x: &&&Ev| x.login() && x.who == e.who;
        let same_service = |x: &&&Ev| same_actor(x) && x.kind == e.kind;
        let bf_key = format!("{}|{}", e.ident(), e.service());
        // Failures of the brute-force key in [s − W, s].
        let bf_count = |s: i64| {
            seen.iter()
                .filter(same_service)
                .filter(|x| !x.ok && x.t >= s - p.bf_success.window && x.t <= s)
                .count()
        };
        let pts = |pred: &dyn Fn(&&&Ev) -> bool| -> Vec<(i64, u8)> {
            seen.iter().filter(pred).map(|x| (x.t, x.who)).collect()
        };
        match e.kind {
            Kind::Lockout => {
                let k = p.locked;
                let accounts = pts(&|x| x.kind == Kind::Lockout && x.org == e.org);
                if best(t, k.window, &accounts, true) >= k.threshold {
                    fire(&mut gates, LOCKED, e.org_str(), t, k.suppress);
                }
            }
            _ if !e.ok => {
                let k = p.spray;
                let fails = ip_fails(&seen);
                if best(t, k.window, &fails, true) > k.threshold {
                    fire(&mut gates, SPRAY, e.ip_str(), t, k.suppress);
                }
                // Successes of the ip newly armed by this failure.
                let marks = stuffing_marks(p, &fails);
                let mut newly: Vec<i64> = seen
                    .iter()
                    .filter(|x| x.success() && x.ip == e.ip)
                    .map(|x| x.t)
                    .filter(|&s| armed(p, &marks, s) && !armed(p, &marks_before, s))
                    .collect();
                newly.sort();
                for s in newly {
                    fire(&mut gates, STUFFING, e.ip_str(), s, p.stuffing.suppress);
                }
                // Successes whose failure count this failure just brought to the threshold.
                let mut crossed: Vec<i64> = seen
                    .iter()
                    .filter(same_service)
                    .filter(|x| fresh && x.ok && x.t >= t && x.t <= t + p.bf_success.window)
                    .map(|x| x.t)
                    .filter(|&s| bf_count(s) == p.bf_success.threshold)
                    .collect();
                crossed.sort();
                for s in crossed {
                    fire(
                        &mut gates,
                        BF_SUCCESS,
                        bf_key.clone(),
                        s,
                        p.bf_success.suppress,
                    );
                }
                let k = p.bf_attempts;
                let fails = pts(&|x| same_service(x) && !x.ok);
                if best(t, k.window, &fails, false) >= k.threshold {
                    fire(&mut gates, BF_ATTEMPTS, bf_key.clone(), t, k.suppress);
                }
                if e.kind == Kind::Sso {
                    let k = p.sso;
                    let fails = pts(&|x| same_actor(x) && x.kind == Kind::Sso && !x.ok);
                    if best(t, k.window, &fails, false) > k.threshold {
                        fire(&mut gates, SSO, e.ident(), t, k.suppress);
                    }
                }
            }
            _ => {
                let marks = stuffing_marks(p, &ip_fails(&seen));
                if armed(p, &marks, t) {
                    fire(&mut gates, STUFFING, e.ip_str(), t, p.stuffing.suppress);
                }
                if bf_count(t) >= p.bf_success.threshold {
                    fire(
                        &mut gates,
                        BF_SUCCESS,
                        bf_key.clone(),
                        t,
                        p.bf_success.suppress,
                    );
                }
                if e.cc.is_some() {
                    let k = p.user_cc;
                    let countries: Vec<(i64, u8)> = seen
                        .iter()
                        .filter(same_actor)
                        .filter(|x| x.ok)
                        .filter_map(|x| x.cc.map(|c| (x.t, country_id(c))))
                        .collect();
                    if best(t, k.window, &countries, true) > k.threshold {
                        fire(&mut gates, USER_CC, e.ident(), t, k.suppress);
                    }
                }
                let mfa_key = format!("{}|{}", e.ident(), e.event_type());
                let h = p.mfa_horizon;
                match e.mfa {
                    Some(true) => {
                        // Every earlier-arrived login without MFA that this one covers.
                        let (hit, rest): (Vec<&Ev>, Vec<&Ev>) = unmatched.iter().partition(|x| {
                            x.who == e.who && x.kind == e.kind && t <= x.t && x.t <= t + h
                        });
                        unmatched = rest;
                        for _ in hit {
                            batch.push(Alert {
                                rule: MFA,
                                key: mfa_key.clone(),
                                n: e.n,
                            });
                        }
                    }
                    Some(false) => {
                        let covered = seen
                            .iter()
                            .filter(same_service)
                            .any(|x| x.ok && x.mfa == Some(true) && x.t <= t && t <= x.t + h);
                        if covered {
                            batch.push(Alert {
                                rule: MFA,
                                key: mfa_key,
                                n: e.n,
                            });
                        } else if !unmatched.iter().any(|x| x.n == e.n) {
                            unmatched.push(e);
                        }
                    }
                    None => {}
                }
            }
        }
        batch.sort();
        got.extend(batch);
    }
    got
}

/// A generated case: the stream in time order (each event with its delivery delay), and
/// which config (catalog suppression, or none).
#[derive(Clone)]
struct Case {
    events: Vec<Ev>,
    zero_suppress: bool,
}

impl Case {
    fn params(&self) -> Params {
        Params::small(self.zero_suppress)
    }

    /// Sorted by (t, n): the stream is generated that way.
    fn in_order(&self) -> Vec<Ev> {
        self.events.clone()
    }

    /// Delivered in order of (t + delay, n): each event at most `MAX_DELAY` behind the
    /// newest one delivered before it.
    fn shuffled(&self) -> Vec<Ev> {
        let mut v = self.events.clone();
        v.sort_by_key(|e| (e.t + e.delay, e.n));
        let newest = v.iter().scan(0, |newest, e| {
            *newest = e.t.max(*newest);
            Some(*newest - e.t)
        });
        assert!(newest.max().unwrap_or(0) <= MAX_DELAY);
        v
    }
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "suppression: {}",
            if self.zero_suppress {
                "none"
            } else {
                "catalog"
            }
        )?;
        writeln!(
            f,
            "events (n, t, kind, actor, ip, ok, mfa, country), delivery delay:"
        )?;
        for e in &self.events {
            writeln!(f, "  {e:?} +{}", e.delay)?;
        }
        let order: Vec<usize> = self.shuffled().iter().map(|e| e.n).collect();
        write!(f, "shuffled arrival order: {order:?}")
    }
}

/// Kind of event from a draw in 0..10, per mix: balanced, lockout-heavy, SSO-heavy,
/// directory-login-heavy.
fn kind_of(mix: u8, k: u8) -> Kind {
    let (logins, ssos) = [(5, 3), (2, 1), (2, 7), (9, 1)][mix as usize];
    if k < logins {
        Kind::Login
    } else if k < logins + ssos {
        Kind::Sso
    } else {
        Kind::Lockout
    }
}

fn case() -> impl Strategy<Value = Case> {
    // Event times are absolute (so shrinking can drop an event without moving the others),
    // mostly on a grid of 241 points across the stream's span (3, 5, 10 or 30 s steps, which
    // divide every window), so equal times and exact window edges are common; else any
    // second of the span.
    let time = prop_oneof![
        2 => (Just(true), 0i64..=240),
        1 => (Just(false), 0i64..=2400),
    ];
    let delay = prop_oneof![Just(0i64), 0..=MAX_DELAY];
    // (time, kind, who, spelling, ip, org, ok, mfa, country, delivery delay)
    let raw = (
        time,
        0u8..10,
        0u8..20,
        0u8..3,
        0u8..3,
        0u8..2,
        0u8..3,
        0u8..3,
        0u8..4,
        delay,
    );
    // The span sets the density; 2 h lets the 1 h country window slide too.
    let span = prop_oneof![
        3 => Just(720i64),
        3 => Just(1200),
        3 => Just(2400),
        1 => Just(7200),
    ];
    (
        // actors (also locked accounts), ips, organizations, span, mix of kinds
        (
            prop_oneof![3 => 2u8..=7, 1 => 8u8..=20],
            1u8..=3,
            1u8..=2,
            span,
            0u8..4,
        ),
        prop::collection::vec(raw, 1..=MAX_EVENTS),
        any::<bool>(),
        // Redeliveries: (which event, its second delay).
        prop::collection::vec((any::<usize>(), 0..=MAX_DELAY), 0..4),
    )
        .prop_map(
            |((actors, ips, orgs, span, mix), raw, zero_suppress, dups)| {
                let mut events: Vec<Ev> = raw
                    .into_iter()
                    .map(
                        |((grid, t), kind, who, case, ip, org, ok, mfa, cc, delay)| Ev {
                            n: 0,
                            t: if grid {
                                t * span / 240
                            } else {
                                t * span / 2400
                            },
                            kind: kind_of(mix, kind),
                            who: who % actors,
                            case,
                            ip: ip % ips,
                            org: org % orgs,
                            // A failure two times in three.
                            ok: ok == 0,
                            mfa: [None, Some(true), Some(false)][mfa as usize],
                            cc: cc.checked_sub(1).map(|i| COUNTRIES[i as usize]),
                            delay,
                        },
                    )
                    .collect();
                // Time order (stable: equal times keep their generated order), then number.
                events.sort_by_key(|e| e.t);
                for (n, e) in events.iter_mut().enumerate() {
                    e.n = n;
                }
                // A redelivered line: the same event (same id and time) once more, delivered
                // right after it in time order and with its own delay when shuffled.
                for (pick, delay) in dups {
                    let mut again = events[pick % events.len()].clone();
                    again.delay = delay;
                    events.push(again);
                }
                events.sort_by_key(|e| (e.t, e.n));
                Case {
                    events,
                    zero_suppress,
                }
            },
        )
}

fn rule_keys(a: &[Alert]) -> BTreeSet<(&'static str, String)> {
    a.iter().map(|x| (RULES[x.rule], x.key.clone())).collect()
}

/// The arriving event of each (rule, key)'s first alert.
fn first_alerts(a: &[Alert]) -> BTreeMap<(&'static str, String), usize> {
    let mut m = BTreeMap::new();
    for x in a {
        m.entry((RULES[x.rule], x.key.clone())).or_insert(x.n);
    }
    m
}

/// The two alert lists and where they part.
fn explain(got: &[Alert], want: &[Alert]) -> String {
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    format!(
        "first difference at alert {at}: engine {:?}, model {:?}\n  engine: {got:?}\n  model:  {want:?}",
        got.get(at),
        want.get(at)
    )
}

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases(5000))]

    /// A: in time order (sorted by (t, n)) the engine's alerts are the model's, exactly.
    #[test]
    fn a_in_order_alerts_equal_the_model(c in case()) {
        let p = c.params();
        let events = c.in_order();
        let (got, want) = (engine_run(&p, &events), model(&p, &events));
        prop_assert!(got == want, "in time order:\n{}", explain(&got, &want));
    }

    /// B: shuffled within the lateness, the alerting (rule, key) pairs are those of the
    /// in-order run and of the model.
    #[test]
    fn b_shuffled_alerting_keys_are_order_independent(c in case()) {
        let p = c.params();
        let (sorted, shuffled) = (c.in_order(), c.shuffled());
        let want = rule_keys(&model(&p, &shuffled));
        // The model itself does not depend on the order.
        prop_assert_eq!(&want, &rule_keys(&model(&p, &sorted)), "model, shuffled vs sorted");
        let in_order = rule_keys(&engine_run(&p, &sorted));
        let got = rule_keys(&engine_run(&p, &shuffled));
        prop_assert!(
            got == want && in_order == want,
            "alerting (rule, key) pairs\n  model:              {want:?}\n  engine in order:    {in_order:?}\n  engine shuffled:    {got:?}\n  shuffled only:      {:?}\n  model only:         {:?}",
            got.difference(&want).collect::<Vec<_>>(),
            want.difference(&got).collect::<Vec<_>>()
        );
    }

    /// C: shuffled within the lateness, each (rule, key)'s first alert is triggered by the
    /// same arriving event in the engine and the model.
    #[test]
    fn c_shuffled_first_alerts_equal_the_model(c in case()) {
        let p = c.params();
        let shuffled = c.shuffled();
        let (got, want) = (engine_run(&p, &shuffled), model(&p, &shuffled));
        let (first_got, first_want) = (first_alerts(&got), first_alerts(&want));
        prop_assert!(
            first_got == first_want,
            "first alert per (rule, key), shuffled:\n  engine: {first_got:?}\n  model:  {first_want:?}\n{}",
            explain(&got, &want)
        );
    }
}

proptest! {
    #![proptest_config(cases(3000))]

    /// D: shuffled within the lateness, the sequence rules whose tables keep what they need
    /// for good (`brute_force_then_success`, `credential_stuffing_success`) alert exactly as
    /// the model does, repeats and suppression included: one alert per success completed,
    /// however many late failures arrive after it.
    #[test]
    fn d_shuffled_sequence_alerts_equal_the_model(c in case()) {
        let p = c.params();
        let shuffled = c.shuffled();
        let seq = |a: Vec<Alert>| -> Vec<Alert> {
            a.into_iter().filter(|x| x.rule == BF_SUCCESS || x.rule == STUFFING).collect()
        };
        let (got, want) = (seq(engine_run(&p, &shuffled)), seq(model(&p, &shuffled)));
        prop_assert!(got == want, "sequence rules, shuffled:\n{}", explain(&got, &want));
    }
}

/// A lockout event for the regressions: `n`, seconds after 12:00:00, account, org 0.
fn lockout(n: usize, t: i64, who: u8) -> Ev {
    Ev {
        n,
        t,
        kind: Kind::Lockout,
        who,
        case: 1,
        ip: 0,
        org: 0,
        ok: false,
        mfa: None,
        cc: None,
        delay: 0,
    }
}

fn login(n: usize, t: i64, ok: bool) -> Ev {
    Ev {
        kind: Kind::Login,
        ok,
        ..lockout(n, t, 1)
    }
}

/// Engine and model on `arrivals` with the catalog defaults; the model must give `want`
/// (rule, key, arriving event), and the engine the same.
fn regression(arrivals: &[Ev], want: &[(usize, &str, usize)]) {
    let p = Params::defaults();
    let model = model(&p, arrivals);
    let want: Vec<Alert> = want
        .iter()
        .map(|&(rule, key, n)| Alert {
            rule,
            key: key.to_string(),
            n,
        })
        .collect();
    assert_eq!(model, want, "the model");
    let got = engine_run(&p, arrivals);
    assert!(
        got == want,
        "arrivals {arrivals:?}\n{}",
        explain(&got, &want)
    );
}

/// Accounts locked at 12:00:00, 12:00:01 and 12:15:05; then one locked at 12:15:00 arrives
/// last: 12:00:00–12:15:00 holds 3 distinct accounts within 900 s.
#[test]
fn late_lockout_completes_a_wave() {
    let arrivals = [
        lockout(0, 0, 1),
        lockout(1, 1, 2),
        lockout(3, 905, 4),
        lockout(2, 900, 3),
    ];
    let org = lockout(0, 0, 0).org_str();
    regression(&arrivals, &[(LOCKED, &org, 2)]);
}

/// Failures at 12:00, 12:01, 12:02, 12:03, 12:04 and 12:05:10; the success at 12:05:00
/// arrives last: 5 failures in the 600 s before it.
#[test]
fn late_success_after_five_failures() {
    let mut arrivals: Vec<Ev> = (0..5).map(|i| login(i, 60 * i as i64, false)).collect();
    arrivals.push(login(6, 310, false));
    arrivals.push(login(5, 300, true));
    let key = "user1|directory";
    regression(&arrivals, &[(BF_ATTEMPTS, key, 4), (BF_SUCCESS, key, 5)]);
}

/// In time order: 4 failures, then a success and a fifth failure in the same second, the
/// failure delivered after the success. It counts before the success (`t_f <= s`), so its
/// arrival raises `brute_force_then_success` (and `brute_force_attempts`).
#[test]
fn same_second_failure_after_the_success() {
    let mut arrivals: Vec<Ev> = (0..4).map(|i| login(i, 60 * i as i64, false)).collect();
    arrivals.push(login(4, 300, true));
    arrivals.push(login(5, 300, false));
    let key = "user1|directory";
    regression(&arrivals, &[(BF_SUCCESS, key, 5), (BF_ATTEMPTS, key, 5)]);
}
