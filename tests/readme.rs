//! The README and `docs/` stay true and readable: the README's rule table is what
//! `jcdetect rules` prints; its first lines hold the two commands a newcomer runs (the second
//! is CI's test command); every option the binary takes is documented in `docs/options.md`;
//! every relative link resolves; the README stays short and no table cell is a wall of text.

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_jcdetect");

/// The README stays an overview: at most this many lines.
const README_MAX_LINES: usize = 200;
/// A table cell longer than this is prose and belongs in a list.
const CELL_MAX_CHARS: usize = 200;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The Markdown files this test keeps honest, relative to the crate root.
fn doc_files() -> Vec<String> {
    let mut files = vec![
        "README.md".to_string(),
        "wasm/README.md".to_string(),
        "wasm/ABI.md".to_string(),
    ];
    files.extend(docs_pages());
    files
}

/// `docs/*.md`, sorted.
fn docs_pages() -> Vec<String> {
    let mut pages: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .expect("docs/")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    pages.sort();
    pages
}

/// The lines of a Markdown text outside fenced code blocks, with their 1-based numbers.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut in_fence = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if !in_fence {
            out.push((i + 1, line));
        }
    }
    out
}

/// GitHub's anchor for a heading: lower case, punctuation other than `-` and `_` removed,
/// spaces turned into `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown text's headings (duplicates numbered as GitHub does).
fn anchors(text: &str) -> Vec<String> {
    let (mut seen, mut bases): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    for (_, line) in prose_lines(text) {
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let heading = rest.trim_start_matches('#');
        if !heading.starts_with(' ') {
            continue;
        }
        let base = slug(heading);
        let n = bases.iter().filter(|b| **b == base).count();
        seen.push(if n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        });
        bases.push(base);
    }
    seen
}

/// `(line, target)` of every Markdown link `[text](target)` outside code blocks.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in prose_lines(text) {
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].split_whitespace().next().unwrap_or("");
            out.push((n, target.to_string()));
            rest = &after[end..];
        }
    }
    out
}

/// The inline code spans of a Markdown text outside code blocks.
fn code_spans(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in prose_lines(text) {
        for (i, span) in line.split('`').enumerate() {
            if i % 2 == 1 {
                out.push((n, span.to_string()));
            }
        }
    }
    out
}

/// The cells of a Markdown table row (`| a | b |`); `\|` is not a separator.
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = vec![String::new()];
    let mut prev = ' ';
    for c in inner.chars() {
        if c == '|' && prev != '\\' {
            cells.push(String::new());
        } else {
            cells.last_mut().unwrap().push(c);
        }
        prev = c;
    }
    cells.into_iter().map(|c| c.trim().to_string()).collect()
}

fn help(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(out.status.success(), "jcdetect {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands a help text lists under `Commands:` (clap's layout), but `help`.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim_end() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// Every `--long-option` named in a help text.
fn long_options(help: &str) -> Vec<String> {
    let mut opts = Vec::new();
    let bytes = help.as_bytes();
    let mut i = 0;
    while let Some(j) = help[i..].find("--") {
        let start = i + j;
        let word_start = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        let mut end = start + 2;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'-') {
            end += 1;
        }
        let opt = &help[start..end];
        if word_start && opt.len() > 2 && bytes[start + 2].is_ascii_alphabetic() {
            let opt = opt.to_string();
            if !opts.contains(&opt) && opt != "--help" && opt != "--version" {
                opts.push(opt);
            }
        }
        i = end;
    }
    opts
}

#[test]
fn readme_rule_table_matches_the_binary() {
    let readme = read("README.md");
    let start = readme
        .find("<!-- rules:begin -->\n```text\n")
        .expect("rules:begin marker");
    let body = &readme[start..];
    let table = &body[body.find("```text\n").unwrap() + 8
        ..body
            .find("```\n<!-- rules:end -->")
            .expect("rules:end marker")];
    let out = Command::new(BIN).arg("rules").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        table,
        String::from_utf8(out.stdout).unwrap(),
        "regenerate the README table with `jcdetect rules`"
    );
}

#[test]
fn readme_starts_with_the_two_setup_commands() {
    let readme = read("README.md");
    let head: Vec<&str> = readme.lines().take(6).collect();
    assert!(head
        .iter()
        .any(|l| l.starts_with("cargo run --release -- tests/data/example.ndjson")));
    assert!(Path::new(ROOT).join("tests/data/example.ndjson").exists());
    // The test line is the command CI runs (`.ci/run`, which adds only `--locked`).
    let test_line = head
        .iter()
        .find(|l| l.contains("cargo test"))
        .expect("a `cargo test` line in the README's first lines");
    let readme_cmd = test_line.split('#').next().unwrap().trim();
    let ci = read(".ci/run");
    let ci_cmd = ci
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("rustup target add") && l.contains("cargo test"))
        .expect(".ci/run runs cargo test --features wasm-host");
    assert_eq!(
        readme_cmd,
        ci_cmd.replace(" --locked", ""),
        "the README's test command is .ci/run's"
    );
}

