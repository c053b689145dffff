//! The Fluent Bit filter's Sigma rules: the files and directories of `[rules] paths`, read
//! through WASI (a path relative to the config file's directory, which must be under
//! `Accessible_Paths`), compiled into the config as the CLI does with `--rules`.

use super::{FilterConfig, Source};
use jcdetect::sigma::set::Source as RuleFile;
use std::path::{Path, PathBuf};

/// `fc` with the rules of its `[rules] paths` compiled in; every problem in one message.
pub(super) fn load(mut fc: FilterConfig, src: &Source) -> Result<FilterConfig, String> {
    if fc.config.rule_paths.is_empty() {
        return Ok(fc);
    }
    let base = match src {
        Source::File(p) => Path::new(p).parent().map(Path::to_path_buf).unwrap_or_default(),
        Source::Record => PathBuf::new(),
    };
    let mut files = Vec::new();
    for p in &fc.config.rule_paths {
        let path = base.join(p);
        walk(&path, &mut files).map_err(|e| format!("rules {}: {e}", path.display()))?;
    }
    let mut sources = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| format!("rules {}: {e}", f.display()))?;
        sources.push(RuleFile {
            origin: f.display().to_string(),
            text,
        });
    }
    fc.config = fc.config.with_sigma(&sources).map_err(|ps| ps.join("; "))?;
    Ok(fc)
}

/// A file as is; a directory's `*.yml` and `*.yaml` files, recursively, in name order.
fn walk(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !path.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        let yaml = p
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"));
        if p.is_dir() || yaml {
            walk(&p, out)?;
        }
    }
    Ok(())
}
