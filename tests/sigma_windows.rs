//! Sigma correlations on the windows, the cases a sceptical review found: groups told apart
//! by each value, `temporal` with a count, a flooded `temporal_ordered` step, and a saved
//! correlation restored only into the same definition.

use jcdetect::sigma::set::Source;
use jcdetect::{Config, Engine, Options};

const RULES: &str = "\
title: Failed login
name: fail
logsource: {product: jumpcloud}
detection:
  s: {event_type: user_login_attempt, success: false}
  condition: s
---
title: Successful login
name: ok
logsource: {product: jumpcloud}
detection:
  s: {event_type: user_login_attempt, success: true}
  condition: s
---
title: Password changed
name: pw
logsource: {product: jumpcloud}
detection:
  s: {event_type: user_password_change}
  condition: s
";

fn engine(extra: &str) -> Engine {
    let cfg = Config::from_toml_str("[rules]\nbuiltin = false\n")
        .unwrap()
        .with_sigma(&[Source {
            origin: "t.yml".into(),
            text: format!("{RULES}---\n{extra}"),
        }])
        .unwrap_or_else(|e| panic!("{e:?}"));
    Engine::new(&cfg, Options::default())
}

fn event(n: u32, et: &str, success: bool, user: &str, ip: &str, secs: u32) -> String {
    format!(
        r#"{{"id":"e{n}","event_type":"{et}","service":"directory","success":{success},"client_ip":"{ip}","initiated_by":{{"username":"{user}"}},"timestamp":"2024-05-01T10:{:02}:{:02}Z"}}"#,
        secs / 60,
        secs % 60
    )
}

