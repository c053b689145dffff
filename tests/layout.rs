//! The library's layering, checked on its source: each top-level module of `src/` only uses
//! (`crate::…`) modules before it in [`ORDER`], so the data path reads bottom-up with no
//! cycle, and no source file grows past [`MAX_LINES`] without saying why in its header.
//! Test modules (`#[cfg(test)] mod tests`, `windows/tests.rs`) may use anything.

use std::fs;
use std::path::{Path, PathBuf};

/// Lowest first (see the crate docs in `src/lib.rs`).
const ORDER: &[&str] = &[
    "hash", "decode", "rules", "alert", "state", "windows", "config", "frame", "diag", "engine",
    "replay",
];

const MAX_LINES: usize = 800;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level module a file under `src/` belongs to (`windows/table.rs` → `windows`).
fn top_module(rel: &Path) -> String {
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The `crate::NAME` paths used in `text` outside its test module.
fn uses(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut found = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let name: String = code[i + 7..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if !found.contains(&name) {
            found.push(name);
        }
    }
    found
}

#[test]
fn library_modules_only_use_modules_below_them() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut upward = Vec::new();
    let mut seen = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(src()).unwrap();
        let top = top_module(rel);
        if top == "cli" || top == "lib" || rel.ends_with("windows/tests.rs") {
            continue;
        }
        let Some(rank) = ORDER.iter().position(|m| *m == top) else {
            panic!("src/{} is in no layer: add `{top}` to ORDER", rel.display());
        };
        seen.push(top.clone());
        for used in uses(&fs::read_to_string(f).unwrap()) {
            if let Some(r) = ORDER.iter().position(|m| *m == used) {
                if r > rank {
                    upward.push(format!("src/{} uses crate::{used}", rel.display()));
                }
            }
        }
    }
    assert!(upward.is_empty(), "upward imports:\n{}", upward.join("\n"));
    for m in ORDER {
        assert!(seen.iter().any(|s| s == m), "no source file for layer {m}");
    }
}

#[test]
fn no_file_over_the_limit_without_a_reason() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    for dir in ["tests", "benches", "wasm/src"] {
        rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join(dir), &mut files);
    }
    let mut long = Vec::new();
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        let n = text.lines().count();
        let header: String = text.lines().take_while(|l| l.starts_with("//")).collect();
        if n > MAX_LINES && !header.contains("Over 800 lines") {
            long.push(format!("{} ({n} lines)", f.display()));
        }
    }
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines whose header gives no reason (\"Over 800 lines: …\"):\n{}",
        long.join("\n")
    );
}
