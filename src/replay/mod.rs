//! Deterministic, realistic DI replays with their ground truth (`jcdetect generate`).
//!
//! [`generate`] writes a synthetic Directory Insights stream shaped like the real samples:
//! logins of every kind dominate, then directory changes, associations, group and policy
//! events, MFA changes, device and MDM events (now and then a ~77 KB `mdm_command_result`),
//! and event types no rule knows. Attack stories for the stateful rules are woven in at known
//! times, and the returned [`Truth`] says exactly which alerts the default configuration must
//! raise: every stateful (rule, group key) pair, and the count of every single-event rule.
//!
//! The same [`GenConfig`] gives the same bytes on every platform and every run: one
//! hand-written SplitMix64 drives every choice, floats only meet `+ - * /` and comparisons,
//! and nothing reads a clock.
//!
//! Why the background raises no stateful alert: every user logs in from one home city
//! (coordinates jittered by at most ~40 km) with a fixed MFA habit per login kind, so the
//! country, travel and MFA rules have nothing to see; and the generator remembers recent
//! background failures per (account, service) and per source ip, and recent lockouts, and
//! drops a failure or lockout that would bring a window near its threshold (at most 3
//! failures per account and 3 failing accounts per ip in any 700 s, at most 2 lockouts in
//! any 1000 s). Near misses stay in: a user failing up to 3 times before a success, two
//! lockouts close together. Stories use fresh accounts and attacker ips, so they meet
//! neither the background nor each other, except lockout waves, which share the
//! organization and are therefore kept apart from each other and from background lockouts.
//!
//! ```
//! use jcdetect::replay::{generate, GenConfig};
//! let cfg = GenConfig { events: 3_000, ..GenConfig::default() };
//! let mut replay = Vec::new();
//! let truth = generate(&cfg, |line| replay.extend_from_slice(line)).unwrap();
//! assert_eq!(truth.events, 3_000);
//! assert_eq!(replay.iter().filter(|&&b| b == b'\n').count(), 3_000);
//! assert!(!truth.stateful.is_empty());
//! ```

use crate::alert::json::write_str;
use crate::decode::time::{format_rfc3339, NANOS};
use crate::hash::{fingerprint, mix64};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

// ---------------------------------------------------------------------------------------
// Configuration

/// What to generate. `Default` is a 5,000-user organization with two of every attack story.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// Events (= lines) to write, background and attack stories together.
    pub events: u64,
    pub seed: u64,
    /// Directory users; each has a home city, a device, a few home ips and fixed MFA habits.
    pub users: u32,
    /// Administrators: the first `admins` users also hold a console account (their email).
    pub admins: u32,
    /// Size of the background ip space (home and roaming ips are drawn from it).
    pub ips: u64,
    /// Share of background logins from a roaming ip (a fresh draw from the ip space of the
    /// user's city) instead of one of the user's home ips; sets how many distinct ips appear.
    pub roaming: f64,
    /// Event time of the first event, ns since the epoch.
    pub start: i64,
    /// Background events per user per day: sets the event rate, so the span of the replay.
    pub events_per_user_day: u32,
    /// Share of background events written out of order, up to 60 s behind their place.
    pub out_of_order: f64,
    pub attacks: AttackMix,
}

/// 2025-03-03T06:00:00Z, a Monday morning in Europe.
pub const DEFAULT_START: i64 = 1_740_981_600 * NANOS;

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            events: 200_000,
            seed: 1,
            users: 5_000,
            admins: 50,
            ips: 20_000,
            roaming: 0.15,
            start: DEFAULT_START,
            events_per_user_day: 50,
            out_of_order: 0.005,
            attacks: AttackMix::each(2),
        }
    }
}

impl GenConfig {
    /// Every problem with the configuration, in one message.
    pub fn validate(&self) -> Result<(), String> {
        let mut errs = Vec::new();
        if self.users < 20 || self.users > 5_000_000 {
            errs.push(format!("users must be 20..=5000000 (got {})", self.users));
        }
        if self.admins == 0 || self.admins > self.users {
            errs.push(format!(
                "admins must be 1..=users (got {} for {} users)",
                self.admins, self.users
            ));
        }
        if self.ips < HOME_CITIES as u64 * 4 || self.ips > 100_000_000 {
            errs.push(format!(
                "ips must be {}..=100000000 (got {})",
                HOME_CITIES * 4,
                self.ips
            ));
        }
        if !(0.0..=1.0).contains(&self.roaming) {
            errs.push(format!("roaming must be in 0..=1 (got {})", self.roaming));
        }
        if !(0.0..=0.5).contains(&self.out_of_order) {
            errs.push(format!(
                "out_of_order must be in 0..=0.5 (got {})",
                self.out_of_order
            ));
        }
        if self.events_per_user_day == 0 {
            errs.push("events_per_user_day must be positive".into());
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("; "))
        }
    }
}

/// How many of each attack story to weave in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttackMix {
    /// Failed logins for 18–30 fresh accounts from one ip within ~7 min.
    pub spray: u32,
    /// 8–12 accounts fail from one ip, then one of them succeeds from it 10–30 min later.
    pub stuffing: u32,
    /// 5–7 failures for one account and service, then a success.
    pub brute: u32,
    /// 5–9 failures for one account and service, no success.
    pub brute_only: u32,
    /// 3–5 accounts of the organization locked out within 10 min (each after 2 failures).
    pub lockout: u32,
    /// An admin signs in from two neighbouring countries within an hour.
    pub admin_country: u32,
    /// A user signs in from two neighbouring countries within an hour.
    pub user_country: u32,
    /// A user signs in from two cities of one country thousands of km apart within an hour.
    pub travel: u32,
    /// 6–9 failed `sso_auth` for one account within ~6 min.
    pub sso_burst: u32,
    /// A login with MFA, then one of the same kind without it.
    pub mfa_bypass: u32,
}

impl AttackMix {
    /// The story names, as [`AttackMix::parse`] reads them.
    pub const KINDS: [&'static str; 10] = [
        "spray",
        "stuffing",
        "brute",
        "brute_only",
        "lockout",
        "admin_country",
        "user_country",
        "travel",
        "sso_burst",
        "mfa_bypass",
    ];

    pub fn none() -> AttackMix {
        AttackMix::default()
    }

    /// `n` of every story.
    pub fn each(n: u32) -> AttackMix {
        AttackMix::from_counts([n; 10])
    }

    fn counts(&self) -> [u32; 10] {
        [
            self.spray,
            self.stuffing,
            self.brute,
            self.brute_only,
            self.lockout,
            self.admin_country,
            self.user_country,
            self.travel,
            self.sso_burst,
            self.mfa_bypass,
        ]
    }

    fn from_counts(c: [u32; 10]) -> AttackMix {
        AttackMix {
            spray: c[0],
            stuffing: c[1],
            brute: c[2],
            brute_only: c[3],
            lockout: c[4],
            admin_country: c[5],
            user_country: c[6],
            travel: c[7],
            sso_burst: c[8],
            mfa_bypass: c[9],
        }
    }

    /// Number of stories.
    pub fn total(&self) -> u32 {
        self.counts().iter().sum()
    }

    /// Parse `none`, or comma-separated `kind=N` items (kinds not named get 0); `all=N`
    /// sets every kind and later items override it: `all=1,spray=3`.
    pub fn parse(spec: &str) -> Result<AttackMix, String> {
        let spec = spec.trim();
        if spec.eq_ignore_ascii_case("none") || spec.is_empty() {
            return Ok(AttackMix::none());
        }
        let mut c = [0u32; 10];
        let mut errs = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((k, v)) = item.split_once('=') else {
                errs.push(format!("`{item}` is not kind=N"));
                continue;
            };
            let Ok(n) = v.trim().parse::<u32>() else {
                errs.push(format!("`{item}`: `{v}` is not a count"));
                continue;
            };
            if n > 1_000 {
                errs.push(format!("`{item}`: at most 1000 stories of a kind"));
                continue;
            }
            match k.trim() {
                "all" => c = [n; 10],
                k => match Self::KINDS.iter().position(|&name| name == k) {
                    Some(i) => c[i] = n,
                    None => errs.push(format!(
                        "unknown attack `{k}` (known: all, {})",
                        Self::KINDS.join(", ")
                    )),
                },
            }
        }
        if errs.is_empty() {
            Ok(AttackMix::from_counts(c))
        } else {
            Err(errs.join("; "))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Ground truth

/// One stateful alert the replay must produce exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedAlert {
    pub rule: &'static str,
    /// `jcdetect.group_key` as the engine writes it (lower-cased actors).
    pub group_key: String,
    /// The story that causes it ([`AttackMix::KINDS`]) and its number in the replay.
    pub story: &'static str,
    pub story_index: u32,
    /// Event times of the story's first and last event, ns since the epoch.
    pub start: i64,
    pub end: i64,
}

/// What a generated replay contains and which alerts it must raise with the default config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Truth {
    pub seed: u64,
    /// Events written (one per line, so also the number of lines).
    pub events: u64,
    pub lines: u64,
    pub bytes: u64,
    pub max_line_bytes: u64,
    /// Events that belong to attack stories.
    pub story_events: u64,
    /// Events written more than 1 s behind the newest event already written: the late
    /// deliveries. (Services that write whole seconds or milliseconds also swap neighbours
    /// by under a second, as in real streams; those are not counted.)
    pub out_of_order: u64,
    /// Smallest and largest event time written.
    pub first_time: i64,
    pub last_time: i64,
    /// Every stateful alert, in story order.
    pub stateful: Vec<ExpectedAlert>,
    /// Alerts per single-event rule (background and stories together).
    pub single: BTreeMap<&'static str, u64>,
    /// Events per `event_type`.
    pub event_types: BTreeMap<&'static str, u64>,
    /// Events per `service`.
    pub services: BTreeMap<&'static str, u64>,
}

impl Truth {
    pub fn single_total(&self) -> u64 {
        self.single.values().sum()
    }

    /// Expected alerts per rule id, stateful and single-event together.
    pub fn alerts_by_rule(&self) -> BTreeMap<&'static str, u64> {
        let mut m = self.single.clone();
        for a in &self.stateful {
            *m.entry(a.rule).or_default() += 1;
        }
        m
    }

    /// The side file of `jcdetect generate --truth`: pretty JSON, stable key order.
    pub fn to_json(&self, cfg: &GenConfig) -> String {
        use serde_json::{json, Map, Value};
        let ts = |t: i64| Value::from(crate::decode::time::to_rfc3339(t));
        let counts = |m: &BTreeMap<&'static str, u64>| -> Map<String, Value> {
            m.iter()
                .map(|(k, v)| (k.to_string(), (*v).into()))
                .collect()
        };
        let attacks: Map<String, Value> = AttackMix::KINDS
            .iter()
            .zip(cfg.attacks.counts())
            .map(|(k, n)| (k.to_string(), n.into()))
            .collect();
        let stateful: Vec<Value> = self
            .stateful
            .iter()
            .map(|a| {
                json!({
                    "rule": a.rule,
                    "group_key": a.group_key,
                    "story": a.story,
                    "story_index": a.story_index,
                    "start": ts(a.start),
                    "end": ts(a.end),
                })
            })
            .collect();
        let by_rule = self.alerts_by_rule();
        let v = json!({
            "generator": format!("jcdetect {} generate", crate::alert::VERSION),
            "seed": self.seed,
            "events": self.events,
            "lines": self.lines,
            "bytes": self.bytes,
            "max_line_bytes": self.max_line_bytes,
            "story_events": self.story_events,
            "out_of_order_events": self.out_of_order,
            "first_time": ts(self.first_time),
            "last_time": ts(self.last_time),
            "config": {
                "users": cfg.users,
                "admins": cfg.admins,
                "ips": cfg.ips,
                "roaming": cfg.roaming,
                "events_per_user_day": cfg.events_per_user_day,
                "out_of_order": cfg.out_of_order,
                "start": ts(cfg.start),
                "attacks": attacks,
            },
            "alerts": {
                "total": by_rule.values().sum::<u64>(),
                "stateful": self.stateful.len(),
                "single": self.single_total(),
                "by_rule": counts(&by_rule),
            },
            "stateful": stateful,
            "single": counts(&self.single),
            "services": counts(&self.services),
            "event_types": counts(&self.event_types),
        });
        let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
        s.push('\n');
        s
    }
}

// ---------------------------------------------------------------------------------------
// The entry point

/// Write the replay, one event per call of `sink`, each line ending in `\n`; return the
/// ground truth. Lines come in the order a collector would deliver them; background events
/// may be up to 60 s behind (see [`GenConfig::out_of_order`]), story events never are.
/// Fails (before writing anything) on a bad config or when `events` cannot hold the stories.
pub fn generate(cfg: &GenConfig, mut sink: impl FnMut(&[u8])) -> Result<Truth, String> {
    cfg.validate()?;
    let mut g = Gen::new(cfg);
    let stories = g.plan();
    let story_events: u64 = stories.iter().map(|s| u64::from(s.events)).sum();
    if story_events > cfg.events / 2 {
        return Err(format!(
            "{} events cannot hold the attack stories ({story_events} story events): \
             generate at least {} events or use a smaller --attack-mix",
            cfg.events,
            story_events * 2
        ));
    }
    g.truth.story_events = story_events;
    let background = cfg.events - story_events;
    let n = stories.len() as u64;
    // Stories are anchored at evenly spaced points of the background stream.
    let anchors: Vec<u64> = (0..n)
        .map(|k| (u128::from(background) * u128::from(k + 1) / u128::from(n + 1)) as u64)
        .collect();
    let mut next_story = 0usize;
    let mut next_prune = 65_536;
    while g.bg_events < background {
        g.advance();
        while next_story < stories.len() && anchors[next_story] <= g.bg_events {
            g.story(&stories[next_story]);
            next_story += 1;
        }
        g.background_unit(background - g.bg_events);
        g.flush_until(g.clock, &mut sink);
        if g.bg_events >= next_prune {
            g.guard.prune(g.clock);
            next_prune += 65_536;
        }
    }
    for s in &stories[next_story..] {
        g.story(s);
    }
    g.flush_until(i64::MAX, &mut sink);
    g.truth.events = g.truth.lines;
    Ok(g.truth)
}

// ---------------------------------------------------------------------------------------
// Randomness and hashing

