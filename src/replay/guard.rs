//! The guard: what the generator remembers of recent background failures and lockouts, so
//! that no background window comes near a stateful rule's threshold (the module doc of
//! `replay` says which thresholds and why).

use crate::decode::time::NANOS;
use crate::hash::{fingerprint, mix64};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Hasher for keys that are already fingerprints; fixed, so no process-random state.
#[derive(Default)]
struct MixHasher(u64);
impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = mix64(self.0 ^ u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = mix64(self.0 ^ v);
    }
}
type FixedState = BuildHasherDefault<MixHasher>;

/// Window of the background guard: the rules' 600 s windows plus room for reordering.
const GUARD_WINDOW: i64 = 700 * NANOS;
const LOCK_WINDOW: i64 = 1_000 * NANOS;
/// Background lockouts keep this far from a lockout story.
pub(super) const LOCK_MARGIN: i64 = 1_300 * NANOS;

/// What the generator remembers to keep background traffic under every stateful threshold.
#[derive(Default)]
pub(super) struct Guard {
    /// Recent background failures by (actor, service) key and by source-ip key:
    /// (event time, actor fingerprint).
    fails: HashMap<u64, Vec<(i64, u64)>, FixedState>,
    lockouts: Vec<i64>,
    /// Spans of lockout stories.
    pub(super) lock_zones: Vec<(i64, i64)>,
}

impl Guard {
    /// Whether a background failure of `actor` on `service` from `ip` at `t` keeps every
    /// window quiet: < 5 failures per account (we allow 3), < 7 failing accounts per ip
    /// (we allow 3). Any window containing `t` holds only entries within `GUARD_WINDOW` of it.
    pub(super) fn allow_failure(
        &mut self,
        actor: &str,
        service: &str,
        ip: Option<&str>,
        t: i64,
    ) -> bool {
        let actor = actor.to_ascii_lowercase();
        let afp = fingerprint(actor.as_bytes());
        let akey = fingerprint(format!("a|{actor}|{service}").as_bytes());
        fn near(v: &[(i64, u64)], t: i64) -> impl Iterator<Item = u64> + '_ {
            v.iter()
                .filter(move |(ts, _)| (ts - t).abs() <= GUARD_WINDOW)
                .map(|&(_, fp)| fp)
        }
        if self.fails.get(&akey).map_or(0, |v| near(v, t).count()) >= 3 {
            return false;
        }
        let ikey = ip.map(|ip| fingerprint(format!("i|{ip}").as_bytes()));
        if let Some(ik) = ikey {
            if let Some(v) = self.fails.get(&ik) {
                let mut others: Vec<u64> = near(v, t).filter(|&fp| fp != afp).collect();
                others.sort_unstable();
                others.dedup();
                if others.len() >= 3 {
                    return false;
                }
            }
        }
        self.fails.entry(akey).or_default().push((t, afp));
        if let Some(ik) = ikey {
            self.fails.entry(ik).or_default().push((t, afp));
        }
        true
    }

    /// At most 2 background lockouts in any `LOCK_WINDOW`, none near a lockout story.
    pub(super) fn allow_lockout(&mut self, t: i64) -> bool {
        let near = self
            .lockouts
            .iter()
            .filter(|&&x| (x - t).abs() <= LOCK_WINDOW)
            .count();
        let zoned = self
            .lock_zones
            .iter()
            .any(|&(s, e)| t >= s - LOCK_MARGIN && t <= e + LOCK_MARGIN);
        if near >= 2 || zoned {
            return false;
        }
        self.lockouts.push(t);
        true
    }

    pub(super) fn last_lockout(&self) -> Option<i64> {
        self.lockouts.iter().copied().max()
    }

    /// Forget what no future event can reach.
    pub(super) fn prune(&mut self, now: i64) {
        let horizon = now - 2 * GUARD_WINDOW - 120 * NANOS;
        self.fails.retain(|_, v| {
            v.retain(|&(t, _)| t >= horizon);
            !v.is_empty()
        });
        let lh = now - 2 * LOCK_WINDOW - 120 * NANOS;
        self.lockouts.retain(|&t| t >= lh);
    }
}
