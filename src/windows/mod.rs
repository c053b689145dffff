//! Stateful rules: sliding windows on event time, in tables whose size is fixed at start-up.
//!
//! Every table is an array of `WAYS`-slot buckets indexed by a 64-bit key fingerprint. Each
//! key owns `k` record slots, as many as exactness under the allowed lateness needs and no
//! more ([`records_needed`]: every occurrence that can still share a window with an event in
//! time, until the key fires). When a bucket is full the victim is an empty slot, else a key
//! idle past its horizon, else the key with the least in-window weight, so a flood of
//! one-shot keys cannot push out a slow, heavy attacker. Successes that late events may
//! still precede live in `crate::windows::recent`. Nothing here allocates per event once built.

mod recent;
pub mod watermark;

use crate::alert::{Evidence, Extra};
use crate::decode::time::NANOS;
use crate::decode::Event;
use crate::hash::hash64;
use crate::rules::Rules;
use crate::state::{Reader, StateError, Writer};
use recent::{tag_of, Kind, Recents, Success, AWAITS_MFA, BRUTE_FORCED};
use smallvec::SmallVec;
use std::borrow::Cow;

// One file per job; `use` below brings their items into this module and each of them
// sees all of it (`use super::*`).
mod codec;
mod correlate;
mod evidence;
mod id;
mod meta;
mod migrate;
mod plan;
mod records;
mod table;

pub(crate) use codec::Codec;
use correlate::*;
use evidence::*;
pub use id::CompactId;
use meta::*;
use plan::*;
pub use plan::{planned_bytes, StateConfig};
use records::*;
use table::*;

/// At most this many DI ids are listed in an alert's evidence.
pub const MAX_EVIDENCE_IDS: usize = 32;

/// One login as the window rules see it.
#[derive(Clone, Copy)]
struct Obs<'a, 'e> {
    ev: &'a Event<'e>,
    et: &'a str,
    /// Lower-cased actor.
    actor: Option<&'a str>,
    /// Source ip in canonical form.
    ip: Option<&'a str>,
    t: i64,
    /// Newest event time of the stream.
    now: i64,
    id: CompactId,
}

/// A stateful alert, ready for the engine to encode.
pub struct Fired {
    pub rule: usize,
    pub evidence: Evidence,
}

/// Counters of the window state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowStats {
    /// Evictions by table name.
    pub evictions: Vec<(&'static str, u64)>,
    /// Alerts held back by suppression.
    pub suppressed: u64,
    /// Bytes preallocated for all tables.
    pub bytes: usize,
    /// Each Sigma correlation's table: (rule id, key capacity, evictions).
    pub correlations: Vec<(String, usize, u64)>,
}

/// All stateful rules and their tables.
pub struct Windows {
    spray: Knobs,
    stuffing: Knobs,
    stuffing_success_window: i64,
    bf_success: Knobs,
    bf_attempts: Knobs,
    locked: Knobs,
    admin_cc: Knobs,
    user_cc: Knobs,
    travel: Knobs,
    travel_km: f64,
    travel_kmh: f64,
    sso: Knobs,
    mfa: Knobs,
    mfa_horizon: i64,
    /// `[state] allowed_lateness_secs`, ns.
    lateness: i64,
    ip: Option<Table<IpMeta>>,
    brute: Option<Table<TwoGates>>,
    sso_t: Option<Table<TwoGates>>,
    lock_t: Option<Table<TwoGates>>,
    country_t: Option<Table<TwoGates>>,
    travel_t: Option<Table<TravelMeta>>,
    mfa_t: Option<Table<MfaMeta>>,
    /// Recent successful logins, for events that preceded them and arrive late (a failure,
    /// an MFA login). An event later than the newest one looks nothing up.
    recent: Option<Recents>,
    /// Sigma correlations' tables, in the rule set's order.
    corr: Vec<CorrTable>,
    suppressed: u64,
    /// The latest end of any ip's credential-stuffing span (0 when none was ever armed).
    armed_until_max: i64,
}

fn key_of(parts: &[&[u8]]) -> u64 {
    // `hash64` mixes in each part's length, so ("ab","c") and ("a","bc") differ.
    parts
        .iter()
        .fold(0x0073_7461_7465, |h, p| hash64(p, h))
        .max(1)
}