/// SplitMix64: tiny, fast, and the same sequence everywhere.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn pick<'a, T>(&mut self, s: &'a [T]) -> &'a T {
        &s[self.below(s.len() as u64) as usize]
    }
    /// An index drawn with the given weights.
    fn weighted(&mut self, w: &[u32]) -> usize {
        let total: u64 = w.iter().map(|&x| u64::from(x)).sum();
        let mut r = self.below(total);
        for (i, &x) in w.iter().enumerate() {
            if r < u64::from(x) {
                return i;
            }
            r -= u64::from(x);
        }
        w.len() - 1
    }
    fn secs(&mut self, lo: u64, hi: u64) -> i64 {
        self.range(lo * 1000, hi * 1000) as i64 * 1_000_000 + self.below(1_000_000) as i64
    }
}

/// Per-entity attributes are a pure function of (seed, entity), so users need no storage.
fn h2(a: u64, b: u64) -> u64 {
    mix64(a ^ mix64(b.wrapping_add(0x632b_e59b_d9b4_e019)))
}

fn hex24(h: u64, h2v: u64) -> String {
    format!("{:016x}{:08x}", h, h2v as u32)
}

/// Hasher for keys that are already fingerprints; fixed, so no process-random state.
#[derive(Default)]
struct MixHasher(u64);
impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = mix64(self.0 ^ u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = mix64(self.0 ^ v);
    }
}
type FixedState = BuildHasherDefault<MixHasher>;

// ---------------------------------------------------------------------------------------
// Static data: places, names, user agents

#[derive(Debug)]
struct City {
    cc: &'static str,
    region: &'static str,
    region_code: &'static str,
    continent: &'static str,
    tz: &'static str,
    /// Degrees × 10⁴, so coordinates are printed from integers.
    lat: i32,
    lon: i32,
    /// UTC offset for `system_timestamp` (standard time).
    utc_min: i32,
}

#[allow(clippy::too_many_arguments)] // a table row
const fn city(
    cc: &'static str,
    region: &'static str,
    region_code: &'static str,
    continent: &'static str,
    tz: &'static str,
    lat: i32,
    lon: i32,
    utc_min: i32,
) -> City {
    City {
        cc,
        region,
        region_code,
        continent,
        tz,
        lat,
        lon,
        utc_min,
    }
}

/// The first `HOME_CITIES` are where users live (weights in `HOME_WEIGHTS`); the rest serve
/// the stories. No city is in an embargoed country.
#[rustfmt::skip]
const CITIES: &[City] = &[
    city("US", "New York", "NY", "NA", "America/New_York", 407128, -740060, -300),
    city("US", "Massachusetts", "MA", "NA", "America/New_York", 423601, -710589, -300),
    city("US", "Illinois", "IL", "NA", "America/Chicago", 418781, -876298, -360),
    city("US", "Colorado", "CO", "NA", "America/Denver", 397392, -1049903, -420),
    city("US", "California", "CA", "NA", "America/Los_Angeles", 377749, -1224194, -480),
    city("US", "Washington", "WA", "NA", "America/Los_Angeles", 476062, -1223321, -480),
    city("US", "Texas", "TX", "NA", "America/Chicago", 302672, -977431, -360),
    city("US", "Georgia", "GA", "NA", "America/New_York", 337490, -843880, -300),
    city("CA", "Ontario", "ON", "NA", "America/Toronto", 436532, -793832, -300),
    city("GB", "England", "ENG", "EU", "Europe/London", 515074, -1278, 0),
    city("IE", "Leinster", "L", "EU", "Europe/Dublin", 533498, -62603, 0),
    city("FR", "Paris", "75", "EU", "Europe/Paris", 488566, 23522, 60),
    city("DE", "Land Berlin", "BE", "EU", "Europe/Berlin", 525200, 134050, 60),
    city("DE", "Bavaria", "BY", "EU", "Europe/Berlin", 481351, 115820, 60),
    city("NL", "North Holland", "NH", "EU", "Europe/Amsterdam", 523676, 49041, 60),
    city("ES", "Madrid", "MD", "EU", "Europe/Madrid", 404168, -37038, 60),
    city("PL", "Mazovia", "14", "EU", "Europe/Warsaw", 522297, 210122, 60),
    city("IN", "Karnataka", "KA", "AS", "Asia/Kolkata", 129716, 775946, 330),
    city("BR", "Sao Paulo", "SP", "SA", "America/Sao_Paulo", -235505, -466333, -180),
    city("AU", "New South Wales", "NSW", "OC", "Australia/Sydney", -338688, 1512093, 600),
    city("JP", "Tokyo", "13", "AS", "Asia/Tokyo", 356762, 1396503, 540),
    city("SG", "Central Singapore", "01", "AS", "Asia/Singapore", 13521, 1038198, 480),
    // stories: neighbours across a border, far cities of one country, attackers
    city("BE", "Brussels Capital", "BRU", "EU", "Europe/Brussels", 508503, 43517, 60), // 22
    city("CH", "Geneva", "GE", "EU", "Europe/Zurich", 462044, 61432, 60),              // 23
    city("FR", "Auvergne-Rhone-Alpes", "ARA", "EU", "Europe/Paris", 457640, 48357, 60), // 24
    city("AT", "Vienna", "9", "EU", "Europe/Vienna", 482082, 163738, 60),              // 25
    city("SK", "Bratislava Region", "BL", "EU", "Europe/Bratislava", 481486, 171077, 60), // 26
    city("DK", "Capital Region", "84", "EU", "Europe/Copenhagen", 556761, 125683, 60), // 27
    city("SE", "Skane County", "M", "EU", "Europe/Stockholm", 556050, 130038, 60),     // 28
    city("AU", "Western Australia", "WA", "OC", "Australia/Perth", -319505, 1158605, 480), // 29
    city("CA", "British Columbia", "BC", "NA", "America/Vancouver", 492827, -1231207, -480), // 30
    city("DE", "Hesse", "HE", "EU", "Europe/Berlin", 501109, 86821, 60),              // 31
    city("RU", "Moscow", "MOW", "EU", "Europe/Moscow", 557558, 376173, 180),           // 32
    city("VN", "Hanoi", "HN", "AS", "Asia/Bangkok", 210278, 1058342, 420),             // 33
    city("US", "Virginia", "VA", "NA", "America/New_York", 390438, -774874, -300),     // 34
    city("RO", "Bucuresti", "B", "EU", "Europe/Bucharest", 444268, 261025, 120),       // 35
];

const HOME_CITIES: usize = 22;
#[rustfmt::skip]
const HOME_WEIGHTS: [u32; HOME_CITIES] = [
    14, 9, 8, 5, 12, 6, 6, 4, 5, 9, 3, 6, 4, 3, 4, 3, 3, 6, 3, 3, 2, 2,
];
/// (a, b): successful logins from a then b are two countries but under 500 km apart.
const NEIGHBOURS: [(usize, usize); 5] = [(9, 14), (23, 24), (25, 26), (27, 28), (22, 11)];
/// (a, b): one country, over 2,500 km apart.
const FAR_APART: [(usize, usize); 4] = [(0, 4), (19, 29), (8, 30), (1, 5)];
const ATTACKER_CITIES: [usize; 6] = [31, 32, 33, 34, 35, 18];

#[rustfmt::skip]
const FIRST: [&str; 64] = [
    "james", "mary", "robert", "patricia", "john", "jennifer", "michael", "linda", "david",
    "elizabeth", "william", "barbara", "richard", "susan", "joseph", "jessica", "thomas",
    "sarah", "charles", "karen", "chris", "lisa", "daniel", "nancy", "matthew", "betty",
    "anthony", "sandra", "mark", "ashley", "paul", "emily", "steven", "donna", "andrew",
    "michelle", "kevin", "carol", "brian", "amanda", "george", "melissa", "timothy",
    "deborah", "ronald", "laura", "jason", "rebecca", "edward", "sharon", "ryan", "cynthia",
    "jacob", "kathleen", "gary", "amy", "nicolas", "angela", "eric", "anna", "stephen",
    "brenda", "priya", "yuki",
];
#[rustfmt::skip]
const LAST: [&str; 80] = [
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis",
    "rodriguez", "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson",
    "thomas", "taylor", "moore", "jackson", "martin", "lee", "perez", "thompson", "white",
    "harris", "sanchez", "clark", "ramirez", "lewis", "robinson", "walker", "young", "allen",
    "king", "wright", "scott", "torres", "nguyen", "hill", "flores", "green", "adams",
    "nelson", "baker", "hall", "rivera", "campbell", "mitchell", "carter", "roberts",
    "dubois", "moreau", "laurent", "muller", "schmidt", "schneider", "fischer", "weber",
    "kowalski", "nowak", "rossi", "russo", "ferrari", "silva", "santos", "oliveira",
    "sato", "suzuki", "tanaka", "patel", "sharma", "singh", "kumar", "murphy", "kelly",
    "obrien", "byrne", "jansen", "devries", "okafor",
];

const UA_MAC_CHROME: &str = r#"{"os":"Mac OS X","minor":"0","os_minor":"15","os_version":"10.15.7","os_major":"10","version":"122.0.0.0","os_patch":"7","patch":"0","os_full":"Mac OS X 10.15.7","major":"122","name":"Chrome","os_name":"Mac OS X","device":"Mac"}"#;
const UA_MAC_FIREFOX: &str = r#"{"os_full":"Mac OS X 10.15","minor":"0","os":"Mac OS X","major":"123","os_minor":"15","os_major":"10","os_version":"10.15","name":"Firefox","os_name":"Mac OS X","device":"Mac","version":"123.0"}"#;
const UA_MAC_SAFARI: &str = r#"{"os":"Mac OS X","minor":"3","os_minor":"15","os_version":"10.15.7","os_major":"10","version":"17.3.1","os_patch":"7","patch":"1","os_full":"Mac OS X 10.15.7","major":"17","name":"Safari","os_name":"Mac OS X","device":"Mac"}"#;
const UA_WIN_EDGE: &str = r#"{"os":"Windows","name":"Edge","major":"122","minor":"0","patch":"0","device":"Other","os_full":"Windows 10","os_name":"Windows","version":"122.0.0.0","os_major":"10","os_version":"10"}"#;
const UA_WIN_CHROME: &str = r#"{"os":"Windows","name":"Chrome","major":"121","minor":"0","patch":"0","device":"Other","os_full":"Windows 10","os_name":"Windows","version":"121.0.0.0","os_major":"10","os_version":"10"}"#;
const UA_LINUX_FIREFOX: &str = r#"{"os_full":"Linux","minor":"0","os":"Linux","major":"115","name":"Firefox","os_name":"Linux","device":"Other","version":"115.0"}"#;
const UA_IPHONE: &str = r#"{"os":"iOS","name":"Mobile Safari","major":"17","minor":"3","device":"iPhone","os_full":"iOS 17.3.1","os_name":"iOS","version":"17.3","os_major":"17","os_minor":"3","os_version":"17.3.1","patch":"","os_patch":"1"}"#;
const UA_CURL: &str = r#"{"patch":"0","os_full":"Other","minor":"4","major":"8","os":"Other","name":"curl","os_name":"Other","device":"Other","version":"8.4.0"}"#;
const UA_OTHER: &str =
    r#"{"os_full":"Other","os":"Other","name":"Other","os_name":"Other","device":"Other"}"#;

/// (user agent, device OS, hostname suffix, weight).
const DEVICES: [(&str, &str, &str, u32); 7] = [
    (UA_MAC_CHROME, "Mac OS X", "-MBP", 30),
    (UA_MAC_FIREFOX, "Mac OS X", "-MAC", 6),
    (UA_MAC_SAFARI, "Mac OS X", "-MBA", 6),
    (UA_WIN_EDGE, "Windows", "-WIN11", 24),
    (UA_WIN_CHROME, "Windows", "-LAPTOP", 20),
    (UA_LINUX_FIREFOX, "Linux", "-UBUNTU", 6),
    (UA_IPHONE, "Mac OS X", "-MBP", 8),
];

/// (display label, name) of SSO applications.
const APPS: [(&str, &str); 14] = [
    ("Google Workspace", "google"),
    ("Slack", "slack"),
    ("Zoom", "zoom"),
    ("Salesforce", "salesforce"),
    ("Atlassian Cloud", "atlassian"),
    ("GitHub", "github"),
    ("AWS IAM Identity Center", "aws"),
    ("Microsoft 365", "office365"),
    ("Zendesk", "zendesk"),
    ("Workday", "workday"),
    ("Box", "box"),
    ("Notion", "notion"),
    ("Figma", "figma"),
    ("1Password", "onepassword"),
];

const USER_GROUPS: [&str; 12] = [
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "IT Admins",
    "Contractors",
    "All Staff",
    "Support",
    "Legal",
    "People Ops",
    "VPN Users",
    "WiFi Users",
];
const SYSTEM_GROUPS: [&str; 6] = [
    "macOS Laptops",
    "Windows Workstations",
    "Linux Servers",
    "Build Agents",
    "Kiosks",
    "Executive Devices",
];
const POLICIES: [(&str, &str); 8] = [
    ("Screen lock - macOS", "screen_lock_darwin"),
    ("FileVault 2", "filevault_darwin"),
    ("BitLocker", "bitlocker_windows"),
    ("Firewall - macOS", "firewall_darwin"),
    ("Windows Update", "windows_update_windows"),
    ("Screen lock - Linux", "screen_lock_linux"),
    ("USB mass storage", "usb_storage_windows"),
    ("Gatekeeper", "gatekeeper_darwin"),
];
const SERVICE_ACCOUNTS: [&str; 10] = [
    "svc-wiki",
    "svc-jenkins",
    "svc-gitlab",
    "svc-jira",
    "svc-confluence",
    "svc-vpn",
    "svc-printer",
    "svc-nextcloud",
    "svc-grafana",
    "svc-backup",
];
const LDAP_CLIENTS: [&str; 5] = [
    "10.20.4.17",
    "10.20.4.18",
    "10.20.7.31",
    "10.30.1.5",
    "172.20.0.12",
];
#[rustfmt::skip]
const SCAN_NAMES: [&str; 24] = [
    "root", "admin", "ubuntu", "test", "oracle", "postgres", "user", "ftp", "git", "pi",
    "deploy", "guest", "www-data", "mysql", "support", "dev", "jenkins", "ansible", "ec2-user",
    "centos", "debian", "nagios", "hadoop", "tomcat",
];

/// First octets of the background ip space; attacker ips use others (`ATTACK_PREFIXES`).
#[rustfmt::skip]
const BG_PREFIXES: [u8; 40] = [
    24, 50, 64, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 86,
    87, 88, 89, 90, 92, 94, 95, 96, 97, 98, 99, 108, 109, 174, 176, 178, 212,
];
const ATTACK_PREFIXES: [u8; 5] = [185, 45, 193, 91, 194];

