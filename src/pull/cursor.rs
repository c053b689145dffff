//! Where a pull has got to, per organization and service, and what a restart resumes from.
//! It is written as JSON into `--state` (beside the window state, or alone for
//! `jcdetect pull`).
//!
//! The guarantee a cursor stands for: every event with a time from `start` up to `read_to`
//! that the API had by `as_of` (its own clock) has been delivered. Events reach the API up to
//! `lag` after their time (ingestion delay), so the next query starts at
//! `min(read_to, as_of - lag)`: any event not yet delivered is either newer than `read_to`,
//! or arrived after `as_of` and so is no older than `as_of - lag`. The overlap this re-reads
//! is skipped by key: `seen` holds the keys (DI `id`) of the events delivered at or after that
//! start, which is exactly what the next query can return again.

use crate::decode::time::{parse_rfc3339, to_rfc3339};
use crate::hash::FastBuild;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Delivered keys → event time.
pub type Seen = HashMap<Box<str>, i64, FastBuild>;

/// The version of the cursor's JSON. Bump when its meaning changes.
pub const CURSOR_VERSION: u32 = 1;

const SECOND: i64 = 1_000_000_000;

/// One organization × service: its cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    /// `x-org-id`, when pulling for several organizations.
    pub org: Option<String>,
    pub service: String,
    /// The start of the first run (`--since`): nothing older is delivered.
    pub start: i64,
    /// Delivered: every event up to this time that the API had by `as_of`
    /// (`i64::MAX`: all it had). `None`: nothing read yet.
    pub read_to: Option<i64>,
    /// The API's clock when the query that read up to `read_to` began.
    pub as_of: Option<i64>,
    /// Keys of the events delivered at or after `kept_from`, with their times.
    pub seen: Seen,
    /// `seen` holds every delivered key from this time on; older events are not compared
    /// (a later run with a larger lag must not take their absence for "not delivered").
    pub kept_from: i64,
}

impl Cursor {
    pub fn new(org: Option<String>, service: String, start: i64) -> Cursor {
        Cursor {
            org,
            service,
            start,
            read_to: None,
            as_of: None,
            seen: Seen::default(),
            kept_from: start,
        }
    }

    /// Where the next query starts (whole seconds, so that events sharing a millisecond
    /// with `read_to` are read again rather than missed; never before `start`).
    pub fn lower_bound(&self, lag: i64) -> i64 {
        let bound = match (self.read_to, self.as_of) {
            (Some(n), Some(a)) => n.min(a.saturating_sub(lag)),
            _ => return self.start,
        };
        bound
            .div_euclid(SECOND)
            .saturating_mul(SECOND)
            .max(self.start)
    }

    /// A query that began at `as_of` (the API's clock) has delivered everything up to
    /// `read_to`: take that pair as the guarantee when it lets the next query start later
    /// (the two always go together: `as_of` is the moment that `read_to` was read at).
    pub fn advance(&mut self, read_to: i64, as_of: i64, lag: i64) {
        let mut next = self.clone_bounds();
        next.read_to = Some(read_to);
        next.as_of = Some(as_of);
        if self.read_to.is_some() && next.lower_bound(lag) < self.lower_bound(lag) {
            return;
        }
        self.read_to = Some(read_to);
        self.as_of = Some(as_of);
        self.kept_from = self.kept_from.max(self.lower_bound(lag));
        let keep_from = self.kept_from;
        self.seen.retain(|_, t| *t >= keep_from);
    }

    fn clone_bounds(&self) -> Cursor {
        Cursor {
            org: None,
            service: String::new(),
            start: self.start,
            read_to: self.read_to,
            as_of: self.as_of,
            seen: Seen::default(),
            kept_from: self.kept_from,
        }
    }

    /// Every event up to `until` is delivered, and the API has had them all (or the cursor
    /// starts after `until`: there is nothing to deliver).
    pub fn complete(&self, until: i64, lag: i64) -> bool {
        self.start > until
            || (self.read_to.is_some_and(|n| n >= until)
                && self.as_of.is_some_and(|a| a >= until.saturating_add(lag)))
    }

    fn same_stream(&self, org: &Option<String>, service: &str) -> bool {
        self.org == *org && self.service == service
    }
}

#[derive(Serialize, Deserialize)]
struct SavedCursors {
    version: u32,
    streams: Vec<SavedCursor>,
}

#[derive(Serialize, Deserialize)]
struct SavedCursor {
    org: Option<String>,
    service: String,
    start: String,
    read_to: Option<String>,
    as_of: Option<String>,
    kept_from: String,
    /// `[key, time]` pairs, oldest first (stable bytes for the same cursor).
    seen: Vec<(String, String)>,
}

/// The cursors as JSON (the pull's part of a state file).
pub fn encode(cursors: &[Cursor]) -> Vec<u8> {
    let streams = cursors
        .iter()
        .map(|c| {
            let mut seen: Vec<(&str, i64)> = c.seen.iter().map(|(k, t)| (&**k, *t)).collect();
            seen.sort_unstable_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
            SavedCursor {
                org: c.org.clone(),
                service: c.service.clone(),
                start: to_rfc3339(c.start),
                read_to: c.read_to.map(|t| {
                    if t == i64::MAX {
                        "all".into()
                    } else {
                        to_rfc3339(t)
                    }
                }),
                as_of: c.as_of.map(to_rfc3339),
                kept_from: to_rfc3339(c.kept_from),
                seen: seen
                    .into_iter()
                    .map(|(k, t)| (k.to_string(), to_rfc3339(t)))
                    .collect(),
            }
        })
        .collect();
    serde_json::to_vec(&SavedCursors {
        version: CURSOR_VERSION,
        streams,
    })
    .unwrap_or_default()
}

