//! A running engine's windows carried into a new rule set (a reload): a table whose shape
//! is unchanged moves as it is; one resized (its share of the budget, or a rule's threshold
//! changed) takes every key of the old one, with as many of its newest records as it has
//! room for; a correlation is carried only into the same definition (id and fingerprint).
//! Tables no rule uses any more are dropped, new ones start empty.

use super::*;

impl<M: KeyMeta> Table<M> {
    /// Every occupied key of `old`, inserted into this (empty) table: its newest time, its
    /// per-key record and its newest records that fit. Keys that collide in a smaller table
    /// evict as any insert would.
    fn absorb(&mut self, old: &Table<M>, now: i64) {
        let mut keys: Vec<usize> = (0..old.capacity()).filter(|&i| old.keys[i] != 0).collect();
        // Oldest first, so that when a smaller table must evict, the freshest keys stay.
        keys.sort_by_key(|&i| old.last[i]);
        for i in keys {
            let j = self.upsert(old.keys[i], old.last[i], now);
            self.last[j] = old.last[i];
            self.meta[j] = old.meta[i];
            let mut recs: SmallVec<[Slot; 64]> =
                old.recs(i).iter().filter(|s| s.fp != 0).copied().collect();
            recs.sort_by_key(|s| std::cmp::Reverse(s.t));
            recs.truncate(self.k);
            let n = recs.len();
            self.slots_mut(j)[..n].copy_from_slice(&recs);
            self.used[j] = n as u16;
        }
    }
}

/// Move `old` into `new` when their shapes match, else copy its keys over.
fn carry<M: KeyMeta>(new: &mut Option<Table<M>>, old: &mut Option<Table<M>>, now: i64) -> u64 {
    let (Some(n), Some(o)) = (new.as_mut(), old.as_mut()) else {
        return 0;
    };
    if n.shape() == o.shape() && n.spec == o.spec {
        std::mem::swap(n, o);
    } else {
        n.absorb(o, now);
    }
    n.keys.iter().filter(|&&k| k != 0).count() as u64
}

impl Windows {
    /// Take over the state of `old` (the windows of the rule set being replaced), as far as
    /// this rule set has tables for it; `now` is the stream's newest event time. The keys
    /// carried.
    pub fn carry_from(&mut self, old: &mut Windows, now: i64) -> u64 {
        let mut keys = carry(&mut self.ip, &mut old.ip, now)
            + carry(&mut self.brute, &mut old.brute, now)
            + carry(&mut self.sso_t, &mut old.sso_t, now)
            + carry(&mut self.lock_t, &mut old.lock_t, now)
            + carry(&mut self.country_t, &mut old.country_t, now)
            + carry(&mut self.travel_t, &mut old.travel_t, now)
            + carry(&mut self.mfa_t, &mut old.mfa_t, now);
        if let (Some(n), Some(o)) = (self.recent.as_mut(), old.recent.as_mut()) {
            if n.capacity() == o.capacity() {
                std::mem::swap(n, o);
            } else {
                // Oldest first, as they arrived.
                let mut w = Writer::default();
                o.save(&mut w);
                if let Ok(staged) = o.stage(&mut Reader::new(&w.buf)) {
                    let (newest, entries) = staged;
                    for e in entries {
                        n.push(e, now, i64::MIN);
                    }
                    n.newest = n.newest.max(newest);
                }
            }
        }
        for c in &mut self.corr {
            let same = old
                .corr
                .iter_mut()
                .find(|o| o.id == c.id && o.fingerprint == c.fingerprint);
            if let Some(o) = same {
                if c.table.shape() == o.table.shape() && c.table.spec == o.table.spec {
                    std::mem::swap(&mut c.table, &mut o.table);
                } else {
                    c.table.absorb(&o.table, now);
                }
                keys += c.table.keys.iter().filter(|&&k| k != 0).count() as u64;
            }
        }
        self.suppressed = old.suppressed;
        self.armed_until_max = old.armed_until_max;
        keys
    }
}