/// The background ip with index `i`: IPv4 mostly, one in eight IPv6; distinct indices give
/// distinct addresses.
fn bg_ip(i: u64) -> String {
    if mix64(i ^ 0x7f4a) & 7 == 0 {
        return format!(
            "2a02:{:x}:{:x}:{:x}:{:x}::1",
            0x8000 | (i >> 48) & 0x7fff,
            (i >> 32) & 0xffff,
            (i >> 16) & 0xffff,
            i & 0xffff
        );
    }
    let p = BG_PREFIXES[(i % 40) as usize];
    // Multiplying by an odd constant is a bijection on 24 bits.
    let h = ((i / 40).wrapping_mul(0x9e37_79b1)) & 0xff_ffff;
    format!("{p}.{}.{}.{}", h >> 16, (h >> 8) & 255, h & 255)
}

fn attack_ip(n: u64) -> String {
    let p = ATTACK_PREFIXES[(n % 5) as usize];
    let h = ((n / 5 + 1).wrapping_mul(0x2545_f491)) & 0xff_ffff;
    format!("{p}.{}.{}.{}", h >> 16, (h >> 8) & 255, h & 255)
}

// ---------------------------------------------------------------------------------------
// JSON writing

/// Appends one JSON object; keys are written in call order, like DI's own output.
struct J<'a> {
    out: &'a mut Vec<u8>,
    n: usize,
}

impl<'a> J<'a> {
    fn open(out: &'a mut Vec<u8>) -> J<'a> {
        out.push(b'{');
        J { out, n: 0 }
    }
    fn key(&mut self, k: &str) {
        if self.n > 0 {
            self.out.push(b',');
        }
        self.n += 1;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
    }
    fn s(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        write_str(self.out, v);
        self
    }
    /// A value that is already JSON.
    fn raw(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        self.out.extend_from_slice(v.as_bytes());
        self
    }
    fn b(&mut self, k: &str, v: bool) -> &mut Self {
        self.raw(k, if v { "true" } else { "false" })
    }
    fn null(&mut self, k: &str) -> &mut Self {
        self.raw(k, "null")
    }
    fn i(&mut self, k: &str, v: i64) -> &mut Self {
        self.key(k);
        self.out.extend_from_slice(v.to_string().as_bytes());
        self
    }
    fn o(&mut self, k: &str, f: impl FnOnce(&mut J<'_>)) -> &mut Self {
        self.key(k);
        let mut j = J::open(self.out);
        f(&mut j);
        j.out.push(b'}');
        self
    }
    fn close(self) {
        self.out.push(b'}');
    }
}

/// Degrees × 10⁴ as a JSON number with trailing zeros trimmed (`-6.2591`, `42.059`).
fn deg(v: i32) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    let mut s = format!("{sign}{}.{:04}", a / 10_000, a % 10_000);
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    s
}

/// How a service writes the fraction of `timestamp`.
#[derive(Clone, Copy)]
enum Frac {
    /// RADIUS: whole seconds.
    Secs,
    /// Directory and most services: milliseconds, always 3 digits.
    Millis,
    /// SSO, systems, MDM: Go's RFC3339Nano, trailing zeros trimmed (mostly 8 or 9 digits).
    Nanos,
}

impl Frac {
    fn truncate(self, t: i64) -> i64 {
        match self {
            Frac::Secs => t - t.rem_euclid(NANOS),
            Frac::Millis => t - t.rem_euclid(1_000_000),
            Frac::Nanos => t,
        }
    }
}

fn rfc3339(t: i64, frac: Frac) -> String {
    let mut v = Vec::with_capacity(32);
    format_rfc3339(t - t.rem_euclid(NANOS), &mut v);
    v.truncate(19);
    let ns = t.rem_euclid(NANOS);
    match frac {
        Frac::Secs => {}
        Frac::Millis => v.extend_from_slice(format!(".{:03}", ns / 1_000_000).as_bytes()),
        Frac::Nanos if ns > 0 => {
            let mut f = format!(".{ns:09}");
            while f.ends_with('0') {
                f.pop();
            }
            v.extend_from_slice(f.as_bytes());
        }
        Frac::Nanos => {}
    }
    v.push(b'Z');
    String::from_utf8(v).unwrap_or_default()
}

/// Local wall-clock time with its offset, as the agent writes `system_timestamp`.
fn local_time(t: i64, utc_min: i32) -> String {
    let off = i64::from(utc_min) * 60 * NANOS;
    let mut s = rfc3339(t + off, Frac::Secs);
    s.pop();
    let a = utc_min.unsigned_abs();
    s.push_str(&format!(
        "{}{:02}:{:02}",
        if utc_min < 0 { '-' } else { '+' },
        a / 60,
        a % 60
    ));
    s
}

// ---------------------------------------------------------------------------------------
// Entities

/// A directory user, derived from (seed, index) on demand.
struct User {
    name: String,
    id: String,
    city: usize,
    /// Index of the user's device in `DEVICES`.
    dev: usize,
    /// MFA type used on portal logins, `None` when the user has no MFA there.
    portal_mfa: Option<&'static str>,
    sso_mfa: bool,
    host: String,
    sys_id: String,
    lan_ip: String,
    h: u64,
}

/// Single-event rules each template triggers (checked against `catalog.rs` and the cases).
const NONE: &[&str] = &[];

/// One event waiting in the merge queue: ordered by (emit time, sequence number).
struct Pending {
    at: i64,
    seq: u64,
    ts: i64,
    line: Vec<u8>,
}
impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// Window of the background guard: the rules' 600 s windows plus room for reordering.
const GUARD_WINDOW: i64 = 700 * NANOS;
const LOCK_WINDOW: i64 = 1_000 * NANOS;
/// Background lockouts keep this far from a lockout story.
const LOCK_MARGIN: i64 = 1_300 * NANOS;

/// What the generator remembers to keep background traffic under every stateful threshold.
#[derive(Default)]
struct Guard {
    /// Recent background failures by (actor, service) key and by source-ip key:
    /// (event time, actor fingerprint).
    fails: HashMap<u64, Vec<(i64, u64)>, FixedState>,
    lockouts: Vec<i64>,
    /// Spans of lockout stories.
    lock_zones: Vec<(i64, i64)>,
}

impl Guard {
    /// Whether a background failure of `actor` on `service` from `ip` at `t` keeps every
    /// window quiet: < 5 failures per account (we allow 3), < 7 failing accounts per ip
    /// (we allow 3). Any window containing `t` holds only entries within `GUARD_WINDOW` of it.
    fn allow_failure(&mut self, actor: &str, service: &str, ip: Option<&str>, t: i64) -> bool {
        let actor = actor.to_ascii_lowercase();
        let afp = fingerprint(actor.as_bytes());
        let akey = fingerprint(format!("a|{actor}|{service}").as_bytes());
        fn near(v: &[(i64, u64)], t: i64) -> impl Iterator<Item = u64> + '_ {
            v.iter()
                .filter(move |(ts, _)| (ts - t).abs() <= GUARD_WINDOW)
                .map(|&(_, fp)| fp)
        }
        if self.fails.get(&akey).map_or(0, |v| near(v, t).count()) >= 3 {
            return false;
        }
        let ikey = ip.map(|ip| fingerprint(format!("i|{ip}").as_bytes()));
        if let Some(ik) = ikey {
            if let Some(v) = self.fails.get(&ik) {
                let mut others: Vec<u64> = near(v, t).filter(|&fp| fp != afp).collect();
                others.sort_unstable();
                others.dedup();
                if others.len() >= 3 {
                    return false;
                }
            }
        }
        self.fails.entry(akey).or_default().push((t, afp));
        if let Some(ik) = ikey {
            self.fails.entry(ik).or_default().push((t, afp));
        }
        true
    }

    /// At most 2 background lockouts in any `LOCK_WINDOW`, none near a lockout story.
    fn allow_lockout(&mut self, t: i64) -> bool {
        let near = self
            .lockouts
            .iter()
            .filter(|&&x| (x - t).abs() <= LOCK_WINDOW)
            .count();
        let zoned = self
            .lock_zones
            .iter()
            .any(|&(s, e)| t >= s - LOCK_MARGIN && t <= e + LOCK_MARGIN);
        if near >= 2 || zoned {
            return false;
        }
        self.lockouts.push(t);
        true
    }

    fn last_lockout(&self) -> Option<i64> {
        self.lockouts.iter().copied().max()
    }

    /// Forget what no future event can reach.
    fn prune(&mut self, now: i64) {
        let horizon = now - 2 * GUARD_WINDOW - 120 * NANOS;
        self.fails.retain(|_, v| {
            v.retain(|&(t, _)| t >= horizon);
            !v.is_empty()
        });
        let lh = now - 2 * LOCK_WINDOW - 120 * NANOS;
        self.lockouts.retain(|&t| t >= lh);
    }
}

// ---------------------------------------------------------------------------------------
// Stories

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Spray,
    Stuffing,
    Brute,
    BruteOnly,
    Lockout,
    AdminCountry,
    UserCountry,
    Travel,
    SsoBurst,
    MfaBypass,
}

const KINDS: [Kind; 10] = [
    Kind::Spray,
    Kind::Stuffing,
    Kind::Brute,
    Kind::BruteOnly,
    Kind::Lockout,
    Kind::AdminCountry,
    Kind::UserCountry,
    Kind::Travel,
    Kind::SsoBurst,
    Kind::MfaBypass,
];

/// A planned story: its size and variant are fixed before generation starts so the number
/// of background events is known.
#[derive(Debug, Clone)]
struct Story {
    kind: Kind,
    index: u32,
    /// Main count (accounts, failures) of the story.
    n: u32,
    variant: u64,
    events: u32,
}

/// Login channels a story can use: (event type, service).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chan {
    Portal,
    Sso,
    Radius,
    Device,
    Ldap,
}

impl Chan {
    fn service(self) -> &'static str {
        match self {
            Chan::Portal => "directory",
            Chan::Sso => "sso",
            Chan::Radius => "radius",
            Chan::Device => "systems",
            Chan::Ldap => "ldap",
        }
    }
    fn event_type(self) -> &'static str {
        match self {
            Chan::Portal => "user_login_attempt",
            Chan::Sso => "sso_auth",
            Chan::Radius => "radius_auth_attempt",
            Chan::Device => "login_attempt",
            Chan::Ldap => "ldap_bind",
        }
    }
}

/// A story event: (time, service, event type, single-event rules it fires, line).
type StoryEvent = (
    i64,
    &'static str,
    &'static str,
    &'static [&'static str],
    Vec<u8>,
);

/// A login as a template needs it.
struct Login<'a> {
    chan: Chan,
    user: &'a User,
    ok: bool,
    mfa: bool,
    ip: String,
    city: usize,
    /// Coordinates jitter seed (0 = exact city coordinates).
    jitter: u64,
    t: i64,
}

// ---------------------------------------------------------------------------------------
// The generator

struct Gen<'c> {
    cfg: &'c GenConfig,
    rng: Rng,
    seed_h: u64,
    org: String,
    domain: &'static str,
    clock: i64,
    /// Mean gap between background units at the nominal rate, ns.
    mean_gap: i64,
    seq: u64,
    bg_events: u64,
    heap: BinaryHeap<Reverse<Pending>>,
    guard: Guard,
    truth: Truth,
    max_ts: i64,
    victims: u64,
    attack_ips: u64,
    last_lock_story_end: i64,
    per_city: u64,
    cert: String,
}

impl<'c> Gen<'c> {
    fn new(cfg: &'c GenConfig) -> Gen<'c> {
        let seed_h = mix64(cfg.seed ^ 0x6a63_6765_6e00);
        let per_day = u64::from(cfg.users) * u64::from(cfg.events_per_user_day);
        let mean_gap = (86_400 * NANOS as u64 / per_day.max(1)).max(1_000) as i64;
        let mut rng = Rng(seed_h);
        // One certificate-like base64 blob, repeated as in the real ProfileList event.
        const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut cert = String::from("MIIDtzCCAp+gAwIBAgIQ");
        while cert.len() < 1_274 {
            cert.push(B64[rng.below(64) as usize] as char);
        }
        cert.push_str("==");
        Gen {
            cfg,
            rng,
            seed_h,
            org: hex24(h2(seed_h, 1), h2(seed_h, 2)),
            domain: "northwind-labs.example",
            clock: cfg.start,
            mean_gap,
            seq: 0,
            bg_events: 0,
            heap: BinaryHeap::new(),
            guard: Guard::default(),
            truth: Truth {
                seed: cfg.seed,
                first_time: i64::MAX,
                last_time: i64::MIN,
                ..Truth::default()
            },
            max_ts: i64::MIN,
            victims: 0,
            attack_ips: 0,
            last_lock_story_end: i64::MIN / 2,
            per_city: (cfg.ips / HOME_CITIES as u64).max(1),
            cert,
        }
    }

    /// Decide every story (kind, size, variant) up front, in a shuffled order.
    fn plan(&self) -> Vec<Story> {
        let mut r = Rng(mix64(self.seed_h ^ 0x0053_544f_5259));
        let mut kinds: Vec<Kind> = Vec::new();
        for (k, &n) in KINDS.iter().zip(self.cfg.attacks.counts().iter()) {
            kinds.extend(std::iter::repeat_n(*k, n as usize));
        }
        for i in (1..kinds.len()).rev() {
            kinds.swap(i, r.below(i as u64 + 1) as usize);
        }
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| {
                let variant = r.next_u64();
                let (n, events) = match kind {
                    Kind::Spray => {
                        let n = r.range(18, 30) as u32;
                        (n, n)
                    }
                    Kind::Stuffing => {
                        let n = r.range(8, 12) as u32;
                        (n, n + 1)
                    }
                    Kind::Brute => {
                        // SSO keeps to 5 failures: 6 would be an SSO burst as well.
                        let n = if brute_chan(variant) == Chan::Sso {
                            5
                        } else {
                            r.range(5, 7) as u32
                        };
                        (n, n + 1)
                    }
                    Kind::BruteOnly => {
                        let n = r.range(5, 9) as u32;
                        (n, n)
                    }
                    Kind::Lockout => {
                        let n = r.range(3, 5) as u32;
                        (n, 3 * n)
                    }
                    Kind::AdminCountry | Kind::UserCountry | Kind::Travel | Kind::MfaBypass => {
                        (2, 2)
                    }
                    Kind::SsoBurst => {
                        let n = r.range(6, 9) as u32;
                        (n, n)
                    }
                };
                Story {
                    kind,
                    index: i as u32,
                    n,
                    variant,
                    events,
                }
            })
            .collect()
    }

    // --- time and output ---------------------------------------------------------------

