//! Stateful rules: sliding windows on event time, in tables whose size is fixed at start-up.
//!
//! Every table is an array of `WAYS`-slot buckets indexed by a 64-bit key fingerprint. Each
//! key owns `k` slots, enough for the decision and no more (e.g. the `threshold + 1` most
//! recent distinct actors with their last-seen times is exact for "more than N distinct
//! within W"). When a bucket is full the victim is an empty slot, else a key idle past its
//! horizon, else the key with the least in-window weight, so a flood of one-shot keys cannot
//! push out a slow, heavy attacker. Nothing here allocates per event once built.

use crate::alert::{Evidence, Extra};
use crate::config::Config;
use crate::event::Event;
use crate::hash::hash64;
use crate::persist::{Reader, StateError, Writer};
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

/// One remembered occurrence: a fingerprint (actor, account, country; 0 = empty) and time.
#[derive(Clone, Copy, Debug)]
struct Slot {
    fp: u64,
    t: i64,
    /// The occurrence before `t` (distinct slots only; `NONE` otherwise), so a late event
    /// still finds an actor whose newest occurrence has moved past its window.
    t_prev: i64,
    id: CompactId,
    /// A two-letter tag (the country of a country slot); fits in the struct's padding.
    tag: [u8; 2],
}

const NONE: i64 = i64::MIN;

impl Default for Slot {
    fn default() -> Self {
        Slot {
            fp: 0,
            t: 0,
            t_prev: NONE,
            id: CompactId::default(),
            tag: [0; 2],
        }
    }
}

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

/// Fixed-capacity key table. `M` is the per-key record of the rules sharing the table.
struct Table<M: KeyMeta> {
    keys: Vec<u64>,
    /// Newest event time per key (0 for an empty key: never read, as empties are chosen
    /// first; zero so the array is allocated lazily by the OS).
    last: Vec<i64>,
    meta: Lazy<M>,
    slots: Lazy<Slot>,
    k: usize,
    buckets: usize,
    /// Weight window (the longest window of the table's rules), ns.
    window: i64,
    /// A key idle this long holds nothing any rule still needs, ns.
    idle: i64,
    evictions: u64,
}

impl<M: KeyMeta> Table<M> {
    fn new(bytes: usize, k: usize, window: i64, idle: i64) -> Table<M> {
        let (buckets, _) = table_layout(bytes, k, std::mem::size_of::<M>());
        let cap = buckets * WAYS;
        Table {
            keys: vec![0; cap],
            last: vec![0; cap],
            meta: Lazy::new(cap, CHUNK_KEYS),
            slots: Lazy::new(cap * k, CHUNK_KEYS * k),
            k,
            buckets,
            window,
            idle,
            evictions: 0,
        }
    }

    fn capacity(&self) -> usize {
        self.keys.len()
    }

