//! Configuration: parsed from TOML (or an already-parsed value tree), validated in one pass
//! that reports every problem at once.
//!
//! ```toml
//! [rules.embargoed_location]
//! countries = ["CU", "IR", "KP", "SY", "RU"]
//! severity = "critical"
//!
//! [rules.user_updated]
//! enabled = false
//!
//! [allowlist]
//! ips = ["10.0.0.0/8", "203.0.113.7"]
//! users = ["svc-scim@example.com"]
//! countries = ["FR"]
//! ```

use crate::rules::catalog::{self, ParamDefault, Severity};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// Upper bound for integer parameters (a century in seconds): keeps time arithmetic safe.
pub const MAX_INT_PARAM: i64 = 100 * 365 * 86_400;

/// Largest accepted `threshold` (slots per key grow with it).
pub const MAX_THRESHOLD: i64 = 1000;

pub use crate::rules::{Overrides, ParamValue, RuleOverride};

/// An IP network in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `a.b.c.d/n`, `x::y/n`, or a bare address (a single host).
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().ok().filter(|&n| n <= max)?,
            None => max,
        };
        Some(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        fn mask_eq(a: u128, b: u128, prefix: u8, bits: u8) -> bool {
            if prefix == 0 {
                return true;
            }
            let shift = bits - prefix;
            (a >> shift) == (b >> shift)
        }
        // An IPv4-mapped IPv6 address matches IPv4 networks.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                mask_eq(u32::from(n).into(), u32::from(i).into(), self.prefix, 32)
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => mask_eq(n.into(), i.into(), self.prefix, 128),
            _ => false,
        }
    }
}

/// Actors, sources and countries whose alerts are silenced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Allowlist {
    pub ips: Vec<Cidr>,
    /// Lower-cased.
    pub users: Vec<String>,
    /// Upper-cased.
    pub countries: Vec<String>,
}

impl Allowlist {
    pub fn is_empty(&self) -> bool {
        self.ips.is_empty() && self.users.is_empty() && self.countries.is_empty()
    }
}

pub use crate::windows::StateConfig;

/// A validated configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub rules: BTreeMap<String, RuleOverride>,
    pub allowlist: Allowlist,
    pub state: StateConfig,
}

/// Every problem found in a config, one sentence each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration ({} problem", self.problems.len())?;
        if self.problems.len() != 1 {
            f.write_str("s")?;
        }
        f.write_str("):")?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Parse and validate TOML text.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
            problems: vec![format!("TOML syntax: {}", e.message().trim())],
        })?;
        Config::from_value(&toml::Value::Table(table))
    }

    /// Validate an already-parsed value tree (also used for JSON configs, converted).
    pub fn from_value(root: &toml::Value) -> Result<Config, ConfigError> {
        let mut p = Vec::new();
        let mut cfg = Config::default();
        let Some(root) = root.as_table() else {
            return Err(ConfigError {
                problems: vec!["the config must be a table".into()],
            });
        };
        for (key, value) in root {
            match key.as_str() {
                "rules" => parse_rules(value, &mut cfg, &mut p),
                "allowlist" => parse_allowlist(value, &mut cfg.allowlist, &mut p),
                "state" => parse_state(value, &mut cfg.state, &mut p),
                // The Fluent Bit filter's own settings (checked by the filter, wasm/), so one
                // jcdetect.toml serves the filter and the CLI in a deployment.
                "fluentbit" if value.is_table() => {}
                other => p.push(format!(
                    "unknown top-level key `{other}` (expected `rules`, `allowlist`, `state` \
                     or the `fluentbit` table)"
                )),
            }
        }
        if p.is_empty() {
            state_fits(&cfg, &mut p);
        }
        if p.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigError { problems: p })
        }
    }

    /// The override for a rule, if any.
    pub fn rule(&self, id: &str) -> Option<&RuleOverride> {
        self.rules.get(id)
    }
}

impl Overrides for Config {
    fn rule(&self, id: &str) -> Option<&RuleOverride> {
        self.rules.get(id)
    }
}

impl AsRef<StateConfig> for Config {
    fn as_ref(&self) -> &StateConfig {
        &self.state
    }
}

fn type_name(v: &toml::Value) -> &'static str {
    v.type_str()
}

