//! Reading a reply of the DI API: its headers (HTTP dates, integers, `Retry-After`), the
//! head of each event (`id`, `timestamp`), and the event's line as delivered.

use crate::decode::time::days_from_civil;
use std::borrow::Cow;

/// A reply, as the transport got it: status, the headers the protocol uses, the body.
#[derive(Debug, Default, Clone, Copy)]
pub struct Reply<'a> {
    pub status: u16,
    pub retry_after: Option<&'a str>,
    /// `X-Result-Count`
    pub result_count: Option<&'a str>,
    /// `X-Limit`
    pub limit: Option<&'a str>,
    /// `X-Search_after`
    pub search_after: Option<&'a str>,
    /// `Date`
    pub date: Option<&'a str>,
    /// From sending the request to having the reply, ns (0: unknown).
    pub elapsed: i64,
    pub body: &'a [u8],
}

/// A request that got no complete reply.
#[derive(Debug, Clone)]
pub enum Failure {
    /// No answer in time (connect, headers or body).
    Timeout(String),
    /// Refused, reset (also mid-body), DNS, TLS.
    Connection(String),
}

/// The two fields the source reads of every event; the rest is passed on untouched.
#[derive(Default, serde::Deserialize)]
pub(crate) struct Head<'a> {
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub timestamp: Option<Cow<'a, str>>,
}

/// A header integer. Numbers, never strings, are compared ("9999" < "10000").
pub(crate) fn integer(v: &str) -> Option<u64> {
    v.trim().parse().ok()
}

/// `Retry-After`: delay seconds or an HTTP date (relative to the server's `now`), in ns.
pub(crate) fn retry_after(v: &str, now: Option<i64>) -> Option<i64> {
    if let Some(secs) = integer(v) {
        return Some(i64::try_from(secs).ok()?.saturating_mul(1_000_000_000));
    }
    let at = parse_http_date(v)?;
    Some(at.saturating_sub(now?).max(0))
}

/// An HTTP date in IMF-fixdate form (`Sun, 06 Nov 1994 08:49:37 GMT`, what servers send),
/// as ns since the epoch.
pub fn parse_http_date(v: &str) -> Option<i64> {
    let v = v.trim();
    let rest = v.split_once(", ").map_or(v, |(_, r)| r);
    let mut parts = rest.split_ascii_whitespace();
    let day: i64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let mut field = |max: i64| -> Option<i64> {
        let n: i64 = hms.next()?.parse().ok()?;
        (0..=max).contains(&n).then_some(n)
    };
    let (h, m, s) = (field(23)?, field(59)?, field(60)?);
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || !(1970..=9999).contains(&year) {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s;
    secs.checked_mul(1_000_000_000)
}

/// The start of the server's message in an error body, for the log (`: …`).
pub(crate) fn server_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let short: String = text.chars().take(200).collect();
    let short = short.replace(['\n', '\r'], " ");
    format!(": {short}")
}

/// Append an event as one NDJSON line. The API's JSON is compact; an event that spans lines
/// is re-encoded compactly so it stays one line.
pub(crate) fn push_line(text: &str, out: &mut Vec<u8>) {
    if memchr::memchr2(b'\n', b'\r', text.as_bytes()).is_some() {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
            out.extend_from_slice(v.to_string().as_bytes());
            out.push(b'\n');
            return;
        }
    }
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_and_retry_after() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            crate::decode::time::to_rfc3339(t),
            "1994-11-06T08:49:37.000Z"
        );
        for bad in [
            "",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
        assert_eq!(retry_after(" 5 ", None), Some(5_000_000_000));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:47 GMT", Some(t)),
            Some(10_000_000_000)
        );
        // A date in the past: now.
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:00 GMT", Some(t)),
            Some(0)
        );
        assert_eq!(retry_after("soon", Some(t)), None);
        assert_eq!(integer("10000"), Some(10_000));
        assert!(integer("9999") < integer("10000"));
    }

    #[test]
    fn lines_stay_lines() {
        let mut out = Vec::new();
        push_line("{\"a\":1}", &mut out);
        push_line("{\n  \"b\": \"x\\ny\"\n}", &mut out);
        assert_eq!(out, b"{\"a\":1}\n{\"b\":\"x\\ny\"}\n");
        assert_eq!(server_message(b"  "), "");
        assert_eq!(
            server_message(b"{\"message\":\"no\"}\n"),
            ": {\"message\":\"no\"}"
        );
    }
}
