//! The per-key state of each family of stateful rules (suppression gates, the ip's
//! credential-stuffing arming, travel's last login, MFA runs), kept beside the records.

use super::*;

/// A country code as a 2-byte tag (`??` when missing or malformed).
pub(super) fn country_tag(cc: &str) -> [u8; 2] {
    match cc.as_bytes() {
        [a, b] => [a.to_ascii_uppercase(), b.to_ascii_uppercase()],
        _ => *b"??",
    }
}

/// Suppression state of one (rule, key).
#[derive(Clone, Copy, Default)]
pub(super) struct Gate {
    /// Earliest and latest time the rule alerted at for the key.
    pub(super) lo: i64,
    pub(super) hi: i64,
    pub(super) armed: bool,
    pub(super) held: u32,
}

impl Gate {
    /// `Some(held back since last alert)` when the rule may fire at `t`; otherwise the alert
    /// is held back and counted in `suppressed` too. Held back: less than `suppress` from an
    /// alert of the key, on either side (a late event may complete a window before the
    /// latest alert: it is a repeat of that burst, or with no suppression its own alert).
    pub(super) fn pass(&mut self, t: i64, suppress: i64, suppressed: &mut u64) -> Option<u64> {
        let near = t > self.lo.saturating_sub(suppress) && t < self.hi.saturating_add(suppress);
        if self.armed && suppress > 0 && near {
            self.held = self.held.saturating_add(1);
            *suppressed += 1;
            return None;
        }
        let held = u64::from(self.held);
        (self.lo, self.hi) = if self.armed {
            (self.lo.min(t), self.hi.max(t))
        } else {
            (t, t)
        };
        self.armed = true;
        self.held = 0;
        Some(held)
    }
}

/// An empty interval.
pub(super) const NO_SPAN: (i64, i64) = (i64::MAX, i64::MIN);

#[derive(Clone, Copy)]
pub(super) struct IpMeta {
    pub(super) spray: Gate,
    pub(super) stuffing: Gate,
    /// Credential stuffing: a success from this ip inside one of these `(from, until)` spans
    /// (a completed failure wave, then its success window) fires. Two spans cover every
    /// success still in time: spans are at least the success window long.
    pub(super) armed: [(i64, i64); 2],
}

impl Default for IpMeta {
    fn default() -> Self {
        IpMeta {
            spray: Gate::default(),
            stuffing: Gate::default(),
            armed: [NO_SPAN; 2],
        }
    }
}

impl IpMeta {
    pub(super) fn armed_at(&self, t: i64) -> bool {
        self.armed.iter().any(|&(a, b)| a <= t && t <= b)
    }

    pub(super) fn arm(&mut self, from: i64, until: i64) {
        let (mut from, mut until) = (from, until);
        // Absorb every overlapping span, then take a free place or the oldest span's.
        for s in self.armed.iter_mut() {
            if s.0 <= until && from <= s.1 {
                from = from.min(s.0);
                until = until.max(s.1);
                *s = NO_SPAN;
            }
        }
        let j = (0..2).min_by_key(|&j| self.armed[j].1).unwrap_or(0);
        self.armed[j] = (from, until);
    }
}

impl KeyMeta for IpMeta {
    fn pinned(&self, now: i64) -> bool {
        self.armed.iter().any(|s| s.1 >= now)
    }
}
impl KeyMeta for TwoGates {}
impl KeyMeta for TravelMeta {}
impl KeyMeta for MfaMeta {}

#[derive(Clone, Copy, Default)]
pub(super) struct TwoGates {
    pub(super) a: Gate,
    pub(super) b: Gate,
}

#[derive(Clone, Copy, Default)]
pub(super) struct TravelMeta {
    pub(super) has: bool,
    pub(super) t: i64,
    pub(super) lat: f64,
    pub(super) lon: f64,
    pub(super) country: [u8; 2],
    pub(super) id: CompactId,
}

/// Successful MFA logins of one actor and event type, as up to two runs of logins no more
/// than the horizon apart (first and newest time each). Whether one lies in the horizon
/// before a login is whether a run starts before it and ends less than the horizon before
/// it; two runs cover every login still in time, as runs are more than the horizon apart.
#[derive(Clone, Copy)]
pub(super) struct MfaMeta {
    /// `(first, newest)`; `NONE` newest: unused.
    pub(super) runs: [(i64, i64); 2],
    /// DI id of the newest MFA login, for the evidence.
    pub(super) newest_id: CompactId,
}

impl Default for MfaMeta {
    fn default() -> Self {
        MfaMeta {
            runs: [(NONE, NONE); 2],
            newest_id: CompactId::default(),
        }
    }
}

impl MfaMeta {
    pub(super) fn newest(&self) -> i64 {
        self.runs[0].1.max(self.runs[1].1)
    }

    pub(super) fn add(&mut self, t: i64, id: CompactId, horizon: i64) {
        if t >= self.newest() {
            self.newest_id = id;
        }
        let mut run = (t, t);
        for r in self.runs.iter_mut() {
            let near =
                r.1 != NONE && t >= r.0.saturating_sub(horizon) && t <= r.1.saturating_add(horizon);
            if near {
                run = (run.0.min(r.0), run.1.max(r.1));
                *r = (NONE, NONE);
            }
        }
        let j = (0..2).min_by_key(|&j| self.runs[j].1).unwrap_or(0);
        self.runs[j] = run;
    }

    /// The MFA login to cite for a login at `t` without MFA: the time (and id, when it is the
    /// newest) of one inside `[t - horizon, t]`, if any.
    pub(super) fn before(&self, t: i64, horizon: i64) -> Option<(i64, CompactId)> {
        let newest = self.newest();
        self.runs
            .iter()
            .filter(|r| r.1 != NONE && r.0 <= t && t <= r.1.saturating_add(horizon))
            .map(|r| if r.1 <= t { r.1 } else { r.0 })
            .max()
            .map(|m| {
                let id = if m == newest {
                    self.newest_id
                } else {
                    CompactId::default()
                };
                (m, id)
            })
    }
}
