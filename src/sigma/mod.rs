//! Sigma rules as data (issue 14, first part; not wired into the engine yet): a rule file's
//! documents loaded into detection [`Rule`]s and [`correlation::Correlation`]s, every problem
//! reported with its line and column, and a rule's detection evaluated on an event's JSON.
//!
//! What is supported is in `detection.rs` (every v2.1 modifier but `expand`, which needs a
//! processing pipeline) and `cond.rs` (every condition form). What is not is refused where it
//! is written, never ignored.

pub mod attack;
pub mod cond;
pub mod correlation;
pub mod detection;
pub mod encode;
pub mod fields;
pub mod set;
pub mod yaml;

use detection::Selection;
use serde_json::Value;
pub use yaml::Pos;

/// A problem of a rule file, where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub pos: Pos,
    pub msg: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.pos.line, self.pos.col, self.msg)
    }
}

/// A Sigma detection rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub title: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub level: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    pub product: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
    /// Where the rule's document starts.
    pub pos: Pos,
    /// The `condition` as written (the alerts' reason quotes it).
    pub condition_text: String,
    /// The field paths the rule reads, numbered from 0 in this order.
    pub paths: Vec<String>,
    /// A keyword search reads the whole event.
    pub reads_everything: bool,
    selections: Vec<Selection>,
    condition: cond::Cond,
}

impl Rule {
    /// Whether the event matches the rule's detection (a convenience: a rule set extracts
    /// the fields of all its rules at once and calls [`Rule::matches_fields`]).
    pub fn matches(&self, event: &Value) -> bool {
        let mut paths = fields::Paths::default();
        let at: Vec<usize> = self.paths.iter().map(|p| paths.add(p)).collect();
        if self.reads_everything {
            paths.add_everything();
        }
        let mut f = paths.empty();
        paths.fill(event, &mut f);
        self.matches_fields(&f, &at)
    }

    /// Whether the event whose fields are `fields` matches; `at` gives the number in
    /// `fields` of each of the rule's [`Rule::paths`].
    pub fn matches_fields(&self, fields: &fields::Fields<'_>, at: &[usize]) -> bool {
        self.condition
            .eval(&mut |i| self.selections[i].matches(fields, at))
    }

    /// The values (lower case) `field` of a matching event must have, when the condition
    /// pins them; `None` when any value may match.
    pub fn pinned(&self, field: &str) -> Option<Vec<String>> {
        let mut values = self
            .condition
            .pinned(&|i| self.selections.get(i).and_then(|s| s.pinned(field)))?;
        values.sort();
        values.dedup();
        Some(values)
    }
}

/// What a rule file holds.
#[derive(Debug, Clone, Default)]
pub struct RuleFile {
    pub rules: Vec<Rule>,
    pub correlations: Vec<correlation::Correlation>,
}

/// Every rule of a file (several YAML documents); all problems at once.
pub fn load(text: &str) -> Result<RuleFile, Vec<Problem>> {
    let (file, problems) = load_partial(text);
    if problems.is_empty() {
        Ok(file)
    } else {
        Err(problems)
    }
}

/// The documents of a file that load, and the problems of those that do not (so that the
/// checks across files still run on the good ones, and all problems show at once).
pub fn load_partial(text: &str) -> (RuleFile, Vec<Problem>) {
    let docs = match yaml::parse(text) {
        Ok(d) => d,
        Err(e) => {
            let p = Problem {
                pos: e.pos,
                msg: format!("YAML: {}", e.msg),
            };
            return (RuleFile::default(), vec![p]);
        }
    };
    let mut file = RuleFile::default();
    let mut problems = Vec::new();
    for doc in &docs {
        let before = problems.len();
        if doc.get("correlation").is_some() {
            let mut found = Vec::new();
            let c = correlation::parse(doc, &mut found);
            problems.extend(found.into_iter().map(|(pos, msg)| Problem { pos, msg }));
            if let (Some(c), true) = (c, problems.len() == before) {
                file.correlations.push(c);
            }
        } else if let Some(r) = rule(doc, &mut problems) {
            if problems.len() == before {
                file.rules.push(r);
            }
        }
    }
    (file, problems)
}

