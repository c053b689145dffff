//! Configuration: parsed from TOML (or an already-parsed value tree), validated in one pass
//! that reports every problem at once, in file order, each with the line and column of the
//! key or value at fault (`FILE:LINE:COL: message` once [`ConfigError::in_file`] names the
//! file).
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
    /// `[rules] builtin`: run the built-in catalog (default true).
    pub builtin: Option<bool>,
    /// `[rules] paths`: Sigma rule files and directories, as written (the CLI reads them,
    /// relative to the config file, and hands their texts to [`Config::with_sigma`]).
    pub rule_paths: Vec<String>,
    /// `[rules] sigma`: Sigma rule files' texts given inline (the WASM modules and the JS
    /// `Detector` take their rules this way).
    pub sigma_texts: Vec<String>,
    /// The users' Sigma rules, compiled.
    pub sigma: std::sync::Arc<crate::sigma::set::RuleSet>,
}

/// A place in the config text: 1-based line and column (the column counts characters, so a
/// multi-byte character is one column, as editors count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    /// The place of byte `offset` of `text` (clamped to the text, rounded down to a
    /// character boundary).
    pub fn of(text: &str, offset: usize) -> Pos {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Pos {
            line: before.bytes().filter(|&b| b == b'\n').count() + 1,
            col: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// One problem with a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where it is in the text: the offending value, or the key itself for an unknown key;
    /// the first byte the parser could not take for a syntax error. `None` when the config
    /// was given as a value tree ([`Config::from_value`]), and for a problem of the config as
    /// a whole that no key of the text holds (a default `memory_mb` too small).
    pub pos: Option<Pos>,
    /// The key at fault, dotted, with array elements indexed
    /// (`rules.password_spray_from_ip.threshold`, `allowlist.ips[1]`); empty for a syntax
    /// error and for the config as a whole.
    pub key: String,
    /// One sentence, naming the key.
    pub message: String,
}

impl Problem {
    /// A problem without a place or key (a host's own checks of its settings).
    pub fn new(message: impl Into<String>) -> Problem {
        Problem {
            pos: None,
            key: String::new(),
            message: message.into(),
        }
    }
}

/// `LINE:COL: message`, or the message alone when it has no place.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.pos {
            write!(f, "{p}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in a config, in file order (problems without a place last, in the
/// order they were found).
///
/// `Display` writes a header line, then one line per problem; after [`ConfigError::in_file`]
/// each problem line is `FILE:LINE:COL: message`, as compilers write them (editors jump to
/// it):
///
/// ```text
/// invalid configuration (1 problem):
/// jcdetect.toml:5:13: rules.password_spray_from_ip.threshold: 5000 is above the limit 1000
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
    /// The name of the file the text came from, written before each problem's place.
    pub file: Option<String>,
}

impl ConfigError {
    /// An error of problems without places (a host's own checks of its settings).
    pub fn new<S: Into<String>>(messages: impl IntoIterator<Item = S>) -> ConfigError {
        ConfigError {
            problems: messages.into_iter().map(Problem::new).collect(),
            file: None,
        }
    }

    /// Name the file the config came from: each problem is then written `FILE:LINE:COL: …`.
    pub fn in_file(mut self, name: impl fmt::Display) -> ConfigError {
        self.file = Some(name.to_string());
        self
    }

    /// Each problem as one line: `FILE:LINE:COL: message`, each part when known.
    pub fn messages(&self) -> Vec<String> {
        self.problems
            .iter()
            .map(|p| match (&self.file, p.pos) {
                (Some(file), Some(_)) => format!("{file}:{p}"),
                (Some(file), None) => format!("{file}: {p}"),
                (None, _) => p.to_string(),
            })
            .collect()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration ({} problem", self.problems.len())?;
        if self.problems.len() != 1 {
            f.write_str("s")?;
        }
        f.write_str("):")?;
        let bullet = if self.file.is_some() { "\n" } else { "\n  - " };
        for m in self.messages() {
            write!(f, "{bullet}{m}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Parse and validate TOML text. Every problem is placed in the text (line and column).
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let message = e.message().trim().replace('\n', "; ");
            ConfigError {
                problems: vec![Problem {
                    pos: e.span().map(|s| Pos::of(text, s.start)),
                    key: String::new(),
                    message: format!("TOML syntax: {message}"),
                }],
                file: None,
            }
        })?;
        // The same parser again, keeping where each key and value is (toml::Table drops it).
        let doc = toml_edit::ImDocument::parse(text).ok();
        validate(&toml::Value::Table(table), doc.as_ref())
    }

    /// Validate an already-parsed value tree (also used for JSON configs, converted). The
    /// problems have no places.
    pub fn from_value(root: &toml::Value) -> Result<Config, ConfigError> {
        validate(root, None)
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
    fn builtin(&self) -> bool {
        self.builtin != Some(false)
    }
}

impl AsRef<StateConfig> for Config {
    fn as_ref(&self) -> &StateConfig {
        &self.state
    }
}

fn validate(
    root: &toml::Value,
    doc: Option<&toml_edit::ImDocument<&str>>,
) -> Result<Config, ConfigError> {
    let mut r = Report {
        problems: Vec::new(),
        doc,
    };
    let mut cfg = Config::default();
    let Some(root) = root.as_table() else {
        return Err(ConfigError::new(["the config must be a table"]));
    };
    for (key, value) in root {
        match key.as_str() {
            "rules" => parse_rules(value, &mut cfg, &mut r),
            "allowlist" => parse_allowlist(value, &mut cfg.allowlist, &mut r),
            "state" => parse_state(value, &mut cfg.state, &mut r),
            // The Fluent Bit filter's own settings (checked by the filter, wasm/), so one
            // jcdetect.toml serves the filter and the CLI in a deployment.
            "fluentbit" if value.is_table() => {}
            "fluentbit" => r.value(
                &[Seg::Key("fluentbit")],
                format_args!("must be a table, not {}", what(value)),
            ),
            other => r.key(
                &[Seg::Key(other)],
                format!(
                    "unknown top-level key `{other}` (expected `rules`, `allowlist`, `state` \
                     or the `fluentbit` table)"
                ),
            ),
        }
    }
    if r.problems.is_empty() && !cfg.sigma_texts.is_empty() {
        match sigma::compile(&sigma::inline_sources(&cfg.sigma_texts)) {
            Ok(set) => cfg.sigma = std::sync::Arc::new(set),
            Err(ps) => {
                for p in ps {
                    r.push(&[RULES, Seg::Key("sigma")], Part::Value, p.to_string());
                }
            }
        }
    }
    if r.problems.is_empty() {
        let mut p = Vec::new();
        state_fits(&cfg, &mut p);
        for m in p {
            r.push(&[STATE, Seg::Key("memory_mb")], Part::Value, m);
        }
    }
    if r.problems.is_empty() {
        return Ok(cfg);
    }
    // File order; the tables above are walked in key order.
    r.problems
        .sort_by_key(|p| p.pos.map_or((usize::MAX, 0), |p| (p.line, p.col)));
    Err(ConfigError {
        problems: r.problems,
        file: None,
    })
}

/// One step of a key path: a key in a table, or an element of an array.
#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

const RULES: Seg<'static> = Seg::Key("rules");
const STATE: Seg<'static> = Seg::Key("state");
const ALLOWLIST: Seg<'static> = Seg::Key("allowlist");

/// `rules.spray.threshold`, `allowlist.ips[1]`.
fn dotted(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if s.is_empty() => s.push_str(k),
            Seg::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// `path` and then element `i`.
fn elem<'a>(path: &[Seg<'a>], i: usize) -> Vec<Seg<'a>> {
    let mut p = path.to_vec();
    p.push(Seg::Index(i));
    p
}

/// Which part of a `key = value` a problem points at.
#[derive(Clone, Copy)]
enum Part {
    Key,
    Value,
}

/// The problems found so far, each placed in the text when there is one.
struct Report<'a> {
    problems: Vec<Problem>,
    doc: Option<&'a toml_edit::ImDocument<&'a str>>,
}

