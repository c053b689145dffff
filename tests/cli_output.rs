//! End-to-end tests of the `jcdetect` binary's output: the documented ECS and OCSF shapes,
//! `--emit all`, and `jcdetect rules` (table and JSON).

#[path = "common/cli.rs"]
mod helpers;

use helpers::*;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};

// ---------------------------------------------------------------------------------------
// Output shapes

#[test]
fn ecs_alerts_have_the_documented_shape() {
    let input = example_plus_jc_alert();
    let all = jc(&["--emit", "all"], Some(&input));
    all.assert_ok();
    let alerts_only = jc(&[], Some(&input));
    alerts_only.assert_ok();
    let alerts = alerts_only.json();
    assert!(alerts.len() >= 6);

    // Walk the --emit all output so that each alert is checked against its input event.
    let mut checked = Vec::new();
    let mut current: Option<Value> = None;
    let mut uids = BTreeSet::new();
    for v in all.json() {
        if !is_alert(&v) {
            current = Some(v);
            continue;
        }
        let ev = current.as_ref().expect("an alert follows its event");
        let id = rule_id(&v);
        let rule = catalog()
            .get(id)
            .unwrap_or_else(|| panic!("{id} in catalog"));

        let ts = v["@timestamp"].as_str().expect("@timestamp");
        assert_eq!(nanos(ts), nanos(ev["timestamp"].as_str().unwrap()), "{v}");
        assert_eq!(v["event"]["kind"], "alert");
        let uid = v["event"]["id"].as_str().expect("event.id");
        assert!(
            uid.len() == 32
                && uid
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "event.id `{uid}` is 32 lower-case hex digits"
        );
        assert!(uids.insert(uid.to_string()), "event.id {uid} is unique");
        assert_eq!(v["rule"]["name"], rule["name"]);
        assert_eq!(v["rule"]["description"], rule["description"]);
        assert!(!v["rule"]["description"].as_str().unwrap().is_empty());
        assert_eq!(v["rule"]["ruleset"], "jcdetect");
        assert_eq!(v["observer"]["product"], "jcdetect");

        let severity = v["event"]["severity"].as_u64().expect("event.severity");
        let expected = if id == "jumpcloud_alert" {
            // Carried over from the event's own priority.
            severity_number(ev["priority"].as_str().unwrap())
        } else {
            severity_number(rule["severity"].as_str().unwrap())
        };
        assert_eq!(severity, expected, "{id}");

        let tactics = rule["tactics"].as_array().unwrap();
        let techniques = rule["techniques"].as_array().unwrap();
        if tactics.is_empty() {
            assert!(v.get("threat").is_none(), "{id} has no ATT&CK mapping");
        } else {
            let t = &v["threat"];
            assert_eq!(t["framework"], "MITRE ATT&CK");
            assert_eq!(&t["tactic"]["id"], &Value::Array(tactics.clone()), "{id}");
            let tech = techniques[0].as_str().unwrap();
            match tech.split_once('.') {
                Some((parent, _)) => {
                    assert_eq!(t["technique"]["id"], serde_json::json!([parent]), "{id}");
                    assert_eq!(
                        t["technique"]["subtechnique"]["id"],
                        serde_json::json!([tech]),
                        "{id}"
                    );
                }
                None => assert_eq!(t["technique"]["id"], serde_json::json!([tech]), "{id}"),
            }
        }

        let ev_id = ev["id"].as_str().unwrap();
        assert!(di_ids(&v).contains(&ev_id), "{id}: {v}");
        if let Some(ip) = ev["client_ip"].as_str() {
            assert_eq!(v["source"]["ip"], ip);
            assert!(v["related"]["ip"]
                .as_array()
                .unwrap()
                .contains(&Value::from(ip)));
        }
        checked.push(v);
    }
    // --emit all interleaves exactly the alerts the default mode writes.
    assert_eq!(checked, alerts);
    assert!(rule_ids(&checked).contains(&"jumpcloud_alert".to_string()));

    // Deterministic: a second run is byte-identical.
    let again = jc(&[], Some(&input));
    assert_eq!(again.stdout, alerts_only.stdout);
}

