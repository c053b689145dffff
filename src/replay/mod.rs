//! Deterministic, realistic DI replays with their ground truth (`jcdetect generate`).
//!
//! [`generate`] writes a synthetic Directory Insights stream shaped like the real samples:
//! logins of every kind dominate, then directory changes, associations, group and policy
//! events, MFA changes, device and MDM events (now and then a ~77 KB `mdm_command_result`),
//! and event types no rule knows. Attack stories for the stateful rules are woven in at known
//! times, and the returned [`Truth`] says exactly which alerts the default configuration must
//! raise: every stateful (rule, group key) pair, and the count of every single-event rule.
//!
//! The same [`GenConfig`] gives the same bytes on every platform and every run: one
//! hand-written SplitMix64 drives every choice, floats only meet `+ - * /` and comparisons,
//! and nothing reads a clock.
//!
//! Why the background raises no stateful alert: every user logs in from one home city
//! (coordinates jittered by at most ~40 km) with a fixed MFA habit per login kind, so the
//! country, travel and MFA rules have nothing to see; and the generator remembers recent
//! background failures per (account, service) and per source ip, and recent lockouts, and
//! drops a failure or lockout that would bring a window near its threshold (at most 3
//! failures per account and 3 failing accounts per ip in any 700 s, at most 2 lockouts in
//! any 1000 s). Near misses stay in: a user failing up to 3 times before a success, two
//! lockouts close together. Stories use fresh accounts and attacker ips, so they meet
//! neither the background nor each other, except lockout waves, which share the
//! organization and are therefore kept apart from each other and from background lockouts.
//!
//! The code, by job (every path under `src/replay/`):
//!
//! - `mod.rs`: the public API: `GenConfig` and `AttackMix` (what to generate), `Truth` and
//!   `ExpectedAlert` (what the replay must raise), and `generate`, the main loop that runs
//!   background units and weaves each story in at its anchor.
//! - `generator.rs`: `Gen`, the generator's state; its clock (a daily curve) and the late
//!   deliveries; the merge queue that writes lines in delivery order and keeps the truth's
//!   counts (event types, services, single-event rules, lines, bytes, out-of-order).
//! - `rng.rs`: SplitMix64 and the per-entity hashes.
//! - `population.rs`: the organization: cities, names, devices and user agents, apps,
//!   groups, policies, service accounts; the background and attacker ip spaces; users
//!   derived from (seed, index), admins, story victims, and the ip a user logs in from.
//! - `json.rs`: the JSON writer (keys in call order, as DI writes them), coordinates, and
//!   timestamps at each service's precision.
//! - `events.rs`: the event shapes the background and the stories share: a login of every
//!   channel (portal, SSO, RADIUS, LDAP, device), the admin console login (modern and
//!   legacy), the lockout, and their common parts (geoip, envelope tail, ids).
//! - `guard.rs`: what keeps the background under every stateful threshold.
//! - `background/`: the background traffic. `mod.rs` draws each unit from the weighted mix;
//!   `logins.rs` the sign-in traffic (logins with their mistyped-password failures, ssh
//!   scanners, admin console logins, LDAP searches, guarded lockouts); `directory.rs` the
//!   admin-made directory changes (user updates, associations, groups, policies, commands,
//!   the rare sensitive changes); `services.rs` the other services (device agent, MDM,
//!   password manager and vault, software, the long tail of undocumented types). Each
//!   generator writes the shapes of its own event types.
//! - `stories/`: the attack stories. `mod.rs` plans them (kind, size, variant) up front and
//!   weaves one in (its start, its events, the alerts it expects); `passwords.rs` the
//!   password attacks (spray, stuffing, brute force, lockout wave, SSO failure burst);
//!   `sign_ins.rs` the suspicious successful sign-ins (two countries, impossible travel,
//!   MFA bypass).
//!
//! ```
//! use jcdetect::replay::{generate, GenConfig};
//! let cfg = GenConfig { events: 3_000, ..GenConfig::default() };
//! let mut replay = Vec::new();
//! let truth = generate(&cfg, |line| replay.extend_from_slice(line)).unwrap();
//! assert_eq!(truth.events, 3_000);
//! assert_eq!(replay.iter().filter(|&&b| b == b'\n').count(), 3_000);
//! assert!(!truth.stateful.is_empty());
//! ```

