//! Stateful rules: sliding windows on event time, in tables whose size is fixed at start-up.
//!
//! Every table is an array of `WAYS`-slot buckets indexed by a 64-bit key fingerprint. Each
//! key owns `k` record slots, as many as exactness under the allowed lateness needs and no
//! more ([`records_needed`]: every occurrence that can still share a window with an event in
//! time, until the key fires). When a bucket is full the victim is an empty slot, else a key
//! idle past its horizon, else the key with the least in-window weight, so a flood of
//! one-shot keys cannot push out a slow, heavy attacker. Successes that late events may
//! still precede live in `crate::recent`. Nothing here allocates per event once built.

use crate::alert::{Evidence, Extra};
use crate::config::Config;
use crate::event::Event;
use crate::hash::hash64;
use crate::persist::{Reader, StateError, Writer};
use crate::recent::{tag_of, Kind, Recents, Success, AWAITS_MFA, BRUTE_FORCED};
use crate::rules::Rules;
use crate::time::NANOS;
use smallvec::SmallVec;
use std::borrow::Cow;

/// Slots per bucket.
const WAYS: usize = 8;
/// At most this many DI ids are listed in an alert's evidence.
pub const MAX_EVIDENCE_IDS: usize = 32;

/// A DI event id packed into 17 bytes: 24-hex ObjectIds and UUIDs (the two shapes DI uses)
/// round-trip exactly; other ids up to 16 bytes are kept raw; longer ones are dropped.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct CompactId {
    kind: u8,
    bytes: [u8; 16],
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl CompactId {
    const OBJECT_ID: u8 = 1;
    const UUID_UPPER: u8 = 2;
    const UUID_LOWER: u8 = 3;
    const RAW: u8 = 16; // RAW + len

    pub fn encode(s: Option<&str>) -> CompactId {
        let Some(s) = s.filter(|s| !s.is_empty()) else {
            return CompactId::default();
        };
        let b = s.as_bytes();
        let mut out = CompactId::default();
        let pack = |hex: &[u8], out: &mut [u8; 16]| -> bool {
            hex.chunks(2)
                .enumerate()
                .all(|(i, p)| match (hex_val(p[0]), hex_val(p[1])) {
                    (Some(h), Some(l)) => {
                        out[i] = h << 4 | l;
                        true
                    }
                    _ => false,
                })
        };
        if b.len() == 24
            && b.iter()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
            && pack(b, &mut out.bytes)
        {
            out.kind = Self::OBJECT_ID;
            return out;
        }
        if b.len() == 36 && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-') {
            let hex: Vec<u8> = b.iter().copied().filter(|&c| c != b'-').collect();
            let upper = hex.iter().all(|c| !c.is_ascii_lowercase());
            let lower = hex.iter().all(|c| !c.is_ascii_uppercase());
            if hex.len() == 32 && (upper || lower) && pack(&hex, &mut out.bytes) {
                out.kind = if upper {
                    Self::UUID_UPPER
                } else {
                    Self::UUID_LOWER
                };
                return out;
            }
        }
        if b.len() <= 16 {
            out.bytes[..b.len()].copy_from_slice(b);
            out.kind = Self::RAW + b.len() as u8;
            return out;
        }
        CompactId::default()
    }

    pub fn decode(&self) -> Option<String> {
        const LO: &[u8; 16] = b"0123456789abcdef";
        const UP: &[u8; 16] = b"0123456789ABCDEF";
        let hex = |n: usize, digits: &[u8; 16]| -> String {
            self.bytes[..n]
                .iter()
                .flat_map(|b| {
                    [
                        digits[(b >> 4) as usize] as char,
                        digits[(b & 15) as usize] as char,
                    ]
                })
                .collect()
        };
        match self.kind {
            0 => None,
            Self::OBJECT_ID => Some(hex(12, LO)),
            Self::UUID_UPPER | Self::UUID_LOWER => {
                let h = hex(
                    16,
                    if self.kind == Self::UUID_UPPER {
                        UP
                    } else {
                        LO
                    },
                );
                Some(format!(
                    "{}-{}-{}-{}-{}",
                    &h[..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..]
                ))
            }
            k if k >= Self::RAW => {
                let n = (k - Self::RAW) as usize;
                String::from_utf8(self.bytes[..n].to_vec()).ok()
            }
            _ => None,
        }
    }
}

/// One remembered record of a key: an identity (actor, account, country; `fp`, 0 = empty) and
/// when it was seen. In a *distinct* table a record is a run: the occurrences of one identity
/// that lie no more than the table's merge gap apart, kept as the first and the newest time;
/// with gaps no longer than a window, the identity is inside the window `[a, a + W]` exactly
/// when that window overlaps `[first, t]`. In a *counting* table each event is a record
/// (`first == t`).
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    fp: u64,
    /// Newest occurrence.
    t: i64,
    /// First occurrence of the run (`t` in a counting table).
    first: i64,
    /// DI id of the newest occurrence.
    id: CompactId,
    /// A two-letter tag (the country of a country record); fits in the struct's padding.
    tag: [u8; 2],
}

const NONE: i64 = i64::MIN;

/// A per-key record. `pinned` keys (holding a pending decision, like an ip armed by a
/// credential-stuffing wave) are evicted only when a whole bucket is pinned.
trait KeyMeta: Copy + Default + Codec {
    fn pinned(&self, _now: i64) -> bool {
        false
    }
}

