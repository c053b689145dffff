//! Sigma rule files compiled into one rule set: references between files resolved, each
//! rule's and correlation's alert metadata (id, ATT&CK from its tags, severity from its
//! level), the event-type index that picks the candidate rules of an event, and the paths
//! the extractor keeps. Every problem of every file is reported at once, as `file:line:col`.

use super::correlation::{Correlation, Kind};
use super::extract::Paths;
use super::{Pos, Rule};
use crate::rules::catalog::Severity;
use std::collections::HashMap;
use std::fmt;

/// One rule file's text and where it came from (a path, or `<config>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub origin: String,
    pub text: String,
}

/// A problem in a rule file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileProblem {
    pub origin: String,
    pub pos: Pos,
    pub msg: String,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.origin, self.pos.line, self.pos.col, self.msg
        )
    }
}

/// What an alert says about the rule that raised it.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// ECS `rule.id`: the rule's `name`, else its `id`.
    pub id: String,
    /// The Sigma `id` (a UUID), if any.
    pub uuid: Option<String>,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    /// ATT&CK from the `attack.*` tags: the first tactic, technique and sub-technique.
    pub tactic: Option<(String, String)>,
    pub technique: Option<(String, String)>,
    pub subtechnique: Option<(String, String)>,
    pub references: Vec<String>,
    pub origin: String,
}

/// A correlation, resolved against the rule set.
#[derive(Debug, Clone)]
pub struct Corr {
    pub meta: Meta,
    pub kind: Kind,
    /// Indices of the referenced detection rules, in the correlation's order.
    pub rules: Vec<usize>,
    /// The `group-by` names (aliases included) and, per referenced rule (same order as
    /// `rules`), the field path each name reads in that rule's events.
    pub group_by: Vec<String>,
    pub group_fields: Vec<Vec<String>>,
    /// `value_count`'s field.
    pub field: Option<String>,
    /// ns
    pub timespan: i64,
    /// Fires when the count is at least this (Sigma `gte: N`; `gt: N` is N + 1).
    pub min: u64,
    /// And, for a range, at most this.
    pub max: Option<u64>,
    /// The condition as written, for the alerts (`gte 10`).
    pub condition_text: String,
}

/// The compiled rule set.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub metas: Vec<Meta>,
    pub correlations: Vec<Corr>,
    /// Whether each rule raises alerts of its own (no: it feeds only correlations whose
    /// `generate` is false).
    pub emits: Vec<bool>,
    /// Per rule, the (correlation, position in its `rules`) pairs it feeds.
    pub feeds: Vec<Vec<(usize, usize)>>,
    /// The fields the rules and correlations read.
    pub paths: Paths,
    /// Candidate rules by event type (lower case), the any-type rules merged in, in order.
    by_type: HashMap<String, Vec<u32>>,
    any_type: Vec<u32>,
    /// The texts it was built from (two sets are the same when these are).
    pub sources: Vec<Source>,
}

impl PartialEq for RuleSet {
    fn eq(&self, other: &Self) -> bool {
        self.sources == other.sources
    }
}

/// `logsource.product` of the rules jcdetect runs.
pub const PRODUCT: &str = "jumpcloud";
/// `logsource.service` for every DI service.
pub const ALL_SERVICES: &str = "directory_insights";

const TACTICS: &[(&str, &str, &str)] = &[
    ("reconnaissance", "TA0043", "Reconnaissance"),
    ("resource-development", "TA0042", "Resource Development"),
    ("initial-access", "TA0001", "Initial Access"),
    ("execution", "TA0002", "Execution"),
    ("persistence", "TA0003", "Persistence"),
    ("privilege-escalation", "TA0004", "Privilege Escalation"),
    ("defense-evasion", "TA0005", "Defense Evasion"),
    ("credential-access", "TA0006", "Credential Access"),
    ("discovery", "TA0007", "Discovery"),
    ("lateral-movement", "TA0008", "Lateral Movement"),
    ("collection", "TA0009", "Collection"),
    ("command-and-control", "TA0011", "Command and Control"),
    ("exfiltration", "TA0010", "Exfiltration"),
    ("impact", "TA0040", "Impact"),
];

