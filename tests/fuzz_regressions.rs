//! Replays the fuzz regression corpus (`tests/fuzz/regressions/<target>/`: minimized inputs
//! of bugs the fuzz targets found, and hand-picked seeds) through the same checks as the
//! cargo-fuzz targets (`tests/fuzz/checks.rs`), under plain `cargo test` on stable. See
//! docs/testing.md, "Fuzzing".

#[path = "fuzz/checks.rs"]
mod checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/regressions")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no inputs", dir.display());
    let mut failed = Vec::new();
    for p in &files {
        let data = std::fs::read(p).unwrap();
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            failed.push(p.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} of {} inputs fail: {failed:?}",
        failed.len(),
        files.len()
    );
}

#[test]
fn decoder_regressions() {
    replay("decoder", checks::decoder);
}

#[test]
fn config_regressions() {
    replay("config", checks::config);
}

#[test]
fn engine_regressions() {
    replay("engine", checks::engine);
}

#[test]
fn state_regressions() {
    replay("state", checks::state);
}