impl Report<'_> {
    /// The value at `path` is wrong: `KEY: detail`, placed at the value.
    fn value(&mut self, path: &[Seg], detail: fmt::Arguments<'_>) {
        let message = format!("{}: {detail}", dotted(path));
        self.push(path, Part::Value, message);
    }

    /// The key at `path` is wrong itself (unknown): `message` names it; placed at the key.
    fn key(&mut self, path: &[Seg], message: String) {
        self.push(path, Part::Key, message);
    }

    fn push(&mut self, path: &[Seg], part: Part, message: String) {
        let pos = self.doc.and_then(|doc| {
            let span = locate(doc.as_table(), path, part)?;
            Some(Pos::of(doc.raw(), span.start))
        });
        self.problems.push(Problem {
            pos,
            key: dotted(path),
            message,
        });
    }
}

/// The span of the key or value at `path` in a parsed document: the value's when asked for
/// and known, else the key's (an implicit table such as `rules` in `[rules.x]` has no span
/// of its own; an array element has no key).
fn locate(root: &toml_edit::Table, path: &[Seg], part: Part) -> Option<std::ops::Range<usize>> {
    enum Node<'d> {
        Item(&'d toml_edit::Item),
        Value(&'d toml_edit::Value),
    }
    let root: &dyn toml_edit::TableLike = root;
    let (mut key, mut val, mut node) = (None, None, None::<Node>);
    for seg in path {
        match *seg {
            Seg::Key(k) => {
                let table = match node {
                    None => root,
                    Some(Node::Item(i)) => i.as_table_like()?,
                    Some(Node::Value(v)) => v.as_inline_table()?,
                };
                let (k, item) = table.get_key_value(k)?;
                (key, val, node) = (k.span(), item.span(), Some(Node::Item(item)));
            }
            Seg::Index(i) => {
                let array = match node? {
                    Node::Item(item) => item.as_array()?,
                    Node::Value(v) => v.as_array()?,
                };
                let v = array.get(i)?;
                (key, val, node) = (None, v.span(), Some(Node::Value(v)));
            }
        }
    }
    match part {
        Part::Key => key.or(val),
        Part::Value => val.or(key),
    }
}

/// `the string "ten"`, `the integer 0`, `an array`: what a value is, for messages (a whole
/// table or array is not written out).
fn what(v: &toml::Value) -> String {
    match v {
        toml::Value::Array(_) => "an array".into(),
        toml::Value::Table(_) => "a table".into(),
        v => format!("the {} {v}", v.type_str()),
    }
}

/// An integer from `min` to `max`; anything else is a problem naming the limit it broke.
fn int_in(path: &[Seg], v: &toml::Value, min: i64, max: i64, r: &mut Report) -> Option<i64> {
    match v.as_integer() {
        Some(n) if n < min => r.value(path, format_args!("{n} is below the minimum {min}")),
        Some(n) if n > max => r.value(path, format_args!("{n} is above the limit {max}")),
        Some(n) => return Some(n),
        None => r.value(
            path,
            format_args!("must be an integer from {min} to {max}, not {}", what(v)),
        ),
    }
    None
}

fn parse_rules(value: &toml::Value, cfg: &mut Config, r: &mut Report) {
    let Some(t) = value.as_table() else {
        r.value(
            &[RULES],
            format_args!("must be a table of rule tables, not {}", what(value)),
        );
        return;
    };
    for (id, body) in t {
        let rule = [RULES, Seg::Key(id)];
        match id.as_str() {
            "builtin" => {
                match body.as_bool() {
                    Some(b) => cfg.builtin = Some(b),
                    None => r.value(
                        &rule,
                        format_args!("must be true or false, not {}", what(body)),
                    ),
                }
                continue;
            }
            "sigma" => {
                cfg.sigma_texts = string_list(&rule, body, r)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(_, t)| t)
                    .collect();
                continue;
            }
            "paths" => {
                cfg.rule_paths = string_list(&rule, body, r)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(_, p)| p)
                    .collect();
                continue;
            }
            _ => {}
        }
        let Some(def) = catalog::find(id) else {
            r.key(
                &rule,
                format!("unknown rule `{id}` in [rules] (see `jcdetect rules` for the ids)"),
            );
            continue;
        };
        let Some(body) = body.as_table() else {
            r.value(&rule, format_args!("must be a table, not {}", what(body)));
            continue;
        };
        let mut o = RuleOverride::default();
        for (k, v) in body {
            let path = [RULES, Seg::Key(id), Seg::Key(k)];
            match k.as_str() {
                "enabled" => match v.as_bool() {
                    Some(b) => o.enabled = Some(b),
                    None => r.value(
                        &path,
                        format_args!("must be true or false, not {}", what(v)),
                    ),
                },
                "severity" => match v.as_str().and_then(Severity::parse) {
                    Some(s) => o.severity = Some(s),
                    None => r.value(
                        &path,
                        format_args!(
                            "must be one of informational, low, medium, high, critical, not {}",
                            what(v)
                        ),
                    ),
                },
                _ => {
                    let Some(pd) = def.params.iter().find(|pd| pd.name == k) else {
                        let mut known: Vec<&str> = vec!["enabled", "severity"];
                        known.extend(def.params.iter().map(|pd| pd.name));
                        r.key(
                            &path,
                            format!(
                                "unknown key `{}` (rule `{id}` takes: {})",
                                dotted(&path),
                                known.join(", ")
                            ),
                        );
                        continue;
                    };
                    if let Some(val) = parse_param(&path, pd.name, pd.default, v, r) {
                        o.params.insert(k.clone(), val);
                    }
                }
            }
        }
        cfg.rules.insert(id.clone(), o);
    }
}

