//! A key's records and the window questions asked of them: adding an occurrence (and
//! which record a full key gives up), the fullest window through a time, counts in a span,
//! and when a wave of failures completed.

use super::*;

/// Add an occurrence of `fp` at `t` to a key's records; the index of the record that holds
/// it, `None` when nothing changed. With `merge`, occurrences of one identity no more than
/// `merge` apart share one run (a time that bridges two runs joins them); without it every
/// event is its own record and an at-least-once redelivery of one (same identity, time and
/// DI id) is not counted twice. A full key gives up a dead record first (newest time before
/// `dead`), else one far ahead (first time after `ahead`), else one that `keep` shows no
/// window needs (see [`redundant`]), else its oldest; an occurrence older than every record
/// of a full key is dropped.
///
/// Sizing (see [`records_needed`]) makes a full key one that has already fired: until then
/// the records are every occurrence that can still share a window with an event in time.
#[allow(clippy::too_many_arguments)]
pub(super) fn add_record(
    slots: &mut [Slot],
    used: &mut usize,
    fp: u64,
    t: i64,
    id: CompactId,
    merge: Option<i64>,
    keep: &[(usize, i64)],
    (dead, ahead): (i64, i64),
) -> Option<usize> {
    let cap = slots.len();
    if cap == 0 {
        return None;
    }
    let rec = &mut slots[..*used];
    match merge {
        Some(gap) => {
            let mut held: Option<usize> = None;
            for j in 0..rec.len() {
                let s = rec[j];
                if s.fp != fp || t < s.first.saturating_sub(gap) || t > s.t.saturating_add(gap) {
                    continue;
                }
                match held {
                    None => {
                        let r = &mut rec[j];
                        r.first = r.first.min(t);
                        if t >= r.t {
                            r.t = t;
                            r.id = id;
                        }
                        held = Some(j);
                    }
                    Some(h) => {
                        // `t` closes the gap between two runs: one run now.
                        rec[h].first = rec[h].first.min(s.first);
                        if s.t > rec[h].t {
                            rec[h].t = s.t;
                            rec[h].id = s.id;
                        }
                        rec[j] = Slot::default();
                    }
                }
            }
            if held.is_some() {
                return held;
            }
        }
        None => {
            let again = id != CompactId::default()
                && rec.iter().any(|s| s.fp == fp && s.t == t && s.id == id);
            if again {
                return None;
            }
        }
    }
    let (oldest, oldest_t) = rec
        .iter()
        .enumerate()
        .min_by_key(|(_, s)| s.t)
        .map(|(j, s)| (j, s.t))
        .unwrap_or((0, i64::MIN));
    let victim = match rec.iter().position(|s| s.fp == 0) {
        Some(j) => j,
        None if *used < cap => {
            *used += 1;
            *used - 1
        }
        None if oldest_t < dead => oldest,
        // A record far ahead of the stream (an unconfirmed jump of the watermark) shares no
        // window with an event in time: it goes before any live one.
        None if rec.iter().any(|s| s.first > ahead) => {
            let j = rec.iter().position(|s| s.first > ahead).unwrap_or(oldest);
            if t > ahead {
                return None;
            }
            j
        }
        None if keep.iter().any(|k| k.0 > 0) => {
            match redundant(rec, fp, t, keep, merge.is_some(), dead) {
                Some(j) if j < rec.len() => j,
                Some(_) => return None, // the newcomer itself changes no decision
                None => oldest,
            }
        }
        None => {
            if t < oldest_t {
                return None; // a full key of live records, all newer: it has fired already
            }
            oldest
        }
    };
    slots[victim] = Slot {
        fp,
        t,
        first: t,
        id,
        tag: [0; 2],
    };
    Some(victim)
}