#[test]
fn ocsf_findings_match_the_ecs_alerts() {
    let input = example_plus_jc_alert();
    let ecs = jc(&["--format", "ecs"], Some(&input));
    ecs.assert_ok();
    let ocsf = jc(&["--format", "ocsf"], Some(&input));
    ocsf.assert_ok();
    let (ecs, findings) = (ecs.json(), ocsf.json());
    assert_eq!(ecs.len(), findings.len());
    assert!(!findings.is_empty());
    for (e, f) in ecs.iter().zip(&findings) {
        let id = rule_id(e);
        let rule = &catalog()[id];
        assert_eq!(f["class_uid"], 2004);
        assert_eq!(f["type_uid"], 200401);
        assert_eq!(f["category_uid"], 2);
        let sev = f["severity_id"].as_u64().expect("severity_id");
        assert!((1..=5).contains(&sev));
        assert_eq!(sev, e["event"]["severity"].as_u64().unwrap(), "{id}");
        assert_eq!(
            f["time"].as_i64().expect("time in ms"),
            ms(e["@timestamp"].as_str().unwrap())
        );
        assert_eq!(f["metadata"]["product"]["name"], "jcdetect");
        assert!(f["metadata"]["version"].is_string());
        let fi = &f["finding_info"];
        assert_eq!(fi["uid"], e["event"]["id"]);
        assert_eq!(fi["title"], e["rule"]["name"]);
        assert_eq!(fi["analytic"]["uid"], id);
        assert_eq!(fi["related_events_uids"], e["jcdetect"]["di_event_ids"]);
        let tactics = rule["tactics"].as_array().unwrap();
        match fi.get("attacks").and_then(Value::as_array) {
            Some(attacks) if !tactics.is_empty() => {
                assert!(!attacks.is_empty());
                assert_eq!(attacks[0]["tactic"]["uid"], tactics[0], "{id}");
                let tech = rule["techniques"][0].as_str().unwrap();
                let got = attacks[0]["sub_technique"]["uid"]
                    .as_str()
                    .or(attacks[0]["technique"]["uid"].as_str());
                assert_eq!(got, Some(tech), "{id}");
            }
            None if tactics.is_empty() => {}
            other => panic!("{id}: attacks {other:?} vs tactics {tactics:?}"),
        }
        let evidences = f["evidences"].as_array().expect("evidences[]");
        assert!(!evidences.is_empty());
        assert_eq!(
            evidences[0]["data"]["id"].as_str(),
            Some(di_ids(e)[0]),
            "{id}"
        );
    }
    // `--opt=value` spelling, and determinism of the OCSF encoder.
    let again = jc(&["--format=ocsf"], Some(&input));
    assert_eq!(again.stdout, ocsf.stdout);
}

/// Expected input lines for the `--emit all` walk.
enum In {
    /// Rejected: comes out verbatim.
    Bad(Vec<u8>),
    /// A DI event (the raw text, without line ending).
    Event(String),
}

