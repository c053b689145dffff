//! The stream's event-time watermark (the newest event time seen), robust to single events
//! with absurd timestamps.
//!
//! Lateness is judged against the newest event seen, as the catalog says. But a plain
//! maximum lets one event dated 2200 make every later event late, which blinds the stateful
//! rules for good. So one event moves the watermark by at most `max_jump`; an event further
//! ahead is *tentative*: it waits for the next timed event to confirm the jump (the next
//! event is not more than `max_jump` before it: a quiet night, the next file of a replay).
//! A tentative event still enters the windows when it is within `max_future` of the
//! watermark (so the first login after a quiet night still counts); further ahead it is
//! kept out of them and reported, since it would otherwise pin its keys' state far in the
//! future. An event that does not confirm the jump drops it: a lone far-future event never
//! moves the watermark. Nor does one delivered twice (the same time does not confirm), nor
//! one at the very start of a stream: the watermark is set only once two events agree.

use crate::decode::time::NANOS;

const NONE: i64 = i64::MIN;

/// Where one event stands against the watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Feed it to the windows, with `now` as the stream's current time.
    InTime { now: i64 },
    /// More than the allowed lateness behind the watermark.
    Late,
    /// More than `max_future` ahead of the watermark, not (yet) confirmed.
    Ahead { by_secs: i64 },
}

/// The watermark state (two times; saved with the window state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermark {
    newest: i64,
    /// A tentative jump's time, waiting for the next event to confirm it.
    pending: i64,
    lateness: i64,
    max_jump: i64,
    max_future: i64,
}

impl Watermark {
    pub fn new(lateness_secs: u64, max_jump_secs: u64, max_future_secs: u64) -> Watermark {
        let ns = |s: u64| (s as i64).saturating_mul(NANOS);
        Watermark {
            newest: NONE,
            pending: NONE,
            lateness: ns(lateness_secs),
            max_jump: ns(max_jump_secs),
            max_future: ns(max_future_secs),
        }
    }

    /// The watermark (ns), once an event has been seen.
    pub fn current(&self) -> Option<i64> {
        (self.newest != NONE).then_some(self.newest)
    }

    /// The stream's time for stamping alerts of events without one: the watermark, or before
    /// it is set the first event's time.
    pub fn stream_time(&self) -> Option<i64> {
        self.current()
            .or((self.pending != NONE).then_some(self.pending))
    }

    /// Judge an event at `t` and move the watermark accordingly.
    pub fn observe(&mut self, t: i64) -> Verdict {
        if self.newest == NONE {
            // No watermark yet: the first event may be the absurd one, so it is only a
            // candidate until the next event agrees with it (within `max_jump`). Until then
            // nothing is late and every event counts.
            // The same time again is a repeat, not agreement (see below).
            if self.pending != NONE
                && t != self.pending
                && t.abs_diff(self.pending) <= self.max_jump as u64
            {
                self.newest = self.pending.max(t);
                self.pending = NONE;
                return Verdict::InTime { now: self.newest };
            }
            self.pending = t;
            return Verdict::InTime { now: t };
        }
        if self.pending != NONE {
            // The event after a tentative jump confirms it unless it is well before it. The
            // same time again does not: a retried delivery repeats a line, it does not
            // corroborate it.
            if t != self.pending && t >= self.pending.saturating_sub(self.max_jump) {
                self.newest = self.newest.max(self.pending);
            }
            self.pending = NONE;
        }
        let w = self.newest;
        if t < w.saturating_sub(self.lateness) {
            return Verdict::Late;
        }
        if t <= w.saturating_add(self.max_jump) {
            self.newest = w.max(t);
            return Verdict::InTime { now: self.newest };
        }
        self.pending = t;
        if t <= w.saturating_add(self.max_future) {
            // `now` stays the confirmed watermark: eviction must not judge keys by a time
            // the stream may never reach.
            return Verdict::InTime { now: w };
        }
        Verdict::Ahead {
            by_secs: t.saturating_sub(w) / NANOS,
        }
    }

    /// The two times, for the state file.
    pub fn to_parts(&self) -> [i64; 2] {
        [self.newest, self.pending]
    }

