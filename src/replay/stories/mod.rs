//! The attack stories: planned up front (kind, size, variant), so the number of background
//! events is known, then woven in one at a time at evenly spaced anchors of the background.
//! A story uses fresh victims and attacker ips, and records the stateful alerts it must raise.
//!
//! - `passwords.rs`: password attacks: spray, credential stuffing, brute force, lockout
//!   wave, SSO failure burst.
//! - `sign_ins.rs`: suspicious successful sign-ins: an admin or a user in two countries,
//!   impossible travel, MFA bypass.

mod passwords;
mod sign_ins;

use super::events::{Chan, Login, NONE};
use super::generator::Gen;
use super::guard::LOCK_MARGIN;
use super::population::{User, ATTACKER_CITIES};
use super::rng::Rng;
use super::{AttackMix, ExpectedAlert};
use crate::decode::time::NANOS;
use crate::hash::mix64;
use passwords::brute_chan;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Spray,
    Stuffing,
    Brute,
    BruteOnly,
    Lockout,
    AdminCountry,
    UserCountry,
    Travel,
    SsoBurst,
    MfaBypass,
}

const KINDS: [Kind; 10] = [
    Kind::Spray,
    Kind::Stuffing,
    Kind::Brute,
    Kind::BruteOnly,
    Kind::Lockout,
    Kind::AdminCountry,
    Kind::UserCountry,
    Kind::Travel,
    Kind::SsoBurst,
    Kind::MfaBypass,
];

/// A planned story: its size and variant are fixed before generation starts so the number
/// of background events is known.
#[derive(Debug, Clone)]
pub(super) struct Story {
    kind: Kind,
    index: u32,
    /// Main count (accounts, failures) of the story.
    n: u32,
    variant: u64,
    pub(super) events: u32,
}

/// A story event: (time, service, event type, single-event rules it fires, line).
type StoryEvent = (
    i64,
    &'static str,
    &'static str,
    &'static [&'static str],
    Vec<u8>,
);

/// What a story writes, filled in by its family's function: its events in time order, and
/// the (rule, group key) of every stateful alert they must raise.
#[derive(Default)]
struct Draft {
    events: Vec<StoryEvent>,
    expect: Vec<(&'static str, String)>,
}

impl Gen<'_> {
    /// Decide every story (kind, size, variant) up front, in a shuffled order.
    pub(super) fn plan(&self) -> Vec<Story> {
        let mut r = Rng(mix64(self.seed_h ^ 0x0053_544f_5259));
        let mut kinds: Vec<Kind> = Vec::new();
        for (k, &n) in KINDS.iter().zip(self.cfg.attacks.counts().iter()) {
            kinds.extend(std::iter::repeat_n(*k, n as usize));
        }
        for i in (1..kinds.len()).rev() {
            kinds.swap(i, r.below(i as u64 + 1) as usize);
        }
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| {
                let variant = r.next_u64();
                let (n, events) = match kind {
                    Kind::Spray => {
                        let n = r.range(18, 30) as u32;
                        (n, n)
                    }
                    Kind::Stuffing => {
                        let n = r.range(8, 12) as u32;
                        (n, n + 1)
                    }
                    Kind::Brute => {
                        // SSO keeps to 5 failures: 6 would be an SSO burst as well.
                        let n = if brute_chan(variant) == Chan::Sso {
                            5
                        } else {
                            r.range(5, 7) as u32
                        };
                        (n, n + 1)
                    }
                    Kind::BruteOnly => {
                        let n = r.range(5, 9) as u32;
                        (n, n)
                    }
                    Kind::Lockout => {
                        let n = r.range(3, 5) as u32;
                        (n, 3 * n)
                    }
                    Kind::AdminCountry | Kind::UserCountry | Kind::Travel | Kind::MfaBypass => {
                        (2, 2)
                    }
                    Kind::SsoBurst => {
                        let n = r.range(6, 9) as u32;
                        (n, n)
                    }
                };
                Story {
                    kind,
                    index: i as u32,
                    n,
                    variant,
                    events,
                }
            })
            .collect()
    }

    /// Weave one story in, starting at the clock (lockout waves wait until the organization
    /// is quiet), and record the alerts it must raise.
    pub(super) fn story(&mut self, s: &Story) {
        let mut t0 = self.clock + self.rng.secs(5, 60);
        if s.kind == Kind::Lockout {
            let after_bg = self
                .guard
                .last_lockout()
                .map_or(i64::MIN, |t| t + LOCK_MARGIN);
            t0 = t0
                .max(after_bg)
                .max(self.last_lock_story_end + 2_000 * NANOS);
        }
        let name = AttackMix::KINDS[KINDS.iter().position(|&k| k == s.kind).unwrap_or(0)];
        let mut r = Rng(mix64(s.variant));
        let mut d = Draft::default();
        let attacker_city = ATTACKER_CITIES[r.below(ATTACKER_CITIES.len() as u64) as usize];
        match s.kind {
            Kind::Spray => self.spray(s, &mut r, attacker_city, t0, &mut d),
            Kind::Stuffing => self.stuffing(s, &mut r, attacker_city, t0, &mut d),
            Kind::Brute | Kind::BruteOnly => self.brute_force(s, &mut r, attacker_city, t0, &mut d),
            Kind::Lockout => self.lockout_wave(s, &mut r, attacker_city, t0, &mut d),
            Kind::SsoBurst => self.sso_burst(s, &mut r, attacker_city, t0, &mut d),
            Kind::AdminCountry => self.admin_country(s, &mut r, t0, &mut d),
            Kind::UserCountry | Kind::Travel => self.country_or_travel(s, &mut r, t0, &mut d),
            Kind::MfaBypass => self.mfa_bypass(s, &mut r, t0, &mut d),
        }
        let Draft { events, expect } = d;
        debug_assert_eq!(events.len() as u32, s.events, "{:?}", s.kind);
        let (start, end) = (events[0].0, events[events.len() - 1].0);
        if s.kind == Kind::Lockout {
            self.guard.lock_zones.push((start, end));
            self.last_lock_story_end = end;
        }
        for (ts, svc, et, rules, line) in events {
            self.push(ts, ts, svc, et, rules, line);
        }
        for (rule, key) in expect {
            self.truth.stateful.push(ExpectedAlert {
                rule,
                group_key: key.to_lowercase(),
                story: name,
                story_index: s.index,
                start,
                end,
            });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn story_login(
        &mut self,
        chan: Chan,
        v: &User,
        ok: bool,
        mfa: bool,
        ip: &str,
        city: usize,
        t: i64,
    ) -> StoryEvent {
        let l = Login {
            chan,
            user: v,
            ok,
            mfa,
            ip: ip.to_string(),
            city,
            jitter: 0,
            t,
        };
        let line = self.login_line(&l);
        (t, chan.service(), chan.event_type(), NONE, line)
    }
}
