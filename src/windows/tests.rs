use super::*;

#[test]
fn compact_ids_round_trip() {
    for s in [
        "648c6c758c2ac07fa1fdee94",
        "E5223E70-F3DB-3CB4-B452-96FC2259B9EE",
        "e5223e70-f3db-3cb4-b452-96fc2259b9ee",
        "short-id",
        "1",
    ] {
        assert_eq!(CompactId::encode(Some(s)).decode().as_deref(), Some(s));
    }
    assert_eq!(
        CompactId::encode(Some("x".repeat(40).as_str())).decode(),
        None
    );
    assert_eq!(CompactId::encode(None).decode(), None);
    // Mixed-case hex is not an ObjectId and too long to keep raw.
    assert_eq!(
        CompactId::encode(Some("648C6c758c2ac07fa1fdee94")).decode(),
        None
    );
}

#[test]
fn haversine_known_distance() {
    // Paris - New York is about 5837 km.
    let d = haversine_km(48.8566, 2.3522, 40.7128, -74.0060);
    assert!((d - 5837.0).abs() < 10.0, "{d}");
    assert_eq!(haversine_km(1.0, 1.0, 1.0, 1.0), 0.0);
}

#[test]
fn slot_size_is_what_the_budget_assumes() {
    // 48 bytes: fingerprint, two times, packed id and a 2-byte tag inside the padding.
    assert_eq!(std::mem::size_of::<Slot>(), 48);
}

const S: i64 = NANOS;

fn run(fp: u64, first: i64, t: i64) -> Slot {
    Slot {
        fp,
        t,
        first,
        ..Slot::default()
    }
}

fn fps(rec: &[Slot]) -> Vec<(u64, i64, i64)> {
    let mut v: Vec<_> = rec
        .iter()
        .filter(|s| s.fp != 0)
        .map(|s| (s.fp, s.first, s.t))
        .collect();
    v.sort();
    v
}

#[test]
fn distinct_records_are_runs() {
    let mut rec = vec![Slot::default(); 4];
    let mut used = 0;
    let id = CompactId::default();
    // Occurrences of identity 2 within 10 s of each other form one run; 30 s later a
    // second run starts; a time between them within 10 s of both joins them.
    for t in [0, 5, 12, 42, 50] {
        add_record(
            &mut rec,
            &mut used,
            2,
            t * S,
            id,
            Some(10 * S),
            &[],
            (i64::MIN, i64::MAX),
        );
    }
    assert_eq!(fps(&rec), vec![(2, 0, 12 * S), (2, 42 * S, 50 * S)]);
    add_record(
        &mut rec,
        &mut used,
        2,
        27 * S,
        id,
        Some(15 * S),
        &[],
        (i64::MIN, i64::MAX),
    );
    assert_eq!(fps(&rec), vec![(2, 0, 50 * S)]);
    // A late occurrence inside a run changes nothing; one before extends it.
    add_record(
        &mut rec,
        &mut used,
        2,
        20 * S,
        id,
        Some(15 * S),
        &[],
        (i64::MIN, i64::MAX),
    );
    add_record(
        &mut rec,
        &mut used,
        2,
        -10 * S,
        id,
        Some(15 * S),
        &[],
        (i64::MIN, i64::MAX),
    );
    assert_eq!(fps(&rec), vec![(2, -10 * S, 50 * S)]);
}

#[test]
fn full_key_gives_up_dead_then_oldest_records() {
    let id = CompactId::default();
    let mut rec = vec![run(2, 0, 0), run(3, 50, 50), run(4, 100, 100)];
    let mut used = 3;
    // A dead record goes first, even when the new one is older than the live ones.
    add_record(&mut rec, &mut used, 5, 40, id, None, &[], (10, i64::MAX));
    assert_eq!(fps(&rec), vec![(3, 50, 50), (4, 100, 100), (5, 40, 40)]);
    // All live: the oldest goes for a newer record; an older one is dropped.
    assert!(add_record(&mut rec, &mut used, 6, 30, id, None, &[], (10, i64::MAX)).is_none());
    add_record(&mut rec, &mut used, 7, 60, id, None, &[], (10, i64::MAX));
    assert_eq!(fps(&rec), vec![(3, 50, 50), (4, 100, 100), (7, 60, 60)]);
    // A redelivered event (same identity, time and id) is not counted twice.
    let id = CompactId::encode(Some("648c6c758c2ac07fa1fdee94"));
    let mut rec = vec![Slot::default(); 3];
    let mut used = 0;
    assert!(add_record(&mut rec, &mut used, 2, 5, id, None, &[], (0, i64::MAX)).is_some());
    assert!(add_record(&mut rec, &mut used, 2, 5, id, None, &[], (0, i64::MAX)).is_none());
}