fn parse_param(
    path: &[Seg],
    name: &str,
    default: ParamDefault,
    v: &toml::Value,
    r: &mut Report,
) -> Option<ParamValue> {
    match default {
        ParamDefault::StrList(_) => {
            let list = string_list(path, v, r)?;
            if name == "countries" {
                Some(ParamValue::StrList(countries(path, list, r)))
            } else {
                let mut out = Vec::new();
                for (i, s) in list {
                    let n = catalog::normalize_field(&s);
                    if n.is_empty() {
                        r.value(
                            &elem(path, i),
                            format_args!("pattern `{s}` is empty once normalized"),
                        );
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
            int_in(path, v, min, max, r).map(|n| ParamValue::Int(n as u64))
        }
        ParamDefault::Float(_) => match v.as_float().or_else(|| v.as_integer().map(|i| i as f64)) {
            Some(f) if f.is_finite() && f >= 0.0 => Some(ParamValue::Float(f)),
            _ => {
                r.value(
                    path,
                    format_args!("must be a non-negative number, not {}", what(v)),
                );
                None
            }
        },
    }
}

/// The strings of an array, each with its index; each element that is not a string is a
/// problem.
fn string_list(path: &[Seg], v: &toml::Value, r: &mut Report) -> Option<Vec<(usize, String)>> {
    let Some(arr) = v.as_array() else {
        r.value(
            path,
            format_args!("must be an array of strings, not {}", what(v)),
        );
        return None;
    };
    let mut out = Vec::with_capacity(arr.len());
    for (i, item) in arr.iter().enumerate() {
        match item.as_str() {
            Some(s) => out.push((i, s.to_string())),
            None => r.value(
                &elem(path, i),
                format_args!("must be a string, not {}", what(item)),
            ),
        }
    }
    Some(out)
}

fn country(s: &str) -> Option<String> {
    let s = s.trim();
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic())).then(|| s.to_ascii_uppercase())
}

/// Upper-cased valid country codes; each invalid one is a problem.
fn countries(path: &[Seg], list: Vec<(usize, String)>, r: &mut Report) -> Vec<String> {
    let mut ok = Vec::with_capacity(list.len());
    for (i, c) in list {
        match country(&c) {
            Some(c) => ok.push(c),
            None => r.value(
                &elem(path, i),
                format_args!("`{c}` is not a two-letter ISO 3166 country code"),
            ),
        }
    }
    ok
}

fn parse_state(value: &toml::Value, st: &mut StateConfig, r: &mut Report) {
    let Some(t) = value.as_table() else {
        r.value(
            &[STATE],
            format_args!("must be a table, not {}", what(value)),
        );
        return;
    };
    for (k, v) in t {
        let path = [STATE, Seg::Key(k)];
        let (field, min, max) = match k.as_str() {
            "memory_mb" => (&mut st.memory_mb, 1, 4096),
            "allowed_lateness_secs" => (&mut st.allowed_lateness_secs, 0, 86_400),
            "max_jump_secs" => (&mut st.max_jump_secs, 1, 31_536_000),
            "max_future_secs" => (&mut st.max_future_secs, 60, 31_536_000),
            other => {
                r.key(
                    &path,
                    format!(
                        "unknown key `state.{other}` (expected memory_mb, allowed_lateness_secs, \
                         max_jump_secs, max_future_secs)"
                    ),
                );
                continue;
            }
        };
        if let Some(n) = int_in(&path, v, min, max, r) {
            *field = n as u64;
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
        crate::windows::planned_bytes(&rules, &cfg.sigma, cfg.state.allowed_lateness_secs, mb)
            as u64
            <= mb << 20
    };
    let mb = cfg.state.memory_mb;
    if fits(mb) {
        return;
    }
    let need =
        crate::windows::planned_bytes(&rules, &cfg.sigma, cfg.state.allowed_lateness_secs, mb);
    let least = match (mb..=4096).find(|&m| fits(m)) {
        Some(m) => format!("at least {m}"),
        None => "more".into(),
    };
    p.push(format!(
        "`state.memory_mb` = {mb} is too small for the thresholds of the enabled stateful rules \
         and the {} Sigma correlations (their tables need {need} bytes, one bucket of 8 keys each at least): use {least}, \
         or lower the thresholds",
        cfg.sigma.correlations.len()
    ));
}

fn parse_allowlist(value: &toml::Value, a: &mut Allowlist, r: &mut Report) {
    let Some(t) = value.as_table() else {
        r.value(
            &[ALLOWLIST],
            format_args!("must be a table, not {}", what(value)),
        );
        return;
    };
    for (k, v) in t {
        let path = [ALLOWLIST, Seg::Key(k)];
        match k.as_str() {
            "ips" => {
                for (i, s) in string_list(&path, v, r).unwrap_or_default() {
                    match Cidr::parse(&s) {
                        Some(c) => a.ips.push(c),
                        None => r.value(
                            &elem(&path, i),
                            format_args!("`{s}` is not an IP address or CIDR"),
                        ),
                    }
                }
            }
            "users" => {
                for (i, s) in string_list(&path, v, r).unwrap_or_default() {
                    let s = s.trim().to_lowercase();
                    if s.is_empty() {
                        r.value(&elem(&path, i), format_args!("empty user name"));
                    } else {
                        a.users.push(s);
                    }
                }
            }
            "countries" => {
                let list = string_list(&path, v, r).unwrap_or_default();
                a.countries.extend(countries(&path, list, r));
            }
            other => r.key(
                &path,
                format!("unknown key `allowlist.{other}` (expected ips, users, countries)"),
            ),
        }
    }
}

// Users' Sigma rules in a config.
mod sigma;

#[cfg(test)]
mod tests;
