//! The JS `Detector`'s config: a JSON object shaped like the TOML config, plus `format` and
//! `emit`. Plain code, so it is tested natively; `js.rs` only moves the text across.

use jcdetect::{Config, ConfigError, Emit, Format, Options};
use serde_json::Value;

/// Parse `JSON.stringify(config)` into the core config and engine options. Every problem is
/// reported, as the TOML path does.
pub fn parse(json: &str) -> Result<(Config, Options), ConfigError> {
    let one = |p: String| ConfigError::new([p]);
    let v: Value = serde_json::from_str(json).map_err(|e| one(format!("not JSON: {e}")))?;
    let mut map = match v {
        Value::Null => serde_json::Map::new(),
        Value::Object(m) => m,
        other => return Err(one(format!("the config must be an object, not {other}"))),
    };
    let mut problems = Vec::new();
    let mut opts = Options::default();
    match map.remove("format") {
        None => {}
        Some(Value::String(s)) if s == "ecs" => opts.format = Format::Ecs,
        Some(Value::String(s)) if s == "ocsf" => opts.format = Format::Ocsf,
        Some(v) => problems.push(format!("`format` must be \"ecs\" or \"ocsf\" (got {v})")),
    }
    match map.remove("emit") {
        None => {}
        Some(Value::String(s)) if s == "alerts" => opts.emit = Emit::Alerts,
        Some(Value::String(s)) if s == "all" => opts.emit = Emit::All,
        Some(v) => problems.push(format!("`emit` must be \"alerts\" or \"all\" (got {v})")),
    }
    let mut table = toml::Table::new();
    for (k, v) in map {
        match to_toml(&k, v) {
            Ok(t) => {
                table.insert(k, t);
            }
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() {
        // The core names the allowed top-level keys; `format`/`emit` are ours.
        let cfg = Config::from_value(&toml::Value::Table(table)).map_err(|mut e| {
            for p in e.problems.iter_mut().map(|p| &mut p.message) {
                if p.starts_with("unknown top-level key") {
                    p.truncate(p.find(" (expected").unwrap_or(p.len()));
                    p.push_str(" (expected `rules`, `allowlist`, `state`, `format` or `emit`)");
                }
            }
            e
        })?;
        return Ok((cfg, opts));
    }
    // Still validate the rest, so one message lists every problem.
    if let Err(e) = Config::from_value(&toml::Value::Table(table)) {
        problems.extend(e.messages());
    }
    Err(ConfigError::new(problems))
}

/// JSON → TOML value. TOML has no null; integers beyond i64 do not fit.
fn to_toml(at: &str, v: Value) -> Result<toml::Value, String> {
    Ok(match v {
        Value::Null => return Err(format!("`{at}` is null (leave it out instead)")),
        Value::Bool(b) => toml::Value::Boolean(b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => toml::Value::Integer(i),
            (None, Some(f)) if n.is_f64() => toml::Value::Float(f),
            _ => return Err(format!("`{at}`: {n} is out of range")),
        },
        Value::String(s) => toml::Value::String(s),
        Value::Array(a) => toml::Value::Array(
            a.into_iter()
                .enumerate()
                .map(|(i, v)| to_toml(&format!("{at}[{i}]"), v))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => toml::Value::Table(
            m.into_iter()
                .map(|(k, v)| to_toml(&format!("{at}.{k}"), v).map(|t| (k, t)))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// The message of the JS `Error` a bad config throws.
pub fn error_json(e: &ConfigError) -> String {
    serde_json::json!({"error": "config", "message": e.to_string(), "problems": e.messages()})
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_shape_is_the_toml_shape() {
        let (cfg, opts) = parse(
            r#"{"rules":{"password_spray_from_ip":{"threshold":20},"user_updated":{"enabled":false}},
                "allowlist":{"ips":["10.0.0.0/8"]},"state":{"memory_mb":4},
                "format":"ocsf","emit":"all"}"#,
        )
        .unwrap();
        let toml = Config::from_toml_str(
            "[rules.password_spray_from_ip]\nthreshold = 20\n[rules.user_updated]\nenabled = false\n\
             [allowlist]\nips = [\"10.0.0.0/8\"]\n[state]\nmemory_mb = 4\n",
        )
        .unwrap();
        assert_eq!(cfg, toml);
        assert_eq!((opts.format, opts.emit), (Format::Ocsf, Emit::All));
        assert_eq!(parse("null").unwrap().0, Config::default());
        assert_eq!(parse("{}").unwrap().0, Config::default());
    }

    #[test]
    fn every_problem_is_reported() {
        let e =
            parse(r#"{"format":"xml","rules":{"nope":{}},"state":{"memory_mb":null},"colour":1}"#)
                .unwrap_err();
        let all = e.messages().join("\n");
        assert!(all.contains("`format` must be"), "{all}");
        assert!(all.contains("`state.memory_mb` is null"), "{all}");
        assert!(all.contains("unknown rule `nope`"), "{all}");
        assert!(all.contains("unknown top-level key `colour`"), "{all}");
        let e = parse(r#"{"colour":1}"#).unwrap_err();
        assert!(
            e.problems[0].message.ends_with("`format` or `emit`)"),
            "{e}"
        );
        assert!(parse("[1]").is_err());
        let v: Value = serde_json::from_str(&error_json(&e)).unwrap();
        assert_eq!(v["error"], "config");
        assert!(v["message"].as_str().unwrap().contains("colour"));
    }
}
