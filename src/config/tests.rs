//! The config's tests: every problem a config can have, one case a line, with the place and
//! the message the CLI writes for it; the budget check; CIDR matching.

use super::*;

/// One case a line: config text, then every problem as the CLI writes it for `c.toml`
/// (`FILE:LINE:COL: message`), joined by ` | `, in file order.
#[rustfmt::skip]
const BAD: &[(&str, &str)] = &[
    ("[rules.policy_deleted\nenabled = \n", "c.toml:1:22: TOML syntax: invalid table header; expected `.`, `]`"),
    ("[state]\nmemory_mb = 4\n\nmemory_mb = 5\n", "c.toml:4:1: TOML syntax: duplicate key `memory_mb` in table `state`"),
    ("[rules.password_spray_from_ip]\nthreshold = 5000\n", "c.toml:2:13: rules.password_spray_from_ip.threshold: 5000 is above the limit 1000"),
    ("[rules.password_spray_from_ip]\nthreshold = 1001\n", "c.toml:2:13: rules.password_spray_from_ip.threshold: 1001 is above the limit 1000"),
    ("[rules.brute_force_attempts]\nthreshold = 0\n", "c.toml:2:13: rules.brute_force_attempts.threshold: 0 is below the minimum 1"),
    ("[rules.brute_force_attempts]\nwindow_secs = 3153600001\n", "c.toml:2:15: rules.brute_force_attempts.window_secs: 3153600001 is above the limit 3153600000"),
    ("[rules.brute_force_attempts]\nsuppress_secs = -1\n", "c.toml:2:17: rules.brute_force_attempts.suppress_secs: -1 is below the minimum 0"),
    ("[rules.brute_force_attempts]\nwindow_secs = \"ten\"\n", "c.toml:2:15: rules.brute_force_attempts.window_secs: must be an integer from 1 to 3153600000, not the string \"ten\""),
    ("[rules.brute_force_attempts]\nthreshold = 2.5\n", "c.toml:2:13: rules.brute_force_attempts.threshold: must be an integer from 1 to 1000, not the float 2.5"),
    ("[rules.user_updated]\nenabled = \"yes\"\n", "c.toml:2:11: rules.user_updated.enabled: must be true or false, not the string \"yes\""),
    ("[rules.user_updated]\nenabled = [true]\n", "c.toml:2:11: rules.user_updated.enabled: must be true or false, not an array"),
    ("[rules.policy_deleted]\nseverity = \"urgent\"\n", "c.toml:2:12: rules.policy_deleted.severity: must be one of informational, low, medium, high, critical, not the string \"urgent\""),
    ("[rules.nope]\nenabled = true\n", "c.toml:1:8: unknown rule `nope` in [rules] (see `jcdetect rules` for the ids)"),
    ("[rules.user_created]\ncolour = \"red\"\n", "c.toml:2:1: unknown key `rules.user_created.colour` (rule `user_created` takes: enabled, severity)"),
    ("rules = 5\n", "c.toml:1:9: rules: must be a table of rule tables, not the integer 5"),
    ("[rules]\nuser_created = true\n", "c.toml:2:16: rules.user_created: must be a table, not the boolean true"),
    ("[rules.embargoed_location]\ncountries = [\"CU\", 7, \"XYZ\"]\n", "c.toml:2:20: rules.embargoed_location.countries[1]: must be a string, not the integer 7 | c.toml:2:23: rules.embargoed_location.countries[2]: `XYZ` is not a two-letter ISO 3166 country code"),
    ("[rules.embargoed_location]\ncountries = \"CU\"\n", "c.toml:2:13: rules.embargoed_location.countries: must be an array of strings, not the string \"CU\""),
    ("[rules.protect_device_removed]\nfield_patterns = [\"push\", \"_-.\"]\n", "c.toml:2:27: rules.protect_device_removed.field_patterns[1]: pattern `_-.` is empty once normalized"),
    ("# dotted keys\nrules.password_spray_from_ip.threshold = 5000\n", "c.toml:2:42: rules.password_spray_from_ip.threshold: 5000 is above the limit 1000"),
    ("[rules]\npassword_spray_from_ip = { threshold = 5000, window = 1 }\n", "c.toml:2:40: rules.password_spray_from_ip.threshold: 5000 is above the limit 1000 | c.toml:2:46: unknown key `rules.password_spray_from_ip.window` (rule `password_spray_from_ip` takes: enabled, severity, threshold, window_secs, suppress_secs)"),
    ("[state]\nmemory_mb = 65536\n", "c.toml:2:13: state.memory_mb: 65536 is above the limit 4096"),
    ("[state]\nmemory_mb = 0\n", "c.toml:2:13: state.memory_mb: 0 is below the minimum 1"),
    ("[state]\nallowed_lateness_secs = 86401\n", "c.toml:2:25: state.allowed_lateness_secs: 86401 is above the limit 86400"),
    ("[state]\nmax_jump_secs = 0\n", "c.toml:2:17: state.max_jump_secs: 0 is below the minimum 1"),
    ("[state]\nmax_future_secs = 59\n", "c.toml:2:19: state.max_future_secs: 59 is below the minimum 60"),
    ("[state]\nmemory_mb = \"32\"\n", "c.toml:2:13: state.memory_mb: must be an integer from 1 to 4096, not the string \"32\""),
    ("[state]\nmemory = 32\n", "c.toml:2:1: unknown key `state.memory` (expected memory_mb, allowed_lateness_secs, max_jump_secs, max_future_secs)"),
    ("state = []\n", "c.toml:1:9: state: must be a table, not an array"),
    ("[allowlist]\nips = [\"10.0.0.0/8\", \"nope\"]\n", "c.toml:2:22: allowlist.ips[1]: `nope` is not an IP address or CIDR"),
    ("[allowlist]\nusers = [\"é\", \"  \"]\n", "c.toml:2:15: allowlist.users[1]: empty user name"),
    ("[allowlist]\ncountries = [\"FR\", \"France\"]\n", "c.toml:2:20: allowlist.countries[1]: `France` is not a two-letter ISO 3166 country code"),
    ("[allowlist]\nhosts = []\n", "c.toml:2:1: unknown key `allowlist.hosts` (expected ips, users, countries)"),
    ("colour = 1\n", "c.toml:1:1: unknown top-level key `colour` (expected `rules`, `allowlist`, `state` or the `fluentbit` table)"),
    ("fluentbit = 1\n", "c.toml:1:13: fluentbit: must be a table, not the integer 1"),
    // File order, whatever the order of the tables' keys.
    ("[state]\nmemory_mb = 0\n[allowlist]\nips = [\"x\"]\n[rules.user_created]\nenabled = 1\n", "c.toml:2:13: state.memory_mb: 0 is below the minimum 1 | c.toml:4:8: allowlist.ips[0]: `x` is not an IP address or CIDR | c.toml:6:11: rules.user_created.enabled: must be true or false, not the integer 1"),
    ("[rules.user_created]\nseverity = 1\nenabled = 1\n[rules.account_locked]\nenabled = 1\n", "c.toml:2:12: rules.user_created.severity: must be one of informational, low, medium, high, critical, not the integer 1 | c.toml:3:11: rules.user_created.enabled: must be true or false, not the integer 1 | c.toml:5:11: rules.account_locked.enabled: must be true or false, not the integer 1"),
    ("[rules.\"password_spray_from_ip\"]\nthreshold = 5000\n", "c.toml:2:13: rules.password_spray_from_ip.threshold: 5000 is above the limit 1000"),
    ("[rules.\"a.b\"]\n", "c.toml:1:8: unknown rule `a.b` in [rules] (see `jcdetect rules` for the ids)"),
    ("[[rules]]\nx = 1\n", "c.toml:1:1: rules: must be a table of rule tables, not an array"),
    ("\r\n[rules.password_spray_from_ip]\r\n  threshold   =   5000\r\n", "c.toml:3:19: rules.password_spray_from_ip.threshold: 5000 is above the limit 1000"),
];

