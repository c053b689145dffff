//! The benches' input: a deterministic, realistic-looking NDJSON buffer built from the bundled
//! DI samples (`tests/data/example.ndjson`, `tests/fixtures/samples/**/events.ndjson`).
//!
//! Kept behind one function, [`corpus`], so it can be swapped for the replay generator
//! (`jcdetect::replay::generate`) once that lands.
//!
//! What it does to the samples, driven by a fixed-seed PRNG (same bytes on every run):
//! - mix: ~85 % logins (by type: 45 % `user_login_attempt`, 30 % `sso_auth`, 20 % RADIUS,
//!   5 % `admin_login_attempt`), 95 % of them successful; the rest are the samples' other
//!   events, those that fire a single-event rule 20 times rarer than those that do not, so
//!   alerts stay around 1 % of events;
//! - MFA: 85 % of users always log in with MFA, the others never; admins always do but for
//!   0.5 % of their logins;
//! - users: a pool of 5 000 actors with a skewed popularity (u^1.5); the sample's
//!   `username` / `email` fields (top level, `initiated_by`, legacy `resource.email` on admin
//!   logins) are rewritten, and `resource` targets of admin events get another pool user;
//! - ips and geo: each user has a home ip and a home location (taken from the samples' `geoip`
//!   objects, embargoed countries left out); 5 % of logins come from one of 100 000 other ips,
//!   0.1 % from another location;
//! - ids: fresh 24-hex ids (UUID-shaped where the sample had a UUID);
//! - time: 20 events per second of event time from 2024-06-03T00:00:00Z, each jittered by
//!   up to 1 s (slightly out of order, well inside the default lateness).

use serde_json::{Map, Value};

const USERS: u64 = 5_000;
const STRAY_IPS: u64 = 100_000;
const BASE_NS: i64 = 1_717_372_800 * 1_000_000_000; // 2024-06-03T00:00:00Z
const STEP_NS: i64 = 50_000_000; // 20 events/s
const JITTER_NS: u64 = 1_000_000_000;
const EMBARGOED: &[&str] = &["CU", "IR", "KP", "SY", "RU"];
/// Login event types and their share of logins (per mille).
const LOGIN_MIX: &[(&[&str], u64)] = &[
    (&["user_login_attempt"], 450),
    (&["sso_auth"], 300),
    (&["radius_auth_attempt", "radius_auth"], 200),
    (&["admin_login_attempt"], 50),
];

const SAMPLE_FILES: &[&str] = &[
    "tests/data/example.ndjson",
    "tests/fixtures/samples/jumpcloud-di-api-docs/events.ndjson",
    "tests/fixtures/samples/sekoia-automation-library/events.ndjson",
    "tests/fixtures/samples/sumologic-docs/events.ndjson",
];

const LOGIN_TYPES: &[&str] = &[
    "admin_login_attempt",
    "user_login_attempt",
    "sso_auth",
    "radius_auth_attempt",
    "radius_auth",
    "ldap_bind",
    "login_attempt",
];

/// SplitMix64: tiny, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True with probability `per_mille` / 1000.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
    /// Skewed pick in `0..n`: low indices are more popular (u^1.5).
    fn skewed(&mut self, n: u64) -> u64 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u.sqrt()) * n as f64) as u64 % n
    }
    /// Index picked with the given weights.
    fn weighted(&mut self, weights: &[u64]) -> usize {
        let mut r = self.below(weights.iter().sum());
        for (i, &w) in weights.iter().enumerate() {
            if r < w {
                return i;
            }
            r -= w;
        }
        weights.len() - 1
    }
}

fn mix(x: u64) -> u64 {
    Rng(x).next()
}

fn ipv4(seed: u64) -> String {
    let h = mix(seed);
    // Public-looking first octet (1..=223, skipping 10 and 127).
    let mut a = 1 + (h % 223) as u8;
    if a == 10 || a == 127 {
        a += 1;
    }
    format!(
        "{a}.{}.{}.{}",
        (h >> 8) as u8,
        (h >> 16) as u8,
        1 + (h >> 24) as u8 % 254
    )
}

struct Templates {
    /// Login templates, by `LOGIN_MIX` entry.
    logins: Vec<Vec<Map<String, Value>>>,
    others: Vec<Map<String, Value>>,
    /// Weight of each of `others`.
    other_weights: Vec<u64>,
    geos: Vec<Value>,
}

/// Whether a sample as it stands fires a single-event rule (default config).
fn fires(obj: &Map<String, Value>, rules: &jcdetect::rules::Rules) -> bool {
    let text = Value::Object(obj.clone()).to_string();
    let mut hit = false;
    if let Ok(ev) = jcdetect::event::decode(&text) {
        rules.matches(&ev, |_, _| hit = true);
    }
    hit
}

