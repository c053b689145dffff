//! Canonical source addresses (catalog, "Keys are canonical"): every spelling of one address is
//! one window key, and alerts write the canonical form (IPv6 per RFC 5952, an IPv4-mapped IPv6
//! address as its IPv4 address) in `source.ip`, `related.ip`, the group key and the message.

mod common;

use jcdetect::{Config, Format, Options};
use serde_json::{json, Value};

fn alerts(cfg: &Config, format: Format, input: &[u8]) -> Vec<Value> {
    let opts = Options {
        format,
        ..Options::default()
    };
    let (lines, diags) = common::run(cfg, opts, input);
    assert!(diags.is_empty(), "{diags:?}");
    lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("alert is JSON"))
        .collect()
}

fn case_input(name: &str) -> Vec<u8> {
    common::read(
        &common::root()
            .join("tests/cases/stateful")
            .join(name)
            .join("input.ndjson"),
    )
}

/// The folder cases `exact__ipv6_spellings_one_key` and `exact__ipv4_mapped_one_key`: one
/// spray alert, written with the canonical address wherever an address appears.
#[test]
fn spray_across_spellings_is_one_key_written_canonical() {
    for (case, want) in [
        ("exact__ipv6_spellings_one_key", "2001:db8::7"),
        ("exact__ipv4_mapped_one_key", "192.0.2.1"),
    ] {
        let input = case_input(case);
        let a = alerts(&Config::default(), Format::Ecs, &input);
        assert_eq!(a.len(), 1, "{case}: {a:?}");
        let a = &a[0];
        assert_eq!(a["rule"]["id"], "password_spray_from_ip", "{case}");
        assert_eq!(a["source"]["ip"], want, "{case}");
        assert_eq!(a["related"]["ip"], json!([want]), "{case}");
        assert_eq!(a["jcdetect"]["group_key"], want, "{case}");
        assert_eq!(a["jcdetect"]["distinct_count"], 16, "{case}");
        let msg = a["message"].as_str().unwrap();
        assert!(msg.contains(want), "{case}: {msg}");

        let o = alerts(&Config::default(), Format::Ocsf, &input);
        assert_eq!(o.len(), 1, "{case}");
        assert_eq!(o[0]["evidences"][0]["src_endpoint"]["ip"], want, "{case}");
        assert_eq!(o[0]["unmapped"]["jcdetect"]["group_key"], want, "{case}");
    }
}

fn admin_no_mfa(id: &str, ip: &str) -> String {
    format!(
        r#"{{"id":"{id}","event_type":"admin_login_attempt","service":"directory","timestamp":"2024-07-15T12:00:00Z","success":true,"mfa":false,"client_ip":"{ip}","initiated_by":{{"type":"admin","email":"ops.lead@acme-corp.example"}},"organization":"o1"}}"#
    )
}

/// A single-event alert writes the canonical address too, in both formats and the message.
#[test]
fn single_event_alert_writes_canonical_ip() {
    for (i, (given, want)) in [
        ("2001:DB8::7", "2001:db8::7"),
        ("2001:db8:0:0:0:0:0:7", "2001:db8::7"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("192.0.2.1", "192.0.2.1"),
    ]
    .into_iter()
    .enumerate()
    {
        let line = admin_no_mfa(&format!("66950f40000000000000000{i}"), given);
        let a = alerts(&Config::default(), Format::Ecs, line.as_bytes());
        assert_eq!(a.len(), 1, "{given}");
        assert_eq!(a[0]["rule"]["id"], "admin_login_without_mfa");
        assert_eq!(a[0]["source"]["ip"], want, "{given}");
        assert_eq!(a[0]["related"]["ip"], json!([want]), "{given}");
        let msg = a[0]["message"].as_str().unwrap();
        assert!(msg.ends_with(&format!("from {want}.")), "{given}: {msg}");
        let o = alerts(&Config::default(), Format::Ocsf, line.as_bytes());
        assert_eq!(o[0]["evidences"][0]["src_endpoint"]["ip"], want, "{given}");
    }
    // Not an address (a zone index): kept as written, as text.
    let line = admin_no_mfa("66950f400000000000000009", "fe80::1%eth0");
    let a = alerts(&Config::default(), Format::Ecs, line.as_bytes());
    assert_eq!(a[0]["source"]["address"], "fe80::1%eth0");
    assert!(a[0]["source"].get("ip").is_none());
}

/// The allowlist matches an address whichever way the event spells it.
#[test]
fn allowlist_matches_every_spelling() {
    let cfg =
        Config::from_toml_str("[allowlist]\nips = [\"2001:db8::7\", \"192.0.2.0/24\"]\n").unwrap();
    for (i, ip) in [
        "2001:DB8::7",
        "2001:db8:0:0:0:0:0:7",
        "::ffff:192.0.2.1",
        "::FFFF:C000:0201",
        "192.0.2.1",
    ]
    .into_iter()
    .enumerate()
    {
        let line = admin_no_mfa(&format!("66950f40000000000000001{i}"), ip);
        assert!(
            alerts(&cfg, Format::Ecs, line.as_bytes()).is_empty(),
            "{ip}"
        );
    }
    let line = admin_no_mfa("66950f400000000000000020", "2001:db8::8");
    assert_eq!(alerts(&cfg, Format::Ecs, line.as_bytes()).len(), 1);
}