mod background;
mod events;
mod generator;
mod guard;
mod json;
mod population;
mod rng;
mod sigma_rules;
mod stories;

pub use sigma_rules::sigma_rules;

use crate::decode::time::NANOS;
use generator::Gen;
use population::HOME_CITIES;
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------
// Configuration

/// What to generate. `Default` is a 5,000-user organization with two of every attack story.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// Events (= lines) to write, background and attack stories together.
    pub events: u64,
    pub seed: u64,
    /// Directory users; each has a home city, a device, a few home ips and fixed MFA habits.
    pub users: u32,
    /// Administrators: the first `admins` users also hold a console account (their email).
    pub admins: u32,
    /// Size of the background ip space (home and roaming ips are drawn from it).
    pub ips: u64,
    /// Share of background logins from a roaming ip (a fresh draw from the ip space of the
    /// user's city) instead of one of the user's home ips; sets how many distinct ips appear.
    pub roaming: f64,
    /// Event time of the first event, ns since the epoch.
    pub start: i64,
    /// Background events per user per day: sets the event rate, so the span of the replay.
    pub events_per_user_day: u32,
    /// Share of background events written out of order, up to 60 s behind their place.
    pub out_of_order: f64,
    pub attacks: AttackMix,
}

/// 2025-03-03T06:00:00Z, a Monday morning in Europe.
pub const DEFAULT_START: i64 = 1_740_981_600 * NANOS;

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            events: 200_000,
            seed: 1,
            users: 5_000,
            admins: 50,
            ips: 20_000,
            roaming: 0.15,
            start: DEFAULT_START,
            events_per_user_day: 50,
            out_of_order: 0.005,
            attacks: AttackMix::each(2),
        }
    }
}

impl GenConfig {
    /// Every problem with the configuration, in one message.
    pub fn validate(&self) -> Result<(), String> {
        let mut errs = Vec::new();
        if self.users < 20 || self.users > 5_000_000 {
            errs.push(format!("users must be 20..=5000000 (got {})", self.users));
        }
        if self.admins == 0 || self.admins > self.users {
            errs.push(format!(
                "admins must be 1..=users (got {} for {} users)",
                self.admins, self.users
            ));
        }
        if self.ips < HOME_CITIES as u64 * 4 || self.ips > 100_000_000 {
            errs.push(format!(
                "ips must be {}..=100000000 (got {})",
                HOME_CITIES * 4,
                self.ips
            ));
        }
        if !(0.0..=1.0).contains(&self.roaming) {
            errs.push(format!("roaming must be in 0..=1 (got {})", self.roaming));
        }
        if !(0.0..=0.5).contains(&self.out_of_order) {
            errs.push(format!(
                "out_of_order must be in 0..=0.5 (got {})",
                self.out_of_order
            ));
        }
        if self.events_per_user_day == 0 {
            errs.push("events_per_user_day must be positive".into());
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("; "))
        }
    }
}

/// How many of each attack story to weave in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttackMix {
    /// Failed logins for 18–30 fresh accounts from one ip within ~7 min.
    pub spray: u32,
    /// 8–12 accounts fail from one ip, then one of them succeeds from it 10–30 min later.
    pub stuffing: u32,
    /// 5–7 failures for one account and service, then a success.
    pub brute: u32,
    /// 5–9 failures for one account and service, no success.
    pub brute_only: u32,
    /// 3–5 accounts of the organization locked out within 10 min (each after 2 failures).
    pub lockout: u32,
    /// An admin signs in from two neighbouring countries within an hour.
    pub admin_country: u32,
    /// A user signs in from two neighbouring countries within an hour.
    pub user_country: u32,
    /// A user signs in from two cities of one country thousands of km apart within an hour.
    pub travel: u32,
    /// 6–9 failed `sso_auth` for one account within ~6 min.
    pub sso_burst: u32,
    /// A login with MFA, then one of the same kind without it.
    pub mfa_bypass: u32,
}

impl AttackMix {
    /// The story names, as [`AttackMix::parse`] reads them.
    pub const KINDS: [&'static str; 10] = [
        "spray",
        "stuffing",
        "brute",
        "brute_only",
        "lockout",
        "admin_country",
        "user_country",
        "travel",
        "sso_burst",
        "mfa_bypass",
    ];

    pub fn none() -> AttackMix {
        AttackMix::default()
    }

