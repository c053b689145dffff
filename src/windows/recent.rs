//! Recent successful logins, kept so that an event that happened before one of them but
//! arrives after it (a failure, an MFA login, inside the lateness) still completes the
//! sequence (`brute_force_then_success`, `credential_stuffing_success`,
//! `mfa_bypass_suspected`).
//!
//! An append-only log in arrival order with a hash index per key kind (actor, ip) chained
//! through the log: recording a success is one sequential write and two index writes, which
//! costs next to nothing on the hot path; only an event that is late relative to the newest
//! success looks anything up. The log's size is fixed at start-up; when it wraps, the oldest
//! successes go (counted in `overwritten` when they were still in time).

use crate::state::{Reader, StateError, Writer};
use crate::windows::{Codec, CompactId};

/// A success waiting for an MFA login that may precede it (`mfa_bypass_suspected`).
pub const AWAITS_MFA: u8 = 1;
/// A success that already has its `threshold` failures before it (`brute_force_then_success`
/// fired, or was held back, for it): more late failures do not make it fire again.
pub const BRUTE_FORCED: u8 = 2;

/// The two key kinds a success is indexed by.
#[derive(Clone, Copy)]
pub enum Kind {
    Actor = 0,
    Ip = 1,
}

/// One successful login.
#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct Success {
    /// Key of the actor and of the source ip (0: not indexed by it).
    pub keys: [u64; 2],
    pub t: i64,
    pub id: CompactId,
    /// Tags of the service and the event type (see [`tag_of`]).
    pub service: u16,
    pub event_type: u16,
    pub flags: u8,
    /// The newest event time when it arrived (never less than any earlier entry's): an
    /// entry older than a time cannot hold a success after it.
    seen: i64,
    /// Sequence number + 1 of the previous entry with the same index bucket, per kind.
    prev: [u64; 2],
}

impl Success {
    pub fn new(keys: [u64; 2], t: i64, id: CompactId, service: &str, et: &str, flags: u8) -> Self {
        Success {
            keys,
            t,
            id,
            service: tag_of(service),
            event_type: tag_of(et),
            flags,
            ..Success::default()
        }
    }
}

/// A 16-bit tag of a short string (service, event type): there are a handful of each, and a
/// clash only joins two of them.
pub fn tag_of(s: &str) -> u16 {
    crate::hash::hash64(s.as_bytes(), 0x0074_6167) as u16
}

pub struct Recents {
    log: Vec<Success>,
    /// Sequence number + 1 of the newest entry per bucket (0: none), per kind.
    heads: [Vec<u64>; 2],
    /// Sequence number of the next entry.
    seq: u64,
    /// The newest success time recorded (`i64::MIN` before any).
    pub newest: i64,
    seen: i64,
    /// Entries still in time that the log's size pushed out (per run).
    pub overwritten: u64,
}

/// Bytes per entry, index included (two buckets per entry at most).
const PER_ENTRY: usize = std::mem::size_of::<Success>() + 2 * 2 * 8;

impl Recents {
    /// A log that fits `bytes` (at least 64 entries).
    pub fn new(bytes: usize) -> Recents {
        let cap = Self::capacity_for(bytes);
        let buckets = cap.next_power_of_two();
        Recents {
            log: vec![Success::default(); cap],
            heads: [vec![0; buckets], vec![0; buckets]],
            seq: 0,
            newest: i64::MIN,
            seen: i64::MIN,
            overwritten: 0,
        }
    }

    pub fn capacity_for(bytes: usize) -> usize {
        (bytes / PER_ENTRY).max(64)
    }

    /// The bytes a log for `bytes` takes.
    pub fn planned_bytes(bytes: usize) -> usize {
        let cap = Self::capacity_for(bytes);
        cap * std::mem::size_of::<Success>() + 2 * cap.next_power_of_two() * 8
    }

    pub fn capacity(&self) -> usize {
        self.log.len()
    }

    pub fn bytes(&self) -> usize {
        Self::planned_bytes(self.capacity() * PER_ENTRY)
    }

    fn bucket(&self, key: u64) -> usize {
        // Keys are well mixed; the bucket count is a power of two.
        (key as usize) & (self.heads[0].len() - 1)
    }

    /// Whether sequence number + 1 `s` names an entry still in the log.
    fn live(&self, s: u64) -> bool {
        s != 0 && s <= self.seq && s + self.log.len() as u64 > self.seq
    }

    /// Record a success (`now`: the newest event time; `dead`: successes before it can no
    /// longer be preceded by an event in time).
    pub fn push(&mut self, mut s: Success, now: i64, dead: i64) {
        let cap = self.log.len() as u64;
        let slot = (self.seq % cap) as usize;
        if self.seq >= cap && self.log[slot].t >= dead {
            self.overwritten += 1;
        }
        self.seen = self.seen.max(now).max(s.t);
        s.seen = self.seen;
        for k in [Kind::Actor, Kind::Ip] {
            let key = s.keys[k as usize];
            if key != 0 {
                let b = self.bucket(key);
                s.prev[k as usize] = self.heads[k as usize][b];
                self.heads[k as usize][b] = self.seq + 1;
            }
        }
        self.log[slot] = s;
        self.seq += 1;
        self.newest = self.newest.max(s.t);
    }