/// Names of the techniques the DI rules use (others are written by id only).
const TECHNIQUES: &[(&str, &str)] = &[
    ("T1072", "Software Deployment Tools"),
    ("T1078", "Valid Accounts"),
    ("T1078.004", "Cloud Accounts"),
    ("T1098", "Account Manipulation"),
    ("T1098.001", "Additional Cloud Credentials"),
    ("T1110", "Brute Force"),
    ("T1110.001", "Password Guessing"),
    ("T1110.003", "Password Spraying"),
    ("T1110.004", "Credential Stuffing"),
    ("T1136", "Create Account"),
    ("T1552", "Unsecured Credentials"),
    ("T1555", "Credentials from Password Stores"),
    ("T1556", "Modify Authentication Process"),
    ("T1556.006", "Multi-Factor Authentication"),
    ("T1562", "Impair Defenses"),
    ("T1621", "Multi-Factor Authentication Request Generation"),
];

fn technique(id: &str) -> (String, String) {
    let name = TECHNIQUES
        .iter()
        .find(|(t, _)| *t == id)
        .map_or("", |(_, n)| n);
    (id.to_string(), name.to_string())
}

/// ATT&CK fields from Sigma tags (`attack.credential-access`, `attack.t1110.003`).
fn attack(tags: &[String]) -> [Option<(String, String)>; 3] {
    let (mut tactic, mut tech, mut sub) = (None, None, None);
    for tag in tags {
        let Some(t) = tag
            .to_ascii_lowercase()
            .strip_prefix("attack.")
            .map(str::to_string)
        else {
            continue;
        };
        if let Some(&(_, id, name)) = TACTICS
            .iter()
            .find(|(slug, _, _)| *slug == t || slug.replace('-', "_") == t)
        {
            tactic.get_or_insert((id.to_string(), name.to_string()));
        } else if t.starts_with('t') && t[1..].chars().next().is_some_and(|c| c.is_ascii_digit()) {
            let id = t.to_ascii_uppercase();
            match id.split_once('.') {
                Some((parent, _)) => {
                    tech.get_or_insert(technique(parent));
                    sub.get_or_insert(technique(&id));
                }
                None => {
                    tech.get_or_insert(technique(&id));
                }
            }
        }
    }
    [tactic, tech, sub]
}

fn severity(level: Option<&str>) -> Severity {
    level.and_then(Severity::parse).unwrap_or(Severity::Medium)
}

struct Problems<'a> {
    origin: &'a str,
    out: &'a mut Vec<FileProblem>,
}

impl Problems<'_> {
    fn add(&mut self, pos: Pos, msg: String) {
        self.out.push(FileProblem {
            origin: self.origin.to_string(),
            pos,
            msg,
        });
    }
}