    /// `n` of every story.
    pub fn each(n: u32) -> AttackMix {
        AttackMix::from_counts([n; 10])
    }

    fn counts(&self) -> [u32; 10] {
        [
            self.spray,
            self.stuffing,
            self.brute,
            self.brute_only,
            self.lockout,
            self.admin_country,
            self.user_country,
            self.travel,
            self.sso_burst,
            self.mfa_bypass,
        ]
    }

    fn from_counts(c: [u32; 10]) -> AttackMix {
        AttackMix {
            spray: c[0],
            stuffing: c[1],
            brute: c[2],
            brute_only: c[3],
            lockout: c[4],
            admin_country: c[5],
            user_country: c[6],
            travel: c[7],
            sso_burst: c[8],
            mfa_bypass: c[9],
        }
    }

    /// Number of stories.
    pub fn total(&self) -> u32 {
        self.counts().iter().sum()
    }

    /// Parse `none`, or comma-separated `kind=N` items (kinds not named get 0); `all=N`
    /// sets every kind and later items override it: `all=1,spray=3`.
    pub fn parse(spec: &str) -> Result<AttackMix, String> {
        let spec = spec.trim();
        if spec.eq_ignore_ascii_case("none") || spec.is_empty() {
            return Ok(AttackMix::none());
        }
        let mut c = [0u32; 10];
        let mut errs = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((k, v)) = item.split_once('=') else {
                errs.push(format!("`{item}` is not kind=N"));
                continue;
            };
            let Ok(n) = v.trim().parse::<u32>() else {
                errs.push(format!("`{item}`: `{v}` is not a count"));
                continue;
            };
            if n > 1_000 {
                errs.push(format!("`{item}`: at most 1000 stories of a kind"));
                continue;
            }
            match k.trim() {
                "all" => c = [n; 10],
                k => match Self::KINDS.iter().position(|&name| name == k) {
                    Some(i) => c[i] = n,
                    None => errs.push(format!(
                        "unknown attack `{k}` (known: all, {})",
                        Self::KINDS.join(", ")
                    )),
                },
            }
        }
        if errs.is_empty() {
            Ok(AttackMix::from_counts(c))
        } else {
            Err(errs.join("; "))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Ground truth

/// One stateful alert the replay must produce exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedAlert {
    pub rule: &'static str,
    /// `jcdetect.group_key` as the engine writes it (lower-cased actors).
    pub group_key: String,
    /// The story that causes it ([`AttackMix::KINDS`]) and its number in the replay.
    pub story: &'static str,
    pub story_index: u32,
    /// Event times of the story's first and last event, ns since the epoch.
    pub start: i64,
    pub end: i64,
}

/// What a generated replay contains and which alerts it must raise with the default config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Truth {
    pub seed: u64,
    /// Events written (one per line, so also the number of lines).
    pub events: u64,
    pub lines: u64,
    pub bytes: u64,
    pub max_line_bytes: u64,
    /// Events that belong to attack stories.
    pub story_events: u64,
    /// Events written more than 1 s behind the newest event already written: the late
    /// deliveries. (Services that write whole seconds or milliseconds also swap neighbours
    /// by under a second, as in real streams; those are not counted.)
    pub out_of_order: u64,
    /// Smallest and largest event time written.
    pub first_time: i64,
    pub last_time: i64,
    /// Every stateful alert, in story order.
    pub stateful: Vec<ExpectedAlert>,
    /// Alerts per single-event rule (background and stories together).
    pub single: BTreeMap<&'static str, u64>,
    /// Events per `event_type`.
    pub event_types: BTreeMap<&'static str, u64>,
    /// Events per `service`.
    pub services: BTreeMap<&'static str, u64>,
}

impl Truth {
    pub fn single_total(&self) -> u64 {
        self.single.values().sum()
    }

