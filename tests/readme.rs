//! The README's rule table is what `jcdetect rules` prints, and its first lines hold the two
//! commands a newcomer runs.

use std::process::Command;

#[test]
fn readme_rule_table_matches_the_binary() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("<!-- rules:begin -->\n```text\n")
        .expect("rules:begin marker");
    let body = &readme[start..];
    let table = &body[body.find("```text\n").unwrap() + 8
        ..body
            .find("```\n<!-- rules:end -->")
            .expect("rules:end marker")];
    let out = Command::new(env!("CARGO_BIN_EXE_jcdetect"))
        .arg("rules")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        table,
        String::from_utf8(out.stdout).unwrap(),
        "regenerate the README table with `jcdetect rules`"
    );
}

#[test]
fn readme_starts_with_the_two_setup_commands() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let head: Vec<&str> = readme.lines().take(6).collect();
    assert!(head
        .iter()
        .any(|l| l.starts_with("cargo run --release -- tests/data/example.ndjson")));
    assert!(head.iter().any(|l| l.contains("cargo test")));
    assert!(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/example.ndjson"
    ))
    .exists());
}
