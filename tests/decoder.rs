//! The fast decoder (`decode::decode`, a hand-written scanner) against the reference one on
//! serde_json (`decode::decode_with_serde`): on random DI-shaped events, and on the same
//! events cut short or with bytes removed, inserted or swapped, both must accept the same
//! lines and read the same fields, and reject the same lines. A rejected line is
//! `not_an_object` exactly when it is valid JSON.

use jcdetect::decode::{decode, decode_with_serde};
use proptest::prelude::*;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // SplitMix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

const TOP: &[&str] = &[
    "id",
    "timestamp",
    "event_type",
    "service",
    "organization",
    "client_ip",
    "src_ip",
    "success",
    "sso_token_success",
    "mfa",
    "username",
    "error_message",
    "auth_method",
    "priority",
    "severity",
    "initiated_by",
    "resource",
    "geoip",
    "association",
    "mfa_meta",
    "system",
    "changes",
    "useragent",
    "@version",
    "provider",
];
const NESTED: &[&str] = &[
    "id",
    "type",
    "email",
    "username",
    "displayName",
    "name",
    "hostname",
    "country_code",
    "country_code2",
    "region_name",
    "latitude",
    "longitude",
    "op",
    "connection",
    "from",
    "to",
    "attributes",
    "sudo",
    "enabled",
    "field",
    "other",
];

fn string(r: &mut Rng, out: &mut String) {
    out.push('"');
    let n = r.below(14);
    for _ in 0..n {
        match r.below(20) {
            0 => out.push_str("\\\""),
            1 => out.push_str("\\\\"),
            2 => out.push_str("\\n"),
            3 => out.push_str("\\u00e9"),
            4 => out.push_str("\\/"),
            5 => out.push('é'),
            6 => out.push('中'),
            7 => out.push_str("\\ud83d\\ude00"), // a valid surrogate pair
            8 => out.push(' '),
            9 => out.push_str(r.pick(&["off", "false", "Disabled", "NONE", "on", "true"])),
            _ => out.push((b'a' + r.below(26) as u8) as char),
        }
    }
    out.push('"');
}

fn number(r: &mut Rng, out: &mut String) {
    let s = match r.below(8) {
        0 => "0".to_string(),
        1 => "-0.0".to_string(),
        2 => format!("{}", r.below(1000)),
        3 => format!("-{}.{}", r.below(180), r.below(1_000_000)),
        4 => format!("{}.{}e{}", r.below(10), r.below(100), r.below(5)),
        5 => format!("{}E-{}", 1 + r.below(9), r.below(3)),
        6 => format!("{}.{:04}", r.below(90), r.below(10_000)),
        _ => "12345678901234567890".to_string(),
    };
    out.push_str(&s);
}

fn ws(r: &mut Rng, out: &mut String) {
    if r.below(6) == 0 {
        out.push_str(r.pick(&[" ", "\t", "\n ", "\r\n"]));
    }
}

fn value(r: &mut Rng, depth: u32, out: &mut String) {
    let kinds = if depth >= 4 { 5 } else { 8 };
    match r.below(kinds) {
        0 | 1 => string(r, out),
        2 => number(r, out),
        3 => out.push_str(r.pick(&["true", "false"])),
        4 => out.push_str("null"),
        5 | 6 => object(r, depth + 1, NESTED, out),
        _ => {
            out.push('[');
            let n = r.below(4);
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                ws(r, out);
                value(r, depth + 1, out);
            }
            out.push(']');
        }
    }
}

fn object(r: &mut Rng, depth: u32, keys: &[&str], out: &mut String) {
    out.push('{');
    let n = r.below(if depth == 0 { 14 } else { 5 });
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        ws(r, out);
        let key = r.pick(keys);
        if r.below(25) == 0 && key.len() > 1 {
            // An escaped key that still spells a known name.
            out.push('"');
            out.push_str(&format!("\\u{:04x}", key.as_bytes()[0]));
            out.push_str(&key[1..]);
            out.push('"');
        } else {
            out.push('"');
            out.push_str(key);
            out.push('"');
        }
        ws(r, out);
        out.push(':');
        ws(r, out);
        match key {
            "changes" if r.below(3) > 0 => {
                out.push('[');
                for j in 0..r.below(4) {
                    if j > 0 {
                        out.push(',');
                    }
                    if r.below(6) == 0 {
                        value(r, depth + 1, out);
                    } else {
                        object(r, depth + 1, &["field", "from", "to", "x"], out);
                    }
                }
                out.push(']');
            }
            "initiated_by" | "resource" | "geoip" | "association" | "mfa_meta" | "system"
            | "connection" | "from" | "to" | "attributes" | "sudo"
                if r.below(4) > 0 && depth < 5 =>
            {
                object(r, depth + 1, NESTED, out)
            }
            _ => value(r, depth, out),
        }
    }
    ws(r, out);
    out.push('}');
}