fn parse_rules(value: &toml::Value, cfg: &mut Config, p: &mut Vec<String>) {
    let Some(t) = value.as_table() else {
        p.push(format!(
            "`rules` must be a table of rule tables, not a {}",
            type_name(value)
        ));
        return;
    };
    for (id, body) in t {
        let Some(def) = catalog::find(id) else {
            p.push(format!(
                "unknown rule `{id}` in [rules] (see `jcdetect rules` for the ids)"
            ));
            continue;
        };
        let Some(body) = body.as_table() else {
            p.push(format!(
                "[rules.{id}] must be a table, not a {}",
                type_name(body)
            ));
            continue;
        };
        let mut o = RuleOverride::default();
        for (k, v) in body {
            let at = format!("rules.{id}.{k}");
            match k.as_str() {
                "enabled" => match v.as_bool() {
                    Some(b) => o.enabled = Some(b),
                    None => p.push(format!(
                        "`{at}` must be true or false, not a {}",
                        type_name(v)
                    )),
                },
                "severity" => match v.as_str().and_then(Severity::parse) {
                    Some(s) => o.severity = Some(s),
                    None => p.push(format!(
                        "`{at}` must be one of informational, low, medium, high, critical (got {v})"
                    )),
                },
                _ => {
                    let Some(pd) = def.params.iter().find(|pd| pd.name == k) else {
                        let mut known: Vec<&str> = vec!["enabled", "severity"];
                        known.extend(def.params.iter().map(|pd| pd.name));
                        p.push(format!(
                            "unknown key `{at}` (rule `{id}` takes: {})",
                            known.join(", ")
                        ));
                        continue;
                    };
                    if let Some(val) = parse_param(&at, pd.name, pd.default, v, p) {
                        o.params.insert(k.clone(), val);
                    }
                }
            }
        }
        cfg.rules.insert(id.clone(), o);
    }
}

fn parse_param(
    at: &str,
    name: &str,
    default: ParamDefault,
    v: &toml::Value,
    p: &mut Vec<String>,
) -> Option<ParamValue> {
    match default {
        ParamDefault::StrList(_) => {
            let list = string_list(at, v, p)?;
            if name == "countries" {
                Some(ParamValue::StrList(countries(at, list, p)))
            } else {
                let mut out = Vec::new();
                for s in list {
                    let n = catalog::normalize_field(&s);
                    if n.is_empty() {
                        p.push(format!("`{at}`: pattern `{s}` is empty once normalized"));
                    } else {
                        out.push(n);
                    }
                }
                Some(ParamValue::StrList(out))
            }
        }
        ParamDefault::Int(_) => {
            // Zero switches suppression off; everywhere else it would make no sense.
            let min = if name == "suppress_secs" { 0 } else { 1 };
            // Each unit of threshold is a remembered slot per key: keep it bounded.
            let max = if name == "threshold" {
                MAX_THRESHOLD
            } else {
                MAX_INT_PARAM
            };
            match v.as_integer() {
                Some(n) if n >= min && n <= max => Some(ParamValue::Int(n as u64)),
                _ => {
                    let what = if min == 0 {
                        "a non-negative"
                    } else {
                        "a positive"
                    };
                    p.push(format!(
                        "`{at}` must be {what} integer up to {MAX_INT_PARAM} (got {v})"
                    ));
                    None
                }
            }
        }
        ParamDefault::Float(_) => match v.as_float().or_else(|| v.as_integer().map(|i| i as f64)) {
            Some(f) if f.is_finite() && f >= 0.0 => Some(ParamValue::Float(f)),
            _ => {
                p.push(format!("`{at}` must be a non-negative number (got {v})"));
                None
            }
        },
    }
}

fn string_list(at: &str, v: &toml::Value, p: &mut Vec<String>) -> Option<Vec<String>> {
    let Some(arr) = v.as_array() else {
        p.push(format!(
            "`{at}` must be an array of strings, not a {}",
            type_name(v)
        ));
        return None;
    };
    let mut out = Vec::with_capacity(arr.len());
    for (i, item) in arr.iter().enumerate() {
        match item.as_str() {
            Some(s) => out.push(s.to_string()),
            None => p.push(format!(
                "`{at}[{i}]` must be a string, not a {}",
                type_name(item)
            )),
        }
    }
    Some(out)
}

fn country(s: &str) -> Option<String> {
    let s = s.trim();
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic())).then(|| s.to_ascii_uppercase())
}

/// Upper-cased valid country codes; each invalid one is a problem.
fn countries(at: &str, list: Vec<String>, p: &mut Vec<String>) -> Vec<String> {
    let mut ok = Vec::with_capacity(list.len());
    for c in list {
        match country(&c) {
            Some(c) => ok.push(c),
            None => p.push(format!(
                "`{at}`: `{c}` is not a two-letter ISO 3166 country code"
            )),
        }
    }
    ok
}

