//! Every hash jcdetect computes, and which of them leave the process.
//!
//! **Persisted: frozen.** Two functions produce bytes that outlive a run. The tests below pin
//! their outputs to literal values, so a change to either fails a test instead of silently
//! breaking what users keep:
//!
//! - [`hash64`], the one hasher for keys: the window tables' keys and identity fingerprints
//!   (`key_of`, `fp_of` in `src/windows/mod.rs`), the 16-bit service and event-type tags of
//!   the recent-success log (`tag_of`, `src/windows/recent.rs`), and the state file's
//!   checksum (`src/state.rs`). All of these are written into `--state` files (and the Fluent
//!   Bit filter's checkpoints), and must be the same on every platform: native and WASM place
//!   keys alike, evict alike, and read each other's files. Changing `hash64`, or how a key is
//!   derived from it, makes old state files unreadable as this version's: bump
//!   `state::FORMAT_VERSION` with it (old files are then refused and moved aside) and update
//!   the pinned values.
//! - [`StableHasher`], the alert-id hasher: [`StableHasher::hex128`] of length-prefixed parts
//!   (rule id, DI event id and time, or a window's group key and end; `src/alert/message.rs`)
//!   is every alert's id (ECS `event.id`; OCSF `metadata.uid` and `finding_info.uid`), so
//!   replays and retries deduplicate downstream. It is a second function only because ids
//!   were built with it before `hash64` existed: changing it would make every alert a user
//!   has stored look new. The cases' golden outputs (`tests/cases/*/*/expected.*.ndjson`)
//!   pin the ids end to end too.
//!
//! **In memory only: free to change.** [`FastBuild`], the `HashMap` build hasher of the
//! engine's lookup maps (event type → rules), runs [`hash64`] for speed and determinism (no
//! random keys, unlike std's SipHash, so every run and platform behaves alike; the maps' keys
//! are the catalog's own strings, input only looks them up, so flooding is no concern).
//! [`fingerprint`] keys the event generator's bookkeeping (`jcdetect generate`), where only
//! equality matters; it is [`hash64`] too. Neither value is ever written out.
//!
//! [`mix64`] is inside both persisted functions, so it is frozen with them. The generator
//! (`src/replay`) also draws its random numbers from it (a replay is reproducible from its
//! seed), and keys one map with a `MixHasher` of its own over it (in memory only).

const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Mix the bits of `x` (the murmur3 / splitmix finalizer). `mix64(0) == 0`.
pub fn mix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// The alert-id hasher (persisted: see the module doc). Two FNV-1a lanes over the bytes,
/// finalized with [`mix64`]; feed parts with [`StableHasher::part`] (each part is
/// length-delimited, so `("ab","c")` and `("a","bc")` differ).
#[derive(Clone, Copy)]
pub struct StableHasher {
    a: u64,
    b: u64,
}

impl StableHasher {
    pub fn new(seed: u64) -> StableHasher {
        StableHasher {
            a: 0xcbf2_9ce4_8422_2325 ^ seed,
            b: 0x6c62_272e_07bb_0142 ^ mix64(seed),
        }
    }
    pub fn bytes(&mut self, data: &[u8]) -> &mut Self {
        for &c in data {
            self.a = (self.a ^ u64::from(c)).wrapping_mul(FNV_PRIME);
            self.b = (self.b ^ u64::from(c)).wrapping_mul(0x0000_0100_0000_0233);
        }
        self
    }
    pub fn part(&mut self, data: &[u8]) -> &mut Self {
        self.bytes(&(data.len() as u64).to_le_bytes()).bytes(data)
    }
    /// 128 bits as 32 lower-case hex digits: the alert id.
    pub fn hex128(&self) -> String {
        let hi = mix64(self.a);
        let lo = mix64(self.b ^ hi);
        format!("{hi:016x}{lo:016x}")
    }
}

