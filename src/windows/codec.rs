//! The window state in a state file: each record's fields in a fixed little-endian
//! layout, each table's occupied keys, staged and checked before any is applied.

use super::*;

/// A record's fields in the state file (`src/state.rs`), little-endian, one by one, so the
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
pub(super) struct Staged<M> {
    /// (index, key, last, meta, records in use); slots of entry `n` are
    /// `slots[n * k..(n + 1) * k]`.
    pub(super) keys: Vec<(usize, u64, i64, M, u16)>,
    pub(super) slots: Vec<Slot>,
}

impl<M: KeyMeta> Table<M> {
    /// The table's shape, which a state file must match to be loaded.
    pub(super) fn shape(&self) -> (u64, u32) {
        (self.capacity() as u64, self.k as u32)
    }

    pub(super) fn save(&self, w: &mut Writer) {
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

    pub(super) fn stage(&self, name: &str, r: &mut Reader<'_>) -> Result<Staged<M>, StateError> {
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

    pub(super) fn apply(&mut self, st: Staged<M>) {
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

pub(super) fn save_table<M: KeyMeta>(name: &str, t: &Option<Table<M>>, w: &mut Writer) {
    w.str(name);
    w.u8(u8::from(t.is_some()));
    if let Some(t) = t {
        t.save(w);
    }
}

pub(super) fn stage_table<M: KeyMeta>(
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

pub(super) fn apply_table<M: KeyMeta>(t: &mut Option<Table<M>>, st: Option<Staged<M>>) {
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
        // Sigma correlations, by rule id, each length-prefixed so that a file written with
        // other rules can skip the tables of correlations no longer loaded.
        if !self.corr.is_empty() {
            w.u32(self.corr.len() as u32);
            for c in &self.corr {
                w.str(&c.id);
                w.u64(c.fingerprint);
                let mut t = Writer::default();
                c.table.save(&mut t);
                w.u64(t.buf.len() as u64);
                w.bytes(&t.buf);
            }
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
        // Correlations: absent from files written without Sigma correlations. One still
        // loaded, unchanged, is restored (its shape must match); one no longer loaded, or
        // changed, is skipped; one new starts empty.
        let mut corr = Vec::new();
        if !r.is_empty() {
            let n = r.u32()?;
            for _ in 0..n {
                let id = r.str()?;
                let fingerprint = r.u64()?;
                let len = r.u64()?;
                let bytes = r.take(usize::try_from(len).unwrap_or(usize::MAX))?;
                // A correlation redefined under the same id starts empty: its records
                // would mean something else (rules in another order, other fields).
                let same = |c: &CorrTable| c.id == id && c.fingerprint == fingerprint;
                if let Some(at) = self.corr.iter().position(same) {
                    let mut tr = Reader::new(bytes);
                    let st = self.corr[at].table.stage(&format!("sigma:{id}"), &mut tr)?;
                    if !tr.is_empty() {
                        return Err(StateError::Malformed(format!(
                            "bytes after the table of correlation {id}"
                        )));
                    }
                    corr.push((at, st));
                }
            }
        }
        if !r.is_empty() {
            return Err(StateError::Malformed("bytes after the last table".into()));
        }
        fn n<M>(s: &Option<Staged<M>>) -> u64 {
            s.as_ref().map_or(0, |s| s.keys.len() as u64)
        }
        let keys = n(&ip)
            + n(&brute)
            + n(&sso)
            + n(&lock)
            + n(&country)
            + n(&travel)
            + n(&mfa)
            + corr.iter().map(|(_, st)| st.keys.len() as u64).sum::<u64>();
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
        for (at, st) in corr {
            self.corr[at].table.apply(st);
        }
        Ok(keys)
    }
}
