//! The real public DI events: every one decodes without a diagnostic, and each produces
//! exactly the alerts listed here (default config, then with `login_success` enabled).

mod common;

use jcdetect::{Config, Options};
use std::path::Path;

/// (file under a samples root, expected rule ids per line with the default config,
///  expected rule ids per line with login_success enabled)
type Expect = (
    &'static str,
    &'static [&'static [&'static str]],
    &'static [&'static [&'static str]],
);

const NONE: &[&str] = &[];
const LS: &[&str] = &["login_success"];

/// MIT-licensed, bundled in tests/fixtures/samples.
const BUNDLED: &[Expect] = &[
    // sso_auth with sso_token_success=true and no `success`; radius_auth_attempt success.
    (
        "sekoia-automation-library/events.ndjson",
        &[NONE, NONE],
        &[LS, LS],
    ),
    // organization_create with deep `changes[].to` objects.
    ("sumologic-docs/events.ndjson", &[NONE], &[NONE]),
    // Legacy admin login (actor in `resource`, `country_code2`, MFA used); RADIUS event with
    // no event_type or service: not recognisable as a login, so nothing fires.
    (
        "jumpcloud-di-api-docs/events.ndjson",
        &[NONE, NONE],
        &[LS, NONE],
    ),
];

/// ELv2 / unlicensed: read from ../shared/samples only.
const SHARED: &[Expect] = &[
    // admin login with MFA; two mdm_command_result (one ~77 KB).
    (
        "elastic-integrations/events.ndjson",
        &[NONE, NONE, NONE],
        &[LS, NONE, NONE],
    ),
    (
        "elastic-integrations/mock-api-response.ndjson",
        &[NONE],
        &[LS],
    ),
    (
        "sekoia-intake-formats/events.ndjson",
        &[
            NONE,                      // admin_login mfa=true
            &["device_bound_to_user"], // association_change add system -> user
            NONE,                      // radius failure
            NONE,                      // radius success
            NONE,                      // sso failure
            NONE,                      // sso failure
            NONE,                      // sso success
            &["user_updated"],         // user_update (attributes)
            &["user_updated"],         // user_update (scim: addresses, company, location)
            &["user_updated"],         // user_update incl. suspended=true: not an MFA change
        ],
        &[
            LS,
            &["device_bound_to_user"],
            NONE,
            LS,
            NONE,
            NONE,
            LS,
            &["user_updated"],
            &["user_updated"],
            &["user_updated"],
        ],
    ),
];

fn check(root: &Path, table: &[Expect]) {
    let enable_ls = Config::from_toml_str("[rules.login_success]\nenabled = true\n").unwrap();
    for (file, want_default, want_ls) in table {
        let text = String::from_utf8(common::read(&root.join(file))).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), want_default.len(), "{file}: line count");
        for (cfg, want) in [(&Config::default(), want_default), (&enable_ls, want_ls)] {
            for (i, line) in lines.iter().enumerate() {
                let (out, diags) = common::run(cfg, Options::default(), line.as_bytes());
                assert!(diags.is_empty(), "{file}:{}: {diags:?}", i + 1);
                let got = common::rule_ids(&out);
                assert_eq!(got, want[i], "{file}:{}", i + 1);
                // Every alert names the DI event that fired it.
                let id = serde_json::from_str::<serde_json::Value>(line).unwrap()["id"].clone();
                for a in &out {
                    let v: serde_json::Value = serde_json::from_str(a).unwrap();
                    assert_eq!(v["jcdetect"]["di_event_ids"][0], id, "{file}:{}", i + 1);
                }
            }
        }
    }
}

#[test]
fn bundled_mit_samples() {
    check(&common::root().join("tests/fixtures/samples"), BUNDLED);
}

#[test]
fn shared_samples_in_place() {
    let Some(root) = common::shared_samples() else {
        eprintln!(
            "SKIPPED shared_samples_in_place: ../shared/samples is not present next to the \
             project (the ELv2 and unlicensed samples are not redistributed in this repo)"
        );
        return;
    };
    check(&root, SHARED);
}

#[test]
fn all_samples_as_one_stream_and_as_a_json_array() {
    // The same events concatenated, then wrapped as one JSON array line (as the DI API
    // returns them): identical alerts.
    let mut roots = vec![common::root().join("tests/fixtures/samples")];
    roots.extend(common::shared_samples());
    let mut events = Vec::new();
    for root in &roots {
        for (file, ..) in BUNDLED.iter().chain(SHARED) {
            if let Ok(t) = std::fs::read_to_string(root.join(file)) {
                events.extend(t.lines().map(str::to_string));
            }
        }
    }
    let ndjson = events.join("\n");
    let array = format!("[{}]", events.join(","));
    let (a, da) = common::run(&Config::default(), Options::default(), ndjson.as_bytes());
    let (b, db) = common::run(&Config::default(), Options::default(), array.as_bytes());
    // The samples come from different years: a jump of months ahead is reported (and kept
    // out of the windows), nothing else is.
    let codes = |d: &[jcdetect::Diagnostic]| d.iter().map(|d| d.code).collect::<Vec<_>>();
    assert!(
        codes(&da)
            .iter()
            .all(|&c| c == jcdetect::Code::FutureTimestamp),
        "{da:?}"
    );
    assert_eq!(codes(&da), codes(&db));
    assert!(!a.is_empty());
    assert_eq!(a, b);
}