#[test]
fn every_problem_has_its_place_and_the_limit_enforced() {
    let mut wrong = Vec::new();
    for (text, want) in BAD {
        let got = match Config::from_toml_str(text) {
            Ok(_) => "accepted".to_string(),
            Err(e) => e.in_file("c.toml").messages().join(" | "),
        };
        if got != *want {
            wrong.push(format!("{text:?}\n  want {want}\n  got  {got}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn display_names_the_file_on_every_problem_line() {
    let text = "[rules.user_created]\nenabled = 1\n[rules.nope]\n";
    let e = Config::from_toml_str(text).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid configuration (2 problems):\n  \
         - 2:11: rules.user_created.enabled: must be true or false, not the integer 1\n  \
         - 3:8: unknown rule `nope` in [rules] (see `jcdetect rules` for the ids)"
    );
    assert_eq!(
        e.in_file("/etc/jcdetect.toml").to_string(),
        "invalid configuration (2 problems):\n\
         /etc/jcdetect.toml:2:11: rules.user_created.enabled: must be true or false, not the integer 1\n\
         /etc/jcdetect.toml:3:8: unknown rule `nope` in [rules] (see `jcdetect rules` for the ids)"
    );
    assert_eq!(
        ConfigError::new(["no place"]).in_file("f.toml").to_string(),
        "invalid configuration (1 problem):\nf.toml: no place"
    );
    let p = &Config::from_toml_str(text).unwrap_err().problems[0];
    assert_eq!(p.pos, Some(Pos { line: 2, col: 11 }));
    assert_eq!(p.key, "rules.user_created.enabled");
}

#[test]
fn a_value_tree_has_no_places_and_keeps_the_messages() {
    let text = "[state]\nmemory_mb = 0\n[rules.nope]\n";
    let tree = toml::Value::Table(text.parse().unwrap());
    let e = Config::from_value(&tree).unwrap_err();
    assert!(e.problems.iter().all(|p| p.pos.is_none()), "{e}");
    let placed = Config::from_toml_str(text).unwrap_err();
    let mut a: Vec<&str> = e.problems.iter().map(|p| p.message.as_str()).collect();
    let mut b: Vec<&str> = placed.problems.iter().map(|p| p.message.as_str()).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

#[test]
fn places_count_characters_from_one() {
    assert_eq!(Pos::of("", 0), Pos { line: 1, col: 1 });
    assert_eq!(Pos::of("ab\ncd", 4), Pos { line: 2, col: 2 });
    assert_eq!(Pos::of("ab\n", 3), Pos { line: 2, col: 1 });
    assert_eq!(Pos::of("é = 1", 2), Pos { line: 1, col: 2 });
    // Inside a character, or past the end: clamped.
    assert_eq!(Pos::of("é", 1), Pos { line: 1, col: 1 });
    assert_eq!(Pos::of("ab", 99), Pos { line: 1, col: 3 });
}

#[test]
fn caps_on_state_and_thresholds() {
    for bad in [
        "[state]\nmemory_mb = 65536\n",
        "[state]\nmemory_mb = 0\n",
        "[rules.password_spray_from_ip]\nthreshold = 1001\n",
        "[rules.password_spray_from_ip]\nwindow_secs = 0\n",
    ] {
        assert!(Config::from_toml_str(bad).is_err(), "{bad}");
    }
    let ok = "[state]\nmemory_mb = 4096\n[rules.password_spray_from_ip]\nthreshold = 1000\nsuppress_secs = 0\n";
    assert!(Config::from_toml_str(ok).is_ok());
}

#[test]
fn a_budget_too_small_for_the_thresholds_is_refused() {
    let big = |mb: u64| {
        let mut t = format!("[state]\nmemory_mb = {mb}\n");
        for r in [
            "password_spray_from_ip",
            "brute_force_attempts",
            "sso_failure_burst",
        ] {
            t.push_str(&format!("[rules.{r}]\nthreshold = 1000\n"));
        }
        t
    };
    let e = Config::from_toml_str(&big(1)).unwrap_err();
    assert_eq!(e.problems.len(), 1, "{e}");
    assert!(
        e.problems[0]
            .message
            .starts_with("`state.memory_mb` = 1 is too small"),
        "{e}"
    );
    // Placed at the budget that is too small.
    assert_eq!(e.problems[0].pos, Some(Pos { line: 2, col: 13 }), "{e}");
    let least: u64 = e.problems[0]
        .message
        .split("use at least ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .expect("the smallest budget that fits");
    let cfg = Config::from_toml_str(&big(least)).unwrap();
    let rules = crate::rules::Rules::compile(&cfg);
    let w = crate::windows::Windows::new(&rules, &cfg.sigma, &cfg);
    assert!(w.stats().bytes as u64 <= least << 20);
    assert!(Config::from_toml_str(&big(least - 1)).is_err());
    // Default thresholds fit in the smallest budget.
    assert!(Config::from_toml_str("[state]\nmemory_mb = 1\n").is_ok());
}

#[test]
fn cidr_matching() {
    let c = Cidr::parse("10.0.0.0/8").unwrap();
    assert!(c.contains("10.200.1.1".parse().unwrap()));
    assert!(!c.contains("11.0.0.1".parse().unwrap()));
    assert!(c.contains("::ffff:10.1.2.3".parse().unwrap()));
    let h = Cidr::parse("203.0.113.7").unwrap();
    assert!(h.contains("203.0.113.7".parse().unwrap()));
    assert!(!h.contains("203.0.113.8".parse().unwrap()));
    let v6 = Cidr::parse("2001:db8::/32").unwrap();
    assert!(v6.contains("2001:db8:1::1".parse().unwrap()));
    assert!(Cidr::parse("0.0.0.0/0")
        .unwrap()
        .contains("8.8.8.8".parse().unwrap()));
    for bad in ["10.0.0.0/33", "nope", "10.0.0/8", "::/129", ""] {
        assert!(Cidr::parse(bad).is_none(), "{bad}");
    }
}
