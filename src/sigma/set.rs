//! Sigma rule files compiled into one rule set: references between files resolved, each
//! rule's and correlation's alert metadata (id, ATT&CK from its tags, severity from its
//! level), the event-type index that picks the candidate rules of an event, and the paths
//! the extractor keeps. Every problem of every file is reported at once, as `file:line:col`.

use super::attack::attack;
use super::correlation::{Correlation, Kind};
use super::fields::{Fields, Paths};
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
    /// The same as written (names or ids).
    pub references: Vec<String>,
    /// The `group-by` names (aliases included) and, per referenced rule (same order as
    /// `rules`), the field path each name reads in that rule's events.
    pub group_by: Vec<String>,
    pub group_fields: Vec<Vec<String>>,
    /// `value_count`'s field.
    pub field: Option<String>,
    /// The numbers of `group_fields` and `field` in the rule set's [`Paths`].
    pub group_ids: Vec<Vec<usize>>,
    pub field_id: Option<usize>,
    /// ns
    pub timespan: i64,
    /// Fires when the count is at least this (Sigma `gte: N`; `gt: N` is N + 1).
    pub min: u64,
    /// And, for a range, at most this.
    pub max: Option<u64>,
    /// The condition as written, for the alerts (`gte 10`).
    pub condition_text: String,
}

/// The rules of one event type (or of any): those any service may match, and those pinned
/// to a service, by service (lower case); each list in file order.
#[derive(Debug, Clone, Default)]
struct Bucket {
    any: Vec<u32>,
    by_service: HashMap<String, Vec<u32>>,
}

impl Bucket {
    fn add(&mut self, i: u32, services: &Option<Vec<String>>) {
        match services {
            None => self.any.push(i),
            Some(list) => {
                for s in list {
                    self.by_service
                        .entry(s.to_ascii_lowercase())
                        .or_default()
                        .push(i);
                }
            }
        }
    }

    fn sort(&mut self) {
        for l in std::iter::once(&mut self.any).chain(self.by_service.values_mut()) {
            l.sort_unstable();
            l.dedup();
        }
    }

    /// The rules for `service`, in file order (two sorted lists merged).
    fn rules(&self, service: Option<&str>) -> impl Iterator<Item = u32> + '_ {
        let pinned: &[u32] = service
            .and_then(|s| match self.by_service.get(s) {
                None if s.bytes().any(|b| b.is_ascii_uppercase()) => {
                    self.by_service.get(&s.to_ascii_lowercase())
                }
                hit => hit,
            })
            .map_or(&[], Vec::as_slice);
        let (mut a, mut b) = (self.any.iter().peekable(), pinned.iter().peekable());
        std::iter::from_fn(move || match (a.peek(), b.peek()) {
            (Some(&&x), Some(&&y)) if x <= y => a.next().copied(),
            (_, Some(_)) => b.next().copied(),
            (Some(_), None) => a.next().copied(),
            (None, None) => None,
        })
    }
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
    /// Per rule, the number in `paths` of each of its own paths.
    pub at: Vec<Vec<usize>>,
    /// Candidate rules by event type (lower case), the any-type rules merged in, in order.
    by_type: HashMap<String, Bucket>,
    any_type: Bucket,
    /// Per rule, the DI services (lower case) its events must come from, when its logsource
    /// or its condition says (`None`: any): checked before anything is extracted.
    services: Vec<Option<Vec<String>>>,
    /// The texts it was built from (two sets are the same when these are).
    pub sources: Vec<Source>,
}

impl PartialEq for RuleSet {
    fn eq(&self, other: &Self) -> bool {
        self.sources == other.sources
    }
}

/// The largest count a correlation may fire at (a group keeps that many records at most).
pub const MAX_COUNT: u64 = 1000;

/// `logsource.product` of the rules jcdetect runs.
pub const PRODUCT: &str = "jumpcloud";
/// `logsource.service` for every DI service.
pub const ALL_SERVICES: &str = "directory_insights";

