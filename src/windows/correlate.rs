//! Sigma correlations on the same fixed-memory tables as the built-in stateful rules: one
//! table per correlation, keyed by the correlation's group (`group-by` values), its share of
//! `[state] memory_mb` fixed at start-up.
//!
//! - `event_count`: a counting table (each event a record); fires when the fullest window
//!   of `timespan` through the event holds the condition's count.
//! - `value_count`: a distinct table whose identities are the values of `condition.field`.
//! - `temporal`: a distinct table whose identities are the referenced rules; fires when all
//!   of them occur in one window.
//! - `temporal_ordered`: a counting table of (rule, time) records; fires when the rules occur
//!   in their order within one window, the event itself being one of them.
//!
//! Sizing follows [`records_needed`], so windows are exact under reordering within the
//! allowed lateness. `temporal_ordered` keeps 4·n records a window-long piece; when a group
//! is full, the step with the most records gives up its oldest, so a flood of one step
//! cannot push the others out. An alert for a group is held back for one `timespan` after the previous one
//! (suppression, as for the built-in rules).

use super::*;
use crate::sigma::correlation::Kind;
use crate::sigma::set::Corr;

/// The per-key record of a correlation's table.
#[derive(Clone, Copy)]
pub(super) struct CorrMeta {
    /// Suppression.
    pub(super) gate: Gate,
    /// The newest time of an occurrence the key's records had to give up while it could
    /// still share a window with an event in time (`NONE`: never). A window that may hold
    /// it is counted short: a range's upper bound cannot be trusted there.
    pub(super) dropped: i64,
}

impl Default for CorrMeta {
    fn default() -> Self {
        CorrMeta {
            gate: Gate::default(),
            dropped: NONE,
        }
    }
}

impl KeyMeta for CorrMeta {}

