//! Fixed memory, shown: 5 million events from 5 million distinct IPs, users and organizations
//! (failed logins, successful logins with geoip and MFA, failed SSO logins and lockouts, so
//! every state table fills up), with a real password spray hidden among them. The process's resident memory does not grow with
//! the number of keys, stays under the state budget plus a fixed overhead, and the spray is
//! still detected. (Alone in its own test binary so no other test shares the process.)

mod common;

use common::rss_kib;
use jcdetect::{Config, Engine, Options};
use std::io::Write;

const FLOOD: u64 = 5_000_000;
/// Flood events per second of event time: 5000/s, i.e. ~17 minutes of attack traffic.
const RATE: u64 = 5_000;
/// One spray failure every this many flood events (one second of event time).
const SPRAY_EVERY: u64 = 5_000;
const SPRAY_START: u64 = 2_000_000;

fn ts(ms: u64, buf: &mut Vec<u8>) {
    let base = 1_717_200_000_000u64; // 2024-06-01T00:00:00Z in ms
    let t = (base + ms) as i64 * 1_000_000;
    buf.extend_from_slice(jcdetect::decode::time::to_rfc3339(t).as_bytes());
}

fn failed_login(buf: &mut Vec<u8>, n: u64, ip: &str, user: &str, ms: u64) {
    write!(
        buf,
        r#"{{"id":"{n:024x}","event_type":"user_login_attempt","service":"directory","organization":"641b3db57090821c0b2f8183","success":false,"mfa":false,"client_ip":"{ip}","initiated_by":{{"type":"user","username":"{user}"}},"geoip":{{"country_code":"US"}},"timestamp":""#
    )
    .unwrap();
    ts(ms, buf);
    buf.extend_from_slice(b"\"}\n");
}

/// Flood event `n`: each kind fills other tables (ip and actor+service; country, travel and
/// MFA history; SSO actor; organization).
fn flood_event(buf: &mut Vec<u8>, n: u64, ip: &str, ms: u64) {
    let user = format!("flood{n}@example.com");
    match n % 4 {
        0 => failed_login(buf, n, ip, &user, ms),
        1 => {
            write!(
                buf,
                r#"{{"id":"{n:024x}","event_type":"user_login_attempt","service":"directory","organization":"641b3db57090821c0b2f8183","success":true,"mfa":true,"client_ip":"{ip}","initiated_by":{{"type":"user","username":"{user}"}},"geoip":{{"country_code":"US","latitude":40.7,"longitude":-74.0}},"timestamp":""#
            )
            .unwrap();
            ts(ms, buf);
            buf.extend_from_slice(b"\"}\n");
        }
        2 => {
            write!(
                buf,
                r#"{{"id":"{n:024x}","event_type":"sso_auth","service":"sso","organization":"641b3db57090821c0b2f8183","sso_token_success":false,"client_ip":"{ip}","initiated_by":{{"type":"user","username":"{user}"}},"timestamp":""#
            )
            .unwrap();
            ts(ms, buf);
            buf.extend_from_slice(b"\"}\n");
        }
        _ => {
            write!(
                buf,
                r#"{{"id":"{n:024x}","event_type":"user_lockout","service":"directory","organization":"org{n}","resource":{{"type":"user","username":"{user}"}},"timestamp":""#
            )
            .unwrap();
            ts(ms, buf);
            buf.extend_from_slice(b"\"}\n");
        }
    }
}

#[test]
fn five_million_distinct_keys_flat_memory_spray_still_found() {
    let budget_mb = 32u64;
    // Lockouts would each raise `account_locked`; only the state matters here.
    let cfg = Config::from_toml_str(&format!(
        "[state]\nmemory_mb = {budget_mb}\n[rules.account_locked]\nenabled = false\n"
    ))
    .unwrap();
    let mut engine = Engine::new(&cfg, Options::default());
    let state_bytes = engine.window_stats().bytes as u64;
    assert!(
        state_bytes <= budget_mb << 20,
        "tables use {state_bytes} B, over the budget"
    );

    let (mut out, mut diags) = (Vec::new(), Vec::new());
    let mut buf = Vec::with_capacity(4 << 20);
    let mut spray_users = 0u64;
    let mut rss_at_1m = None;
    let mut spray_alerts = 0usize;
    for n in 0..FLOOD {
        let ms = n * 1000 / RATE;
        let ip = format!(
            "{}.{}.{}.{}",
            10 + (n >> 24) % 200,
            (n >> 16) & 255,
            (n >> 8) & 255,
            n & 255
        );
        flood_event(&mut buf, n, &ip, ms);
        if n >= SPRAY_START && (n - SPRAY_START) % SPRAY_EVERY == 0 && spray_users < 20 {
            let user = format!("victim{spray_users}@example.com");
            failed_login(&mut buf, FLOOD + spray_users, "198.51.100.77", &user, ms);
            spray_users += 1;
        }
        if buf.len() >= 4 << 20 || n + 1 == FLOOD {
            engine.feed(&buf, &mut out, &mut diags);
            buf.clear();
            assert!(diags.is_empty(), "{:?}", &diags[..diags.len().min(3)]);
            // Count and drop the alerts as a downstream would.
            for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let v: serde_json::Value = serde_json::from_slice(line).unwrap();
                if v["rule"]["id"] == "password_spray_from_ip" {
                    assert_eq!(
                        v["source"]["ip"], "198.51.100.77",
                        "only the real spray fires"
                    );
                    assert!(v["jcdetect"]["distinct_count"].as_u64().unwrap() > 15);
                    spray_alerts += 1;
                }
            }
            out.clear();
        }
        if n == 1_000_000 {
            rss_at_1m = rss_kib();
        }
    }
    engine.finish(&mut out, &mut diags);
    assert_eq!(engine.stats().events, FLOOD + spray_users);
    assert_eq!(spray_alerts, 1, "the hidden spray is detected exactly once");
    // Every table was filled past its capacity.
    for (table, n) in engine.window_stats().evictions {
        let cap = engine
            .window_capacities()
            .into_iter()
            .find(|(t, _)| *t == table)
            .map_or(0, |(_, c)| c as u64);
        assert!(
            n > 10 * cap,
            "the flood must have forced evictions from {table} ({n} evictions, capacity {cap})"
        );
    }

    if let (Some((rss1, _)), Some((rss5, peak))) = (rss_at_1m, rss_kib()) {
        eprintln!(
            "state tables {} KiB; RSS after 1M keys {rss1} KiB, after 5M keys {rss5} KiB, peak {peak} KiB",
            state_bytes / 1024
        );
        // Independent of the number of keys: 4M more distinct keys add (almost) nothing.
        assert!(
            rss5 <= rss1 + 4 * 1024,
            "RSS grew from {rss1} to {rss5} KiB"
        );
        // Budget plus a fixed overhead (test harness, buffers, code): 48 MiB.
        let limit = (budget_mb + 48) * 1024;
        assert!(peak <= limit, "peak RSS {peak} KiB over {limit} KiB");
    } else {
        eprintln!("SKIPPED the RSS part: /proc/self/status is not readable here");
    }
}
