//! What each command does once its arguments are checked (`crate::args`): the filter, and
//! the `pull`, `rules`, `generate` and `bench` subcommands.

pub mod bench;
pub mod filter;
pub mod generate;
pub mod pull;
pub mod rules;

use jcdetect::sigma::set::Source;
use jcdetect::Config;
use std::path::{Path, PathBuf};

/// `--config FILE` and its TOML text (the WASM module parses the text itself), with the Sigma
/// rules of its `[rules] paths` (relative to the file) and of `--rules` compiled in; the
/// default config without one. Every problem of the file, or of the rules, is in the one
/// message.
pub fn load_config(path: Option<&Path>, rules: &[PathBuf]) -> Result<(Config, String), String> {
    let (cfg, text, base) = match path {
        None => (Config::default(), String::new(), PathBuf::new()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
            let cfg =
                Config::from_toml_str(&text).map_err(|e| e.in_file(path.display()).to_string())?;
            let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (cfg, text, base)
        }
    };
    let mut paths: Vec<PathBuf> = cfg.rule_paths.iter().map(|p| base.join(p)).collect();
    paths.extend_from_slice(rules);
    if paths.is_empty() {
        return Ok((cfg, text));
    }
    let sources = read_rules(&paths)?;
    let cfg = cfg.with_sigma(&sources).map_err(|ps| ps.join("\n"))?;
    Ok((cfg, text))
}

/// The texts of Sigma rule files: each PATH a file, or a directory searched recursively for
/// `*.yml` and `*.yaml` (in name order, so runs are reproducible).
pub fn read_rules(paths: &[PathBuf]) -> Result<Vec<Source>, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out)?;
            } else if p
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
            {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut files)
                .map_err(|e| format!("cannot read rules in {}: {e}", p.display()))?;
        } else {
            files.push(p.clone());
        }
    }
    files
        .into_iter()
        .map(|f| {
            std::fs::read_to_string(&f)
                .map(|text| Source {
                    origin: f.display().to_string(),
                    text,
                })
                .map_err(|e| format!("cannot read rules {}: {e}", f.display()))
        })
        .collect()
}