#[test]
fn emit_all_passes_every_line_through_in_order_with_its_alerts() {
    let ex = String::from_utf8(example()).unwrap();
    let mut expected: Vec<In> = Vec::new();
    let mut input: Vec<u8> = Vec::new();
    for (i, line) in ex.lines().enumerate() {
        match i {
            3 => {
                let bad = br#"{"id":"65f1ac00c1d2e3f405162741","event_type":"user_cre"#.to_vec();
                input.extend_from_slice(&bad);
                input.push(b'\n');
                expected.push(In::Bad(bad));
            }
            10 => {
                input.extend_from_slice(b"42\n");
                expected.push(In::Bad(b"42".to_vec()));
            }
            17 => {
                // Invalid UTF-8 is repaired (U+FFFD), not rejected: the event comes out so.
                let bad = b"{\"id\":\"\xff\xfe\",\"event_type\":\"policy_delete\"}".to_vec();
                input.extend_from_slice(&bad);
                input.push(b'\n');
                expected.push(In::Event(String::from_utf8_lossy(&bad).into_owned()));
            }
            _ => {}
        }
        if i == 12 {
            // CRLF ending: the event comes out with a plain newline.
            input.extend_from_slice(line.as_bytes());
            input.extend_from_slice(b"\r\n");
        } else {
            input.extend_from_slice(line.as_bytes());
            input.push(b'\n');
        }
        expected.push(In::Event(line.to_string()));
    }
    // A line holding an array: each element comes out as its own tagged event.
    let a = r#"{"id":"65f1ad00c1d2e3f405162742","event_type":"user_create","service":"directory","resource":{"type":"user","username":"h.hacker"},"timestamp":"2024-03-12T09:31:00Z"}"#;
    let b = r#"{"id":"65f1ad10c1d2e3f405162743","event_type":"organization_update","service":"directory","timestamp":"2024-03-12T09:31:10Z"}"#;
    input.extend_from_slice(format!("[{a}, {b}]\n").as_bytes());
    expected.push(In::Event(a.to_string()));
    expected.push(In::Event(b.to_string()));
    // An empty line is dropped, not echoed (NDJSON consumers reject blank lines).
    input.extend_from_slice(b"\n");

    let r = jc(&["--emit", "all"], Some(&input));
    r.assert_ok();
    let out = byte_lines(&r.stdout);
    let mut pos = 0;
    let mut alerts_seen = 0;
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    for exp in &expected {
        let line = *out
            .get(pos)
            .expect("output has a line for every input line");
        pos += 1;
        match exp {
            In::Bad(raw) => assert_eq!(line, &raw[..], "rejected lines pass through verbatim"),
            In::Event(raw) => {
                // Byte-wise: the input, less its closing brace, then the added object.
                let body = raw.trim_end().strip_suffix('}').unwrap();
                assert!(
                    line.starts_with(format!("{body},\"jcdetect\":{{").as_bytes()),
                    "event unchanged but for the added object:\n{}",
                    String::from_utf8_lossy(line)
                );
                let mut got: Value = serde_json::from_slice(line).unwrap();
                let tag = got.as_object_mut().unwrap().remove("jcdetect").unwrap();
                let original: Value = serde_json::from_str(raw).unwrap();
                assert_eq!(got, original);
                let tag = tag.as_object().unwrap();
                assert_eq!(tag.len(), 2, "{tag:?}");
                assert!(!tag["category"].as_str().unwrap().is_empty());
                let tagged: Vec<&str> = tag["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap())
                    .collect();
                // Its alerts follow it immediately, one per listed rule, in that order.
                let mut fired = Vec::new();
                while let Some(next) = out.get(pos) {
                    let Ok(v) = serde_json::from_slice::<Value>(next) else {
                        break;
                    };
                    if !is_alert(&v) {
                        break;
                    }
                    assert!(di_ids(&v).contains(&original["id"].as_str().unwrap()));
                    fired.push(rule_id(&v).to_string());
                    pos += 1;
                }
                assert_eq!(fired, tagged, "alerts after {}", original["id"]);
                alerts_seen += fired.len();
                tags.insert(original["id"].as_str().unwrap().to_string(), fired);
            }
        }
    }
    assert_eq!(pos, out.len(), "no extra output lines");
    assert!(alerts_seen >= 6);
    assert_eq!(tags["65f1ad00c1d2e3f405162742"], ["user_created"]);
    assert!(tags["65f1ad10c1d2e3f405162743"].is_empty());
    // Rejected lines are still reported.
    for code in [
        "invalid_json",
        "not_an_object",
        "invalid_utf8",
        "empty_line",
    ] {
        assert!(r.stderr.contains(code), "{code}: {}", r.stderr);
    }
}

// ---------------------------------------------------------------------------------------
// `jcdetect rules`

#[test]
fn rules_table_lists_every_rule() {
    let r = jc(&["rules"], None);
    r.assert_ok();
    let rows: Vec<&str> = r.out().lines().collect();
    assert!(rows[0].starts_with("ID"));
    assert_eq!(rows.len(), catalog().len() + 1);
    for id in catalog().keys() {
        assert!(
            rows.iter()
                .any(|row| row.split_whitespace().next() == Some(id)),
            "{id} in the table"
        );
    }
}

#[test]
fn rules_json_describes_every_rule() {
    let r = jc(&["rules", "--json"], None);
    r.assert_ok();
    let list: Vec<Value> = serde_json::from_slice(&r.stdout).unwrap();
    let ids: BTreeSet<&str> = list.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), list.len(), "ids are unique");
    assert!(list.len() >= 30);
    for rule in &list {
        let o: &Map<String, Value> = rule.as_object().unwrap();
        for key in [
            "id",
            "name",
            "kind",
            "severity",
            "tactics",
            "techniques",
            "enabled",
            "parameters",
        ] {
            assert!(o.contains_key(key), "{key} in {rule}");
        }
        assert!(["single", "stateful"].contains(&o["kind"].as_str().unwrap()));
        severity_number(o["severity"].as_str().unwrap());
        assert!(o["enabled"].is_boolean());
        assert!(o["parameters"].is_object());
        let (ta, te) = (
            o["tactics"].as_array().unwrap(),
            o["techniques"].as_array().unwrap(),
        );
        assert_eq!(ta.len(), te.len(), "{rule}");
        assert!(ta.iter().all(|t| t.as_str().unwrap().starts_with("TA")));
        assert!(te.iter().all(|t| t.as_str().unwrap().starts_with('T')));
    }
    let get = |id: &str| list.iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(get("login_success")["enabled"], false);
    assert_eq!(
        get("embargoed_location")["parameters"]["countries"],
        serde_json::json!(["CU", "IR", "KP", "SY"])
    );

    let cfg = Temp::new(
        "enable.toml",
        b"[rules.login_success]\nenabled = true\n[rules.embargoed_location]\ncountries = [\"RU\"]\nseverity = \"medium\"\n",
    );
    let r = jc(&["rules", "--json", "--config", cfg.s()], None);
    r.assert_ok();
    let list: Vec<Value> = serde_json::from_slice(&r.stdout).unwrap();
    let get = |id: &str| list.iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(get("login_success")["enabled"], true);
    assert_eq!(
        get("embargoed_location")["parameters"]["countries"],
        serde_json::json!(["RU"])
    );
    assert_eq!(get("embargoed_location")["severity"], "medium");
    // `--config=FILE` works for `rules` as it does for the filter.
    let eq = jc(&["rules", "--json", &format!("--config={}", cfg.s())], None);
    eq.assert_ok();
    assert_eq!(eq.stdout, r.stdout);
}

#[test]
fn enabling_login_success_fires_on_every_successful_login() {
    let input = example();
    let (r, _cfg) = with_config("[rules.login_success]\nenabled = true\n", &[], &input);
    r.assert_ok();
    let logins = [
        "admin_login_attempt",
        "user_login_attempt",
        "sso_auth",
        "radius_auth_attempt",
        "ldap_bind",
    ];
    let successes: Vec<String> = String::from_utf8(input)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| logins.contains(&e["event_type"].as_str().unwrap_or("")))
        .filter(|e| e["success"] == true || e["sso_token_success"] == true)
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert!(successes.len() >= 5);
    let fired: Vec<String> = r
        .json()
        .iter()
        .filter(|a| rule_id(a) == "login_success")
        .map(|a| di_ids(a)[0].to_string())
        .collect();
    assert_eq!(fired, successes);
}
