//! The replay generator against the engine: a generated replay must raise exactly the
//! alerts its ground truth lists, with the default config.

use jcdetect::replay::{generate, AttackMix, GenConfig, Truth};
use jcdetect::{Config, Engine, Options};
use std::collections::BTreeMap;
use std::time::Instant;

/// What the engine made of a replay.
#[derive(Default)]
struct Seen {
    /// (rule, group key) -> times of its alerts, stateful rules only.
    stateful: BTreeMap<(String, String), Vec<i64>>,
    single: BTreeMap<String, u64>,
    lines: u64,
    event_types: BTreeMap<String, u64>,
    late: u64,
    big_lines: u64,
    max_line: usize,
    /// Distinct `client_ip` values.
    ips: std::collections::HashSet<String>,
}

/// Generate and detect in one pass, feeding the engine 1 MiB at a time (a 200,000-event
/// replay is ~150 MB: nothing holds it whole).
fn run(cfg: &GenConfig) -> (Truth, Seen) {
    let mut engine = Engine::new(&Config::default(), Options::default());
    let (mut out, mut diags) = (Vec::new(), Vec::new());
    let mut seen = Seen::default();
    let mut chunk = Vec::with_capacity(2 << 20);
    let mut alerts = String::new();
    let mut drain = |out: &mut Vec<u8>, seen: &mut Seen| {
        alerts.clear();
        alerts.push_str(std::str::from_utf8(out).expect("alerts are UTF-8"));
        out.clear();
        for line in alerts.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("alert is JSON");
            let rule = v["rule"]["id"].as_str().expect("rule.id").to_string();
            match v["jcdetect"]["group_key"].as_str() {
                Some(key) => {
                    let at = v["@timestamp"].as_str().expect("@timestamp");
                    let at = jcdetect::decode::time::parse_rfc3339(at).expect("RFC 3339");
                    seen.stateful
                        .entry((rule, key.to_string()))
                        .or_default()
                        .push(at)
                }
                None => *seen.single.entry(rule).or_default() += 1,
            }
        }
    };
    let truth = generate(cfg, |line| {
        seen.lines += 1;
        seen.max_line = seen.max_line.max(line.len());
        if line.len() > 64 << 10 {
            seen.big_lines += 1;
        }
        // The event type, cheaply: the generator writes it unescaped.
        let text = std::str::from_utf8(line).expect("replay is UTF-8");
        if let Some(i) = text.find("\"event_type\":\"") {
            let rest = &text[i + 14..];
            let et = &rest[..rest.find('"').unwrap()];
            *seen.event_types.entry(et.to_string()).or_default() += 1;
        }
        if let Some(i) = text.find("\"client_ip\":\"") {
            let rest = &text[i + 13..];
            seen.ips.insert(rest[..rest.find('"').unwrap()].to_string());
        }
        chunk.extend_from_slice(line);
        if chunk.len() >= 1 << 20 {
            engine.feed(&chunk, &mut out, &mut diags);
            chunk.clear();
            drain(&mut out, &mut seen);
        }
    })
    .expect("config is valid");
    engine.feed(&chunk, &mut out, &mut diags);
    engine.finish(&mut out, &mut diags);
    drain(&mut out, &mut seen);
    assert!(
        diags.is_empty(),
        "diagnostics: {:?}",
        &diags[..diags.len().min(5)]
    );
    seen.late = engine.stats().late;
    assert_eq!(engine.stats().events, truth.events);
    (truth, seen)
}