fn parse_state(value: &toml::Value, st: &mut StateConfig, p: &mut Vec<String>) {
    let Some(t) = value.as_table() else {
        p.push(format!(
            "`state` must be a table, not a {}",
            type_name(value)
        ));
        return;
    };
    for (k, v) in t {
        match k.as_str() {
            "memory_mb" => match v.as_integer() {
                Some(n) if (1..=4096).contains(&n) => st.memory_mb = n as u64,
                _ => p.push(format!(
                    "`state.memory_mb` must be an integer from 1 to 4096 (got {v})"
                )),
            },
            "allowed_lateness_secs" => match v.as_integer() {
                Some(n) if (0..=86_400).contains(&n) => st.allowed_lateness_secs = n as u64,
                _ => p.push(format!(
                    "`state.allowed_lateness_secs` must be an integer from 0 to 86400 (got {v})"
                )),
            },
            "max_jump_secs" => match v.as_integer() {
                Some(n) if (1..=31_536_000).contains(&n) => st.max_jump_secs = n as u64,
                _ => p.push(format!(
                    "`state.max_jump_secs` must be an integer from 1 to 31536000 (got {v})"
                )),
            },
            "max_future_secs" => match v.as_integer() {
                Some(n) if (60..=31_536_000).contains(&n) => st.max_future_secs = n as u64,
                _ => p.push(format!(
                    "`state.max_future_secs` must be an integer from 60 to 31536000 (got {v})"
                )),
            },
            other => p.push(format!(
                "unknown key `state.{other}` (expected memory_mb, allowed_lateness_secs, max_jump_secs, max_future_secs)"
            )),
        }
    }
}

/// Each window table holds at least one bucket of 8 keys, each key `threshold`-many slots,
/// so large thresholds in a tiny `memory_mb` would take more than the budget (found by the
/// config fuzz target: memory_mb = 1 with thresholds of 1000 built 2.1 MB of tables). The
/// budget is documented as the ceiling: refuse such a config, naming the smallest budget
/// that fits.
fn state_fits(cfg: &Config, p: &mut Vec<String>) {
    let rules = crate::rules::Rules::compile(cfg);
    let fits = |mb: u64| {
        crate::windows::planned_bytes(&rules, cfg.state.allowed_lateness_secs, mb) as u64
            <= mb << 20
    };
    let mb = cfg.state.memory_mb;
    if fits(mb) {
        return;
    }
    let need = crate::windows::planned_bytes(&rules, cfg.state.allowed_lateness_secs, mb);
    let least = match (mb..=4096).find(|&m| fits(m)) {
        Some(m) => format!("at least {m}"),
        None => "more".into(),
    };
    p.push(format!(
        "`state.memory_mb` = {mb} is too small for the thresholds of the enabled stateful rules \
         (their tables need {need} bytes, one bucket of 8 keys each at least): use {least}, \
         or lower the thresholds"
    ));
}

fn parse_allowlist(value: &toml::Value, a: &mut Allowlist, p: &mut Vec<String>) {
    let Some(t) = value.as_table() else {
        p.push(format!(
            "`allowlist` must be a table, not a {}",
            type_name(value)
        ));
        return;
    };
    for (k, v) in t {
        let at = format!("allowlist.{k}");
        match k.as_str() {
            "ips" => {
                for s in string_list(&at, v, p).unwrap_or_default() {
                    match Cidr::parse(&s) {
                        Some(c) => a.ips.push(c),
                        None => p.push(format!("`{at}`: `{s}` is not an IP address or CIDR")),
                    }
                }
            }
            "users" => {
                for s in string_list(&at, v, p).unwrap_or_default() {
                    let s = s.trim().to_lowercase();
                    if s.is_empty() {
                        p.push(format!("`{at}`: empty user name"));
                    } else {
                        a.users.push(s);
                    }
                }
            }
            "countries" => {
                let list = string_list(&at, v, p).unwrap_or_default();
                a.countries.extend(countries(&at, list, p));
            }
            other => p.push(format!(
                "unknown key `allowlist.{other}` (expected ips, users, countries)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            e.problems[0].contains("`state.memory_mb` = 1 is too small"),
            "{e}"
        );
        let least: u64 = e.problems[0]
            .split("use at least ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(|n| n.parse().ok())
            .expect("the smallest budget that fits");
        let cfg = Config::from_toml_str(&big(least)).unwrap();
        let rules = crate::rules::Rules::compile(&cfg);
        let w = crate::windows::Windows::new(&rules, &cfg);
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
}
