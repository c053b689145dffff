//! The library's layering, checked on its source: each top-level module of `src/` only uses
//! (`crate::…`) modules before it in [`ORDER`], so the data path reads bottom-up with no
//! cycle, and no source file grows past [`MAX_LINES`] without saying why in its header.
//! Test modules (`#[cfg(test)] mod tests`, `windows/tests.rs`) may use anything.

use std::fs;
use std::path::{Path, PathBuf};

/// Lowest first (see the crate docs in `src/lib.rs`).
const ORDER: &[&str] = &[
    "hash", "decode", "rules", "sigma", "alert", "state", "windows", "config", "frame", "diag",
    "engine", "replay", "pull",
];

const MAX_LINES: usize = 800;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "target") {
                continue;
            }
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

/// The modules `text` uses through `crate::NAME` or `crate::{NAME, …}` outside its test
/// module. Items re-exported at the root (`crate::Engine`) count as their module's.
fn uses(text: &str) -> Vec<String> {
    const ROOT_ITEMS: &[(&str, &str)] = &[
        ("Format", "alert"),
        ("Config", "config"),
        ("ConfigError", "config"),
        ("Code", "diag"),
        ("Diagnostic", "diag"),
        ("RawLine", "diag"),
        ("Stats", "diag"),
        ("Emit", "engine"),
        ("Engine", "engine"),
        ("Options", "engine"),
    ];
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    // Comments (doc links included) name modules without depending on them.
    let code: String = code
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let code = code.as_str();
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + 7..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of the group only: `{a::{b, c}, d}` uses a and d.
            let (mut depth, mut start) = (0, 0);
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        names.push(ident(&group[start..j]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.push(ident(&group[start..j]));
                        start = j + 1;
                    }
                    _ => {}
                }
            }
        } else {
            names.push(ident(rest));
        }
    }
    let mut found: Vec<String> = Vec::new();
    for n in names {
        let module = ROOT_ITEMS
            .iter()
            .find(|(item, _)| *item == n)
            .map_or(n.clone(), |(_, m)| m.to_string());
        if !found.contains(&module) {
            found.push(module);
        }
    }
    found
}

#[test]
fn the_import_scanner_sees_every_form() {
    assert_eq!(uses("use crate::decode::Event;"), ["decode"]);
    assert_eq!(
        uses("use crate::{engine::X, windows::{a, b}, Config};"),
        ["engine", "windows", "config"]
    );
    assert_eq!(uses("let e = crate::Engine::new();"), ["engine"]);
    assert!(uses("#[cfg(test)]\nmod tests {\n use crate::engine; }").is_empty());
    assert!(uses("/// See [`crate::Engine`].\nfn f() {}").is_empty());
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
