//! The stateful rules' settings (`Knobs`) and memory planning: how many record slots each key
//! needs for exactness under the allowed lateness, and how the budget is shared between the
//! tables. Fixed at start-up.

use super::*;

/// `[state]`: the window state's budget and lateness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateConfig {
    /// Memory for all stateful rules' tables together, MiB.
    pub memory_mb: u64,
    /// Events up to this far behind the watermark still count in windows.
    pub allowed_lateness_secs: u64,
    /// One event moves the watermark at most this far; a bigger jump waits for the next
    /// event to confirm it (`watermark.rs`).
    pub max_jump_secs: u64,
    /// An unconfirmed event this far ahead of the watermark is kept out of the windows
    /// (default 30 days, the longest horizon of the default rules).
    pub max_future_secs: u64,
}

impl AsRef<StateConfig> for StateConfig {
    fn as_ref(&self) -> &StateConfig {
        self
    }
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            memory_mb: 32,
            allowed_lateness_secs: 300,
            max_jump_secs: 3600,
            max_future_secs: 2_592_000,
        }
    }
}

/// Resolved settings of one stateful rule (times in ns).
#[derive(Clone, Copy, Default)]
pub(super) struct Knobs {
    pub(super) rule: usize,
    pub(super) on: bool,
    pub(super) threshold: u64,
    pub(super) window: i64,
    pub(super) suppress: i64,
}

impl Knobs {
    pub(super) fn of(rules: &Rules, id: &str) -> Knobs {
        let Some(i) = rules.index_of(id) else {
            return Knobs::default();
        };
        let r = &rules.rules[i];
        Knobs {
            rule: i,
            on: r.enabled,
            threshold: r.int("threshold"),
            window: r.int("window_secs") as i64 * NANOS,
            suppress: r.int("suppress_secs") as i64 * NANOS,
        }
    }
}

/// The settings of every stateful rule of the catalog, by the name the code gives it (the
/// table plan and the window logic both start from these).
#[derive(Clone, Copy)]
pub(super) struct StatefulKnobs {
    pub(super) spray: Knobs,
    pub(super) stuffing: Knobs,
    pub(super) bf_success: Knobs,
    pub(super) bf_attempts: Knobs,
    pub(super) locked: Knobs,
    pub(super) admin_cc: Knobs,
    pub(super) user_cc: Knobs,
    pub(super) travel: Knobs,
    pub(super) sso: Knobs,
    pub(super) mfa: Knobs,
}

impl StatefulKnobs {
    pub(super) fn of(rules: &Rules) -> StatefulKnobs {
        let k = |id| Knobs::of(rules, id);
        StatefulKnobs {
            spray: k("password_spray_from_ip"),
            stuffing: k("credential_stuffing_success"),
            bf_success: k("brute_force_then_success"),
            bf_attempts: k("brute_force_attempts"),
            locked: k("multiple_accounts_locked"),
            admin_cc: k("admin_multi_country_login"),
            user_cc: k("user_multi_country_login"),
            travel: k("impossible_travel"),
            sso: k("sso_failure_burst"),
            mfa: k("mfa_bypass_suspected"),
        }
    }
}

/// Buckets and bytes per key of a table given `bytes` of budget, `k` slots per key and a
/// per-key record of `meta` bytes. At least one bucket, so a share smaller than one bucket
/// of keys takes more than the share (`Config` validation refuses such budgets).
pub(super) fn table_layout(bytes: usize, k: usize, meta: usize) -> (usize, usize) {
    let per_key = 18 + meta + k * std::mem::size_of::<Slot>();
    ((bytes / per_key / WAYS).max(1), per_key)
}

/// Most slots a key gets, whatever the thresholds, windows and lateness ask.
pub(super) const MAX_SLOTS: usize = 4096;