/// The oldest record of a full key (`rec.len()` for the newcomer `fp` at `t`) whose loss
/// changes no answer to "at least N within W" for any window still open, i.e. starting at
/// `open` or later: every such window it is present in holds N others (events, or distinct
/// identities in a distinct table). Sizing guarantees one in a key of more than 2·N records
/// per window-long piece of the open span: in such a piece, a record whose lightest window
/// holds at most N must be among the piece's first N or last N (that window covers the
/// piece's start or its end).
pub(super) fn redundant(
    rec: &[Slot],
    fp: u64,
    t: i64,
    keep: &[(usize, i64)],
    distinct: bool,
    open: i64,
) -> Option<usize> {
    // (newest, first, identity, index), oldest first.
    let mut runs: SmallVec<[(i64, i64, u64, usize); 64]> = rec
        .iter()
        .enumerate()
        .filter(|(_, s)| s.fp != 0)
        .map(|(j, s)| (s.t, s.first, s.fp, j))
        .collect();
    runs.push((t, t, fp, rec.len()));
    runs.sort_unstable();
    let count = |a: i64, w: i64| {
        let hi = a.saturating_add(w);
        let mut ids: SmallVec<[u64; 64]> = runs
            .iter()
            .filter(|r| r.1 <= hi && r.0 >= a)
            .map(|r| r.2)
            .collect();
        if distinct {
            ids.sort_unstable();
            ids.dedup();
        }
        ids.len()
    };
    let spare = |r: &(i64, i64, u64, usize)| {
        keep.iter().filter(|k| k.0 > 0).all(|&(need, w)| {
            let lo = r.1.saturating_sub(w).max(open);
            if lo > r.0 {
                return true; // no open window reaches it
            }
            // The lightest window it is in starts at `lo` or just after a record leaves.
            std::iter::once(lo)
                .chain(
                    runs.iter()
                        .filter(|x| x.0 >= lo && x.0 < r.0)
                        .map(|x| x.0 + 1),
                )
                .all(|a| count(a, w) > need)
        })
    };
    runs.iter().find(|r| spare(r)).map(|r| r.3)
}

/// The fullest window of length `w` that contains time `t`, over a key's records.
#[derive(Default)]
pub(super) struct Hit {
    pub(super) count: usize,
    pub(super) start: i64,
    pub(super) end: i64,
    pub(super) members: SmallVec<[usize; 32]>,
}

/// Whether a record has an occurrence inside `[a, a + w]`.
pub(super) fn present(s: &Slot, a: i64, w: i64) -> bool {
    s.fp != 0 && s.first <= a.saturating_add(w) && s.t >= a
}

pub(super) fn best_window(rec: &[Slot], t: i64, w: i64) -> Hit {
    // The count of a window `[a, a + w]` only drops just after `a` passes a record's newest
    // time, so the fullest window starting in `[t - w, t]` starts at `t` or at a record time.
    let lo = t.saturating_sub(w);
    let mut starts: SmallVec<[i64; 64]> = SmallVec::new();
    starts.push(t);
    for s in rec.iter().filter(|s| s.fp != 0) {
        for x in [s.first, s.t] {
            if x >= lo && x < t {
                starts.push(x);
            }
        }
    }
    starts.sort_unstable();
    starts.dedup();
    let mut best = Hit::default();
    for &a in &starts {
        let n = rec.iter().filter(|s| present(s, a, w)).count();
        if n > best.count {
            best.count = n;
            best.start = a;
        }
    }
    if best.count == 0 {
        return best;
    }
    let a = best.start;
    let (mut start, mut end) = (i64::MAX, t);
    for (j, s) in rec.iter().enumerate().filter(|(_, s)| present(s, a, w)) {
        best.members.push(j);
        start = start.min(s.first.max(a));
        end = end.max(s.t.min(a.saturating_add(w)));
    }
    best.start = start;
    best.end = end;
    best
}

/// How many records of a counting key have a time in `[from, to]`.
pub(super) fn count_in(rec: &[Slot], from: i64, to: i64) -> usize {
    rec.iter()
        .filter(|s| s.fp != 0 && s.t >= from && s.t <= to)
        .count()
}

/// The records of a counting key with a time in `[from, to]`.
pub(super) fn count_between(rec: &[Slot], from: i64, to: i64) -> Hit {
    let mut hit = Hit {
        start: to,
        end: to,
        ..Hit::default()
    };
    for (j, s) in rec.iter().enumerate() {
        if s.fp != 0 && s.t >= from && s.t <= to {
            hit.count += 1;
            hit.members.push(j);
            hit.start = hit.start.min(s.t);
        }
    }
    hit
}

/// The earliest and the latest record time `T` in `[t, t + w]` at which the window
/// `[T - w, T]` holds at least `need` records: when a wave of failures through `t` was
/// complete. Record times are failure times, and a window only gains records at one.
pub(super) fn completions(rec: &[Slot], t: i64, w: i64, need: usize) -> Option<(i64, i64)> {
    let hi = t.saturating_add(w);
    let mut ends: SmallVec<[i64; 64]> = SmallVec::new();
    ends.push(t);
    for s in rec.iter().filter(|s| s.fp != 0) {
        for x in [s.first, s.t] {
            if x > t && x <= hi {
                ends.push(x);
            }
        }
    }
    ends.sort_unstable();
    ends.dedup();
    let full = |e: i64| {
        rec.iter()
            .filter(|s| present(s, e.saturating_sub(w), w))
            .count()
            >= need
    };
    let first = ends.iter().copied().find(|&e| full(e))?;
    let last = ends.iter().copied().rev().find(|&e| full(e))?;
    Some((first, last))
}