/// The key hasher (persisted in state files: see the module doc). Portable 64-bit hash of
/// short keys, eight bytes per step, little-endian on every platform. Chain parts by passing
/// one part's hash as the next one's `seed`; the length is mixed in, so `("ab","c")` and
/// `("a","bc")` differ. `hash64(b"", 0) == 0`: callers that reserve 0 map it away.
pub fn hash64(data: &[u8], seed: u64) -> u64 {
    // Each word is fully mixed before the next one is folded in: a cheaper multiply-rotate
    // step let words that differ only in a few bytes cancel out (measured: 0.4 % of 5 M
    // dotted-quad IPs collided), which merges keys.
    let mut h = mix64(seed ^ (data.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        h = mix64(h ^ u64::from_le_bytes(w.try_into().unwrap_or([0; 8])));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        h = mix64(h ^ u64::from_le_bytes(last));
    }
    h
}

/// A `Hasher` over [`hash64`] for the engine's lookup maps (in memory only: see the module
/// doc). Deterministic, unlike std's SipHash with random keys, and several times faster on
/// short strings.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = hash64(bytes, self.0);
    }
    fn write_u64(&mut self, v: u64) {
        // Little-endian, as `hash64` reads words, so maps behave alike on every platform.
        self.write(&v.to_le_bytes());
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FastBuild = std::hash::BuildHasherDefault<FastHasher>;

/// 64-bit fingerprint of a key for in-memory bookkeeping (the event generator's): `hash64`
/// with seed 0. Never written out.
pub fn fingerprint(data: &[u8]) -> u64 {
    hash64(data, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `hash64` on inputs of every length class (empty, under one word, one word, a word and
    /// more) and on the derivations the window tables, the recent-success tags and the state
    /// checksum use. These values are in users' state files: if this test fails, the change
    /// breaks them (see the module doc).
    #[test]
    fn hash64_is_pinned() {
        #[rustfmt::skip]
        let vectors: &[(&[u8], u64, u64)] = &[
            (b"", 0, 0x0000_0000_0000_0000),
            (b"a", 0, 0xef7d_f5c0_da8c_e366),
            (b"12345678", 0, 0xf0d4_0625_5309_3044),
            (b"123456789", 7, 0xb90c_2241_ee1a_f310),
            (b"alice@example.com", 0, 0xb766_26be_ef66_147e),
            (b"203.0.113.7", 0, 0xcb17_6d74_77af_192f),
            // recent-success tags: `hash64(s, 0x0074_6167) as u16`.
            (b"user_login_attempt", 0x0074_6167, 0x3c62_441b_185f_100e),
            (b"sso", 0x0074_6167, 0x6787_671d_5861_b56f),
            // the state file's checksum seed.
            (b"alice@example.com", 0x6a63_6473_7461_7465, 0xbdf8_7d73_292b_9b40),
        ];
        for &(data, seed, want) in vectors {
            let got = hash64(data, seed);
            assert_eq!(
                got,
                want,
                "hash64({:?}, {seed:#x}) = {got:#018x}",
                String::from_utf8_lossy(data)
            );
        }
        // A window key: parts chained from the tables' seed (`key_of`).
        let parts: [&[u8]; 2] = [b"alice@example.com", b"directory"];
        let key = parts.iter().fold(0x0073_7461_7465, |h, p| hash64(p, h));
        assert_eq!(key, 0xc163_0538_99c1_498f);
        assert_eq!(mix64(1), 0xb456_bcfc_34c2_cb2c);
        assert_eq!(fingerprint(b"alice@example.com"), 0xb766_26be_ef66_147e);
    }

    /// Alert ids, built as the engine builds them (single-event: rule id, DI id, timestamp;
    /// or rule id and the raw line for an event without an id; window alerts: rule id, group
    /// key, window end, DI id). Users have stored these ids: if this test fails, the change
    /// makes every stored alert look new.
    #[test]
    fn alert_ids_are_pinned() {
        let single = |parts: &[&[u8]]| {
            let mut h = StableHasher::new(0x6a63_6465_7465_6374);
            for p in parts {
                h.part(p);
            }
            h.hex128()
        };
        assert_eq!(
            single(&[
                b"policy_deleted",
                b"5f1b4a8e2c3d4e5f6a7b8c9d",
                b"2024-05-01T10:00:00.000Z"
            ]),
            "ec052841faad4e09a73df2cc4b71c205"
        );
        assert_eq!(
            single(&[b"policy_deleted", br#"{"event_type":"policy_delete"}"#]),
            "8be7a599c3cd53c87a0a8c1ee136b37b"
        );
        let mut h = StableHasher::new(0x7769_6e64_6f77);
        h.part(b"password_spray_from_ip")
            .part(b"203.0.113.7")
            .part(&1_714_557_600_000_000_000i64.to_le_bytes())
            .part(b"abc");
        assert_eq!(h.hex128(), "8f34165580db33cb594bfbda39a4d621");
        assert_eq!(
            StableHasher::new(0).hex128(),
            "efd01f60ba9929262c4bf5ffd2995eb6"
        );
    }

    /// The state file of the bundled example, end to end: every table's keys and slots, the
    /// recent-success tags and the checksum. A change of a key derivation, a seed or the
    /// layout changes it; that is a new state format (bump `state::FORMAT_VERSION`, then
    /// update this value).
    #[test]
    fn the_example_state_file_is_pinned() {
        let input = include_bytes!("../tests/data/example.ndjson");
        let mut engine = crate::Engine::new(&crate::Config::default(), crate::Options::default());
        let (mut out, mut diags) = (Vec::new(), Vec::new());
        engine.feed(input, &mut out, &mut diags);
        engine.finish(&mut out, &mut diags);
        let file = engine.snapshot();
        assert_eq!(
            (file.len(), format!("{:#018x}", hash64(&file, 0))),
            (4164, "0x94b5f291e6ada8f0".to_string())
        );
    }

    #[test]
    fn hash64_spreads_and_depends_on_every_byte() {
        let base = hash64(b"alice@example.com", 0);
        assert_ne!(base, hash64(b"alice@example.con", 0));
        assert_ne!(base, hash64(b"blice@example.com", 0));
        assert_ne!(base, hash64(b"alice@example.com", 1));
        assert_ne!(hash64(b"", 0), hash64(b"\0", 0));
        assert_ne!(hash64(b"a", 0), hash64(b"a\0", 0));
        // No collisions among millions of structured keys (dotted quads, numbered users).
        let mut seen = std::collections::HashSet::new();
        for n in 0..2_000_000u64 {
            let ip = format!(
                "{}.{}.{}.{}",
                10 + (n >> 24) % 200,
                (n >> 16) & 255,
                (n >> 8) & 255,
                n & 255
            );
            assert!(seen.insert(hash64(ip.as_bytes(), 7)), "collision at {ip}");
        }
        // Keys differing in one byte land in different buckets of a small table.
        let buckets: std::collections::HashSet<u64> = (0..1000u32)
            .map(|i| hash64(format!("user{i}").as_bytes(), 0) >> 54)
            .collect();
        assert!(buckets.len() > 600, "{}", buckets.len());
    }

    #[test]
    fn parts_are_length_delimited() {
        assert_ne!(
            StableHasher::new(1).part(b"ab").part(b"c").hex128(),
            StableHasher::new(1).part(b"a").part(b"bc").hex128()
        );
        assert_ne!(
            hash64(b"c", hash64(b"ab", 0)),
            hash64(b"bc", hash64(b"a", 0))
        );
    }
}