/// Every expected stateful alert exactly once, inside its story's time span, and no other;
/// single-event counts equal. (Lockout waves share the organization key, so one key can be
/// expected several times, once per story.)
fn check(truth: &Truth, seen: &Seen) {
    let mut want: BTreeMap<(String, String), Vec<(i64, i64)>> = BTreeMap::new();
    for a in &truth.stateful {
        want.entry((a.rule.to_string(), a.group_key.clone()))
            .or_default()
            .push((a.start, a.end));
    }
    let mut problems = Vec::new();
    for (key, spans) in &want {
        let got = seen.stateful.get(key).map(Vec::as_slice).unwrap_or(&[]);
        if got.len() != spans.len() {
            problems.push(format!(
                "{key:?}: {} alerts, expected {}",
                got.len(),
                spans.len()
            ));
        }
        for &(s, e) in spans {
            let inside = got.iter().filter(|&&t| t >= s && t <= e).count();
            if inside != 1 {
                problems.push(format!(
                    "{key:?}: {inside} alerts within its story [{s}, {e}]"
                ));
            }
        }
    }
    for (key, got) in &seen.stateful {
        if !want.contains_key(key) {
            problems.push(format!("unexpected {key:?} x{}", got.len()));
        }
    }
    assert!(
        problems.is_empty(),
        "stateful alerts differ from the truth:\n{}",
        problems.join("\n")
    );
    let single: BTreeMap<String, u64> = truth
        .single
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    assert_eq!(seen.single, single, "single-event alert counts");
}

#[test]
fn replay_raises_exactly_its_ground_truth() {
    let started = Instant::now();
    let cfg = GenConfig {
        events: 200_000,
        seed: 42,
        ..GenConfig::default()
    };
    let (truth, seen) = run(&cfg);
    check(&truth, &seen);
    assert_eq!(seen.lines, 200_000);
    assert_eq!(truth.lines, 200_000);

    // Every story kind is in, and so every stateful rule alerts.
    let kinds: std::collections::BTreeSet<&str> = truth.stateful.iter().map(|a| a.story).collect();
    assert_eq!(kinds.len(), AttackMix::KINDS.len(), "{kinds:?}");
    let rules: std::collections::BTreeSet<&str> = truth.stateful.iter().map(|a| a.rule).collect();
    assert_eq!(
        rules.len(),
        jcdetect::rules::catalog::STATEFUL_RULES.len(),
        "{rules:?}"
    );

    // Proportions: logins dominate; the rest is spread over many types.
    let total = seen.lines as f64;
    let share = |types: &[&str]| -> f64 {
        types
            .iter()
            .map(|t| *seen.event_types.get(*t).unwrap_or(&0) as f64)
            .sum::<f64>()
            / total
    };
    let logins = share(jcdetect::rules::catalog::LOGIN_EVENT_TYPES);
    assert!((0.65..0.85).contains(&logins), "login share {logins}");
    for t in [
        "user_login_attempt",
        "sso_auth",
        "radius_auth_attempt",
        "ldap_bind",
        "login_attempt",
        "admin_login_attempt",
    ] {
        assert!(share(&[t]) > 0.005, "{t}: {}", share(&[t]));
    }
    assert!(share(&["sso_auth"]) > share(&["admin_login_attempt"]) * 5.0);
    for t in [
        "user_update",
        "association_change",
        "group_update",
        "policy_update",
        "totp_start_enrollment",
        "mdm_command_result",
        "user_lockout",
        "directory_sync_completed",
    ] {
        assert!(seen.event_types.contains_key(t), "no {t} event");
    }
    assert!(
        seen.event_types.len() >= 60,
        "{} event types",
        seen.event_types.len()
    );
    assert_eq!(
        seen.event_types.values().sum::<u64>(),
        seen.lines,
        "every event names its type"
    );
    let by_type: BTreeMap<String, u64> = truth
        .event_types
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    assert_eq!(by_type, seen.event_types);

    // Out of order, but inside the lateness: the engine sees them and counts none as late.
    assert!(
        truth.out_of_order > 200,
        "{} out of order",
        truth.out_of_order
    );
    assert_eq!(seen.late, 0);
    // The occasional 77 KB mdm_command_result.
    assert!(seen.big_lines >= 1, "no big mdm event");
    assert!(
        (70_000..90_000).contains(&seen.max_line),
        "{}",
        seen.max_line
    );
    // A realistic span: hours, not seconds.
    let hours = (truth.last_time - truth.first_time) as f64 / 3.6e12;
    assert!((6.0..72.0).contains(&hours), "{hours} h");

    let avg = truth.bytes as f64 / truth.lines as f64;
    let mut mix: Vec<(&str, u64)> = truth.event_types.iter().map(|(k, v)| (*k, *v)).collect();
    mix.sort_by_key(|m| std::cmp::Reverse(m.1));
    println!(
        "200k replay: {avg:.0} bytes/line on average, {} MB, span {hours:.1} h, {} out of order, \
         {} stateful + {} single-event alerts, {:.2?}",
        truth.bytes >> 20,
        truth.out_of_order,
        truth.stateful.len(),
        truth.single_total(),
        started.elapsed()
    );
    println!("login share {:.1} %; top event types:", logins * 100.0);
    for (t, n) in mix.iter().take(20) {
        println!("  {t:<40} {n:>7} {:>5.1} %", *n as f64 * 100.0 / total);
    }
    assert!((600.0..900.0).contains(&avg), "average line {avg}");
}