    /// Restore times saved by [`Watermark::to_parts`] (settings stay as configured).
    pub fn set_parts(&mut self, [newest, pending]: [i64; 2]) {
        self.newest = newest;
        self.pending = pending;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600 * NANOS;

    /// (event time in hours, expected verdict) rows through one watermark with 5 min
    /// lateness, a 1 h jump and a 24 h horizon. `L` = late, `A` = ahead (skips windows),
    /// `T` = in time.
    fn run(rows: &[(i64, char)]) {
        let mut w = Watermark::new(300, 3600, 86_400);
        for (i, &(hours, want)) in rows.iter().enumerate() {
            let got = match w.observe(hours * H) {
                Verdict::InTime { .. } => 'T',
                Verdict::Late => 'L',
                Verdict::Ahead { .. } => 'A',
            };
            assert_eq!(got, want, "row {i} ({hours} h): {w:?}");
        }
    }

    #[test]
    fn in_order_stream_is_in_time() {
        run(&[(0, 'T'), (1, 'T'), (2, 'T'), (3, 'T')]);
    }

    #[test]
    fn one_far_future_event_does_not_make_later_events_late() {
        // An event from ~2200 (a million hours on), then the stream carries on.
        run(&[
            (0, 'T'),
            (1, 'T'),
            (1_000_000, 'A'),
            (1, 'T'),
            (2, 'T'),
            (3, 'T'),
        ]);
    }

    #[test]
    fn one_near_future_event_does_not_move_the_watermark_either() {
        // 20 h ahead enters the windows (it may be the first event after a quiet night),
        // but the next event does not confirm it, so the stream is not late after it.
        run(&[(0, 'T'), (1, 'T'), (21, 'T'), (1, 'T'), (2, 'T')]);
    }

    #[test]
    fn a_real_jump_is_followed() {
        // A quiet weekend: 60 h without events. The first event after it skips the windows
        // (over 24 h ahead), the second confirms it; the stream's old times are then late.
        run(&[
            (0, 'T'),
            (1, 'T'),
            (61, 'A'),
            (62, 'T'),
            (63, 'T'),
            (1, 'L'),
        ]);
        // A quiet night: 10 h. Both events count.
        run(&[(0, 'T'), (1, 'T'), (11, 'T'), (12, 'T'), (1, 'L')]);
    }

    #[test]
    fn small_steps_move_the_watermark_at_once() {
        let mut w = Watermark::new(0, 3600, 86_400);
        assert_eq!(w.observe(0), Verdict::InTime { now: 0 });
        assert_eq!(w.observe(0), Verdict::InTime { now: 0 });
        assert_eq!(w.observe(300 * NANOS), Verdict::InTime { now: 300 * NANOS });
        // 10 s behind the newest with no lateness allowed.
        assert_eq!(w.observe(290 * NANOS), Verdict::Late);
    }

    #[test]
    fn a_far_future_event_before_a_real_jump_costs_one_more_event() {
        run(&[
            (0, 'T'),
            (1, 'T'),
            (1_000_000, 'A'),
            (61, 'A'),
            (62, 'T'),
            (63, 'T'),
        ]);
    }

    #[test]
    fn a_tentative_event_is_windowed_at_the_confirmed_time() {
        let mut w = Watermark::new(300, 3600, 86_400);
        w.observe(H);
        w.observe(H + 1);
        assert_eq!(w.observe(11 * H), Verdict::InTime { now: H + 1 });
        assert_eq!(w.observe(11 * H + 1), Verdict::InTime { now: 11 * H + 1 });
    }

    #[test]
    fn late_events_stay_late() {
        run(&[(0, 'T'), (10, 'T'), (11, 'T'), (5, 'L'), (11, 'T')]);
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let mut w = Watermark::new(300, 3600, 86_400);
        for t in [i64::MIN + 1, i64::MIN + 2, i64::MAX, i64::MIN + 1] {
            w.observe(t);
        }
        assert_eq!(w.current(), Some(i64::MIN + 2));
        let mut w = Watermark::new(300, 3600, 86_400);
        for t in [i64::MAX, i64::MIN + 1, i64::MAX, 0, 1] {
            w.observe(t);
        }
        assert_eq!(w.current(), Some(1));
    }

    #[test]
    fn a_far_first_event_does_not_set_the_watermark() {
        // The stream's first line is from 2200, or from 1678: the next two agree and win.
        run(&[(1_000_000, 'T'), (1, 'T'), (1, 'T'), (2, 'T'), (0, 'L')]);
        run(&[(-1_000_000, 'T'), (1, 'T'), (1, 'T'), (2, 'T'), (0, 'L')]);
        // Delivered twice, it still does not agree with itself.
        run(&[
            (1_000_000, 'T'),
            (1_000_000, 'T'),
            (1, 'T'),
            (2, 'T'),
            (0, 'L'),
        ]);
    }

    #[test]
    fn a_far_future_line_delivered_twice_does_not_move_the_watermark() {
        run(&[
            (0, 'T'),
            (1, 'T'),
            (1_000_000, 'A'),
            (1_000_000, 'A'),
            (1, 'T'),
            (2, 'T'),
        ]);
    }

    #[test]
    fn parts_round_trip() {
        let mut w = Watermark::new(300, 3600, 86_400);
        for t in [5, 7, 1_000_000] {
            w.observe(t * H);
        }
        let mut v = Watermark::new(300, 3600, 86_400);
        v.set_parts(w.to_parts());
        assert_eq!(v, w);
    }
}