/// Record slots per key of a table shared by `rules` (each with its fire count: the
/// threshold for "at least", one more for "more than"), and its shortest and longest window.
///
/// Why this is exact: an event in time is at most `lateness` behind the newest, so only the
/// occurrences within `w_max + lateness` of the newest can still share a window with one.
/// Cut that span into m = ⌈(w_max + lateness) / w_min⌉ pieces, none longer than a window.
/// Until a rule fires, no window holds its fire count, so each piece holds at most
/// (fire count − 1) records: events in a counting table, identities in a distinct one (two
/// runs of one identity are more than `w_min` apart, so never in one piece). A key whose
/// live records outgrow m·(fire count − 1) has therefore fired every rule of the table; one
/// more slot lets the record that proves it in.
pub(super) fn records_needed(rules: &[(Knobs, u64)], lateness: i64) -> (usize, i64, i64) {
    let on: SmallVec<[(Knobs, u64); 2]> = rules.iter().copied().filter(|r| r.0.on).collect();
    let w_min = on.iter().map(|r| r.0.window).min().unwrap_or(1).max(1);
    let w_max = on.iter().map(|r| r.0.window).max().unwrap_or(1).max(1);
    let pieces = (w_max.saturating_add(lateness) as u64).div_ceil(w_min as u64);
    let below = on.iter().map(|r| r.1.saturating_sub(1)).max().unwrap_or(0);
    let recs = pieces.saturating_mul(below).saturating_add(1);
    ((recs as usize).clamp(1, MAX_SLOTS), w_min, w_max)
}

/// Each table's weight in the budget, and whether an enabled rule uses it, in the order of
/// [`plan`]'s shapes.
fn wants(k: &StatefulKnobs) -> [(bool, u64); TABLES] {
    [
        (k.spray.on || k.stuffing.on, 30u64),
        (k.bf_success.on || k.bf_attempts.on, 20),
        (k.sso.on, 10),
        (k.locked.on, 5),
        (k.admin_cc.on || k.user_cc.on, 10),
        (k.travel.on, 10),
        (k.mfa.on, 15),
        (k.stuffing.on || k.bf_success.on || k.mfa.on, 5),
    ]
}

/// The budget split between the built-in tables (first) and each Sigma correlation's table
/// (second): by weight, a correlation weighing [`CORR_WEIGHT`].
pub(super) fn split_budget(rules: &Rules, correlations: usize, budget: usize) -> (usize, usize) {
    if correlations == 0 {
        return (budget, 0);
    }
    let builtin: u64 = wants(&StatefulKnobs::of(rules))
        .iter()
        .filter(|w| w.0)
        .map(|w| w.1)
        .sum();
    let total = builtin + CORR_WEIGHT * correlations as u64;
    let unit = budget / total as usize;
    (unit * builtin as usize, unit * CORR_WEIGHT as usize)
}

/// The tables, in the order of [`plan`]'s shapes.
pub(super) const TABLES: usize = 8;