/// Fingerprint of an identity; never 0 (empty) or [`RING`].
fn fp_of(s: &str) -> u64 {
    hash64(s.as_bytes(), 0).max(2)
}

/// Lower-cased identity; borrowed when it already is (the common case), so no allocation.
fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|c| c.is_ascii_uppercase() || !c.is_ascii()) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// Great-circle distance in km (haversine, mean Earth radius).
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0088 * a.sqrt().min(1.0).asin()
}

impl Windows {
    /// Build the tables for the enabled stateful rules, splitting `[state] memory_mb`.
    pub fn new(
        rules: &Rules,
        sigma: &crate::sigma::set::RuleSet,
        state: &impl AsRef<StateConfig>,
    ) -> Windows {
        let state = state.as_ref();
        let StatefulKnobs {
            spray,
            stuffing,
            bf_success,
            bf_attempts,
            locked,
            admin_cc,
            user_cc,
            travel,
            sso,
            mfa,
        } = StatefulKnobs::of(rules);
        let rule = |k: &Knobs| &rules.rules[k.rule];
        let stuffing_success_window = rule(&stuffing).int("success_window_secs") as i64 * NANOS;
        let mfa_horizon = rule(&mfa).int("horizon_secs") as i64 * NANOS;
        let lateness_secs = state.allowed_lateness_secs;

        // The shapes come from `plan`, which `planned_bytes` (config validation) shares.
        let budget = state.memory_mb as usize * (1 << 20);
        let (builtin, per_corr) = split_budget(rules, sigma.correlations.len(), budget);
        let [ip, brute, sso_t, lock_t, country_t, travel_t, mfa_t, recent] =
            plan(rules, lateness_secs, builtin);
        let lateness = lateness_secs as i64 * NANOS;
        let corr = sigma
            .correlations
            .iter()
            .enumerate()
            .map(|(i, c)| CorrTable::new(i, c, corr_spec(c, lateness, per_corr)))
            .collect();
        Windows {
            spray,
            stuffing,
            stuffing_success_window,
            bf_success,
            bf_attempts,
            locked,
            admin_cc,
            user_cc,
            travel,
            travel_km: rule(&travel).int("min_distance_km") as f64,
            travel_kmh: rule(&travel).int("min_speed_kmh") as f64,
            sso,
            mfa,
            mfa_horizon,
            lateness: lateness_secs as i64 * NANOS,
            ip: ip.map(Table::new),
            brute: brute.map(Table::new),
            sso_t: sso_t.map(Table::new),
            lock_t: lock_t.map(Table::new),
            country_t: country_t.map(Table::new),
            travel_t: travel_t.map(Table::new),
            mfa_t: mfa_t.map(Table::new),
            recent: recent.map(|s| Recents::new(s.bytes)),
            corr,
            suppressed: 0,
            armed_until_max: 0,
        }
    }

