//! Evidence of a stateful alert: the events counted, looked up in the records and in the
//! recent successes.

use super::*;

/// The evidence of a `…_then_success` alert: the failures counted before the success.
#[allow(clippy::too_many_arguments)]
pub(super) fn success_evidence(
    k: &Knobs,
    group_by: &'static str,
    key: &str,
    hit: &Hit,
    recs: &[Slot],
    held: u64,
    success_t: i64,
    success_id: CompactId,
    distinct: bool,
) -> Fired {
    let mut f = fired(k, group_by, key, hit, recs, held, "at least", distinct);
    f.evidence.window_end = success_t;
    push_id(&mut f.evidence, success_id);
    f
}

/// The recent successes under `key` (at `from` or later) that `pick` keeps, in time order,
/// a redelivered one once; `mark` is set in the flags of each (every copy). Only a late event
/// asks, so nothing is looked up in order.
pub(super) fn successes(
    recent: &mut Option<Recents>,
    kind: Kind,
    key: u64,
    from: i64,
    mark: u8,
    pick: impl Fn(&Success) -> bool,
) -> SmallVec<[Success; 4]> {
    let mut out: SmallVec<[Success; 4]> = SmallVec::new();
    if let Some(r) = recent.as_mut().filter(|r| from <= r.newest) {
        for j in r.lookup(kind, key, from) {
            let s = *r.get(j);
            if pick(&s) {
                r.get_mut(j).flags |= mark;
                if !out.iter().any(|o| o.t == s.t && o.id == s.id) {
                    out.push(s);
                }
            }
        }
    }
    out.sort_by_key(|s| s.t);
    out
}

/// Key of an actor's, and of an ip's, recent successes.
pub(super) fn recent_actor_key(actor: &str) -> u64 {
    key_of(&[b"actor", actor.as_bytes()])
}

pub(super) fn recent_ip_key(ip: &str) -> u64 {
    key_of(&[b"ip", ip.as_bytes()])
}

pub(super) fn mfa_evidence(
    rule: usize,
    key: String,
    mfa_t: i64,
    mfa_id: CompactId,
    t: i64,
    id: CompactId,
) -> Fired {
    let mut e = Evidence {
        group_by: "user+event_type".into(),
        group_key: key,
        window_start: mfa_t,
        window_end: t,
        count: 1,
        distinct_count: None,
        threshold: 1,
        comparison: "at least",
        suppressed: 0,
        event_ids: Vec::new(),
        event_ids_total: 0,
        extra: vec![(
            "last_mfa_login_secs_ago",
            Extra::Int((t.abs_diff(mfa_t) / NANOS as u64) as i64),
        )],
    };
    push_id(&mut e, mfa_id);
    push_id(&mut e, id);
    Fired { rule, evidence: e }
}

pub(super) fn push_id(e: &mut Evidence, id: CompactId) {
    if let Some(s) = id.decode() {
        if !e.event_ids.contains(&s) {
            e.event_ids_total += 1;
            if e.event_ids.len() < MAX_EVIDENCE_IDS {
                e.event_ids.push(s);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn fired(
    k: &Knobs,
    group_by: &'static str,
    key: &str,
    hit: &Hit,
    slots: &[Slot],
    held: u64,
    comparison: &'static str,
    distinct: bool,
) -> Fired {
    let mut members: SmallVec<[&Slot; 32]> =
        hit.members.iter().filter_map(|&j| slots.get(j)).collect();
    members.sort_by_key(|s| s.t);
    let ids: Vec<String> = members.iter().filter_map(|s| s.id.decode()).collect();
    let total = ids.len() as u64;
    Fired {
        rule: k.rule,
        evidence: Evidence {
            group_by: group_by.into(),
            group_key: key.to_string(),
            window_start: hit.start,
            window_end: hit.end,
            count: hit.count as u64,
            distinct_count: distinct.then_some(hit.count as u64),
            threshold: k.threshold,
            comparison,
            suppressed: held,
            event_ids: ids.into_iter().take(MAX_EVIDENCE_IDS).collect(),
            event_ids_total: total,
            extra: Vec::new(),
        },
    }
}