/// Compile rule files into one set. `taken` are ids already used (the built-in rules'):
/// a Sigma rule may not take one.
pub fn compile(sources: &[Source], taken: &[&str]) -> Result<RuleSet, Vec<FileProblem>> {
    let mut problems = Vec::new();
    let mut rules: Vec<(Rule, Meta)> = Vec::new();
    let mut corrs: Vec<(Correlation, String)> = Vec::new();
    for src in sources {
        let (file, found) = super::load_partial(&src.text);
        problems.extend(found.into_iter().map(|p| FileProblem {
            origin: src.origin.clone(),
            pos: p.pos,
            msg: p.msg,
        }));
        let mut bad = Problems {
            origin: &src.origin,
            out: &mut problems,
        };
        for r in file.rules {
            match r.product.as_deref() {
                Some(p) if p.eq_ignore_ascii_case(PRODUCT) => {}
                other => {
                    bad.add(
                        r.pos,
                        format!(
                            "rule `{}`: logsource.product is {}; jcdetect runs rules for \
                             `product: {PRODUCT}`",
                            r.title,
                            other.map_or("missing".to_string(), |p| format!("`{p}`"))
                        ),
                    );
                    continue;
                }
            }
            let Some(meta) = meta_of(
                &r.title,
                r.id.as_deref(),
                r.name.as_deref(),
                r.level.as_deref(),
                r.description.as_deref(),
                &r.tags,
                &r.references,
                &src.origin,
            ) else {
                bad.add(
                    r.pos,
                    format!(
                        "rule `{}` needs an `id` or a `name` (its alerts' rule.id)",
                        r.title
                    ),
                );
                continue;
            };
            rules.push((r, meta));
        }
        for c in file.correlations {
            corrs.push((c, src.origin.clone()));
        }
    }
    // Every id and name is unique over the set and the built-ins.
    let mut seen: HashMap<String, String> = taken
        .iter()
        .map(|t| (t.to_string(), "the built-in catalog".to_string()))
        .collect();
    let mut claim = |key: &str, origin: &str, pos: Pos, problems: &mut Vec<FileProblem>| {
        if let Some(first) = seen.get(key) {
            problems.push(FileProblem {
                origin: origin.to_string(),
                pos,
                msg: format!("`{key}` is already the id or name of a rule in {first}"),
            });
        } else {
            seen.insert(key.to_string(), origin.to_string());
        }
    };
    for (r, m) in &rules {
        for key in [r.name.as_deref(), r.id.as_deref()].into_iter().flatten() {
            claim(key, &m.origin, r.pos, &mut problems);
        }
    }
    for (c, origin) in &corrs {
        for key in [c.name.as_deref(), c.id.as_deref()].into_iter().flatten() {
            claim(key, origin, c.pos, &mut problems);
        }
    }
    let find_rule = |reference: &str| {
        rules.iter().position(|(r, _)| {
            r.name.as_deref() == Some(reference) || r.id.as_deref() == Some(reference)
        })
    };
    let mut correlations = Vec::new();
    for (c, origin) in &corrs {
        let mut bad = Problems {
            origin,
            out: &mut problems,
        };
        if let Some(corr) = resolve(c, origin, &find_rule, &corrs, &mut bad) {
            correlations.push(corr);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let n = rules.len();
    let mut set = RuleSet {
        emits: vec![true; n],
        feeds: vec![Vec::new(); n],
        sources: sources.to_vec(),
        ..RuleSet::default()
    };
    for (ci, c) in correlations.iter().enumerate() {
        for (j, &ri) in c.rules.iter().enumerate() {
            set.feeds[ri].push((ci, j));
        }
    }
    for (ci, (c, _)) in corrs.iter().enumerate() {
        if !c.generate {
            for &ri in &correlations[ci].rules {
                set.emits[ri] = false;
            }
        }
    }
    // A rule both correlations with and without `generate` use still alerts.
    for (ci, (c, _)) in corrs.iter().enumerate() {
        if c.generate {
            for &ri in &correlations[ci].rules {
                set.emits[ri] = true;
            }
        }
    }
    let mut any_type = Vec::new();
    let mut typed: Vec<(String, u32)> = Vec::new();
    for (i, (r, _)) in rules.iter().enumerate() {
        let mut paths = Vec::new();
        if !r.paths(&mut paths) {
            set.paths.add_everything();
        }
        for p in &paths {
            set.paths.add(p);
        }
        match r.event_types() {
            Some(types) => typed.extend(types.into_iter().map(|t| (t, i as u32))),
            None => any_type.push(i as u32),
        }
    }
    for c in &correlations {
        for p in c.group_fields.iter().flatten().chain(c.field.as_ref()) {
            set.paths.add(p);
        }
    }
    for (t, i) in typed {
        set.by_type.entry(t).or_default().push(i);
    }
    for list in set.by_type.values_mut() {
        list.extend_from_slice(&any_type);
        list.sort_unstable();
        list.dedup();
    }
    set.any_type = any_type;
    for (r, m) in rules {
        set.rules.push(r);
        set.metas.push(m);
    }
    set.correlations = correlations;
    Ok(set)
}

#[allow(clippy::too_many_arguments)]
fn meta_of(
    title: &str,
    id: Option<&str>,
    name: Option<&str>,
    level: Option<&str>,
    description: Option<&str>,
    tags: &[String],
    references: &[String],
    origin: &str,
) -> Option<Meta> {
    let [tactic, technique, subtechnique] = attack(tags);
    Some(Meta {
        id: name.or(id)?.to_string(),
        uuid: id.map(str::to_string),
        title: title.to_string(),
        description: description.unwrap_or(title).trim().to_string(),
        severity: severity(level),
        tactic,
        technique,
        subtechnique,
        references: references.to_vec(),
        origin: origin.to_string(),
    })
}

fn resolve(
    c: &Correlation,
    origin: &str,
    find_rule: &dyn Fn(&str) -> Option<usize>,
    corrs: &[(Correlation, String)],
    bad: &mut Problems<'_>,
) -> Option<Corr> {
    let meta = meta_of(
        &c.title,
        c.id.as_deref(),
        c.name.as_deref(),
        c.level.as_deref(),
        c.description.as_deref(),
        &c.tags,
        &c.references,
        origin,
    );
    let Some(meta) = meta else {
        bad.add(
            c.pos,
            format!(
                "correlation `{}` needs an `id` or a `name` (its alerts' rule.id)",
                c.title
            ),
        );
        return None;
    };
    let mut ok = true;
    let mut rules = Vec::new();
    for r in &c.rules {
        match find_rule(r) {
            Some(i) => rules.push(i),
            None => {
                ok = false;
                let chained = corrs
                    .iter()
                    .any(|(o, _)| o.name.as_deref() == Some(r) || o.id.as_deref() == Some(r));
                bad.add(
                    c.rules_pos,
                    if chained {
                        format!(
                            "`{r}` is a correlation: correlations of correlations are not \
                             supported yet"
                        )
                    } else {
                        format!("no rule has the id or name `{r}`")
                    },
                );
            }
        }
    }
    let unsupported = match c.kind {
        Kind::ValueSum | Kind::ValueAvg | Kind::ValuePercentile => {
            Some("value_sum, value_avg and value_percentile correlations are not supported yet")
        }
        _ => None,
    };
    if let Some(why) = unsupported {
        bad.add(c.pos, why.to_string());
        ok = false;
    }
    let b = &c.condition;
    let temporal = matches!(c.kind, Kind::Temporal | Kind::TemporalOrdered);
    let (min, max) = if temporal {
        (rules.len() as u64, None)
    } else {
        let lower = b
            .min
            .map(|m| {
                if b.min_exclusive {
                    m.floor() + 1.0
                } else {
                    m.ceil()
                }
            })
            .or(b.eq);
        let upper = b
            .max
            .map(|m| {
                if b.max_exclusive {
                    m.ceil() - 1.0
                } else {
                    m.floor()
                }
            })
            .or(b.eq);
        match lower {
            Some(lo) if lo >= 1.0 && b.neq.is_none() => {
                (lo as u64, upper.filter(|u| *u >= 0.0).map(|u| u as u64))
            }
            _ => {
                bad.add(
                    c.pos,
                    "the condition needs a lower bound of at least 1 (gt, gte or eq): an upper \
                     bound alone or `neq` fires on windows that end without events, which a \
                     stream of events cannot see"
                        .into(),
                );
                ok = false;
                (0, None)
            }
        }
    };
    if max.is_some_and(|m| m < min) {
        bad.add(c.pos, "the condition's range is empty".into());
        ok = false;
    }
    // Each group-by name read per rule: the alias's field for that rule, else the name.
    let mut group_fields = vec![Vec::new(); c.rules.len()];
    for name in &c.group_by {
        let alias = c.aliases.iter().find(|(a, _)| a == name);
        for (j, reference) in c.rules.iter().enumerate() {
            let field = alias
                .and_then(|(_, per)| per.iter().find(|(r, _)| r == reference))
                .map_or(name.clone(), |(_, f)| f.clone());
            group_fields[j].push(field);
        }
    }
    let condition_text = describe(b, temporal, rules.len());
    ok.then(|| Corr {
        meta,
        kind: c.kind,
        rules,
        group_by: c.group_by.clone(),
        group_fields,
        field: b.field.clone(),
        timespan: c.timespan,
        min,
        max,
        condition_text,
    })
}

fn describe(b: &super::correlation::Bounds, temporal: bool, n: usize) -> String {
    if temporal {
        return format!("all {n} rules");
    }
    let mut parts = Vec::new();
    if let Some(m) = b.min {
        parts.push(format!(
            "{} {m}",
            if b.min_exclusive { "gt" } else { "gte" }
        ));
    }
    if let Some(m) = b.max {
        parts.push(format!(
            "{} {m}",
            if b.max_exclusive { "lt" } else { "lte" }
        ));
    }
    if let Some(e) = b.eq {
        parts.push(format!("eq {e}"));
    }
    parts.join(", ")
}

impl RuleSet {
    /// The rules an event of this type may match, in file order.
    pub fn candidates(&self, event_type: Option<&str>) -> &[u32] {
        let Some(t) = event_type else {
            return &self.any_type;
        };
        let hit = if t.bytes().any(|b| b.is_ascii_uppercase()) {
            self.by_type.get(&t.to_ascii_lowercase())
        } else {
            self.by_type.get(t)
        };
        hit.map_or(&self.any_type, Vec::as_slice)
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}