/// The shape of each table, in the order source ip, actor+service, SSO actor, organization,
/// countries, travel, MFA, recent successes (only `bytes` is used: see [`Recents`]); `None`
/// for a table that no enabled rule uses.
pub(super) fn plan(rules: &Rules, lateness_secs: u64, budget: usize) -> [Option<Spec>; TABLES] {
    let StatefulKnobs {
        spray,
        stuffing,
        bf_success,
        bf_attempts,
        locked,
        admin_cc,
        user_cc,
        travel: _,
        sso,
        mfa,
    } = StatefulKnobs::of(rules);
    let param = |k: &Knobs, name: &str| {
        rules
            .rules
            .get(k.rule)
            .map_or(0, |r| r.int(name) as i64 * NANOS)
    };
    let success_window = param(&stuffing, "success_window_secs");
    let horizon = param(&mfa, "horizon_secs");
    let lateness = lateness_secs as i64 * NANOS;
    // Shares of the budget, normalized over the tables actually in use.
    let want = wants(&StatefulKnobs::of(rules));
    let total: u64 = want.iter().filter(|w| w.0).map(|w| w.1).sum::<u64>().max(1);
    let share = |i: usize| budget / total as usize * want[i].1 as usize;
    let windowed = |i: usize, rs: &[(Knobs, u64)], distinct: bool, extra: i64| {
        let (recs, w_min, w_max) = records_needed(rs, lateness);
        let span = w_max.saturating_add(lateness);
        Spec {
            bytes: share(i),
            recs,
            merge: distinct.then_some(w_min),
            keep: [(0, 0); 2],
            window: w_max,
            span,
            idle: span.saturating_add(extra),
        }
    };
    // Tables of one record per key and no slots.
    let single = |i: usize, idle: i64| Spec {
        bytes: share(i),
        recs: 0,
        merge: None,
        keep: [(0, 0); 2],
        window: 0,
        span: 0,
        idle,
    };
    let more = |k: Knobs| (k, k.threshold + 1);
    let least = |k: Knobs| (k, k.threshold);
    // The brute-force table also answers successes that look back over the failures before
    // them, so its full keys drop only records no open window needs (`redundant`): then
    // each window-long piece of the open span needs at most 2·N records.
    let mut brute = windowed(1, &[least(bf_attempts), least(bf_success)], false, 0);
    if bf_success.on {
        let on: SmallVec<[Knobs; 2]> = [bf_attempts, bf_success]
            .into_iter()
            .filter(|k| k.on)
            .collect();
        let w_max = on.iter().map(|k| k.window).max().unwrap_or(1).max(1);
        let mut keep = [(0usize, 0i64); 2];
        for k in &on {
            let need = k.threshold as usize;
            match keep.iter_mut().find(|e| e.0 > 0 && e.1 == k.window) {
                Some(e) => e.0 = e.0.max(need),
                None => {
                    if let Some(e) = keep.iter_mut().find(|e| e.0 == 0) {
                        *e = (need, k.window);
                    }
                }
            }
        }
        let recs: u64 = keep
            .iter()
            .filter(|e| e.0 > 0)
            .map(|&(need, w)| {
                let pieces = (w_max.saturating_add(lateness) as u64).div_ceil(w.max(1) as u64);
                2 * need as u64 * pieces
            })
            .sum::<u64>()
            + 1;
        brute.keep = keep;
        brute.recs = (recs as usize).clamp(1, MAX_SLOTS);
    }
    // Likewise the ip table for credential stuffing, whose successes look back at when a
    // wave was complete even after the spray rule fired for the ip.
    let mut ip = windowed(0, &[more(spray), least(stuffing)], true, success_window);
    if stuffing.on {
        let need = stuffing.threshold as usize;
        let w = stuffing.window.max(1);
        let pieces = (ip.window.saturating_add(lateness) as u64).div_ceil(w as u64);
        let spare = (2 * need as u64 * pieces + 1).min(MAX_SLOTS as u64) as usize;
        ip.keep = [(need, w), (0, 0)];
        ip.recs = ip.recs.max(spare);
    }
    let specs = [
        ip,
        brute,
        windowed(2, &[more(sso)], false, 0),
        windowed(3, &[least(locked)], true, 0),
        windowed(4, &[more(admin_cc), more(user_cc)], true, 0),
        single(5, 86_400 * NANOS),
        single(6, horizon.saturating_add(lateness)),
        single(7, lateness),
    ];
    std::array::from_fn(|i| want[i].0.then_some(specs[i]))
}

/// The bytes the window tables take with a budget of `memory_mb` (what
/// [`WindowStats::bytes`] reports once built), computed without building them. Over the
/// budget only when a table's share cannot hold one bucket of its keys (large thresholds in
/// a tiny budget).
pub fn planned_bytes(
    rules: &Rules,
    sigma: &crate::sigma::set::RuleSet,
    lateness_secs: u64,
    memory_mb: u64,
) -> usize {
    use std::mem::size_of;
    let meta = [
        size_of::<IpMeta>(),
        size_of::<TwoGates>(),
        size_of::<TwoGates>(),
        size_of::<TwoGates>(),
        size_of::<TwoGates>(),
        size_of::<TravelMeta>(),
        size_of::<MfaMeta>(),
    ];
    let budget = memory_mb as usize * (1 << 20);
    let (builtin, per_corr) = split_budget(rules, sigma.correlations.len(), budget);
    let specs = plan(rules, lateness_secs, builtin);
    let tables: usize = specs
        .iter()
        .zip(meta)
        .filter_map(|(p, m)| {
            p.map(|s| {
                let (buckets, per_key) = table_layout(s.bytes, s.recs, m);
                buckets * WAYS * per_key
            })
        })
        .sum();
    let lateness = lateness_secs as i64 * NANOS;
    let corr: usize = sigma
        .correlations
        .iter()
        .map(|c| {
            let s = corr_spec(c, lateness, per_corr);
            let (buckets, per_key) = table_layout(s.bytes, s.recs, size_of::<CorrMeta>());
            buckets * WAYS * per_key
        })
        .sum();
    tables + corr + specs[7].map_or(0, |s| Recents::planned_bytes(s.bytes))
}