    /// Advance the background clock: jittered gaps around a daily curve (busiest when
    /// Europe and the Americas overlap).
    fn advance(&mut self) {
        const CURVE: [i64; 24] = [
            45, 40, 35, 35, 40, 55, 80, 110, 135, 150, 155, 155, 150, 160, 170, 170, 160, 145, 120,
            100, 85, 70, 60, 50,
        ];
        let hour = (self.clock.div_euclid(3_600 * NANOS)).rem_euclid(24) as usize;
        let mean = self.mean_gap * 100 / CURVE[hour];
        self.clock += 1 + self.rng.below(2 * mean as u64) as i64;
    }

    /// Queue one event. `at` orders the output; `ts` is the written timestamp (earlier than
    /// `at` for an out-of-order background event).
    fn push(
        &mut self,
        at: i64,
        ts: i64,
        service: &'static str,
        et: &'static str,
        rules: &[&'static str],
        line: Vec<u8>,
    ) {
        *self.truth.event_types.entry(et).or_default() += 1;
        *self.truth.services.entry(service).or_default() += 1;
        for r in rules {
            *self.truth.single.entry(r).or_default() += 1;
        }
        self.seq += 1;
        self.heap.push(Reverse(Pending {
            at,
            seq: self.seq,
            ts,
            line,
        }));
    }

    fn flush_until(&mut self, t: i64, sink: &mut impl FnMut(&[u8])) {
        while self.heap.peek().is_some_and(|p| p.0.at <= t) {
            let Some(Reverse(mut p)) = self.heap.pop() else {
                break;
            };
            if p.ts < self.max_ts.saturating_sub(NANOS) {
                self.truth.out_of_order += 1;
            }
            self.max_ts = self.max_ts.max(p.ts);
            self.truth.first_time = self.truth.first_time.min(p.ts);
            self.truth.last_time = self.truth.last_time.max(p.ts);
            p.line.push(b'\n');
            self.truth.lines += 1;
            self.truth.bytes += p.line.len() as u64;
            self.truth.max_line_bytes = self.truth.max_line_bytes.max(p.line.len() as u64);
            sink(&p.line);
        }
    }

    /// The written time of a background event planned at `at`: sometimes up to 60 s early,
    /// which is how a late delivery looks in the stream.
    fn bg_time(&mut self, at: i64, frac: Frac) -> i64 {
        let t = if self.rng.chance(self.cfg.out_of_order) {
            at - self.rng.secs(1, 60)
        } else {
            at
        };
        frac.truncate(t)
    }

    // --- entities ----------------------------------------------------------------------

    fn user(&self, u: u64) -> User {
        let h = h2(self.seed_h, u);
        let mut name = format!(
            "{}.{}",
            FIRST[(u % 64) as usize],
            LAST[((u / 64) % 80) as usize]
        );
        if u >= 64 * 80 {
            name.push_str(&(u / (64 * 80)).to_string());
        }
        let w = |x: u64, ws: &[u32]| {
            let total: u64 = ws.iter().map(|&v| u64::from(v)).sum();
            let mut r = x % total;
            for (i, &v) in ws.iter().enumerate() {
                if r < u64::from(v) {
                    return i;
                }
                r -= u64::from(v);
            }
            0
        };
        let city = w(h >> 8, &HOME_WEIGHTS);
        let dev_w: Vec<u32> = DEVICES.iter().map(|d| d.3).collect();
        let dev = w(h >> 20, &dev_w);
        let portal_mfa = match (h >> 36) % 100 {
            0..=59 => Some("totp"),
            60..=79 => Some("duo"),
            _ => None,
        };
        let first = name.as_bytes()[0].to_ascii_uppercase() as char;
        let last: String = name
            .split('.')
            .nth(1)
            .unwrap_or("")
            .chars()
            .filter(char::is_ascii_alphabetic)
            .collect::<String>()
            .to_ascii_uppercase();
        let lan_ip = if (h >> 44) & 1 == 0 {
            format!(
                "192.168.{}.{}",
                [0, 1, 1, 1, 10, 50, 86, 178][((h >> 45) & 7) as usize],
                2 + (h >> 48) % 250
            )
        } else {
            format!(
                "10.{}.{}.{}",
                10 + (h >> 45) % 20,
                (h >> 50) % 64,
                2 + (h >> 56) % 250
            )
        };
        User {
            id: hex24(h2(h, 11), h2(h, 12)),
            city,
            dev,
            portal_mfa,
            sso_mfa: (h >> 40) % 10 == 0,
            host: format!("{first}{last}{}", DEVICES[dev].2),
            sys_id: hex24(h2(h, 13), h2(h, 14)),
            lan_ip,
            name,
            h,
        }
    }

    /// A fresh account that no background event uses.
    fn victim(&mut self, city: usize) -> User {
        self.victims += 1;
        let mut u = self.user(10_000_000 + self.victims);
        u.city = city;
        u
    }

    fn fresh_attack_ip(&mut self) -> String {
        self.attack_ips += 1;
        attack_ip(self.attack_ips)
    }

    /// A background ip of the user: one of 3 home ips, or a roaming draw from its city.
    fn user_ip(&mut self, u: &User) -> (String, u64) {
        let r = if self.rng.chance(self.cfg.roaming) {
            self.rng.below(self.per_city)
        } else {
            h2(u.h, 100 + self.rng.below(3)) % self.per_city
        };
        let i = u.city as u64 + HOME_CITIES as u64 * r;
        (bg_ip(i), i)
    }

    fn pick_user(&mut self) -> User {
        // Activity is skewed: low indices log in more.
        let n = u64::from(self.cfg.users);
        let a = self.rng.below(n);
        let u = if self.rng.chance(0.5) {
            a.min(self.rng.below(n))
        } else {
            a
        };
        self.user(u)
    }

    fn pick_admin(&mut self) -> User {
        let u = self.rng.below(u64::from(self.cfg.admins));
        self.user(u)
    }

    fn admin_email(&self, u: &User) -> String {
        format!("{}@{}", u.name, self.domain)
    }

    /// Admins without console MFA (about 1 in 12): their successful logins raise
    /// `admin_login_without_mfa`.
    fn admin_mfa(&self, u: &User) -> bool {
        (u.h >> 52) % 12 != 0
    }

    fn oid(&mut self, t: i64) -> String {
        format!(
            "{:08x}{:016x}",
            (t.div_euclid(NANOS)) as u32,
            self.rng.next_u64()
        )
    }

    fn uuid_upper(&mut self) -> String {
        let a = self.rng.next_u64();
        let b = self.rng.next_u64();
        format!(
            "{:08X}-{:04X}-3{:03X}-{:04X}-{:012X}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }

    fn geo(&self, j: &mut J<'_>, city: usize, jitter: u64) {
        let c = &CITIES[city];
        // ±0.25° (under ~40 km): ips of one city differ a little, never enough to travel.
        let (dlat, dlon) = if jitter == 0 {
            (0, 0)
        } else {
            let h = mix64(jitter);
            ((h % 5001) as i32 - 2500, ((h >> 20) % 5001) as i32 - 2500)
        };
        j.o("geoip", |g| {
            g.s("country_code", c.cc)
                .s("timezone", c.tz)
                .raw("latitude", &deg(c.lat + dlat))
                .s("continent_code", c.continent)
                .s("region_name", c.region)
                .raw("longitude", &deg(c.lon + dlon))
                .s("region_code", c.region_code);
        });
    }

    fn envelope_tail(&mut self, j: &mut J<'_>, ip: Option<&str>, t: i64, frac: Frac) {
        j.s("organization", &self.org.clone()).s("@version", "1");
        if let Some(ip) = ip {
            j.s("client_ip", ip);
        }
        let id = self.oid(t);
        j.s("id", &id).s("timestamp", &rfc3339(t, frac));
    }

    // --- logins ------------------------------------------------------------------------

    /// Render a login of any channel.
    fn login_line(&mut self, l: &Login<'_>) -> Vec<u8> {
        let mut out = Vec::with_capacity(900);
        let u = l.user;
        let frac = match l.chan {
            Chan::Radius => Frac::Secs,
            Chan::Sso | Chan::Device => Frac::Nanos,
            Chan::Portal | Chan::Ldap => Frac::Millis,
        };
        let mut j = J::open(&mut out);
        match l.chan {
            Chan::Portal => {
                j.o("initiated_by", |i| {
                    i.s("id", &u.id).s("type", "user").s("username", &u.name);
                });
                self.geo(&mut j, l.city, l.jitter);
                j.raw("useragent", DEVICES[u.dev].0);
                let mfa_type = if l.ok && l.mfa {
                    u.portal_mfa.unwrap_or("totp")
                } else {
                    "none"
                };
                j.b("mfa", l.ok && l.mfa)
                    .o("mfa_meta", |m| {
                        m.s("type", mfa_type);
                    })
                    .s("auth_method", "password")
                    .s("event_type", "user_login_attempt")
                    .null("provider")
                    .s("service", "directory")
                    .b("success", l.ok)
                    .s("client_ip", &l.ip);
                let id = self.oid(l.t);
                j.s("id", &id)
                    .s("timestamp", &rfc3339(l.t, frac))
                    .s(
                        "error_message",
                        if l.ok {
                            ""
                        } else {
                            "invalid username or password"
                        },
                    )
                    .s("organization", &self.org)
                    .s("@version", "1");
            }
            Chan::Sso => {
                let app = APPS[(mix64(u.h ^ l.t as u64) % APPS.len() as u64) as usize];
                j.o("initiated_by", |i| {
                    i.s("id", &u.id).s("type", "user").s("username", &u.name);
                });
                j.s(
                    "error_message",
                    if l.ok {
                        ""
                    } else {
                        ["invalid credentials", "not authorized", "user locked"]
                            [(l.t as u64 % 3) as usize]
                    },
                );
                self.geo(&mut j, l.city, l.jitter);
                j.b("sso_token_success", l.ok)
                    .raw("useragent", DEVICES[u.dev].0);
                let (os, host, sys) = (DEVICES[u.dev].1, u.host.as_str(), u.sys_id.as_str());
                // Only logins from a managed device carry the device; only some successes
                // list the policies that allowed them.
                let managed = (u.h >> 30) % 100 < 45;
                j.o("auth_context", |a| {
                    if managed {
                        a.o("system", |s| {
                            s.s("hostname", host)
                                .s("os", os)
                                .s("displayName", host)
                                .s("id", sys)
                                .s("version", if os == "Windows" { "11 Pro" } else { "14.4" });
                        });
                    }
                    a.raw("auth_methods", "{}");
                    if l.ok && l.t % 2 == 0 {
                        a.raw("policies_applied", r#"[{"metadata":{"resource_type":"APPLICATION","action":"ALLOW"},"name":"Global Policy","id":""}]"#);
                    }
                });
                j.b("mfa", l.ok && l.mfa);
                if l.mfa && l.ok {
                    j.raw("mfa_meta", r#"{"type":"totp"}"#);
                }
                let app_id = hex24(
                    h2(self.seed_h, 7_000 + app.1.len() as u64),
                    mix64(app.1.as_bytes()[0] as u64),
                );
                j.s("event_type", "sso_auth")
                    .o("application", |a| {
                        a.s("display_label", app.0)
                            .s("sso_type", "saml")
                            .s("name", app.1)
                            .s("id", &app_id)
                            .s(
                                "sso_url",
                                &format!("https://sso.jumpcloud.com/saml2/{}", app.1),
                            );
                    })
                    .s("provider", "")
                    .s("service", "sso")
                    .s("organization", &self.org)
                    .s("@version", "1")
                    .s("client_ip", &l.ip);
                let id = self.oid(l.t);
                j.s("id", &id)
                    .b("idp_initiated", l.t % 5 == 0)
                    .s("timestamp", &rfc3339(l.t, frac));
            }
            Chan::Radius => {
                const BAD: &str = "mschap: MS-CHAP2-Response is incorrect";
                if l.ok {
                    j.null("error_message");
                } else {
                    j.s("error_message", BAD);
                }
                j.o("initiated_by", |i| {
                    i.s("type", "user").s("username", &u.name);
                })
                .s("auth_type", "eap")
                .s("nas_mfa_state", "DISABLED");
                self.geo(&mut j, l.city, l.jitter);
                j.s("eap_type", "MSCHAPv2").o("outer", |o| {
                    if l.ok {
                        o.null("error_message");
                    } else {
                        o.s("error_message", &format!("eap_peap: The users session was previously rejected: returning reject (again.), eap: Failed continuing EAP PEAP (25) session.  EAP sub-module failed: {BAD}"));
                    }
                    o.s("eap_type", "PEAP").s("username", &u.name);
                });
                j.b("mfa", false)
                    .raw("mfa_meta", r#"{"type":"none"}"#)
                    .raw("auth_meta", r#"{"user_password_enabled":true,"device_cert_enabled":false,"user_cert_enabled":false,"auth_idp":"JUMPCLOUD","userid_type":"USERNAME"}"#)
                    .s("event_type", "radius_auth_attempt")
                    .b("success", l.ok)
                    .s("service", "radius")
                    .s("client_ip", &l.ip);
                let id = self.uuid_upper();
                j.s("id", &id)
                    .s("timestamp", &rfc3339(l.t, frac))
                    .s("username", &u.name)
                    .s("organization", &self.org)
                    .s("@version", "1");
            }
            Chan::Ldap => {
                let dn = format!("uid={},ou=Users,o={},dc=jumpcloud,dc=com", u.name, self.org);
                j.s("auth_method", "simple").s("dn", &dn);
                if l.ok {
                    j.null("error_message");
                } else {
                    j.s(
                        "error_message",
                        "LDAP Result Code 49 \"Invalid Credentials\": ",
                    );
                }
                j.s("event_type", "ldap_bind")
                    .s("service", "ldap")
                    .b("success", l.ok)
                    .b("mfa", false)
                    .s("username", &u.name)
                    .s("client_ip", &l.ip);
                let id = self.oid(l.t);
                j.s("id", &id)
                    .o("initiated_by", |i| {
                        i.s("type", "user").s("username", &u.name);
                    })
                    .s("timestamp", &rfc3339(l.t, frac))
                    .s("organization", &self.org)
                    .s("@version", "1");
            }
            Chan::Device => {
                let (os, host, sys) = (DEVICES[u.dev].1, u.host.clone(), u.sys_id.clone());
                j.o("system", |s| {
                    s.s("id", &sys).s("hostname", &host).s("displayName", &host);
                });
                self.geo(&mut j, l.city, l.jitter);
                let (proc_, method) =
                    match (os, l.ip.starts_with("192.168.") || l.ip.starts_with("10.")) {
                        ("Windows", true) => ("winlogon.exe", "password"),
                        ("Mac OS X", true) => ("loginwindow", "password"),
                        _ => (
                            "sshd",
                            if l.ok && l.t % 3 != 0 {
                                "publickey"
                            } else {
                                "password"
                            },
                        ),
                    };
                let msg = if l.ok {
                    format!("Accepted {method} for {}", u.name)
                } else if proc_ == "sshd" {
                    format!(
                        "Failed password for {} from {} port {} ssh2",
                        u.name,
                        l.ip,
                        30_000 + l.t.rem_euclid(30_000)
                    )
                } else {
                    format!("Authentication failed for {}", u.name)
                };
                let home_ip =
                    bg_ip(u.city as u64 + HOME_CITIES as u64 * (h2(u.h, 100) % self.per_city));
                j.s("event_type", "login_attempt")
                    .s("service", "systems")
                    .s("username", &u.name)
                    .s("organization", &self.org)
                    .s("@version", "1")
                    .s("client_ip", &home_ip)
                    .s("src_ip", &l.ip)
                    .b("success", l.ok)
                    .s("process_name", proc_)
                    .s("auth_method", method)
                    .s("message", &msg)
                    .s("system_timestamp", &local_time(l.t, CITIES[l.city].utc_min));
                let id = self.oid(l.t);
                j.s("id", &id).s("timestamp", &rfc3339(l.t, frac));
            }
        }
        j.close();
        out
    }

    /// Admin console login (modern shape, or 1 in 20 the legacy one with the admin in
    /// `resource`, `country_code2` and no coordinates).
    #[allow(clippy::too_many_arguments)]
    fn admin_login_line(
        &mut self,
        email: &str,
        admin_id: &str,
        city: usize,
        ip: &str,
        ok: bool,
        mfa: bool,
        jitter: u64,
        legacy: bool,
        t: i64,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(800);
        let mut j = J::open(&mut out);
        let mfa = ok && mfa;
        let ua = if jitter % 3 == 0 {
            UA_MAC_CHROME
        } else {
            UA_WIN_EDGE
        };
        if legacy {
            let c = &CITIES[city];
            j.o("geoip", |g| {
                g.s("timezone", c.tz)
                    .s("country_code2", c.cc)
                    .s("continent_code", c.continent)
                    .s("region_name", c.region)
                    .s("region_code", c.region_code);
            })
            .s("event_type", "admin_login_attempt")
            .o("resource", |r| {
                r.s("id", admin_id).s("type", "admin").s("email", email);
            })
            .null("provider")
            .b("success", ok)
            .s("organization", &self.org)
            .s("@version", "1")
            .b("mfa", mfa)
            .s("client_ip", ip);
            let id = self.oid(t);
            j.s("id", &id)
                .raw("useragent", ua)
                .s("timestamp", &rfc3339(t, Frac::Millis));
        } else {
            j.o("initiated_by", |i| {
                i.s("id", admin_id).s("type", "admin").s("email", email);
            });
            self.geo(&mut j, city, jitter);
            j.raw("useragent", ua)
                .b("mfa", mfa)
                .raw(
                    "mfa_meta",
                    if mfa {
                        r#"{"type":"totp"}"#
                    } else {
                        r#"{"type":"none"}"#
                    },
                )
                .s("event_type", "admin_login_attempt")
                .null("provider")
                .s("service", "directory")
                .b("success", ok);
            self.envelope_tail(&mut j, Some(ip), t, Frac::Millis);
        }
        j.close();
        out
    }

    // --- background ----------------------------------------------------------------------

    /// One unit of background activity at the clock: a login (maybe with a few failures
    /// first), or one other event. Writes at most `budget` events.
    fn background_unit(&mut self, budget: u64) {
        // Weights per 10,000 background units.
        const W: [u32; 16] = [
            1_400, // 0 portal login
            1_900, // 1 sso
            850,   // 2 radius
            1_750, // 3 ldap bind / search (service accounts bind all day)
            1_400, // 4 device login
            60,    // 5 internet ssh scanner
            150,   // 6 admin console login
            420,   // 7 user update (admin or SCIM)
            260,   // 8 association change
            300,   // 9 other directory change
            300,   // 10 device events (systems, directory system_*)
            150,   // 11 mdm
            360,   // 12 password manager / vault, software
            250,   // 13 other services and undocumented types
            12,    // 14 lockout (guarded)
            10,    // 15 rare sensitive changes
        ];
        let t = self.clock;
        match self.rng.weighted(&W) {
            0 => self.bg_login(Chan::Portal, budget),
            1 => self.bg_login(Chan::Sso, budget),
            2 => self.bg_login(Chan::Radius, budget),
            3 => {
                if self.rng.chance(0.3) {
                    self.bg_ldap_search(t)
                } else {
                    self.bg_login(Chan::Ldap, budget)
                }
            }
            4 => self.bg_login(Chan::Device, budget),
            5 => self.bg_scanner(t),
            6 => self.bg_admin_login(budget),
            7 => self.bg_user_update(t),
            8 => self.bg_association(t),
            9 => self.bg_directory_change(t),
            10 => self.bg_device_event(t),
            11 => self.bg_mdm(t),
            12 => self.bg_app_event(t),
            13 => self.bg_other_service(t),
            14 => self.bg_lockout(t),
            _ => self.bg_rare(t),
        }
    }

    fn count_bg(&mut self, n: u64) {
        self.bg_events += n;
    }

    /// A user's login: usually one success; sometimes 1–3 failures (a mistyped password)
    /// a few seconds apart, then usually a success.
    fn bg_login(&mut self, chan: Chan, budget: u64) {
        let mut user = self.pick_user();
        let (ip, ip_i) = match chan {
            Chan::Ldap => {
                if self.rng.chance(0.8) {
                    let s = *self.rng.pick(&SERVICE_ACCOUNTS);
                    user.name = s.to_string();
                }
                (self.rng.pick(&LDAP_CLIENTS).to_string(), 0)
            }
            Chan::Device if self.rng.chance(0.85) => (user.lan_ip.clone(), 0),
            _ => self.user_ip(&user),
        };
        let mfa = match chan {
            Chan::Portal => user.portal_mfa.is_some(),
            Chan::Sso => user.sso_mfa,
            _ => false,
        };
        let fail_rate = match chan {
            Chan::Portal => 0.06,
            Chan::Sso => 0.04,
            Chan::Radius => 0.07,
            Chan::Device => 0.05,
            Chan::Ldap => 0.015,
        };
        let mut t = self.clock;
        let mut n = 0u64;
        if budget >= 4 && self.rng.chance(fail_rate) {
            let k = [1, 1, 1, 1, 1, 1, 1, 2, 2, 3][self.rng.below(10) as usize];
            for _ in 0..k {
                let frac = chan_frac(chan);
                let ts = self.bg_time(t, frac);
                let svc = chan.service();
                if self.guard.allow_failure(&user.name, svc, Some(&ip), ts) {
                    let l = Login {
                        chan,
                        user: &user,
                        ok: false,
                        mfa,
                        ip: ip.clone(),
                        city: user.city,
                        jitter: ip_i + 1,
                        t: ts,
                    };
                    let line = self.login_line(&l);
                    self.push(t, ts, svc, chan.event_type(), NONE, line);
                    n += 1;
                }
                t += self.rng.secs(4, 40);
            }
            if self.rng.chance(0.1) {
                self.count_bg(n);
                return; // gave up
            }
        }
        let frac = chan_frac(chan);
        let ts = self.bg_time(t, frac);
        let l = Login {
            chan,
            user: &user,
            ok: true,
            mfa,
            ip,
            city: user.city,
            jitter: ip_i + 1,
            t: ts,
        };
        let line = self.login_line(&l);
        self.push(t, ts, chan.service(), chan.event_type(), NONE, line);
        self.count_bg(n + 1);
    }

    /// Internet noise against ssh: a failed device login for a common name from a random ip.
    fn bg_scanner(&mut self, t: i64) {
        let name = *self.rng.pick(&SCAN_NAMES);
        let city = ATTACKER_CITIES[self.rng.below(ATTACKER_CITIES.len() as u64) as usize];
        let i = self.rng.below(self.cfg.ips.max(1) * 64);
        let ip = bg_ip(i);
        let ts = self.bg_time(t, Frac::Nanos);
        let hi = self.rng.below(u64::from(self.cfg.users));
        let host = self.user(hi);
        if !self.guard.allow_failure(name, "systems", Some(&ip), ts) {
            return self.bg_login(Chan::Device, 1);
        }
        let mut u = host;
        u.name = name.to_string();
        u.dev = 5; // Linux server
        let l = Login {
            chan: Chan::Device,
            user: &u,
            ok: false,
            mfa: false,
            ip,
            city,
            jitter: i + 1,
            t: ts,
        };
        let line = self.login_line(&l);
        self.push(t, ts, "systems", "login_attempt", NONE, line);
        self.count_bg(1);
    }

    fn bg_admin_login(&mut self, budget: u64) {
        let a = self.pick_admin();
        let email = self.admin_email(&a);
        let admin_id = hex24(h2(a.h, 21), h2(a.h, 22));
        let mfa = self.admin_mfa(&a);
        let legacy = self.rng.chance(0.05);
        let (ip, ip_i) = self.user_ip(&a);
        let mut t = self.clock;
        let mut n = 0;
        if budget >= 3 && self.rng.chance(0.03) {
            let ts = self.bg_time(t, Frac::Millis);
            let svc = if legacy { "" } else { "directory" };
            if self.guard.allow_failure(&email, svc, Some(&ip), ts) {
                let line = self.admin_login_line(
                    &email,
                    &admin_id,
                    a.city,
                    &ip,
                    false,
                    mfa,
                    ip_i + 1,
                    legacy,
                    ts,
                );
                self.push(t, ts, svc_of(legacy), "admin_login_attempt", NONE, line);
                n += 1;
            }
            t += self.rng.secs(5, 30);
        }
        let ts = self.bg_time(t, Frac::Millis);
        let line = self.admin_login_line(
            &email,
            &admin_id,
            a.city,
            &ip,
            true,
            mfa,
            ip_i + 1,
            legacy,
            ts,
        );
        let rules: &[&str] = if mfa {
            NONE
        } else {
            &["admin_login_without_mfa"]
        };
        self.push(t, ts, svc_of(legacy), "admin_login_attempt", rules, line);
        self.count_bg(n + 1);
    }

    /// The common head of an admin-made directory change: who, from where, with what.
    /// SCIM provisioning (1 in 4) comes from the identity provider's ip with curl.
    fn admin_head(&mut self, j: &mut J<'_>, scim: bool) -> (String, bool) {
        let a = self.pick_admin();
        let email = self.admin_email(&a);
        let admin_id = hex24(h2(a.h, 21), h2(a.h, 22));
        if scim {
            j.o("initiated_by", |i| {
                i.s("source", "scim")
                    .s("id", &admin_id)
                    .s("type", "admin")
                    .s("email", &email);
            });
            self.geo(j, 10, 0);
            j.raw("useragent", UA_CURL);
            (bg_ip(10 + HOME_CITIES as u64 * 7), true)
        } else {
            j.o("initiated_by", |i| {
                i.s("id", &admin_id).s("type", "admin").s("email", &email);
            });
            let (ip, i) = self.user_ip(&a);
            self.geo(j, a.city, i + 1);
            // Some admins script the API with their key (the "Other" agent of the samples).
            let api = a.h % 7 == 0;
            let ua = match (api, a.h & 1) {
                (true, _) => UA_OTHER,
                (false, 0) => UA_MAC_CHROME,
                _ => UA_WIN_EDGE,
            };
            j.raw("useragent", ua);
            (ip, api)
        }
    }

    fn directory_tail(&mut self, j: &mut J<'_>, api: bool, et: &str, ip: &str, t: i64) {
        j.s("auth_method", if api { "api key" } else { "session" })
            .s("event_type", et)
            .null("provider")
            .s("service", "directory")
            .b("success", true);
        self.envelope_tail(j, Some(ip), t, Frac::Millis);
    }

    fn user_resource(&self, j: &mut J<'_>, u: &User) {
        let email = format!("{}@{}", u.name, self.domain);
        j.o("resource", |r| {
            r.s("id", &u.id)
                .s("type", "user")
                .s("username", &u.name)
                .s("email", &email);
        });
    }

    fn bg_user_update(&mut self, t: i64) {
        let ts = self.bg_time(t, Frac::Millis);
        let target = self.pick_user();
        let scim = self.rng.chance(0.25);
        let provision = scim && self.rng.chance(0.5);
        let mut out = Vec::with_capacity(1200);
        let mut j = J::open(&mut out);
        let (ip, api) = self.admin_head(&mut j, scim);
        self.user_resource(&mut j, &target);
        let mut rules: &[&str] = &["user_updated"];
        let oid1 = hex24(self.rng.next_u64(), self.rng.next_u64());
        let oid2 = hex24(self.rng.next_u64(), self.rng.next_u64());
        let depts = [
            "Engineering",
            "Sales",
            "Marketing",
            "Finance",
            "Support",
            "Operations",
        ];
        let (d1, d2) = (*self.rng.pick(&depts), *self.rng.pick(&depts));
        let changes = match self.rng.below(100) {
            0..=19 => format!(
                r#"[{{"field":"attributes","from":[{{"name":"Division","id":"{oid1}","_id":"{oid1}","value":"{d1}"}}],"to":[{{"name":"Division","id":"{oid2}","_id":"{oid2}","value":"{d2}"}}]}}]"#
            ),
            20..=23 => {
                let c = &CITIES[target.city];
                format!(
                    r#"[{{"field":"addresses","from":[{{"country":"{cc}","poBox":"","streetAddress":"","postalCode":"","locality":"","id":"{oid1}","_id":"{oid1}","region":"","extendedAddress":"","type":"home"}},{{"country":"{cc}","poBox":"","streetAddress":"{n} Market Street","postalCode":"{p}","locality":"{r}","id":"{oid1}","_id":"{oid1}","region":"{rc}","extendedAddress":"","type":"work"}}],"to":[{{"country":"{cc}","poBox":"","streetAddress":"","postalCode":"","locality":"","id":"{oid2}","_id":"{oid2}","region":"","extendedAddress":"","type":"home"}},{{"country":"{cc}","poBox":"","streetAddress":"{n2} Market Street","postalCode":"{p}","locality":"{r}","id":"{oid2}","_id":"{oid2}","region":"{rc}","extendedAddress":"","type":"work"}}]}},{{"field":"location","from":"{r}","to":"{r} HQ"}}]"#,
                    cc = c.cc,
                    r = c.region,
                    rc = c.region_code,
                    n = 10 + t % 90,
                    n2 = 100 + t % 90,
                    p = 10_000 + t.rem_euclid(80_000)
                )
            }
            24..=49 => format!(
                r#"[{{"field":"department","from":"{d1}","to":"{d2}"}},{{"field":"jobTitle","from":"Associate","to":"Senior Associate"}}]"#
            ),
            50..=61 => format!(
                r#"[{{"field":"phoneNumbers","from":[],"to":[{{"type":"mobile","number":"+1 555 01{:02}","id":"{oid2}","_id":"{oid2}"}}]}}]"#,
                t.rem_euclid(100)
            ),
            62..=71 => format!(
                r#"[{{"field":"manager","from":null,"to":"{oid1}"}},{{"field":"employeeType","from":"","to":"Full-time"}}]"#
            ),
            72..=79 => r#"[{"field":"state","from":"ACTIVATED","to":"SUSPENDED"},{"field":"suspended","from":false,"to":true}]"#.into(),
            80..=87 => r#"[{"field":"password_never_expires","from":false,"to":true}]"#.into(),
            // Near misses of user_mfa_weakened: MFA switched on, not off.
            88..=93 => r#"[{"field":"enable_user_portal_multifactor","from":false,"to":true}]"#.into(),
            94..=98 => r#"[{"field":"totp_enabled","from":false,"to":true}]"#.into(),
            _ => {
                rules = &["user_mfa_weakened", "user_updated"];
                r#"[{"field":"enable_user_portal_multifactor","from":true,"to":false}]"#.into()
            }
        };
        j.raw("changes", &changes);
        let et = if provision {
            "user_update_provision"
        } else {
            "user_update"
        };
        if provision {
            rules = NONE;
        }
        self.directory_tail(&mut j, api, et, &ip, ts);
        j.close();
        self.push(t, ts, "directory", et, rules, out);
        self.count_bg(1);
    }

    fn bg_association(&mut self, t: i64) {
        let ts = self.bg_time(t, Frac::Millis);
        let u = self.pick_user();
        let add = self.rng.chance(0.7);
        let mut out = Vec::with_capacity(1000);
        let mut j = J::open(&mut out);
        let (ip, api) = self.admin_head(&mut j, false);
        let obj = |r: &mut Rng| hex24(r.next_u64(), r.next_u64());
        let user_ep = (u.name.clone(), "user", u.id.clone());
        let sys_ep = (u.host.clone(), "system", u.sys_id.clone());
        let ug = (
            self.rng.pick(&USER_GROUPS).to_string(),
            "user_group",
            obj(&mut self.rng),
        );
        let sg = (
            self.rng.pick(&SYSTEM_GROUPS).to_string(),
            "system_group",
            obj(&mut self.rng),
        );
        let pol = (
            self.rng.pick(&POLICIES).0.to_string(),
            "policy",
            obj(&mut self.rng),
        );
        let app = (
            self.rng.pick(&APPS).1.to_string(),
            "application",
            obj(&mut self.rng),
        );
        let radius = (
            "Office WiFi".to_string(),
            "radius_server",
            obj(&mut self.rng),
        );
        let mut attributes = "null";
        let (a, b, mut rules): (_, _, Vec<&'static str>) = match self.rng.below(100) {
            0..=39 => (user_ep, ug, vec!["user_added_to_group"]),
            40..=54 => {
                let sudo = self.rng.below(20);
                let mut r = vec!["device_bound_to_user"];
                if sudo == 0 {
                    attributes = r#"{"sudo":{"enabled":true,"withoutPassword":false}}"#;
                    r.insert(0, "device_admin_granted");
                } else if sudo < 4 {
                    attributes = r#"{"sudo":{"enabled":false,"withoutPassword":false}}"#;
                }
                (sys_ep, user_ep, r)
            }
            55..=69 => (sys_ep, sg, vec!["device_added_to_group"]),
            70..=74 => (pol, sg, vec!["policy_bound_to_device_group"]),
            75..=79 => (pol, sys_ep, vec![]),
            80..=91 => (ug, app, vec![]),
            92..=95 => (ug, sg, vec![]),
            _ => (ug, radius, vec![]),
        };
        if !add {
            rules.clear();
        }
        // The catalog matches both orders; DI writes either.
        let (from, to) = if self.rng.chance(0.5) { (a, b) } else { (b, a) };
        let op = if add { "add" } else { "remove" };
        j.o("association", |x| {
            x.s("op", op)
                .s("action_source", if api { "api" } else { "manual" })
                .o("connection", |c| {
                    c.o("from", |f| {
                        f.s("name", &from.0)
                            .s("type", from.1)
                            .s("object_id", &from.2);
                    })
                    .o("to", |f| {
                        f.s("name", &to.0).s("type", to.1).s("object_id", &to.2);
                    });
                })
                .raw("attributes", attributes);
        });
        self.directory_tail(&mut j, api, "association_change", &ip, ts);
        j.close();
        self.push(t, ts, "directory", "association_change", &rules, out);
        self.count_bg(1);
    }

    /// Groups, policies, commands, applications, passwords, TOTP and other directory events.
    fn bg_directory_change(&mut self, t: i64) {
        let ts = self.bg_time(t, Frac::Millis);
        let target = self.pick_user();
        let mut out = Vec::with_capacity(900);
        let mut j = J::open(&mut out);
        let pick = self.rng.below(1000);
        let self_service = matches!(pick, 300..=649);
        let (ip, api) = if self_service {
            // The user acts on their own account from the user portal.
            j.o("initiated_by", |i| {
                i.s("id", &target.id)
                    .s("type", "user")
                    .s("username", &target.name);
            });
            let (ip, i) = self.user_ip(&target);
            self.geo(&mut j, target.city, i + 1);
            j.raw("useragent", DEVICES[target.dev].0);
            (ip, false)
        } else {
            self.admin_head(&mut j, false)
        };
        let rid = hex24(self.rng.next_u64(), self.rng.next_u64());
        let (et, rules): (&'static str, &'static [&'static str]) = match pick {
            0..=79 => {
                let (ty, name) = match self.rng.below(10) {
                    0..=5 => ("user_group", *self.rng.pick(&USER_GROUPS)),
                    6..=8 => ("system_group", *self.rng.pick(&SYSTEM_GROUPS)),
                    _ => ("policy_group", "macOS Baseline"),
                };
                j.o("resource", |r| {
                    r.s("id", &rid).s("type", ty).s("name", name);
                })
                .raw(
                    "changes",
                    r#"[{"field":"description","from":"","to":"Managed by IT"}]"#,
                );
                ("group_update", NONE)
            }
            80..=104 => {
                let (ty, name, rules): (_, _, &'static [&'static str]) = match self.rng.below(10) {
                    0..=5 => ("user_group", "Project Falcon", NONE),
                    6..=7 => ("system_group", "Loaner Laptops", NONE),
                    _ => (
                        "policy_group",
                        "Windows Baseline",
                        &["policy_group_created"],
                    ),
                };
                j.o("resource", |r| {
                    r.s("id", &rid).s("type", ty).s("name", name);
                })
                .raw("changes", &format!(r#"[{{"field":"name","to":"{name}"}}]"#));
                ("group_create", rules)
            }
            105..=119 => {
                let (ty, name, rules): (_, _, &'static [&'static str]) = match self.rng.below(10) {
                    0..=4 => ("user_group", "Project Falcon", &["user_group_deleted"]),
                    5..=7 => ("system_group", "Loaner Laptops", &["device_group_deleted"]),
                    _ => ("policy_group", "Legacy Baseline", NONE),
                };
                j.o("resource", |r| {
                    r.s("id", &rid).s("type", ty).s("name", name);
                });
                ("group_delete", rules)
            }
            120..=179 => {
                let p = *self.rng.pick(&POLICIES);
                let (et, rules): (&'static str, &'static [&'static str]) = match self.rng.below(10)
                {
                    0..=6 => ("policy_update", &["policy_updated"]),
                    7..=8 => ("policy_create", &["policy_created"]),
                    _ => ("policy_delete", &["policy_deleted"]),
                };
                j.o("resource", |r| {
                    r.s("id", &rid)
                        .s("type", "policy")
                        .s("name", p.0)
                        .o("template", |x| {
                            x.s("name", p.1);
                        });
                });
                if et == "policy_update" {
                    j.raw("changes", r#"[{"field":"values","from":[{"configFieldName":"timeout","value":"600"}],"to":[{"configFieldName":"timeout","value":"300"}]}]"#);
                }
                (et, rules)
            }
            180..=219 => {
                let name = [
                    "Restart agent",
                    "Collect logs",
                    "Flush DNS cache",
                    "Rotate local admin",
                ][self.rng.below(4) as usize];
                let (et, rules): (&'static str, &'static [&'static str]) = match self.rng.below(10)
                {
                    0..=5 => ("command_run", &["remote_command_run"]),
                    6..=7 => ("command_update", NONE),
                    _ => ("command_create", NONE),
                };
                j.o("resource", |r| {
                    r.s("id", &rid).s("type", "command").s("name", name);
                });
                (et, rules)
            }
            220..=249 => {
                let app = *self.rng.pick(&APPS);
                let (et, rules): (&'static str, &'static [&'static str]) =
                    if self.rng.below(15) == 0 {
                        ("application_create", &["sso_app_added"])
                    } else {
                        ("application_update", NONE)
                    };
                j.o("resource", |r| {
                    r.s("id", &rid)
                        .s("type", "application")
                        .s("name", app.1)
                        .s("displayName", app.0);
                });
                (et, rules)
            }
            250..=299 => {
                self.user_resource(&mut j, &target);
                let (et, rules): (&'static str, &'static [&'static str]) = match self.rng.below(10)
                {
                    0..=4 => ("user_create", &["user_created"]),
                    5..=6 => ("user_delete", &["user_deleted"]),
                    7 => ("user_unlocked", NONE),
                    _ => ("user_create_provision", NONE),
                };
                if et == "user_create" {
                    let email = format!("{}@{}", target.name, self.domain);
                    j.raw("changes", &format!(r#"[{{"field":"username","to":"{}"}},{{"field":"email","to":"{email}"}},{{"field":"activated","to":false}},{{"field":"state","to":"STAGED"}}]"#, target.name));
                }
                (et, rules)
            }
            300..=589 => {
                self.user_resource(&mut j, &target);
                let et = match self.rng.below(10) {
                    0..=4 => "user_password_change",
                    5..=6 => "user_password_reset_request",
                    7 => "user_password_expired",
                    8 => "user_activated",
                    _ => "user_password_set",
                };
                (et, NONE)
            }
            590..=649 => {
                self.user_resource(&mut j, &target);
                let et = if self.rng.chance(0.5) {
                    "totp_start_enrollment"
                } else {
                    "totp_finish_enrollment"
                };
                (et, NONE)
            }
            650..=699 => {
                j.o("resource", |r| {
                    r.s("id", &self.org)
                        .s("type", "organization")
                        .s("displayName", "Northwind Labs");
                })
                .raw(
                    "changes",
                    r#"[{"field":"settings.passwordPolicy.minLength","from":8,"to":12}]"#,
                );
                ("organization_update", NONE)
            }
            700..=719 => {
                let a = self.pick_admin();
                let email = self.admin_email(&a);
                j.o("resource", |r| {
                    r.s("id", &rid).s("type", "admin").s("email", &email);
                });
                // Near miss of admin_mfa_disabled: MFA switched on.
                let ch = if self.rng.chance(0.5) {
                    r#"[{"field":"enableMultiFactor","from":false,"to":true}]"#
                } else {
                    r#"[{"field":"roleName","from":"Help Desk","to":"Manager"}]"#
                };
                j.raw("changes", ch);
                ("admin_update", NONE)
            }
            720..=739 => {
                j.o("resource", |r| {
                    r.s("id", &rid)
                        .s("type", "radius_server")
                        .s("name", "Office WiFi");
                })
                .raw(
                    "changes",
                    r#"[{"field":"networkSourceIp","from":"203.0.113.10","to":"203.0.113.11"}]"#,
                );
                ("radiusserver_update", NONE)
            }
            740..=749 => {
                let et = if self.rng.chance(0.5) {
                    "authnpolicy_update"
                } else {
                    "iplist_update"
                };
                j.o("resource", |r| {
                    r.s("id", &rid)
                        .s(
                            "type",
                            if et == "iplist_update" {
                                "ip_list"
                            } else {
                                "authn_policy"
                            },
                        )
                        .s("name", "Office networks");
                });
                (et, &["conditional_access_changed"])
            }
            _ => {
                j.o("resource", |r| {
                    r.s("id", &rid)
                        .s("type", "system")
                        .s("hostname", &target.host)
                        .s("displayName", &target.host);
                })
                .raw(
                    "changes",
                    r#"[{"field":"allowMultiFactorAuthentication","from":false,"to":true}]"#,
                );
                ("system_update", NONE)
            }
        };
        self.directory_tail(&mut j, api, et, &ip, ts);
        j.close();
        self.push(t, ts, "directory", et, rules, out);
        self.count_bg(1);
    }

    /// Events the agent reports from a device (`systems`), with `src_ip` and local time.
    fn bg_device_event(&mut self, t: i64) {
        let ts = self.bg_time(t, Frac::Nanos);
        let u = self.pick_user();
        let et = match self.rng.below(20) {
            0..=5 => "os_minor_upgrade",
            6 => "os_major_upgrade",
            7..=9 => "remote_session_start",
            10..=12 => "remote_session_end",
            13..=14 => "user_password_change",
            15 => "system_fde_key_update",
            16..=17 => "policy_result",
            _ => "command_result",
        };
        let mut out = Vec::with_capacity(700);
        let mut j = J::open(&mut out);
        let (host, sys) = (u.host.clone(), u.sys_id.clone());
        j.o("system", |s| {
            s.s("id", &sys).s("hostname", &host).s("displayName", &host);
        });
        let (ip, i) = self.user_ip(&u);
        self.geo(&mut j, u.city, i + 1);
        j.s("event_type", et)
            .s("service", "systems")
            .s("username", &u.name);
        match et {
            "os_minor_upgrade" => {
                j.s("from_version", "14.3.1").s("to_version", "14.4");
            }
            "os_major_upgrade" => {
                j.s("from_version", "13.6.4").s("to_version", "14.4");
            }
            "policy_result" => {
                j.o("policy", |p| {
                    p.s("name", "FileVault 2").s("id", &sys);
                })
                .b("success", true)
                .i("exit_code", 0);
            }
            "command_result" => {
                j.s("command", "Collect logs")
                    .i("exit_code", 0)
                    .s("output", "logs uploaded (4.2 MB)");
            }
            _ => {}
        }
        j.s("organization", &self.org)
            .s("@version", "1")
            .s("client_ip", &ip)
            .s("src_ip", &u.lan_ip)
            .s("process_name", "jumpcloud-agent")
            .s("system_timestamp", &local_time(ts, CITIES[u.city].utc_min));
        let id = self.oid(ts);
        j.s("id", &id).s("timestamp", &rfc3339(ts, Frac::Nanos));
        j.close();
        self.push(t, ts, "systems", et, NONE, out);
        self.count_bg(1);
    }

    /// MDM command results; one in 400 is the big ProfileList (~77 KB) seen in real data.
    fn bg_mdm(&mut self, t: i64) {
        let ts = self.bg_time(t, Frac::Nanos);
        let r = self.rng.below(400);
        let dev = hex24(self.rng.next_u64(), self.rng.next_u64());
        let mgr = hex24(h2(self.seed_h, 31), h2(self.seed_h, 32));
        let cmd_uuid = self.uuid_upper().to_ascii_lowercase();
        let mut out = Vec::with_capacity(if r == 0 { 80_000 } else { 2_000 });
        let mut j = J::open(&mut out);
        let req = match r {
            0 => "ProfileList",
            1..=120 => "DeviceInformation",
            121..=200 => "SecurityInfo",
            201..=260 => "InstallProfile",
            261..=330 => "ProfileList",
            331..=360 => "InstalledApplicationList",
            _ => "DeviceLock",
        };
        j.s("mdm_type", "apple")
            .s("request_type", req)
            .s("mdm_device_id", &dev)
            .s("mdm_device_manager_id", &mgr);
        if req == "InstallProfile" {
            let mut payload = String::from("PD94bWwgdmVyc2lvbj0iMS4wIiBlbmNvZGluZz0iVVRGLTgiPz4K");
            while payload.len() < 2_200 {
                payload.push_str(&self.cert[(payload.len() % 900)..(payload.len() % 900) + 60]);
            }
            j.o("command", |c| {
                c.s("request_type", req).s("payload", &payload);
            });
        } else {
            j.o("command", |c| {
                c.s("request_type", req);
            });
        }
        j.s("event_type", "mdm_command_result")
            .s("command_uuid", &cmd_uuid)
            .s("service", "mdm")
            .s("organization", &self.org)
            .s("@version", "1")
            .null("error_chain");
        let id = self.oid(ts);
        j.s("id", &id);
        match req {
            "ProfileList" => {
                let n = if r == 0 { 17 } else { 2 };
                let mut list = String::from("[");
                for k in 0..n {
                    let p = POLICIES[k % POLICIES.len()];
                    if k > 0 {
                        list.push(',');
                    }
                    let certs = if r == 0 {
                        format!(r#"["{c}","{c}","{c}"]"#, c = self.cert)
                    } else {
                        "[]".into()
                    };
                    list.push_str(&format!(
                        r#"{{"payload_removal_disallowed":true,"signer_certificates":{certs},"payload_identifier":"com.jumpcloud.mdm.policy.{id}.{cmd_uuid}","is_encrypted":false,"payload_uuid":"{cmd_uuid}","payload_organization":"JumpCloud","has_removal_passcode":false,"payload_display_name":"{name}","payload_description":"This policy manages {name} on the device.","payload_verion":1,"payload_content":[{{"payload_type":"com.apple.applicationaccess","payload_version":1,"payload_identifier":"com.jumpcloud.mdm.{id}.applicationaccess.1","payload_uuid":"{cmd_uuid}","payload_organization":"","payload_display_name":"{name} Payload","payload_description":""}}],"is_managed":true}}"#,
                        id = p.1,
                        name = p.0
                    ));
                }
                list.push(']');
                j.raw("profile_list", &list);
            }
            "DeviceInformation" => {
                j.raw("query_responses", r#"{"DeviceName":"MacBook Pro","OSVersion":"14.4","BuildVersion":"23E214","ModelName":"MacBook Pro","Model":"Mac15,3","IsSupervised":true,"IsActivationLockEnabled":false,"AvailableDeviceCapacity":312.4,"DeviceCapacity":494.38}"#);
            }
            "SecurityInfo" => {
                j.raw("security_info", r#"{"FDE_Enabled":true,"FDE_HasPersonalRecoveryKey":true,"FirewallSettings":{"FirewallEnabled":true,"BlockAllIncoming":false,"StealthMode":true},"SystemIntegrityProtectionEnabled":true,"AuthenticatedRootVolumeEnabled":true}"#);
            }
            "InstalledApplicationList" => {
                let mut apps = String::from("[");
                for (k, a) in APPS.iter().enumerate() {
                    if k > 0 {
                        apps.push(',');
                    }
                    apps.push_str(&format!(
                        r#"{{"Name":"{}","Identifier":"com.example.{}","ShortVersion":"{}.{}","BundleSize":{}}}"#,
                        a.0,
                        a.1,
                        3 + k,
                        k * 7 % 10,
                        40_000_000 + k * 1_234_567
                    ));
                }
                apps.push(']');
                j.raw("installed_application_list", &apps);
            }
            _ => {}
        }
        j.s("status", if r % 37 == 5 { "Error" } else { "Acknowledged" })
            .s("timestamp", &rfc3339(ts, Frac::Nanos));
        j.close();
        self.push(t, ts, "mdm", "mdm_command_result", NONE, out);
        self.count_bg(1);
    }

    /// Password manager, password vault and software events made by users.
    fn bg_app_event(&mut self, t: i64) {
        let ts = self.bg_time(t, Frac::Millis);
        let u = self.pick_user();
        let (service, et): (&'static str, &'static str) = match self.rng.below(20) {
            0..=3 => ("password_manager", "passwordmanager_item_autofill"),
            4..=5 => ("password_manager", "passwordmanager_item_copy"),
            6 => ("password_manager", "passwordmanager_item_reveal"),
            7..=8 => ("password_manager", "passwordmanager_app_unlock"),
            9 => ("password_manager", "passwordmanager_item_update"),
            10 => ("password_manager", "passwordmanager_extension_unlock"),
            11..=12 => ("password_vault", "passwordvault_credential_autofill"),
            13 => ("password_vault", "passwordvault_credential_viewdetail"),
            14 => ("password_vault", "passwordvault_websites_export"),
            15..=17 => ("software", "software_change"),
            18 => ("software", "software_add"),
            _ => ("software", "software_remove"),
        };
        let mut out = Vec::with_capacity(700);
        let mut j = J::open(&mut out);
        j.o("initiated_by", |i| {
            i.s("id", &u.id).s("type", "user").s("username", &u.name);
        });
        let (ip, i) = self.user_ip(&u);
        self.geo(&mut j, u.city, i + 1);
        j.raw("useragent", DEVICES[u.dev].0)
            .s("event_type", et)
            .s("service", service);
        let rid = hex24(self.rng.next_u64(), self.rng.next_u64());
        if service == "software" {
            let app = *self.rng.pick(&APPS);
            j.o("resource", |r| {
                r.s("id", &rid).s("type", "software_app").s("name", app.0);
            })
            .raw(
                "changes",
                &format!(
                    r#"[{{"field":"version","from":"{}.0","to":"{}.1"}}]"#,
                    4 + t % 5,
                    4 + t % 5
                ),
            );
        } else {
            let site = APPS[(t.rem_euclid(14)) as usize].1;
            j.o("resource", |r| {
                r.s("id", &rid)
                    .s("type", "item")
                    .s("name", &format!("{site}.com"));
            });
        }
        j.b("success", true);
        self.envelope_tail(&mut j, Some(&ip), ts, Frac::Millis);
        j.close();
        self.push(t, ts, service, et, NONE, out);
        self.count_bg(1);
    }

    /// The long tail: notifications, reports, access requests, SaaS discovery, AI
    /// assistants, certificates, and event types JumpCloud does not document.
    fn bg_other_service(&mut self, t: i64) {
        let ts = self.bg_time(t, Frac::Nanos);
        const TAIL: [(&str, &str); 16] = [
            ("notifications", "notification_channel_updated"),
            ("reports", "report_run"),
            ("reports", "scheduled_report_run_success"),
            ("access_management", "access_management_access_request"),
            ("saas_app_management", "saas_management_login_event"),
            (
                "saas_app_management",
                "saas_management_application_discover",
            ),
            ("genai", "genai_ai_assistant_chat_message_sent"),
            ("aigw", "aigw_session_activity"),
            ("generic_di", "cert_issued_scep"),
            ("object_storage", "object_storage_get_download_url_request"),
            ("asset_management", "asset_management_asset_update"),
            ("alerts", "alert_updated"),
            // undocumented, seen as "about 30 of 110 types in one tenant"
            ("directory", "user_portal_session_refresh"),
            ("directory", "directory_sync_completed"),
            ("systems", "device_trust_evaluation"),
            ("generic_di", "workflow_step_completed"),
        ];
        let (service, et) = TAIL[self.rng.below(TAIL.len() as u64) as usize];
        let u = self.pick_user();
        let mut out = Vec::with_capacity(600);
        let mut j = J::open(&mut out);
        j.o("initiated_by", |i| {
            i.s("id", &u.id).s("type", "user").s("username", &u.name);
        });
        let (ip, i) = self.user_ip(&u);
        self.geo(&mut j, u.city, i + 1);
        let rid = hex24(self.rng.next_u64(), self.rng.next_u64());
        j.s("event_type", et)
            .s("service", service)
            .o("resource", |r| {
                r.s("id", &rid)
                    .s("type", et.split('_').next().unwrap_or("object"));
            })
            .raw(
                "details",
                r#"{"source":"jumpcloud","status":"ok","attempt":1}"#,
            );
        self.envelope_tail(&mut j, Some(&ip), ts, Frac::Nanos);
        j.close();
        self.push(t, ts, service, et, NONE, out);
        self.count_bg(1);
    }

    /// A background lockout, when the guard allows one (else an ordinary login).
    fn bg_lockout(&mut self, t: i64) {
        let systems = self.rng.chance(0.4);
        let frac = if systems { Frac::Nanos } else { Frac::Millis };
        let ts = self.bg_time(t, frac);
        if !self.guard.allow_lockout(ts) {
            return self.bg_login(Chan::Portal, 1);
        }
        let u = self.pick_user();
        let line = self.lockout_line(&u, systems, None, ts);
        self.push(
            t,
            ts,
            if systems { "systems" } else { "directory" },
            "user_lockout",
            &["account_locked"],
            line,
        );
        self.count_bg(1);
    }

    fn lockout_line(&mut self, u: &User, systems: bool, ip: Option<&str>, t: i64) -> Vec<u8> {
        let mut out = Vec::with_capacity(800);
        let mut j = J::open(&mut out);
        if systems {
            let (host, sys) = (u.host.clone(), u.sys_id.clone());
            j.o("system", |s| {
                s.s("id", &sys).s("hostname", &host).s("displayName", &host);
            });
            self.geo(&mut j, u.city, 0);
            j.s("event_type", "user_lockout")
                .s("service", "systems")
                .s("username", &u.name)
                .s("organization", &self.org)
                .s("@version", "1")
                .s("src_ip", ip.unwrap_or(&u.lan_ip))
                .s("process_name", "jumpcloud-agent")
                .s("message", "account locked after too many failed attempts")
                .s("system_timestamp", &local_time(t, CITIES[u.city].utc_min));
            let id = self.oid(t);
            j.s("id", &id).s("timestamp", &rfc3339(t, Frac::Nanos));
        } else {
            j.o("initiated_by", |i| {
                i.s("id", &u.id).s("type", "user").s("username", &u.name);
            });
            let (home, i) = self.user_ip(u);
            self.geo(&mut j, u.city, i + 1);
            self.user_resource(&mut j, u);
            j.raw("useragent", DEVICES[u.dev].0)
                .s("event_type", "user_lockout")
                .null("provider")
                .s("service", "directory");
            self.envelope_tail(&mut j, Some(ip.unwrap_or(&home)), t, Frac::Millis);
        }
        j.close();
        out
    }

    /// Rare sensitive changes, each raising its single-event rule.
    fn bg_rare(&mut self, t: i64) {
        let ts = self.bg_time(t, Frac::Millis);
        let target = self.pick_user();
        let mut out = Vec::with_capacity(800);
        let mut j = J::open(&mut out);
        let (ip, api) = self.admin_head(&mut j, false);
        let rid = hex24(self.rng.next_u64(), self.rng.next_u64());
        let email = format!("{}@{}", target.name, self.domain);
        let (service, et, rule): (&'static str, &'static str, &'static str) =
            match self.rng.below(10) {
                0 => ("directory", "admin_create", "admin_privilege_granted"),
                1 => (
                    "directory",
                    "user_group_admin_grant",
                    "admin_privilege_granted",
                ),
                2 => ("directory", "user_admin_granted", "device_admin_granted"),
                3 => ("directory", "admin_totp_disable", "admin_mfa_disabled"),
                4 => ("directory", "admin_update", "api_key_changed"),
                5 => (
                    "directory",
                    "admin_old_api_key_attempt",
                    "expired_api_key_used",
                ),
                6 => ("directory", "totp_delete_enrollment", "user_mfa_weakened"),
                7 => (
                    "password_manager",
                    "passwordmanager_items_export",
                    "credential_export",
                ),
                8 => ("systems", "system_fde_key_decrypt", "disk_key_revealed"),
                _ => ("alerts", "alert_created", "jumpcloud_alert"),
            };
        match et {
            "admin_create" | "admin_totp_disable" => {
                j.o("resource", |r| {
                    r.s("id", &rid).s("type", "admin").s("email", &email);
                });
            }
            "admin_update" => {
                j.o("resource", |r| {
                    r.s("id", &rid).s("type", "admin").s("email", &email);
                })
                .raw(
                    "changes",
                    r#"[{"field":"apiKeyHash","from":"(redacted)","to":"(redacted)"}]"#,
                );
            }
            "user_group_admin_grant" => {
                j.o("resource", |r| {
                    r.s("id", &rid)
                        .s("type", "user_group")
                        .s("name", "IT Admins");
                });
            }
            "system_fde_key_decrypt" => {
                j.o("resource", |r| {
                    r.s("id", &target.sys_id)
                        .s("type", "system")
                        .s("hostname", &target.host);
                });
            }
            "alert_created" => {
                j.s("severity", "high").o("alert", |a| {
                    a.s("id", &rid)
                        .s("rule_name", "Device offline for 7 days")
                        .s("status", "open");
                });
            }
            _ => self.user_resource(&mut j, &target),
        }
        j.s(
            "auth_method",
            if api || et == "admin_old_api_key_attempt" {
                "api key"
            } else {
                "session"
            },
        )
        .s("event_type", et)
        .null("provider")
        .s("service", service)
        .b("success", et != "admin_old_api_key_attempt");
        self.envelope_tail(&mut j, Some(&ip), ts, Frac::Millis);
        j.close();
        self.push(t, ts, service, et, &[rule], out);
        self.count_bg(1);
    }

    fn bg_ldap_search(&mut self, t: i64) {
        let ts = self.bg_time(t, Frac::Millis);
        let account = *self.rng.pick(&SERVICE_ACCOUNTS);
        let ip = *self.rng.pick(&LDAP_CLIENTS);
        let mut out = Vec::with_capacity(500);
        let mut j = J::open(&mut out);
        let base = format!("ou=Users,o={},dc=jumpcloud,dc=com", self.org);
        j.s("base", &base)
            .s(
                "filter",
                "(&(objectClass=inetOrgPerson)(memberOf=cn=Engineering,ou=Users))",
            )
            .s("scope", "sub")
            .i("number_of_results", 5 + t.rem_euclid(200))
            .s("event_type", "ldap_srch")
            .s("service", "ldap")
            .b("success", true)
            .s("username", account)
            .s("client_ip", ip);
        let id = self.oid(ts);
        j.s("id", &id)
            .o("initiated_by", |i| {
                i.s("type", "user").s("username", account);
            })
            .s("timestamp", &rfc3339(ts, Frac::Millis))
            .s("organization", &self.org)
            .s("@version", "1");
        j.close();
        self.push(t, ts, "ldap", "ldap_srch", NONE, out);
        self.count_bg(1);
    }

    // --- stories -----------------------------------------------------------------------

    /// Weave one story in, starting at the clock (lockout waves wait until the organization
    /// is quiet), and record the alerts it must raise.
    fn story(&mut self, s: &Story) {
        let mut t0 = self.clock + self.rng.secs(5, 60);
        if s.kind == Kind::Lockout {
            let after_bg = self
                .guard
                .last_lockout()
                .map_or(i64::MIN, |t| t + LOCK_MARGIN);
            t0 = t0
                .max(after_bg)
                .max(self.last_lock_story_end + 2_000 * NANOS);
        }
        let name = AttackMix::KINDS[KINDS.iter().position(|&k| k == s.kind).unwrap_or(0)];
        let mut r = Rng(mix64(s.variant));
        let mut events: Vec<StoryEvent> = Vec::new();
        let mut expect: Vec<(&'static str, String)> = Vec::new();
        let attacker_city = ATTACKER_CITIES[r.below(ATTACKER_CITIES.len() as u64) as usize];
        let mut t = t0;
        match s.kind {
            Kind::Spray => {
                let ip = self.fresh_attack_ip();
                let gap = 300 * NANOS / i64::from(s.n);
                for k in 0..s.n {
                    let chan = [Chan::Portal, Chan::Sso, Chan::Radius][(k % 3) as usize];
                    let v = self.victim(r.below(HOME_CITIES as u64) as usize);
                    t = chan_frac(chan).truncate(t);
                    events.push(self.story_login(chan, &v, false, false, &ip, attacker_city, t));
                    t += gap / 2 + r.below(gap as u64) as i64 + NANOS;
                }
                expect.push(("password_spray_from_ip", ip));
            }
            Kind::Stuffing => {
                let ip = self.fresh_attack_ip();
                let victims: Vec<User> = (0..s.n)
                    .map(|_| self.victim(r.below(HOME_CITIES as u64) as usize))
                    .collect();
                for v in &victims {
                    t = Frac::Millis.truncate(t);
                    events.push(self.story_login(
                        Chan::Portal,
                        v,
                        false,
                        false,
                        &ip,
                        attacker_city,
                        t,
                    ));
                    t += r.secs(8, 25);
                }
                t += r.secs(600, 1_800);
                let v = &victims[r.below(victims.len() as u64) as usize];
                t = Frac::Millis.truncate(t);
                events.push(self.story_login(Chan::Portal, v, true, false, &ip, attacker_city, t));
                expect.push(("credential_stuffing_success", ip));
            }
            Kind::Brute | Kind::BruteOnly => {
                let chan = if s.kind == Kind::Brute {
                    brute_chan(s.variant)
                } else {
                    [Chan::Portal, Chan::Radius, Chan::Device, Chan::Ldap][(s.variant % 4) as usize]
                };
                let ip = if chan == Chan::Ldap {
                    self.attack_ips += 1;
                    format!(
                        "10.251.{}.{}",
                        (self.attack_ips / 250) % 250,
                        2 + self.attack_ips % 250
                    )
                } else {
                    self.fresh_attack_ip()
                };
                let v = self.victim(r.below(HOME_CITIES as u64) as usize);
                for _ in 0..s.n {
                    t = chan_frac(chan).truncate(t);
                    events.push(self.story_login(chan, &v, false, false, &ip, attacker_city, t));
                    t += r.secs(15, 45);
                }
                let key = format!("{}|{}", v.name, chan.service());
                expect.push(("brute_force_attempts", key.clone()));
                if s.kind == Kind::Brute {
                    t = chan_frac(chan).truncate(t);
                    events.push(self.story_login(chan, &v, true, false, &ip, attacker_city, t));
                    expect.push(("brute_force_then_success", key));
                }
            }
            Kind::Lockout => {
                let ip = self.fresh_attack_ip();
                for k in 0..s.n {
                    let v = self.victim(r.below(HOME_CITIES as u64) as usize);
                    for _ in 0..2 {
                        t = Frac::Millis.truncate(t);
                        events.push(self.story_login(
                            Chan::Portal,
                            &v,
                            false,
                            false,
                            &ip,
                            attacker_city,
                            t,
                        ));
                        t += r.secs(3, 10);
                    }
                    let systems = k % 2 == 1;
                    t = if systems { t } else { Frac::Millis.truncate(t) };
                    let line = self.lockout_line(&v, systems, Some(&ip), t);
                    let svc = if systems { "systems" } else { "directory" };
                    events.push((t, svc, "user_lockout", &["account_locked"], line));
                    t += r.secs(30, 120);
                }
                expect.push(("multiple_accounts_locked", self.org.clone()));
            }
            Kind::AdminCountry => {
                let (a, b) = NEIGHBOURS[(s.variant % NEIGHBOURS.len() as u64) as usize];
                let v = self.victim(a);
                let email = self.admin_email(&v);
                let admin_id = hex24(h2(v.h, 21), h2(v.h, 22));
                let ip_a = bg_ip(
                    a as u64 % HOME_CITIES as u64
                        + HOME_CITIES as u64 * (h2(v.h, 5) % self.per_city),
                );
                let ip_b = self.fresh_attack_ip();
                t = Frac::Millis.truncate(t);
                let l1 =
                    self.admin_login_line(&email, &admin_id, a, &ip_a, true, true, 0, false, t);
                events.push((t, "directory", "admin_login_attempt", NONE, l1));
                t = Frac::Millis.truncate(t + r.secs(1_200, 3_000));
                let l2 =
                    self.admin_login_line(&email, &admin_id, b, &ip_b, true, true, 0, false, t);
                events.push((t, "directory", "admin_login_attempt", NONE, l2));
                expect.push(("admin_multi_country_login", email));
            }
            Kind::UserCountry | Kind::Travel => {
                let (a, b) = if s.kind == Kind::Travel {
                    FAR_APART[(s.variant % FAR_APART.len() as u64) as usize]
                } else {
                    NEIGHBOURS[(s.variant % NEIGHBOURS.len() as u64) as usize]
                };
                let chan = if s.variant % 3 == 0 {
                    Chan::Sso
                } else {
                    Chan::Portal
                };
                let v = self.victim(a);
                let ip_a = bg_ip(
                    a as u64 % HOME_CITIES as u64
                        + HOME_CITIES as u64 * (h2(v.h, 5) % self.per_city),
                );
                let ip_b = self.fresh_attack_ip();
                // The same MFA use on both logins, so only the rule under test can fire.
                t = chan_frac(chan).truncate(t);
                events.push(self.story_login(chan, &v, true, true, &ip_a, a, t));
                t = chan_frac(chan).truncate(t + r.secs(600, 3_000));
                events.push(self.story_login(chan, &v, true, true, &ip_b, b, t));
                let rule = if s.kind == Kind::Travel {
                    "impossible_travel"
                } else {
                    "user_multi_country_login"
                };
                expect.push((rule, v.name.clone()));
            }
            Kind::SsoBurst => {
                let ip = self.fresh_attack_ip();
                let v = self.victim(r.below(HOME_CITIES as u64) as usize);
                for _ in 0..s.n {
                    events.push(self.story_login(
                        Chan::Sso,
                        &v,
                        false,
                        false,
                        &ip,
                        attacker_city,
                        t,
                    ));
                    t += r.secs(10, 40);
                }
                expect.push(("brute_force_attempts", format!("{}|sso", v.name)));
                expect.push(("sso_failure_burst", v.name.clone()));
            }
            Kind::MfaBypass => {
                let chan = if s.variant % 2 == 0 {
                    Chan::Portal
                } else {
                    Chan::Sso
                };
                let home = r.below(HOME_CITIES as u64) as usize;
                let v = self.victim(home);
                let ip = bg_ip(home as u64 + HOME_CITIES as u64 * (h2(v.h, 5) % self.per_city));
                t = chan_frac(chan).truncate(t);
                events.push(self.story_login(chan, &v, true, true, &ip, home, t));
                t = chan_frac(chan).truncate(t + r.secs(600, 2_400));
                events.push(self.story_login(chan, &v, true, false, &ip, home, t));
                expect.push((
                    "mfa_bypass_suspected",
                    format!("{}|{}", v.name, chan.event_type()),
                ));
            }
        }
        debug_assert_eq!(events.len() as u32, s.events, "{:?}", s.kind);
        let (start, end) = (events[0].0, events[events.len() - 1].0);
        if s.kind == Kind::Lockout {
            self.guard.lock_zones.push((start, end));
            self.last_lock_story_end = end;
        }
        for (ts, svc, et, rules, line) in events {
            self.push(ts, ts, svc, et, rules, line);
        }
        for (rule, key) in expect {
            self.truth.stateful.push(ExpectedAlert {
                rule,
                group_key: key.to_lowercase(),
                story: name,
                story_index: s.index,
                start,
                end,
            });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn story_login(
        &mut self,
        chan: Chan,
        v: &User,
        ok: bool,
        mfa: bool,
        ip: &str,
        city: usize,
        t: i64,
    ) -> StoryEvent {
        let l = Login {
            chan,
            user: v,
            ok,
            mfa,
            ip: ip.to_string(),
            city,
            jitter: 0,
            t,
        };
        let line = self.login_line(&l);
        (t, chan.service(), chan.event_type(), NONE, line)
    }
}

/// `service` of an admin login: the legacy shape has none.
fn svc_of(legacy: bool) -> &'static str {
    if legacy {
        "(absent)"
    } else {
        "directory"
    }
}

fn chan_frac(c: Chan) -> Frac {
    match c {
        Chan::Radius => Frac::Secs,
        Chan::Sso | Chan::Device => Frac::Nanos,
        Chan::Portal | Chan::Ldap => Frac::Millis,
    }
}

fn brute_chan(variant: u64) -> Chan {
    [Chan::Portal, Chan::Radius, Chan::Device, Chan::Sso][(variant % 4) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_splitmix64() {
        // Reference values of SplitMix64 seeded with 0.
        let mut r = Rng(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn timestamps_use_each_services_precision() {
        let t = 1_700_000_000 * NANOS + 123_456_780;
        assert_eq!(rfc3339(t, Frac::Secs), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(t, Frac::Millis), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(t, Frac::Nanos), "2023-11-14T22:13:20.12345678Z");
        assert_eq!(local_time(t, -300), "2023-11-14T17:13:20-05:00");
        for f in [Frac::Secs, Frac::Millis, Frac::Nanos] {
            let s = rfc3339(f.truncate(t), f);
            assert_eq!(
                crate::decode::time::parse_rfc3339(&s),
                Ok(f.truncate(t)),
                "{s}"
            );
        }
    }

    #[test]
    fn ips_are_distinct_and_never_attackers() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..200_000u64 {
            let ip = bg_ip(i);
            assert!(seen.insert(ip.clone()), "{ip} repeats");
            let first: u8 = ip.split('.').next().unwrap().parse().unwrap_or(0);
            assert!(!ATTACK_PREFIXES.contains(&first), "{ip}");
        }
        let a: std::collections::HashSet<String> = (1..5_000).map(attack_ip).collect();
        assert_eq!(a.len(), 4_999);
    }

    #[test]
    fn attack_mix_parses() {
        assert_eq!(AttackMix::parse("none"), Ok(AttackMix::none()));
        let m = AttackMix::parse("all=1,spray=3,mfa_bypass=0").unwrap();
        assert_eq!((m.spray, m.brute, m.mfa_bypass, m.total()), (3, 1, 0, 11));
        let e = AttackMix::parse("spray=x,bogus=1,brute").unwrap_err();
        assert!(
            e.contains("spray=x") && e.contains("bogus") && e.contains("`brute`"),
            "{e}"
        );
    }

    #[test]
    fn coordinates_print_trimmed() {
        assert_eq!(deg(-62591), "-6.2591");
        assert_eq!(deg(420590), "42.059");
        assert_eq!(deg(10_000), "1");
    }

    #[test]
    fn story_pairs_are_what_the_rules_need() {
        use crate::windows::haversine_km;
        let km = |a: usize, b: usize| {
            let (p, q) = (&CITIES[a], &CITIES[b]);
            haversine_km(
                f64::from(p.lat) / 1e4,
                f64::from(p.lon) / 1e4,
                f64::from(q.lat) / 1e4,
                f64::from(q.lon) / 1e4,
            )
        };
        for (a, b) in NEIGHBOURS {
            assert_ne!(CITIES[a].cc, CITIES[b].cc);
            assert!(km(a, b) < 450.0, "{a}-{b}: {}", km(a, b));
        }
        for (a, b) in FAR_APART {
            assert_eq!(CITIES[a].cc, CITIES[b].cc);
            // 2,500 km in at most 50 min is far above 1,000 km/h.
            assert!(km(a, b) > 2_500.0, "{a}-{b}: {}", km(a, b));
        }
        for c in CITIES {
            assert!(!["CU", "IR", "KP", "SY"].contains(&c.cc));
        }
    }
}
