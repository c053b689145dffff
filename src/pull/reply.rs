//! A reply of the DI API and what it means ([`Puller::on_reply`]): a fault to retry, a page
//! to take (its events checked, deduplicated and queued), the end of a query; and reading
//! its parts: headers (HTTP dates, integers, `Retry-After`), the head of each event (`id`,
//! `timestamp`), the event's line as delivered.

use super::{events_are_objects, stream_name, Notice, Pending, Puller, MAX_REPEATS, SECOND};
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

impl Puller {
    /// The outcome of the request [`Step::Fetch`] asked for. `local_now` is the caller's
    /// clock (ns) when it sent the request, used only when the reply has no `Date`.
    pub fn on_reply(&mut self, reply: Result<Reply<'_>, Failure>, local_now: i64) {
        let Some(i) = self.asking else {
            return;
        };
        self.counters.requests += 1;
        let reply = match reply {
            Ok(r) => r,
            Err(f) => {
                let (what, n) = match &f {
                    Failure::Timeout(m) => (format!("timed out: {m}"), &mut self.counters.timeouts),
                    Failure::Connection(m) => (m.clone(), &mut self.counters.connection_errors),
                };
                *n += 1;
                self.retry(i, None, format!("request failed: {what}"));
                return;
            }
        };
        let now = reply.date.and_then(parse_http_date);
        if let Some(t) = now {
            self.counters.clock_skew_secs = (t - local_now) / SECOND;
            if self.counters.clock_skew_secs.abs() > 60 && !self.skew_said {
                self.skew_said = true;
                self.notices.push(Notice {
                    error: false,
                    text: format!(
                        "the API's clock and ours differ by {} s; only the API's is used",
                        self.counters.clock_skew_secs
                    ),
                });
            }
        }
        let retry_after = reply.retry_after.and_then(|v| retry_after(v, now));
        match reply.status {
            // The key and the request are good, whatever the body holds.
            200..=299 => self.streams[i].answered = true,
            401 | 403 => {
                self.counters.auth_failures += 1;
                let msg = format!(
                    "the DI API refused the key ({}{}): check JUMPCLOUD_API_KEY or --api-key-file{}",
                    reply.status,
                    server_message(reply.body),
                    if self.settings.orgs.is_empty() { "" } else { " and --org-id" }
                );
                return self.refused(i, msg, retry_after);
            }
            429 => {
                self.counters.rate_limited += 1;
                return self.retry(i, retry_after, "rate limited (429)".into());
            }
            503 => {
                self.counters.unavailable += 1;
                return self.retry(i, retry_after, "service unavailable (503)".into());
            }
            408 | 500..=599 => {
                self.counters.server_errors += 1;
                let m = format!(
                    "server error ({}{})",
                    reply.status,
                    server_message(reply.body)
                );
                return self.retry(i, retry_after, m);
            }
            _ => {
                self.counters.client_errors += 1;
                let msg = format!(
                    "the DI API rejected the request ({}{})",
                    reply.status,
                    server_message(reply.body)
                );
                return self.refused(i, msg, retry_after);
            }
        }
        let events: Vec<&serde_json::value::RawValue> =
            match serde_json::from_slice::<Vec<&serde_json::value::RawValue>>(reply.body) {
                Ok(v) if events_are_objects(&v) => v,
                Ok(_) => {
                    self.counters.bad_bodies += 1;
                    let m = "the API sent an array that holds something other than events".into();
                    return self.retry(i, retry_after, m);
                }
                Err(e) => {
                    self.counters.bad_bodies += 1;
                    let what = if e.is_eof() {
                        "a truncated body"
                    } else {
                        "a body that is not a JSON array of events"
                    };
                    return self.retry(i, retry_after, format!("the API sent {what} ({e})"));
                }
            };
        let count = events.len();
        if let Some(c) = reply.result_count.and_then(integer) {
            if c != count as u64 {
                self.counters.count_mismatches += 1;
                let m = format!("X-Result-Count says {c}, the body holds {count} events");
                return self.retry(i, retry_after, m);
            }
        }
        // The page limit in force: the server's, when it is lower than asked.
        let limit = reply
            .limit
            .and_then(integer)
            .map_or(self.settings.limit as u64, |l| {
                l.min(self.settings.limit as u64)
            });
        // Without X-Limit, a short page may be the server's own page size: page on until a
        // page comes back empty.
        let surely_full = count as u64 >= limit && count > 0;
        let full = surely_full || (reply.limit.is_none() && count > 0);
        // A header that is not a JSON array cannot be sent back: as if missing.
        let search_after = reply
            .search_after
            .map(|s| s.trim().to_string())
            .filter(|s| serde_json::from_str::<serde_json::Value>(s).is_ok_and(|v| v.is_array()));
        // Each event's key and time (counted once the page is taken).
        let heads: Vec<(Box<str>, Option<i64>, bool)> = events
            .iter()
            .map(|raw| {
                let text = raw.get();
                let head: Head = serde_json::from_str(text).unwrap_or_default();
                let ts = head
                    .timestamp
                    .as_deref()
                    .and_then(|t| crate::decode::time::parse_rfc3339(t).ok());
                match head.id {
                    Some(id) if !id.is_empty() => (id.into(), ts, true),
                    // Keyed by its bytes: stable across re-reads, so the overlap still
                    // recognises it.
                    _ => {
                        let h = crate::hash::hash64(text.as_bytes(), 0x6a63);
                        (format!("#{h:016x}").into(), ts, false)
                    }
                }
            })
            .collect();
        // A page out of time order would move the cursor past events it has not shown yet.
        let mut last_ms = i64::MIN;
        let in_order = heads.iter().all(|(_, ts, _)| match ts {
            Some(t) => {
                let ms = t.div_euclid(1_000_000);
                let ok = ms >= last_ms;
                last_ms = last_ms.max(ms);
                ok
            }
            None => true,
        });
        if !in_order {
            self.counters.bad_bodies += 1;
            return self.retry(
                i,
                retry_after,
                "the API sent a page out of time order".into(),
            );
        }
        // A page that does not follow the one before: the server did not move on (the same
        // page again, or events from before the `search_after` it was given).
        let fingerprint = (search_after.clone(), crate::hash::hash64(reply.body, 0));
        let s = &self.streams[i];
        let behind = s.prev_last_ms.is_some_and(|ms| {
            heads
                .iter()
                .any(|(_, ts, _)| ts.is_some_and(|t| t.div_euclid(1_000_000) < ms))
        });
        if behind || (full && s.last_page.as_ref() == Some(&fingerprint)) {
            self.counters.repeated_pages += 1;
            let s = &mut self.streams[i];
            s.repeats += 1;
            if s.repeats >= MAX_REPEATS {
                // `search_after` is not honoured: page on by time from the last page's second
                // (the keys skip what was read), or give up this poll if that cannot move.
                let next = s
                    .prev_last_ms
                    .map(|ms| (ms * 1_000_000).div_euclid(SECOND) * SECOND);
                let name = stream_name(&s.cursor.org, &s.cursor.service);
                match next {
                    Some(t) if t > s.from => {
                        s.from = t;
                        s.after = None;
                        s.prev_last_ms = None;
                        s.repeats = 0;
                        let text = format!("{name}: the API keeps sending a page it sent before; paging on by time");
                        self.notices.push(Notice { error: true, text });
                    }
                    _ => {
                        s.exhausted = true;
                        s.cut = true;
                        let text = format!("{name}: the API keeps sending a page it sent before; this poll stops there and the next one starts again from the cursor");
                        self.notices.push(Notice { error: true, text });
                    }
                }
                self.settle(i);
                return;
            }
            return self.retry(i, retry_after, "the API sent a page it sent before".into());
        }
        // What the API had when the query ran: no later than the request was sent, by the
        // API's clock (its `Date` is stamped after the query, and rounded down to the second).
        let server_now = now.map_or(local_now, |d| d - reply.elapsed.max(0) - SECOND);
        self.counters.pages += 1;
        let until = self.settings.until;
        let s = &mut self.streams[i];
        s.poll_now.get_or_insert(server_now);
        s.repeats = 0;
        s.failing = 0;
        let bigger_before = count < s.max_page;
        s.max_page = s.max_page.max(count);
        s.page.clear();
        s.buf.clear();
        let skip_below = s.lower.max(s.cursor.kept_from);
        let mut newest_in_page: Option<i64> = None;
        let mut page_keys = super::cursor::Seen::default();
        for (raw, (key, ts, has_id)) in events.iter().zip(heads) {
            let text = raw.get();
            if let Some(t) = ts {
                newest_in_page = Some(newest_in_page.map_or(t, |n| n.max(t)));
            } else {
                self.counters.without_timestamp += 1;
            }
            if !has_id {
                self.counters.without_id += 1;
            }
            if let (Some(t), Some(u)) = (ts, until) {
                if t > u {
                    self.counters.after_until += 1;
                    continue;
                }
            }
            // Older than the cursor's start: delivered before (its keys are forgotten), or
            // older than this query asked for.
            if ts.is_some_and(|t| t < skip_below) {
                self.counters.before_start += 1;
                continue;
            }
            if s.cursor.seen.contains_key(&key) || page_keys.contains_key(&key) {
                self.counters.duplicates += 1;
                continue;
            }
            page_keys.insert(key.clone(), 0);
            let start = s.page.len();
            push_line(text, &mut s.page);
            s.buf.push_back(Pending {
                key,
                ts,
                start,
                end: s.page.len(),
            });
        }
        if !full {
            s.exhausted = true;
        } else {
            s.last_page = Some(fingerprint);
            s.prev_last_ms = newest_in_page.map(|t| t.div_euclid(1_000_000));
            match search_after {
                Some(after) => s.after = Some(after),
                None => {
                    // Page on by time instead: start again at the page's newest second;
                    // the keys skip what was read.
                    self.counters.missing_search_after += 1;
                    let next = newest_in_page.map(|t| t.div_euclid(SECOND) * SECOND);
                    match next {
                        Some(t) if t > s.from => {
                            s.from = t;
                            s.after = None;
                            // Paging by time re-reads the start of that second.
                            s.prev_last_ms = None;
                        }
                        // Smaller than a page this query already had: the last one.
                        _ if !surely_full && bigger_before => s.exhausted = true,
                        _ => {
                            // A page that may be full (the server's size unknown) within one
                            // second, and no way past it.
                            s.exhausted = true;
                            s.cut = true;
                            self.notices.push(Notice {
                                error: true,
                                text: format!(
                                    "{}: a page without X-Search_after that may be full and cannot be paged past by time; this poll stops there",
                                    stream_name(&s.cursor.org, &s.cursor.service)
                                ),
                            });
                        }
                    }
                }
            }
        }
        self.settle(i);
    }
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