/// (rule id, group key, count) of each alert.
fn run(e: &mut Engine, lines: &[String]) -> Vec<(String, String, u64)> {
    let (mut out, mut diags) = (Vec::new(), Vec::new());
    for l in lines {
        e.feed(format!("{l}\n").as_bytes(), &mut out, &mut diags);
    }
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let j = &v["jcdetect"];
            let n = j.get("distinct_count").unwrap_or(&j["count"]);
            (
                v["rule"]["id"].as_str().unwrap().to_string(),
                j["group_key"].as_str().unwrap_or("").to_string(),
                n.as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn groups_whose_joined_values_look_alike_stay_apart() {
    let mut e = engine(
        "title: two\nname: two\ncorrelation: {type: event_count, rules: [fail], group-by: [initiated_by.username, client_ip], timespan: 5m, condition: {gte: 2}}",
    );
    let got = run(
        &mut e,
        &[
            event(1, "user_login_attempt", false, "bob|1.1.1.1", "2.2.2.2", 0),
            event(2, "user_login_attempt", false, "bob", "1.1.1.1|2.2.2.2", 1),
        ],
    );
    assert_eq!(got, []);
    let got = run(
        &mut e,
        &[event(
            3,
            "user_login_attempt",
            false,
            "bob",
            "1.1.1.1|2.2.2.2",
            2,
        )],
    );
    assert_eq!(got, [("two".into(), "bob|1.1.1.1|2.2.2.2".into(), 2)]);
}

#[test]
fn temporal_with_a_count_fires_on_that_many_of_its_rules() {
    let mut e = engine(
        "title: some\nname: some\ncorrelation: {type: temporal, rules: [fail, ok, pw], group-by: [initiated_by.username], timespan: 5m, condition: {gte: 2}}",
    );
    let got = run(
        &mut e,
        &[
            event(1, "user_login_attempt", false, "bob", "1.1.1.1", 0),
            event(2, "user_login_attempt", false, "bob", "1.1.1.1", 10),
            event(3, "user_login_attempt", true, "bob", "1.1.1.1", 20),
        ],
    );
    assert_eq!(got, [("some".into(), "bob".into(), 2)]);
}

#[test]
fn a_flooded_middle_step_does_not_hide_the_chain() {
    let mut e = engine(
        "title: chain\nname: chain\ncorrelation: {type: temporal_ordered, rules: [fail, ok, pw], group-by: [initiated_by.username], timespan: 30m}",
    );
    let mut lines = vec![event(0, "user_login_attempt", false, "bob", "1.1.1.1", 0)];
    for n in 1..=200 {
        lines.push(event(
            n,
            "user_login_attempt",
            true,
            "bob",
            "1.1.1.1",
            60 + n,
        ));
    }
    lines.push(event(
        999,
        "user_password_change",
        true,
        "bob",
        "1.1.1.1",
        300,
    ));
    let got = run(&mut e, &lines);
    assert_eq!(got, [("chain".into(), "bob".into(), 3)]);
}

#[test]
fn saved_correlations_come_back_only_into_the_same_definition() {
    let ab = "title: order\nname: order\ncorrelation: {type: temporal_ordered, rules: [fail, ok], group-by: [initiated_by.username], timespan: 30m}";
    let ba = "title: order\nname: order\ncorrelation: {type: temporal_ordered, rules: [ok, fail], group-by: [initiated_by.username], timespan: 30m}";
    let mut first = engine(ab);
    assert_eq!(
        run(
            &mut first,
            &[event(1, "user_login_attempt", false, "bob", "1.1.1.1", 0)]
        ),
        []
    );
    let saved = first.snapshot();
    // The same correlation: the failure before the restart and the success after it chain.
    let mut same = engine(ab);
    same.restore(&saved).unwrap();
    let got = run(
        &mut same,
        &[event(2, "user_login_attempt", true, "bob", "1.1.1.1", 60)],
    );
    assert_eq!(got, [("order".into(), "bob".into(), 2)]);
    // Reordered under the same name: the saved failure must not count as its first step.
    let mut other = engine(ba);
    other.restore(&saved).unwrap();
    let got = run(
        &mut other,
        &[event(3, "user_login_attempt", false, "bob", "1.1.1.1", 60)],
    );
    assert_eq!(got, []);
    // A state saved before any correlation existed loads into an engine with one.
    let plain = Engine::new(&Config::default(), Options::default()).snapshot();
    let mut fresh = Engine::new(&Config::default(), Options::default());
    fresh.restore(&plain).unwrap();
}

#[test]
fn a_crafted_value_cannot_stall_a_wildcard_rule() {
    let mut e = engine(
        "title: glob\nname: glob\nlogsource: {product: jumpcloud}\ndetection:\n  s: {initiated_by.username|contains: 'a*a*a*a*a*a*b'}\n  condition: s",
    );
    let user = "a".repeat(100_000);
    let got = run(
        &mut e,
        &[event(1, "user_login_attempt", false, &user, "1.1.1.1", 0)],
    );
    // The failed-login rule alerts on its own; the wildcard rule runs to its answer, no.
    let ids: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
    assert_eq!(ids, ["fail"]);
}

/// A reload (SIGHUP in the CLI) keeps the windows of the rules that are still there, the
/// built-in ones included when a new correlation resizes every table.
#[test]
fn a_reload_keeps_the_windows_of_unchanged_rules() {
    let spray = "title: spray\nname: spray\ncorrelation: {type: value_count, rules: [fail], group-by: [client_ip], timespan: 10m, condition: {gte: 8, field: initiated_by.username}}";
    let cfg = |extra: &str| {
        Config::default()
            .with_sigma(&[Source {
                origin: "t.yml".into(),
                text: format!("{RULES}---\n{spray}{extra}"),
            }])
            .unwrap_or_else(|e| panic!("{e:?}"))
    };
    let mut e = Engine::new(&cfg(""), Options::default());
    let fails = |from: u32, to: u32| -> Vec<String> {
        (from..to)
            .map(|n| {
                event(
                    n,
                    "user_login_attempt",
                    false,
                    &format!("u{n}"),
                    "9.9.9.9",
                    n,
                )
            })
            .collect()
    };
    let ids = |got: Vec<(String, String, u64)>| -> Vec<String> {
        got.into_iter()
            .map(|g| g.0)
            .filter(|id| id != "fail")
            .collect()
    };
    assert_eq!(ids(run(&mut e, &fails(0, 6))), Vec::<String>::new());
    // A new correlation (every table's share of the budget changes) and a new rule.
    let more = "\n---\ntitle: pw burst\nname: pw_burst\ncorrelation: {type: event_count, rules: [pw], group-by: [initiated_by.username], timespan: 5m, condition: {gte: 3}}\n---\ntitle: robot\nname: robot\nlogsource: {product: jumpcloud}\ndetection:\n  s: {initiated_by.username|startswith: u1}\n  condition: s";
    let keys = e.reload(&cfg(more));
    assert!(keys >= 2, "{keys} keys carried");
    // The Sigma spray goes on from 6 distinct users (fires at the 8th), the built-in spray
    // too (more than 15: at the 16th); u10..u19 match the new rule.
    let got = ids(run(&mut e, &fails(6, 20)));
    let at = |id: &str| got.iter().position(|g| g == id);
    assert_eq!(at("spray"), Some(0), "{got:?}");
    assert!(at("password_spray_from_ip").is_some(), "{got:?}");
    assert_eq!(got.iter().filter(|g| *g == "robot").count(), 10, "{got:?}");
    assert_eq!(
        e.stats().alerts[e.rule_ids().position(|i| i == "spray").unwrap()],
        1
    );
}