    /// (name, key capacity, bytes, evictions) of every table in use.
    fn tables(&self) -> Vec<(&'static str, usize, usize, u64)> {
        fn info<M: KeyMeta>(
            name: &'static str,
            t: &Option<Table<M>>,
        ) -> Option<(&'static str, usize, usize, u64)> {
            t.as_ref()
                .map(|t| (name, t.capacity(), t.bytes(), t.evictions))
        }
        let recent = self
            .recent
            .as_ref()
            .map(|r| ("recent_success", r.capacity(), r.bytes(), r.overwritten));
        // The correlations' tables, as one.
        let corr = (!self.corr.is_empty()).then(|| {
            self.corr
                .iter()
                .fold(("sigma_correlations", 0, 0, 0), |a, c| {
                    let t = &c.table;
                    (a.0, a.1 + t.capacity(), a.2 + t.bytes(), a.3 + t.evictions)
                })
        });
        [
            info("source_ip", &self.ip),
            info("actor_service", &self.brute),
            info("sso_actor", &self.sso_t),
            info("organization", &self.lock_t),
            info("actor_country", &self.country_t),
            info("actor_travel", &self.travel_t),
            info("actor_mfa", &self.mfa_t),
            recent,
            corr,
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    pub fn stats(&self) -> WindowStats {
        let tables = self.tables();
        WindowStats {
            evictions: tables.iter().map(|&(n, _, _, e)| (n, e)).collect(),
            suppressed: self.suppressed,
            bytes: tables.iter().map(|&(_, _, b, _)| b).sum(),
            correlations: self
                .corr
                .iter()
                .map(|c| (c.id.clone(), c.table.capacity(), c.table.evictions))
                .collect(),
        }
    }

    /// Key capacity of each table (for the docs and the memory test).
    pub fn capacities(&self) -> Vec<(&'static str, usize)> {
        self.tables()
            .into_iter()
            .map(|(n, c, _, _)| (n, c))
            .collect()
    }

    /// Feed one in-time event (`t` = its event time, `now` = newest event time seen).
    pub fn observe(
        &mut self,
        rules: &Rules,
        ev: &Event<'_>,
        t: i64,
        now: i64,
        out: &mut Vec<Fired>,
    ) {
        let id = CompactId::encode(ev.id.as_deref());
        let et = ev.event_type.as_deref().unwrap_or("");
        if et == "user_lockout" || et == "admin_lockout" {
            self.lockout(ev, t, now, id, out);
        }
        if !rules.is_login(ev) {
            return;
        }
        let actor = ev.actor().map(lower);
        let ip = ev.source_ip_key();
        let o = Obs {
            ev,
            et,
            actor: actor.as_deref(),
            ip: ip.as_deref(),
            t,
            now,
            id,
        };
        match ev.outcome() {
            Some(false) => self.failure(&o, out),
            Some(true) => self.success(&o, out),
            None => {}
        }
    }

    fn failure(&mut self, o: &Obs<'_, '_>, out: &mut Vec<Fired>) {
        let Obs {
            ev,
            et,
            actor,
            ip,
            t,
            now,
            id,
        } = *o;

        let Some(actor) = actor else { return };
        let afp = fp_of(actor);
        if let (Some(tab), Some(ip)) = (self.ip.as_mut(), ip) {
            let i = tab.upsert(key_of(&[ip.as_bytes()]), t, now);
            let counted = tab.add(i, afp, t, id, now).is_some();
            if self.spray.on {
                let hit = best_window(tab.recs(i), t, self.spray.window);
                if hit.count as u64 > self.spray.threshold {
                    if let Some(held) =
                        tab.meta[i]
                            .spray
                            .pass(t, self.spray.suppress, &mut self.suppressed)
                    {
                        out.push(fired(
                            &self.spray,
                            "source.ip",
                            ip,
                            &hit,
                            tab.recs(i),
                            held,
                            "more than",
                            true,
                        ));
                    }
                }
            }
            let need = self.stuffing.threshold as usize;
            let wave = (self.stuffing.on && counted)
                .then(|| completions(tab.recs(i), t, self.stuffing.window, need))
                .flatten();
            if let Some((from, to)) = wave {
                let until = to.saturating_add(self.stuffing_success_window);
                // Successes from this ip already seen that this (late) wave is the first to
                // arm: each fires.
                let m = tab.meta[i];
                let key = recent_ip_key(ip);
                let armed = successes(&mut self.recent, Kind::Ip, key, from, 0, |s| {
                    from <= s.t && s.t <= until && !m.armed_at(s.t)
                });
                tab.meta[i].arm(from, until);
                self.armed_until_max = self.armed_until_max.max(until);
                for s in armed {
                    if let Some(held) =
                        tab.meta[i]
                            .stuffing
                            .pass(s.t, self.stuffing.suppress, &mut self.suppressed)
                    {
                        let hit = best_window(tab.recs(i), from, self.stuffing.window);
                        out.push(success_evidence(
                            &self.stuffing,
                            "source.ip",
                            ip,
                            &hit,
                            tab.recs(i),
                            held,
                            s.t,
                            s.id,
                            true,
                        ));
                    }
                }
            }
        }
        let service = ev.service.as_deref().unwrap_or("");
        if let Some(tab) = self.brute.as_mut() {
            let i = tab.upsert(key_of(&[actor.as_bytes(), service.as_bytes()]), t, now);
            let counted = tab.add(i, afp, t, id, now).is_some();
            if self.bf_attempts.on {
                let hit = best_window(tab.recs(i), t, self.bf_attempts.window);
                if hit.count as u64 >= self.bf_attempts.threshold {
                    if let Some(held) =
                        tab.meta[i]
                            .a
                            .pass(t, self.bf_attempts.suppress, &mut self.suppressed)
                    {
                        let key = format!("{actor}|{service}");
                        out.push(fired(
                            &self.bf_attempts,
                            "user+service",
                            &key,
                            &hit,
                            tab.recs(i),
                            held,
                            "at least",
                            false,
                        ));
                    }
                }
            }
            if self.bf_success.on && counted {
                // Successes already seen that this (late) failure completes: each one at or
                // after it that now has `threshold` failures before it, and had not before,
                // fires.
                let (w, n) = (self.bf_success.window, self.bf_success.threshold as usize);
                let recs = tab.recs(i);
                let svc = tag_of(service);
                let key = recent_actor_key(actor);
                let crossed = successes(&mut self.recent, Kind::Actor, key, t, BRUTE_FORCED, |s| {
                    s.flags & BRUTE_FORCED == 0
                        && s.service == svc
                        && s.t >= t
                        && s.t <= t.saturating_add(w)
                        && count_in(recs, s.t.saturating_sub(w), s.t) >= n
                });
                for s in crossed {
                    if let Some(held) =
                        tab.meta[i]
                            .b
                            .pass(s.t, self.bf_success.suppress, &mut self.suppressed)
                    {
                        let recs = tab.recs(i);
                        let hit = count_between(recs, s.t.saturating_sub(w), s.t);
                        let key = format!("{actor}|{service}");
                        out.push(success_evidence(
                            &self.bf_success,
                            "user+service",
                            &key,
                            &hit,
                            recs,
                            held,
                            s.t,
                            s.id,
                            false,
                        ));
                    }
                }
            }
        }
        if et == "sso_auth" {
            if let Some(tab) = self.sso_t.as_mut() {
                let i = tab.upsert(key_of(&[actor.as_bytes()]), t, now);
                tab.add(i, afp, t, id, now);
                let hit = best_window(tab.recs(i), t, self.sso.window);
                if hit.count as u64 > self.sso.threshold {
                    if let Some(held) =
                        tab.meta[i]
                            .a
                            .pass(t, self.sso.suppress, &mut self.suppressed)
                    {
                        out.push(fired(
                            &self.sso,
                            "user",
                            actor,
                            &hit,
                            tab.recs(i),
                            held,
                            "more than",
                            false,
                        ));
                    }
                }
            }
        }
    }

    fn success(&mut self, o: &Obs<'_, '_>, out: &mut Vec<Fired>) {
        let Obs {
            ev,
            et,
            actor,
            ip,
            t,
            now,
            id,
        } = *o;

        // Credential stuffing: a success from an ip armed by a failure wave. Almost always no
        // ip is armed, and then the (cache-missing) lookup is skipped.
        let armed = (self.stuffing.on && t <= self.armed_until_max)
            .then_some(())
            .and(ip.zip(self.ip.as_mut()))
            .and_then(|(ip, tab)| tab.find(key_of(&[ip.as_bytes()])).map(|i| (ip, tab, i)));
        if let Some((ip, tab, i)) = armed {
            let span = tab.meta[i]
                .armed
                .iter()
                .find(|&&(a, b)| a <= t && t <= b)
                .copied();
            if let Some((from, _)) = span {
                if let Some(held) =
                    tab.meta[i]
                        .stuffing
                        .pass(t, self.stuffing.suppress, &mut self.suppressed)
                {
                    let hit = best_window(tab.recs(i), from, self.stuffing.window);
                    out.push(success_evidence(
                        &self.stuffing,
                        "source.ip",
                        ip,
                        &hit,
                        tab.recs(i),
                        held,
                        t,
                        id,
                        true,
                    ));
                }
            }
        }
        let Some(actor) = actor else {
            self.remember(None, ip, "", et, t, now, id, 0);
            return;
        };
        let service = ev.service.as_deref().unwrap_or("");
        let brute = (self.bf_success.on)
            .then_some(())
            .and(self.brute.as_mut())
            .and_then(|tab| {
                tab.find(key_of(&[actor.as_bytes(), service.as_bytes()]))
                    .map(|i| (tab, i))
            });
        let w = self.bf_success.window;
        let mut forced = false;
        if let Some((tab, i)) = brute {
            // Failures before (or at) the success, inside the window ending at it.
            let hit = count_between(tab.recs(i), t.saturating_sub(w), t);
            forced = hit.count as u64 >= self.bf_success.threshold;
            if forced {
                if let Some(held) =
                    tab.meta[i]
                        .b
                        .pass(t, self.bf_success.suppress, &mut self.suppressed)
                {
                    let key = format!("{actor}|{service}");
                    out.push(success_evidence(
                        &self.bf_success,
                        "user+service",
                        &key,
                        &hit,
                        tab.recs(i),
                        held,
                        t,
                        id,
                        false,
                    ));
                }
            }
        }
        let admin = ev.actor_is_admin();
        let cc_rule = if admin { self.admin_cc } else { self.user_cc };
        if let (true, Some(tab), Some(cc)) = (cc_rule.on, self.country_t.as_mut(), ev.country()) {
            let cc2 = country_tag(cc);
            // Two-letter codes (all real ones) hash from the tag without allocating.
            let cfp = if cc.len() == 2 {
                hash64(&cc2, 0).max(2)
            } else {
                fp_of(&cc.to_ascii_uppercase())
            };
            let i = tab.upsert(key_of(&[actor.as_bytes(), &[u8::from(admin)]]), t, now);
            if let Some(j) = tab.add(i, cfp, t, id, now) {
                tab.slots_mut(i)[j].tag = cc2;
            }
            let hit = best_window(tab.recs(i), t, cc_rule.window);
            if hit.count as u64 > cc_rule.threshold {
                let gate = if admin {
                    &mut tab.meta[i].a
                } else {
                    &mut tab.meta[i].b
                };
                if let Some(held) = gate.pass(t, cc_rule.suppress, &mut self.suppressed) {
                    let mut countries: Vec<String> = hit
                        .members
                        .iter()
                        .map(|&j| String::from_utf8_lossy(&tab.recs(i)[j].tag).into_owned())
                        .collect();
                    countries.sort();
                    let mut f = fired(
                        &cc_rule,
                        "user",
                        actor,
                        &hit,
                        tab.recs(i),
                        held,
                        "more than",
                        true,
                    );
                    f.evidence.extra.push(("countries", Extra::Strs(countries)));
                    out.push(f);
                }
            }
        }
        if let (true, Some(tab)) = (self.travel.on, self.travel_t.as_mut()) {
            if let Some(g) = ev.geoip.as_ref() {
                if let (Some(lat), Some(lon)) = (g.latitude, g.longitude) {
                    let i = tab.upsert(key_of(&[actor.as_bytes()]), t, now);
                    let prev = tab.meta[i];
                    let cc2 = country_tag(ev.country().unwrap_or(""));
                    if prev.has {
                        let km = haversine_km(prev.lat, prev.lon, lat, lon);
                        let secs = t.abs_diff(prev.t) as f64 / NANOS as f64;
                        let kmh = if secs > 0.0 {
                            km / (secs / 3600.0)
                        } else {
                            f64::INFINITY
                        };
                        if km > self.travel_km && kmh > self.travel_kmh {
                            let (start, end) = (prev.t.min(t), prev.t.max(t));
                            let mut e = Evidence {
                                group_by: "user".into(),
                                group_key: actor.to_string(),
                                window_start: start,
                                window_end: end,
                                count: 2,
                                distinct_count: None,
                                threshold: self.travel_km as u64,
                                comparison: "more than",
                                suppressed: 0,
                                event_ids: prev.id.decode().into_iter().collect(),
                                event_ids_total: 0,
                                extra: vec![
                                    ("distance_km", Extra::Float((km * 10.0).round() / 10.0)),
                                    ("elapsed_secs", Extra::Int(secs.round() as i64)),
                                    (
                                        "speed_kmh",
                                        if kmh.is_finite() {
                                            Extra::Float((kmh * 10.0).round() / 10.0)
                                        } else {
                                            Extra::Str("infinite".into())
                                        },
                                    ),
                                    (
                                        "from_country",
                                        Extra::Str(
                                            String::from_utf8_lossy(&prev.country).into_owned(),
                                        ),
                                    ),
                                ],
                            };
                            push_id(&mut e, id);
                            e.event_ids_total = 2;
                            out.push(Fired {
                                rule: self.travel.rule,
                                evidence: e,
                            });
                        }
                    }
                    if !prev.has || t >= prev.t {
                        tab.meta[i] = TravelMeta {
                            has: true,
                            t,
                            lat,
                            lon,
                            country: cc2,
                            id,
                        };
                    }
                }
            }
        }
        let mut awaits_mfa = false;
        if let (true, Some(tab)) = (self.mfa.on, self.mfa_t.as_mut()) {
            let key = key_of(&[actor.as_bytes(), et.as_bytes()]);
            let h = self.mfa_horizon;
            match ev.mfa {
                Some(true) => {
                    let i = tab.upsert(key, t, now);
                    tab.meta[i].add(t, id, h);
                    // Logins without MFA that arrived before this one but happened after
                    // it: each is an alert now.
                    if let Some(r) = self.recent.as_mut().filter(|r| t <= r.newest) {
                        let etag = tag_of(et);
                        let mut due: SmallVec<[Success; 4]> = SmallVec::new();
                        for j in r.lookup(Kind::Actor, recent_actor_key(actor), t) {
                            let e = r.get_mut(j);
                            let pending = e.flags & AWAITS_MFA != 0 && e.event_type == etag;
                            if pending && t <= e.t && e.t <= t.saturating_add(h) {
                                e.flags &= !AWAITS_MFA;
                                // A redelivered login alerts once.
                                if !due.iter().any(|d| d.t == e.t && d.id == e.id) {
                                    due.push(*e);
                                }
                            }
                        }
                        due.sort_by_key(|e| e.t);
                        for e in due {
                            let key = format!("{actor}|{et}");
                            out.push(mfa_evidence(self.mfa.rule, key, t, id, e.t, e.id));
                        }
                    }
                }
                Some(false) => match tab.find(key).and_then(|i| tab.meta[i].before(t, h)) {
                    Some((m, mid)) => {
                        let key = format!("{actor}|{et}");
                        out.push(mfa_evidence(self.mfa.rule, key, m, mid, t, id));
                    }
                    // Kept while an MFA login delivered late could still precede it.
                    None => awaits_mfa = true,
                },
                None => {}
            }
        }
        let flags = if awaits_mfa { AWAITS_MFA } else { 0 } | if forced { BRUTE_FORCED } else { 0 };
        self.remember(Some(actor), ip, service, et, t, now, id, flags);
    }

    /// Keep a success for the events before it that may still arrive: by actor for
    /// `brute_force_then_success` and `mfa_bypass_suspected`, by ip for credential stuffing.
    #[allow(clippy::too_many_arguments)]
    fn remember(
        &mut self,
        actor: Option<&str>,
        ip: Option<&str>,
        service: &str,
        et: &str,
        t: i64,
        now: i64,
        id: CompactId,
        flags: u8,
    ) {
        let Some(r) = self.recent.as_mut() else {
            return;
        };
        let by_actor = actor.filter(|_| self.bf_success.on || flags & AWAITS_MFA != 0);
        let by_ip = ip.filter(|_| self.stuffing.on);
        if by_actor.is_none() && by_ip.is_none() {
            return;
        }
        let keys = [
            by_actor.map_or(0, recent_actor_key),
            by_ip.map_or(0, recent_ip_key),
        ];
        let s = Success::new(keys, t, id, service, et, flags);
        r.push(s, now, now.saturating_sub(self.lateness));
    }

    fn lockout(&mut self, ev: &Event<'_>, t: i64, now: i64, id: CompactId, out: &mut Vec<Fired>) {
        let Some(tab) = self.lock_t.as_mut() else {
            return;
        };
        let Some(account) = ev.target().or_else(|| ev.actor()).map(lower) else {
            return;
        };
        let org = ev.organization.as_deref().unwrap_or("");
        let i = tab.upsert(key_of(&[org.as_bytes()]), t, now);
        tab.add(i, fp_of(&account), t, id, now);
        let hit = best_window(tab.recs(i), t, self.locked.window);
        if hit.count as u64 >= self.locked.threshold {
            if let Some(held) = tab.meta[i]
                .a
                .pass(t, self.locked.suppress, &mut self.suppressed)
            {
                out.push(fired(
                    &self.locked,
                    "organization.id",
                    org,
                    &hit,
                    tab.recs(i),
                    held,
                    "at least",
                    true,
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests;