fn text(node: Option<&yaml::Node>) -> Option<String> {
    node.and_then(|n| n.as_str()).map(str::to_string)
}

fn list(node: Option<&yaml::Node>) -> Vec<String> {
    match node {
        Some(yaml::Node::Seq { items, .. }) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        Some(n) => n.as_str().map(|s| vec![s.to_string()]).unwrap_or_default(),
        None => vec![],
    }
}

/// A condition (or a list of them, their OR) as one line of text.
fn texts_joined(node: &yaml::Node) -> String {
    match node {
        yaml::Node::Seq { items, .. } => items
            .iter()
            .filter_map(|i| i.as_str())
            .map(|t| format!("({t})"))
            .collect::<Vec<_>>()
            .join(" or "),
        n => n.as_str().unwrap_or_default().to_string(),
    }
}

fn rule(doc: &yaml::Node, problems: &mut Vec<Problem>) -> Option<Rule> {
    let mut bad = |pos: Pos, msg: String| problems.push(Problem { pos, msg });
    let Some(title) = text(doc.get("title")) else {
        bad(doc.pos(), "a rule needs a `title`".into());
        return None;
    };
    let Some(detection) = doc.get("detection") else {
        bad(doc.pos(), format!("rule `{title}` has no `detection`"));
        return None;
    };
    let yaml::Node::Map { entries, .. } = detection else {
        bad(detection.pos(), "`detection` is a map".into());
        return None;
    };
    let mut names = Vec::new();
    let mut selections = Vec::new();
    let mut condition = None;
    let mut sel_problems = Vec::new();
    for (k, v) in entries {
        let Some(key) = k.as_str() else { continue };
        if key == "condition" {
            condition = Some(v);
            continue;
        }
        if key == "timeframe" {
            bad(
                k.pos(),
                "`timeframe` is Sigma v1: use a correlation rule".into(),
            );
            continue;
        }
        names.push(key.to_string());
        selections.push(Selection::compile(v, &mut sel_problems));
    }
    for (pos, msg) in sel_problems {
        bad(pos, msg);
    }
    let Some(cnode) = condition else {
        bad(detection.pos(), "`detection` has no `condition`".into());
        return None;
    };
    // A list of conditions is their OR.
    let texts: Vec<(Pos, String)> = match cnode {
        yaml::Node::Seq { items, .. } => items
            .iter()
            .map(|i| (i.pos(), i.as_str().unwrap_or_default().to_string()))
            .collect(),
        n => vec![(n.pos(), n.as_str().unwrap_or_default().to_string())],
    };
    let mut conds = Vec::new();
    for (pos, t) in texts {
        match cond::parse(&t, &names) {
            Ok(c) => conds.push(c),
            Err(e) => bad(pos, format!("condition: {e}")),
        }
    }
    let condition_text = texts_joined(cnode);
    let condition = if conds.len() == 1 {
        conds.pop()?
    } else {
        cond::Cond::Or(conds)
    };
    if let Some(level) = text(doc.get("level")) {
        if !["informational", "low", "medium", "high", "critical"].contains(&level.as_str()) {
            let pos = doc.get("level").map(|n| n.pos()).unwrap_or_default();
            bad(pos, format!("unknown level `{level}`"));
        }
    }
    let logsource = doc.get("logsource");
    // Number the paths the rule reads, in its own order.
    let mut paths: Vec<String> = Vec::new();
    let mut reads_everything = false;
    for sel in &mut selections {
        let mut number = |p: &str| match paths.iter().position(|q| q == p) {
            Some(i) => i,
            None => {
                paths.push(p.to_string());
                paths.len() - 1
            }
        };
        reads_everything |= !sel.number_paths(&mut number);
    }
    Some(Rule {
        title,
        id: text(doc.get("id")),
        name: text(doc.get("name")),
        level: text(doc.get("level")),
        description: text(doc.get("description")),
        tags: list(doc.get("tags")),
        references: list(doc.get("references")),
        product: text(logsource.and_then(|l| l.get("product"))),
        service: text(logsource.and_then(|l| l.get("service"))),
        category: text(logsource.and_then(|l| l.get("category"))),
        pos: doc.pos(),
        condition_text,
        paths,
        reads_everything,
        selections,
        condition,
    })
}

#[cfg(test)]
mod tests;