#[test]
fn redundant_records_change_no_open_window() {
    // Failures at 0..3 and a newcomer at 4, all in one 10-long window; need 2 others.
    let rec: Vec<Slot> = (0..4).map(|t| run(2, t, t)).collect();
    // 0 and 1 each have a window that holds only one or two records (one ending at
    // them); 2 is the oldest whose every window holds 2 others.
    assert_eq!(redundant(&rec, 2, 4, &[(2, 10)], false, -100), Some(2));
    // Once windows starting before 0 can no longer take an event in time, 0 is spare.
    assert_eq!(redundant(&rec, 2, 4, &[(2, 10)], false, 0), Some(0));
    // Nothing is spare when every window must hold 5 others; a later newcomer can be.
    assert_eq!(redundant(&rec, 2, 4, &[(5, 10)], false, -100), None);
    // Records no open window reaches are spare whatever they hold.
    let rec: Vec<Slot> = [20, 0, 20, 20].iter().map(|&t| run(2, t, t)).collect();
    assert_eq!(redundant(&rec, 2, 20, &[(5, 10)], false, 20), Some(1));
}

#[test]
fn best_window_counts_runs_in_any_window_through_t() {
    // Identities 2..4: runs [0, 5], [8, 20], [30, 31]; window length 10.
    let rec = [run(2, 0, 5), run(3, 8, 20), run(4, 30, 31)];
    // Windows through 12 start in [2, 12]: the first full one, [5, 15], holds 2 and 3
    // (its end is where run 3 may still have an occurrence).
    let hit = best_window(&rec, 12, 10);
    assert_eq!(hit.count, 2);
    assert_eq!((hit.start, hit.end), (5, 15));
    // Windows through 25 start in [15, 25]: [20, 30] holds 3 and 4.
    let hit = best_window(&rec, 25, 10);
    assert_eq!(hit.count, 2);
    // Inclusive edges: [20, 30] touches both ends.
    assert_eq!(best_window(&rec, 30, 10).count, 2);
    assert_eq!(best_window(&rec, 30, 9).count, 1);
}

#[test]
fn completions_find_when_a_wave_was_complete() {
    // Three identities, need 3 within 10: complete at 8 (window [-2, 8]); at 12 (window
    // [2, 12]) identity 2 has left.
    let rec = [run(2, 0, 0), run(3, 4, 4), run(4, 8, 12)];
    assert_eq!(completions(&rec, 0, 10, 3), Some((8, 8)));
    assert_eq!(completions(&rec, 4, 10, 3), Some((8, 8)));
    let rec = [run(2, 0, 0), run(3, 4, 4), run(4, 8, 9)];
    assert_eq!(completions(&rec, 0, 10, 3), Some((8, 9)));
    assert_eq!(completions(&rec, 0, 10, 4), None);
}

#[test]
fn mfa_runs_answer_every_login_in_time() {
    let h = 100;
    let id = CompactId::default();
    let mut m = MfaMeta::default();
    for t in [0, 50, 400] {
        m.add(t, id, h);
    }
    // Runs [0, 50] and [400, 400].
    assert_eq!(m.before(-1, h), None);
    assert_eq!(m.before(30, h).map(|x| x.0), Some(0));
    assert_eq!(m.before(150, h).map(|x| x.0), Some(50));
    assert_eq!(m.before(151, h), None);
    assert_eq!(m.before(450, h).map(|x| x.0), Some(400));
    // A login between the runs joins them.
    m.add(140, id, h);
    assert_eq!(m.before(200, h).map(|x| x.0), Some(140));
    assert_eq!(m.runs.iter().filter(|r| r.1 != NONE).count(), 2);
}

#[test]
fn records_needed_follow_the_bound() {
    let k = |threshold, window| Knobs {
        on: true,
        threshold,
        window: window * S,
        ..Knobs::default()
    };
    // More than 15 in 600 s with 300 s lateness: 2 pieces of at most 15, plus one.
    assert_eq!(records_needed(&[(k(15, 600), 16)], 300 * S).0, 31);
    assert_eq!(records_needed(&[(k(5, 600), 5)], 0).0, 5);
    // A 60 s window under 300 s lateness: 6 pieces.
    assert_eq!(records_needed(&[(k(5, 60), 5)], 300 * S).0, 25);
    assert_eq!(
        records_needed(&[(k(1000, 1), 1000)], 86_400 * S).0,
        MAX_SLOTS
    );
}