#[test]
fn high_ip_cardinality_replay_stays_exact() {
    let cfg = GenConfig {
        events: 60_000,
        seed: 9,
        users: 20_000,
        ips: 5_000_000,
        roaming: 0.9,
        attacks: AttackMix::parse("all=1,spray=2,stuffing=2").unwrap(),
        ..GenConfig::default()
    };
    let (truth, seen) = run(&cfg);
    check(&truth, &seen);
    assert!(truth.stateful.len() >= 14);
    println!(
        "high-cardinality replay: {} distinct client ips",
        seen.ips.len()
    );
    assert!(seen.ips.len() > 30_000, "{} distinct ips", seen.ips.len());
}

fn bytes_of(cfg: &GenConfig) -> (Vec<u8>, Truth) {
    let mut v = Vec::new();
    let t = generate(cfg, |l| v.extend_from_slice(l)).unwrap();
    (v, t)
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let cfg = GenConfig {
        events: 20_000,
        seed: 7,
        ..GenConfig::default()
    };
    let (a, ta) = bytes_of(&cfg);
    let (b, tb) = bytes_of(&cfg);
    assert!(a == b, "same seed, different bytes");
    assert_eq!(ta, tb);
    assert_eq!(ta.bytes, a.len() as u64);
    let (c, tc) = bytes_of(&GenConfig {
        seed: 8,
        ..cfg.clone()
    });
    assert!(a != c, "different seeds, same bytes");
    assert_ne!(ta.stateful, tc.stateful);
    // Every line is one JSON object.
    for line in a
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .step_by(97)
    {
        let v: serde_json::Value = serde_json::from_slice(line).expect("JSON line");
        assert!(v.is_object());
    }
}

#[test]
fn no_attacks_means_no_stateful_alerts() {
    let cfg = GenConfig {
        events: 30_000,
        seed: 3,
        attacks: AttackMix::none(),
        out_of_order: 0.05,
        ..GenConfig::default()
    };
    let (truth, seen) = run(&cfg);
    assert!(truth.stateful.is_empty());
    check(&truth, &seen);
    assert!(truth.out_of_order > 1_000);
}

#[test]
fn bad_configs_are_refused() {
    let e = generate(
        &GenConfig {
            events: 100,
            ..GenConfig::default()
        },
        |_| {},
    )
    .unwrap_err();
    assert!(e.contains("cannot hold the attack stories"), "{e}");
    let e = generate(
        &GenConfig {
            users: 3,
            admins: 0,
            out_of_order: 2.0,
            ..GenConfig::default()
        },
        |_| {},
    )
    .unwrap_err();
    assert!(
        e.contains("users") && e.contains("admins") && e.contains("out_of_order"),
        "{e}"
    );
}

#[test]
fn truth_json_lists_what_the_side_file_promises() {
    let cfg = GenConfig {
        events: 5_000,
        ..GenConfig::default()
    };
    let t = generate(&cfg, |_| {}).unwrap();
    let v: serde_json::Value = serde_json::from_str(&t.to_json(&cfg)).unwrap();
    assert_eq!(v["events"], 5_000);
    assert_eq!(v["stateful"].as_array().unwrap().len(), t.stateful.len());
    let s = &v["stateful"][0];
    for k in ["rule", "group_key", "story", "start", "end"] {
        assert!(!s[k].is_null(), "{k} missing in {s}");
    }
    assert_eq!(
        v["alerts"]["total"].as_u64().unwrap(),
        t.stateful.len() as u64 + t.single_total()
    );
    assert_eq!(v["config"]["attacks"]["spray"], 2);
}
