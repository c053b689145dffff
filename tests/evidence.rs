//! What stateful alerts say, beyond their rule id: the evidence a responder reads. Inputs are
//! the scenario folders in tests/cases/stateful.

mod common;

use jcdetect::{Config, Engine, Options};
use serde_json::Value;

fn alerts_of(case: &str, rule: &str) -> (Vec<Value>, Vec<Value>) {
    let dir = common::root().join("tests/cases/stateful").join(case);
    let input = common::read(&dir.join("input.ndjson"));
    let events: Vec<Value> = String::from_utf8_lossy(&input)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (lines, diags) = common::run(&Config::default(), Options::default(), &input);
    assert!(diags.is_empty(), "{diags:?}");
    let alerts = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["rule"]["id"] == rule)
        .collect();
    (alerts, events)
}

fn ids(v: &Value) -> Vec<&str> {
    v["jcdetect"]["di_event_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect()
}

#[test]
fn spray_names_its_ip_window_counts_and_events() {
    let (alerts, events) = alerts_of(
        "password_spray__pos_16_users_5min",
        "password_spray_from_ip",
    );
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    let j = &a["jcdetect"];
    assert_eq!(j["group_by"], "source.ip");
    assert_eq!(j["group_key"], a["source"]["ip"]);
    assert_eq!(j["distinct_count"], 16);
    assert_eq!(j["threshold"], 15);
    assert_eq!(j["comparison"], "more than");
    assert_eq!(ids(a).len(), 16);
    assert_eq!(j["di_event_count"], 16);
    // every listed id is a failed login of the input, and the window spans them
    for id in ids(a) {
        assert!(events.iter().any(|e| e["id"] == id), "{id}");
    }
    assert_eq!(a["event"]["start"], j["window"]["start"]);
    assert_eq!(a["event"]["end"], j["window"]["end"]);
    assert!(a["event"]["start"].as_str() < a["event"]["end"].as_str());
}

#[test]
fn multi_country_lists_both_logins_and_countries() {
    let (alerts, events) = alerts_of(
        "admin_multi_country__pos_fr_then_us_30min",
        "admin_multi_country_login",
    );
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a["jcdetect"]["countries"], serde_json::json!(["FR", "US"]));
    let got = ids(a);
    assert_eq!(got.len(), 2, "{got:?}");
    let success_ids: Vec<&str> = events
        .iter()
        .filter(|e| e["success"] == true)
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    for id in got {
        assert!(success_ids.contains(&id), "{id} is a successful login");
    }
}

#[test]
fn mfa_bypass_names_the_earlier_mfa_login() {
    let (alerts, events) = alerts_of("mfa_bypass__pos_portal_next_day", "mfa_bypass_suspected");
    assert_eq!(alerts.len(), 1);
    let got = ids(&alerts[0]);
    assert_eq!(got.len(), 2, "{got:?}");
    let by_id = |id: &str| events.iter().find(|e| e["id"] == id).unwrap().clone();
    assert_eq!(
        by_id(got[0])["mfa"],
        true,
        "first: the earlier login with MFA"
    );
    assert_eq!(by_id(got[1])["mfa"], false, "second: the login without");
}

#[test]
fn alerts_without_any_event_time_use_the_host_fallback() {
    let mut engine = Engine::new(&Config::default(), Options::default());
    let (mut out, mut diags) = (Vec::new(), Vec::new());
    // 2024-06-01T00:00:00Z, as a host would pass its clock
    engine.set_fallback_time(Some(1_717_200_000_000_000_000));
    engine.feed(
        b"{\"id\":\"a\",\"event_type\":\"policy_delete\"}\n",
        &mut out,
        &mut diags,
    );
    let v: Value = serde_json::from_slice(out.split(|&b| b == b'\n').next().unwrap()).unwrap();
    assert_eq!(v["@timestamp"], "2024-06-01T00:00:00.000Z");
    assert_eq!(diags.len(), 1, "the missing timestamp is still reported");
    // once an event carried a time, later time-less events are stamped with the stream's time
    out.clear();
    engine.feed(
        b"{\"id\":\"b\",\"event_type\":\"policy_delete\",\"timestamp\":\"2023-01-02T03:04:05Z\"}\n{\"id\":\"c\",\"event_type\":\"policy_delete\"}\n",
        &mut out,
        &mut diags,
    );
    let stamps: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["@timestamp"].clone())
        .collect();
    assert_eq!(
        stamps,
        vec!["2023-01-02T03:04:05.000Z", "2023-01-02T03:04:05.000Z"]
    );
}
