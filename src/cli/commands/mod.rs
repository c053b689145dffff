//! What each command does once its arguments are checked (`crate::args`): the filter, and
//! the `pull`, `rules`, `generate` and `bench` subcommands.

pub mod bench;
pub mod filter;
pub mod generate;
pub mod pull;
pub mod rules;

use jcdetect::Config;
use std::path::Path;

/// `--config FILE` and its TOML text (the WASM module parses the text itself); the default
/// config without one. Every problem of the file is in the one message.
pub fn load_config(path: Option<&Path>) -> Result<(Config, String), String> {
    let Some(path) = path else {
        return Ok((Config::default(), String::new()));
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
    let cfg = Config::from_toml_str(&text).map_err(|e| e.in_file(path.display()).to_string())?;
    Ok((cfg, text))
}
