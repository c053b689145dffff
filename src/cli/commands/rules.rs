//! `jcdetect rules [--json] [--config FILE]`: the rule catalog with a config applied, as a
//! table (the README's rule table is this output) or as JSON.

use crate::args::RulesArgs;
use crate::output::write_stdout;
use crate::report::setup_error;
use jcdetect::rules::catalog::ParamDefault;
use jcdetect::{Config, Engine, Options};
use std::process::ExitCode;

pub fn run(args: RulesArgs) -> ExitCode {
    match super::load_config(args.config.as_deref()) {
        Ok((cfg, _)) => print(&cfg, args.json),
        Err(e) => setup_error(e),
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
    }
    write_stdout(out.as_bytes())
}