/// Read saved cursors back.
pub fn decode(bytes: &[u8]) -> Result<Vec<Cursor>, String> {
    let saved: SavedCursors =
        serde_json::from_slice(bytes).map_err(|e| format!("the pull cursor is not valid: {e}"))?;
    if saved.version != CURSOR_VERSION {
        return Err(format!(
            "pull cursor version {}, this build reads version {CURSOR_VERSION}",
            saved.version
        ));
    }
    let time =
        |s: &str| parse_rfc3339(s).map_err(|_| format!("the pull cursor has a bad time {s:?}"));
    saved
        .streams
        .into_iter()
        .map(|s| {
            let mut c = Cursor::new(s.org, s.service, time(&s.start)?);
            c.read_to = match s.read_to.as_deref() {
                Some("all") => Some(i64::MAX),
                t => t.map(time).transpose()?,
            };
            c.as_of = s.as_of.as_deref().map(time).transpose()?;
            c.kept_from = time(&s.kept_from)?;
            for (k, t) in s.seen {
                c.seen.insert(k.into_boxed_str(), time(&t)?);
            }
            Ok(c)
        })
        .collect()
}

/// The cursors of this run's streams: the saved one of each org × service when there is
/// one, a new one from `start` otherwise. Also says which saved streams are not pulled now.
pub fn resume(
    saved: Vec<Cursor>,
    streams: &[(Option<String>, String)],
    start: i64,
) -> (Vec<Cursor>, Vec<Cursor>) {
    let mut saved = saved;
    let cursors = streams
        .iter()
        .map(
            |(org, service)| match saved.iter().position(|c| c.same_stream(org, service)) {
                Some(i) => saved.swap_remove(i),
                None => Cursor::new(org.clone(), service.clone(), start),
            },
        )
        .collect();
    (cursors, saved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_prunes_behind_the_overlap() {
        let s = 1_700_000_000 * SECOND;
        let lag = 60 * SECOND;
        let mut c = Cursor::new(Some("org1".into()), "sso".into(), s);
        assert_eq!(c.lower_bound(lag), s);
        c.seen.insert("a".into(), s + 10 * SECOND);
        c.seen.insert("b".into(), s + 100 * SECOND);
        // Read to s+100 as of s+130: the next query starts at s+70.
        c.advance(s + 100 * SECOND, s + 130 * SECOND, lag);
        assert_eq!(c.lower_bound(lag), s + 70 * SECOND);
        let keys: Vec<&str> = c.seen.keys().map(|k| &**k).collect();
        assert_eq!(keys, ["b"]);
        // Read to s+100.5 as of much later: the next query starts at the whole second.
        c.advance(s + 100 * SECOND + SECOND / 2, s + 900 * SECOND, lag);
        assert_eq!(c.lower_bound(lag), s + 100 * SECOND);
        assert!(!c.complete(s + 101 * SECOND, lag));
        assert!(c.complete(s + 100 * SECOND, lag));
        let back = decode(&encode(std::slice::from_ref(&c))).unwrap();
        assert_eq!(back, vec![c.clone()]);
        c.advance(i64::MAX, s + 901 * SECOND, lag);
        assert_eq!(
            decode(&encode(std::slice::from_ref(&c))).unwrap(),
            vec![c.clone()]
        );
        // A pair that would move the start back is not taken.
        let before = c.clone();
        c.advance(s + 50 * SECOND, s + 950 * SECOND, lag);
        assert_eq!(c, before);
        // A later run with a larger lag starts earlier, but what `seen` forgot stays below
        // `kept_from`: those are skipped, not taken for new.
        assert_eq!(c.kept_from, s + 841 * SECOND);
        assert_eq!(c.lower_bound(600 * SECOND), s + 301 * SECOND);
        // A cursor that starts after `until` is complete: nothing to ask for.
        assert!(Cursor::new(None, "all".into(), s).complete(s - 1, lag));
    }

    #[test]
    fn refuses_other_versions_and_bad_times() {
        assert!(decode(br#"{"version":2,"streams":[]}"#)
            .unwrap_err()
            .contains("version 2"));
        let bad = br#"{"version":1,"streams":[{"org":null,"service":"all","start":"x","read_to":null,"as_of":null,"kept_from":"x","seen":[]}]}"#;
        assert!(decode(bad).unwrap_err().contains("bad time"));
        assert!(decode(b"not json").is_err());
    }

    #[test]
    fn resume_matches_streams_by_org_and_service() {
        let old = vec![
            Cursor::new(None, "sso".into(), 5),
            Cursor::new(None, "radius".into(), 6),
        ];
        let want = [(None, "sso".to_string()), (None, "all".to_string())];
        let (now, dropped) = resume(old, &want, 9);
        assert_eq!((now[0].service.as_str(), now[0].start), ("sso", 5));
        assert_eq!((now[1].service.as_str(), now[1].start), ("all", 9));
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].service, "radius");
    }
}