    fn bytes(&self) -> usize {
        self.capacity() * (16 + std::mem::size_of::<M>() + self.k * std::mem::size_of::<Slot>())
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

    fn weight(&self, i: usize, now: i64) -> usize {
        self.slots(i)
            .iter()
            .filter(|s| s.fp != 0 && s.t >= now.saturating_sub(self.window))
            .count()
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
                    .filter(|&i| self.last[i] < now.saturating_sub(self.idle))
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
        self.slots_mut(victim).fill(Slot::default());
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

/// The same DI event seen again (same fingerprint, time and id): an at-least-once pipeline
/// redelivered it, and it must not count twice.
fn redelivered(slots: &[Slot], fp: u64, t: i64, id: CompactId) -> bool {
    id != CompactId::default() && slots.iter().any(|s| s.fp == fp && s.t == t && s.id == id)
}

/// Remember `fp` at `t`, keeping the `k` most recently seen distinct fingerprints.
fn add_distinct(slots: &mut [Slot], fp: u64, t: i64, id: CompactId) {
    if redelivered(slots, fp, t, id) {
        return;
    }
    if let Some(s) = slots.iter_mut().find(|s| s.fp == fp) {
        if t >= s.t {
            s.t_prev = s.t;
            s.t = t;
            s.id = id;
        } else if t > s.t_prev {
            s.t_prev = t;
        }
        return;
    }
    add_event(slots, fp, t, id);
}

/// Remember an occurrence, keeping the `k` most recent ones.
fn add_event(slots: &mut [Slot], fp: u64, t: i64, id: CompactId) {
    if redelivered(slots, fp, t, id) {
        return;
    }
    let victim = match slots.iter().position(|s| s.fp == 0) {
        Some(i) => i,
        None => {
            let (i, oldest) = slots
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| s.t)
                .map(|(i, s)| (i, s.t))
                .unwrap_or((0, i64::MIN));
            if t < oldest {
                return; // older than everything kept: cannot change a decision
            }
            i
        }
    };
    slots[victim] = Slot {
        fp,
        t,
        t_prev: NONE,
        id,
        tag: [0; 2],
    };
}

/// The fullest window of length `w` that contains time `t`, over the remembered slots.
#[derive(Default)]
struct Hit {
    count: usize,
    start: i64,
    end: i64,
    members: SmallVec<[usize; 32]>,
}

fn best_window(slots: &[Slot], t: i64, w: i64) -> Hit {
    let (lo, hi) = (t.saturating_sub(w), t.saturating_add(w));
    let mut points: SmallVec<[(i64, usize); 64]> = SmallVec::new();
    for (i, s) in slots.iter().enumerate().filter(|(_, s)| s.fp != 0) {
        for ts in [s.t, s.t_prev] {
            if ts != NONE && ts >= lo && ts <= hi {
                points.push((ts, i));
            }
        }
    }
    points.sort_unstable();
    let mut best = Hit::default();
    let mut members: SmallVec<[usize; 32]> = SmallVec::new();
    for a in 0..points.len() {
        let start = points[a].0;
        if start > t {
            break;
        }
        let end_limit = start.saturating_add(w);
        members.clear();
        let mut end = start;
        for &(ts, i) in points[a..].iter().take_while(|(ts, _)| *ts <= end_limit) {
            end = ts;
            if !members.contains(&i) {
                members.push(i);
            }
        }
        if members.len() > best.count {
            best.count = members.len();
            best.start = start;
            best.end = end.max(t);
            best.members = members.clone();
        }
    }
    best
}

/// Suppression state of one (rule, key).
#[derive(Clone, Copy, Default)]
struct Gate {
    until: i64,
    armed: bool,
    held: u32,
}

impl Gate {
    /// `Some(held back since last alert)` when the rule may fire now; otherwise the alert
    /// is held back and counted in `suppressed` too.
    fn pass(&mut self, t: i64, suppress: i64, suppressed: &mut u64) -> Option<u64> {
        if self.armed && t < self.until {
            self.held = self.held.saturating_add(1);
            *suppressed += 1;
            return None;
        }
        let held = u64::from(self.held);
        self.armed = true;
        self.held = 0;
        self.until = t.saturating_add(suppress);
        Some(held)
    }
}

#[derive(Clone, Copy, Default)]
struct IpMeta {
    spray: Gate,
    stuffing: Gate,
    /// Credential stuffing: a success from this ip in [armed_from, armed_until] fires.
    armed_from: i64,
    armed_until: i64,
    armed_distinct: u32,
}

impl KeyMeta for IpMeta {
    fn pinned(&self, now: i64) -> bool {
        self.armed_until >= now
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

#[derive(Clone, Copy, Default)]
struct MfaMeta {
    last_mfa: Option<i64>,
    /// DI id of that MFA login, for the evidence.
    last_mfa_id: CompactId,
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
    ip: Option<Table<IpMeta>>,
    brute: Option<Table<TwoGates>>,
    sso_t: Option<Table<TwoGates>>,
    lock_t: Option<Table<TwoGates>>,
    country_t: Option<Table<TwoGates>>,
    travel_t: Option<Table<TravelMeta>>,
    mfa_t: Option<Table<MfaMeta>>,
    suppressed: u64,
    /// The latest `armed_until` of any ip (0 when none was ever armed).
    armed_until_max: i64,
}

fn key_of(parts: &[&[u8]]) -> u64 {
    // `hash64` mixes in each part's length, so ("ab","c") and ("a","bc") differ.
    parts
        .iter()
        .fold(0x0073_7461_7465, |h, p| hash64(p, h))
        .max(1)
}

fn fp_of(s: &str) -> u64 {
    hash64(s.as_bytes(), 0).max(1)
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
    let per_key = 16 + meta + k * std::mem::size_of::<Slot>();
    ((bytes / per_key / WAYS).max(1), per_key)
}

/// Share of the budget (bytes) and slots per key of each table, in the order source ip,
/// actor+service, SSO actor, organization, countries, travel, MFA; `None` for a table that
/// no enabled rule uses.
fn plan(rules: &Rules, budget: usize) -> [Option<(usize, usize)>; 7] {
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
    // Shares of the budget, normalized over the tables actually in use.
    let want = [
        (spray.on || stuffing.on, 30u64),
        (bf_success.on || bf_attempts.on, 20),
        (sso.on, 10),
        (locked.on, 5),
        (admin_cc.on || user_cc.on, 10),
        (travel.on, 10),
        (mfa.on, 15),
    ];
    let total: u64 = want.iter().filter(|w| w.0).map(|w| w.1).sum::<u64>().max(1);
    let k_of = |n: u64| (n as usize).clamp(1, 4096);
    // Travel and MFA keep one record per key and no slots: k = 0.
    let k = [
        k_of((spray.threshold + 1).max(stuffing.threshold)),
        k_of(bf_success.threshold.max(bf_attempts.threshold)),
        k_of(sso.threshold + 1),
        k_of(locked.threshold),
        k_of(admin_cc.threshold.max(user_cc.threshold) + 1),
        0,
        0,
    ];
    std::array::from_fn(|i| {
        want[i]
            .0
            .then(|| (budget / total as usize * want[i].1 as usize, k[i]))
    })
}

/// The bytes the window tables take with a budget of `memory_mb` (what
/// [`WindowStats::bytes`] reports once built), computed without building them. Over the
/// budget only when a table's share cannot hold one bucket of its keys (large thresholds in
/// a tiny budget).
pub fn planned_bytes(rules: &Rules, memory_mb: u64) -> usize {
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
    plan(rules, memory_mb as usize * (1 << 20))
        .iter()
        .zip(meta)
        .filter_map(|(p, m)| {
            p.map(|(bytes, k)| {
                let (buckets, per_key) = table_layout(bytes, k, m);
                buckets * WAYS * per_key
            })
        })
        .sum()
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
        let lateness = cfg.state.allowed_lateness_secs as i64 * NANOS;

        // The sizes come from `plan`, which `planned_bytes` (config validation) shares.
        let [ip, brute, sso_t, lock_t, country_t, travel_t, mfa_t] =
            plan(rules, cfg.state.memory_mb as usize * (1 << 20));
        let maxw = |a: &Knobs, b: &Knobs| a.window.max(b.window);
        let ip = ip.map(|(bytes, k)| {
            let w = maxw(&spray, &stuffing);
            Table::new(bytes, k, w, w + stuffing_success_window + lateness)
        });
        let brute = brute.map(|(bytes, k)| {
            let w = maxw(&bf_success, &bf_attempts);
            Table::new(bytes, k, w, w + lateness)
        });
        let sso_t = sso_t.map(|(bytes, k)| Table::new(bytes, k, sso.window, sso.window + lateness));
        let lock_t =
            lock_t.map(|(bytes, k)| Table::new(bytes, k, locked.window, locked.window + lateness));
        let country_t = country_t.map(|(bytes, k)| {
            let w = maxw(&admin_cc, &user_cc);
            Table::new(bytes, k, w, w + lateness)
        });
        let travel_t = travel_t.map(|(bytes, k)| Table::new(bytes, k, 0, 86_400 * NANOS));
        let mfa_t = mfa_t.map(|(bytes, k)| Table::new(bytes, k, 0, mfa_horizon));
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
            ip,
            brute,
            sso_t,
            lock_t,
            country_t,
            travel_t,
            mfa_t,
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
        [
            info("source_ip", &self.ip),
            info("actor_service", &self.brute),
            info("sso_actor", &self.sso_t),
            info("organization", &self.lock_t),
            info("actor_country", &self.country_t),
            info("actor_travel", &self.travel_t),
            info("actor_mfa", &self.mfa_t),
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
        let o = Obs {
            ev,
            et,
            actor: actor.as_deref(),
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
            t,
            now,
            id,
        } = *o;

        let Some(actor) = actor else { return };
        let afp = fp_of(actor);
        if let (Some(tab), Some(ip)) = (self.ip.as_mut(), ev.source_ip()) {
            let i = tab.upsert(key_of(&[ip.as_bytes()]), t, now);
            add_distinct(tab.slots_mut(i), afp, t, id);
            if self.spray.on {
                let hit = best_window(tab.slots(i), t, self.spray.window);
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
                            tab.slots(i),
                            held,
                            "more than",
                            true,
                        ));
                    }
                }
            }
            if self.stuffing.on {
                let hit = best_window(tab.slots(i), t, self.stuffing.window);
                if hit.count as u64 >= self.stuffing.threshold {
                    let m = &mut tab.meta[i];
                    if m.armed_until < hit.end {
                        m.armed_from = if m.armed_until >= hit.end {
                            m.armed_from
                        } else {
                            hit.end
                        };
                    }
                    m.armed_until = m
                        .armed_until
                        .max(hit.end.saturating_add(self.stuffing_success_window));
                    m.armed_distinct = m.armed_distinct.max(hit.count as u32);
                    self.armed_until_max = self.armed_until_max.max(m.armed_until);
                }
            }
        }
        let service = ev.service.as_deref().unwrap_or("");
        if let Some(tab) = self.brute.as_mut() {
            let i = tab.upsert(key_of(&[actor.as_bytes(), service.as_bytes()]), t, now);
            add_event(tab.slots_mut(i), afp, t, id);
            if self.bf_attempts.on {
                let hit = best_window(tab.slots(i), t, self.bf_attempts.window);
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
                            tab.slots(i),
                            held,
                            "at least",
                            false,
                        ));
                    }
                }
            }
        }
        if et == "sso_auth" {
            if let Some(tab) = self.sso_t.as_mut() {
                let i = tab.upsert(key_of(&[actor.as_bytes()]), t, now);
                add_event(tab.slots_mut(i), afp, t, id);
                let hit = best_window(tab.slots(i), t, self.sso.window);
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
                            tab.slots(i),
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
            t,
            now,
            id,
        } = *o;

        // Credential stuffing: a success from an ip armed by a failure wave. Almost always no
        // ip is armed, and then the (cache-missing) lookup is skipped.
        let any_armed = t <= self.armed_until_max;
        if let (true, true, Some(tab), Some(ip)) = (
            any_armed,
            self.stuffing.on,
            self.ip.as_mut(),
            ev.source_ip(),
        ) {
            if let Some(i) = tab.find(key_of(&[ip.as_bytes()])) {
                let m = tab.meta[i];
                if m.armed_until != 0 && t >= m.armed_from && t <= m.armed_until {
                    if let Some(held) =
                        tab.meta[i]
                            .stuffing
                            .pass(t, self.stuffing.suppress, &mut self.suppressed)
                    {
                        let hit = best_window(tab.slots(i), m.armed_from, self.stuffing.window);
                        let mut f = fired(
                            &self.stuffing,
                            "source.ip",
                            ip,
                            &hit,
                            tab.slots(i),
                            held,
                            "at least",
                            true,
                        );
                        f.evidence.window_end = t;
                        push_id(&mut f.evidence, id);
                        out.push(f);
                    }
                }
            }
        }
        let Some(actor) = actor else { return };
        let service = ev.service.as_deref().unwrap_or("");
        if let (true, Some(tab)) = (self.bf_success.on, self.brute.as_mut()) {
            if let Some(i) = tab.find(key_of(&[actor.as_bytes(), service.as_bytes()])) {
                // Failures before (or at) the success, inside the window ending at it.
                let w = self.bf_success.window;
                let mut hit = Hit::default();
                for (j, s) in tab.slots(i).iter().enumerate() {
                    if s.fp != 0 && s.t <= t && s.t >= t.saturating_sub(w) {
                        hit.count += 1;
                        hit.members.push(j);
                        hit.start = if hit.count == 1 {
                            s.t
                        } else {
                            hit.start.min(s.t)
                        };
                    }
                }
                hit.end = t;
                if hit.count as u64 >= self.bf_success.threshold {
                    if let Some(held) =
                        tab.meta[i]
                            .b
                            .pass(t, self.bf_success.suppress, &mut self.suppressed)
                    {
                        let key = format!("{actor}|{service}");
                        let mut f = fired(
                            &self.bf_success,
                            "user+service",
                            &key,
                            &hit,
                            tab.slots(i),
                            held,
                            "at least",
                            false,
                        );
                        push_id(&mut f.evidence, id);
                        out.push(f);
                    }
                }
            }
        }
        let admin = ev.actor_is_admin();
        let cc_rule = if admin { self.admin_cc } else { self.user_cc };
        if let (true, Some(tab), Some(cc)) = (cc_rule.on, self.country_t.as_mut(), ev.country()) {
            let cc2 = country_tag(cc);
            // Two-letter codes (all real ones) hash from the tag without allocating.
            let cfp = if cc.len() == 2 {
                hash64(&cc2, 0).max(1)
            } else {
                fp_of(&cc.to_ascii_uppercase())
            };
            let i = tab.upsert(key_of(&[actor.as_bytes(), &[u8::from(admin)]]), t, now);
            let slots = tab.slots_mut(i);
            add_distinct(slots, cfp, t, id);
            if let Some(s) = slots.iter_mut().find(|s| s.fp == cfp) {
                s.tag = cc2;
            }
            let hit = best_window(tab.slots(i), t, cc_rule.window);
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
                        .map(|&j| String::from_utf8_lossy(&tab.slots(i)[j].tag).into_owned())
                        .collect();
                    countries.sort();
                    let mut f = fired(
                        &cc_rule,
                        "user",
                        actor,
                        &hit,
                        tab.slots(i),
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
        if let (true, Some(tab)) = (self.mfa.on, self.mfa_t.as_mut()) {
            let key = key_of(&[actor.as_bytes(), et.as_bytes()]);
            match ev.mfa {
                Some(true) => {
                    let i = tab.upsert(key, t, now);
                    let m = &mut tab.meta[i];
                    if m.last_mfa.is_none_or(|x| t >= x) {
                        m.last_mfa = Some(t);
                        m.last_mfa_id = id;
                    }
                }
                Some(false) => {
                    if let Some(i) = tab.find(key) {
                        if let Some(last) = tab.meta[i].last_mfa {
                            if last <= t && t.abs_diff(last) <= self.mfa_horizon as u64 {
                                let mut e = Evidence {
                                    group_by: "user+event_type",
                                    group_key: format!("{actor}|{et}"),
                                    window_start: last,
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
                                        Extra::Int((t.abs_diff(last) / NANOS as u64) as i64),
                                    )],
                                };
                                push_id(&mut e, tab.meta[i].last_mfa_id);
                                push_id(&mut e, id);
                                out.push(Fired {
                                    rule: self.mfa.rule,
                                    evidence: e,
                                });
                            }
                        }
                    }
                }
                None => {}
            }
        }
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
        add_distinct(tab.slots_mut(i), fp_of(&account), t, id);
        let hit = best_window(tab.slots(i), t, self.locked.window);
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
                    tab.slots(i),
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
trait Codec: Sized {
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
        w.i64(self.t_prev);
        self.id.put(w);
        w.bytes(&self.tag);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, StateError> {
        Ok(Slot {
            fp: r.u64()?,
            t: r.i64()?,
            t_prev: r.i64()?,
            id: CompactId::get(r)?,
            tag: [r.u8()?, r.u8()?],
        })
    }
}

impl Codec for Gate {
    fn put(&self, w: &mut Writer) {
        w.i64(self.until);
        w.u8(u8::from(self.armed));
        w.u32(self.held);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, StateError> {
        Ok(Gate {
            until: r.i64()?,
            armed: r.bool()?,
            held: r.u32()?,
        })
    }
}

impl Codec for IpMeta {
    fn put(&self, w: &mut Writer) {
        self.spray.put(w);
        self.stuffing.put(w);
        w.i64(self.armed_from);
        w.i64(self.armed_until);
        w.u32(self.armed_distinct);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, StateError> {
        Ok(IpMeta {
            spray: Gate::get(r)?,
            stuffing: Gate::get(r)?,
            armed_from: r.i64()?,
            armed_until: r.i64()?,
            armed_distinct: r.u32()?,
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
        w.u8(u8::from(self.last_mfa.is_some()));
        w.i64(self.last_mfa.unwrap_or(0));
        self.last_mfa_id.put(w);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, StateError> {
        let has = r.bool()?;
        let t = r.i64()?;
        Ok(MfaMeta {
            last_mfa: has.then_some(t),
            last_mfa_id: CompactId::get(r)?,
        })
    }
}

/// One table's occupied keys, read from a state file and checked, not yet applied.
struct Staged<M> {
    /// (index, key, last, meta); slots of entry `n` are `slots[n * k..(n + 1) * k]`.
    keys: Vec<(usize, u64, i64, M)>,
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
            for s in self.slots(i) {
                s.put(w);
            }
        }
    }

    fn stage(&self, name: &str, r: &mut Reader<'_>) -> Result<Staged<M>, StateError> {
        let (cap, k) = (r.u64()?, r.u32()?);
        if (cap, k) != self.shape() {
            return Err(StateError::Incompatible(format!(
                "table {name} holds {cap} keys of {k} slots in the file, {} of {} now \
                 ([state] memory_mb, a rule threshold or the set of enabled rules changed)",
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
            4 + 8 + 8 + meta.buf.len() + self.k * slot.buf.len()
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
            st.keys.push((i, key, last, meta));
            for _ in 0..self.k {
                st.slots.push(Slot::get(r)?);
            }
        }
        Ok(st)
    }

    fn apply(&mut self, st: Staged<M>) {
        self.keys.fill(0);
        self.last.fill(0);
        self.meta = Lazy::new(self.capacity(), CHUNK_KEYS);
        self.slots = Lazy::new(self.capacity() * self.k, CHUNK_KEYS * self.k);
        for (n, &(i, key, last, meta)) in st.keys.iter().enumerate() {
            self.keys[i] = key;
            self.last[i] = last;
            self.meta[i] = meta;
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

    #[test]
    fn distinct_slots_keep_most_recent() {
        let mut s = vec![Slot::default(); 3];
        for (fp, t) in [(1, 10), (2, 20), (3, 30), (1, 40), (4, 50)] {
            add_distinct(&mut s, fp, t, CompactId::default());
        }
        let mut fps: Vec<u64> = s.iter().map(|s| s.fp).collect();
        fps.sort();
        assert_eq!(fps, vec![1, 3, 4]);
        let hit = best_window(&s, 50, 20);
        assert_eq!(hit.count, 3);
        assert_eq!((hit.start, hit.end), (30, 50));
        // inclusive edges: t and t + W are in one window
        let hit = best_window(&s, 50, 19);
        assert_eq!(hit.count, 2);
    }
}