/// The DI services (`service` of the events), as the DI API documents them.
pub const SERVICES: &[&str] = &[
    "directory",
    "sso",
    "radius",
    "ldap",
    "systems",
    "mdm",
    "software",
    "password_manager",
    "password_vault",
    "alerts",
    "notifications",
    "object_storage",
    "saas_app_management",
    "access_management",
    "reports",
    "asset_management",
    "workflows",
    "genai",
    "aigw",
    "ai_admin",
    "generic_di",
];

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
            if let Some(c) = &r.category {
                bad.add(
                    r.pos,
                    format!(
                        "rule `{}`: logsource.category `{c}` has no meaning for JumpCloud \
                         events; name the DI `service` instead",
                        r.title
                    ),
                );
                continue;
            }
            if let Some(svc) = r.service.as_deref() {
                let known = svc.eq_ignore_ascii_case(ALL_SERVICES)
                    || SERVICES.iter().any(|s| s.eq_ignore_ascii_case(svc));
                if !known {
                    bad.add(
                        r.pos,
                        format!(
                            "rule `{}`: logsource.service `{svc}` is no DI service (one of {}, \
                             or {ALL_SERVICES} for all)",
                            r.title,
                            SERVICES.join(", ")
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
    // A rule whose `id` is its `name` claims it once.
    let keys = |name: Option<&str>, id: Option<&str>| {
        let mut k: Vec<String> = name.into_iter().chain(id).map(str::to_string).collect();
        k.dedup();
        k
    };
    for (r, m) in &rules {
        for key in keys(r.name.as_deref(), r.id.as_deref()) {
            claim(&key, &m.origin, r.pos, &mut problems);
        }
    }
    for (c, origin) in &corrs {
        for key in keys(c.name.as_deref(), c.id.as_deref()) {
            claim(&key, origin, c.pos, &mut problems);
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
    let mut typed: Vec<(String, u32)> = Vec::new();
    let mut untyped: Vec<u32> = Vec::new();
    for (i, (r, _)) in rules.iter().enumerate() {
        if r.reads_everything {
            set.paths.add_everything();
        }
        let at = r.paths.iter().map(|p| set.paths.add(p)).collect();
        set.at.push(at);
        let logsource = r
            .service
            .as_deref()
            .filter(|s| !s.eq_ignore_ascii_case(ALL_SERVICES))
            .map(|s| vec![s.to_ascii_lowercase()]);
        set.services.push(logsource.or_else(|| r.pinned("service")));
        match r.pinned("event_type") {
            Some(types) => typed.extend(types.into_iter().map(|t| (t, i as u32))),
            None => untyped.push(i as u32),
        }
    }
    for c in &mut correlations {
        let paths = &mut set.paths;
        c.group_ids = c
            .group_fields
            .iter()
            .map(|fs| fs.iter().map(|f| paths.add(f)).collect())
            .collect();
        c.field_id = c.field.as_deref().map(|f| paths.add(f));
    }
    // Each event type's bucket holds its own rules and the rules of every type.
    for (t, i) in typed {
        set.by_type
            .entry(t)
            .or_default()
            .add(i, &set.services[i as usize]);
    }
    for &i in &untyped {
        let pins = &set.services[i as usize];
        set.any_type.add(i, pins);
        for b in set.by_type.values_mut() {
            b.add(i, pins);
        }
    }
    set.any_type.sort();
    for b in set.by_type.values_mut() {
        b.sort();
    }
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
            Some(i) if rules.contains(&i) => {
                ok = false;
                bad.add(
                    c.rules_pos,
                    format!("`{r}` is listed twice in `rules` (each rule once)"),
                );
            }
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
    let bounded = b.min.is_some() || b.max.is_some() || b.eq.is_some() || b.neq.is_some();
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
    let n = c.rules.len() as f64;
    let (min, max) = match c.kind {
        // How many of the rules must occur (all, unless the condition says fewer).
        Kind::Temporal if !bounded => (c.rules.len() as u64, None),
        Kind::Temporal => match lower {
            Some(lo) if lo >= 1.0 && lo <= n && upper.is_none() && b.neq.is_none() => {
                (lo as u64, None)
            }
            _ => {
                bad.add(
                    c.pos,
                    format!(
                        "a temporal condition is a lower bound (gte or gt) on how many of the \
                         {n} rules occur, between 1 and {n}"
                    ),
                );
                ok = false;
                (0, None)
            }
        },
        Kind::TemporalOrdered if bounded => {
            bad.add(
                c.pos,
                "temporal_ordered takes no condition: every rule, in order".into(),
            );
            ok = false;
            (0, None)
        }
        Kind::TemporalOrdered => (c.rules.len() as u64, None),
        _ => match lower {
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
        },
    };
    if max.is_some_and(|m| m < min) {
        bad.add(c.pos, "the condition's range is empty".into());
        ok = false;
    }
    if c.condition.field.is_some() && c.kind != Kind::ValueCount {
        bad.add(c.pos, "`condition.field` is for value_count only".into());
        ok = false;
    }
    // A group must be able to hold the count that fires (or one over a range's top).
    let most = max.map_or(min, |m| m.saturating_add(1)).max(min);
    if most > MAX_COUNT {
        bad.add(
            c.pos,
            format!("counts above {MAX_COUNT} are not supported (a group keeps that many records)"),
        );
        ok = false;
    }
    // Aliases: keyed by the referenced rules (name or id), each naming a group-by field.
    let mut alias_fields: Vec<(String, Vec<Option<String>>)> = Vec::new();
    for (alias, per_rule) in &c.aliases {
        if !c.group_by.contains(alias) {
            bad.add(
                c.pos,
                format!("alias `{alias}` is not one of the `group-by` fields"),
            );
            ok = false;
        }
        let mut fields = vec![None; rules.len()];
        for (reference, field) in per_rule {
            match find_rule(reference).and_then(|i| rules.iter().position(|&r| r == i)) {
                Some(j) => fields[j] = Some(field.clone()),
                None => {
                    bad.add(
                        c.pos,
                        format!("alias `{alias}` maps `{reference}`, which is not in `rules`"),
                    );
                    ok = false;
                }
            }
        }
        if fields.iter().any(Option::is_none) && ok {
            bad.add(
                c.pos,
                format!("alias `{alias}` must give a field for every rule in `rules`"),
            );
            ok = false;
        }
        alias_fields.push((alias.clone(), fields));
    }
    // Each group-by name read per rule: the alias's field for that rule, else the name.
    let mut group_fields = vec![Vec::new(); rules.len()];
    for name in &c.group_by {
        let alias = alias_fields.iter().find(|(a, _)| a == name);
        for (j, fields) in group_fields.iter_mut().enumerate() {
            let field = alias
                .and_then(|(_, per)| per.get(j).cloned().flatten())
                .unwrap_or_else(|| name.clone());
            fields.push(field);
        }
    }
    let condition_text = describe(b, temporal, min, rules.len());
    ok.then(|| Corr {
        meta,
        kind: c.kind,
        references: c.rules.clone(),
        rules,
        group_by: c.group_by.clone(),
        group_fields,
        field: b.field.clone(),
        group_ids: Vec::new(),
        field_id: None,
        timespan: c.timespan,
        min,
        max,
        condition_text,
    })
}

fn describe(b: &super::correlation::Bounds, temporal: bool, min: u64, n: usize) -> String {
    if temporal && min as usize == n {
        return format!("all {n} rules");
    }
    if temporal {
        return format!("{min} of the {n} rules");
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

impl Corr {
    /// What its window state means: kind, rules in order, group fields, value field,
    /// timespan and bounds. A saved table is used again only under the same fingerprint.
    pub fn fingerprint(&self) -> u64 {
        let text = format!(
            "{:?}|{:?}|{:?}|{:?}|{}|{}|{:?}",
            self.kind,
            self.references,
            self.group_fields,
            self.field,
            self.timespan,
            self.min,
            self.max
        );
        crate::hash::fingerprint(text.as_bytes())
    }
}

impl RuleSet {
    /// The rules an event of this type and service may match, in file order.
    pub fn candidates<'s>(
        &'s self,
        event_type: Option<&str>,
        service: Option<&'s str>,
    ) -> impl Iterator<Item = u32> + 's {
        let bucket = match event_type {
            None => &self.any_type,
            Some(t) if t.bytes().any(|b| b.is_ascii_uppercase()) => self
                .by_type
                .get(&t.to_ascii_lowercase())
                .unwrap_or(&self.any_type),
            Some(t) => self.by_type.get(t).unwrap_or(&self.any_type),
        };
        bucket.rules(service)
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether rule `i` matches the event whose fields are `fields`.
    pub fn matches(&self, i: usize, fields: &Fields<'_>) -> bool {
        self.rules[i].matches_fields(fields, &self.at[i])
    }
}