/// Keys per lazily allocated chunk of a table's records.
const CHUNK_KEYS: usize = 64;

/// A fixed-length array whose chunks are allocated (with defaults) on first write: the
/// table's size is fixed at start-up, but start-up does not write it all, and memory is
/// committed only as keys arrive (reads of an untouched chunk see the default value).
struct Lazy<T> {
    chunks: Vec<Option<Box<[T]>>>,
    /// Elements per chunk.
    chunk: usize,
    /// What an untouched chunk reads as.
    empty: Box<[T]>,
}

impl<T: Clone + Default> Lazy<T> {
    fn new(len: usize, chunk: usize) -> Lazy<T> {
        let chunk = chunk.max(1);
        Lazy {
            chunks: vec![None; len.div_ceil(chunk)],
            chunk,
            empty: vec![T::default(); chunk].into(),
        }
    }

    /// `n` elements from `at`, which never straddle a chunk (callers align them).
    fn range(&self, at: usize, n: usize) -> &[T] {
        if n == 0 {
            return &[];
        }
        match &self.chunks[at / self.chunk] {
            Some(c) => &c[at % self.chunk..at % self.chunk + n],
            None => &self.empty[..n],
        }
    }

    fn range_mut(&mut self, at: usize, n: usize) -> &mut [T] {
        if n == 0 {
            return &mut [];
        }
        let chunk = self.chunk;
        let c = self.chunks[at / chunk].get_or_insert_with(|| vec![T::default(); chunk].into());
        &mut c[at % chunk..at % chunk + n]
    }
}

impl<T: Clone + Default> std::ops::Index<usize> for Lazy<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        match &self.chunks[i / self.chunk] {
            Some(c) => &c[i % self.chunk],
            None => &self.empty[0],
        }
    }
}

impl<T: Clone + Default> std::ops::IndexMut<usize> for Lazy<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.range_mut(i, 1)[0]
    }
}

/// The shape of one table, fixed at start-up by [`plan`] (times in ns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Spec {
    /// Share of the memory budget.
    bytes: usize,
    /// Record slots per key.
    recs: usize,
    /// Merge gap of a distinct table's runs (its shortest window); `None`: a counting table.
    merge: Option<i64>,
    /// A counting table whose rules ask "at least N within W" of any window, not only of the
    /// windows through the newest event (a success looks back over the failures before it):
    /// its full keys give up only records no such window needs, `(N, W)` for each window
    /// length. Empty: a full key gives up its oldest record.
    keep: [(usize, i64); 2],
    /// Longest window of the table's rules (the eviction weight's window).
    window: i64,
    /// A record whose newest time is this far behind the newest event can no longer share a
    /// window with an event still in time (longest window + lateness): it is dead.
    span: i64,
    /// A key idle this long holds nothing any rule still needs.
    idle: i64,
}

/// Fixed-capacity key table. `M` is the per-key record of the rules sharing the table.
struct Table<M: KeyMeta> {
    keys: Vec<u64>,
    /// Newest event time per key (0 for an empty key: never read, as empties are chosen
    /// first; zero so the array is allocated lazily by the OS).
    last: Vec<i64>,
    meta: Lazy<M>,
    slots: Lazy<Slot>,
    /// Record slots in use per key: slots past it are stale, so a new key starts empty
    /// without clearing its slots, and scans stop there.
    used: Vec<u16>,
    spec: Spec,
    k: usize,
    buckets: usize,
    evictions: u64,
}

impl<M: KeyMeta> Table<M> {
    fn new(spec: Spec) -> Table<M> {
        let k = spec.recs;
        let (buckets, _) = table_layout(spec.bytes, k, std::mem::size_of::<M>());
        let cap = buckets * WAYS;
        Table {
            keys: vec![0; cap],
            last: vec![0; cap],
            meta: Lazy::new(cap, CHUNK_KEYS),
            slots: Lazy::new(cap * k, CHUNK_KEYS * k),
            used: vec![0; cap],
            spec,
            k,
            buckets,
            evictions: 0,
        }
    }

    fn capacity(&self) -> usize {
        self.keys.len()
    }

    fn bytes(&self) -> usize {
        self.capacity() * (18 + std::mem::size_of::<M>() + self.k * std::mem::size_of::<Slot>())
    }

    fn bucket(&self, key: u64) -> usize {
        // `key` is already well mixed; the high bits pick the bucket.
        ((u128::from(key) * self.buckets as u128) >> 64) as usize * WAYS
    }

    fn find(&self, key: u64) -> Option<usize> {
        let b = self.bucket(key);
        (b..b + WAYS).find(|&i| self.keys[i] == key)
    }

    fn slots(&self, i: usize) -> &[Slot] {
        self.slots.range(i * self.k, self.k)
    }

    fn slots_mut(&mut self, i: usize) -> &mut [Slot] {
        self.slots.range_mut(i * self.k, self.k)
    }

    /// The key's records in use.
    fn recs(&self, i: usize) -> &[Slot] {
        &self.slots(i)[..usize::from(self.used[i])]
    }

    /// Remember an occurrence in the key's records: the record that holds it, `None` when it
    /// was not counted (a redelivery, or dropped from a full key).
    fn add(&mut self, i: usize, fp: u64, t: i64, id: CompactId, now: i64) -> Option<usize> {
        let (merge, keep) = (self.spec.merge, self.spec.keep);
        let dead = now.saturating_sub(self.spec.span);
        let ahead = now.saturating_add(self.spec.window);
        let mut used = usize::from(self.used[i]);
        let rec = self.slots.range_mut(i * self.k, self.k);
        let at = add_record(rec, &mut used, fp, t, id, merge, &keep, (dead, ahead));
        self.used[i] = used as u16;
        at
    }

