//! A Sigma `detection:` compiled: search identifiers (a map ANDs its fields, a list ORs its
//! items; a list of plain values is a keyword search), each field with its modifiers turned
//! into a predicate when the rule loads (wildcards into globs, `base64`/`windash` into the
//! needles they stand for, `re` into a regex), evaluated on an event's JSON.
//!
//! Field names are JSON paths (`initiated_by.username`); a path through an array matches
//! when any element matches.

use super::yaml::{Node, Pos};
use serde_json::Value;

/// One compiled predicate on a field's value.
#[derive(Debug, Clone)]
enum Test {
    /// A glob over the value as text (`*`, `?`), case-folded unless `cased`.
    Glob {
        parts: Vec<Part>,
        cased: bool,
    },
    /// The field is null or absent.
    Null,
    Regex(regex::Regex),
    Cidr {
        net: std::net::IpAddr,
        bits: u8,
    },
    Exists(bool),
    Num {
        op: Op,
        value: f64,
    },
    /// Equal to another field of the event.
    FieldRef {
        path: String,
        cased: bool,
    },
    /// A part of the field's time (`minute`, `hour`, ...), equal to a number.
    Time {
        part: TimePart,
        value: i64,
    },
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug, Clone, Copy)]
enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Lit(String),
    Star,
    One,
}

/// A field with its tests: any (or, with `all`, every) test must hold; `neq` negates.
#[derive(Debug, Clone)]
struct FieldMatch {
    /// `None`: a keyword search over every string of the event.
    path: Option<String>,
    tests: Vec<Test>,
    all: bool,
    neq: bool,
}

/// A search identifier: OR of ANDs of field matches.
#[derive(Debug, Clone)]
pub struct Selection {
    alternatives: Vec<Vec<FieldMatch>>,
}

/// A problem with where it is.
pub type Problem = (Pos, String);

impl Selection {
    pub fn matches(&self, event: &Value) -> bool {
        self.alternatives
            .iter()
            .any(|fields| fields.iter().all(|f| f.matches(event)))
    }

    /// Every field path the selection reads (`fieldref` targets included); `false` when it
    /// is a keyword search, which reads the whole event.
    pub fn paths(&self, out: &mut Vec<String>) -> bool {
        let mut fielded = true;
        for f in self.alternatives.iter().flatten() {
            match &f.path {
                Some(p) => out.push(p.clone()),
                None => fielded = false,
            }
            for t in &f.tests {
                if let Test::FieldRef { path, .. } = t {
                    out.push(path.clone());
                }
            }
        }
        fielded
    }

    /// The `event_type` values (lower case) an event must have to match, when every
    /// alternative pins it to plain values; `None` when some alternative does not.
    pub fn event_types(&self) -> Option<Vec<String>> {
        let mut out = Vec::new();
        for fields in &self.alternatives {
            let pinned = fields.iter().find_map(|f| {
                if f.path.as_deref() != Some("event_type") || f.neq || (f.all && f.tests.len() > 1)
                {
                    return None;
                }
                f.tests
                    .iter()
                    .map(|t| match t {
                        Test::Glob { parts, .. } => match parts.as_slice() {
                            [Part::Lit(l)] => Some(l.to_lowercase()),
                            _ => None,
                        },
                        _ => None,
                    })
                    .collect::<Option<Vec<String>>>()
            })?;
            out.extend(pinned);
        }
        (!self.alternatives.is_empty()).then_some(out)
    }

    /// Compile one search identifier's node.
    pub fn compile(node: &Node, problems: &mut Vec<Problem>) -> Selection {
        let alternatives = match node {
            Node::Map { .. } => vec![fields_of(node, problems)],
            Node::Seq { items, .. } if items.iter().all(|i| matches!(i, Node::Map { .. })) => {
                items.iter().map(|i| fields_of(i, problems)).collect()
            }
            Node::Seq { items, .. } => {
                // Keywords: plain values searched for in the whole event.
                let mut tests = Vec::new();
                for i in items {
                    match i {
                        Node::Scalar { text, .. } => tests.push(Test::Glob {
                            parts: glob_parts(&format!("*{}*", escape_free(text)), false),
                            cased: false,
                        }),
                        other => problems
                            .push((other.pos(), "a keyword list holds plain values only".into())),
                    }
                }
                vec![vec![FieldMatch {
                    path: None,
                    tests,
                    all: false,
                    neq: false,
                }]]
            }
            Node::Scalar { pos, .. } => {
                problems.push((
                    *pos,
                    "a search identifier is a map of fields or a list".into(),
                ));
                vec![]
            }
        };
        Selection { alternatives }
    }
}

/// A keyword's text with its wildcards kept (`escape_free` only strips nothing: keywords are
/// globs as written).
fn escape_free(text: &str) -> String {
    text.to_string()
}