fn templates() -> Templates {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut t = Templates {
        logins: vec![Vec::new(); LOGIN_MIX.len()],
        others: Vec::new(),
        other_weights: Vec::new(),
        geos: Vec::new(),
    };
    let rules = jcdetect::rules::Rules::compile(&jcdetect::Config::default());
    let mut seen = std::collections::HashSet::new();
    for f in SAMPLE_FILES {
        let path = format!("{root}/{f}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}: {e}"));
            let items = match v {
                Value::Array(a) => a,
                v => vec![v],
            };
            for item in items {
                let Value::Object(obj) = item else { continue };
                // The example repeats one failed login 18 times: keep each shape once.
                let mut shape = obj.clone();
                for k in ["id", "timestamp", "client_ip", "success"] {
                    shape.remove(k);
                }
                if !seen.insert(Value::Object(shape).to_string()) {
                    continue;
                }
                if let Some(g) = obj.get("geoip").filter(|g| g.is_object()) {
                    let cc = g.get("country_code").and_then(Value::as_str).unwrap_or("");
                    if !cc.is_empty() && !EMBARGOED.contains(&cc) && !t.geos.contains(g) {
                        t.geos.push(g.clone());
                    }
                }
                let et = obj.get("event_type").and_then(Value::as_str).unwrap_or("");
                if let Some(k) = LOGIN_MIX.iter().position(|(types, _)| types.contains(&et)) {
                    t.logins[k].push(obj);
                } else if !LOGIN_TYPES.contains(&et) {
                    t.other_weights
                        .push(if fires(&obj, &rules) { 1 } else { 20 });
                    t.others.push(obj);
                }
            }
        }
    }
    assert!(
        t.logins.iter().all(|l| !l.is_empty()),
        "a sample of every login type"
    );
    assert!(!t.others.is_empty() && !t.geos.is_empty());
    t
}

fn set_str(obj: &mut Map<String, Value>, key: &str, value: &str) {
    if let Some(v) = obj.get_mut(key) {
        if v.is_string() {
            *v = Value::String(value.to_string());
        }
    }
}

fn set_identity(obj: &mut Map<String, Value>, user: u64) {
    let name = format!("user{user:05}");
    let email = format!("user{user:05}@example.com");
    set_str(obj, "username", &name);
    set_str(obj, "email", &email);
    set_str(obj, "id", &format!("{:024x}", mix(user ^ 0x5eed)));
}

fn event_id(template_id: Option<&Value>, h: u64) -> String {
    let uuid = template_id
        .and_then(Value::as_str)
        .is_some_and(|s| s.contains('-'));
    if uuid {
        let l = mix(h ^ 1);
        format!(
            "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
            h >> 32,
            (h >> 16) as u16,
            h as u16,
            l >> 48,
            l & 0xFFFF_FFFF_FFFF
        )
    } else {
        format!(
            "{:024x}",
            (h as u128) << 32 | (mix(h) as u128 & 0xFFFF_FFFF)
        )
    }
}

/// `n` DI events as NDJSON (one object per line, each ending in `\n`), deterministic.
pub fn corpus(n: usize) -> Vec<u8> {
    let t = templates();
    let mut rng = Rng(0x6a63_6465_7465_6374);
    let mut out = Vec::with_capacity(n * 700);
    let login_weights: Vec<u64> = LOGIN_MIX.iter().map(|&(_, w)| w).collect();
    for i in 0..n as u64 {
        let login = rng.chance(850);
        let mut ev = if login {
            let kind = &t.logins[rng.weighted(&login_weights)];
            kind[rng.below(kind.len() as u64) as usize].clone()
        } else {
            t.others[rng.weighted(&t.other_weights)].clone()
        };
        let user = rng.skewed(USERS);
        let h = mix(i ^ 0xd1_0000_0000);
        let id = event_id(ev.get("id"), h);
        ev.insert("id".into(), Value::String(id));
        let ts = BASE_NS + i as i64 * STEP_NS + rng.below(JITTER_NS) as i64;
        ev.insert(
            "timestamp".into(),
            Value::String(jcdetect::time::to_rfc3339(ts)),
        );
        set_str(&mut ev, "username", &format!("user{user:05}"));
        if let Some(Value::Object(by)) = ev.get_mut("initiated_by") {
            set_identity(by, user);
        }
        let ip = if rng.chance(50) {
            ipv4(0x1_0000_0000 + rng.below(STRAY_IPS))
        } else {
            ipv4(user)
        };
        set_str(&mut ev, "client_ip", &ip);
        set_str(&mut ev, "src_ip", &ip);
        let legacy_admin_login = login && !ev.contains_key("initiated_by");
        if let Some(Value::Object(res)) = ev.get_mut("resource") {
            // The legacy admin login names its actor in `resource`; elsewhere it is a target.
            let target = if legacy_admin_login {
                user
            } else {
                rng.below(USERS)
            };
            set_identity(res, target);
        }
        if login {
            let ok = !rng.chance(50);
            let admin = ev.get("event_type").and_then(Value::as_str) == Some("admin_login_attempt");
            let mfa = if admin {
                !rng.chance(5)
            } else {
                mix(user ^ 0x3fa) % 100 < 85
            };
            if ev.contains_key("mfa") {
                ev.insert("mfa".into(), Value::Bool(mfa));
            }
            if ev.contains_key("sso_token_success") {
                ev.insert("sso_token_success".into(), Value::Bool(ok));
            } else {
                ev.insert("success".into(), Value::Bool(ok));
            }
            if ev.contains_key("geoip") {
                let g = if rng.chance(1) {
                    rng.below(t.geos.len() as u64)
                } else {
                    user % t.geos.len() as u64
                };
                ev.insert("geoip".into(), t.geos[g as usize].clone());
            }
        }
        serde_json::to_writer(&mut out, &ev).expect("serialize");
        out.push(b'\n');
    }
    out
}

/// The corpus split into lines (without newlines).
pub fn lines(buf: &[u8]) -> Vec<&str> {
    std::str::from_utf8(buf)
        .expect("corpus is UTF-8")
        .lines()
        .collect()
}