    /// Expected alerts per rule id, stateful and single-event together.
    pub fn alerts_by_rule(&self) -> BTreeMap<&'static str, u64> {
        let mut m = self.single.clone();
        for a in &self.stateful {
            *m.entry(a.rule).or_default() += 1;
        }
        m
    }

    /// The side file of `jcdetect generate --truth`: pretty JSON, stable key order.
    pub fn to_json(&self, cfg: &GenConfig) -> String {
        use serde_json::{json, Map, Value};
        let ts = |t: i64| Value::from(crate::decode::time::to_rfc3339(t));
        let counts = |m: &BTreeMap<&'static str, u64>| -> Map<String, Value> {
            m.iter()
                .map(|(k, v)| (k.to_string(), (*v).into()))
                .collect()
        };
        let attacks: Map<String, Value> = AttackMix::KINDS
            .iter()
            .zip(cfg.attacks.counts())
            .map(|(k, n)| (k.to_string(), n.into()))
            .collect();
        let stateful: Vec<Value> = self
            .stateful
            .iter()
            .map(|a| {
                json!({
                    "rule": a.rule,
                    "group_key": a.group_key,
                    "story": a.story,
                    "story_index": a.story_index,
                    "start": ts(a.start),
                    "end": ts(a.end),
                })
            })
            .collect();
        let by_rule = self.alerts_by_rule();
        let v = json!({
            "generator": format!("jcdetect {} generate", crate::alert::VERSION),
            "seed": self.seed,
            "events": self.events,
            "lines": self.lines,
            "bytes": self.bytes,
            "max_line_bytes": self.max_line_bytes,
            "story_events": self.story_events,
            "out_of_order_events": self.out_of_order,
            "first_time": ts(self.first_time),
            "last_time": ts(self.last_time),
            "config": {
                "users": cfg.users,
                "admins": cfg.admins,
                "ips": cfg.ips,
                "roaming": cfg.roaming,
                "events_per_user_day": cfg.events_per_user_day,
                "out_of_order": cfg.out_of_order,
                "start": ts(cfg.start),
                "attacks": attacks,
            },
            "alerts": {
                "total": by_rule.values().sum::<u64>(),
                "stateful": self.stateful.len(),
                "single": self.single_total(),
                "by_rule": counts(&by_rule),
            },
            "stateful": stateful,
            "single": counts(&self.single),
            "services": counts(&self.services),
            "event_types": counts(&self.event_types),
        });
        let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
        s.push('\n');
        s
    }
}

// ---------------------------------------------------------------------------------------
// The entry point

/// Write the replay, one event per call of `sink`, each line ending in `\n`; return the
/// ground truth. Lines come in the order a collector would deliver them; background events
/// may be up to 60 s behind (see [`GenConfig::out_of_order`]), story events never are.
/// Fails (before writing anything) on a bad config or when `events` cannot hold the stories.
pub fn generate(cfg: &GenConfig, mut sink: impl FnMut(&[u8])) -> Result<Truth, String> {
    cfg.validate()?;
    let mut g = Gen::new(cfg);
    let stories = g.plan();
    let story_events: u64 = stories.iter().map(|s| u64::from(s.events)).sum();
    if story_events > cfg.events / 2 {
        return Err(format!(
            "{} events cannot hold the attack stories ({story_events} story events): \
             generate at least {} events or use a smaller --attack-mix",
            cfg.events,
            story_events * 2
        ));
    }
    g.truth.story_events = story_events;
    let background = cfg.events - story_events;
    let n = stories.len() as u64;
    // Stories are anchored at evenly spaced points of the background stream.
    let anchors: Vec<u64> = (0..n)
        .map(|k| (u128::from(background) * u128::from(k + 1) / u128::from(n + 1)) as u64)
        .collect();
    let mut next_story = 0usize;
    let mut next_prune = 65_536;
    while g.bg_events < background {
        g.advance();
        while next_story < stories.len() && anchors[next_story] <= g.bg_events {
            g.story(&stories[next_story]);
            next_story += 1;
        }
        g.background_unit(background - g.bg_events);
        g.flush_until(g.clock, &mut sink);
        if g.bg_events >= next_prune {
            g.guard.prune(g.clock);
            next_prune += 65_536;
        }
    }
    for s in &stories[next_story..] {
        g.story(s);
    }
    g.flush_until(i64::MAX, &mut sink);
    g.truth.events = g.truth.lines;
    Ok(g.truth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attack_mix_parses() {
        assert_eq!(AttackMix::parse("none"), Ok(AttackMix::none()));
        let m = AttackMix::parse("all=1,spray=3,mfa_bypass=0").unwrap();
        assert_eq!((m.spray, m.brute, m.mfa_bypass, m.total()), (3, 1, 0, 11));
        let e = AttackMix::parse("spray=x,bogus=1,brute").unwrap_err();
        assert!(
            e.contains("spray=x") && e.contains("bogus") && e.contains("`brute`"),
            "{e}"
        );
    }
}