    /// In-window weight for eviction, from the key's newest time and records in use (no
    /// slot is read: a victim is chosen among eight keys on every insert).
    fn weight(&self, i: usize, now: i64) -> usize {
        if self.last[i] >= now.saturating_sub(self.spec.window) {
            usize::from(self.used[i]).max(1)
        } else {
            0
        }
    }

    fn idle_past(&self, i: usize, now: i64) -> bool {
        self.last[i] < now.saturating_sub(self.spec.idle)
    }

    /// The key's index, inserting (and possibly evicting) when absent. `now` is the stream's
    /// newest event time, so eviction decisions do not depend on arrival order of old events.
    fn upsert(&mut self, key: u64, t: i64, now: i64) -> usize {
        if let Some(i) = self.find(key) {
            self.last[i] = self.last[i].max(t);
            return i;
        }
        let b = self.bucket(key);
        let victim = (b..b + WAYS)
            .find(|&i| self.keys[i] == 0)
            .or_else(|| {
                (b..b + WAYS)
                    .filter(|&i| self.idle_past(i, now))
                    .min_by_key(|&i| self.last[i])
            })
            .unwrap_or_else(|| {
                (b..b + WAYS)
                    .min_by_key(|&i| (self.meta[i].pinned(now), self.weight(i, now), self.last[i]))
                    .unwrap_or(b)
            });
        if self.keys[victim] != 0 {
            self.evictions += 1;
        }
        self.keys[victim] = key;
        self.last[victim] = t;
        self.meta[victim] = M::default();
        self.used[victim] = 0;
        victim
    }
}