#[test]
fn every_option_of_the_binary_is_documented_in_docs_options() {
    let doc = read("docs/options.md");
    // An option counts as documented when the first cell of a table row names it
    // (`--opt`, `--opt ARG`, `-o, --opt ARG`).
    let first_cells: Vec<String> = prose_lines(&doc)
        .into_iter()
        .filter(|(_, l)| l.trim_start().starts_with('|'))
        .filter_map(|(_, l)| cells(l).into_iter().next())
        .collect();
    let is_word = |c: Option<char>| matches!(c, Some(c) if c.is_ascii_alphanumeric() || c == '-');
    let documented = |opt: &str| {
        first_cells.iter().any(|cell| {
            cell.match_indices(opt).any(|(i, m)| {
                !is_word(cell[..i].chars().next_back())
                    && !is_word(cell[i + m.len()..].chars().next())
            })
        })
    };
    let main_help = help(&["--help"]);
    let mut commands = subcommands(&main_help);
    if commands.is_empty() {
        // A help text without a `Commands:` list: the subcommands with options.
        commands = vec!["rules".into(), "generate".into(), "bench".into()];
    }
    for cmd in &commands {
        assert!(
            doc.contains(&format!("## `jcdetect {cmd}`")),
            "docs/options.md has no section `## `jcdetect {cmd}``"
        );
    }
    let mut helps = vec![("--help".to_string(), main_help)];
    for cmd in &commands {
        helps.push((format!("{cmd} --help"), help(&[cmd.as_str(), "--help"])));
    }
    let mut checked = 0;
    for (args, text) in &helps {
        for opt in long_options(text) {
            assert!(
                documented(&opt),
                "`{opt}` (jcdetect {args}) is not in a table of docs/options.md"
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "{checked} options checked");
}

#[test]
fn every_relative_link_resolves() {
    for file in doc_files() {
        let text = read(&file);
        let dir = Path::new(ROOT).join(&file).parent().unwrap().to_path_buf();
        for (line, target) in links(&text) {
            if target.starts_with("http://")
                || target.starts_with("https://")
                || target.starts_with("mailto:")
            {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let resolved: PathBuf = if path.is_empty() {
                Path::new(ROOT).join(&file)
            } else {
                dir.join(path)
            };
            assert!(
                resolved.exists(),
                "{file}:{line}: link to `{target}`: {} does not exist",
                resolved.display()
            );
            if let Some(anchor) = anchor {
                let target_text = std::fs::read_to_string(&resolved).unwrap();
                let known = anchors(&target_text);
                assert!(
                    known.iter().any(|a| a == anchor),
                    "{file}:{line}: link to `{target}`: no heading with anchor #{anchor} \
                     (anchors: {known:?})"
                );
            }
        }
    }
}

#[test]
fn the_readme_links_every_page_of_docs_and_the_pipelines() {
    let readme = read("README.md");
    let targets: Vec<String> = links(&readme).into_iter().map(|(_, t)| t).collect();
    for page in docs_pages() {
        assert!(targets.contains(&page), "README.md does not link {page}");
    }
    for must in [
        "pipeline-configs/README.md",
        "wasm/README.md",
        "wasm/ABI.md",
        "docs/architecture.md",
    ] {
        assert!(targets.iter().any(|t| t == must), "README.md links {must}");
    }
    assert!(readme.contains("### Pipelines"));
    // The architecture summary names the data path.
    assert!(readme.contains("read → frame → decode → rules → windows → alert → write"));
}

#[test]
fn the_readme_is_short_and_no_table_cell_is_a_wall_of_text() {
    let readme = read("README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines (at most {README_MAX_LINES}): move detail to docs/"
    );
    for file in doc_files() {
        let text = read(&file);
        for (n, line) in prose_lines(&text) {
            if !line.trim_start().starts_with('|') {
                continue;
            }
            for cell in cells(line) {
                let len = cell.chars().count();
                assert!(
                    len <= CELL_MAX_CHARS,
                    "{file}:{n}: a table cell of {len} characters (at most {CELL_MAX_CHARS}): \
                     make it a list or prose\n{cell}"
                );
            }
        }
    }
}

/// Every repository path the README and `docs/` name in code (`src/...`, `tests/...`) exists,
/// so a file moved or renamed fails here until the docs follow.
#[test]
fn the_docs_name_only_paths_that_exist() {
    let prefixes = [
        "src/",
        "tests/",
        "benches/",
        "docs/",
        "wasm/",
        "pipeline-configs/",
        ".ci/",
    ];
    // Named on purpose but not committed (built or generated locally).
    let not_committed = [
        "tests/fuzz/corpus/",
        "tests/fuzz/artifacts/",
        "wasm/target/",
    ];
    let mut missing = Vec::new();
    let mut files = vec!["README.md".to_string()];
    files.extend(docs_pages());
    for file in files {
        for (n, span) in code_spans(&read(&file)) {
            let span = span.trim();
            if !prefixes.iter().any(|p| span.starts_with(p))
                || span.contains(['<', '>', '*', '…', ' '])
                || not_committed.iter().any(|p| span.starts_with(p))
            {
                continue;
            }
            if !Path::new(ROOT).join(span).exists() {
                missing.push(format!("{file}:{n}: `{span}`"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "paths that do not exist:\n{}",
        missing.join("\n")
    );
}
