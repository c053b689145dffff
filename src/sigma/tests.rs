//! Conformance, written from the Sigma specification: each modifier and condition form with
//! a positive and a near-miss event, one case per line. Our own rule texts.

use super::*;

/// (detection body, event, expected)
const CASES: &[(&str, &str, bool)] = &[
    // Plain values: case-insensitive, exact, lists OR, maps AND.
    (
        "sel: {event_type: admin_login_attempt}\ncondition: sel",
        r#"{"event_type":"Admin_Login_Attempt"}"#,
        true,
    ),
    (
        "sel: {event_type: admin_login_attempt}\ncondition: sel",
        r#"{"event_type":"admin_login_attempts"}"#,
        false,
    ),
    (
        "sel: {event_type: [a, b]}\ncondition: sel",
        r#"{"event_type":"b"}"#,
        true,
    ),
    (
        "sel: {event_type: a, success: false}\ncondition: sel",
        r#"{"event_type":"a","success":true}"#,
        false,
    ),
    (
        "sel: {event_type: a, success: false}\ncondition: sel",
        r#"{"event_type":"a","success":false}"#,
        true,
    ),
    // A list of maps: OR of ANDs.
    ("sel: [{a: 1}, {b: 2}]\ncondition: sel", r#"{"b":2}"#, true),
    ("sel: [{a: 1}, {b: 2}]\ncondition: sel", r#"{"b":3}"#, false),
    // Nested paths and arrays (any element).
    (
        "sel: {initiated_by.username: alice}\ncondition: sel",
        r#"{"initiated_by":{"username":"ALICE"}}"#,
        true,
    ),
    (
        "sel: {changes.field: mfa}\ncondition: sel",
        r#"{"changes":[{"field":"name"},{"field":"mfa"}]}"#,
        true,
    ),
    (
        "sel: {changes.field: mfa}\ncondition: sel",
        r#"{"changes":[{"field":"name"}]}"#,
        false,
    ),
    // Wildcards and escapes.
    (
        "sel: {username: 'adm*'}\ncondition: sel",
        r#"{"username":"administrator"}"#,
        true,
    ),
    (
        "sel: {username: 'a?m'}\ncondition: sel",
        r#"{"username":"adm"}"#,
        true,
    ),
    (
        "sel: {username: 'a?m'}\ncondition: sel",
        r#"{"username":"am"}"#,
        false,
    ),
    (
        "sel: {username: 'a\\*b'}\ncondition: sel",
        r#"{"username":"a*b"}"#,
        true,
    ),
    (
        "sel: {username: 'a\\*b'}\ncondition: sel",
        r#"{"username":"axb"}"#,
        false,
    ),
    // contains / startswith / endswith / all / cased.
    (
        "sel: {message|contains: denied}\ncondition: sel",
        r#"{"message":"Access DENIED here"}"#,
        true,
    ),
    (
        "sel: {message|startswith: acc}\ncondition: sel",
        r#"{"message":"Access"}"#,
        true,
    ),
    (
        "sel: {message|endswith: acc}\ncondition: sel",
        r#"{"message":"Access"}"#,
        false,
    ),
    (
        "sel: {message|contains|all: [a, z]}\ncondition: sel",
        r#"{"message":"a..z"}"#,
        true,
    ),
    (
        "sel: {message|contains|all: [a, z]}\ncondition: sel",
        r#"{"message":"a..y"}"#,
        false,
    ),
    (
        "sel: {message|cased: Admin}\ncondition: sel",
        r#"{"message":"admin"}"#,
        false,
    ),
    (
        "sel: {message|contains|cased: Adm}\ncondition: sel",
        r#"{"message":"xAdmx"}"#,
        true,
    ),
    // null, exists, neq.
    (
        "sel: {provider: null}\ncondition: sel",
        r#"{"provider":null}"#,
        true,
    ),
    ("sel: {provider: null}\ncondition: sel", r#"{}"#, true),
    (
        "sel: {provider: null}\ncondition: sel",
        r#"{"provider":"okta"}"#,
        false,
    ),
    (
        "sel: {mfa|exists: true}\ncondition: sel",
        r#"{"mfa":false}"#,
        true,
    ),
    (
        "sel: {mfa|exists: false}\ncondition: sel",
        r#"{"mfa":false}"#,
        false,
    ),
    (
        "sel: {service|neq: sso}\ncondition: sel",
        r#"{"service":"radius"}"#,
        true,
    ),
    (
        "sel: {service|neq: sso}\ncondition: sel",
        r#"{"service":"SSO"}"#,
        false,
    ),
    // Numbers.
    ("sel: {count|gt: 5}\ncondition: sel", r#"{"count":6}"#, true),
    (
        "sel: {count|gte: 5}\ncondition: sel",
        r#"{"count":"5"}"#,
        true,
    ),
    (
        "sel: {count|lt: 5}\ncondition: sel",
        r#"{"count":5}"#,
        false,
    ),
    (
        "sel: {count|lte: 5}\ncondition: sel",
        r#"{"count":4.5}"#,
        true,
    ),
    ("sel: {count: 5}\ncondition: sel", r#"{"count":5}"#, true),
    // re with flags, cidr.
    (
        "sel: {username|re: '^adm[0-9]+$'}\ncondition: sel",
        r#"{"username":"adm42"}"#,
        true,
    ),
    (
        "sel: {username|re: '^ADM'}\ncondition: sel",
        r#"{"username":"adm42"}"#,
        false,
    ),
    (
        "sel: {username|re|i: '^ADM'}\ncondition: sel",
        r#"{"username":"adm42"}"#,
        true,
    ),
    (
        "sel: {client_ip|cidr: 10.0.0.0/8}\ncondition: sel",
        r#"{"client_ip":"10.2.3.4"}"#,
        true,
    ),
    (
        "sel: {client_ip|cidr: 10.0.0.0/8}\ncondition: sel",
        r#"{"client_ip":"11.2.3.4"}"#,
        false,
    ),
    (
        "sel: {client_ip|cidr: '2001:db8::/32'}\ncondition: sel",
        r#"{"client_ip":"2001:db8::1"}"#,
        true,
    ),
    // fieldref.
    (
        "sel: {initiated_by.username|fieldref: resource.username}\ncondition: sel",
        r#"{"initiated_by":{"username":"bob"},"resource":{"username":"Bob"}}"#,
        true,
    ),
    (
        "sel: {initiated_by.username|fieldref: resource.username}\ncondition: sel",
        r#"{"initiated_by":{"username":"bob"},"resource":{"username":"eve"}}"#,
        false,
    ),
    // base64, base64offset (+ utf16), windash.
    (
        "sel: {cmd|base64|contains: 'foobar'}\ncondition: sel",
        r#"{"cmd":"x Zm9vYmFy y"}"#,
        true,
    ),
    (
        "sel: {cmd|base64offset|contains: '/bin/sh'}\ncondition: sel",
        r#"{"cmd":"ZWNobyAvYmluL3No"}"#,
        true,
    ),
    (
        "sel: {cmd|base64offset|contains: '/bin/bash'}\ncondition: sel",
        r#"{"cmd":"ZWNobyAvYmluL3No"}"#,
        false,
    ),
    (
        "sel: {cmd|wide|base64offset|contains: 'ab'}\ncondition: sel",
        r#"{"cmd":"YQBiAA=="}"#,
        true,
    ),
    (
        "sel: {cmd|windash|contains: ' -enc '}\ncondition: sel",
        r#"{"cmd":"powershell /enc x"}"#,
        true,
    ),
    (
        "sel: {cmd|windash|contains: ' -enc '}\ncondition: sel",
        r#"{"cmd":"powershell enc x"}"#,
        false,
    ),
    // Time modifiers on an RFC 3339 field.
    (
        "sel: {timestamp|hour: 3}\ncondition: sel",
        r#"{"timestamp":"2025-01-02T03:04:05Z"}"#,
        true,
    ),
    (
        "sel: {timestamp|minute: 5}\ncondition: sel",
        r#"{"timestamp":"2025-01-02T03:04:05Z"}"#,
        false,
    ),
    (
        "sel: {timestamp|week: 1}\ncondition: sel",
        r#"{"timestamp":"2025-01-02T03:04:05Z"}"#,
        true,
    ),
    (
        "sel: {timestamp|year: 2025}\ncondition: sel",
        r#"{"timestamp":"2025-01-02T03:04:05Z"}"#,
        true,
    ),
    // Keywords.
    (
        "kw: [brute]\ncondition: kw",
        r#"{"message":"BRUTE force","a":1}"#,
        true,
    ),
    (
        "kw: [brute]\ncondition: kw",
        r#"{"message":"force"}"#,
        false,
    ),
    // Conditions.
    (
        "a: {x: 1}\nb: {y: 2}\ncondition: a and not b",
        r#"{"x":1,"y":2}"#,
        false,
    ),
    (
        "a: {x: 1}\nb: {y: 2}\ncondition: [a, b]",
        r#"{"y":2}"#,
        true,
    ),
    (
        "s_1: {x: 1}\ns_2: {y: 2}\ncondition: all of s_*",
        r#"{"x":1,"y":3}"#,
        false,
    ),
    (
        "s_1: {x: 1}\n_f: {y: 2}\ncondition: 1 of them",
        r#"{"y":2}"#,
        false,
    ),
    // Keywords with `all`: every keyword somewhere in the event.
    (
        "k:\n  '|all': [bob, run]\ncondition: k",
        r#"{"u":"Bob","c":"will run"}"#,
        true,
    ),
    (
        "k:\n  '|all': [bob, run]\ncondition: k",
        r#"{"u":"Bob","c":"walk"}"#,
        false,
    ),
    // `exists`: present, be it empty or null.
    ("s: {n|exists: true}\ncondition: s", r#"{"n":null}"#, true),
    ("s: {n|exists: true}\ncondition: s", r#"{"n":""}"#, true),
    ("s: {n|exists: false}\ncondition: s", r#"{"m":1}"#, true),
    // `windash`: each option dash in any of its spellings, independently.
    (
        "s: {c|windash|contains: ' -a -b'}\ncondition: s",
        r#"{"c":"run /a \u2013b"}"#,
        true,
    ),
    (
        "s: {c|windash|contains: ' /c '}\ncondition: s",
        r#"{"c":"cmd -c whoami"}"#,
        true,
    ),
    // An escaped `*` is a literal star.
    ("s: {a: 'x\\*y'}\ncondition: s", r#"{"a":"x*y"}"#, true),
    ("s: {a: 'x\\*y'}\ncondition: s", r#"{"a":"xzy"}"#, false),
    // `base64offset|contains` finds the value at any offset of a base64 text.
    (
        "s: {c|base64offset|contains: /bin/sh}\ncondition: s",
        r#"{"c":"echo eC9iaW4vc2g= | base64 -d"}"#,
        true,
    ),
];

fn rule_text(detection: &str) -> String {
    let body: String = detection.lines().map(|l| format!("  {l}\n")).collect();
    format!("title: t\nid: 0f6b5b8e-0000-4000-8000-000000000001\nlogsource: {{product: jumpcloud}}\ndetection:\n{body}")
}

#[test]
fn conformance_table() {
    for (detection, event, want) in CASES {
        let text = rule_text(detection);
        let file = load(&text).unwrap_or_else(|e| panic!("{detection}: {e:?}"));
        let event: Value = serde_json::from_str(event).unwrap();
        assert_eq!(
            file.rules[0].matches(&event),
            *want,
            "{detection} on {event}"
        );
    }
}

#[test]
fn problems_are_refused_with_their_place() {
    let cases: &[(&str, &str)] = &[
        (
            "sel: {a|bogus: 1}\ncondition: sel",
            "unknown modifier `bogus`",
        ),
        (
            "sel: {a|expand: '%x%'}\ncondition: sel",
            "processing pipeline",
        ),
        ("sel: {a|re: '('}\ncondition: sel", "bad regular expression"),
        ("sel: {a|cidr: 10.0.0.0/99}\ncondition: sel", "not a CIDR"),
        ("sel: {a|gt: many}\ncondition: sel", "not a number"),
        (
            "sel: {a|utf16le: x}\ncondition: sel",
            "only supported before",
        ),
        ("sel: {a: 1}\ncondition: other", "not a search identifier"),
        ("sel: {a: 1}", "no `condition`"),
        (
            "sel: {a: 1}\ntimeframe: 5m\ncondition: sel",
            "use a correlation rule",
        ),
        // Modifiers that do not go together, refused rather than half applied.
        ("sel: {a|i: x}\ncondition: sel", "go with `re`"),
        (
            "sel: {a|cidr|contains: 10.0.0.0/8}\ncondition: sel",
            "plain text",
        ),
        ("sel: {a|all: x}\ncondition: sel", "two or more"),
        ("sel: {t|hour|gte: 9}\ncondition: sel", "cannot be combined"),
        (
            "sel: {a|startswith|endswith: x}\ncondition: sel",
            "one of contains",
        ),
        (
            "sel: {a|fieldref|contains: b}\ncondition: sel",
            "plain text",
        ),
        ("sel: {a|re|cased: x}\ncondition: sel", "`cased` applies"),
        // A key given twice is refused, not resolved.
        (
            "sel: {a: 1}\nsel: {a: 2}\ncondition: sel",
            "duplicate key `sel`",
        ),
        ("sel: {a: 1, a: 2}\ncondition: sel", "duplicate key `a`"),
        ("sel: {}\ncondition: sel", "empty search identifier"),
        ("sel: []\ncondition: sel", "empty search identifier"),
    ];
    for (detection, want) in cases {
        let err = load(&rule_text(detection)).unwrap_err();
        assert!(
            err.iter().any(|p| p.msg.contains(want) && p.pos.line >= 4),
            "{detection}: {err:?}"
        );
    }
    // Several problems at once, each with its line.
    let err = load(&rule_text("a: {x|nope: 1}\nb: {y|re: '['}\ncondition: a")).unwrap_err();
    assert_eq!(err.len(), 2, "{err:?}");
    assert_eq!((err[0].pos.line, err[1].pos.line), (5, 6));
    // Several rules per file.
    let two = format!(
        "{}---\n{}",
        rule_text("s: {a: 1}\ncondition: s"),
        rule_text("s: {b: 1}\ncondition: s")
    );
    assert_eq!(load(&two).unwrap().rules.len(), 2);
    // A detection rule and its correlation in one file.
    let both = format!(
        "{}---\ntitle: many\ncorrelation: {{type: event_count, rules: [t], group-by: [username], timespan: 5m, condition: {{gte: 5}}}}\n",
        rule_text("s: {a: 1}\ncondition: s")
    );
    let file = load(&both).unwrap();
    assert_eq!((file.rules.len(), file.correlations.len()), (1, 1));
}

/// A rule set's problems: each correlation or logsource mistake refused with its reason.
#[test]
fn rule_set_problems_are_refused() {
    let base = "title: f\nname: fail\nlogsource: {product: jumpcloud}\ndetection:\n  s: {success: false}\n  condition: s\n---\ntitle: o\nname: ok\nlogsource: {product: jumpcloud}\ndetection:\n  s: {success: true}\n  condition: s\n---\n";
    let corr = |body: &str| format!("{base}title: c\nname: c\n{body}\n");
    let cases: &[(String, &str)] = &[
        (corr("correlation: {type: event_count, rules: [fail, fail], group-by: [u], timespan: 5m, condition: {gte: 2}}"), "listed twice"),
        (corr("correlation: {type: event_count, rules: [fail], group_by: [u], timespan: 5m, condition: {gte: 2}}"), "did you mean `group-by`"),
        (corr("correlation: {type: event_count, rules: [fail], timeframe: 5m, timespan: 5m, condition: {gte: 2}}"), "unknown correlation key `timeframe`"),
        (corr("correlation: {type: event_count, rules: [fail], timespan: 5m, condition: {gte: 2}, generate: yes}"), "true or false"),
        (corr("generate: true\ncorrelation: {type: event_count, rules: [fail], timespan: 5m, condition: {gte: 2}}"), "inside `correlation:`"),
        (corr("level: severe\ncorrelation: {type: event_count, rules: [fail], timespan: 5m, condition: {gte: 2}}"), "unknown level"),
        (corr("correlation: {type: event_count, rules: [fail], timespan: 999999999999d, condition: {gte: 2}}"), "at most ten years"),
        (corr("correlation: {type: event_count, rules: [fail], timespan: 1h, condition: {gte: 5000}}"), "above 1000"),
        (corr("correlation: {type: temporal, rules: [fail, ok], timespan: 5m, condition: {gte: 3}}"), "between 1 and 2"),
        (corr("correlation: {type: temporal_ordered, rules: [fail, ok], timespan: 5m, condition: {gte: 1}}"), "takes no condition"),
        (corr("correlation: {type: event_count, rules: [fail], timespan: 5m, condition: {gte: 2, field: u}}"), "value_count only"),
        (corr("correlation: {type: temporal, rules: [fail, ok], group-by: [user], timespan: 5m, aliases: {user: {fail: a.b}}}"), "every rule"),
        (corr("correlation: {type: temporal, rules: [fail, ok], group-by: [user], timespan: 5m, aliases: {user: {fail: a, nope: b}}}"), "not in `rules`"),
        (corr("correlation: {type: temporal, rules: [fail, ok], group-by: [u], timespan: 5m, aliases: {user: {fail: a, ok: b}}}"), "not one of the `group-by`"),
        ("title: x\nid: x1\nlogsource: {product: jumpcloud, category: process_creation}\ndetection:\n  s: {a: 1}\n  condition: s\n".to_string(), "logsource.category"),
        ("title: x\nid: x1\nlogsource: {product: jumpcloud, service: ssso}\ndetection:\n  s: {a: 1}\n  condition: s\n".to_string(), "no DI service"),
    ];
    for (text, want) in cases {
        let src = [set::Source {
            origin: "r.yml".into(),
            text: text.clone(),
        }];
        let err = set::compile(&src, &[]).err().unwrap_or_default();
        assert!(err.iter().any(|p| p.msg.contains(want)), "{want}: {err:?}");
    }
    // A rule whose id is its name, and aliases keyed by a rule's id, are fine.
    let ok = format!("{base}title: c\nname: c\nid: c\ncorrelation: {{type: temporal, rules: [fail, ok], group-by: [user], timespan: 5m, aliases: {{user: {{fail: a, ok: b}}}}, condition: {{gte: 1}}}}\n");
    let set = set::compile(
        &[set::Source {
            origin: "r.yml".into(),
            text: ok,
        }],
        &[],
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(set.correlations[0].min, 1);
    assert_eq!(
        set.correlations[0].group_fields,
        [vec!["a".to_string()], vec!["b".to_string()]]
    );
}
