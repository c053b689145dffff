//! A Sigma correlation rule (`correlation:`), parsed and checked: its type, the rules it
//! refers to (by `id` or `name`, resolved once the file's rules are known), `group-by`,
//! `timespan`, `condition` (one bound or a range), `aliases` and `generate`. Evaluation on
//! the windows comes next.

use super::yaml::{Node, Pos};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    ValueSum,
    ValueAvg,
    ValuePercentile,
}

/// `condition:` bounds (inclusive), and the field of `value_*` types.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bounds {
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// `gt`/`lt` are exclusive: kept as such.
    pub min_exclusive: bool,
    pub max_exclusive: bool,
    pub eq: Option<f64>,
    pub neq: Option<f64>,
    pub field: Option<String>,
}

impl Bounds {
    pub fn holds(&self, x: f64) -> bool {
        let lo = self
            .min
            .is_none_or(|m| if self.min_exclusive { x > m } else { x >= m });
        let hi = self
            .max
            .is_none_or(|m| if self.max_exclusive { x < m } else { x <= m });
        lo && hi && self.eq.is_none_or(|e| x == e) && self.neq.is_none_or(|n| x != n)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    pub title: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub level: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    /// Where the document starts, and its `rules:`.
    pub pos: Pos,
    pub rules_pos: Pos,
    pub kind: Kind,
    /// Referenced rules, as written (`id` or `name`).
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    /// ns
    pub timespan: i64,
    pub condition: Bounds,
    /// alias → (rule reference → field)
    pub aliases: Vec<(String, Vec<(String, String)>)>,
    pub generate: bool,
}

/// `30s`, `5m`, `2h`, `1d` (and Sigma's `M`/`y` are refused: not fixed lengths).
pub fn timespan(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (num, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = num
        .parse()
        .map_err(|_| format!("`{text}`: a timespan is a number and a unit (30s, 5m, 2h, 1d)"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("`{text}`: units are s, m, h, d, w")),
    };
    if n <= 0 {
        return Err(format!("`{text}`: a timespan is positive"));
    }
    // At most ten years: windows are event-time spans, and nanoseconds must not overflow.
    match n.checked_mul(secs).filter(|s| *s <= 10 * 366 * 86_400) {
        Some(s) => Ok(s * 1_000_000_000),
        None => Err(format!("`{text}`: a timespan is at most ten years")),
    }
}

pub fn parse(doc: &Node, problems: &mut Vec<(Pos, String)>) -> Option<Correlation> {
    let mut bad = |pos: Pos, msg: String| problems.push((pos, msg));
    let title = doc
        .get("title")
        .and_then(|n| n.as_str())
        .map(str::to_string);
    let Some(title) = title else {
        bad(doc.pos(), "a rule needs a `title`".into());
        return None;
    };
    let c = doc.get("correlation")?;
    // Keys this engine reads; anything else is refused rather than ignored (a misspelt
    // `group_by` would silently put every event in one group).
    const KEYS: [&str; 7] = [
        "type",
        "rules",
        "group-by",
        "timespan",
        "condition",
        "aliases",
        "generate",
    ];
    match c {
        Node::Map { entries, .. } => {
            for (k, _) in entries {
                let key = k.as_str().unwrap_or_default();
                if !KEYS.contains(&key) {
                    let hint = match key {
                        "group_by" | "groupby" => " (did you mean `group-by`?)",
                        "timeframe" => " (a correlation's window is `timespan`)",
                        _ => "",
                    };
                    bad(
                        k.pos(),
                        format!(
                            "unknown correlation key `{key}`{hint}; known: {}",
                            KEYS.join(", ")
                        ),
                    );
                }
            }
        }
        other => {
            bad(other.pos(), "`correlation` is a map".into());
            return None;
        }
    }
    if let Some(g) = doc.get("generate") {
        bad(
            g.pos(),
            "`generate` goes inside `correlation:` (as pySigma reads it)".into(),
        );
    }
    if let Some(level) = doc.get("level") {
        let known = ["informational", "low", "medium", "high", "critical"];
        if !level.as_str().is_some_and(|l| known.contains(&l)) {
            bad(
                level.pos(),
                format!("unknown level `{}`", level.as_str().unwrap_or_default()),
            );
        }
    }
    let kind = match c.get("type").and_then(|n| n.as_str()) {
        Some("event_count") => Kind::EventCount,
        Some("value_count") => Kind::ValueCount,
        Some("temporal") => Kind::Temporal,
        Some("temporal_ordered") => Kind::TemporalOrdered,
        Some("value_sum") => Kind::ValueSum,
        Some("value_avg") => Kind::ValueAvg,
        Some("value_percentile") => Kind::ValuePercentile,
        Some(other) => {
            bad(c.pos(), format!("unknown correlation type `{other}`"));
            return None;
        }
        None => {
            bad(c.pos(), "a correlation needs a `type`".into());
            return None;
        }
    };
    let strings = |n: Option<&Node>| -> Vec<String> {
        match n {
            Some(Node::Seq { items, .. }) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            Some(n) => n.as_str().map(|s| vec![s.to_string()]).unwrap_or_default(),
            None => vec![],
        }
    };
    let rules = strings(c.get("rules"));
    if rules.is_empty() {
        bad(c.pos(), "a correlation needs `rules`".into());
    }
    let group_by = strings(c.get("group-by"));
    let timespan = match c.get("timespan").and_then(|n| n.as_str()) {
        Some(t) => match timespan(t) {
            Ok(v) => v,
            Err(e) => {
                bad(c.get("timespan").map(|n| n.pos()).unwrap_or_default(), e);
                0
            }
        },
        None => {
            bad(c.pos(), "a correlation needs a `timespan`".into());
            0
        }
    };
    let mut condition = Bounds::default();
    let temporal = matches!(kind, Kind::Temporal | Kind::TemporalOrdered);
    match c.get("condition") {
        Some(Node::Map { entries, .. }) => {
            for (k, v) in entries {
                let key = k.as_str().unwrap_or_default();
                if key == "field" {
                    match v {
                        Node::Scalar { text, .. } => condition.field = Some(text.clone()),
                        _ => bad(
                            v.pos(),
                            "`condition.field` is one field name (lists are not supported yet)"
                                .into(),
                        ),
                    }
                    continue;
                }
                let Some(x) = v.as_str().and_then(|t| t.parse::<f64>().ok()) else {
                    bad(v.pos(), format!("`{key}` takes a number"));
                    continue;
                };
                match key {
                    "gt" => (condition.min, condition.min_exclusive) = (Some(x), true),
                    "gte" => (condition.min, condition.min_exclusive) = (Some(x), false),
                    "lt" => (condition.max, condition.max_exclusive) = (Some(x), true),
                    "lte" => (condition.max, condition.max_exclusive) = (Some(x), false),
                    "eq" => condition.eq = Some(x),
                    "neq" => condition.neq = Some(x),
                    _ => bad(k.pos(), format!("unknown condition operator `{key}`")),
                }
            }
        }
        Some(other) => bad(other.pos(), "`condition` is a map (gte: 10, ...)".into()),
        None if temporal => {}
        None => bad(c.pos(), "this correlation type needs a `condition`".into()),
    }
    let needs_field = matches!(
        kind,
        Kind::ValueCount | Kind::ValueSum | Kind::ValueAvg | Kind::ValuePercentile
    );
    if needs_field && condition.field.is_none() {
        bad(
            c.pos(),
            "this correlation type needs `condition.field`".into(),
        );
    }
    let mut aliases = Vec::new();
    if let Some(Node::Map { entries, .. }) = c.get("aliases") {
        for (alias, map) in entries {
            let mut per_rule = Vec::new();
            if let Node::Map { entries, .. } = map {
                for (r, f) in entries {
                    if let (Some(r), Some(f)) = (r.as_str(), f.as_str()) {
                        per_rule.push((r.to_string(), f.to_string()));
                    }
                }
            } else {
                bad(map.pos(), "an alias maps each rule to its field".into());
            }
            aliases.push((alias.as_str().unwrap_or_default().to_string(), per_rule));
        }
    }
    let generate = match c.get("generate") {
        None => false,
        Some(Node::Scalar {
            text,
            quoted: false,
            ..
        }) if text == "true" || text == "false" => text == "true",
        Some(other) => {
            bad(other.pos(), "`generate` is true or false".into());
            false
        }
    };
    Some(Correlation {
        title,
        id: doc.get("id").and_then(|n| n.as_str()).map(str::to_string),
        name: doc.get("name").and_then(|n| n.as_str()).map(str::to_string),
        level: doc
            .get("level")
            .and_then(|n| n.as_str())
            .map(str::to_string),
        description: doc
            .get("description")
            .and_then(|n| n.as_str())
            .map(str::to_string),
        tags: strings(doc.get("tags")),
        references: strings(doc.get("references")),
        pos: doc.pos(),
        rules_pos: c.get("rules").map_or(c.pos(), Node::pos),
        kind,
        rules,
        group_by,
        timespan,
        condition,
        aliases,
        generate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigma::yaml;

    #[test]
    fn a_spray_as_a_value_count_and_the_refusals() {
        let text = "title: Spray
name: spray_from_ip
correlation:
  type: value_count
  rules: [failed_login]
  group-by: [client_ip]
  timespan: 10m
  condition: {gte: 10, field: initiated_by.username}
";
        let doc = &yaml::parse(text).unwrap()[0];
        let mut problems = Vec::new();
        let c = parse(doc, &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(c.kind, Kind::ValueCount);
        assert_eq!(c.timespan, 600 * 1_000_000_000);
        assert!(c.condition.holds(10.0) && !c.condition.holds(9.0));
        assert_eq!(c.condition.field.as_deref(), Some("initiated_by.username"));
        let range = Bounds {
            min: Some(3.0),
            max: Some(5.0),
            max_exclusive: true,
            ..Bounds::default()
        };
        assert!(range.holds(3.0) && range.holds(4.9) && !range.holds(5.0));
        for (bad, want) in [
            (
                "correlation: {type: sometimes, rules: [a], timespan: 1m}",
                "unknown correlation type",
            ),
            (
                "correlation: {type: event_count, rules: [a], timespan: 1M, condition: {gte: 2}}",
                "units are",
            ),
            (
                "correlation: {type: event_count, rules: [a], timespan: 1m}",
                "needs a `condition`",
            ),
            (
                "correlation: {type: value_count, rules: [a], timespan: 1m, condition: {gte: 2}}",
                "condition.field",
            ),
            (
                "correlation: {type: event_count, timespan: 1m, condition: {gte: 2}}",
                "needs `rules`",
            ),
        ] {
            let doc = &yaml::parse(&format!("title: t\n{bad}\n")).unwrap()[0];
            let mut problems = Vec::new();
            let _ = parse(doc, &mut problems);
            assert!(
                problems.iter().any(|(_, m)| m.contains(want)),
                "{bad}: {problems:?}"
            );
        }
    }
}