fn fields_of(node: &Node, problems: &mut Vec<Problem>) -> Vec<FieldMatch> {
    let Node::Map { entries, .. } = node else {
        return vec![];
    };
    entries
        .iter()
        .filter_map(|(k, v)| {
            let Some(key) = k.as_str() else {
                problems.push((k.pos(), "a field name must be a plain string".into()));
                return None;
            };
            field(key, v, problems)
        })
        .collect()
}

fn field(key: &str, value: &Node, problems: &mut Vec<Problem>) -> Option<FieldMatch> {
    let mut parts = key.split('|');
    let path = parts.next().unwrap_or_default().to_string();
    let mods: Vec<String> = parts.map(|m| m.to_ascii_lowercase()).collect();
    let at = value.pos();
    let mut bad = |msg: String| problems.push((at, msg));
    let values: Vec<&Node> = match value {
        Node::Seq { items, .. } => items.iter().collect(),
        other => vec![other],
    };
    let has = |m: &str| mods.iter().any(|x| x == m);
    let known = [
        "contains",
        "startswith",
        "endswith",
        "all",
        "re",
        "i",
        "m",
        "s",
        "cidr",
        "exists",
        "cased",
        "neq",
        "gt",
        "gte",
        "lt",
        "lte",
        "fieldref",
        "base64",
        "base64offset",
        "utf16le",
        "utf16be",
        "utf16",
        "wide",
        "windash",
        "minute",
        "hour",
        "day",
        "week",
        "month",
        "year",
    ];
    for m in &mods {
        if m == "expand" {
            bad(
                "`expand` needs placeholders filled by a processing pipeline, which jcdetect \
                 does not run"
                    .into(),
            );
            return None;
        }
        if !known.contains(&m.as_str()) {
            bad(format!("unknown modifier `{m}`"));
            return None;
        }
    }
    let cased = has("cased");
    let mut tests = Vec::new();
    for v in &values {
        let text = v.as_str().unwrap_or_default().to_string();
        let quoted = matches!(v, Node::Scalar { quoted: true, .. });
        if !matches!(v, Node::Scalar { .. }) {
            bad("a field's value is a scalar or a list of scalars".into());
            return None;
        }
        if has("exists") {
            match text.as_str() {
                "true" => tests.push(Test::Exists(true)),
                "false" => tests.push(Test::Exists(false)),
                _ => bad("`exists` takes true or false".into()),
            }
            continue;
        }
        if v.is_null() && mods.is_empty() {
            tests.push(Test::Null);
            continue;
        }
        if let Some(op) = [
            ("gt", Op::Gt),
            ("gte", Op::Gte),
            ("lt", Op::Lt),
            ("lte", Op::Lte),
        ]
        .into_iter()
        .find(|(m, _)| has(m))
        .map(|(_, o)| o)
        {
            match text.parse::<f64>() {
                Ok(value) => tests.push(Test::Num { op, value }),
                Err(_) => bad(format!("`{text}` is not a number")),
            }
            continue;
        }
        if let Some(part) = [
            ("minute", TimePart::Minute),
            ("hour", TimePart::Hour),
            ("day", TimePart::Day),
            ("week", TimePart::Week),
            ("month", TimePart::Month),
            ("year", TimePart::Year),
        ]
        .into_iter()
        .find(|(m, _)| has(m))
        .map(|(_, p)| p)
        {
            match text.parse::<i64>() {
                Ok(value) => tests.push(Test::Time { part, value }),
                Err(_) => bad(format!("`{text}` is not a whole number")),
            }
            continue;
        }
        if has("fieldref") {
            tests.push(Test::FieldRef { path: text, cased });
            continue;
        }
        if has("cidr") {
            match cidr(&text) {
                Some((net, bits)) => tests.push(Test::Cidr { net, bits }),
                None => bad(format!("`{text}` is not a CIDR network")),
            }
            continue;
        }
        if has("re") {
            let flags: String = ["i", "m", "s"].iter().filter(|f| has(f)).copied().collect();
            let pattern = if flags.is_empty() {
                text.clone()
            } else {
                format!("(?{flags}){text}")
            };
            match regex::Regex::new(&pattern) {
                Ok(r) => tests.push(Test::Regex(r)),
                Err(e) => bad(format!("bad regular expression: {e}")),
            }
            continue;
        }
        // Text matches: the value, transformed, then placed.
        let mut needles: Vec<String> = vec![text.clone()];
        let utf16 = ["utf16le", "utf16be", "utf16", "wide"]
            .into_iter()
            .find(|m| has(m));
        if utf16.is_some() && !(has("base64") || has("base64offset")) {
            bad("utf16 modifiers are only supported before `base64`/`base64offset`".into());
            return None;
        }
        if has("windash") {
            needles = needles.iter().flat_map(|n| windash(n)).collect();
        }
        if has("base64") || has("base64offset") {
            let offsets = has("base64offset");
            needles = needles
                .iter()
                .flat_map(|n| {
                    let bytes = encode_utf16(n, utf16);
                    if offsets {
                        base64_offsets(&bytes)
                    } else {
                        vec![base64(&bytes)]
                    }
                })
                .collect();
        }
        // A plain (unquoted) number matches the number or its text: both compare as text.
        let _ = quoted;
        for n in needles {
            let glob = if has("base64") || has("base64offset") {
                // Encoded needles are literal text (a `*` in them is not a wildcard).
                escape(&n)
            } else {
                n
            };
            let pattern = if has("contains") || has("base64offset") {
                format!("*{glob}*")
            } else if has("startswith") {
                format!("{glob}*")
            } else if has("endswith") {
                format!("*{glob}")
            } else {
                glob
            };
            tests.push(Test::Glob {
                parts: glob_parts(&pattern, cased),
                cased,
            });
        }
    }
    Some(FieldMatch {
        path: Some(path),
        tests,
        all: has("all"),
        neq: has("neq"),
    })
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `*`, `?` and `\` escapes (`\*`, `\?`, `\\`; a `\` before anything else is itself).
fn glob_parts(pattern: &str, cased: bool) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('*' | '?' | '\\')) => {
                lit.push(chars.next().unwrap_or('\\'))
            }
            '*' | '?' => {
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                parts.push(if c == '*' { Part::Star } else { Part::One });
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    if !cased {
        for p in &mut parts {
            if let Part::Lit(l) = p {
                *l = l.to_lowercase();
            }
        }
    }
    parts
}

fn glob_match(parts: &[Part], text: &str) -> bool {
    match parts.split_first() {
        None => text.is_empty(),
        Some((Part::Lit(l), rest)) => text
            .strip_prefix(l.as_str())
            .is_some_and(|t| glob_match(rest, t)),
        Some((Part::One, rest)) => {
            let mut cs = text.chars();
            cs.next().is_some() && glob_match(rest, cs.as_str())
        }
        Some((Part::Star, rest)) => {
            if rest.is_empty() {
                return true;
            }
            text.char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(text.len()))
                .any(|i| glob_match(rest, &text[i..]))
        }
    }
}

fn windash(s: &str) -> Vec<String> {
    // The dash of Windows options and the characters its parsers also accept there.
    ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}']
        .iter()
        .map(|d| {
            let mut out = String::new();
            let mut prev_space = true;
            for c in s.chars() {
                if c == '-' && prev_space {
                    out.push(*d);
                } else {
                    out.push(c);
                }
                prev_space = c.is_whitespace();
            }
            out
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn encode_utf16(s: &str, how: Option<&str>) -> Vec<u8> {
    match how {
        None => s.as_bytes().to_vec(),
        Some("utf16be") => s.encode_utf16().flat_map(|u| u.to_be_bytes()).collect(),
        // `utf16` is little-endian with a byte-order mark; `wide` and `utf16le` without.
        Some("utf16") => [0xff, 0xfe]
            .into_iter()
            .chain(s.encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect(),
        Some(_) => s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect(),
    }
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The three encodings of `bytes` at any offset in a longer base64 text: the stable middle
/// of each (what pySigma's `base64offset` produces).
fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    // Cut from the padded encoding: the first characters depend on what precedes, the last
    // ones on what follows.
    const START: [usize; 3] = [0, 2, 3];
    const END: [usize; 3] = [0, 3, 2];
    (0..3)
        .map(|i| {
            let mut padded = vec![b' '; i];
            padded.extend_from_slice(bytes);
            let enc = base64(&padded);
            let end = END[(bytes.len() + i) % 3];
            enc.get(START[i]..enc.len().saturating_sub(end))
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn cidr(text: &str) -> Option<(std::net::IpAddr, u8)> {
    let (ip, bits) = text.split_once('/')?;
    let ip: std::net::IpAddr = ip.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

fn in_net(ip: std::net::IpAddr, net: std::net::IpAddr, bits: u8) -> bool {
    let (a, b, len) = match (ip, net) {
        (std::net::IpAddr::V4(a), std::net::IpAddr::V4(b)) => (
            u128::from(u32::from(a)) << 96,
            u128::from(u32::from(b)) << 96,
            bits,
        ),
        (std::net::IpAddr::V6(a), std::net::IpAddr::V6(b)) => (u128::from(a), u128::from(b), bits),
        _ => return false,
    };
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    };
    a & mask == b & mask
}

/// Every value at `path` (arrays fanned out).
fn values<'a>(event: &'a Value, path: &str, out: &mut Vec<&'a Value>) {
    fn walk<'a>(v: &'a Value, keys: &[&str], out: &mut Vec<&'a Value>) {
        match (v, keys.split_first()) {
            (Value::Array(items), _) => items.iter().for_each(|i| walk(i, keys, out)),
            (_, None) => out.push(v),
            (Value::Object(m), Some((k, rest))) => {
                if let Some(x) = m.get(*k) {
                    walk(x, rest, out);
                }
            }
            _ => {}
        }
    }
    let keys: Vec<&str> = path.split('.').collect();
    walk(event, &keys, out);
}

/// The first value at `path` as text (a string as is, a number or boolean written out):
/// a correlation's group and value fields.
pub fn first_text(event: &Value, path: &str) -> Option<String> {
    let mut vals = Vec::new();
    values(event, path, &mut vals);
    vals.into_iter().find_map(text_of)
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

impl FieldMatch {
    fn matches(&self, event: &Value) -> bool {
        let Some(path) = &self.path else {
            let mut all = Vec::new();
            strings(event, &mut all);
            let lower: Vec<String> = all.iter().map(|s| s.to_lowercase()).collect();
            return self.tests.iter().any(|t| match t {
                Test::Glob { parts, .. } => lower.iter().any(|s| glob_match(parts, s)),
                _ => false,
            });
        };
        let mut vals = Vec::new();
        values(event, path, &mut vals);
        let one = |t: &Test| -> bool {
            match t {
                Test::Exists(want) => vals.iter().any(|v| !v.is_null()) == *want,
                Test::Null => vals.is_empty() || vals.iter().any(|v| v.is_null()),
                Test::Glob { parts, cased } => vals.iter().filter_map(|v| text_of(v)).any(|s| {
                    if *cased {
                        glob_match(parts, &s)
                    } else {
                        glob_match(parts, &s.to_lowercase())
                    }
                }),
                Test::Regex(r) => vals
                    .iter()
                    .filter_map(|v| text_of(v))
                    .any(|s| r.is_match(&s)),
                Test::Cidr { net, bits } => vals
                    .iter()
                    .filter_map(|v| v.as_str()?.parse::<std::net::IpAddr>().ok())
                    .any(|ip| in_net(ip, *net, *bits)),
                Test::Num { op, value } => vals
                    .iter()
                    .filter_map(|v| v.as_f64().or_else(|| v.as_str()?.trim().parse().ok()))
                    .any(|x| match op {
                        Op::Gt => x > *value,
                        Op::Gte => x >= *value,
                        Op::Lt => x < *value,
                        Op::Lte => x <= *value,
                    }),
                Test::FieldRef { path, cased } => {
                    let mut other = Vec::new();
                    values(event, path, &mut other);
                    let norm = |s: String| if *cased { s } else { s.to_lowercase() };
                    vals.iter().filter_map(|v| text_of(v)).map(norm).any(|a| {
                        other
                            .iter()
                            .filter_map(|v| text_of(v))
                            .map(|s| if *cased { s } else { s.to_lowercase() })
                            .any(|b| a == b)
                    })
                }
                Test::Time { part, value } => vals
                    .iter()
                    .filter_map(|v| crate::decode::time::parse_rfc3339(v.as_str()?).ok())
                    .any(|t| time_part(t, *part) == *value),
            }
        };
        let hit = if self.all {
            self.tests.iter().all(one)
        } else {
            self.tests.iter().any(one)
        };
        if self.neq {
            // Present, and equal to none of the values.
            !vals.is_empty() && !hit
        } else {
            hit
        }
    }
}

fn time_part(nanos: i64, part: TimePart) -> i64 {
    let text = crate::decode::time::to_rfc3339(nanos);
    let num = |a: usize, b: usize| text[a..b].parse::<i64>().unwrap_or(-1);
    match part {
        TimePart::Year => num(0, 4),
        TimePart::Month => num(5, 7),
        TimePart::Day => num(8, 10),
        TimePart::Hour => num(11, 13),
        TimePart::Minute => num(14, 16),
        TimePart::Week => {
            // ISO week of the date.
            let days = nanos.div_euclid(86_400 * 1_000_000_000);
            let weekday = (days + 3).rem_euclid(7); // Monday = 0
            let thursday = days - weekday + 3;
            let year_start = crate::decode::time::days_from_civil(
                time_part(thursday * 86_400 * 1_000_000_000, TimePart::Year),
                1,
                1,
            );
            (thursday - year_start) / 7 + 1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_its_offsets() {
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fo"), "Zm8=");
        // A known triple: "/bin/sh" at the three offsets of a longer text.
        let o = base64_offsets(b"/bin/sh");
        assert_eq!(o, ["L2Jpbi9za", "9iaW4vc2", "vYmluL3No"]);
        assert_eq!(windash("-enc x").len(), 5);
    }
}
