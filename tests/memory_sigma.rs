//! Fixed memory with users' Sigma correlations: 2 million failed logins from 2 million
//! distinct IPs and users feed an `event_count`, a `value_count` and a `temporal`
//! correlation grouped by those fields, with one real spray hidden among them. The process's
//! resident memory does not grow with the number of groups, stays under the state budget
//! plus a fixed overhead, every correlation's table is forced to evict, and the spray is
//! still found exactly once. (Alone in its own test binary so no other test shares the
//! process.)

mod common;

use common::rss_kib;
use jcdetect::sigma::set::Source;
use jcdetect::{Config, Engine, Options};
use std::io::Write;

const FLOOD: u64 = 2_000_000;
/// Flood events per second of event time.
const RATE: u64 = 5_000;
const SPRAY_START: u64 = 1_000_000;
const SPRAY_EVERY: u64 = 5_000;

const RULES: &str = "\
title: Failed directory login
name: failed_login
logsource: {product: jumpcloud, service: directory}
detection:
  sel: {event_type: user_login_attempt, success: false}
  condition: sel
---
title: Failed login with MFA
name: failed_mfa
logsource: {product: jumpcloud}
detection:
  sel: {event_type: user_login_attempt, success: false, mfa: false}
  condition: sel
---
title: Spray from one address
name: sigma_spray
level: high
correlation:
  type: value_count
  rules: [failed_login]
  group-by: [client_ip]
  timespan: 10m
  condition: {gte: 15, field: initiated_by.username}
---
title: Many failures for one user
name: sigma_user_failures
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [initiated_by.username, service]
  timespan: 10m
  condition: {gte: 50}
---
title: Both failure kinds for one user
name: sigma_both
correlation:
  type: temporal
  rules: [failed_login, failed_mfa]
  group-by: [initiated_by.username]
  timespan: 1m
  generate: false
";

fn failed_login(buf: &mut Vec<u8>, n: u64, ip: &str, user: &str, ms: u64) {
    let t = (1_717_200_000_000 + ms) as i64 * 1_000_000;
    writeln!(
        buf,
        r#"{{"id":"{n:024x}","event_type":"user_login_attempt","service":"directory","success":false,"mfa":true,"client_ip":"{ip}","initiated_by":{{"type":"user","username":"{user}"}},"timestamp":"{}"}}"#,
        jcdetect::decode::time::to_rfc3339(t)
    )
    .unwrap();
}

#[test]
fn two_million_distinct_groups_flat_memory_correlation_still_fires() {
    let budget_mb = 32u64;
    let cfg = Config::from_toml_str(&format!(
        "[state]\nmemory_mb = {budget_mb}\n[rules]\nbuiltin = false\n"
    ))
    .unwrap()
    .with_sigma(&[Source {
        origin: "flood.yml".into(),
        text: RULES.into(),
    }])
    .unwrap();
    let mut engine = Engine::new(&cfg, Options::default());
    let state_bytes = engine.window_stats().bytes as u64;
    assert!(
        state_bytes <= budget_mb << 20,
        "tables use {state_bytes} B, over the budget"
    );
    let (mut out, mut diags) = (Vec::new(), Vec::new());
    let mut buf = Vec::with_capacity(4 << 20);
    let (mut victims, mut spray_alerts, mut rss_at_half) = (0u64, 0, None);
    for n in 0..FLOOD {
        let ms = n * 1000 / RATE;
        let ip = format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255);
        failed_login(&mut buf, n, &ip, &format!("flood{n}@example.com"), ms);
        if n >= SPRAY_START && (n - SPRAY_START) % SPRAY_EVERY == 0 && victims < 20 {
            let user = format!("victim{victims}@example.com");
            failed_login(&mut buf, FLOOD + victims, "198.51.100.77", &user, ms);
            victims += 1;
        }
        if buf.len() >= 4 << 20 || n + 1 == FLOOD {
            engine.feed(&buf, &mut out, &mut diags);
            buf.clear();
            assert!(diags.is_empty(), "{:?}", &diags[..diags.len().min(3)]);
            for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let v: serde_json::Value = serde_json::from_slice(line).unwrap();
                assert_eq!(v["rule"]["id"], "sigma_spray", "only the spray fires: {v}");
                assert_eq!(v["jcdetect"]["group_key"], "198.51.100.77");
                assert_eq!(v["jcdetect"]["distinct_count"], 15);
                spray_alerts += 1;
            }
            out.clear();
        }
        if n == FLOOD / 2 {
            rss_at_half = rss_kib();
        }
    }
    engine.finish(&mut out, &mut diags);
    assert_eq!(spray_alerts, 1, "the hidden spray is detected exactly once");
    // The correlations' tables were filled far past their capacity.
    let stats = engine.window_stats();
    let evicted = stats
        .evictions
        .iter()
        .find(|(t, _)| *t == "sigma_correlations");
    let cap = engine
        .window_capacities()
        .into_iter()
        .find(|(t, _)| *t == "sigma_correlations")
        .map_or(0, |(_, c)| c as u64);
    let evicted = evicted.map_or(0, |e| e.1);
    assert!(
        evicted > 10 * cap,
        "{evicted} evictions for a capacity of {cap}"
    );
    // And each correlation's own table, by rule id, in --stats-json.
    let per = &engine.stats_value()["state"]["correlations"];
    for id in ["sigma_spray", "sigma_user_failures", "sigma_both"] {
        let n = per[id]["evictions"].as_u64().unwrap_or(0);
        assert!(
            n > per[id]["capacity"].as_u64().unwrap_or(u64::MAX),
            "{id}: {per}"
        );
    }
    if let (Some((rss1, _)), Some((rss2, peak))) = (rss_at_half, rss_kib()) {
        eprintln!(
            "state tables {} KiB; RSS after 1M groups {rss1} KiB, after 2M {rss2} KiB, peak {peak} KiB",
            state_bytes / 1024
        );
        assert!(
            rss2 <= rss1 + 4 * 1024,
            "RSS grew from {rss1} to {rss2} KiB"
        );
        let limit = (budget_mb + 48) * 1024;
        assert!(peak <= limit, "peak RSS {peak} KiB over {limit} KiB");
    } else {
        eprintln!("SKIPPED the RSS part: /proc/self/status is not readable here");
    }
}
