//! Writing events as DI does: a JSON object with keys in call order, coordinates printed
//! from integers, and timestamps at each service's precision.

use crate::alert::json::write_str;
use crate::decode::time::{format_rfc3339, NANOS};

/// Appends one JSON object; keys are written in call order, like DI's own output.
pub(super) struct J<'a> {
    out: &'a mut Vec<u8>,
    n: usize,
}

impl<'a> J<'a> {
    pub(super) fn open(out: &'a mut Vec<u8>) -> J<'a> {
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
    pub(super) fn s(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        write_str(self.out, v);
        self
    }
    /// A value that is already JSON.
    pub(super) fn raw(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        self.out.extend_from_slice(v.as_bytes());
        self
    }
    pub(super) fn b(&mut self, k: &str, v: bool) -> &mut Self {
        self.raw(k, if v { "true" } else { "false" })
    }
    pub(super) fn null(&mut self, k: &str) -> &mut Self {
        self.raw(k, "null")
    }
    pub(super) fn i(&mut self, k: &str, v: i64) -> &mut Self {
        self.key(k);
        self.out.extend_from_slice(v.to_string().as_bytes());
        self
    }
    pub(super) fn o(&mut self, k: &str, f: impl FnOnce(&mut J<'_>)) -> &mut Self {
        self.key(k);
        let mut j = J::open(self.out);
        f(&mut j);
        j.out.push(b'}');
        self
    }
    pub(super) fn close(self) {
        self.out.push(b'}');
    }
}

/// Degrees × 10⁴ as a JSON number with trailing zeros trimmed (`-6.2591`, `42.059`).
pub(super) fn deg(v: i32) -> String {
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
pub(super) enum Frac {
    /// RADIUS: whole seconds.
    Secs,
    /// Directory and most services: milliseconds, always 3 digits.
    Millis,
    /// SSO, systems, MDM: Go's RFC3339Nano, trailing zeros trimmed (mostly 8 or 9 digits).
    Nanos,
}

impl Frac {
    pub(super) fn truncate(self, t: i64) -> i64 {
        match self {
            Frac::Secs => t - t.rem_euclid(NANOS),
            Frac::Millis => t - t.rem_euclid(1_000_000),
            Frac::Nanos => t,
        }
    }
}

pub(super) fn rfc3339(t: i64, frac: Frac) -> String {
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
pub(super) fn local_time(t: i64, utc_min: i32) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn coordinates_print_trimmed() {
        assert_eq!(deg(-62591), "-6.2591");
        assert_eq!(deg(420590), "42.059");
        assert_eq!(deg(10_000), "1");
    }
}
