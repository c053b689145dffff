//! `jcdetect rules [--json] [--config FILE] [--rules PATH]...`: the rule catalog with a
//! config applied, as a table (the README's rule table is this output) or as JSON, the
//! users' Sigma rules after it; `jcdetect rules --check PATH...` checks Sigma rule files.

use crate::args::RulesArgs;
use crate::output::write_stdout;
use crate::report::setup_error;
use jcdetect::rules::catalog::ParamDefault;
use jcdetect::sigma::correlation::Kind;
use jcdetect::sigma::set::{Meta, RuleSet};
use jcdetect::{Config, Engine, Options};
use std::process::ExitCode;

pub fn run(args: RulesArgs) -> ExitCode {
    if !args.check.is_empty() {
        return check(&args);
    }
    match super::load_config(args.config.as_deref(), &args.rules) {
        Ok((cfg, _)) => print(&cfg, args.json),
        Err(e) => setup_error(e),
    }
}

/// `--check PATH...`: compile the files (with the config's budget, so a set that does not fit
/// is a problem too) and report every problem; exit 1 if there is any, 2 if a file cannot be
/// read.
fn check(args: &RulesArgs) -> ExitCode {
    // A file that cannot be read is not a problem of the rules: exit 2, as elsewhere.
    let sources = match super::read_rules(&args.check) {
        Ok(s) if s.is_empty() => {
            return setup_error("rules --check: no *.yml or *.yaml file in the paths given")
        }
        Ok(s) => s,
        Err(e) => return setup_error(e),
    };
    let mut paths = args.rules.clone();
    paths.extend_from_slice(&args.check);
    match super::load_config(args.config.as_deref(), &paths) {
        Ok((cfg, _)) => {
            let s = &cfg.sigma;
            let msg = format!(
                "{} file(s): {} rule(s), {} correlation(s) in all, no problems\n",
                sources.len(),
                s.rules.len(),
                s.correlations.len()
            );
            write_stdout(msg.as_bytes())
        }
        Err(problems) => {
            let n = problems.lines().count();
            let out = format!("{problems}\n{n} problem(s)\n");
            match write_stdout(out.as_bytes()) {
                c if c == ExitCode::SUCCESS => ExitCode::from(1),
                c => c,
            }
        }
    }
}

fn print(cfg: &Config, json: bool) -> ExitCode {
    let engine = Engine::new(cfg, Options::default());
    let rules = &engine.rules().rules;
    let mut out = String::new();
    if json {
        let list: Vec<serde_json::Value> = rules
            .iter()
            .map(|r| {
                let mut params = serde_json::Map::new();
                for p in r.def.params {
                    let v = match p.default {
                        ParamDefault::StrList(_) => serde_json::json!(r.list(p.name)),
                        ParamDefault::Int(_) => serde_json::json!(r.int(p.name)),
                        ParamDefault::Float(_) => serde_json::json!(r.float(p.name)),
                    };
                    params.insert(p.name.to_string(), v);
                }
                let a = r.def.attack;
                serde_json::json!({
                    "id": r.def.id,
                    "name": r.def.name,
                    "description": r.def.description,
                    "kind": r.def.kind.as_str(),
                    "severity": r.severity.as_str(),
                    "tactics": a.iter().map(|a| a.tactic.id).collect::<Vec<_>>(),
                    "techniques": a.iter().map(|a| a.subtechnique.unwrap_or(a.technique).id).collect::<Vec<_>>(),
                    "enabled": r.enabled,
                    "parameters": params,
                })
            })
            .collect();
        let mut list = list;
        list.extend(sigma_json(engine.sigma()));
        out = serde_json::to_string_pretty(&list).unwrap_or_default();
        out.push('\n');
    } else {
        out.push_str(&format!(
            "{:<30} {:<8} {:<13} {:<7} {:<18} {}\n",
            "ID", "KIND", "SEVERITY", "ENABLED", "ATT&CK", "NAME"
        ));
        for r in rules {
            let attack = r
                .def
                .attack
                .map(|a| {
                    format!(
                        "{}/{}",
                        a.tactic.id,
                        a.subtechnique.unwrap_or(a.technique).id
                    )
                })
                .unwrap_or_else(|| "-".into());
            out.push_str(&format!(
                "{:<30} {:<8} {:<13} {:<7} {:<18} {}\n",
                r.def.id,
                r.def.kind.as_str(),
                r.severity.as_str(),
                if r.enabled { "yes" } else { "no" },
                attack,
                r.def.name
            ));
        }
        sigma_table(engine.sigma(), &mut out);
    }
    write_stdout(out.as_bytes())
}

fn attack_of(m: &Meta) -> String {
    let tech = m.subtechnique.as_ref().or(m.technique.as_ref());
    match (&m.tactic, tech) {
        (None, None) => "-".into(),
        (t, x) => format!(
            "{}/{}",
            t.as_ref().map_or("-", |t| t.0.as_str()),
            x.map_or("-", |x| x.0.as_str())
        ),
    }
}

fn corr_type(k: Kind) -> &'static str {
    match k {
        Kind::EventCount => "event_count",
        Kind::ValueCount => "value_count",
        Kind::Temporal => "temporal",
        Kind::TemporalOrdered => "temporal_ordered",
        Kind::ValueSum => "value_sum",
        Kind::ValueAvg => "value_avg",
        Kind::ValuePercentile => "value_percentile",
    }
}

/// Each Sigma rule and correlation: (meta, type, raises alerts of its own).
fn sigma_rows(set: &RuleSet) -> Vec<(&Meta, &'static str, bool)> {
    set.metas
        .iter()
        .zip(&set.emits)
        .map(|(m, &e)| (m, "detection", e))
        .chain(
            set.correlations
                .iter()
                .map(|c| (&c.meta, corr_type(c.kind), true)),
        )
        .collect()
}

fn sigma_table(set: &RuleSet, out: &mut String) {
    if set.is_empty() {
        return;
    }
    out.push_str(&format!(
        "\nSigma rules:\n{:<30} {:<16} {:<13} {:<6} {:<18} {:<30} {}\n",
        "ID", "TYPE", "SEVERITY", "ALERTS", "ATT&CK", "NAME", "FILE"
    ));
    for (m, kind, emits) in sigma_rows(set) {
        out.push_str(&format!(
            "{:<30} {:<16} {:<13} {:<6} {:<18} {:<30} {}\n",
            m.id,
            kind,
            m.severity.as_str(),
            if emits { "yes" } else { "no" },
            attack_of(m),
            m.title,
            m.origin
        ));
    }
}

fn sigma_json(set: &RuleSet) -> Vec<serde_json::Value> {
    sigma_rows(set)
        .into_iter()
        .map(|(m, kind, emits)| {
            let tech = m.subtechnique.as_ref().or(m.technique.as_ref());
            serde_json::json!({
                "id": m.id,
                "uuid": m.uuid,
                "name": m.title,
                "description": m.description,
                "kind": "sigma",
                "type": kind,
                "severity": m.severity.as_str(),
                "tactics": m.tactic.iter().map(|t| &t.0).collect::<Vec<_>>(),
                "techniques": tech.iter().map(|t| &t.0).collect::<Vec<_>>(),
                "enabled": true,
                "alerts": emits,
                "file": m.origin,
            })
        })
        .collect()
}