fn event(seed: u64) -> String {
    let mut r = Rng(seed);
    let mut s = String::new();
    object(&mut r, 0, TOP, &mut s);
    s
}

/// Damage a valid event the way broken pipelines do.
fn mutate(s: &str, seed: u64) -> String {
    let mut r = Rng(seed ^ 0x5eed);
    let mut b = s.as_bytes().to_vec();
    if b.is_empty() {
        return String::new();
    }
    let at = r.below(b.len() as u64) as usize;
    match r.below(5) {
        0 => b.truncate(at),
        1 => {
            b.remove(at);
        }
        2 => b.insert(
            at,
            *b"{}[],:\"\\0-etn "
                .get(r.below(15) as usize)
                .unwrap_or(&b'x'),
        ),
        3 => {
            let other = r.below(b.len() as u64) as usize;
            b.swap(at, other);
        }
        _ => b.insert(at, 0x01),
    }
    // Keep it text: the engine checks UTF-8 before decoding.
    String::from_utf8_lossy(&b).into_owned()
}

fn check(text: &str) -> Result<(), TestCaseError> {
    let fast = decode(text);
    let slow = decode_with_serde(text);
    let valid_json = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
    match (fast, slow) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "fields differ on {}", text),
        (Err(e), Err(_)) => prop_assert_eq!(
            e.is_not_an_object(),
            valid_json,
            "wrong class for {}: {}",
            text,
            e
        ),
        // The documented leniencies (see `deliberate_leniencies`): serde_json rejects the
        // whole line for a lone surrogate or an out-of-range number wherever it decodes one.
        (Ok(_), Err(e))
            if e.to_string().contains("surrogate")
                || e.to_string().contains("unexpected end of hex escape")
                || e.to_string().contains("number out of range") => {}
        (Ok(_), Err(e)) => prop_assert!(false, "fast accepted, serde rejected ({e}): {text}"),
        (Err(e), Ok(_)) => prop_assert!(false, "fast rejected ({e}), serde accepted: {text}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]

    #[test]
    fn fast_decoder_matches_serde_on_events(seed in any::<u64>()) {
        check(&event(seed))?;
    }

    #[test]
    fn fast_decoder_matches_serde_on_damaged_events(seed in any::<u64>()) {
        let ev = event(seed);
        check(&mutate(&ev, seed))?;
        check(&mutate(&mutate(&ev, seed), seed.rotate_left(17)))?;
    }
}

#[test]
fn real_samples_decode_alike() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut lines = 0;
    let mut stack = vec![root.join("fixtures/samples"), root.join("data")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "ndjson" || e == "json") {
                let text = std::fs::read_to_string(&p).unwrap();
                for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
                    check(line).unwrap();
                    lines += 1;
                }
            }
        }
    }
    assert!(lines > 40, "only {lines} sample lines found");
}

#[test]
fn deliberate_leniencies() {
    // A number beyond f64 in a field we read is absent, not a lost event.
    let e = decode(r#"{"geoip":{"latitude":1e400,"longitude":2.5}}"#).unwrap();
    let g = e.geoip.unwrap();
    assert_eq!((g.latitude, g.longitude), (None, Some(2.5)));
    // A lone surrogate in a field we read decodes to U+FFFD.
    let e = decode(r#"{"username":"a\ud800b"}"#).unwrap();
    assert_eq!(e.username.as_deref(), Some("a\u{fffd}b"));
    // ... and anywhere else it is only validated, like serde_json does for skipped values
    // (serde rejects it in keys and wrongly typed fields: we do not).
    assert!(decode(r#"{"x":"\udc00"}"#).is_ok());
    assert!(decode(r#"{"\ud800":1,"geoip":"\ud800"}"#).is_ok());
    let e = decode(r#"{"username":1e400,"initiated_by":1e400,"success":true}"#).unwrap();
    assert_eq!((e.username, e.success), (None, Some(true)));
    assert_eq!(e.wrong_type, Some("username"));
    // Deep nesting in skipped values is fine (no recursion).
    let deep = format!(r#"{{"x":{}1{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
    assert!(decode(&deep).is_ok());
    let unbalanced = format!(r#"{{"x":{}1{}}}"#, "[".repeat(1000), "]".repeat(999));
    assert!(decode(&unbalanced).is_err());
}

#[test]
fn errors_name_the_column() {
    let e = decode(r#"{"id":"a","x":tru}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid literal (true, false or null) (column 15)"
    );
    let e = decode(r#"{"id":"a"} x"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "trailing characters after the event (column 12)"
    );
    let e = decode("{\"id\":\"a\u{1}\"}").unwrap_err();
    assert!(e.to_string().starts_with("control character"), "{e}");
    assert_eq!(
        decode("[1]").unwrap_err().to_string(),
        "a DI event must be a JSON object"
    );
}