    /// Log slots of the successes under `key` that can be at `from` or later, newest first.
    pub fn lookup(&self, kind: Kind, key: u64, from: i64) -> Vec<usize> {
        let k = kind as usize;
        let mut out = Vec::new();
        let mut s = self.heads[k][self.bucket(key)];
        while self.live(s) {
            let slot = ((s - 1) % self.log.len() as u64) as usize;
            let e = &self.log[slot];
            if e.seen < from {
                break;
            }
            if e.keys[k] == key {
                out.push(slot);
            }
            s = e.prev[k];
        }
        out
    }

    pub fn get(&self, slot: usize) -> &Success {
        &self.log[slot]
    }

    pub fn get_mut(&mut self, slot: usize) -> &mut Success {
        &mut self.log[slot]
    }

    /// Write the entries still in the log, oldest first (for `Engine::snapshot`).
    pub fn save(&self, w: &mut Writer) {
        let cap = self.log.len() as u64;
        w.u64(cap);
        w.i64(self.newest);
        let first = self.seq.saturating_sub(cap);
        w.u64(self.seq - first);
        for n in first..self.seq {
            let e = &self.log[(n % cap) as usize];
            w.u64(e.keys[0]);
            w.u64(e.keys[1]);
            w.i64(e.t);
            w.i64(e.seen);
            e.id.put(w);
            w.bytes(&e.service.to_le_bytes());
            w.bytes(&e.event_type.to_le_bytes());
            w.u8(e.flags);
        }
    }

    /// Read what [`Recents::save`] wrote, checked whole; apply it with [`Recents::apply`].
    pub fn stage(&self, r: &mut Reader<'_>) -> Result<(i64, Vec<Success>), StateError> {
        let cap = r.u64()?;
        if cap != self.log.len() as u64 {
            return Err(StateError::Incompatible(format!(
                "the recent-success log holds {cap} entries in the file, {} now ([state] \
                 memory_mb changed)",
                self.log.len()
            )));
        }
        let newest = r.i64()?;
        let n = r.u64()?;
        // 45 bytes an entry at least: a count the file cannot hold is refused first.
        if n > cap || n > (r.remaining() / 45) as u64 {
            return Err(StateError::Malformed(format!(
                "recent-success log: {n} entries in {cap} places ({} bytes left)",
                r.remaining()
            )));
        }
        let mut out = Vec::with_capacity(n as usize);
        for _ in 0..n {
            out.push(Success {
                keys: [r.u64()?, r.u64()?],
                t: r.i64()?,
                seen: r.i64()?,
                id: CompactId::get(r)?,
                service: u16::from_le_bytes([r.u8()?, r.u8()?]),
                event_type: u16::from_le_bytes([r.u8()?, r.u8()?]),
                flags: r.u8()?,
                prev: [0; 2],
            });
        }
        Ok((newest, out))
    }

    pub fn apply(&mut self, (newest, entries): (i64, Vec<Success>)) {
        let cap = self.log.len();
        *self = Recents::new(cap * PER_ENTRY);
        for e in entries {
            let seen = e.seen;
            self.push(e, seen, i64::MIN);
        }
        self.newest = newest;
        self.overwritten = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn success(actor: u64, ip: u64, t: i64) -> Success {
        Success {
            keys: [actor, ip],
            t,
            ..Success::default()
        }
    }

    fn times(r: &Recents, kind: Kind, key: u64, from: i64) -> Vec<i64> {
        r.lookup(kind, key, from)
            .into_iter()
            .map(|j| r.get(j).t)
            .collect()
    }

    #[test]
    fn lookups_find_each_keys_successes_newest_first() {
        let mut r = Recents::new(0);
        let cap = r.capacity();
        // Keys 7 and 7 + buckets share a bucket: the chain tells them apart.
        let other = 7 + r.heads[0].len() as u64;
        for (n, t) in [10, 20, 30, 40].into_iter().enumerate() {
            let actor = if n % 2 == 0 { 7 } else { other };
            r.push(success(actor, 100 + n as u64, t), t, 0);
        }
        assert_eq!(times(&r, Kind::Actor, 7, 0), vec![30, 10]);
        assert_eq!(times(&r, Kind::Actor, other, 0), vec![40, 20]);
        assert_eq!(times(&r, Kind::Ip, 102, 0), vec![30]);
        // Entries that arrived while the newest time was before `from` are not read.
        assert_eq!(times(&r, Kind::Actor, 7, 25), vec![30]);
        // Wrapping the log forgets the oldest, counting those still in time.
        for n in 0..cap as i64 {
            r.push(success(9, 0, 100 + n), 100 + n, 50);
        }
        assert_eq!(times(&r, Kind::Actor, 7, 0), Vec::<i64>::new());
        assert_eq!(r.overwritten, 0);
        r.push(success(9, 0, 1000), 1000, 0);
        assert_eq!(r.overwritten, 1);
        assert_eq!(r.newest, 1000);
    }

    #[test]
    fn state_round_trips() {
        let mut r = Recents::new(0);
        for t in 0..100 {
            r.push(success(t as u64 % 3 + 1, 0, t), t, 0);
        }
        let mut w = Writer::default();
        r.save(&mut w);
        let mut back = Recents::new(0);
        let staged = back.stage(&mut Reader::new(&w.buf)).unwrap();
        back.apply(staged);
        assert_eq!(back.newest, 99);
        for key in 1..=3 {
            assert_eq!(
                times(&back, Kind::Actor, key, 0),
                times(&r, Kind::Actor, key, 0)
            );
        }
    }
}