impl Codec for CorrMeta {
    fn put(&self, w: &mut Writer) {
        self.gate.put(w);
        w.i64(self.dropped);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, StateError> {
        Ok(CorrMeta {
            gate: Gate::get(r)?,
            dropped: r.i64()?,
        })
    }
}

/// One correlation's table and settings.
pub(super) struct CorrTable {
    /// The correlation's rule id (its name in the state file).
    pub(super) id: String,
    /// [`Corr::fingerprint`]: a saved table is loaded only into the same correlation.
    pub(super) fingerprint: u64,
    kind: Kind,
    /// Referenced rules.
    n: usize,
    knobs: Knobs,
    max: Option<u64>,
    group_by: String,
    pub(super) table: Table<CorrMeta>,
}

/// Weight of one correlation's table in the budget (the built-in tables weigh 5 to 30).
pub(super) const CORR_WEIGHT: u64 = 10;

/// A correlation's table shape for `bytes` of budget.
pub(super) fn corr_spec(c: &Corr, lateness: i64, bytes: usize) -> Spec {
    // A range must see one more than its upper bound to tell a window is over it.
    let bound = c.max.map_or(c.min, |m| m.saturating_add(1)).max(c.min);
    let (distinct, fire) = match c.kind {
        Kind::EventCount => (false, bound),
        Kind::ValueCount => (true, bound),
        Kind::Temporal => (true, c.min),
        _ => (false, 4 * c.rules.len() as u64),
    };
    let knobs = Knobs {
        rule: 0,
        on: true,
        threshold: fire,
        window: c.timespan,
        suppress: c.timespan,
    };
    let (recs, w_min, w_max) = records_needed(&[(knobs, fire)], lateness);
    let span = w_max.saturating_add(lateness);
    Spec {
        bytes,
        recs,
        merge: distinct.then_some(w_min),
        keep: [(0, 0); 2],
        window: w_max,
        span,
        idle: span,
    }
}

impl CorrTable {
    pub(super) fn new(index: usize, c: &Corr, spec: Spec) -> CorrTable {
        CorrTable {
            id: c.meta.id.clone(),
            fingerprint: c.fingerprint(),
            kind: c.kind,
            n: c.rules.len(),
            knobs: Knobs {
                rule: index,
                on: true,
                threshold: if c.kind == Kind::TemporalOrdered {
                    c.rules.len() as u64
                } else {
                    c.min
                },
                window: c.timespan,
                suppress: c.timespan,
            },
            max: c.max,
            group_by: c.group_by.join("+"),
            table: Table::new(spec),
        }
    }
}

impl Windows {
    /// Feed an in-time event that matched rule number `position` of correlation `c`, in the
    /// group of the `group` values (each told apart from the others, so `a|b`,`c` and
    /// `a`,`b|c` are two groups); `value` is its `condition.field` (`value_count`). The
    /// alert's evidence when the correlation fires.
    #[allow(clippy::too_many_arguments)]
    pub fn correlate(
        &mut self,
        c: usize,
        position: usize,
        group: &[&str],
        value: Option<&str>,
        t: i64,
        now: i64,
        id: Option<&str>,
    ) -> Option<Evidence> {
        let ct = self.corr.get_mut(c)?;
        let fp = match ct.kind {
            Kind::ValueCount => fp_of(value?),
            // Identities 1..=n: the rule's position.
            _ => position as u64 + 2,
        };
        let id = CompactId::encode(id);
        let tab = &mut ct.table;
        let mut parts: SmallVec<[&[u8]; 4]> = SmallVec::new();
        parts.push(b"sigma");
        parts.extend(group.iter().map(|g| g.as_bytes()));
        let i = tab.upsert(key_of(&parts), t, now);
        let w = ct.knobs.window;
        // What a full key gives up (its oldest record, or the newcomer), for a range.
        let full = usize::from(tab.used[i]) == tab.k;
        if full && ct.kind == Kind::TemporalOrdered {
            // A flood of one step must not push the other steps out: the step with the most
            // records gives up its oldest (the newest of each step make the chains).
            let recs = tab.recs(i);
            let most = (2..ct.n as u64 + 2)
                .max_by_key(|&f| recs.iter().filter(|s| s.fp == f).count())
                .unwrap_or(fp);
            let oldest = recs
                .iter()
                .enumerate()
                .filter(|(_, s)| s.fp == most)
                .min_by_key(|(_, s)| s.t)
                .map(|(j, _)| j);
            if let Some(j) = oldest {
                tab.slots_mut(i)[j] = Slot::default();
            }
        }
        let oldest = tab
            .recs(i)
            .iter()
            .filter(|s| s.fp != 0)
            .min_by_key(|s| s.t)
            .copied();
        let added = tab.add(i, fp, t, id, now);
        if ct.max.is_some() && full {
            let live = now.saturating_sub(tab.spec.span);
            let lost = match (added, oldest) {
                (None, _) => Some(t),
                (Some(j), Some(o)) if tab.recs(i)[j].t != o.t || tab.recs(i)[j].fp != o.fp => {
                    (!tab.recs(i).iter().any(|s| s.t == o.t && s.fp == o.fp)).then_some(o.t)
                }
                _ => None,
            };
            if let Some(d) = lost.filter(|&d| d >= live) {
                tab.meta[i].dropped = tab.meta[i].dropped.max(d);
            }
        }
        let hit = match ct.kind {
            Kind::TemporalOrdered => ordered(tab.recs(i), ct.n, fp, t, w)?,
            _ => best_window(tab.recs(i), t, w),
        };
        let count = hit.count as u64;
        // Over the range, or maybe over it: the window may hold an occurrence given up.
        let short = tab.meta[i].dropped >= hit.start.saturating_sub(w);
        if count < ct.knobs.threshold || ct.max.is_some_and(|m| count > m || short) {
            return None;
        }
        let held = tab.meta[i]
            .gate
            .pass(t, ct.knobs.suppress, &mut self.suppressed)?;
        let distinct = matches!(ct.kind, Kind::ValueCount | Kind::Temporal);
        let key = group.join("|");
        let mut f = fired(
            &ct.knobs,
            "",
            &key,
            &hit,
            tab.recs(i),
            held,
            "at least",
            distinct,
        );
        f.evidence.group_by = ct.group_by.clone().into();
        if let Some(m) = ct.max {
            f.evidence.extra.push(("at_most", Extra::Int(m as i64)));
        }
        Some(f.evidence)
    }
}

/// `temporal_ordered`: the rules (identities 2..n+1) in order, within `w`, through the
/// event (`fp` at `t`). Before it, the latest occurrence of each earlier rule at or before
/// the next one's; after it, the earliest of each later rule at or after the previous one's:
/// the chain with the latest start and the earliest end.
fn ordered(rec: &[Slot], n: usize, fp: u64, t: i64, w: i64) -> Option<Hit> {
    let me = (fp - 2) as usize;
    let mut chain: SmallVec<[usize; 32]> = SmallVec::new();
    let at = rec.iter().position(|s| s.fp == fp && s.t == t)?;
    let mut start = t;
    for j in (0..me).rev() {
        let (k, s) = rec
            .iter()
            .enumerate()
            .filter(|(_, s)| s.fp == j as u64 + 2 && s.t <= start)
            .max_by_key(|(_, s)| s.t)?;
        start = s.t;
        chain.push(k);
    }
    chain.push(at);
    let mut end = t;
    for j in me + 1..n {
        let (k, s) = rec
            .iter()
            .enumerate()
            .filter(|(_, s)| s.fp == j as u64 + 2 && s.t >= end)
            .min_by_key(|(_, s)| s.t)?;
        end = s.t;
        chain.push(k);
    }
    (end.saturating_sub(start) <= w).then(|| Hit {
        count: chain.len(),
        start,
        end,
        members: chain,
    })
}
