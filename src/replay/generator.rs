//! `Gen`, the generator's state, and what every part of it uses: the background clock (a
//! daily curve, and the late deliveries), and the merge queue that writes the lines in
//! delivery order and keeps the truth's counts (event types, services, single-event rules,
//! lines, bytes, out-of-order events).

use super::guard::Guard;
use super::json::Frac;
use super::population::HOME_CITIES;
use super::rng::{h2, hex24, Rng};
use super::{GenConfig, Truth};
use crate::decode::time::NANOS;
use crate::hash::mix64;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

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

/// The generator's state: the configuration, the one random stream, the background clock,
/// the merge queue, the guard, the truth being written, and the story counters.
pub(super) struct Gen<'c> {
    pub(super) cfg: &'c GenConfig,
    pub(super) rng: Rng,
    pub(super) seed_h: u64,
    pub(super) org: String,
    pub(super) domain: &'static str,
    pub(super) clock: i64,
    /// Mean gap between background units at the nominal rate, ns.
    mean_gap: i64,
    seq: u64,
    pub(super) bg_events: u64,
    heap: BinaryHeap<Reverse<Pending>>,
    pub(super) guard: Guard,
    pub(super) truth: Truth,
    max_ts: i64,
    pub(super) victims: u64,
    pub(super) attack_ips: u64,
    pub(super) last_lock_story_end: i64,
    pub(super) per_city: u64,
    pub(super) cert: String,
}

impl<'c> Gen<'c> {
    pub(super) fn new(cfg: &'c GenConfig) -> Gen<'c> {
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

    // --- time and output ---------------------------------------------------------------

    /// Advance the background clock: jittered gaps around a daily curve (busiest when
    /// Europe and the Americas overlap).
    pub(super) fn advance(&mut self) {
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
    pub(super) fn push(
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

    pub(super) fn flush_until(&mut self, t: i64, sink: &mut impl FnMut(&[u8])) {
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
    pub(super) fn bg_time(&mut self, at: i64, frac: Frac) -> i64 {
        let t = if self.rng.chance(self.cfg.out_of_order) {
            at - self.rng.secs(1, 60)
        } else {
            at
        };
        frac.truncate(t)
    }
}
