//! Event time: RFC 3339 parsing and formatting without a calendar library on the hot path.
//!
//! Times are `i64` nanoseconds since the Unix epoch (UTC). That covers 1677..2262, which is
//! every plausible DI timestamp; anything outside is rejected as an odd timestamp rather
//! than silently wrapped.

/// Nanoseconds per second.
pub const NANOS: i64 = 1_000_000_000;

/// Why a timestamp was rejected (bounded set, used in diagnostics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeError {
    Syntax,
    OutOfRange,
}

fn digits(b: &[u8], at: usize, n: usize) -> Result<i64, TimeError> {
    let s = b.get(at..at + n).ok_or(TimeError::Syntax)?;
    let mut v = 0i64;
    for &c in s {
        if !c.is_ascii_digit() {
            return Err(TimeError::Syntax);
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Ok(v)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parse an RFC 3339 timestamp (`T` or space separator, `Z`/`z` or `±hh:mm` offset, 0–9
/// fractional digits) into nanoseconds since the epoch, UTC.
pub fn parse_rfc3339(s: &str) -> Result<i64, TimeError> {
    let b = s.as_bytes();
    let year = digits(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return Err(TimeError::Syntax);
    }
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return Err(TimeError::Syntax);
    }
    let hour = digits(b, 11, 2)?;
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return Err(TimeError::Syntax);
    }
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(TimeError::Syntax);
    }
    let mut i = 19;
    let mut frac = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                frac = frac * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return Err(TimeError::Syntax);
        }
        for _ in n..9 {
            frac *= 10;
        }
    }
    let offset_secs = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = digits(b, i + 1, 2)?;
            let om = digits(b, i + 4, 2)?;
            if oh > 23 || om > 59 {
                return Err(TimeError::Syntax);
            }
            let off = oh * 3600 + om * 60;
            if sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return Err(TimeError::Syntax),
    };
    // A leap second is folded onto the next second, as chrono and most pipelines do.
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs;
    secs.checked_mul(NANOS)
        .and_then(|n| n.checked_add(frac))
        .ok_or(TimeError::OutOfRange)
}

/// Format nanoseconds since the epoch as RFC 3339 UTC. The fraction is written with 3, 6 or 9
/// digits, the fewest that are exact, so `…06.495Z` stays `…06.495Z`.
pub fn format_rfc3339(nanos: i64, out: &mut Vec<u8>) {
    let secs = nanos.div_euclid(NANOS);
    let frac = nanos.rem_euclid(NANOS);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut buf = [0u8; 32];
    let mut n = 0;
    let put = |v: i64, width: usize, buf: &mut [u8; 32], n: &mut usize| {
        let mut v = v;
        for k in (0..width).rev() {
            buf[*n + k] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        *n += width;
    };
    put(y, 4, &mut buf, &mut n);
    buf[n] = b'-';
    n += 1;
    put(m, 2, &mut buf, &mut n);
    buf[n] = b'-';
    n += 1;
    put(d, 2, &mut buf, &mut n);
    buf[n] = b'T';
    n += 1;
    put(sod / 3600, 2, &mut buf, &mut n);
    buf[n] = b':';
    n += 1;
    put(sod / 60 % 60, 2, &mut buf, &mut n);
    buf[n] = b':';
    n += 1;
    put(sod % 60, 2, &mut buf, &mut n);
    buf[n] = b'.';
    n += 1;
    if frac % 1_000_000 == 0 {
        put(frac / 1_000_000, 3, &mut buf, &mut n);
    } else if frac % 1_000 == 0 {
        put(frac / 1_000, 6, &mut buf, &mut n);
    } else {
        put(frac, 9, &mut buf, &mut n);
    }
    buf[n] = b'Z';
    n += 1;
    out.extend_from_slice(&buf[..n]);
}

/// Format as an owned string (tests, messages).
pub fn to_rfc3339(nanos: i64) -> String {
    let mut v = Vec::with_capacity(32);
    format_rfc3339(nanos, &mut v);
    String::from_utf8(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_fraction_width_and_offsets() {
        let cases: &[(&str, Option<&str>)] = &[
            ("2023-06-15T15:16:41Z", Some("2023-06-15T15:16:41.000Z")),
            ("2023-06-16T14:06:45.921Z", Some("2023-06-16T14:06:45.921Z")),
            (
                "2023-03-07T13:01:19.21859368Z",
                Some("2023-03-07T13:01:19.218593680Z"),
            ),
            (
                "2023-06-15T14:48:36.495420839Z",
                Some("2023-06-15T14:48:36.495420839Z"),
            ),
            (
                "2023-06-15T14:48:36.4954208391234Z",
                Some("2023-06-15T14:48:36.495420839Z"),
            ),
            (
                "2023-06-15T16:48:36.5+02:00",
                Some("2023-06-15T14:48:36.500Z"),
            ),
            (
                "2023-06-15T10:48:36-04:00",
                Some("2023-06-15T14:48:36.000Z"),
            ),
            ("2024-02-29 00:00:00z", Some("2024-02-29T00:00:00.000Z")),
            (
                "1969-12-31T23:59:59.999999Z",
                Some("1969-12-31T23:59:59.999999Z"),
            ),
            ("2023-02-29T00:00:00Z", None),
            ("2023-06-15T24:00:00Z", None),
            ("2023-06-15T14:48:36.Z", None),
            ("2023-06-15T14:48:36", None),
            ("2023-06-15T14:48:36Zjunk", None),
            ("2023-6-15T14:48:36Z", None),
            ("", None),
            ("0001-01-01T00:00:00Z", None),
            ("9999-12-31T23:59:59Z", None),
        ];
        for (input, want) in cases {
            let got = parse_rfc3339(input).ok().map(to_rfc3339);
            assert_eq!(got.as_deref(), *want, "input {input:?}");
        }
    }

    #[test]
    fn agrees_with_chrono() {
        for s in [
            "2023-01-14T08:16:06.495Z",
            "2000-02-29T12:00:00.123456789Z",
            "2100-03-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
        ] {
            let c = chrono::DateTime::parse_from_rfc3339(s).unwrap();
            assert_eq!(
                parse_rfc3339(s).unwrap(),
                c.timestamp_nanos_opt().unwrap(),
                "{s}"
            );
        }
    }
}
