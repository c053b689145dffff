//! The fixed-capacity key table: buckets of `WAYS` slots indexed by a key fingerprint,
//! records allocated lazily in chunks, and eviction when a bucket is full.

use super::*;

/// Slots per bucket.
pub(super) const WAYS: usize = 8;

/// One remembered record of a key: an identity (actor, account, country; `fp`, 0 = empty) and
/// when it was seen. In a *distinct* table a record is a run: the occurrences of one identity
/// that lie no more than the table's merge gap apart, kept as the first and the newest time;
/// with gaps no longer than a window, the identity is inside the window `[a, a + W]` exactly
/// when that window overlaps `[first, t]`. In a *counting* table each event is a record
/// (`first == t`).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Slot {
    pub(super) fp: u64,
    /// Newest occurrence.
    pub(super) t: i64,
    /// First occurrence of the run (`t` in a counting table).
    pub(super) first: i64,
    /// DI id of the newest occurrence.
    pub(super) id: CompactId,
    /// A two-letter tag (the country of a country record); fits in the struct's padding.
    pub(super) tag: [u8; 2],
}

pub(super) const NONE: i64 = i64::MIN;

/// A per-key record. `pinned` keys (holding a pending decision, like an ip armed by a
/// credential-stuffing wave) are evicted only when a whole bucket is pinned.
pub(super) trait KeyMeta: Copy + Default + Codec {
    fn pinned(&self, _now: i64) -> bool {
        false
    }
}

/// Keys per lazily allocated chunk of a table's records.
pub(super) const CHUNK_KEYS: usize = 64;

/// A fixed-length array whose chunks are allocated (with defaults) on first write: the
/// table's size is fixed at start-up, but start-up does not write it all, and memory is
/// committed only as keys arrive (reads of an untouched chunk see the default value).
pub(super) struct Lazy<T> {
    pub(super) chunks: Vec<Option<Box<[T]>>>,
    /// Elements per chunk.
    pub(super) chunk: usize,
    /// What an untouched chunk reads as.
    pub(super) empty: Box<[T]>,
}

impl<T: Clone + Default> Lazy<T> {
    pub(super) fn new(len: usize, chunk: usize) -> Lazy<T> {
        let chunk = chunk.max(1);
        Lazy {
            chunks: vec![None; len.div_ceil(chunk)],
            chunk,
            empty: vec![T::default(); chunk].into(),
        }
    }

    /// `n` elements from `at`, which never straddle a chunk (callers align them).
    pub(super) fn range(&self, at: usize, n: usize) -> &[T] {
        if n == 0 {
            return &[];
        }
        match &self.chunks[at / self.chunk] {
            Some(c) => &c[at % self.chunk..at % self.chunk + n],
            None => &self.empty[..n],
        }
    }

    pub(super) fn range_mut(&mut self, at: usize, n: usize) -> &mut [T] {
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
pub(super) struct Spec {
    /// Share of the memory budget.
    pub(super) bytes: usize,
    /// Record slots per key.
    pub(super) recs: usize,
    /// Merge gap of a distinct table's runs (its shortest window); `None`: a counting table.
    pub(super) merge: Option<i64>,
    /// A counting table whose rules ask "at least N within W" of any window, not only of the
    /// windows through the newest event (a success looks back over the failures before it):
    /// its full keys give up only records no such window needs, `(N, W)` for each window
    /// length. Empty: a full key gives up its oldest record.
    pub(super) keep: [(usize, i64); 2],
    /// Longest window of the table's rules (the eviction weight's window).
    pub(super) window: i64,
    /// A record whose newest time is this far behind the newest event can no longer share a
    /// window with an event still in time (longest window + lateness): it is dead.
    pub(super) span: i64,
    /// A key idle this long holds nothing any rule still needs.
    pub(super) idle: i64,
}

/// Fixed-capacity key table. `M` is the per-key record of the rules sharing the table.
pub(super) struct Table<M: KeyMeta> {
    pub(super) keys: Vec<u64>,
    /// Newest event time per key (0 for an empty key: never read, as empties are chosen
    /// first; zero so the array is allocated lazily by the OS).
    pub(super) last: Vec<i64>,
    pub(super) meta: Lazy<M>,
    pub(super) slots: Lazy<Slot>,
    /// Record slots in use per key: slots past it are stale, so a new key starts empty
    /// without clearing its slots, and scans stop there.
    pub(super) used: Vec<u16>,
    pub(super) spec: Spec,
    pub(super) k: usize,
    pub(super) buckets: usize,
    pub(super) evictions: u64,
}

impl<M: KeyMeta> Table<M> {
    pub(super) fn new(spec: Spec) -> Table<M> {
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

    pub(super) fn capacity(&self) -> usize {
        self.keys.len()
    }

    pub(super) fn bytes(&self) -> usize {
        self.capacity() * (18 + std::mem::size_of::<M>() + self.k * std::mem::size_of::<Slot>())
    }

    pub(super) fn bucket(&self, key: u64) -> usize {
        // `key` is already well mixed; the high bits pick the bucket.
        ((u128::from(key) * self.buckets as u128) >> 64) as usize * WAYS
    }

    pub(super) fn find(&self, key: u64) -> Option<usize> {
        let b = self.bucket(key);
        (b..b + WAYS).find(|&i| self.keys[i] == key)
    }

    pub(super) fn slots(&self, i: usize) -> &[Slot] {
        self.slots.range(i * self.k, self.k)
    }

    pub(super) fn slots_mut(&mut self, i: usize) -> &mut [Slot] {
        self.slots.range_mut(i * self.k, self.k)
    }

    /// The key's records in use.
    pub(super) fn recs(&self, i: usize) -> &[Slot] {
        &self.slots(i)[..usize::from(self.used[i])]
    }

    /// Remember an occurrence in the key's records: the record that holds it, `None` when it
    /// was not counted (a redelivery, or dropped from a full key).
    pub(super) fn add(
        &mut self,
        i: usize,
        fp: u64,
        t: i64,
        id: CompactId,
        now: i64,
    ) -> Option<usize> {
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
    pub(super) fn weight(&self, i: usize, now: i64) -> usize {
        if self.last[i] >= now.saturating_sub(self.spec.window) {
            usize::from(self.used[i]).max(1)
        } else {
            0
        }
    }

    pub(super) fn idle_past(&self, i: usize, now: i64) -> bool {
        self.last[i] < now.saturating_sub(self.spec.idle)
    }

    /// The key's index, inserting (and possibly evicting) when absent. `now` is the stream's
    /// newest event time, so eviction decisions do not depend on arrival order of old events.
    pub(super) fn upsert(&mut self, key: u64, t: i64, now: i64) -> usize {
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