/// A country code as a 2-byte tag (`??` when missing or malformed).
fn country_tag(cc: &str) -> [u8; 2] {
    match cc.as_bytes() {
        [a, b] => [a.to_ascii_uppercase(), b.to_ascii_uppercase()],
        _ => *b"??",
    }
}

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
fn add_record(
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
fn redundant(
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
struct Hit {
    count: usize,
    start: i64,
    end: i64,
    members: SmallVec<[usize; 32]>,
}

/// Whether a record has an occurrence inside `[a, a + w]`.
fn present(s: &Slot, a: i64, w: i64) -> bool {
    s.fp != 0 && s.first <= a.saturating_add(w) && s.t >= a
}

fn best_window(rec: &[Slot], t: i64, w: i64) -> Hit {
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
fn count_in(rec: &[Slot], from: i64, to: i64) -> usize {
    rec.iter()
        .filter(|s| s.fp != 0 && s.t >= from && s.t <= to)
        .count()
}

/// The records of a counting key with a time in `[from, to]`.
fn count_between(rec: &[Slot], from: i64, to: i64) -> Hit {
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
fn completions(rec: &[Slot], t: i64, w: i64, need: usize) -> Option<(i64, i64)> {
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

/// Suppression state of one (rule, key).
#[derive(Clone, Copy, Default)]
struct Gate {
    /// Earliest and latest time the rule alerted at for the key.
    lo: i64,
    hi: i64,
    armed: bool,
    held: u32,
}

impl Gate {
    /// `Some(held back since last alert)` when the rule may fire at `t`; otherwise the alert
    /// is held back and counted in `suppressed` too. Held back: less than `suppress` from an
    /// alert of the key, on either side (a late event may complete a window before the
    /// latest alert: it is a repeat of that burst, or with no suppression its own alert).
    fn pass(&mut self, t: i64, suppress: i64, suppressed: &mut u64) -> Option<u64> {
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
const NO_SPAN: (i64, i64) = (i64::MAX, i64::MIN);

#[derive(Clone, Copy)]
struct IpMeta {
    spray: Gate,
    stuffing: Gate,
    /// Credential stuffing: a success from this ip inside one of these `(from, until)` spans
    /// (a completed failure wave, then its success window) fires. Two spans cover every
    /// success still in time: spans are at least the success window long.
    armed: [(i64, i64); 2],
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
    fn armed_at(&self, t: i64) -> bool {
        self.armed.iter().any(|&(a, b)| a <= t && t <= b)
    }

    fn arm(&mut self, from: i64, until: i64) {
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
struct TwoGates {
    a: Gate,
    b: Gate,
}

#[derive(Clone, Copy, Default)]
struct TravelMeta {
    has: bool,
    t: i64,
    lat: f64,
    lon: f64,
    country: [u8; 2],
    id: CompactId,
}

/// Successful MFA logins of one actor and event type, as up to two runs of logins no more
/// than the horizon apart (first and newest time each). Whether one lies in the horizon
/// before a login is whether a run starts before it and ends less than the horizon before
/// it; two runs cover every login still in time, as runs are more than the horizon apart.
#[derive(Clone, Copy)]
struct MfaMeta {
    /// `(first, newest)`; `NONE` newest: unused.
    runs: [(i64, i64); 2],
    /// DI id of the newest MFA login, for the evidence.
    newest_id: CompactId,
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
    fn newest(&self) -> i64 {
        self.runs[0].1.max(self.runs[1].1)
    }

    fn add(&mut self, t: i64, id: CompactId, horizon: i64) {
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
    fn before(&self, t: i64, horizon: i64) -> Option<(i64, CompactId)> {
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

/// Resolved settings of one stateful rule (times in ns).
#[derive(Clone, Copy, Default)]
struct Knobs {
    rule: usize,
    on: bool,
    threshold: u64,
    window: i64,
    suppress: i64,
}

impl Knobs {
    fn of(rules: &Rules, id: &str) -> Knobs {
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

/// Buckets and bytes per key of a table given `bytes` of budget, `k` slots per key and a
/// per-key record of `meta` bytes. At least one bucket, so a share smaller than one bucket
/// of keys takes more than the share (`Config` validation refuses such budgets).
fn table_layout(bytes: usize, k: usize, meta: usize) -> (usize, usize) {
    let per_key = 18 + meta + k * std::mem::size_of::<Slot>();
    ((bytes / per_key / WAYS).max(1), per_key)
}

/// Most slots a key gets, whatever the thresholds, windows and lateness ask.
const MAX_SLOTS: usize = 4096;

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
fn records_needed(rules: &[(Knobs, u64)], lateness: i64) -> (usize, i64, i64) {
    let on: SmallVec<[(Knobs, u64); 2]> = rules.iter().copied().filter(|r| r.0.on).collect();
    let w_min = on.iter().map(|r| r.0.window).min().unwrap_or(1).max(1);
    let w_max = on.iter().map(|r| r.0.window).max().unwrap_or(1).max(1);
    let pieces = (w_max.saturating_add(lateness) as u64).div_ceil(w_min as u64);
    let below = on.iter().map(|r| r.1.saturating_sub(1)).max().unwrap_or(0);
    let recs = pieces.saturating_mul(below).saturating_add(1);
    ((recs as usize).clamp(1, MAX_SLOTS), w_min, w_max)
}

/// The tables, in the order of [`plan`]'s shapes.
const TABLES: usize = 8;

/// The shape of each table, in the order source ip, actor+service, SSO actor, organization,
/// countries, travel, MFA, recent successes (only `bytes` is used: see [`Recents`]); `None`
/// for a table that no enabled rule uses.
fn plan(rules: &Rules, lateness_secs: u64, budget: usize) -> [Option<Spec>; TABLES] {
    let spray = Knobs::of(rules, "password_spray_from_ip");
    let stuffing = Knobs::of(rules, "credential_stuffing_success");
    let bf_success = Knobs::of(rules, "brute_force_then_success");
    let bf_attempts = Knobs::of(rules, "brute_force_attempts");
    let locked = Knobs::of(rules, "multiple_accounts_locked");
    let admin_cc = Knobs::of(rules, "admin_multi_country_login");
    let user_cc = Knobs::of(rules, "user_multi_country_login");
    let travel = Knobs::of(rules, "impossible_travel");
    let sso = Knobs::of(rules, "sso_failure_burst");
    let mfa = Knobs::of(rules, "mfa_bypass_suspected");
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
    let want = [
        (spray.on || stuffing.on, 30u64),
        (bf_success.on || bf_attempts.on, 20),
        (sso.on, 10),
        (locked.on, 5),
        (admin_cc.on || user_cc.on, 10),
        (travel.on, 10),
        (mfa.on, 15),
        (stuffing.on || bf_success.on || mfa.on, 5),
    ];
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
pub fn planned_bytes(rules: &Rules, lateness_secs: u64, memory_mb: u64) -> usize {
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
    let specs = plan(rules, lateness_secs, memory_mb as usize * (1 << 20));
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
    tables + specs[7].map_or(0, |s| Recents::planned_bytes(s.bytes))
}

/// The evidence of a `…_then_success` alert: the failures counted before the success.
#[allow(clippy::too_many_arguments)]
fn success_evidence(
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
fn successes(
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
fn recent_actor_key(actor: &str) -> u64 {
    key_of(&[b"actor", actor.as_bytes()])
}

fn recent_ip_key(ip: &str) -> u64 {
    key_of(&[b"ip", ip.as_bytes()])
}

fn mfa_evidence(
    rule: usize,
    key: String,
    mfa_t: i64,
    mfa_id: CompactId,
    t: i64,
    id: CompactId,
) -> Fired {
    let mut e = Evidence {
        group_by: "user+event_type",
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

impl Windows {
    /// Build the tables for the enabled stateful rules, splitting `[state] memory_mb`.
    pub fn new(rules: &Rules, cfg: &Config) -> Windows {
        let spray = Knobs::of(rules, "password_spray_from_ip");
        let stuffing = Knobs::of(rules, "credential_stuffing_success");
        let bf_success = Knobs::of(rules, "brute_force_then_success");
        let bf_attempts = Knobs::of(rules, "brute_force_attempts");
        let locked = Knobs::of(rules, "multiple_accounts_locked");
        let admin_cc = Knobs::of(rules, "admin_multi_country_login");
        let user_cc = Knobs::of(rules, "user_multi_country_login");
        let travel = Knobs::of(rules, "impossible_travel");
        let sso = Knobs::of(rules, "sso_failure_burst");
        let mfa = Knobs::of(rules, "mfa_bypass_suspected");
        let rule = |k: &Knobs| &rules.rules[k.rule];
        let stuffing_success_window = rule(&stuffing).int("success_window_secs") as i64 * NANOS;
        let mfa_horizon = rule(&mfa).int("horizon_secs") as i64 * NANOS;
        let lateness_secs = cfg.state.allowed_lateness_secs;

        // The shapes come from `plan`, which `planned_bytes` (config validation) shares.
        let [ip, brute, sso_t, lock_t, country_t, travel_t, mfa_t, recent] = plan(
            rules,
            lateness_secs,
            cfg.state.memory_mb as usize * (1 << 20),
        );
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
        [
            info("source_ip", &self.ip),
            info("actor_service", &self.brute),
            info("sso_actor", &self.sso_t),
            info("organization", &self.lock_t),
            info("actor_country", &self.country_t),
            info("actor_travel", &self.travel_t),
            info("actor_mfa", &self.mfa_t),
            recent,
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
                                group_by: "user",
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

fn push_id(e: &mut Evidence, id: CompactId) {
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
fn fired(
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
            group_by,
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

/// A record's fields in the state file (`src/persist.rs`), little-endian, one by one, so the
/// file is the same on every platform (native and WASM included).
pub(crate) trait Codec: Sized {
    fn put(&self, w: &mut Writer);
    fn get(r: &mut Reader<'_>) -> Result<Self, StateError>;
}

impl Codec for CompactId {
    fn put(&self, w: &mut Writer) {
        w.u8(self.kind);
        w.bytes(&self.bytes);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, StateError> {
        let kind = r.u8()?;
        // `decode` slices by the kind's length: refuse kinds it does not know.
        if !matches!(kind, 0..=3) && !(Self::RAW..=Self::RAW + 16).contains(&kind) {
            return Err(StateError::Malformed(format!("event id kind {kind}")));
        }
        let mut bytes = [0; 16];
        bytes.copy_from_slice(r.take(16)?);
        Ok(CompactId { kind, bytes })
    }
}

impl Codec for Slot {
    fn put(&self, w: &mut Writer) {
        w.u64(self.fp);
        w.i64(self.t);
        w.i64(self.first);
        self.id.put(w);
        w.bytes(&self.tag);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, StateError> {
        Ok(Slot {
            fp: r.u64()?,
            t: r.i64()?,
            first: r.i64()?,
            id: CompactId::get(r)?,
            tag: [r.u8()?, r.u8()?],
        })
    }
}

impl Codec for Gate {
    fn put(&self, w: &mut Writer) {
        w.i64(self.lo);
        w.i64(self.hi);
        w.u8(u8::from(self.armed));
        w.u32(self.held);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, StateError> {
        Ok(Gate {
            lo: r.i64()?,
            hi: r.i64()?,
            armed: r.bool()?,
            held: r.u32()?,
        })
    }
}

impl Codec for IpMeta {
    fn put(&self, w: &mut Writer) {
        self.spray.put(w);
        self.stuffing.put(w);
        for &(from, until) in &self.armed {
            w.i64(from);
            w.i64(until);
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, StateError> {
        let (spray, stuffing) = (Gate::get(r)?, Gate::get(r)?);
        let mut armed = [NO_SPAN; 2];
        for s in armed.iter_mut() {
            *s = (r.i64()?, r.i64()?);
        }
        Ok(IpMeta {
            spray,
            stuffing,
            armed,
        })
    }
}

impl Codec for TwoGates {
    fn put(&self, w: &mut Writer) {
        self.a.put(w);
        self.b.put(w);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, StateError> {
        Ok(TwoGates {
            a: Gate::get(r)?,
            b: Gate::get(r)?,
        })
    }
}

impl Codec for TravelMeta {
    fn put(&self, w: &mut Writer) {
        w.u8(u8::from(self.has));
        w.i64(self.t);
        w.f64(self.lat);
        w.f64(self.lon);
        w.bytes(&self.country);
        self.id.put(w);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, StateError> {
        Ok(TravelMeta {
            has: r.bool()?,
            t: r.i64()?,
            lat: r.f64()?,
            lon: r.f64()?,
            country: [r.u8()?, r.u8()?],
            id: CompactId::get(r)?,
        })
    }
}

impl Codec for MfaMeta {
    fn put(&self, w: &mut Writer) {
        for &(first, last) in &self.runs {
            w.i64(first);
            w.i64(last);
        }
        self.newest_id.put(w);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, StateError> {
        let mut m = MfaMeta::default();
        for run in m.runs.iter_mut() {
            *run = (r.i64()?, r.i64()?);
        }
        m.newest_id = CompactId::get(r)?;
        Ok(m)
    }
}

/// One table's occupied keys, read from a state file and checked, not yet applied.
struct Staged<M> {
    /// (index, key, last, meta, records in use); slots of entry `n` are
    /// `slots[n * k..(n + 1) * k]`.
    keys: Vec<(usize, u64, i64, M, u16)>,
    slots: Vec<Slot>,
}

impl<M: KeyMeta> Table<M> {
    /// The table's shape, which a state file must match to be loaded.
    fn shape(&self) -> (u64, u32) {
        (self.capacity() as u64, self.k as u32)
    }

    fn save(&self, w: &mut Writer) {
        let (cap, k) = self.shape();
        w.u64(cap);
        w.u32(k);
        let used: Vec<usize> = (0..self.capacity())
            .filter(|&i| self.keys[i] != 0)
            .collect();
        w.u64(used.len() as u64);
        for i in used {
            w.u32(i as u32);
            w.u64(self.keys[i]);
            w.i64(self.last[i]);
            self.meta[i].put(w);
            w.u32(u32::from(self.used[i]));
            for s in self.recs(i) {
                s.put(w);
            }
        }
    }

    fn stage(&self, name: &str, r: &mut Reader<'_>) -> Result<Staged<M>, StateError> {
        let (cap, k) = (r.u64()?, r.u32()?);
        if (cap, k) != self.shape() {
            return Err(StateError::Incompatible(format!(
                "table {name} holds {cap} keys of {k} records in the file, {} of {} now \
                 ([state] memory_mb, allowed_lateness_secs, a rule threshold or window, or the \
                 set of enabled rules changed)",
                self.capacity(),
                self.k
            )));
        }
        let n = r.u64()?;
        // Each key takes at least this many bytes: a count the rest of the file cannot hold
        // is refused before anything is allocated for it.
        let record = {
            let (mut meta, mut slot) = (Writer::default(), Writer::default());
            M::default().put(&mut meta);
            Slot::default().put(&mut slot);
            4 + 8 + 8 + meta.buf.len() + 4
        };
        if n > cap || n > (r.remaining() / record) as u64 {
            return Err(StateError::Malformed(format!(
                "table {name}: {n} keys in {cap} places ({} bytes left)",
                r.remaining()
            )));
        }
        let mut st = Staged {
            keys: Vec::with_capacity(n as usize),
            slots: Vec::with_capacity(n as usize * self.k),
        };
        let mut prev = None;
        for _ in 0..n {
            let i = r.u32()? as usize;
            let key = r.u64()?;
            // Lookups only search the key's own bucket: a key stored elsewhere, or twice,
            // would corrupt the table.
            let b = self.bucket(key);
            let twice = st.keys.iter().rev().take(WAYS).any(|e| e.1 == key);
            if key == 0 || !(b..b + WAYS).contains(&i) || prev.is_some_and(|p| p >= i) || twice {
                return Err(StateError::Malformed(format!(
                    "table {name}: key at place {i} is out of its bucket or order"
                )));
            }
            prev = Some(i);
            let last = r.i64()?;
            let meta = M::get(r)?;
            let used = r.u32()? as usize;
            if used > self.k {
                return Err(StateError::Malformed(format!(
                    "table {name}: {used} records in use at place {i}, {} fit",
                    self.k
                )));
            }
            st.keys.push((i, key, last, meta, used as u16));
            for j in 0..self.k {
                st.slots.push(if j < used {
                    Slot::get(r)?
                } else {
                    Slot::default()
                });
            }
        }
        Ok(st)
    }

    fn apply(&mut self, st: Staged<M>) {
        self.keys.fill(0);
        self.last.fill(0);
        self.meta = Lazy::new(self.capacity(), CHUNK_KEYS);
        self.slots = Lazy::new(self.capacity() * self.k, CHUNK_KEYS * self.k);
        self.used.fill(0);
        for (n, &(i, key, last, meta, used)) in st.keys.iter().enumerate() {
            self.keys[i] = key;
            self.last[i] = last;
            self.meta[i] = meta;
            self.used[i] = used;
            let k = self.k;
            self.slots_mut(i)
                .copy_from_slice(&st.slots[n * k..(n + 1) * k]);
        }
    }
}

fn save_table<M: KeyMeta>(name: &str, t: &Option<Table<M>>, w: &mut Writer) {
    w.str(name);
    w.u8(u8::from(t.is_some()));
    if let Some(t) = t {
        t.save(w);
    }
}

fn stage_table<M: KeyMeta>(
    name: &str,
    t: &Option<Table<M>>,
    r: &mut Reader<'_>,
) -> Result<Option<Staged<M>>, StateError> {
    let found = r.str()?;
    if found != name {
        return Err(StateError::Malformed(format!(
            "table {found} where {name} was expected"
        )));
    }
    match (r.bool()?, t) {
        (false, None) => Ok(None),
        (true, Some(t)) => t.stage(name, r).map(Some),
        (in_file, _) => Err(StateError::Incompatible(format!(
            "table {name} is {} in the file and {} now (rules were enabled or disabled)",
            if in_file { "in use" } else { "unused" },
            if in_file { "unused" } else { "in use" },
        ))),
    }
}

fn apply_table<M: KeyMeta>(t: &mut Option<Table<M>>, st: Option<Staged<M>>) {
    if let (Some(t), Some(st)) = (t.as_mut(), st) {
        t.apply(st);
    }
}

impl Windows {
    /// Write every table's occupied keys (for `Engine::snapshot`). Counters (evictions,
    /// suppressed) are per run and not saved.
    pub fn save(&self, w: &mut Writer) {
        w.i64(self.armed_until_max);

        save_table("source_ip", &self.ip, w);
        save_table("actor_service", &self.brute, w);
        save_table("sso_actor", &self.sso_t, w);
        save_table("organization", &self.lock_t, w);
        save_table("actor_country", &self.country_t, w);
        save_table("actor_travel", &self.travel_t, w);
        save_table("actor_mfa", &self.mfa_t, w);
        w.u8(u8::from(self.recent.is_some()));
        if let Some(r) = &self.recent {
            r.save(w);
        }
    }

    /// Replace the state with what [`Windows::save`] wrote, which must be all that is left in
    /// `r`. Everything is read and checked before anything is replaced: on error the state is
    /// unchanged. Returns the keys loaded.
    pub fn load(&mut self, r: &mut Reader<'_>) -> Result<u64, StateError> {
        let armed_until_max = r.i64()?;

        let ip = stage_table("source_ip", &self.ip, r)?;
        let brute = stage_table("actor_service", &self.brute, r)?;
        let sso = stage_table("sso_actor", &self.sso_t, r)?;
        let lock = stage_table("organization", &self.lock_t, r)?;
        let country = stage_table("actor_country", &self.country_t, r)?;
        let travel = stage_table("actor_travel", &self.travel_t, r)?;
        let mfa = stage_table("actor_mfa", &self.mfa_t, r)?;
        let recent = match (r.bool()?, &self.recent) {
            (false, None) => None,
            (true, Some(log)) => Some(log.stage(r)?),
            (in_file, _) => {
                return Err(StateError::Incompatible(format!(
                    "the recent-success log is {} in the file and {} now (rules were enabled \
                     or disabled)",
                    if in_file { "in use" } else { "unused" },
                    if in_file { "unused" } else { "in use" },
                )))
            }
        };
        if !r.is_empty() {
            return Err(StateError::Malformed("bytes after the last table".into()));
        }
        fn n<M>(s: &Option<Staged<M>>) -> u64 {
            s.as_ref().map_or(0, |s| s.keys.len() as u64)
        }
        let keys = n(&ip) + n(&brute) + n(&sso) + n(&lock) + n(&country) + n(&travel) + n(&mfa);
        self.armed_until_max = armed_until_max;
        apply_table(&mut self.ip, ip);
        apply_table(&mut self.brute, brute);
        apply_table(&mut self.sso_t, sso);
        apply_table(&mut self.lock_t, lock);
        apply_table(&mut self.country_t, country);
        apply_table(&mut self.travel_t, travel);
        apply_table(&mut self.mfa_t, mfa);
        if let (Some(log), Some(st)) = (self.recent.as_mut(), recent) {
            log.apply(st);
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_ids_round_trip() {
        for s in [
            "648c6c758c2ac07fa1fdee94",
            "E5223E70-F3DB-3CB4-B452-96FC2259B9EE",
            "e5223e70-f3db-3cb4-b452-96fc2259b9ee",
            "short-id",
            "1",
        ] {
            assert_eq!(CompactId::encode(Some(s)).decode().as_deref(), Some(s));
        }
        assert_eq!(
            CompactId::encode(Some("x".repeat(40).as_str())).decode(),
            None
        );
        assert_eq!(CompactId::encode(None).decode(), None);
        // Mixed-case hex is not an ObjectId and too long to keep raw.
        assert_eq!(
            CompactId::encode(Some("648C6c758c2ac07fa1fdee94")).decode(),
            None
        );
    }

    #[test]
    fn haversine_known_distance() {
        // Paris - New York is about 5837 km.
        let d = haversine_km(48.8566, 2.3522, 40.7128, -74.0060);
        assert!((d - 5837.0).abs() < 10.0, "{d}");
        assert_eq!(haversine_km(1.0, 1.0, 1.0, 1.0), 0.0);
    }

    #[test]
    fn slot_size_is_what_the_budget_assumes() {
        // 48 bytes: fingerprint, two times, packed id and a 2-byte tag inside the padding.
        assert_eq!(std::mem::size_of::<Slot>(), 48);
    }

    const S: i64 = NANOS;

    fn run(fp: u64, first: i64, t: i64) -> Slot {
        Slot {
            fp,
            t,
            first,
            ..Slot::default()
        }
    }

    fn fps(rec: &[Slot]) -> Vec<(u64, i64, i64)> {
        let mut v: Vec<_> = rec
            .iter()
            .filter(|s| s.fp != 0)
            .map(|s| (s.fp, s.first, s.t))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn distinct_records_are_runs() {
        let mut rec = vec![Slot::default(); 4];
        let mut used = 0;
        let id = CompactId::default();
        // Occurrences of identity 2 within 10 s of each other form one run; 30 s later a
        // second run starts; a time between them within 10 s of both joins them.
        for t in [0, 5, 12, 42, 50] {
            add_record(
                &mut rec,
                &mut used,
                2,
                t * S,
                id,
                Some(10 * S),
                &[],
                (i64::MIN, i64::MAX),
            );
        }
        assert_eq!(fps(&rec), vec![(2, 0, 12 * S), (2, 42 * S, 50 * S)]);
        add_record(
            &mut rec,
            &mut used,
            2,
            27 * S,
            id,
            Some(15 * S),
            &[],
            (i64::MIN, i64::MAX),
        );
        assert_eq!(fps(&rec), vec![(2, 0, 50 * S)]);
        // A late occurrence inside a run changes nothing; one before extends it.
        add_record(
            &mut rec,
            &mut used,
            2,
            20 * S,
            id,
            Some(15 * S),
            &[],
            (i64::MIN, i64::MAX),
        );
        add_record(
            &mut rec,
            &mut used,
            2,
            -10 * S,
            id,
            Some(15 * S),
            &[],
            (i64::MIN, i64::MAX),
        );
        assert_eq!(fps(&rec), vec![(2, -10 * S, 50 * S)]);
    }

    #[test]
    fn full_key_gives_up_dead_then_oldest_records() {
        let id = CompactId::default();
        let mut rec = vec![run(2, 0, 0), run(3, 50, 50), run(4, 100, 100)];
        let mut used = 3;
        // A dead record goes first, even when the new one is older than the live ones.
        add_record(&mut rec, &mut used, 5, 40, id, None, &[], (10, i64::MAX));
        assert_eq!(fps(&rec), vec![(3, 50, 50), (4, 100, 100), (5, 40, 40)]);
        // All live: the oldest goes for a newer record; an older one is dropped.
        assert!(add_record(&mut rec, &mut used, 6, 30, id, None, &[], (10, i64::MAX)).is_none());
        add_record(&mut rec, &mut used, 7, 60, id, None, &[], (10, i64::MAX));
        assert_eq!(fps(&rec), vec![(3, 50, 50), (4, 100, 100), (7, 60, 60)]);
        // A redelivered event (same identity, time and id) is not counted twice.
        let id = CompactId::encode(Some("648c6c758c2ac07fa1fdee94"));
        let mut rec = vec![Slot::default(); 3];
        let mut used = 0;
        assert!(add_record(&mut rec, &mut used, 2, 5, id, None, &[], (0, i64::MAX)).is_some());
        assert!(add_record(&mut rec, &mut used, 2, 5, id, None, &[], (0, i64::MAX)).is_none());
    }

    #[test]
    fn redundant_records_change_no_open_window() {
        // Failures at 0..3 and a newcomer at 4, all in one 10-long window; need 2 others.
        let rec: Vec<Slot> = (0..4).map(|t| run(2, t, t)).collect();
        // 0 and 1 each have a window that holds only one or two records (one ending at
        // them); 2 is the oldest whose every window holds 2 others.
        assert_eq!(redundant(&rec, 2, 4, &[(2, 10)], false, -100), Some(2));
        // Once windows starting before 0 can no longer take an event in time, 0 is spare.
        assert_eq!(redundant(&rec, 2, 4, &[(2, 10)], false, 0), Some(0));
        // Nothing is spare when every window must hold 5 others; a later newcomer can be.
        assert_eq!(redundant(&rec, 2, 4, &[(5, 10)], false, -100), None);
        // Records no open window reaches are spare whatever they hold.
        let rec: Vec<Slot> = [20, 0, 20, 20].iter().map(|&t| run(2, t, t)).collect();
        assert_eq!(redundant(&rec, 2, 20, &[(5, 10)], false, 20), Some(1));
    }

    #[test]
    fn best_window_counts_runs_in_any_window_through_t() {
        // Identities 2..4: runs [0, 5], [8, 20], [30, 31]; window length 10.
        let rec = [run(2, 0, 5), run(3, 8, 20), run(4, 30, 31)];
        // Windows through 12 start in [2, 12]: the first full one, [5, 15], holds 2 and 3
        // (its end is where run 3 may still have an occurrence).
        let hit = best_window(&rec, 12, 10);
        assert_eq!(hit.count, 2);
        assert_eq!((hit.start, hit.end), (5, 15));
        // Windows through 25 start in [15, 25]: [20, 30] holds 3 and 4.
        let hit = best_window(&rec, 25, 10);
        assert_eq!(hit.count, 2);
        // Inclusive edges: [20, 30] touches both ends.
        assert_eq!(best_window(&rec, 30, 10).count, 2);
        assert_eq!(best_window(&rec, 30, 9).count, 1);
    }

    #[test]
    fn completions_find_when_a_wave_was_complete() {
        // Three identities, need 3 within 10: complete at 8 (window [-2, 8]); at 12 (window
        // [2, 12]) identity 2 has left.
        let rec = [run(2, 0, 0), run(3, 4, 4), run(4, 8, 12)];
        assert_eq!(completions(&rec, 0, 10, 3), Some((8, 8)));
        assert_eq!(completions(&rec, 4, 10, 3), Some((8, 8)));
        let rec = [run(2, 0, 0), run(3, 4, 4), run(4, 8, 9)];
        assert_eq!(completions(&rec, 0, 10, 3), Some((8, 9)));
        assert_eq!(completions(&rec, 0, 10, 4), None);
    }

    #[test]
    fn mfa_runs_answer_every_login_in_time() {
        let h = 100;
        let id = CompactId::default();
        let mut m = MfaMeta::default();
        for t in [0, 50, 400] {
            m.add(t, id, h);
        }
        // Runs [0, 50] and [400, 400].
        assert_eq!(m.before(-1, h), None);
        assert_eq!(m.before(30, h).map(|x| x.0), Some(0));
        assert_eq!(m.before(150, h).map(|x| x.0), Some(50));
        assert_eq!(m.before(151, h), None);
        assert_eq!(m.before(450, h).map(|x| x.0), Some(400));
        // A login between the runs joins them.
        m.add(140, id, h);
        assert_eq!(m.before(200, h).map(|x| x.0), Some(140));
        assert_eq!(m.runs.iter().filter(|r| r.1 != NONE).count(), 2);
    }

    #[test]
    fn records_needed_follow_the_bound() {
        let k = |threshold, window| Knobs {
            on: true,
            threshold,
            window: window * S,
            ..Knobs::default()
        };
        // More than 15 in 600 s with 300 s lateness: 2 pieces of at most 15, plus one.
        assert_eq!(records_needed(&[(k(15, 600), 16)], 300 * S).0, 31);
        assert_eq!(records_needed(&[(k(5, 600), 5)], 0).0, 5);
        // A 60 s window under 300 s lateness: 6 pieces.
        assert_eq!(records_needed(&[(k(5, 60), 5)], 300 * S).0, 25);
        assert_eq!(
            records_needed(&[(k(1000, 1), 1000)], 86_400 * S).0,
            MAX_SLOTS
        );
    }
}
