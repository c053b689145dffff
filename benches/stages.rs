//! Micro-benchmarks of each stage of the data path, on the same corpus as the end-to-end
//! bench (`benches/corpus.rs`):
//!
//! - `decode`: `jcdetect::decode::decode` on every line;
//! - `rules`: `Rules::matches` + `Rules::category` on decoded events (rules compiled once);
//! - `windows`: `Windows::observe` on the corpus's login events (the generator's 5 000 users,
//!   20 000-ip space), state kept warm across iterations by shifting event time;
//! - `alert_encode`: `Alert::encode` (ECS and OCSF) of the alerts the corpus raises.
//!
//! `cargo bench --bench stages [-- FILTER]`; `JCDETECT_BENCH_EVENTS` sets the corpus size
//! (default 50 000).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use jcdetect::alert::Alert;
use jcdetect::decode::{decode, Event};
use jcdetect::rules::Rules;
use jcdetect::windows::{Fired, Windows};
use jcdetect::{Config, Format};
use std::hint::black_box;

#[path = "corpus.rs"]
mod corpus;

fn events_n() -> usize {
    std::env::var("JCDETECT_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000)
}

fn time_of(ev: &Event<'_>) -> Option<i64> {
    ev.timestamp
        .as_deref()
        .and_then(|t| jcdetect::decode::time::parse_rfc3339(t).ok())
}

fn bench_decode(c: &mut Criterion, lines: &[&str], bytes: u64) {
    let run = |b: &mut criterion::Bencher<'_>| {
        b.iter(|| {
            for l in lines {
                let _ = black_box(decode(black_box(l)));
            }
        })
    };
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("events", run);
    g.finish();
    let mut g = c.benchmark_group("decode_bytes");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("bytes", run);
    g.finish();
}

fn bench_rules(c: &mut Criterion, rules: &Rules, events: &[Event<'_>]) {
    let mut g = c.benchmark_group("rules");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("matches_and_category", |b| {
        b.iter(|| {
            let mut hits = 0usize;
            for ev in events {
                rules.matches(black_box(ev), |i, _| hits += i + 1);
                black_box(rules.category(ev));
            }
            hits
        })
    });
    g.finish();
}

fn bench_windows(c: &mut Criterion, rules: &Rules, cfg: &Config, events: &[Event<'_>]) {
    let logins: Vec<(&Event<'_>, i64)> = events
        .iter()
        .filter(|ev| rules.is_login(ev))
        .filter_map(|ev| Some((ev, time_of(ev)?)))
        .collect();
    let (first, last) = logins
        .iter()
        .fold((i64::MAX, i64::MIN), |(a, b), &(_, t)| (a.min(t), b.max(t)));
    // Replaying the stream again later in event time keeps the tables warm and in order.
    let span = last - first + 3_600 * 1_000_000_000;
    let mut windows = Windows::new(rules, &cfg.sigma, cfg);
    let mut offset = 0i64;
    let mut now = i64::MIN;
    let mut fired: Vec<Fired> = Vec::new();
    let mut g = c.benchmark_group("windows");
    g.throughput(Throughput::Elements(logins.len() as u64));
    g.bench_function("observe_logins", |b| {
        b.iter(|| {
            for &(ev, t) in &logins {
                let t = t + offset;
                now = now.max(t);
                windows.observe(rules, ev, t, now, &mut fired);
                fired.clear();
            }
            offset += span;
        })
    });
    g.finish();
}

/// The alerts the corpus raises, single-event and stateful, built as the engine builds them
/// (messages and ids are stand-ins of similar length).
fn alerts_of<'a, 'e>(
    rules: &'a Rules,
    cfg: &Config,
    events: &'a [Event<'e>],
) -> Vec<Alert<'a, 'e>> {
    let mut out = Vec::new();
    let mut windows = Windows::new(rules, &cfg.sigma, cfg);
    let mut fired = Vec::new();
    let mut now = i64::MIN;
    for (n, ev) in events.iter().enumerate() {
        let category = rules.category(ev);
        let time = time_of(ev);
        let mut hits = Vec::new();
        rules.matches(ev, |i, _| hits.push(i));
        for i in hits {
            let rule = &rules.rules[i];
            out.push(Alert {
                rule: rule.info(),
                severity: rule.severity,
                time,
                event: ev,
                category,
                uid: format!("{n:032x}"),
                message: format!(
                    "{}: {} by {} from {}.",
                    rule.def.name,
                    ev.event_type.as_deref().unwrap_or("event"),
                    ev.actor().unwrap_or("an unknown actor"),
                    ev.source_ip().unwrap_or("?")
                ),
                reason: "event_type matched, the login failed".into(),
                evidence: None,
            });
        }
        if let Some(t) = time {
            now = now.max(t);
            windows.observe(rules, ev, t, now, &mut fired);
        }
        for f in fired.drain(..) {
            let rule = &rules.rules[f.rule];
            out.push(Alert {
                rule: rule.info(),
                severity: rule.severity,
                time,
                event: ev,
                category,
                uid: format!("{:032x}", n as u128 + (1 << 64)),
                message: format!(
                    "{}: {} {} — {} within 10 min.",
                    rule.def.name, f.evidence.group_by, f.evidence.group_key, f.evidence.count
                ),
                reason: format!("count {} for {}", f.evidence.count, f.evidence.group_key),
                evidence: Some(f.evidence),
            });
        }
    }
    out
}

fn bench_alerts(c: &mut Criterion, alerts: &[Alert<'_, '_>]) {
    let stateful = alerts.iter().filter(|a| a.evidence.is_some()).count();
    eprintln!(
        "alert_encode: {} alerts ({stateful} stateful)",
        alerts.len()
    );
    let mut out = Vec::with_capacity(1 << 20);
    for (name, format) in [("ecs", Format::Ecs), ("ocsf", Format::Ocsf)] {
        let bytes = encode_all(alerts, format, &mut out) as u64;
        let mut g = c.benchmark_group("alert_encode");
        g.throughput(Throughput::Elements(alerts.len() as u64));
        g.bench_function(name, |b| b.iter(|| encode_all(alerts, format, &mut out)));
        g.finish();
        let mut g = c.benchmark_group("alert_encode_bytes");
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function(name, |b| b.iter(|| encode_all(alerts, format, &mut out)));
        g.finish();
    }
}

/// Encode every alert into `out` (cleared first, capacity reused); returns the bytes written.
fn encode_all(alerts: &[Alert<'_, '_>], format: Format, out: &mut Vec<u8>) -> usize {
    out.clear();
    for a in alerts {
        a.encode(format, out);
    }
    black_box(out.len())
}

fn stages(c: &mut Criterion) {
    let buf = corpus::corpus(events_n());
    let lines = corpus::lines(&buf);
    let cfg = Config::default();
    let rules = Rules::compile(&cfg);
    let events: Vec<Event<'_>> = lines
        .iter()
        .map(|l| decode(l).expect("corpus events decode"))
        .collect();
    bench_decode(c, &lines, buf.len() as u64);
    bench_rules(c, &rules, &events);
    bench_windows(c, &rules, &cfg, &events);
    let alerts = alerts_of(&rules, &cfg, &events);
    bench_alerts(c, &alerts);
}

criterion_group!(benches, stages);
criterion_main!(benches);
